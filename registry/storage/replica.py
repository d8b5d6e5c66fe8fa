"""Reads from a PostgreSQL streaming replica, with the primary to fall back on.

A node may have a hot standby of its database (``Settings.database_replica_url``).
The work that only reads (verifying, searching the list, the public pages) reads
from it through ``Reads``; every write, and whatever must read what was just written,
stays on the primary. A replica that cannot be reached or fails a read (stopped,
restarting, a query cancelled by a conflict with recovery) costs that read nothing
but time: it is done again on the primary, and logged. The replica is then left
alone for ``retry_after`` seconds, so that one down is not asked again by every
request, and logged once a period, not once a request.

A replica lags its primary by what it has not replayed yet. A verification read from
it is true as of the log checkpoints it read, which its report names and proves
against: it verifies as one read from the primary does.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import TypeVar

from sqlalchemy import Engine
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlmodel import Session

from registry.storage.db import begin_snapshot, read_scope

__all__ = ["Reads", "ReplicaState"]

_log = logging.getLogger("registry.replica")

_T = TypeVar("_T")

_FAILURES = (OperationalError, InterfaceError)
"""What a replica's failure looks like: it could not be reached, the connection broke,
or the server refused or cancelled the query (PostgreSQL's recovery conflicts are
operational errors). A programming or data error would be the same on the primary."""


class ReplicaState:
    """When the replica last failed, shared by a process's ``Reads``; thread-safe."""

    def __init__(self, *, retry_after: float) -> None:
        self._retry_after = retry_after
        self._lock = threading.Lock()
        self._failed_at: float | None = None

    def usable(self) -> bool:
        """Whether reads should try the replica: it has not failed in the last
        ``retry_after`` seconds."""
        with self._lock:
            if self._failed_at is None:
                return True
            return time.monotonic() - self._failed_at >= self._retry_after

    def failed(self, exc: BaseException) -> None:
        """Note that the replica failed a read (and log it, once a period)."""
        with self._lock:
            self._failed_at = time.monotonic()
        # The driver's message only: SQLAlchemy's text would add the statement's
        # parameters, which may be a person's look-up key.
        cause = getattr(exc, "orig", None) or exc
        detail = str(cause).strip().splitlines()[0] if str(cause).strip() else ""
        _log.warning(
            "the database replica failed a read (%s: %s); reading from the primary, "
            "trying the replica again in %g s",
            type(cause).__name__,
            detail,
            self._retry_after,
        )

    def served(self) -> None:
        """Note that the replica answered a read (logged if it had failed before)."""
        with self._lock:
            if self._failed_at is None:
                return
            self._failed_at = None
        _log.info("the database replica answers again; reading from it")


class Reads:
    """Where read-only work reads: the replica when there is one and it answers, else
    the primary. Safe to share between threads."""

    def __init__(
        self, *, primary: Engine, replica: Engine | None, state: ReplicaState | None = None
    ) -> None:
        self.primary = primary
        self.replica = replica
        self._state = state or ReplicaState(retry_after=30.0)

    def read(self, work: Callable[[Session], _T], *, session: Session | None = None) -> _T:
        """``work`` done in a session reading from one snapshot (``begin_snapshot``) of
        the replica; without a replica, or if it fails ``work`` (which is then done
        again from the start), in ``session`` (the request's own, on the primary)
        when given, else in a snapshot of the primary. ``work`` must only read: it may
        run twice. Raises what ``work`` raises, and the primary's errors."""
        if self.replica is not None and self._state.usable():
            try:
                with read_scope(self.replica) as replica:
                    begin_snapshot(replica)
                    found = work(replica)
            except _FAILURES as exc:
                self._state.failed(exc)
            else:
                self._state.served()
                return found
        if session is not None:
            return work(session)
        with read_scope(self.primary) as primary:
            begin_snapshot(primary)
            return work(primary)
