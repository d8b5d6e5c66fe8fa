"""The access audit's writer for the event loop: many entries to a commit.

A verification is answered on the event loop in a few milliseconds, and its entry in
the access audit must be committed before the answer is sent. A commit of its own
for each on a worker thread (a session, a durable commit, then waiting for the
interpreter's lock to hear of it) took the rate from 822 to 479-524 verifications/s.

On PostgreSQL the entries go through an asynchronous connection of the event loop's
own: the loop serves other requests while a commit waits for the disk, and entries
that arrive meanwhile go together into the next commit (group commit). On SQLite one
writer thread per process does the same. Either way a request returns once the
commit holding its entry is done; if the commit fails, every request in it fails
with that error, and no answer is sent for an entry not stored.
"""

from __future__ import annotations

import asyncio
import queue
import threading
from concurrent.futures import Future
from typing import Any

import psycopg
from sqlalchemy import Engine, insert
from sqlalchemy.dialects import postgresql

from registry.enforcement.audit import AccessEntry, add_accesses
from registry.storage.models import AccessAudit

__all__ = ["AccessRecorder"]

_MOST = 1000  # entries in one commit at most

_TABLE = AccessAudit.metadata.tables[AccessAudit.__tablename__]
# The same insert as ``add_accesses`` makes, compiled once for psycopg (named
# parameters: each entry's ``AccessEntry.row``).
_INSERT = str(
    insert(AccessAudit)
    .inline()
    .compile(
        dialect=postgresql.dialect(),  # type: ignore[no-untyped-call]
        column_keys=[c.name for c in _TABLE.columns if not c.primary_key],
    )
)


class AccessRecorder:
    """One writer thread for a process's access-audit entries (see the module)."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._queue: queue.SimpleQueue[tuple[AccessEntry, Future[None]] | None] = (
            queue.SimpleQueue()
        )
        self._thread: threading.Thread | None = None
        self._async: psycopg.AsyncConnection[Any] | None = None
        self._pending: list[tuple[AccessEntry, asyncio.Future[None]]] = []
        self._flusher: asyncio.Task[None] | None = None
        self._lock = threading.Lock()

    async def record(self, entry: AccessEntry) -> None:
        """Return once ``entry`` is committed; raise what the commit raised."""
        if self._engine.dialect.name == "postgresql":
            await self._record_async(entry)
            return
        future: Future[None] = Future()
        self._start()
        self._queue.put((entry, future))
        await asyncio.wrap_future(future)

    async def _record_async(self, entry: AccessEntry) -> None:
        # PostgreSQL: an asynchronous connection of the event loop's own, so the loop
        # serves other requests while a commit waits for the disk, and no thread waits
        # for the interpreter's lock to hear that it is done. Entries that arrive
        # while a commit is under way go together into the next one.
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._pending.append((entry, future))
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush())
        await future

    async def _flush(self) -> None:
        while self._pending:
            batch, self._pending = self._pending[:_MOST], self._pending[_MOST:]
            try:
                connection = await self._connection()
                async with connection.transaction(), connection.cursor() as cursor:
                    await cursor.executemany(_INSERT, [entry.row() for entry, _ in batch])
            except Exception as exc:  # every request in the commit hears of it
                for _, future in batch:
                    if not future.done():
                        future.set_exception(exc)
            else:
                for _, future in batch:
                    if not future.done():
                        future.set_result(None)

    async def _connection(self) -> psycopg.AsyncConnection[Any]:
        if self._async is None or self._async.closed:
            url = self._engine.url.set(drivername="postgresql")
            self._async = await psycopg.AsyncConnection.connect(
                url.render_as_string(hide_password=False), autocommit=True
            )
        return self._async

    async def aclose(self) -> None:
        """Commit what is waiting, then close the connection and stop the thread."""
        if self._flusher is not None:
            await self._flusher
        if self._async is not None:
            await self._async.close()
            self._async = None
        await asyncio.to_thread(self.close)

    def close(self) -> None:
        """Commit what the thread has waiting, then stop it."""
        with self._lock:
            thread, self._thread = self._thread, None
        if thread is not None:
            self._queue.put(None)
            thread.join()

    def _start(self) -> None:
        if self._thread is not None:
            return
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="access-audit", daemon=True)
                self._thread.start()

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            batch = [first]
            stop = False
            while len(batch) < _MOST:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    stop = True
                    break
                batch.append(item)
            self._commit(batch)
            if stop:
                return

    def _commit(self, batch: list[tuple[AccessEntry, Future[None]]]) -> None:
        try:
            with self._engine.begin() as connection:
                add_accesses(connection, [entry for entry, _ in batch])
        except Exception as exc:  # every request in the commit hears of it
            for _, future in batch:
                future.set_exception(exc)
        else:
            for _, future in batch:
                future.set_result(None)
