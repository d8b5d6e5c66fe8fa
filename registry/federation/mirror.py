"""Keeping a verified batch of a peer's log: stored in the tables and projections the
issuing path writes for this node's own records, so that verification, blacklist
search and the log's own API answer from a mirrored log exactly as from a hosted one,
and the log audit (``registry.verification.log_audit``) finds nothing to report.

``mirror_entries`` takes what ``registry.federation.follow.verify_extension`` returned
and writes, in the caller's transaction (all or nothing, nothing committed here):

1. the credentials, with their canonical bytes, under the keys the trust list gives
   the peer (``registry.federation.peers``);
2. the log: its entries, every subtree they complete, the peer's own signed
   checkpoint and the head, once the stored tree and the entries hash to its root;
3. the projections each credential's type has (``registry.verification.log_projections``
   states what each must equal): records and the parties they name, status changes
   and their effect on the records they change (a change dated ahead kept scheduled,
   as the issuing side keeps it), the newest signed version of each status list, and
   recognition agreements with their terminations.

A batch already stored at those indexes with the same leaf hashes is a no-op; one with
others raises ``Inconsistency``, and so does a batch that does not continue the
stored log.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col

from registry.calendar import china_today, parse_aware
from registry.credentials import CredentialType, authority_of, credential_type
from registry.credentials.lifecycle import ACTIONS, Action, initial_state
from registry.credentials.records import named_parties
from registry.credentials.status_list import StatusBits
from registry.crypto.eddsa_jcs_2022 import proofs_of
from registry.crypto.jcs import canonical_bytes, sha256_hex
from registry.errors import Conflict, Inconsistency, NotFound
from registry.federation.follow import Verified
from registry.ids import name_core, name_key
from registry.issuing.duplicates import course_key
from registry.storage.base import bulk_insert, table_of
from registry.storage.credentials import credential_id_of
from registry.storage.models import (
    Authority,
    LogCheckpoint,
    LogEntry,
    LogHead,
    LogNode,
    RecognitionAgreementRow,
    Record,
    RecordParty,
    SigningKey,
    StatusChangeRow,
    StatusListRow,
    StoredCredential,
)
from registry.tlog.merkle import EMPTY_ROOT, leaf_hash, node_hash
from registry.tlog.sequencer import frontier_of, load_nodes
from registry.verification.log_projections import (
    change_columns,
    holder_position,
    record_columns,
    terminated_agreement,
)

__all__ = ["mirror_entries"]


def mirror_entries(
    session: Session,
    authority: str,
    verified: Verified,
    *,
    start: int,
    now: datetime | None = None,
    today: date | None = None,
) -> None:
    """Store ``verified`` (entries ``start`` up to its checkpoint's size of the log of
    ``authority``, a peer registered by ``registry.federation.peers.register_peer``).

    ``today`` (China's day; by default the day of the peer's checkpoint, as the peer
    applied its changes when it signed it) decides which changes are still ahead; a
    change kept scheduled whose day has come is applied first, as the peer's issuing
    applies it before its next append. Raises ``NotFound``
    for an authority not registered, ``Conflict`` for one this node hosts, and
    ``Inconsistency`` where the batch is not the continuation of the stored log, or
    disagrees with entries or a checkpoint already stored. The caller commits.
    """
    now = (now or datetime.now(UTC)).replace(microsecond=0)
    today = today or china_today(verified.signed_at)
    checkpoint = verified.checkpoint
    documents = verified.documents
    if start + len(documents) != checkpoint.size:
        raise Inconsistency(
            f"{len(documents)} entries from {start} do not make a log of {checkpoint.size}"
        )
    peer = session.get(Authority, authority)
    if peer is None:
        raise NotFound(f"no authority {authority}: register the peer first")
    if peer.hosted:
        raise Conflict(f"{authority} is hosted by this node: its log is not a mirror")
    canonicals = [canonical_bytes(document) for document in documents]
    leaves = [leaf_hash(canonical) for canonical in canonicals]
    # 1. What of the batch is kept already must be the same; a retry changes nothing.
    head = _head(session, authority, checkpoint.origin)
    kept = _kept(session, authority, start, leaves, head)
    if head.size >= checkpoint.size:
        _checkpoint(session, authority, verified, head)
        return
    documents, canonicals, leaves = documents[kept:], canonicals[kept:], leaves[kept:]
    start += kept
    # 2. The rest continues the stored log and hashes to the peer's signed root.
    if head.size != start:
        raise Inconsistency(
            f"the mirror of {authority} holds {head.size} entries; a batch from {start} "
            "does not continue it"
        )
    nodes, root = _tree(session, authority, start, leaves, bytes(head.root))
    if root != checkpoint.root:
        raise Inconsistency(
            f"the stored log of {authority} and the batch do not hash to the checkpoint's "
            f"root at size {checkpoint.size}"
        )
    if not documents:
        _checkpoint(session, authority, verified, head)
        return
    # 3. The changes kept scheduled whose day has come, then the credentials, then
    # what refers to them.
    _apply_due(session, authority, today=today, now=now)
    ids = [credential_id_of(document) for document in documents]
    projection = _Projection(session, authority, now=now, today=today)
    credentials = [
        projection.credential(credential_id, document, canonical)
        for credential_id, document, canonical in zip(ids, documents, canonicals, strict=True)
    ]
    bulk_insert(session, StoredCredential, credentials)
    projection.write()
    bulk_insert(
        session,
        LogEntry,
        [
            {
                "authority_code": authority,
                "leaf_index": start + offset,
                "leaf_hash": leaf,
                "credential_id": credential_id,
                # The time of the first checkpoint that covers it: the peer's, kept here.
                "recorded_at": verified.signed_at,
            }
            for offset, (credential_id, leaf) in enumerate(zip(ids, leaves, strict=True))
        ],
    )
    bulk_insert(session, LogNode, nodes)
    _checkpoint(session, authority, verified, head)
    session.execute(
        sa.update(LogHead)
        .where(col(LogHead.authority_code) == authority)
        .values(size=checkpoint.size, root=checkpoint.root, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    session.expire(head)


def _apply_due(session: Session, authority: str, *, today: date, now: datetime) -> None:
    """Apply the mirrored log's scheduled changes whose day is ``today`` or past: the
    records' state (their bits are in the peer's signed lists)."""
    record = table_of(Record)
    change = table_of(StatusChangeRow)
    due = session.execute(
        sa.select(record.c.credential_id, change.c.state_after)
        .join(change, change.c.credential_id == record.c.scheduled_change_id)
        .where(
            record.c.authority_code == authority,
            record.c.scheduled_change_id.is_not(None),
            change.c.effective_on <= today,
        )
    ).all()
    if not due:
        return
    session.execute(
        sa.update(record)
        .where(record.c.credential_id == sa.bindparam("b_id"))
        .values(
            state=sa.bindparam("b_state"),
            scheduled_change_id=None,
            updated_at=sa.bindparam("b_at"),
        ),
        [{"b_id": record_id, "b_state": state, "b_at": now} for record_id, state in due],
    )


# -- the log ---------------------------------------------------------------------------------------


def _head(session: Session, authority: str, origin: str) -> LogHead:
    """The mirror's log head, created empty on first use, write-locked."""
    head = session.get(LogHead, authority)
    if head is None:
        session.add(
            LogHead(
                authority_code=authority,
                origin=origin,
                size=0,
                root=EMPTY_ROOT,
                updated_at=datetime.now(UTC),
            )
        )
        session.flush()
    locked: LogHead = session.execute(
        sa.update(LogHead)
        .where(col(LogHead.authority_code) == authority)
        .values(size=LogHead.size)
        .returning(LogHead)
        .execution_options(synchronize_session=False, populate_existing=True)
    ).scalar_one()
    if locked.origin != origin:
        raise Inconsistency(f"the log of {authority} is {locked.origin!r}, not {origin!r}")
    return locked


