"""What every command group shares: consoles, settings, sessions and time parsing."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from rich.console import Console
from sqlmodel import Session

from registry.datadir import DataDir
from registry.errors import DatabaseNotReady, InvalidInput
from registry.settings import Settings
from registry.storage.db import engine_scope, schema_status, session_scope

__all__ = ["console", "err_console", "node_session", "read_json", "write_json"]

# soft_wrap: lines are not cut at the terminal width, so digests, keys and URLs stay
# whole for copying and for scripts. No emoji codes or highlighting: "did:key:z6Mk..."
# must print as written, not with a key emoji in it.
console = Console(soft_wrap=True, emoji=False, highlight=False)
err_console = Console(stderr=True, soft_wrap=True, emoji=False, highlight=False)


@contextmanager
def node_session() -> Iterator[tuple[Settings, DataDir, Session]]:
    """The node's settings, data directory and a session committed when the block ends."""
    settings = Settings()
    data_dir = DataDir(settings)
    with engine_scope(settings.database_url) as engine:
        if not schema_status(engine).at_head:
            raise DatabaseNotReady(
                "the database is not at the latest schema: run `registry db upgrade`"
            )
        with session_scope(engine) as session:
            yield settings, data_dir, session


def read_json(path: Path) -> Any:
    """A JSON file's value; raises ``InvalidInput`` naming the file if it is not JSON."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise InvalidInput(f"{path}: {exc.strerror}") from exc
    except (ValueError, RecursionError) as exc:
        # JSONDecodeError and UnicodeDecodeError are ValueErrors; so is an integer
        # too long to read. Nesting too deep to read is a RecursionError.
        raise InvalidInput(f"{path} is not JSON the registry can read: {exc}") from exc


def write_json(path: Path | None, value: Any) -> None:
    """Write ``value`` as indented JSON to ``path`` (stdout if ``None``), whole or not at all.

    Encoded before anything is written, then put in place by a rename, so a file
    that cannot be written (a lone surrogate, a full disk) is left as it was.
    """
    try:
        data = (json.dumps(value, ensure_ascii=False, indent=2) + "\n").encode("utf-8")
    except (UnicodeEncodeError, ValueError) as exc:
        raise InvalidInput(f"cannot write {path or 'stdout'} as JSON: {exc}") from exc
    if path is None:
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
        return
    temporary = path.with_name(f".{path.name}.tmp")
    try:
        temporary.write_bytes(data)
        os.replace(temporary, path)
    except OSError as exc:
        temporary.unlink(missing_ok=True)
        raise InvalidInput(f"{path}: {exc.strerror}") from exc
