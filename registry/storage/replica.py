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
against: it verifies as one read from the primary does. But a listing or a
revocation signed since would be missing from it, and an answer says a log this
node hosts is current as of the answer. So a replica more than ``max_lag`` seconds
behind is not read from: about once a second (``_CHECK_EVERY``) a process notes the
primary's write position (its WAL LSN) and asks how far the replica has replayed;
the replica is current as of the newest noted position it has replayed. One behind
is logged once, and read from again as soon as it has caught up. Where the primary
cannot be asked, the replica's last known state stands (the reads stay where they
were).
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections import deque
from collections.abc import Callable
from functools import partial
from typing import TypeVar

from sqlalchemy import Engine, text
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


_CHECK_EVERY = 1.0
"""Seconds between two looks at how far the replica has replayed (a process's)."""

_NOTED = 4096
"""The primary's write positions kept while the replica has not replayed them."""

_WRITTEN = text("SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')::bigint")
_REPLAYED = text("SELECT pg_wal_lsn_diff(pg_last_wal_replay_lsn(), '0/0')::bigint")


class ReplicaState:
    """When the replica last failed, and how far behind its primary it is, shared by a
    process's ``Reads``; thread-safe."""

    def __init__(self, *, retry_after: float, max_lag: float = 10.0) -> None:
        self._retry_after = retry_after
        self._max_lag = max_lag
        self._lock = threading.Lock()
        self._failed_at: float | None = None
        self._checked_at: float | None = None
        self._noted: deque[tuple[float, int]] = deque(maxlen=_NOTED)
        self._current_as_of: float | None = None
        self._current = False

    def current(self, written: Callable[[], int], replayed: Callable[[], int | None]) -> bool:
        """Whether the replica is at most ``max_lag`` seconds behind the primary.
        ``written``: the primary's write position now; ``replayed``: how far the
        replica has replayed (``None``: it is not a standby, so not behind). Asked
        once every ``_CHECK_EVERY`` seconds; meanwhile the last answer stands. Raises
        the replica's failure (``replayed``'s)."""
        now = time.monotonic()
        with self._lock:
            if self._checked_at is not None and now - self._checked_at < _CHECK_EVERY:
                return self._current
            first = self._checked_at is None
            self._checked_at = now
            was = self._current
        try:
            position = written()
        except _FAILURES:
            return was  # the primary cannot be asked: the reads stay where they were
        reached = replayed()
        with self._lock:
            self._noted.append((now, position))
            if reached is None:  # not a standby: current now
                self._noted.clear()
                self._current_as_of = now
            while self._noted and reached is not None and self._noted[0][1] <= reached:
                self._current_as_of = self._noted.popleft()[0]
            behind = now - self._current_as_of if self._current_as_of is not None else math.inf
            self._current = behind <= self._max_lag
            now_current = self._current
        if not now_current and (was or first):
            _log.warning(
                "the database replica is more than %g s behind the primary; reading from "
                "the primary until it catches up",
                self._max_lag,
            )
        elif now_current and not was and not first:
            _log.info("the database replica has caught up with the primary; reading from it")
        return now_current

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
        the replica; without a replica, with one further behind than its ``max_lag``,
        or if it fails ``work`` (which is then done again from the start), in
        ``session`` (the request's own, on the primary) when given, else in a snapshot
        of the primary. ``work`` must only read: it may run twice. Raises what
        ``work`` raises, and the primary's errors."""
        if self.replica is not None and self._state.usable():
            written, replayed = partial(_written, self.primary), partial(_replayed, self.replica)
            try:
                if self._state.current(written, replayed):
                    with read_scope(self.replica) as replica:
                        begin_snapshot(replica)
                        found = work(replica)
                    self._state.served()
                    return found
            except _FAILURES as exc:
                self._state.failed(exc)
        if session is not None:
            return work(session)
        with read_scope(self.primary) as primary:
            begin_snapshot(primary)
            return work(primary)


def _written(primary: Engine) -> int:
    """The primary's write position (WAL LSN), in bytes."""
    with primary.connect() as connection:
        return int(connection.execute(_WRITTEN).scalar_one())


def _replayed(replica: Engine) -> int | None:
    """How far the replica has replayed (WAL LSN, in bytes); ``None`` if it is not a
    standby."""
    with replica.connect() as connection:
        found = connection.execute(_REPLAYED).scalar_one()
    return None if found is None else int(found)