def _kept(
    session: Session, authority: str, start: int, leaves: Sequence[bytes], head: LogHead
) -> int:
    """How many of the batch's leaves, from its start, are stored already; raises
    ``Inconsistency`` if any stored there differs, or lacks below the head."""
    end = min(head.size, start + len(leaves))
    if end <= start:
        return 0
    stored = dict(
        session.connection()
        .execute(
            sa.select(col(LogEntry.leaf_index), col(LogEntry.leaf_hash)).where(
                col(LogEntry.authority_code) == authority,
                col(LogEntry.leaf_index) >= start,
                col(LogEntry.leaf_index) < end,
            )
        )
        .all()
    )
    for index in range(start, end):
        found = stored.get(index)
        if found is None:
            raise Inconsistency(
                f"the mirror of {authority} holds {head.size} entries but not entry "
                f"{index}: audit it"
            )
        if bytes(found) != leaves[index - start]:
            raise Inconsistency(
                f"entry {index} of {authority} is stored with another leaf hash: "
                "the peer's log forked, or the mirror was changed"
            )
    return end - start


def _tree(
    session: Session, authority: str, start: int, leaves: Sequence[bytes], stored_root: bytes
) -> tuple[list[dict[str, object]], bytes]:
    """The subtree rows the leaves complete, and the new root, from the stored frontier
    (as the sequencer appends)."""
    keys = frontier_of(start)
    known = load_nodes(session, authority, keys) if keys else {}
    frontier = [(level, index, known[(level, index)]) for level, index in keys]
    if _root([value for _, _, value in frontier]) != stored_root:
        raise Inconsistency(f"the stored log of {authority} does not hash to its head: audit it")
    nodes: list[dict[str, object]] = []
    for offset, leaf in enumerate(leaves):
        level, node, value = 0, start + offset, leaf
        nodes.append({"authority_code": authority, "level": 0, "node_index": node, "hash": value})
        while frontier and frontier[-1][0] == level:
            _, left_index, left = frontier.pop()
            level, node, value = level + 1, left_index >> 1, node_hash(left, value)
            nodes.append(
                {"authority_code": authority, "level": level, "node_index": node, "hash": value}
            )
        frontier.append((level, node, value))
    return nodes, _root([value for _, _, value in frontier])


