"""The node's health at a glance, for its administrator: the database (reachable,
migrated to the latest revision), the logs it keeps (size, newest checkpoint,
witnessed size), the peers' logs it follows, the webhook deliveries waiting, the
private keys it holds, and its version. Read from what ``/readyz``,
``GET /v1/logs``, ``GET /v1/federation/status`` and the key store read."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from importlib import metadata

from sqlalchemy import Engine, func
from sqlmodel import Session, col, select

from registry.crypto.keys import KeyLocation, KeyStore
from registry.errors import DatabaseNotReady
from registry.federation.follower import peer_states
from registry.storage.db import SchemaStatus, schema_status, session_scope
from registry.storage.models import Delivery, LogCheckpoint, LogHead, PeerLog, SigningKey
from registry.tlog.proofs import log_heads
from registry.tlog.reader import log_summaries
from registry.trust.store import current_version
from registry.verification.witnessed import (
    head_witnessing,
    newest_witnessed,
    recent_cosignatures,
)

__all__ = ["HeldKey", "LogHealth", "NodeHealth", "log_health", "node_health"]


@dataclass(frozen=True)
class LogHealth:
    """A log this node keeps: its size, its newest checkpoint's size (0: none) and when
    it was signed, the size of its newest checkpoint the trust list's witnesses
    cosigned (0: none), and of the newest checkpoint's cosignatures, how many count
    and how many the witnessing policy requires (0 and 0 without a trust list)."""

    authority: str
    origin: str
    size: int
    checkpoint_at: datetime | None
    witnessed_size: int
    checkpoint_size: int = 0
    cosignatures: int = 0
    required: int = 0


@dataclass(frozen=True)
class HeldKey:
    """A key whose private half this node should hold: ``held`` whether its file is
    in the key store; ``retired`` once compromised or past its validity."""

    authority: str | None
    purpose: str
    verification_method: str
    held: bool
    retired: bool


@dataclass(frozen=True)
class NodeHealth:
    """What the health page shows; ``problem`` says why the database could not be read
    (then only ``version`` and ``database`` are filled)."""

    version: str
    database: str
    schema: SchemaStatus | None
    problem: str | None = None
    logs: tuple[LogHealth, ...] = ()
    peers: tuple[PeerLog, ...] = ()
    pending_deliveries: int = 0
    keys: tuple[HeldKey, ...] = ()


def _version() -> str:
    try:
        return metadata.version("yrd-registry")
    except metadata.PackageNotFoundError:
        return "unknown"


def log_health(session: Session) -> tuple[LogHealth, ...]:
    """Every log this node keeps, by authority, as the health page and ``/metrics``
    show it."""
    current = current_version(session)
    trust = current.content if current is not None else None
    heads = log_heads(session)
    recent = recent_cosignatures(session, heads) if trust is not None else {}
    # A log signs a checkpoint at its size with every append: the head's is the newest.
    signed = dict(
        session.exec(
            select(col(LogCheckpoint.authority_code), col(LogCheckpoint.signed_at)).join(
                LogHead,
                (col(LogHead.authority_code) == col(LogCheckpoint.authority_code))
                & (col(LogHead.size) == col(LogCheckpoint.tree_size)),
            )
        ).all()
    )
    logs = []
    for log in log_summaries(session):
        witnessed, newest = None, None
        head = heads.get(log.authority)
        if trust is not None and head is not None:
            size, rows = head.size, recent.get(log.authority, [])
            witnessed = newest_witnessed(session, trust, log.authority, upto=size, first=rows)
            if head.checkpoint is not None:
                newest = head_witnessing(session, trust, log.authority, size=size, rows=rows)
        logs.append(
            LogHealth(
                authority=log.authority,
                origin=log.origin,
                size=log.size,
                checkpoint_at=signed.get(log.authority),
                witnessed_size=witnessed.size if witnessed is not None else 0,
                checkpoint_size=head.size if head is not None and head.checkpoint else 0,
                cosignatures=len(newest.cosigners) if newest is not None else 0,
                required=newest.required if newest is not None else 0,
            )
        )
    return tuple(logs)


def _keys(session: Session, key_store: KeyStore, now: datetime) -> tuple[HeldKey, ...]:
    rows = session.exec(
        select(SigningKey)
        .where(col(SigningKey.key_name).is_not(None))
        .order_by(col(SigningKey.authority_code), col(SigningKey.purpose))
    ).all()
    return tuple(
        HeldKey(
            authority=row.authority_code,
            purpose=row.purpose,
            verification_method=row.verification_method,
            held=key_store.holds(KeyLocation(row.key_name or "", row.token_label)),
            retired=row.compromised_since is not None
            or (row.valid_until is not None and row.valid_until <= now),
        )
        for row in rows
    )


def node_health(engine: Engine, *, key_store: KeyStore, now: datetime) -> NodeHealth:
    """The node's health now; a database that cannot be reached or is not migrated is
    reported in ``problem``, never raised."""
    version, database = _version(), engine.dialect.name
    try:
        schema = schema_status(engine)
    except DatabaseNotReady as exc:
        return NodeHealth(version, database, None, problem=exc.message)
    if not schema.at_head:
        return NodeHealth(version, database, schema, problem="not migrated to the latest revision")
    with session_scope(engine) as session:
        pending = session.exec(
            select(func.count()).select_from(Delivery).where(col(Delivery.state) == "pending")
        ).one()
        return NodeHealth(
            version,
            database,
            schema,
            logs=log_health(session),
            peers=tuple(peer_states(session)),
            pending_deliveries=int(pending),
            keys=_keys(session, key_store, now),
        )
