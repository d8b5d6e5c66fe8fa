"""Auditing a log from what is stored: every entry, subtree hash and checkpoint, and
every table the registry reads in place of the log.

The audit trusts nothing stored but the trust list, and reports every problem it
finds, not only the first. In one pass over the entries, in log order, it:

- recomputes each leaf hash from the credential's canonical bytes and verifies the
  credential against the trust list: its issuer is the log's authority, and its
  proof, or for a recognition agreement every proof of its proof set, verifies with a
  key the trust list allows (``registry.recognition.document.verify_agreement``, as
  publishing an agreement verifies it), the checkpoint that first covered the entry
  deciding for a key since reported compromised;
- recomputes the tree from the leaves and compares every stored subtree hash with it.
  Of an entry's credential, leaf hash and level-0 subtree hash, two that agree decide
  the leaf, so one changed row is named once and not with everything above it;
- verifies each checkpoint's signature, origin, size and signed time with the log key
  the trust list names, and compares its root with the recomputed one, and the log
  head's root with the root at its size;
- and, unless asked for the tree alone, hands each credential to
  ``registry.verification.log_projections``, which rebuilds the tables projected from
  the log (records and their states, parties, status changes, status lists,
  agreements, stored digests) and names each row that differs.

Memory stays bounded whatever the log's size: entries, each level of subtree hashes
and checkpoints are read as streams, in chunks; the tree is kept as its frontier
(one hash per level); what the projections need across entries goes into a scratch
database on disk.
"""

from __future__ import annotations

import json
from collections.abc import Generator, Iterator
from contextlib import ExitStack, closing
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

import sqlalchemy as sa
from sqlmodel import Session, col

from registry.calendar import china_today
from registry.errors import RegistryError, TrustListError, VerificationError
from registry.federation.follow import verify_logged
from registry.storage.models import LogCheckpoint, LogEntry, LogNode, StoredCredential
from registry.tlog.checkpoint import open_note, parse_checkpoint
from registry.tlog.merkle import EMPTY_ROOT, leaf_hash, node_hash
from registry.tlog.note import NoteVerifierKey, parse_verifier_key
from registry.tlog.reader import get_log
from registry.trust.chain import TrustListVersion
from registry.trust.store import current_version
from registry.verification.log_projections import (
    LoggedCredential,
    ProjectionAudit,
    Report,
    StoredRow,
)

__all__ = ["MAX_KEPT", "AuditFinding", "AuditReport", "audit_log"]

MAX_KEPT = 1000
"""How many findings a report keeps (and the command prints); all are counted."""

_CHUNK = 5000
_T = TypeVar("_T")


@dataclass(frozen=True)
class AuditFinding:
    """Something that does not hold: where (an entry, a range of entries, a checkpoint,
    the log head, or a table and a row's key) and what."""

    where: str
    problem: str


@dataclass(frozen=True)
class AuditReport:
    """What the audit checked and what it found.

    ``findings`` are the first ``MAX_KEPT`` problems, in the order found; ``problems``
    counts them all. ``rows`` counts the stored rows compared with what the log gives,
    by table (empty when only the tree was audited).
    """

    authority: str
    entries: int
    nodes: int
    checkpoints: int
    findings: tuple[AuditFinding, ...]
    problems: int
    rows: dict[str, int] = field(default_factory=dict)

    @property
    def holds(self) -> bool:
        """Whether everything checked held."""
        return self.problems == 0

    @property
    def omitted(self) -> int:
        """How many problems were counted but not kept."""
        return self.problems - len(self.findings)


class _Findings:
    """Counts every finding, keeps the first ``keep``."""

    def __init__(self, keep: int) -> None:
        self.kept: list[AuditFinding] = []
        self.count = 0
        self._keep = keep

    def __call__(self, where: str, problem: str) -> None:
        self.count += 1
        if len(self.kept) < self._keep:
            self.kept.append(AuditFinding(where, problem))


class _Stream(Generic[_T]):
    """An iterator whose next item can be looked at before it is taken."""

    def __init__(self, items: Iterator[_T]) -> None:
        self._items = items
        self.head: _T | None = next(items, None)

    def pop(self) -> _T:
        """Take the next item; raises ``IndexError`` when there is none."""
        item = self.head
        if item is None:
            raise IndexError("the stream is exhausted")
        self.head = next(self._items, None)
        return item


def _rows(session: Session, query: Any) -> Generator[Any]:
    result = session.connection().execute(query.execution_options(yield_per=_CHUNK))
    try:
        yield from result
    finally:
        result.close()  # a server-side cursor on PostgreSQL: released whatever happens


def _span(level: int, index: int) -> str:
    return _entries(index << level, ((index + 1) << level) - 1)


def _entries(first: int, last: int) -> str:
    return f"entry {first}" if first == last else f"entries {first}-{last}"


