"""Imports from the authority's console: a file kept for the person who uploaded it,
checked whole in the background, confirmed once, then issued all or nothing in the
background.

1. ``receive_file`` keeps the uploaded file in the node's data directory
   (``imports/<id>/``, owner-only) and a ``StagedImport`` row, ``checking``, names it
   with its SHA-256, its owner, its authority and its type. Only a file that is not
   CSV or XLSX by its name is refused there, at once.
2. ``check_import`` (on a thread of its own) checks the kept file whole
   (``check_file``), saying how many rows it has checked: with any problem the import
   is ``rejected`` with their count, the problems (row, column, reason) are kept beside
   it and the file itself is deleted; a good file makes the import ``checked`` with
   its rows, waiting for its confirmation.
3. ``claim`` turns ``checked`` into ``running`` in one conditional update: of two
   confirmations (a double click, the back button, a retry) one wins, the other
   issues nothing.
4. ``run_import`` (on a thread of its own) reads the kept file, refuses it unless its
   SHA-256 is the one checked, checks its rows against the registry again (parsing
   the file again unless the caller still holds its rows as they parsed) and issues
   them in one transaction that also marks the import ``done`` with its receipt; on
   any failure it rolls back and marks the import ``failed`` with the reason. Either
   way the file is then deleted (it holds ID numbers in clear).

Progress goes to a small file beside the kept one, not to the database: the import's
transaction may hold the database's only writer (SQLite) until it commits, while any of
the node's processes reads the progress.

While a process checks or issues an import it holds the import's working lock (an
``flock`` on a file beside the kept one), which the kernel lets go of when the process
ends, however it ends: an import said to be checking or running whose lock file is
there and free was cut short (its process was killed, or the node stopped) and reads
as failed at once, after a restart as before it; nothing of it was issued, as its
transaction never committed.

A kept file (or a rejected import's problems) older than ``KEPT_FOR`` is deleted by the
next upload; an import said to be checking or running whose progress has not moved for
``STALLED_AFTER`` was cut short too and reads as failed.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import tempfile
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, update
from sqlmodel import Session, col

from registry.bulk._working import abandoned, working
from registry.bulk.importer import check_file, check_rows, issue_rows
from registry.bulk.rows import ParsedRows, RowError
from registry.credentials import CredentialType
from registry.errors import InvalidInput, NotFound, RegistryError
from registry.ids import province
from registry.issuing import IssuingContext
from registry.issuing.receipts import Issuer
from registry.storage.db import session_scope
from registry.storage.models import StagedImport

__all__ = [
    "INTERRUPTED",
    "KEPT_FOR",
    "STALLED_AFTER",
    "Progress",
    "check_import",
    "claim",
    "imports_dir",
    "own_import",
    "problems_of",
    "progress_of",
    "receive_file",
    "run_import",
]

KEPT_FOR = timedelta(days=1)
"""How long a checked file waits for its confirmation."""

STALLED_AFTER = timedelta(minutes=5)
"""A running import whose progress has not moved for this long was cut short."""

INTERRUPTED = "the import was interrupted: nothing is issued; upload the file again"
"""The reason of an import whose process stopped while it ran."""

_CHANGED = "the file changed after it was checked: nothing is issued; upload it again"
_GONE = "the file is no longer kept: nothing is issued; upload it again"
_FAILED = "the import failed: nothing is issued"
_PROBLEMS = "problems.json"

_UNSAFE = re.compile(r"[^\w.\-]+")


def imports_dir(data_root: Path) -> Path:
    """Where the node keeps the files waiting to be imported (owner-only)."""
    return data_root / "imports"


@dataclass(frozen=True)
class Progress:
    """How far an import is: its state as it stands (``checking``, ``rejected``,
    ``checked``, ``running``, ``done``, ``failed``), the phase of a running one
    (``checking`` the file again, then ``issuing``), and rows checked (``checking``) or
    issued (``running``) of all."""

    state: str
    phase: str
    done: int
    rows: int
    reason: str | None


def _safe_name(file_name: str, suffix: str) -> str:
    """The file's own name without any path, kept for the messages about it."""
    stem = _UNSAFE.sub("_", Path(file_name.replace("\\", "/")).stem)[:80].strip("._")
    return f"{stem or 'file'}{suffix}"


