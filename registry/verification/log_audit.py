"""Auditing a log from what is stored: every leaf, every subtree hash, every checkpoint.

The audit trusts nothing stored but the trust list. It recomputes each leaf hash
from the credential's canonical bytes and verifies the credential's proof against
the trust list; checks every stored subtree hash level by level against the level
below (so each is proven from the leaves); then recomputes each checkpoint's root
from the proven hashes and verifies its signature with the log key the trust list
names. It stops at the first thing that does not hold and names it.
"""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Callable, Generator, Iterator
from contextlib import closing
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlmodel import Session, col, select

from registry.credentials import credential_type
from registry.credentials.keys import verify_signed
from registry.errors import RegistryError, TrustListError, VerificationError
from registry.storage.models import (
    LogCheckpoint,
    LogEntry,
    LogHead,
    LogNode,
    StoredCredential,
)
from registry.tlog.checkpoint import open_note, parse_checkpoint
from registry.tlog.merkle import leaf_hash, node_hash
from registry.tlog.note import parse_verifier_key
from registry.tlog.reader import get_log, root_at
from registry.trust.store import current_version

__all__ = ["AuditFinding", "AuditReport", "audit_log"]

_CHUNK = 5000


@dataclass(frozen=True)
class AuditFinding:
    """The first thing that does not hold: where (an entry index or a checkpoint) and why."""

    where: str
    problem: str


@dataclass(frozen=True)
class AuditReport:
    """What the audit checked, and the first finding if anything failed."""

    authority: str
    entries: int
    nodes: int
    checkpoints: int
    finding: AuditFinding | None

    @property
    def holds(self) -> bool:
        """Whether everything checked held."""
        return self.finding is None


class _Failed(Exception):
    def __init__(self, where: str, problem: str) -> None:
        super().__init__(problem)
        self.finding = AuditFinding(where, problem)


def _leaves(session: Session, authority: str) -> Generator[tuple[int, bytes, str]]:
    query = (
        select(LogEntry.leaf_index, LogEntry.leaf_hash, StoredCredential.canonical)
        .join(StoredCredential, col(StoredCredential.id) == col(LogEntry.credential_id))
        .where(col(LogEntry.authority_code) == authority)
        .order_by(col(LogEntry.leaf_index))
        .execution_options(yield_per=_CHUNK)
    )
    result = session.exec(query)
    try:
        for index, stored_hash, canonical in result:
            yield int(index), bytes(stored_hash), str(canonical)
    finally:
        result.close()  # a server-side cursor on PostgreSQL: release it even on a finding


def _level(session: Session, authority: str, level: int) -> Generator[tuple[int, bytes]]:
    query = (
        select(LogNode.node_index, LogNode.hash)
        .where(col(LogNode.authority_code) == authority, col(LogNode.level) == level)
        .order_by(col(LogNode.node_index))
        .execution_options(yield_per=_CHUNK)
    )
    result = session.exec(query)
    try:
        for index, value in result:
            yield int(index), bytes(value)
    finally:
        result.close()


def _check_entries(
    session: Session, authority: str, size: int, check_credential: Callable[[int, str], None]
) -> None:
    with (
        closing(_level(session, authority, 0)) as level0,
        closing(_leaves(session, authority)) as leaves,
    ):
        expected = _walk_entries(leaves, level0, check_credential)
        stray = next(level0, None)
    if expected < size:
        raise _Failed(f"entry {expected}", f"missing: the log head says {size} entries")
    if expected > size:
        raise _Failed(f"entry {size}", f"beyond the {size} entries the log head says it holds")
    if stray is not None:
        raise _Failed(f"entry {stray[0]}", "a level-0 subtree hash without an entry")


def _walk_entries(
    leaves: Iterator[tuple[int, bytes, str]],
    level0: Iterator[tuple[int, bytes]],
    check_credential: Callable[[int, str], None],
) -> int:
    expected = 0
    for index, stored_hash, canonical in leaves:
        where = f"entry {index}"
        if index != expected:
            raise _Failed(f"entry {expected}", "missing: the indexes have a gap")
        recomputed = leaf_hash(canonical.encode("utf-8"))
        if stored_hash != recomputed:
            raise _Failed(where, "its leaf hash is not the hash of its credential")
        node = next(level0, None)
        if node != (index, recomputed):
            raise _Failed(where, "its stored subtree hash (level 0) is wrong")
        try:
            check_credential(index, canonical)
        except RegistryError as exc:
            raise _Failed(where, f"its credential does not verify: {exc.message}") from exc
        expected += 1
    return expected