class _Tree:
    """The tree recomputed from the leaves as they come, each subtree it completes
    compared with the stored one. ``None`` stands for a hash nothing stored can give
    (an entry missing with its level-0 hash): what it feeds is taken as stored."""

    def __init__(self, levels: list[_Stream[Any]], report: Report) -> None:
        self._levels = levels
        self._report = report
        self._frontier: list[tuple[int, int, bytes | None]] = []
        self.size = 0
        self.checked = 0

    def stored(self, level: int, index: int) -> bytes | None:
        """The stored hash of subtree (level, index), taken from its level's stream."""
        stream = self._levels[level]
        if stream.head is not None and stream.head[0] == index:
            self.checked += 1
            return bytes(stream.pop()[1])
        return None

    def add(self, leaf: bytes | None) -> None:
        """The next leaf; checks each subtree it completes."""
        frontier = self._frontier
        frontier.append((0, self.size, leaf))
        self.size += 1
        while len(frontier) > 1 and frontier[-2][0] == frontier[-1][0]:
            _, _, right = frontier.pop()
            level, index, left = frontier.pop()
            level, index = level + 1, index >> 1
            computed = node_hash(left, right) if left is not None and right is not None else None
            stored = self.stored(level, index)
            where, what = _span(level, index), f"its level-{level} subtree hash"
            if stored is None:
                self._report(where, f"{what} is missing")
            elif computed is not None and stored != computed:
                self._report(where, f"{what} is not that of the entries below it")
            frontier.append((level, index, computed if computed is not None else stored))

    def root(self) -> bytes | None:
        """The root of the leaves so far (``None`` if one of them is unknown)."""
        if not self._frontier:
            return EMPTY_ROOT
        value = self._frontier[-1][2]
        for _, _, left in reversed(self._frontier[:-1]):
            if value is None or left is None:
                return None
            value = node_hash(left, value)
        return value


@dataclass(frozen=True)
class _Signed:
    """A checkpoint as read: its size, and its signed root and time where it verified."""

    size: int
    root: bytes | None
    time: datetime | None


class _Checkpoints:
    """The log's checkpoints in size order, each verified when read; ``covering`` is
    the next one, the first to include the entry being walked."""

    def __init__(
        self,
        rows: _Stream[Any],
        *,
        origin: str,
        keys: list[NoteVerifierKey],
        report: Report,
    ) -> None:
        self._rows = rows
        self._origin = origin
        self._keys = keys
        self._report = report
        self._previous: datetime | None = None
        self.count = 0
        self.largest: int | None = None
        self.covering: _Signed | None = None
        self._read()

    def _read(self) -> None:
        self.covering = None if self._rows.head is None else self._verify(self._rows.pop())

    def _verify(self, row: Any) -> _Signed:
        size, stored_root, note, signed_at = row
        self.count += 1
        self.largest = size if self.largest is None else max(self.largest, size)
        where = f"checkpoint at size {size}"
        try:
            opened = open_note(note, self._keys)
            checkpoint = parse_checkpoint(opened.text)
        except VerificationError as exc:
            self._report(where, f"its signature does not hold: {exc.message}")
            return _Signed(size, None, None)
        if checkpoint.origin != self._origin or checkpoint.size != size:
            self._report(where, "its text names another log or size")
            return _Signed(size, None, None)
        stamp = opened.timestamps.get(self._origin)
        if stamp != int(signed_at.timestamp()):
            self._report(where, "its stored time is not the time its log key signed")
        if bytes(stored_root) != checkpoint.root:
            self._report(where, "its stored root differs from the signed one")
        time = datetime.fromtimestamp(stamp, UTC) if stamp is not None else None
        if time is not None and self._previous is not None and time < self._previous:
            self._report(where, "it was signed before the checkpoint it follows")
        self._previous = time or self._previous
        return _Signed(size, checkpoint.root, time)

    def settle(self, size: int, tree: _Tree) -> None:
        """The tree now has ``size`` leaves: check the checkpoints of that size (or
        below it: none can be), and move on to the next."""
        while self.covering is not None and self.covering.size <= size:
            signed = self.covering
            if signed.size < size:
                self._report(f"checkpoint at size {signed.size}", "not a size a log can have")
            elif signed.root is not None:
                root = tree.root()
                if root is not None and root != signed.root:
                    where = f"checkpoint at size {signed.size}"
                    self._report(where, "its root is not the root of the entries")
            self._read()

    def beyond(self, size: int) -> None:
        """Name the checkpoints left over that are larger than the log (those within it
        are left when the walk could not reach their size)."""
        while self.covering is not None:
            if self.covering.size > size:
                self._report(
                    f"checkpoint at size {self.covering.size}",
                    f"beyond the {size} entries of the log",
                )
            self._read()