def _root(frontier: Sequence[bytes]) -> bytes:
    if not frontier:
        return EMPTY_ROOT
    root = frontier[-1]
    for value in reversed(frontier[:-1]):
        root = node_hash(value, root)
    return root


def _checkpoint(session: Session, authority: str, verified: Verified, head: LogHead) -> None:
    """Keep the peer's signed note for its size, once; another root there is a fork."""
    checkpoint = verified.checkpoint
    stored = session.get(LogCheckpoint, (authority, checkpoint.size))
    if stored is not None:
        if bytes(stored.root) != checkpoint.root:
            raise Inconsistency(
                f"a checkpoint of {authority} at size {checkpoint.size} with another root "
                "is stored: the peer's log forked"
            )
        return
    method = _log_key(session, authority)
    session.add(
        LogCheckpoint(
            authority_code=head.authority_code,
            tree_size=checkpoint.size,
            root=checkpoint.root,
            note=verified.note,
            verification_method=method,
            signed_at=verified.signed_at,
        )
    )
    session.flush()


def _log_key(session: Session, authority: str) -> str:
    method = session.execute(
        sa.select(col(SigningKey.verification_method))
        .where(col(SigningKey.authority_code) == authority, col(SigningKey.purpose) == "log")
        .order_by(col(SigningKey.valid_from).desc())
        .limit(1)
    ).scalar_one_or_none()
    if method is None:
        raise NotFound(f"no log key of {authority} is recorded: register the peer first")
    return str(method)


# -- the projections -------------------------------------------------------------------------------


