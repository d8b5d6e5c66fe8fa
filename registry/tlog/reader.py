"""Reading a log: roots, proofs, checkpoints and entries, each from O(log n) stored rows."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from sqlmodel import Session, col, select

from registry.authorities import usable_log_key
from registry.crypto.multikey import decode_public_multikey
from registry.errors import NotFound, OutOfRange
from registry.storage.models import LogCheckpoint, LogEntry, LogHead
from registry.tlog.merkle import (
    NodeGetter,
    consistency_proof,
    inclusion_proof,
    nodes_needed,
    root_hash,
)
from registry.tlog.note import verifier_key
from registry.tlog.sequencer import load_nodes, newest_checkpoint

__all__ = [
    "MAX_PAGE",
    "LogSummary",
    "ProofBundle",
    "checkpoint_at",
    "consistency",
    "entries",
    "entry_of",
    "first_covering",
    "get_log",
    "inclusion",
    "inclusion_at",
    "latest_checkpoint",
    "list_logs",
    "log_summaries",
    "proof_bundle",
    "root_at",
]

MAX_PAGE = 1000
"""The most entries one page returns."""

_T = TypeVar("_T")


@dataclass(frozen=True)
class ProofBundle:
    """What proves offline that a credential is in its authority's log."""

    authority: str
    leaf_index: int
    tree_size: int
    hashes: list[bytes]
    checkpoint: str


def get_log(session: Session, authority: str) -> LogHead:
    """An authority's log head; raises ``NotFound``."""
    head = session.get(LogHead, authority)
    if head is None:
        raise NotFound(f"{authority} has no log")
    return head


def list_logs(session: Session) -> list[LogHead]:
    """Every log, by authority code."""
    return list(session.exec(select(LogHead).order_by(col(LogHead.authority_code))))


@dataclass(frozen=True)
class LogSummary:
    """A log as a client first meets it: whose, its origin, its size, and the C2SP
    verifier key its checkpoints verify with (``None`` while it has no usable key)."""

    authority: str
    origin: str
    size: int
    verifier_key: str | None


def log_summaries(session: Session) -> list[LogSummary]:
    """Every log, by authority code, with its current verifier key."""
    summaries = []
    for head in list_logs(session):
        usable = usable_log_key(session, head.authority_code)
        key = decode_public_multikey(usable.public_key_multibase) if usable else None
        summaries.append(
            LogSummary(
                authority=head.authority_code,
                origin=head.origin,
                size=head.size,
                verifier_key=verifier_key(head.origin, key) if key else None,
            )
        )
    return summaries


def _within(head: LogHead, size: int, what: str) -> None:
    if not 0 <= size <= head.size:
        raise OutOfRange(f"{what} {size} is outside the log of {head.size} entries")


def _compute(session: Session, authority: str, fn: Callable[[NodeGetter], _T]) -> _T:
    # A dry run names the nodes; one query fetches them; the real run uses them.
    nodes = load_nodes(session, authority, nodes_needed(fn))
    return fn(lambda level, index: nodes[(level, index)])


def root_at(session: Session, authority: str, size: int) -> bytes:
    """The root of the log when it held ``size`` entries."""
    head = get_log(session, authority)
    _within(head, size, "tree size")
    return _compute(session, authority, lambda get: root_hash(get, size))


def inclusion(
    session: Session, authority: str, leaf_hash: bytes, tree_size: int
) -> tuple[int, list[bytes]]:
    """The index of the entry with ``leaf_hash`` and its inclusion proof at ``tree_size``.

    Raises ``OutOfRange`` for a size outside the log, ``NotFound`` for a leaf hash it
    does not hold before that size.
    """
    head = get_log(session, authority)
    _within(head, tree_size, "tree size")
    index = session.exec(
        select(LogEntry.leaf_index)
        .where(col(LogEntry.authority_code) == authority, col(LogEntry.leaf_hash) == leaf_hash)
        .order_by(col(LogEntry.leaf_index))
        .limit(1)
    ).first()
    if index is None or index >= tree_size:
        raise NotFound(f"no entry with that leaf hash in the first {tree_size} of {authority}")
    return index, _compute(session, authority, lambda get: inclusion_proof(get, index, tree_size))