def _suffix(file_name: str, payload: bytes) -> str:
    ending = Path(file_name).suffix.lower()
    if ending in (".csv", ".xlsx"):
        return ending
    if not ending:
        return ".xlsx" if payload.startswith(b"PK\x03\x04") else ".csv"
    raise InvalidInput(f"{Path(file_name).name}: only .csv and .xlsx files can be imported")


def _forget_old(directory: Path, now: datetime) -> None:
    """Delete the files kept longer than ``KEPT_FOR`` (never confirmed, or stalled)."""
    if not directory.is_dir():
        return
    limit = (now - KEPT_FOR).timestamp()
    for kept in directory.iterdir():
        with contextlib.suppress(OSError):
            if kept.stat().st_mtime < limit:
                shutil.rmtree(kept, ignore_errors=True)


def receive_file(
    session: Session,
    directory: Path,
    *,
    user_id: int,
    authority: str,
    record_type: CredentialType,
    file_name: str,
    payload: bytes,
    now: datetime | None = None,
) -> StagedImport:
    """Keep an uploaded file for its check (``check_import``), as an import ``checking``.

    Raises ``InvalidInput`` for a file that is not CSV or XLSX by its name; nothing is
    kept then. The caller commits before the check runs."""
    now = now or datetime.now(UTC)
    suffix = _suffix(file_name, payload)
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    _forget_old(directory, now)
    identifier = f"imp-{uuid.uuid4().hex}"
    home = Path(tempfile.mkdtemp(dir=directory, prefix=f"{identifier}."))
    try:
        (home / _safe_name(file_name, suffix)).write_bytes(payload)
        home.rename(directory / identifier)
    finally:
        if home.exists():
            shutil.rmtree(home, ignore_errors=True)
    staged = StagedImport(
        id=identifier,
        authority_code=province(authority).iso,
        user_id=user_id,
        type=record_type.value,
        file_name=file_name[:255],
        file_digest=hashlib.sha256(payload).hexdigest(),
        rows=0,
        state="checking",
        created_at=now,
        updated_at=now,
    )
    session.add(staged)
    session.flush()
    return staged


def _reject(directory: Path, identifier: str, problems: list[RowError]) -> None:
    """Keep the problems beside the import, and delete the file they were found in."""
    home = directory / identifier
    for kept in home.glob("*"):
        if kept.suffix in (".csv", ".xlsx"):
            kept.unlink(missing_ok=True)
    listed = [[p.row, p.column, p.reason] for p in problems]
    fd, temporary = tempfile.mkstemp(dir=home, prefix=".problems.")
    with os.fdopen(fd, "w") as handle:
        json.dump(listed, handle, ensure_ascii=False)
    os.replace(temporary, home / _PROBLEMS)


def check_import(
    engine: Engine,
    context: IssuingContext,
    directory: Path,
    identifier: str,
    *,
    now: datetime | None = None,
) -> ParsedRows | None:
    """Check an import ``checking`` whole: ``rejected`` with every problem, or
    ``checked`` with its rows. Returns the rows as they parsed if it is ``checked``.

    A problem with the whole file (unreadable, no header, no rows) is a problem of row
    0. Never raises for the file's own problems; any other failure marks the import
    ``failed``, deletes its file and is raised."""
    with working(directory, identifier):
        return _check(engine, context, directory, identifier, now=now)