def _check_nodes(session: Session, authority: str, size: int) -> int:
    checked = size
    above = session.exec(
        select(LogNode.level).where(
            col(LogNode.authority_code) == authority,
            col(LogNode.level) >= max(1, size.bit_length()),
        )
    ).first()
    if above is not None:
        raise _Failed(f"level {above}", "a subtree hash higher than the tree can be")
    for level in range(1, size.bit_length()):
        with (
            closing(_level(session, authority, level - 1)) as below,
            closing(_level(session, authority, level)) as nodes,
        ):
            count = _walk_level(level, below, nodes)
        if count != size >> level:
            raise _Failed(_span(level, count), f"its level-{level} subtree hash is missing")
        checked += count
    return checked


def _walk_level(
    level: int, below: Iterator[tuple[int, bytes]], nodes: Iterator[tuple[int, bytes]]
) -> int:
    count = 0
    for index, value in nodes:
        if index != count:
            raise _Failed(_span(level, count), f"its level-{level} subtree hash is missing")
        left, right = next(below, None), next(below, None)
        if left is None or right is None or (left[0], right[0]) != (2 * index, 2 * index + 1):
            raise _Failed(_span(level, index), f"a level-{level} hash has no children")
        if value != node_hash(left[1], right[1]):
            raise _Failed(_span(level, index), f"the level-{level} hash is not of its children")
        count += 1
    return count


def _check_head(session: Session, head: LogHead, checkpoints: list[LogCheckpoint]) -> None:
    # The head is what the next append builds on: it must be the last signed state.
    last = checkpoints[-1] if checkpoints else None
    if head.size and (last is None or last.tree_size != head.size):
        raise _Failed("log head", f"no checkpoint was signed at its size {head.size}")
    if bytes(head.root) != root_at(session, head.authority_code, head.size):
        raise _Failed("log head", "its root is not the root of the entries")


def _span(level: int, index: int) -> str:
    return f"entries {index << level}-{((index + 1) << level) - 1}"


def audit_log(session: Session, authority: str, *, at: datetime | None = None) -> AuditReport:
    """Audit one log against the trust list; never raises for a finding, reports it.

    Raises ``NotFound`` if there is no such log, ``TrustListError`` if the node has
    no trust list to audit against.
    """
    at = at or datetime.now(UTC)
    head = get_log(session, authority)
    code = head.authority_code
    trust = current_version(session, at=at)
    if trust is None:
        raise TrustListError("no trust list to audit against")
    member = trust.content.member(code)
    log_keys = [parse_verifier_key(member.log.verifier_key)] if member else []

    checkpoints = list(
        session.exec(
            select(LogCheckpoint)
            .where(col(LogCheckpoint.authority_code) == code)
            .order_by(col(LogCheckpoint.tree_size))
        )
    )
    # When each entry was first covered by a signed checkpoint: what decides whether
    # a key compromised later still vouches for it.
    covered_at = deque((row.tree_size, row.signed_at) for row in checkpoints)

    def check_credential(index: int, canonical: str) -> None:
        while covered_at and covered_at[0][0] <= index:
            covered_at.popleft()
        document = json.loads(canonical)
        verify_signed(
            document,
            directory=trust.known_keys.get,
            credential_type=credential_type(document),
            authority=code,
            at=at,
            logged_at=covered_at[0][1] if covered_at else None,
            needs_log=True,
        )

    nodes = 0
    try:
        _check_entries(session, code, head.size, check_credential)
        nodes = _check_nodes(session, code, head.size)
        previous_time = None
        for row in checkpoints:
            where = f"checkpoint at size {row.tree_size}"
            if row.tree_size > head.size:
                raise _Failed(where, f"beyond the {head.size} entries of the log")
            try:
                opened = open_note(row.note, log_keys)
                checkpoint = parse_checkpoint(opened.text)
            except VerificationError as exc:
                raise _Failed(where, f"its signature does not hold: {exc.message}") from exc
            if opened.timestamps.get(head.origin) != int(row.signed_at.timestamp()):
                raise _Failed(where, "its stored time is not the time its log key signed")
            if checkpoint.origin != head.origin or checkpoint.size != row.tree_size:
                raise _Failed(where, "its text names another log or size")
            if checkpoint.root != root_at(session, code, row.tree_size):
                raise _Failed(where, "its root is not the root of the entries")
            if bytes(row.root) != checkpoint.root:
                raise _Failed(where, "its stored root differs from the signed one")
            if previous_time is not None and row.signed_at < previous_time:
                raise _Failed(where, "it was signed before the checkpoint it follows")
            previous_time = row.signed_at
        _check_head(session, head, checkpoints)
    except _Failed as failed:
        finding: AuditFinding | None = failed.finding
    else:
        finding = None
    return AuditReport(
        authority=code,
        entries=head.size,
        nodes=nodes,
        checkpoints=len(checkpoints),
        finding=finding,
    )
