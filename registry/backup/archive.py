"""``registry backup`` and ``registry restore``: a node's database, keys and secrets in
one passphrase-sealed file (``registry.backup.sealed``), and back.

Inside the seal the backup is JSON lines, compressed (zlib), in this order:

1. ``{"manifest": ...}``: the format, when it was made, the registry's version and
   schema revision, the database's kind, and each log this node hosts with its
   origin, size and newest signed checkpoint at that moment;
2. ``{"file": "keys/...", "data": ...}``: every file of the data directory's
   ``keys/`` (private keys, encrypted with the key passphrase) and ``secrets/``
   (the key passphrase, the node secret, the look-up secrets, peer tokens);
3. ``{"table": ..., "columns": [...]}`` then that table's rows, every table of the
   schema from one snapshot (``registry.backup.snapshot``), parents first;
4. ``{"end": {"rows": {...}, "files": n}}``: what was written, checked on reading.

A restore reads the whole file through once (every part authenticated, the end
present and its counts matched) before it writes anything, and only into a data
directory without keys or secrets and a database without rows. The restored logs
are held from signing (``registry.federation.standing``) until the node's peers
confirm its newest checkpoints.
"""

from __future__ import annotations

import base64
import contextlib
import importlib.metadata
import json
import os
import shutil
import tempfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

import sqlalchemy as sa
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, Engine
from sqlalchemy.engine import make_url

from registry.backup.sealed import SealedReader, SealedWriter
from registry.backup.snapshot import (
    is_empty,
    read_snapshot,
    reset_sequences,
    table_rows,
    tables,
    write_rows,
)
from registry.datadir import DataDir
from registry.errors import BackupError
from registry.settings import Settings
from registry.storage.base import table_of
from registry.storage.db import engine_scope, migration_heads, upgrade
from registry.storage.models import Authority, LogCheckpoint, LogHead, LogSigningHold

__all__ = ["FORMAT", "Manifest", "Restored", "read_backup", "restore_backup", "write_backup"]

FORMAT = 1
"""The version of the backup's contents this registry writes and reads."""

_DIRS = ("keys", "secrets")
_BATCH = 1000
_SETTINGS_SECRETS = {
    "key_passphrase": "REGISTRY_KEY_PASSPHRASE",
    "node_secret": "REGISTRY_NODE_SECRET",
    "federation_lookup_secret": "REGISTRY_FEDERATION_LOOKUP_SECRET",
    "peer_tokens": "REGISTRY_PEER_TOKENS",
}


@dataclass(frozen=True)
class LogAtBackup:
    """A hosted log as the backup holds it."""

    authority: str
    origin: str
    size: int
    checkpoint: str | None