def _leaf(
    where: str, credential: bytes | None, stored: bytes, node: bytes | None, report: Report
) -> bytes:
    """The leaf the log holds at an entry, from its credential's hash, its stored leaf
    hash and its stored level-0 subtree hash: two that agree decide, and the odd one
    is named."""
    if credential is None:
        report(where, "its credential is not stored")
    if credential is not None and credential == stored:
        leaf = credential
    elif credential is not None and credential == node:
        leaf = credential
        report(where, "its leaf hash is not the hash of its credential (its level-0 hash is)")
    elif stored == node:
        leaf = stored
        if credential is not None:
            report(
                where,
                "its leaf hash is not the hash of its credential: the credential changed "
                "after it was logged",
            )
    else:
        leaf = credential if credential is not None else stored
        if credential is not None:
            report(where, "its leaf hash is not the hash of its credential")
    if node is None:
        report(where, "its stored subtree hash (level 0) is missing")
    elif node != leaf:
        report(where, "its stored subtree hash (level 0) is wrong")
    return leaf


class _Credentials:
    """Verifies each logged credential against the trust list
    (``registry.federation.follow.verify_logged``, as a following node does)."""

    def __init__(self, trust: TrustListVersion, authority: str, at: datetime) -> None:
        self._trust = trust
        self._authority = authority
        self._at = at

    def verify(self, document: dict[str, Any], logged_at: datetime | None) -> None:
        """Raises a ``RegistryError`` saying what does not hold."""
        verify_logged(
            document, authority=self._authority, trust=self._trust, logged_at=logged_at, at=self._at
        )


def _entry_query(code: str) -> Any:
    return (
        sa.select(
            col(LogEntry.leaf_index),
            col(LogEntry.leaf_hash),
            col(LogEntry.credential_id),
            col(LogEntry.recorded_at),
            col(StoredCredential.id),
            col(StoredCredential.type),
            col(StoredCredential.issuer_code),
            col(StoredCredential.verification_method),
            col(StoredCredential.digest),
            col(StoredCredential.subject_lookup),
            col(StoredCredential.signed_at),
            col(StoredCredential.canonical),
        )
        .outerjoin(StoredCredential, col(StoredCredential.id) == col(LogEntry.credential_id))
        .where(col(LogEntry.authority_code) == code)
        .order_by(col(LogEntry.leaf_index))
    )


def _level_query(code: str, level: int) -> Any:
    return (
        sa.select(col(LogNode.node_index), col(LogNode.hash))
        .where(col(LogNode.authority_code) == code, col(LogNode.level) == level)
        .order_by(col(LogNode.node_index))
    )


