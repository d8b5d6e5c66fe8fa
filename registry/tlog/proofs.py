"""Inclusion proofs for credentials relied on, at their logs' newest checkpoints.

A verification report and a blacklist search both hand out evidence: for each
credential, the checkpoint of its authority's log read in the same snapshot as the
records, and the proof that the log holds it there. ``prove`` builds that evidence
and checks every proof against its root before anything is given.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from sqlmodel import Session, col, select

from registry.errors import InvalidInput, LogProofError
from registry.storage.db import PREPARED
from registry.storage.models import LogCheckpoint, LogHead
from registry.tlog.cache import SubtreeCache
from registry.tlog.merkle import (
    NodeGetter,
    inclusion_nodes,
    inclusion_proof,
    leaf_hash,
    verify_inclusion,
)
from registry.tlog.sequencer import load_nodes_of

__all__ = ["Evidence", "Head", "LoggedCredential", "log_heads", "prove"]


@dataclass(frozen=True)
class LoggedCredential:
    """A credential relied on, and where its authority's log holds it."""

    canonical: str
    authority: str
    leaf_index: int
    tree_size: int
    hashes: list[bytes]


@dataclass(frozen=True)
class Evidence:
    """The checkpoints proven against (by authority and tree size) and every
    credential relied on."""

    checkpoints: dict[tuple[str, int], str]
    credentials: list[LoggedCredential]

    def by_authority(self) -> dict[str, str]:
        """Each log's newest checkpoint in the evidence."""
        newest: dict[str, tuple[int, str]] = {}
        for (authority, size), note in self.checkpoints.items():
            if authority not in newest or newest[authority][0] < size:
                newest[authority] = (size, note)
        return {authority: note for authority, (_, note) in newest.items()}


@dataclass(frozen=True)
class Head:
    """A log's size and root, and its newest checkpoint (``None``: none signed yet)."""

    size: int
    root: bytes
    checkpoint: str | None


# Every log's head with the checkpoint signed at its size: a log signs one with every
# append, in the same transaction, so that is its newest.
_HEADS = (
    select(
        col(LogHead.authority_code),
        col(LogHead.size),
        col(LogHead.root),
        col(LogCheckpoint.note),
    )
    .outerjoin(
        LogCheckpoint,
        (col(LogCheckpoint.authority_code) == col(LogHead.authority_code))
        & (col(LogCheckpoint.tree_size) == col(LogHead.size)),
    )
    .execution_options(**PREPARED)
)


def log_heads(session: Session) -> dict[str, Head]:
    """Every log's size, root and newest checkpoint, by authority, in one query."""
    return {
        authority: Head(size, bytes(root), note)
        for authority, size, root, note in session.connection().execute(_HEADS)
    }


def _getter(nodes: dict[tuple[str, int, int], bytes], authority: str) -> NodeGetter:
    return lambda level, index: nodes[(authority, level, index)]


def prove(
    session: Session,
    relied: Iterable[tuple[str, str, int | None]],
    heads: Mapping[str, Head],
    cache: SubtreeCache | None = None,
) -> Evidence:
    """For every ``(canonical, authority, leaf index)``, its inclusion proof at its
    log's newest checkpoint (``heads``, read in the same snapshot as the records),
    with the hashes ``cache`` does not keep read in one query.

    Every proof is checked against its log's root before it is given: a report
    never carries evidence that does not verify. If one built with the cache fails,
    the proofs are built again from the database alone, and the cache is cleared if
    those hold; ``LogProofError`` if they fail too.
    """
    by_authority: dict[str, list[tuple[str, int]]] = {}
    for canonical, authority, leaf_index in relied:
        if leaf_index is None:
            raise InvalidInput("a credential relied on is not logged")
        by_authority.setdefault(authority, []).append((canonical, leaf_index))
    for authority in by_authority:
        head = heads.get(authority)
        if head is None or head.checkpoint is None:
            raise InvalidInput(f"the log of {authority} has signed no checkpoint")
    needed = {
        (authority, level, index)
        for authority, entries in by_authority.items()
        for _, leaf in entries
        for level, index in inclusion_nodes(leaf, heads[authority].size)
    }
    if cache is None:
        return _proofs(by_authority, heads, load_nodes_of(session, needed))
    try:
        return _proofs(by_authority, heads, cache.load(session, needed))
    except LogProofError:
        evidence = _proofs(by_authority, heads, load_nodes_of(session, needed))
        cache.clear()  # the database's hashes prove what the kept ones did not
        return evidence


def _proofs(
    by_authority: Mapping[str, list[tuple[str, int]]],
    heads: Mapping[str, Head],
    nodes: dict[tuple[str, int, int], bytes],
) -> Evidence:
    checkpoints: dict[tuple[str, int], str] = {}
    logged: list[LoggedCredential] = []
    for authority, entries in sorted(by_authority.items()):
        head = heads[authority]
        checkpoints[(authority, head.size)] = head.checkpoint or ""
        get = _getter(nodes, authority)
        edge: dict[tuple[int, int], bytes] = {}  # the tree's right edge, shared by its proofs
        for canonical, index in entries:
            hashes = inclusion_proof(get, index, head.size, edge)
            verify_inclusion(leaf_hash(canonical.encode()), index, head.size, hashes, head.root)
            logged.append(LoggedCredential(canonical, authority, index, head.size, hashes))
    return Evidence(checkpoints, logged)