@dataclass(frozen=True)
class Manifest:
    """What a backup says of itself, and (once read through) what it held."""

    created_at: datetime
    registry_version: str
    schema: tuple[str, ...]
    database: str
    logs: tuple[LogAtBackup, ...]
    files: tuple[str, ...]
    from_settings: tuple[str, ...]
    rows: dict[str, int] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """The manifest line's value."""
        return {
            "format": FORMAT,
            "createdAt": self.created_at.isoformat(),
            "registryVersion": self.registry_version,
            "schemaRevision": list(self.schema),
            "database": self.database,
            "logs": [
                {
                    "authority": log.authority,
                    "origin": log.origin,
                    "size": log.size,
                    "checkpoint": log.checkpoint,
                }
                for log in self.logs
            ],
            "files": list(self.files),
            "secretsFromSettings": list(self.from_settings),
        }

    @classmethod
    def from_json(cls, value: Any) -> Manifest:
        """The manifest of a backup; raises ``BackupError`` for one not understood."""
        try:
            if value["format"] != FORMAT:
                raise BackupError(
                    f"the backup's format is {value['format']}; this registry reads {FORMAT}"
                )
            return cls(
                created_at=datetime.fromisoformat(value["createdAt"]),
                registry_version=str(value["registryVersion"]),
                schema=tuple(value["schemaRevision"]),
                database=str(value["database"]),
                logs=tuple(
                    LogAtBackup(
                        str(log["authority"]),
                        str(log["origin"]),
                        int(log["size"]),
                        log["checkpoint"],
                    )
                    for log in value["logs"]
                ),
                files=tuple(value["files"]),
                from_settings=tuple(value["secretsFromSettings"]),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise BackupError("the backup's manifest is not one this registry reads") from exc


@dataclass(frozen=True)
class Restored:
    """What a restore put back: the manifest, and the logs now held from signing."""

    manifest: Manifest
    held: tuple[str, ...]


# -- writing ----------------------------------------------------------------------------------


def write_backup(
    settings: Settings, output: Path, passphrase: str, *, now: datetime | None = None
) -> Manifest:
    """Write a backup of the node (its database, ``keys/`` and ``secrets/``) to
    ``output``, owner-only, while the server may run. Raises ``BackupError`` if
    ``output`` exists, the passphrase is too short, or the database cannot be read;
    a partly written file is removed."""
    if output.exists():
        raise BackupError(f"{output} exists already: give a new file name")
    data_dir = DataDir(settings)
    temporary = output.with_name(f".{output.name}.partial")
    try:
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except OSError as exc:
        raise BackupError(f"cannot write {output}: {exc.strerror}") from exc
    try:
        with os.fdopen(fd, "wb") as sink:
            sealed = SealedWriter(sink, passphrase)
            with engine_scope(settings.database_url) as engine:
                manifest = _write(sealed, engine, data_dir, settings, now=now)
            sealed.close()
            sink.flush()
            os.fsync(sink.fileno())
        os.replace(temporary, output)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    return manifest


def _write(
    sealed: SealedWriter,
    engine: Engine,
    data_dir: DataDir,
    settings: Settings,
    *,
    now: datetime | None,
) -> Manifest:
    # Compressed before it is sealed: the rows' JSON shrinks to about a fifth.
    squeeze = zlib.compressobj(6)

    def line(value: Any) -> None:
        text = json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode() + b"\n"
        sealed.write(squeeze.compress(text))

    with read_snapshot(engine) as connection:
        schema = tuple(MigrationContext.configure(connection).get_current_heads())
        if set(schema) != set(migration_heads()):
            raise BackupError(
                "the database is not at the latest schema: run `registry db upgrade` first"
            )
        files = _data_files(data_dir)
        manifest = Manifest(
            created_at=(now or datetime.now(UTC)).replace(microsecond=0),
            registry_version=importlib.metadata.version("yrd-registry"),
            schema=schema,
            database=engine.dialect.name,
            logs=_hosted_logs(connection),
            files=tuple(name for name, _ in files),
            from_settings=tuple(
                variable for name, variable in _SETTINGS_SECRETS.items() if getattr(settings, name)
            ),
        )
        line({"manifest": manifest.to_json()})
        for name, data in files:
            line({"file": name, "data": base64.b64encode(data).decode("ascii")})
        rows: dict[str, int] = {}
        present = set(sa.inspect(connection).get_table_names())
        for table in tables():
            if table.name not in present:
                raise BackupError(f"the database lacks the table {table.name}")
            line({"table": table.name, "columns": [column.name for column in table.columns]})
            count = 0
            for row in table_rows(connection, table):
                line(row)
                count += 1
            rows[table.name] = count
        line({"end": {"rows": rows, "files": len(files)}})
        sealed.write(squeeze.flush())
    return Manifest(**{**manifest.__dict__, "rows": rows})


def _data_files(data_dir: DataDir) -> list[tuple[str, bytes]]:
    found = []
    for directory in _DIRS:
        folder = data_dir.root / directory
        if not folder.is_dir():
            continue
        for path in sorted(folder.iterdir()):
            # Temporary files (a secret being written) start with a dot.
            if path.is_file() and not path.name.startswith("."):
                found.append((f"{directory}/{path.name}", path.read_bytes()))
    return found


def _hosted_logs(connection: Connection) -> tuple[LogAtBackup, ...]:
    authority, head = table_of(Authority), table_of(LogHead)
    checkpoint = table_of(LogCheckpoint)
    logs = []
    for code, origin, size in connection.execute(
        sa.select(head.c.authority_code, head.c.origin, head.c.size)
        .join(authority, authority.c.code == head.c.authority_code)
        .where(authority.c.hosted == sa.true())
        .order_by(head.c.authority_code)
    ):
        note = connection.execute(
            sa.select(checkpoint.c.note)
            .where(checkpoint.c.authority_code == code)
            .order_by(checkpoint.c.tree_size.desc())
            .limit(1)
        ).scalar()
        logs.append(LogAtBackup(code, origin, int(size), note))
    return tuple(logs)


# -- reading ----------------------------------------------------------------------------------


def _lines(reader: SealedReader) -> Iterator[Any]:
    pending = b""
    unsqueeze = zlib.decompressobj()
    for chunk in reader.chunks():
        try:
            pending += unsqueeze.decompress(chunk)
        except zlib.error as exc:
            raise BackupError("the backup's contents do not decompress") from exc
        *complete, pending = pending.split(b"\n")
        for raw in complete:
            try:
                yield json.loads(raw)
            except ValueError as exc:
                raise BackupError("the backup holds a line that is not JSON") from exc
    if pending or not unsqueeze.eof:
        raise BackupError("the backup ends inside a line")


class _Reading:
    """What a backup held, checked line by line as it is read; with a connection,
    its rows are inserted there too."""

    def __init__(self, connection: Connection | None) -> None:
        self.connection = connection
        self.known = {table.name: table for table in tables()}
        self.manifest: Manifest | None = None
        self.files: dict[str, bytes] = {}
        self.rows: dict[str, int] = {}
        self.ended = False
        self._table: sa.Table | None = None
        self._columns: list[str] = []
        self._batch: list[list[Any]] = []

    def take(self, value: Any) -> None:
        if self.ended:
            raise BackupError("the backup goes on after its end")
        if isinstance(value, list):
            self._row(value)
            return
        if not isinstance(value, dict) or len(value) not in (1, 2):
            raise BackupError("the backup holds a line it does not describe")
        if self.manifest is None:
            if "manifest" not in value:
                raise BackupError("the backup does not begin with its manifest")
            self.manifest = Manifest.from_json(value["manifest"])
        elif "file" in value:
            self._file(str(value["file"]), value.get("data"))
        elif "table" in value:
            self._flush()
            name = str(value["table"])
            if name not in self.known or name in self.rows:
                raise BackupError(f"the backup holds an unknown or repeated table: {name}")
            self._table, self._columns = self.known[name], [str(c) for c in value["columns"]]
            self.rows[name] = 0
        elif "end" in value:
            self._flush()
            end = value["end"]
            if end.get("rows") != self.rows or end.get("files") != len(self.files):
                raise BackupError("the backup's end does not match what it holds")
            self.ended = True
        else:
            raise BackupError("the backup holds a line it does not describe")

    def finish(self) -> Manifest:
        if not self.ended or self.manifest is None:
            raise BackupError("the backup is cut off: its end is missing")
        missing = set(self.known) - set(self.rows)
        if missing:
            raise BackupError(f"the backup lacks tables: {', '.join(sorted(missing))}")
        return Manifest(**{**self.manifest.__dict__, "rows": dict(self.rows)})

    def _row(self, value: list[Any]) -> None:
        if self._table is None:
            raise BackupError("the backup holds a row outside any table")
        self._batch.append(value)
        self.rows[self._table.name] += 1
        if len(self._batch) >= _BATCH:
            self._flush()

    def _file(self, name: str, data: Any) -> None:
        directory, _, base = name.partition("/")
        if directory not in _DIRS or not base or "/" in base or base.startswith("."):
            raise BackupError(f"the backup holds a file outside keys/ and secrets/: {name}")
        if not isinstance(data, str):
            raise BackupError(f"the backup holds no content for {name}")
        self.files[name] = base64.b64decode(data, validate=True)

    def _flush(self) -> None:
        if self.connection is not None and self._table is not None:
            write_rows(self.connection, self._table, self._columns, self._batch)
        self._batch.clear()


def _read(
    source: IO[bytes],
    passphrase: str,
    connection: Connection | None,
    derived: dict[bytes, bytes] | None = None,
) -> _Reading:
    """Read the backup through, checking its structure; with ``connection``, insert
    its rows there too."""
    reading = _Reading(connection)
    for value in _lines(SealedReader(source, passphrase, derived=derived)):
        reading.take(value)
    reading.finish()
    return reading


def read_backup(
    path: Path, passphrase: str, *, derived: dict[bytes, bytes] | None = None
) -> Manifest:
    """Read a backup through, authenticating every part; its manifest with the rows
    it holds. Raises ``BackupError`` for a wrong passphrase or a damaged file.
    ``derived``: keys derived before, by header (see ``SealedReader``)."""
    with _open(path) as source:
        return _read(source, passphrase, None, derived).finish()


@contextlib.contextmanager
def _open(path: Path) -> Iterator[IO[bytes]]:
    try:
        handle = path.open("rb")
    except OSError as exc:
        raise BackupError(f"cannot read {path}: {exc.strerror}") from exc
    with handle:
        yield handle


# -- restoring --------------------------------------------------------------------------------


def restore_backup(
    settings: Settings, path: Path, passphrase: str, *, now: datetime | None = None
) -> Restored:
    """Restore the backup at ``path`` into the node ``settings`` describe: its data
    directory must hold no keys or secrets and its database no rows. The whole file is
    read and authenticated first; nothing is written if it does not hold, or if the
    target is not empty. The database's rows go in one transaction; every hosted log
    is then held from signing until its peers confirm it. Raises ``BackupError``."""
    now = (now or datetime.now(UTC)).replace(microsecond=0)
    data_dir = DataDir(settings)
    for directory in _DIRS:
        folder = data_dir.root / directory
        if folder.is_dir() and any(folder.iterdir()):
            raise BackupError(
                f"{folder} is not empty: restore into a new data directory (nothing was changed)"
            )
    _check_empty_database(settings.database_url)
    derived: dict[bytes, bytes] = {}
    manifest = read_backup(path, passphrase, derived=derived)
    if set(manifest.schema) != set(migration_heads()):
        raise BackupError(
            f"the backup was made at schema revision {', '.join(manifest.schema)}, and this "
            f"registry is at {', '.join(migration_heads())}: restore it with the registry "
            f"version that made it ({manifest.registry_version}), then upgrade"
        )
    data_dir.ensure()
    with engine_scope(settings.database_url) as engine:
        upgrade(engine)
        with engine.connect() as connection:
            if connection.dialect.name == "sqlite":
                # One transaction from here to the commit; its foreign keys checked at
                # the commit, so a row may refer to one that comes later.
                connection.exec_driver_sql("BEGIN")
                connection.exec_driver_sql("PRAGMA defer_foreign_keys=ON")
            with _open(path) as source:
                reading = _read(source, passphrase, connection, derived)
            reset_sequences(connection)
            held = _hold(connection, manifest, now)
            staged = _stage(data_dir, reading.files)
            try:
                connection.commit()
            except BaseException:
                shutil.rmtree(staged)
                raise
    _place(data_dir, staged)
    return Restored(manifest=manifest, held=held)


def _check_empty_database(url: str) -> None:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and (
        not parsed.database or not Path(parsed.database).exists()
    ):
        return  # a new file: empty
    with engine_scope(url) as engine, engine.connect() as connection:
        empty, table = is_empty(connection)
    if not empty:
        raise BackupError(
            f"the database holds rows (in {table}): restore into a new, empty database "
            "(nothing was changed)"
        )


def _hold(connection: Connection, manifest: Manifest, now: datetime) -> tuple[str, ...]:
    holds = table_of(LogSigningHold)
    held = []
    for log in manifest.logs:
        connection.execute(
            sa.insert(holds).values(
                authority_code=log.authority,
                reason="restored",
                detail=(
                    f"restored from a backup made at {manifest.created_at.isoformat()} "
                    f"with the log at size {log.size}"
                ),
                peer=None,
                peer_size=None,
                peer_note=None,
                held_since=now,
                checked_at=now,
            )
        )
        held.append(log.authority)
    return tuple(held)


def _stage(data_dir: DataDir, files: dict[str, bytes]) -> Path:
    staged = Path(tempfile.mkdtemp(dir=data_dir.root, prefix=".restore-"))
    for directory in _DIRS:
        (staged / directory).mkdir(mode=0o700)
    for name, data in files.items():
        fd = os.open(staged / name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
    return staged


def _place(data_dir: DataDir, staged: Path) -> None:
    for directory in _DIRS:
        target = data_dir.root / directory
        if target.is_dir():
            target.rmdir()  # empty: checked before anything was written
        os.replace(staged / directory, target)
    shutil.rmtree(staged)
