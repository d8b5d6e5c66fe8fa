"""What ``/metrics`` reports of the database, read when it is scraped: the logs this
node keeps (``health.log_health``: sizes, checkpoints, witnessing), the peers' logs
it follows, the webhook queue and the staged imports: a handful of small queries,
none of which reads a person's data."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, case, func
from sqlmodel import Session, col, select

from registry.administration.health import LogHealth, log_health
from registry.federation.follower import peer_states
from registry.storage.db import session_scope
from registry.storage.models import Delivery, PeerLog, StagedImport

__all__ = [
    "IMPORT_STATES",
    "PEER_STATES",
    "PeerReading",
    "Readings",
    "WebhookReading",
    "read_node",
]

PEER_STATES = ("current", "behind", "unreachable", "forked")
"""What following a peer's log can be (``PeerLog.state``)."""

IMPORT_STATES = ("checking", "rejected", "checked", "running", "done", "failed")
"""What a staged import can be (``StagedImport.state``)."""


@dataclass(frozen=True)
class PeerReading:
    """A peer's log this node follows: entries its origin's newest checkpoint holds that
    the mirror has not verified yet (``None``: no checkpoint seen), seconds since the
    origin last confirmed the mirror current (``None``: never), and the state."""

    authority: str
    origin: str
    behind: int | None
    since_confirmed: float | None
    state: str


@dataclass(frozen=True)
class WebhookReading:
    """The webhook queue: deliveries waiting, those of them whose last attempt failed,
    and the attempts made of the deliveries held, by outcome (a subscription removed
    takes its deliveries with it)."""

    waiting: int
    failing: int
    delivered: int
    failed_attempts: int


@dataclass(frozen=True)
class Readings:
    """Everything ``read_node`` read, at ``now``."""

    now: datetime
    logs: tuple[LogHealth, ...]
    peers: tuple[PeerReading, ...]
    webhooks: WebhookReading
    imports: dict[str, int]


def _peer(row: PeerLog, now: datetime) -> PeerReading:
    behind = None if row.peer_size is None else max(0, row.peer_size - row.tree_size)
    confirmed = row.confirmed_at
    since = None if confirmed is None else max(0.0, (now - confirmed).total_seconds())
    return PeerReading(row.authority_code, row.origin, behind, since, row.state)


def _webhooks(session: Session) -> WebhookReading:
    attempts = col(Delivery.attempts)
    rows = session.exec(
        select(
            col(Delivery.state),
            func.count(),
            func.coalesce(func.sum(case((attempts > 0, 1), else_=0)), 0),
            func.coalesce(func.sum(attempts), 0),
        ).group_by(col(Delivery.state))
    ).all()
    waiting = failing = delivered = failed = 0
    for state, count, tried, made in rows:
        if state == "pending":
            waiting, failing = int(count), int(tried)
            failed += int(made)
        else:
            # A delivered delivery's last attempt succeeded; any before it failed.
            delivered = int(count)
            failed += int(made) - int(count)
    return WebhookReading(waiting, failing, delivered, failed)


def _imports(session: Session) -> dict[str, int]:
    counts = dict.fromkeys(IMPORT_STATES, 0)
    rows = session.exec(
        select(col(StagedImport.state), func.count()).group_by(col(StagedImport.state))
    ).all()
    for state, count in rows:
        counts[str(state)] = int(count)
    return counts


def read_node(engine: Engine, *, now: datetime) -> Readings:
    """The node's readings at ``now``, in one transaction. Raises the database's error
    if it cannot be read (the caller answers the scrape with it)."""
    with session_scope(engine) as session:
        return Readings(
            now=now,
            logs=log_health(session),
            peers=tuple(_peer(row, now) for row in peer_states(session)),
            webhooks=_webhooks(session),
            imports=_imports(session),
        )