class _Projection:
    """The rows a batch's credentials project, gathered in log order, written in one
    statement a table (and one a table for rows stored before that change)."""

    def __init__(self, session: Session, authority: str, *, now: datetime, today: date) -> None:
        self._session = session
        self._authority = authority
        self._now = now
        self._today = today
        self._methods = set(
            session.execute(
                sa.select(col(SigningKey.verification_method)).where(
                    col(SigningKey.authority_code) == authority
                )
            ).scalars()
        )
        self.records: dict[str, dict[str, Any]] = {}
        self.parties: list[dict[str, Any]] = []
        self.changes: dict[str, dict[str, Any]] = {}
        self.agreements: dict[str, dict[str, Any]] = {}
        self.lists: dict[str, tuple[int, str, str]] = {}  # purpose -> version, id, encoded
        self.allocated: Counter[str] = Counter()
        self.record_updates: dict[str, dict[str, Any]] = {}
        self.cancelled: dict[str, str] = {}  # cancelled change -> its cancellation
        self.terminations: dict[str, tuple[date, str]] = {}

    # -- one credential -------------------------------------------------------------------------

    def credential(
        self, credential_id: str, document: dict[str, Any], canonical: bytes
    ) -> dict[str, Any]:
        """Its ``credential`` row; its other rows gathered."""
        kind = credential_type(document)
        issuer = authority_of(document.get("issuer"))
        if issuer != self._authority:
            raise Inconsistency(f"{credential_id} is issued by {issuer}, not {self._authority}")
        proofs = [p for p in proofs_of(document) if isinstance(p, Mapping)]
        # The issuer's own proof (an agreement carries every party's).
        own = next((p for p in proofs if p.get("verificationMethod") in self._methods), None)
        if own is None:
            raise NotFound(f"{credential_id} is signed by no key of {self._authority} recorded")
        lookup: str | None = None
        if kind in ACTIONS:
            lookup = self._record(credential_id, kind, document)
        elif kind == CredentialType.STATUS_CHANGE:
            self._change(credential_id, document)
        elif kind == CredentialType.STATUS_LIST:
            self._list(credential_id, document)
        elif kind == CredentialType.RECOGNITION_AGREEMENT:
            self._agreement(credential_id, document)
        return {
            "id": credential_id,
            "type": kind.value,
            "issuer_code": issuer,
            "verification_method": str(own["verificationMethod"]),
            "subject_lookup": lookup,
            "digest": sha256_hex(canonical),
            "canonical": canonical.decode("utf-8"),
            "signed_at": parse_aware(str(own.get("created")), "created"),
            "recorded_at": self._now,
        }

    def _record(self, credential_id: str, kind: str, document: dict[str, Any]) -> str | None:
        columns = record_columns(kind, document)
        subject = document["credentialSubject"]
        parties = named_parties(kind, subject)
        holder = holder_position(parties)
        identifier = parties[holder].identifier if holder is not None else None
        lookup = identifier.lookup_key if identifier is not None else None
        course = None
        if kind == CredentialType.CE_CREDIT and lookup is not None:
            course = course_key(
                lookup,
                subject["provider"]["creditCode"],
                subject["course"]["title"],
                subject["completedOn"],
            )
        for purpose, index in (
            ("revocation", columns.revocation_index),
            ("suspension", columns.suspension_index),
        ):
            if index is not None:
                self.allocated[purpose] += 1
        self.records[credential_id] = {
            "credential_id": credential_id,
            "type": kind,
            "authority_code": self._authority,
            "number": columns.number,
            "state": initial_state(kind).value,
            "revocation_index": columns.revocation_index,
            "suspension_index": columns.suspension_index,
            "earliest_removal_on": columns.earliest_removal_on,
            "replaces": columns.replaces,
            "course_key": course,
            "updated_at": self._now,
            "scheduled_change_id": None,
        }
        self.parties.extend(
            {
                "credential_id": credential_id,
                "position": position,
                "role": party.role,
                "name": party.name,
                "name_key": name_key(party.name),
                "name_core": name_core(party.name),
                "lookup_key": party.identifier.lookup_key if party.identifier else None,
                "lookup_version": party.identifier.lookup_secret if party.identifier else None,
                "credit_code": party.credit_code,
            }
            for position, party in enumerate(parties)
        )
        return lookup

    def _change(self, credential_id: str, document: dict[str, Any]) -> None:
        subject = document["credentialSubject"]
        agreement = terminated_agreement(document)
        if agreement is not None:
            self.terminations[agreement] = (
                date.fromisoformat(str(subject["effectiveOn"])),
                credential_id,
            )
            return
        columns = change_columns(document)
        self.changes[credential_id] = {
            "credential_id": credential_id,
            **columns,
            "cancelled_by": None,
        }
        target = str(columns["target_id"])
        effect = self._target(target)
        if columns["action"] == Action.CANCEL_SCHEDULED.value:
            cancels = str(subject.get("cancels"))
            self.cancelled[cancels] = credential_id
            if effect.get("scheduled_change_id") == cancels:
                effect["scheduled_change_id"] = None
        elif isinstance(columns["effective_on"], date) and columns["effective_on"] > self._today:
            # Decided now, in effect on its day: kept scheduled, as the issuing side does.
            effect["scheduled_change_id"] = credential_id
        else:
            effect["state"] = columns["state_after"]
            if effect.get("scheduled_change_id") == credential_id:
                effect["scheduled_change_id"] = None
        effect["updated_at"] = self._now

    def _target(self, record_id: str) -> dict[str, Any]:
        """What the batch changes of a record: its row, if the batch holds it, else its
        pending update (read once the batch's targets are known)."""
        if record_id in self.records:
            return self.records[record_id]
        return self.record_updates.setdefault(record_id, {"credential_id": record_id})

    def _list(self, credential_id: str, document: dict[str, Any]) -> None:
        subject = document["credentialSubject"]
        number = credential_id.rsplit("/", 1)[-1]
        version = int(number) if number.isdigit() else 0
        self.lists[str(subject["statusPurpose"])] = (
            version,
            credential_id,
            str(subject["encodedList"]),
        )

    def _agreement(self, credential_id: str, document: dict[str, Any]) -> None:
        subject = document["credentialSubject"]
        until = subject.get("effectiveUntil")
        self.agreements[credential_id] = {
            "credential_id": credential_id,
            "issuer_code": self._authority,
            "effective_from": date.fromisoformat(str(subject["effectiveFrom"])),
            "effective_until": date.fromisoformat(str(until)) if until else None,
            "terminated_on": None,
            "termination_id": None,
            "published_at": self._now,
        }

    # -- the writes -----------------------------------------------------------------------------

    def write(self) -> None:
        """Write the gathered rows, once the batch's credentials are stored."""
        session = self._session
        if self.records:
            bulk_insert(session, Record, list(self.records.values()))
        if self.parties:
            bulk_insert(session, RecordParty, self.parties)
        for cancelled, cancellation in self.cancelled.items():
            if cancelled in self.changes:
                self.changes[cancelled]["cancelled_by"] = cancellation
        if self.changes:
            bulk_insert(session, StatusChangeRow, list(self.changes.values()))
        earlier = {c: by for c, by in self.cancelled.items() if c not in self.changes}
        if earlier:
            session.execute(
                sa.update(table_of(StatusChangeRow))
                .where(table_of(StatusChangeRow).c.credential_id == sa.bindparam("b_id"))
                .values(cancelled_by=sa.bindparam("b_by")),
                [{"b_id": c, "b_by": by} for c, by in earlier.items()],
            )
        self._update_records()
        # An agreement another party terminated in its own log, mirrored before this.
        self.terminations = {
            **self._stored_terminations(sorted(set(self.agreements) - set(self.terminations))),
            **self.terminations,
        }
        for agreement, (day, termination) in self.terminations.items():
            if agreement in self.agreements:
                self.agreements[agreement]["terminated_on"] = day
                self.agreements[agreement]["termination_id"] = termination
        if self.agreements:
            bulk_insert(session, RecognitionAgreementRow, list(self.agreements.values()))
        earlier_terminations = {
            a: t for a, t in self.terminations.items() if a not in self.agreements
        }
        if earlier_terminations:
            # An agreement of another party's log is updated only where it is kept here.
            session.execute(
                sa.update(table_of(RecognitionAgreementRow))
                .where(table_of(RecognitionAgreementRow).c.credential_id == sa.bindparam("b_id"))
                .values(terminated_on=sa.bindparam("b_on"), termination_id=sa.bindparam("b_by")),
                [
                    {"b_id": a, "b_on": day, "b_by": by}
                    for a, (day, by) in earlier_terminations.items()
                ],
            )
        self._status_lists()

    def _stored_terminations(self, agreements: list[str]) -> dict[str, tuple[date, str]]:
        """The stored ``StatusChange`` s (of any log) that terminate these agreements:
        few agreements are ever published, so each is looked for by its id in the
        stored changes' text, and the candidates read to be sure."""
        found: dict[str, tuple[date, str]] = {}
        for agreement in agreements:
            needle = f'"id":{json.dumps(agreement, ensure_ascii=False)}'
            rows = self._session.execute(
                sa.select(col(StoredCredential.id), col(StoredCredential.canonical)).where(
                    col(StoredCredential.type) == CredentialType.STATUS_CHANGE.value,
                    col(StoredCredential.canonical).contains(needle, autoescape=True),
                )
            )
            for credential_id, canonical in rows:
                document = json.loads(canonical)
                if terminated_agreement(document) == agreement:
                    day = date.fromisoformat(str(document["credentialSubject"]["effectiveOn"]))
                    found[agreement] = (day, credential_id)
        return found

    def _update_records(self) -> None:
        """Apply the batch's changes to records stored before it, one statement a kind
        of change."""
        if not self.record_updates:
            return
        table = table_of(Record)
        known = {
            row[0]: (row[1], row[2])
            for row in self._session.execute(
                sa.select(table.c.credential_id, table.c.state, table.c.scheduled_change_id).where(
                    table.c.credential_id.in_(sorted(self.record_updates))
                )
            )
        }
        missing = sorted(set(self.record_updates) - set(known))
        if missing:
            raise Inconsistency(
                f"a StatusChange of {self._authority} changes {missing[0]}, "
                "which is no record of its log kept here"
            )
        rows = []
        for record_id, effect in self.record_updates.items():
            state, scheduled = known[record_id]
            if "scheduled_change_id" in effect and effect["scheduled_change_id"] is None:
                scheduled = None
            elif effect.get("scheduled_change_id") is not None:
                scheduled = effect["scheduled_change_id"]
            rows.append(
                {
                    "b_id": record_id,
                    "b_state": effect.get("state", state),
                    "b_scheduled": scheduled,
                    "b_at": self._now,
                }
            )
        self._session.execute(
            sa.update(table)
            .where(table.c.credential_id == sa.bindparam("b_id"))
            .values(
                state=sa.bindparam("b_state"),
                scheduled_change_id=sa.bindparam("b_scheduled"),
                updated_at=sa.bindparam("b_at"),
            ),
            rows,
        )

    def _status_lists(self) -> None:
        """Each list as its newest signed version in the batch states it."""
        session = self._session
        for purpose in sorted(set(self.lists) | set(self.allocated)):
            row = session.get(StatusListRow, (self._authority, purpose))
            newest = self.lists.get(purpose)
            if row is None and newest is None:
                raise Inconsistency(
                    f"records of {self._authority} hold {purpose} entries of a list "
                    "no version of which is in its log"
                )
            if row is None:
                row = StatusListRow(
                    authority_code=self._authority,
                    purpose=purpose,
                    size=0,
                    bits=b"",
                    allocated_count=0,
                    version=0,
                    credential_id="",
                    updated_at=self._now,
                )
            row.allocated_count += self.allocated[purpose]
            if newest is not None:
                version, credential_id, encoded = newest
                bits = StatusBits.decode(encoded)
                row.version = version
                row.credential_id = credential_id
                row.size = bits.size
                row.bits = bytes(bits.data)
            row.updated_at = self._now
            session.add(row)
        session.flush()