def _check(
    engine: Engine,
    context: IssuingContext,
    directory: Path,
    identifier: str,
    *,
    now: datetime | None,
) -> ParsedRows | None:
    try:
        with session_scope(engine) as session:
            staged = session.get(StagedImport, identifier)
            if staged is None or staged.state != "checking":
                return None
            path = _kept_file(directory, staged)

            def advance(done: int, rows: int) -> None:
                _say(directory, identifier, "checking", done, rows)

            try:
                parsed = check_file(
                    session,
                    context,
                    path,
                    record_type=CredentialType(staged.type),
                    authority=staged.authority_code,
                    now=now,
                    advance=advance,
                )
                problems = parsed.errors
            except InvalidInput as exc:
                reasons = [exc.message, *(f"{e.field}: {e.message}" for e in exc.errors)]
                parsed, problems = None, [RowError(0, "", reason) for reason in reasons]
            if parsed is not None and not problems and not parsed.items:
                problems = [RowError(0, "", f"{path.name} has no rows to import")]
            staged.updated_at = datetime.now(UTC)
            if problems or parsed is None:
                _reject(directory, identifier, problems)
                staged.state, staged.problems = "rejected", len(problems)
                return None
            staged.state, staged.rows = "checked", len(parsed.items)
            return parsed
    except Exception as exc:
        reason = exc.message if isinstance(exc, RegistryError) else _FAILED
        with session_scope(engine) as session:
            session.execute(
                update(StagedImport)
                .where(col(StagedImport.id) == identifier)
                .values(state="failed", reason=reason, updated_at=datetime.now(UTC))
            )
        shutil.rmtree(directory / identifier, ignore_errors=True)
        if not isinstance(exc, RegistryError):
            raise
        return None


def problems_of(staged: StagedImport, directory: Path) -> list[RowError] | None:
    """A rejected import's problems, in row order; ``None`` once no longer kept."""
    with contextlib.suppress(OSError, ValueError, TypeError):
        listed = json.loads((directory / staged.id / _PROBLEMS).read_text())
        return [RowError(int(row), str(column), str(reason)) for row, column, reason in listed]
    return None


def own_import(session: Session, identifier: str, *, user_id: int) -> StagedImport:
    """An import of the person's own; raises ``NotFound`` for anyone else's as for
    one that does not exist."""
    found = session.get(StagedImport, identifier)
    if found is None or found.user_id != user_id:
        raise NotFound(f"no import {identifier}")
    return found


def claim(session: Session, identifier: str, *, user_id: int, now: datetime | None = None) -> bool:
    """Start the person's checked import: ``True`` for the one confirmation that does
    (the import is then ``running``), ``False`` for any later one or another's. The
    caller commits before it runs the import."""
    now = now or datetime.now(UTC)
    changed = session.execute(
        update(StagedImport)
        .where(col(StagedImport.id) == identifier)
        .where(col(StagedImport.user_id) == user_id)
        .where(col(StagedImport.state) == "checked")
        .values(state="running", updated_at=now)
    )
    return bool(getattr(changed, "rowcount", 0) == 1)


def _progress_path(directory: Path, identifier: str) -> Path:
    return directory / identifier / "progress.json"


def _say(directory: Path, identifier: str, phase: str, done: int, rows: int | None = None) -> None:
    """Write the progress whole to a temporary file, then move it into place."""
    path = _progress_path(directory, identifier)
    with contextlib.suppress(OSError):
        fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=".progress.")
        with os.fdopen(fd, "w") as handle:
            json.dump({"phase": phase, "done": done, "rows": rows}, handle)
        os.replace(temporary, path)


