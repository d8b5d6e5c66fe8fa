"""``registry key rewrap``: every file key of the node under a new passphrase."""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Annotated

import typer

from registry.cli._common import console
from registry.crypto.rewrap import rewrap_keys
from registry.datadir import DataDir
from registry.errors import InvalidInput
from registry.settings import Settings

__all__ = ["key_rewrap"]

_NEW_VARIABLE = "REGISTRY_NEW_KEY_PASSPHRASE"


def _read(path: Path, what: str) -> bytes:
    try:
        lines = path.read_bytes().splitlines()
    except OSError as exc:
        raise InvalidInput(f"cannot read the {what} from {path}: {exc.strerror}") from exc
    if not lines or not lines[0]:
        raise InvalidInput(f"{path} holds no {what} on its first line")
    return lines[0]


def _old(data_dir: DataDir, path: Path | None, ask: bool) -> bytes:
    if path is not None:
        return _read(path, "old passphrase")
    if ask:
        return str(typer.prompt("Old key passphrase", hide_input=True)).encode("utf-8")
    return data_dir.key_passphrase()


def _new(data_dir: DataDir, path: Path | None, generate: bool) -> bytes:
    if generate:
        if not data_dir.uses_generated_passphrase():
            raise InvalidInput(
                "--generate replaces the generated passphrase file; this node's passphrase "
                "is REGISTRY_KEY_PASSPHRASE: give the new one instead"
            )
        return secrets.token_urlsafe(32).encode("ascii")
    if path is not None:
        return _read(path, "new passphrase")
    given = os.environ.get(_NEW_VARIABLE)
    if given:
        return given.encode("utf-8")
    entered = typer.prompt("New key passphrase", hide_input=True, confirmation_prompt=True)
    return str(entered).encode("utf-8")


def key_rewrap(
    *,
    old_passphrase_file: Annotated[
        Path | None,
        typer.Option(
            help="Read the current passphrase from this file's first line (default: the "
            "node's, REGISTRY_KEY_PASSPHRASE or <data dir>/secrets/key-passphrase)."
        ),
    ] = None,
    ask_old: Annotated[
        bool, typer.Option("--ask-old", help="Ask for the current passphrase (not echoed).")
    ] = False,
    new_passphrase_file: Annotated[
        Path | None,
        typer.Option(
            help=f"Read the new passphrase from this file's first line (else {_NEW_VARIABLE}, "
            "else it is asked for twice, not echoed)."
        ),
    ] = None,
    generate: Annotated[
        bool,
        typer.Option(
            "--generate",
            help="Make a random new passphrase into the generated passphrase file.",
        ),
    ] = False,
) -> None:
    """Re-encrypt every file key of the node under a new passphrase (keys in a token
    are not touched). Safe to interrupt: run it again with the same passphrases to
    finish. Restart the node after it."""
    settings = Settings()
    data_dir = DataDir(settings)
    old = _old(data_dir, old_passphrase_file, ask_old)
    new = _new(data_dir, new_passphrase_file, generate)
    if new != new.strip():
        # The passphrase file is read without its surrounding white space.
        raise InvalidInput("the new passphrase may not start or end with white space")
    done = rewrap_keys(data_dir.root / "keys", old=old, new=new)
    for name in done.rewrapped:
        console.print(f"rewrapped {name}")
    if done.already:
        console.print(f"{len(done.already)} key(s) were under the new passphrase already")
    if data_dir.uses_generated_passphrase():
        data_dir.replace_key_passphrase(new)
        console.print(
            f"{len(done.rewrapped)} key(s) rewrapped; the new passphrase is in "
            f"{data_dir.root / 'secrets' / 'key-passphrase'}: restart the node"
        )
    else:
        console.print(
            f"{len(done.rewrapped)} key(s) rewrapped: set REGISTRY_KEY_PASSPHRASE to the new "
            "passphrase and restart the node"
        )