def inclusion_at(session: Session, authority: str, leaf_index: int, tree_size: int) -> list[bytes]:
    """The inclusion proof of the entry at ``leaf_index`` at ``tree_size``; raises
    ``OutOfRange`` unless the entry is within that size and the size within the log."""
    head = get_log(session, authority)
    _within(head, tree_size, "tree size")
    if not 0 <= leaf_index < tree_size:
        raise OutOfRange(f"leaf {leaf_index} is not within the first {tree_size} entries")
    return _compute(session, authority, lambda get: inclusion_proof(get, leaf_index, tree_size))


def consistency(session: Session, authority: str, first: int, second: int) -> list[bytes]:
    """The proof that the log at ``first`` entries is a prefix of the log at ``second``."""
    head = get_log(session, authority)
    _within(head, second, "second tree size")
    if not 0 <= first <= second:
        raise OutOfRange(f"first ({first}) must lie between 0 and second ({second})")
    return _compute(session, authority, lambda get: consistency_proof(get, first, second))


def latest_checkpoint(session: Session, authority: str) -> LogCheckpoint:
    """The newest checkpoint the log signed; raises ``NotFound`` before the first entry."""
    row = newest_checkpoint(session, authority)
    if row is None:
        raise NotFound(f"the log of {authority} has signed no checkpoint yet")
    return row


def checkpoint_at(session: Session, authority: str, size: int) -> LogCheckpoint:
    """The checkpoint signed at exactly ``size`` entries; raises ``NotFound``."""
    row = session.get(LogCheckpoint, (authority, size))
    if row is None:
        raise NotFound(f"the log of {authority} signed no checkpoint at size {size}")
    return row


def entries(session: Session, authority: str, start: int, end: int) -> list[LogEntry]:
    """Entries ``start`` (inclusive) to ``end`` (exclusive), at most ``MAX_PAGE``."""
    head = get_log(session, authority)
    if not 0 <= start < end <= head.size:
        raise OutOfRange(f"entries {start} to {end} are outside the log of {head.size}")
    if end - start > MAX_PAGE:
        raise OutOfRange(f"at most {MAX_PAGE} entries a page")
    return list(
        session.exec(
            select(LogEntry)
            .where(
                col(LogEntry.authority_code) == authority,
                col(LogEntry.leaf_index) >= start,
                col(LogEntry.leaf_index) < end,
            )
            .order_by(col(LogEntry.leaf_index))
        )
    )


def entry_of(session: Session, credential_id: str) -> LogEntry | None:
    """The log entry of a credential, if it is logged."""
    query = select(LogEntry).where(col(LogEntry.credential_id) == credential_id)
    return session.exec(query).first()


def proof_bundle(session: Session, credential_id: str) -> ProofBundle:
    """The credential's leaf index, its inclusion proof and the newest checkpoint.

    Raises ``NotFound`` if the credential is not in any log.
    """
    entry = entry_of(session, credential_id)
    if entry is None:
        raise NotFound(f"credential {credential_id} is in no log")
    latest = latest_checkpoint(session, entry.authority_code)
    hashes = inclusion_at(session, entry.authority_code, entry.leaf_index, latest.tree_size)
    return ProofBundle(
        authority=entry.authority_code,
        leaf_index=entry.leaf_index,
        tree_size=latest.tree_size,
        hashes=hashes,
        checkpoint=latest.note,
    )


def first_covering(session: Session, authority: str, leaf_index: int) -> LogCheckpoint | None:
    """The earliest checkpoint that includes the entry at ``leaf_index``, if any yet."""
    query = (
        select(LogCheckpoint)
        .where(
            col(LogCheckpoint.authority_code) == authority,
            col(LogCheckpoint.tree_size) > leaf_index,
        )
        .order_by(col(LogCheckpoint.tree_size))
        .limit(1)
    )
    return session.exec(query).first()
