"""The projections of a mirrored batch (``registry.federation.mirror``): the rows each
credential's type has, gathered in log order and written in one statement a table,
as ``registry.verification.log_projections`` states what each must equal."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col

from registry.calendar import parse_aware
from registry.credentials import CredentialType, authority_of, credential_type
from registry.credentials.columns import (
    change_columns,
    holder_position,
    record_columns,
    terminated_agreement,
)
from registry.credentials.lifecycle import ACTIONS, Action, initial_state
from registry.credentials.records import named_parties
from registry.credentials.status_list import StatusBits
from registry.crypto.eddsa_jcs_2022 import proofs_of
from registry.crypto.jcs import sha256_hex
from registry.errors import Inconsistency, NotFound
from registry.ids import name_core, name_key
from registry.issuing.duplicates import course_key
from registry.storage.base import bulk_insert, table_of
from registry.storage.models import (
    RecognitionAgreementRow,
    Record,
    RecordParty,
    SigningKey,
    StatusChangeRow,
    StatusListRow,
    StoredCredential,
)

__all__ = ["Projection"]


class Projection:
    """The rows a batch's credentials project, gathered in log order, written in one
    statement a table (and one a table for rows stored before that change)."""

    def __init__(
        self, session: Session, authority: str, *, now: datetime, today: date, signed: bool = True
    ) -> None:
        self._session = session
        self._authority = authority
        self._now = now
        self._today = today
        # Whether the batch ends at a signed checkpoint (else a chunk ends within one).
        self._signed = signed
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
        # A batch names few people and providers many times over.
        self._names: dict[str, tuple[str, str]] = {}

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
                "name_key": self._name(party.name)[0],
                "name_core": self._name(party.name)[1],
                "lookup_key": party.identifier.lookup_key if party.identifier else None,
                "lookup_version": party.identifier.lookup_secret if party.identifier else None,
                "credit_code": party.credit_code,
            }
            for position, party in enumerate(parties)
        )
        return lookup

    def _name(self, name: str) -> tuple[str, str]:
        """The name's search key and core (``registry.ids``), worked out once a batch."""
        found = self._names.get(name)
        if found is None:
            found = self._names[name] = (name_key(name), name_core(name))
        return found

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
            if "scheduled_change_id" not in effect:
                effect["cancels"] = cancels  # scheduled before this batch: resolved on writing
            elif effect["scheduled_change_id"] == cancels:
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
            if "scheduled_change_id" in effect:
                scheduled = effect["scheduled_change_id"]
            elif effect.get("cancels") == scheduled:
                scheduled = None
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

    def _holding(self, purpose: str) -> int:
        """The stored records of the log holding an entry of the ``purpose`` list (this
        batch's written already)."""
        table = table_of(Record)
        column = table.c.revocation_index if purpose == "revocation" else table.c.suspension_index
        counted = self._session.execute(
            sa.select(sa.func.count())
            .select_from(table)
            .where(table.c.authority_code == self._authority, column.is_not(None))
        ).scalar_one()
        return int(counted)

    def _status_lists(self) -> None:
        """Each list as its newest signed version in the batch states it."""
        session = self._session
        for purpose in sorted(set(self.lists) | set(self.allocated)):
            row = session.get(StatusListRow, (self._authority, purpose))
            newest = self.lists.get(purpose)
            if row is None and newest is None:
                if not self._signed:
                    # A chunk may end between records and the list version their
                    # issuing signed after them: the records' index columns hold
                    # the entries until that version comes, and are counted then.
                    continue
                raise Inconsistency(
                    f"records of {self._authority} hold {purpose} entries of a list "
                    "no version of which is in its log"
                )
            allocated = self.allocated[purpose]
            if row is None:
                allocated = self._holding(purpose)
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
            row.allocated_count += allocated
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