class _Walk:
    """One pass over a log's entries in order, with its subtree hashes and checkpoints."""

    def __init__(
        self,
        session: Session,
        code: str,
        size: int,
        *,
        head_root: bytes,
        credentials: _Credentials,
        projections: ProjectionAudit | None,
        report: Report,
    ) -> None:
        self.session = session
        self.code = code
        self.size = size
        self.head_root = head_root
        self.nodes = 0
        self.credentials = credentials
        self.projections = projections
        self.report = report

    def run(self, stack: ExitStack, origin: str, keys: list[NoteVerifierKey]) -> _Checkpoints:
        def stream(query: Any) -> _Stream[Any]:
            return _Stream(stack.enter_context(closing(_rows(self.session, query))))

        levels = [stream(_level_query(self.code, k)) for k in range(self.size.bit_length())]
        tree = _Tree(levels, self.report)
        checkpoints = _Checkpoints(
            stream(
                sa.select(
                    col(LogCheckpoint.tree_size),
                    col(LogCheckpoint.root),
                    col(LogCheckpoint.note),
                    col(LogCheckpoint.signed_at),
                )
                .where(col(LogCheckpoint.authority_code) == self.code)
                .order_by(col(LogCheckpoint.tree_size))
            ),
            origin=origin,
            keys=keys,
            report=self.report,
        )
        entries = stream(_entry_query(self.code))
        checkpoints.settle(0, tree)
        complete = self._walk(entries, tree, checkpoints, levels[0] if levels else None)
        while entries.head is not None:
            index = entries.pop()[0]
            self.report(f"entry {index}", f"beyond the {self.size} entries the log head holds")
        if complete:
            for level, nodes in enumerate(levels):
                while nodes.head is not None:
                    index = nodes.pop()[0]
                    self.report(
                        _span(level, index),
                        f"a level-{level} subtree hash beyond the log's {self.size} entries",
                    )
            if tree.root() is not None and self.head_root != tree.root():
                self.report("log head", "its root is not the root of the entries")
        self.nodes = tree.checked
        return checkpoints

    def _walk(
        self,
        entries: _Stream[Any],
        tree: _Tree,
        checkpoints: _Checkpoints,
        level0: _Stream[Any] | None,
    ) -> bool:
        """Every index below the head's size, in order; ``False`` if the walk stopped
        where neither entries nor level-0 hashes are left (the rest is named missing)."""
        index = 0
        while index < self.size:
            row = entries.head
            if row is not None and row[0] == index:
                entries.pop()
                tree.add(self._entry(row, tree, checkpoints))
                index += 1
                checkpoints.settle(index, tree)
                continue
            end = self.size if row is None else min(row[0], self.size)
            gap = "the log head says" if row is None else "the indexes have a gap below"
            self.report(_entries(index, end - 1), f"missing: {gap} {self.size} entries")
            for missing in range(index, end):
                if row is None and (level0 is None or level0.head is None):
                    return False  # nothing more is stored below the head's size
                tree.add(tree.stored(0, missing))
                checkpoints.settle(missing + 1, tree)
            index = end
        return True

    def _entry(self, row: Any, tree: _Tree, checkpoints: _Checkpoints) -> bytes:
        index, stored_leaf, credential_id, recorded_at, stored_id = row[:5]
        canonical = row.canonical
        where = f"entry {index}"
        computed = leaf_hash(canonical.encode("utf-8")) if canonical is not None else None
        leaf = _leaf(where, computed, bytes(stored_leaf), tree.stored(0, index), self.report)
        covering = checkpoints.covering
        logged_at = covering.time if covering is not None else None
        logged = computed == leaf and canonical is not None
        document = self._verified(where, canonical, logged_at) if logged else None
        if self.projections is not None:
            if logged_at is not None and int(recorded_at.timestamp()) != int(logged_at.timestamp()):
                self.report(
                    where,
                    "its recorded time (log_entry.recorded_at) is not the time of the first "
                    "checkpoint that covers it",
                )
            stored = None
            if stored_id is not None:
                stored = StoredRow(
                    id=stored_id,
                    type=row.type,
                    issuer_code=row.issuer_code,
                    verification_method=row.verification_method,
                    digest=row.digest,
                    subject_lookup=row.subject_lookup,
                    signed_at=row.signed_at,
                    canonical=canonical,
                )
            self.projections.add(LoggedCredential(index, credential_id, stored, logged, document))
        return leaf

    def _verified(
        self, where: str, canonical: str, logged_at: datetime | None
    ) -> dict[str, Any] | None:
        """The logged credential, parsed, once its verification is reported; ``None``
        if it is not a JSON object."""
        try:
            document = json.loads(canonical)
        except ValueError:
            self.report(where, "its credential is not JSON")
            return None
        if not isinstance(document, dict):
            self.report(where, "its credential is not a JSON object")
            return None
        try:
            self.credentials.verify(document, logged_at)
        except RegistryError as exc:
            self.report(where, f"its credential does not verify: {exc.message}")
        return document


def audit_log(
    session: Session,
    authority: str,
    *,
    at: datetime | None = None,
    projections: bool = True,
    keep: int = MAX_KEPT,
) -> AuditReport:
    """Audit one log against the trust list and, unless ``projections`` is false, the
    tables projected from it; never raises for a finding, reports it.

    ``keep`` findings are kept, all are counted. Raises ``NotFound`` if there is no
    such log, ``TrustListError`` if the node has no trust list to audit against.
    """
    at = at or datetime.now(UTC)
    head = get_log(session, authority)
    code = head.authority_code
    trust = current_version(session, at=at)
    if trust is None:
        raise TrustListError("no trust list to audit against")
    member = trust.content.member(code)
    keys = [parse_verifier_key(member.log.verifier_key)] if member else []
    findings = _Findings(keep)
    size = int(head.size)
    projection = (
        ProjectionAudit(session, code, findings, today=china_today(at)) if projections else None
    )
    walk = _Walk(
        session,
        code,
        size,
        head_root=bytes(head.root),
        credentials=_Credentials(trust, code, at),
        projections=projection,
        report=findings,
    )
    try:
        with ExitStack() as stack:
            checkpoints = walk.run(stack, head.origin, keys)
            checkpoints.beyond(size)
        rows = projection.finish() if projection is not None else {}
    finally:
        if projection is not None:
            projection.close()
    above = session.connection().execute(
        sa.select(col(LogNode.level), col(LogNode.node_index)).where(
            col(LogNode.authority_code) == code, col(LogNode.level) >= size.bit_length()
        )
    )
    for level, index in above:
        findings(_span(level, index), f"a level-{level} subtree hash: higher than the tree can be")
    # The head is what the next append builds on: it must be the last signed state.
    if size and checkpoints.largest != size:
        findings("log head", f"no checkpoint was signed at its size {size}")
    return AuditReport(
        authority=code,
        entries=size,
        nodes=walk.nodes,
        checkpoints=checkpoints.count,
        findings=tuple(findings.kept),
        problems=findings.count,
        rows=rows,
    )
