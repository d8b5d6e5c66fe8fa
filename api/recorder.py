"""The access audit's writer for the event loop: many entries to a commit.

A verification is answered on the event loop in a few milliseconds, and its entry in
the access audit must be committed before the answer is sent. A commit of its own
for each (a worker thread, a session, a WAL flush) cost a third of the rate. Here
each request hands its entry to one writer thread per process and awaits the commit
that holds it; the thread takes every entry waiting at once and commits them in one
transaction (group commit), so under load a flush carries many entries and nobody
waits longer than one commit behind another. If the commit fails, every request in
it fails with that error: no answer is sent for an entry not stored.
"""

from __future__ import annotations

import asyncio
import queue
import threading
from concurrent.futures import Future

from sqlalchemy import Engine

from registry.enforcement.audit import AccessEntry, add_accesses

__all__ = ["AccessRecorder"]

_MOST = 1000  # entries in one commit at most


class AccessRecorder:
    """One writer thread for a process's access-audit entries (see the module)."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._queue: queue.SimpleQueue[tuple[AccessEntry, Future[None]] | None] = (
            queue.SimpleQueue()
        )
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    async def record(self, entry: AccessEntry) -> None:
        """Return once ``entry`` is committed; raise what the commit raised."""
        future: Future[None] = Future()
        self._start()
        self._queue.put((entry, future))
        await asyncio.wrap_future(future)

    def close(self) -> None:
        """Commit what is waiting, then stop the thread."""
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