def progress_of(staged: StagedImport, directory: Path, *, now: datetime | None = None) -> Progress:
    """How far an import is, as any of the node's processes sees it."""
    now = now or datetime.now(UTC)
    if staged.state == "done":
        return Progress("done", "", staged.rows, staged.rows, None)
    if staged.state not in ("checking", "running"):
        return Progress(staged.state, "", 0, staged.rows, staged.reason)
    if abandoned(directory, staged.id):
        return Progress("failed", "", 0, staged.rows, INTERRUPTED)
    path = _progress_path(directory, staged.id)
    said: dict[str, Any] = {"phase": "checking", "done": 0}
    moved = staged.updated_at
    with contextlib.suppress(OSError, ValueError):
        said = json.loads(path.read_text())
        moved = max(moved, datetime.fromtimestamp(path.stat().st_mtime, UTC))
    if now - moved > STALLED_AFTER:
        return Progress("failed", "", 0, staged.rows, INTERRUPTED)
    # While it is checked, the rows are counted once the file is read.
    rows = staged.rows if staged.state == "running" else int(said.get("rows") or 0)
    return Progress(staged.state, str(said["phase"]), int(said["done"]), rows, None)


def _kept_file(directory: Path, staged: StagedImport) -> Path:
    home = directory / staged.id
    found = [p for p in home.glob("*") if p.suffix in (".csv", ".xlsx")] if home.is_dir() else []
    if len(found) != 1:
        raise InvalidInput(_GONE)
    if hashlib.sha256(found[0].read_bytes()).hexdigest() != staged.file_digest:
        raise InvalidInput(_CHANGED)
    return found[0]


def run_import(
    engine: Engine,
    context: IssuingContext,
    directory: Path,
    identifier: str,
    *,
    issuer: Issuer,
    parsed: ParsedRows | None = None,
    on_chunk: Callable[[int], None] = lambda _: None,
) -> None:
    """Issue a claimed import all or nothing, then delete its file (see the module's
    docstring). Never raises for the import's own failure: it is kept as the reason.

    ``parsed``: the rows as ``stage_file`` parsed them, if the caller still holds them.
    The kept file's bytes are still compared with those checked, and the rows checked
    against the registry again; only reading and validating the same bytes again is
    spared (seconds, for 10,000 rows)."""
    with Session(engine) as session:
        claimed = session.get(StagedImport, identifier)
        if claimed is None or claimed.state != "running":
            return  # not claimed, or already run: its file is left as it is
    with working(directory, identifier):
        _run(
            engine, context, directory, identifier, issuer=issuer, parsed=parsed, on_chunk=on_chunk
        )


def _run(
    engine: Engine,
    context: IssuingContext,
    directory: Path,
    identifier: str,
    *,
    issuer: Issuer,
    parsed: ParsedRows | None,
    on_chunk: Callable[[int], None],
) -> None:
    try:
        with session_scope(engine) as session:
            staged = session.get(StagedImport, identifier)
            if staged is None or staged.state != "running":
                return
            path = _kept_file(directory, staged)
            _say(directory, identifier, "checking", 0)
            if parsed is None or len(parsed.items) != staged.rows:
                parsed = check_file(
                    session,
                    context,
                    path,
                    record_type=CredentialType(staged.type),
                    authority=staged.authority_code,
                )
            else:
                parsed = check_rows(session, context, parsed)
            if parsed.errors:
                raise InvalidInput(
                    f"{len(parsed.errors)} problem(s) in the file: nothing is issued"
                )
            done = 0

            def advance(count: int) -> None:
                nonlocal done
                done += count
                _say(directory, identifier, "issuing", done)
                on_chunk(done)

            imported = issue_rows(
                session,
                context,
                parsed,
                file_name=staged.file_name,
                issuer=issuer,
                advance=advance,
            )
            staged.state = "done"
            staged.receipt_id = imported.receipt_id
            staged.updated_at = datetime.now(UTC)
    except Exception as exc:
        reason = exc.message if isinstance(exc, RegistryError) else _FAILED
        with session_scope(engine) as session:
            session.execute(
                update(StagedImport)
                .where(col(StagedImport.id) == identifier)
                .values(state="failed", reason=reason, updated_at=datetime.now(UTC))
            )
        if not isinstance(exc, RegistryError):
            raise
    finally:
        shutil.rmtree(directory / identifier, ignore_errors=True)
