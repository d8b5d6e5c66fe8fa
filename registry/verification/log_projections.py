"""Rebuilding, from one log's credentials, every table the registry reads in their
place, and naming each stored row that differs (``registry.verification.log_audit``
drives it, one logged credential at a time, in log order).

What each table must equal:

- ``credential``: its ``id``, ``type``, ``issuer_code``, ``verification_method`` and
  (for a credential with one proof) ``signed_at`` as the canonical credential states
  them; ``digest`` the SHA-256 of the canonical bytes; ``subject_lookup`` the lookup
  key of the record's holder (or listed person) in ``record_party``, or none. Every
  credential stored as the authority's is in its log.
- ``record``: one row for each qualification, registration, CE credit and listing in
  the log, and none for anything else, with its type, authority, number, status-list
  indexes, earliest removal day and the record it replaces as its credential states
  them, and the ``state`` its credential and the log's signed ``StatusChange`` s of it
  give: each change starting from the state the ones before it left, by a transition
  the rules allow (``registry.credentials.lifecycle.next_state``).
- ``record_party``: the people and organisations each record's credential names, in
  its order, with their role, name, name keys and credit code, and for each person
  the look-up key and its secret's version that the credential signs (none for an
  organisation); the credential row's ``subject_lookup`` is its holder's key, and a
  registration's holder has the key of the holder of the qualification it rests on
  when both are under one version. A look-up key is an HMAC of an ID number the log
  never holds, so the audit checks where keys must agree, not which number a key is of.
- ``status_change``: one row for each ``StatusChange`` of a record, target, action,
  states and effective day as signed, ``recorded_at`` its ``validFrom``; none for a
  termination of an agreement, which lives in ``recognition_agreement``.
- ``status_list``: for each purpose, the newest version in the log (credential id,
  version, size, bits), and as many entries allocated as the log's records hold.
  The newest signed bits must agree with every record's rebuilt state, and no bit may
  be set that no record holds.
- ``recognition_agreement``: one row for each agreement in the log, issuer and days
  as signed; its termination as the terminating party's logged ``StatusChange``
  states it, and every termination in the log recorded there.

Nothing here holds the log in memory: rows are compared a chunk of entries at a
time, and what crosses entries (each record's changes, the status-list entries) goes
into a scratch SQLite database on disk, private to the audit and removed after it.
"""

from __future__ import annotations

import itertools
import json
import sqlite3
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import suppress
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY
from sqlmodel import Session, col, select

from registry.calendar import china_today, parse_aware
from registry.credentials import CredentialType, authority_of, credential_type
from registry.credentials.columns import (
    change_columns,
    holder_position,
    record_columns,
    terminated_agreement,
)
from registry.credentials.lifecycle import (
    ACTIONS,
    Action,
    State,
    initial_state,
    next_state,
    status_bits,
)
from registry.credentials.records import NamedParty, named_parties
from registry.credentials.status_list import PURPOSES, StatusBits
from registry.crypto.eddsa_jcs_2022 import proofs_of
from registry.crypto.jcs import sha256_hex
from registry.errors import RegistryError
from registry.ids import name_core, name_key
from registry.storage.models import (
    LogEntry,
    RecognitionAgreementRow,
    Record,
    RecordParty,
    StatusChangeRow,
    StatusListRow,
    StoredCredential,
)

__all__ = ["LoggedCredential", "ProjectionAudit", "Report", "StoredRow"]

Report = Callable[[str, str], None]
"""Where (a table and a row's key, or an entry) and what differs."""

_CHUNK = 1000  # entries compared per round of queries (and parsed credentials held)
_BITS_SHOWN = 10  # differing bits named in one status-list finding
_STATES = frozenset(State)


@dataclass(frozen=True)
class StoredRow:
    """The ``credential`` row of a logged credential, as stored."""

    id: str
    type: str
    issuer_code: str
    verification_method: str
    digest: str
    subject_lookup: str | None
    signed_at: datetime
    canonical: str


@dataclass(frozen=True)
class LoggedCredential:
    """One entry of the log: its index, the credential id it names, its credential row
    (``None``: not stored), whether the row's canonical bytes are the ones logged, and
    the signed credential they hold; ``None`` where they are not the logged ones (the
    tree walk names that) or not a JSON object, so nothing can be rebuilt."""

    index: int
    credential_id: str
    row: StoredRow | None
    logged: bool
    document: dict[str, Any] | None


@dataclass(frozen=True)
class _ListVersion:
    index: int
    credential_id: str
    version: int
    encoded: str


def _show(value: object) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, date | datetime):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.hex()
    return repr(value) if isinstance(value, str) else str(value)


def _differs(report: Report, where: str, columns: Iterable[tuple[str, object, object]]) -> None:
    """Name each column whose stored value is not the one the log gives."""
    for name, stored, expected in columns:
        if stored != expected:
            report(where, f"{name} is {_show(stored)}; the log says {_show(expected)}")


def _in_chunks(values: Sequence[str]) -> Iterator[list[str]]:
    for start in range(0, len(values), _CHUNK):
        yield list(values[start : start + _CHUNK])


# -- what a credential says its rows are ----------------------------------------------------


def _text(value: Mapping[str, Any], key: str) -> str:
    found = value[key]
    if not isinstance(found, str):
        raise TypeError(f"{key} is not a string")
    return found


# -- the scratch database: what crosses entries -------------------------------------------------


class _Scratch:
    """A private SQLite database on disk (``sqlite3.connect("")``: removed when closed)
    holding each record of the log and each signed change of one, for the replay."""

    def __init__(self) -> None:
        self.db = sqlite3.connect("")
        self.db.executescript(
            "CREATE TABLE rec (id TEXT PRIMARY KEY, leaf INTEGER, type TEXT, rev INTEGER, "
            "sus INTEGER, earliest TEXT);"
            "CREATE TABLE chg (target TEXT, leaf INTEGER, id TEXT, type TEXT, action TEXT, "
            "before TEXT, after TEXT, effective TEXT, cancels TEXT);"
        )

    def close(self) -> None:
        self.db.close()


# -- the audit ---------------------------------------------------------------------------------


class ProjectionAudit:
    """Compares the projections of one authority's log with the log, chunk by chunk.

    ``add`` each logged credential in log order, then ``finish`` (which also closes
    the scratch database; ``close`` does that alone, after a failure).
    """

    def __init__(
        self, session: Session, authority: str, report: Report, *, today: date | None = None
    ) -> None:
        self._session = session
        self._today = today or china_today(datetime.now(UTC))
        self._scheduled: set[str] = set()
        self._code = authority
        self._report = report
        self._chunk: list[LoggedCredential] = []
        self._lists: dict[str, _ListVersion] = {}
        self._scratch = _Scratch()
        self._unknown = 0  # entries whose credential is not the logged one
        self._postgresql = session.get_bind().dialect.name == "postgresql"
        self.rows: Counter[str] = Counter()

    def close(self) -> None:
        """Remove the scratch database."""
        self._scratch.close()

    def _among(self, column: Any, values: list[str]) -> Any:
        """``column IN values``; on PostgreSQL ``= ANY`` of one array parameter, a short
        statement whatever the count (an IN list of 1,000 is a statement text of its
        own, parsed each time)."""
        if self._postgresql:
            return column == sa.any_(sa.bindparam(None, values, type_=ARRAY(sa.String)))
        return column.in_(values)

    def add(self, logged: LoggedCredential) -> None:
        """One entry of the log, in log order."""
        self._chunk.append(logged)
        if len(self._chunk) >= _CHUNK:
            self._flush()

    def finish(self) -> dict[str, int]:
        """Compare what needs the whole log, then name the rows no entry accounts for.

        Returns how many stored rows were compared, by table.
        """
        try:
            self._flush()
            bits = self._status_lists()
            self._replay(bits)
            self._unlogged()
        finally:
            self.close()
        return dict(self.rows)

    # -- a chunk of entries --------------------------------------------------------------------

    def _flush(self) -> None:
        chunk, self._chunk = self._chunk, []
        if not chunk:
            return
        ids = [logged.credential_id for logged in chunk]
        for logged in chunk:
            self._credential(logged)
        records = self._records(ids)
        parties = self._parties(ids)
        changes = self._changes(ids)
        targets = [terminated_agreement(logged.document) for logged in chunk]
        agreements = self._agreements([*ids, *(t for t in targets if t is not None)])
        links: list[tuple[str, str]] = []
        for logged in chunk:
            # Each entry takes its own rows: none is left for another.
            stored = (
                records.pop(logged.credential_id, None),
                parties.pop(logged.credential_id, []),
                changes.pop(logged.credential_id, None),
                agreements.get(logged.credential_id),
            )
            if logged.document is None:
                # Nothing can be rebuilt from a credential that is not the logged one;
                # it keeps its place in the replay, as unknown, so that its changes
                # are not named as changes of nothing.
                self._scratch.db.execute(
                    "INSERT OR IGNORE INTO rec (id, leaf) VALUES (?, ?)",
                    (logged.credential_id, logged.index),
                )
                continue
            try:
                self._entry(logged, logged.document, stored, agreements, links)
            except (RegistryError, KeyError, TypeError, ValueError, AttributeError) as exc:
                message = exc.message if isinstance(exc, RegistryError) else str(exc)
                self._report(
                    f"entry {logged.index}", f"its credential cannot be read as signed: {message}"
                )
        self._qualification_links(links)

    def _credential(self, logged: LoggedCredential) -> None:
        row = logged.row
        document = logged.document
        if row is None or not logged.logged:
            return  # what was logged is not at hand: nothing to compare the row with
        self.rows["credential"] += 1
        where = f"credential {row.id}"
        digest = sha256_hex(row.canonical.encode("utf-8"))
        if row.digest != digest:
            self._report(where, f"digest is {row.digest!r}; the canonical bytes hash to {digest!r}")
        if document is None:
            return
        try:
            kind = credential_type(document)
            issuer = authority_of(document.get("issuer"))
            proofs = proofs_of(document)
        except RegistryError:
            return  # the walk names a credential that does not verify
        methods = [p.get("verificationMethod") for p in proofs if isinstance(p, Mapping)]
        columns: list[tuple[str, object, object]] = [
            ("id", row.id, document.get("id")),
            ("type", row.type, kind.value),
            ("issuer_code", row.issuer_code, issuer),
        ]
        if len(proofs) == 1:
            created = proofs[0].get("created")
            columns.append(("verification_method", row.verification_method, methods[0]))
            if isinstance(created, str):
                with suppress(RegistryError):  # the walk names a proof without a valid time
                    columns.append(("signed_at", row.signed_at, parse_aware(created, "created")))
        elif row.verification_method not in methods:
            self._report(where, f"verification_method {row.verification_method!r} made no proof")
        _differs(self._report, where, columns)

    def _entry(
        self,
        logged: LoggedCredential,
        document: dict[str, Any],
        stored: tuple[Any, list[tuple[Any, ...]], Any, Any],
        agreements: dict[str, tuple[Any, ...]],
        links: list[tuple[str, str]],
    ) -> None:
        record, named, change, agreement = stored
        kind = credential_type(document)
        credential_id = logged.credential_id
        if kind in ACTIONS:
            self._record(logged, document, kind=kind, record=record, named=named, links=links)
        else:
            self._nothing_of(logged, kind, record, named)
        terminates = terminated_agreement(document) is not None
        if kind == CredentialType.STATUS_CHANGE and not terminates:
            self._change(logged, document, change)
        elif change is not None:
            what = "the termination of an agreement" if terminates else f"a {kind}"
            self._report(
                f"status_change {credential_id}", f"entry {logged.index} is {what}, no record's"
            )
        if terminates:
            self._termination_logged(logged, document, agreements)
        if kind == CredentialType.RECOGNITION_AGREEMENT:
            self._agreement(logged, document, agreement)
        elif agreement is not None:
            self._report(
                f"recognition_agreement {credential_id}", f"entry {logged.index} is a {kind}"
            )
        if kind == CredentialType.STATUS_LIST:
            self._list_version(logged, document)

    def _nothing_of(
        self, logged: LoggedCredential, kind: str, record: Any, named: list[tuple[Any, ...]]
    ) -> None:
        if record is not None:
            self._report(
                f"record {logged.credential_id}", f"entry {logged.index} is a {kind}, not a record"
            )
        for position, *_ in named:
            self._report(
                f"record_party {logged.credential_id} #{position}",
                f"entry {logged.index} is a {kind}, which names no one",
            )

    # -- records and their parties ------------------------------------------------------------

    def _record(
        self,
        logged: LoggedCredential,
        document: dict[str, Any],
        *,
        kind: str,
        record: tuple[Any, ...] | None,
        named: list[tuple[Any, ...]],
        links: list[tuple[str, str]],
    ) -> None:
        credential_id = logged.credential_id
        expected = record_columns(kind, document)
        parties = named_parties(kind, document["credentialSubject"])
        self._scratch.db.execute(
            "INSERT OR IGNORE INTO rec VALUES (?, ?, ?, ?, ?, ?)",
            (
                credential_id,
                logged.index,
                kind,
                expected.revocation_index,
                expected.suspension_index,
                expected.earliest_removal_on.isoformat() if expected.earliest_removal_on else None,
            ),
        )
        where = f"record {credential_id}"
        if record is None:
            self._report(where, f"missing: the log holds its credential (entry {logged.index})")
        else:
            self.rows["record"] += 1
            (type_, authority, number, revocation, suspension, earliest, replaces) = record[1:8]
            _differs(
                self._report,
                where,
                [
                    ("type", type_, expected.type),
                    ("authority_code", authority, self._code),
                    ("number", number, expected.number),
                    ("revocation_index", revocation, expected.revocation_index),
                    ("suspension_index", suspension, expected.suspension_index),
                    ("earliest_removal_on", earliest, expected.earliest_removal_on),
                    ("replaces", replaces, expected.replaces),
                ],
            )
        self._record_parties(logged, parties, named)
        self._subject_lookup(logged, parties)
        qualification = document["credentialSubject"].get("qualification")
        if kind == CredentialType.REGISTRATION and isinstance(qualification, str):
            links.append((credential_id, qualification))

    def _subject_lookup(self, logged: LoggedCredential, parties: Sequence[NamedParty]) -> None:
        """The credential row's ``subject_lookup`` is its holder's look-up key, as the
        credential signs it."""
        if logged.row is None:
            return
        where = f"credential {logged.credential_id}"
        holder = holder_position(parties)
        identifier = parties[holder].identifier if holder is not None else None
        if identifier is None:
            if logged.row.subject_lookup is not None:
                self._report(where, "subject_lookup is set; the log names no holder")
        elif logged.row.subject_lookup != identifier.lookup_key:
            self._report(
                where,
                f"subject_lookup is {logged.row.subject_lookup}; its credential signs its "
                f"holder's look-up key {identifier.lookup_key}",
            )

    def _record_parties(
        self, logged: LoggedCredential, parties: list[NamedParty], named: list[tuple[Any, ...]]
    ) -> None:
        credential_id = logged.credential_id
        stored = {row[0]: row for row in named}
        for position, party in enumerate(parties):
            where = f"record_party {credential_id} #{position}"
            row = stored.pop(position, None)
            if row is None:
                self._report(where, f"missing: its credential (entry {logged.index}) names them")
                continue
            self.rows["record_party"] += 1
            _, role, name, key, core, credit_code, lookup, version = row
            identifier = party.identifier
            _differs(
                self._report,
                where,
                [
                    ("role", role, party.role),
                    ("name", name, party.name),
                    ("name_key", key, name_key(party.name)),
                    ("name_core", core, name_core(party.name)),
                    ("credit_code", credit_code, party.credit_code),
                    ("lookup_key", lookup, identifier.lookup_key if identifier else None),
                    ("lookup_version", version, identifier.lookup_secret if identifier else None),
                ],
            )
        for position in stored:
            self._report(
                f"record_party {credential_id} #{position}",
                f"its credential (entry {logged.index}) names {len(parties)} parties",
            )

    def _qualification_links(self, links: list[tuple[str, str]]) -> None:
        """A registration's holder is the holder of the qualification it rests on
        (issuing checks it): their look-up keys agree when both are under one version of
        the look-up secret (under two, only the number could tell)."""
        if not links:
            return
        ids = sorted({registration for registration, _ in links} | {q for _, q in links})
        keys: dict[str, tuple[str | None, str | None]] = {}
        for part in _in_chunks(ids):
            for credential_id, key, version in self._session.connection().execute(
                sa.select(
                    col(RecordParty.credential_id),
                    col(RecordParty.lookup_key),
                    col(RecordParty.lookup_version),
                ).where(
                    self._among(col(RecordParty.credential_id), part),
                    col(RecordParty.position) == 0,
                )
            ):
                keys[credential_id] = (key, version)
        for registration, qualification in links:
            if qualification not in keys or registration not in keys:
                continue
            (held, held_version), (holder, holder_version) = keys[qualification], keys[registration]
            if held_version == holder_version and held != holder:
                self._report(
                    f"record_party {registration} #0",
                    f"lookup_key is not that of the holder of the qualification it rests on "
                    f"(record_party {qualification} #0): one of the two was changed",
                )

    # -- status changes --------------------------------------------------------------------------

    def _change(
        self, logged: LoggedCredential, document: dict[str, Any], row: tuple[Any, ...] | None
    ) -> None:
        expected = change_columns(document)
        subject = document["credentialSubject"]
        self._scratch.db.execute(
            "INSERT INTO chg VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                expected["target_id"],
                logged.index,
                logged.credential_id,
                subject.get("credentialType"),
                expected["action"],
                expected["state_before"],
                expected["state_after"],
                _show(expected["effective_on"]),
                subject.get("cancels") if isinstance(subject.get("cancels"), str) else None,
            ),
        )
        where = f"status_change {logged.credential_id}"
        if row is None:
            self._report(where, f"missing: the log holds this StatusChange (entry {logged.index})")
            return
        self.rows["status_change"] += 1
        _differs(
            self._report,
            where,
            [(name, row[n], expected[name]) for n, name in enumerate(expected, start=1)],
        )

    # -- recognition agreements ------------------------------------------------------------------

    def _agreement(
        self, logged: LoggedCredential, document: dict[str, Any], row: tuple[Any, ...] | None
    ) -> None:
        where = f"recognition_agreement {logged.credential_id}"
        if row is None:
            self._report(where, f"missing: the log holds the agreement (entry {logged.index})")
            return
        self.rows["recognition_agreement"] += 1
        subject = document["credentialSubject"]
        until = subject.get("effectiveUntil")
        _, issuer, effective_from, effective_until, terminated_on, termination_id = row
        _differs(
            self._report,
            where,
            [
                ("issuer_code", issuer, authority_of(document.get("issuer"))),
                ("effective_from", effective_from, date.fromisoformat(subject["effectiveFrom"])),
                ("effective_until", effective_until, date.fromisoformat(until) if until else None),
            ],
        )
        if termination_id is not None:
            self._termination_stored(
                where, logged.credential_id, subject["parties"], terminated_on, termination_id
            )

    def _termination_stored(
        self,
        where: str,
        agreement_id: str,
        parties: list[str],
        terminated_on: date | None,
        termination_id: str,
    ) -> None:
        """The termination a row names is a logged ``StatusChange`` of that agreement,
        by a party, from that day (its own log's audit checks its signature)."""
        found = (
            self._session.connection()
            .execute(
                sa.select(col(StoredCredential.canonical), col(LogEntry.leaf_index))
                .outerjoin(LogEntry, col(LogEntry.credential_id) == col(StoredCredential.id))
                .where(col(StoredCredential.id) == termination_id)
            )
            .first()
        )
        if found is None or found[1] is None:
            self._report(where, f"termination_id names {termination_id}, which is in no log")
            return
        try:
            document = json.loads(found[0])
            subject = document["credentialSubject"]
            problem = None
            if credential_type(document) != CredentialType.STATUS_CHANGE or subject["id"] != (
                agreement_id
            ):
                problem = "is not a StatusChange of this agreement"
            elif authority_of(document.get("issuer")) not in parties:
                problem = "is not by a party"
            elif date.fromisoformat(subject["effectiveOn"]) != terminated_on:
                problem = f"takes effect on {subject['effectiveOn']}, not {_show(terminated_on)}"
        except (RegistryError, KeyError, TypeError, ValueError) as exc:
            problem = f"cannot be read: {exc}"
        if problem is not None:
            self._report(where, f"termination_id names {termination_id}, which {problem}")

    def _termination_logged(
        self,
        logged: LoggedCredential,
        document: dict[str, Any],
        agreements: dict[str, tuple[Any, ...]],
    ) -> None:
        subject = document["credentialSubject"]
        target = _text(subject, "id")
        where = f"recognition_agreement {target}"
        row = agreements.get(target)
        if row is None:
            self._report(where, f"missing: entry {logged.index} terminates it")
            return
        _differs(
            self._report,
            where,
            [
                ("termination_id", row[5], logged.credential_id),
                ("terminated_on", row[4], date.fromisoformat(_text(subject, "effectiveOn"))),
            ],
        )

    # -- status lists ------------------------------------------------------------------------------

    def _list_version(self, logged: LoggedCredential, document: dict[str, Any]) -> None:
        subject = document["credentialSubject"]
        purpose = _text(subject, "statusPurpose")
        number = logged.credential_id.rsplit("/", 1)[-1]
        version = int(number) if number.isdigit() else 0
        previous = self._lists.get(purpose)
        if version != (previous.version if previous else 0) + 1:
            self._report(
                f"entry {logged.index}",
                f"its {purpose} list is version {number!r}, not the one after "
                f"{previous.version if previous else 'none'}",
            )
        self._lists[purpose] = _ListVersion(
            logged.index, logged.credential_id, version, _text(subject, "encodedList")
        )

    def _status_lists(self) -> dict[str, tuple[_ListVersion, StatusBits]]:
        """Each list's row against its newest version in the log; the signed bits."""
        stored = {
            row[0]: row
            for row in self._session.connection().execute(
                sa.select(
                    col(StatusListRow.purpose),
                    col(StatusListRow.credential_id),
                    col(StatusListRow.version),
                    col(StatusListRow.size),
                    col(StatusListRow.allocated_count),
                    col(StatusListRow.bits),
                ).where(col(StatusListRow.authority_code) == self._code)
            )
        }
        (revocations, suspensions, unknown) = self._scratch.db.execute(
            "SELECT count(rev), count(sus), count(*) - count(type) FROM rec"
        ).fetchone()
        allocated = {"revocation": revocations, "suspension": suspensions}
        self._unknown = int(unknown)
        bits: dict[str, tuple[_ListVersion, StatusBits]] = {}
        for purpose in sorted(set(PURPOSES) | set(stored) | set(self._lists)):
            where = f"status_list {self._code} {purpose}"
            latest = self._lists.get(purpose)
            if latest is not None:
                try:
                    bits[purpose] = (latest, StatusBits.decode(latest.encoded))
                except RegistryError as exc:
                    self._report(f"entry {latest.index}", f"its encodedList: {exc.message}")
            row = stored.get(purpose)
            if row is None:
                if latest is not None:
                    self._report(where, f"missing: the log holds version {latest.version}")
                continue
            self.rows["status_list"] += 1
            if latest is None:
                self._report(where, "no version of this list is in the log")
                continue
            signed = bits[purpose][1] if purpose in bits else None
            _differs(
                self._report,
                where,
                [
                    ("credential_id", row[1], latest.credential_id),
                    ("version", row[2], latest.version),
                    ("size", row[3], signed.size if signed else row[3]),
                ],
            )
            # An entry whose credential is not the logged one may hold an entry too.
            held = allocated.get(purpose, 0)
            if not held <= row[4] <= held + self._unknown:
                extra = f" (and up to {self._unknown} entries not rebuilt)" if self._unknown else ""
                self._report(
                    where, f"allocated_count is {row[4]}; the log's records hold {held}{extra}"
                )
            if signed is not None:
                self._bits_differ(where, bytes(row[5]), signed, latest)
        return bits

    def _bits_differ(
        self, where: str, stored: bytes, signed: StatusBits, latest: _ListVersion
    ) -> None:
        if stored == bytes(signed.data):
            return
        if len(stored) != len(signed.data):
            self._report(where, f"bits hold {len(stored) * 8} entries; the log's {signed.size}")
            return
        count = 0
        shown: list[str] = []
        for byte_index, (mine, theirs) in enumerate(zip(stored, signed.data, strict=True)):
            if mine == theirs:
                continue
            for offset in range(8):
                if (mine ^ theirs) & (0x80 >> offset):
                    count += 1
                    if len(shown) < _BITS_SHOWN:
                        position = byte_index * 8 + offset
                        shown.append(f"{position} ({int(signed.get(position))} signed)")
        more = f" and {count - len(shown)} more" if count > len(shown) else ""
        self._report(
            where,
            f"bits differ from the signed version {latest.version} (entry {latest.index}) "
            f"at {count} entries: {', '.join(shown)}{more}",
        )

    # -- the replay: each record's state from its credential and its signed changes -----------

    def _replay(self, bits: dict[str, tuple[_ListVersion, StatusBits]]) -> None:
        db = self._scratch.db
        db.execute("CREATE INDEX chg_target ON chg (target, leaf)")
        rows = db.execute(
            "SELECT r.id, r.type, r.rev, r.sus, r.earliest, c.leaf, c.id, c.type, c.action, "
            "c.before, c.after, c.effective, c.cancels FROM rec AS r "
            "LEFT JOIN chg AS c ON c.target = r.id "
            "ORDER BY r.id, c.leaf"
        )
        held: Counter[str] = Counter()
        batch: list[tuple[str, str, int]] = []
        self._scheduled = {
            str(change_id)
            for change_id in self._session.exec(
                select(Record.scheduled_change_id).where(
                    col(Record.authority_code) == self._code,
                    col(Record.scheduled_change_id).is_not(None),
                )
            )
        }
        for record_id, group in itertools.groupby(rows, key=lambda row: str(row[0])):
            first, *rest = list(group)
            if first[1] is None:
                continue  # not the logged credential: named by the walk
            changes = [row[5:] for row in (first, *rest) if row[5] is not None]
            state = self._state(record_id, first[1], first[4], changes)
            batch.append((record_id, state, len(changes)))
            for purpose, index in (("revocation", first[2]), ("suspension", first[3])):
                if index is not None and purpose in bits and state in _STATES:
                    held[purpose] += self._bit(record_id, state, purpose, index, bits[purpose])
            if len(batch) >= _CHUNK:
                self._states(batch)
                batch = []
        self._states(batch)
        for leaf, change_id, target in db.execute(
            "SELECT c.leaf, c.id, c.target FROM chg AS c "
            "WHERE NOT EXISTS (SELECT 1 FROM rec AS r WHERE r.id = c.target) ORDER BY c.leaf"
        ):
            self._report(
                f"entry {leaf}",
                f"its StatusChange ({change_id}) changes {target}, which is no record of this log",
            )
        for purpose, (latest, signed) in sorted(bits.items()):
            self._stray_bits(purpose, latest, signed, held[purpose])

    def _state(
        self, record_id: str, kind: str, earliest: str | None, changes: list[tuple[Any, ...]]
    ) -> str:
        """The state its signed changes in effect leave the record in, each checked
        against the ones before it and the rules.

        A change cancelled before its day (``cancel-scheduled``) never applies. A change
        dated ahead applies from its day, once the record no longer keeps it as its
        scheduled change (applied by the sweep): until then the record is in the state
        before it."""
        state = initial_state(kind).value
        applied = state
        cancelled = {change[7] for change in changes if change[7]}
        seen: dict[str, str] = {}
        for leaf, change_id, target_type, action, before, after, effective, cancels in changes:
            where = f"entry {leaf}"
            if target_type != kind:
                self._report(
                    where, f"its StatusChange ({change_id}) calls {record_id} a {target_type}"
                )
            if action == Action.CANCEL_SCHEDULED.value:
                if before != state or after != state:
                    self._report(
                        where,
                        f"its cancellation ({change_id}) says {record_id} went from {before} "
                        f"to {after}; a cancellation changes nothing, and the changes logged "
                        f"before it leave it {state}",
                    )
                if cancels is None or seen.get(cancels, "") <= effective:
                    self._report(
                        where,
                        f"its cancellation ({change_id}) cancels {cancels}, which is no change "
                        f"of {record_id} logged before it and dated after {effective}",
                    )
                continue
            seen[change_id] = effective
            if change_id in cancelled:
                continue  # cancelled before its day: it never applied
            if before != state:
                self._report(
                    where,
                    f"its StatusChange ({change_id}) says {record_id} was {before}, but the "
                    f"changes logged before it leave it {state}",
                )
            try:
                allowed = next_state(
                    kind,
                    State(before),
                    Action(action),
                    effective_on=date.fromisoformat(effective),
                    earliest_removal_on=date.fromisoformat(earliest) if earliest else None,
                )
                if allowed.value != after:
                    raise ValueError(f"{action} leads to {allowed.value}, not {after}")
            except (RegistryError, ValueError) as exc:
                message = exc.message if isinstance(exc, RegistryError) else str(exc)
                self._report(
                    where, f"its StatusChange ({change_id}) is not one the rules allow: {message}"
                )
            state = after
            if change_id in self._scheduled:
                continue  # kept scheduled: applied on its day, by the sweep
            if date.fromisoformat(effective) > self._today:
                self._report(
                    where,
                    f"its StatusChange ({change_id}) takes effect on {effective}, but record "
                    f"{record_id} does not keep it as its scheduled change",
                )
            applied = after
        return applied

    def _states(self, batch: list[tuple[str, str, int]]) -> None:
        if not batch:
            return
        stored = dict(
            self._session.connection()
            .execute(
                sa.select(col(Record.credential_id), col(Record.state)).where(
                    self._among(col(Record.credential_id), [record_id for record_id, _, _ in batch])
                )
            )
            .all()
        )
        for record_id, state, changes in batch:
            found = stored.get(record_id)
            if found is not None and found != state:
                self._report(
                    f"record {record_id}",
                    f"state is {found!r}; the log says {state!r} "
                    f"(its credential and {changes} signed change{'s' * (changes != 1)})",
                )

    def _bit(
        self,
        record_id: str,
        state: str,
        purpose: str,
        index: int,
        signed: tuple[_ListVersion, StatusBits],
    ) -> int:
        """Whether the record's entry is set in the newest signed list (0 or 1), named
        where its state says otherwise."""
        latest, bits = signed
        try:
            value = bits.get(index)
        except RegistryError:
            self._report(
                f"entry {latest.index}",
                f"its {purpose} list has no entry {index}, which record {record_id} holds",
            )
            return 0
        expected = status_bits(State(state))[purpose]
        if value != expected:
            self._report(
                f"entry {latest.index}",
                f"its {purpose} list (version {latest.version}) has entry {index} "
                f"{'set' if value else 'clear'}, but record {record_id} is {state} by its "
                "credential and its signed changes",
            )
        return int(value)

    def _stray_bits(
        self, purpose: str, latest: _ListVersion, signed: StatusBits, held: int
    ) -> None:
        """Name each set entry of the newest signed list that no record holds."""
        total = int.from_bytes(signed.data, "big").bit_count()
        if total == held or self._unknown:
            return  # (an entry not rebuilt may be what holds a set bit)
        column = "rev" if purpose == "revocation" else "sus"
        holders = (
            int(row[0])
            for row in self._scratch.db.execute(
                f"SELECT {column} FROM rec WHERE {column} IS NOT NULL ORDER BY {column}"  # noqa: S608 - one of two column names
            )
        )
        holder = next(holders, None)
        for byte_index, byte in enumerate(signed.data):
            if not byte:
                continue
            for offset in range(8):
                if not byte & (0x80 >> offset):
                    continue
                index = byte_index * 8 + offset
                while holder is not None and holder < index:
                    holder = next(holders, None)
                if holder != index:
                    self._report(
                        f"entry {latest.index}",
                        f"its {purpose} list (version {latest.version}) has entry {index} set, "
                        "which no record of the log holds",
                    )

    # -- rows no entry accounts for ----------------------------------------------------------------

    def _unlogged(self) -> None:
        """Rows of this authority whose credential is in no log."""
        code = self._code
        logged = sa.exists().where(col(LogEntry.credential_id) == col(StoredCredential.id))
        queries: list[tuple[str, Any]] = [
            (
                "credential",
                sa.select(col(StoredCredential.id)).where(
                    col(StoredCredential.issuer_code) == code, ~logged
                ),
            ),
            (
                "record",
                sa.select(col(Record.credential_id))
                .join(StoredCredential, col(StoredCredential.id) == col(Record.credential_id))
                .where(col(Record.authority_code) == code, ~logged),
            ),
            (
                "status_change",
                sa.select(col(StatusChangeRow.credential_id))
                .join(
                    StoredCredential, col(StoredCredential.id) == col(StatusChangeRow.credential_id)
                )
                .where(col(StoredCredential.issuer_code) == code, ~logged),
            ),
            (
                "recognition_agreement",
                sa.select(col(RecognitionAgreementRow.credential_id))
                .join(
                    StoredCredential,
                    col(StoredCredential.id) == col(RecognitionAgreementRow.credential_id),
                )
                .where(col(RecognitionAgreementRow.issuer_code) == code, ~logged),
            ),
        ]
        for table, query in queries:
            result = self._session.connection().execute(query.execution_options(yield_per=_CHUNK))
            try:
                for (credential_id,) in result:
                    self._report(
                        f"{table} {credential_id}", f"its credential is in no log of {code}"
                    )
            finally:
                result.close()

    # -- the stored rows of a chunk, by credential id ---------------------------------------

    def _records(self, ids: list[str]) -> dict[str, tuple[Any, ...]]:
        rows = self._session.connection().execute(
            sa.select(
                col(Record.credential_id),
                col(Record.type),
                col(Record.authority_code),
                col(Record.number),
                col(Record.revocation_index),
                col(Record.suspension_index),
                col(Record.earliest_removal_on),
                col(Record.replaces),
            ).where(self._among(col(Record.credential_id), ids))
        )
        return {row[0]: tuple(row) for row in rows}

    def _parties(self, ids: list[str]) -> dict[str, list[tuple[Any, ...]]]:
        found: dict[str, list[tuple[Any, ...]]] = defaultdict(list)
        rows = self._session.connection().execute(
            sa.select(
                col(RecordParty.credential_id),
                col(RecordParty.position),
                col(RecordParty.role),
                col(RecordParty.name),
                col(RecordParty.name_key),
                col(RecordParty.name_core),
                col(RecordParty.credit_code),
                col(RecordParty.lookup_key),
                col(RecordParty.lookup_version),
            )
            .where(self._among(col(RecordParty.credential_id), ids))
            .order_by(col(RecordParty.credential_id), col(RecordParty.position))
        )
        for row in rows:
            found[row[0]].append(tuple(row[1:]))
        return dict(found)

    def _changes(self, ids: list[str]) -> dict[str, tuple[Any, ...]]:
        rows = self._session.connection().execute(
            sa.select(
                col(StatusChangeRow.credential_id),
                col(StatusChangeRow.target_id),
                col(StatusChangeRow.action),
                col(StatusChangeRow.state_before),
                col(StatusChangeRow.state_after),
                col(StatusChangeRow.effective_on),
                col(StatusChangeRow.recorded_at),
            ).where(self._among(col(StatusChangeRow.credential_id), ids))
        )
        return {row[0]: tuple(row) for row in rows}

    def _agreements(self, ids: list[str]) -> dict[str, tuple[Any, ...]]:
        rows = self._session.connection().execute(
            sa.select(
                col(RecognitionAgreementRow.credential_id),
                col(RecognitionAgreementRow.issuer_code),
                col(RecognitionAgreementRow.effective_from),
                col(RecognitionAgreementRow.effective_until),
                col(RecognitionAgreementRow.terminated_on),
                col(RecognitionAgreementRow.termination_id),
            ).where(self._among(col(RecognitionAgreementRow.credential_id), sorted(set(ids))))
        )
        return {row[0]: tuple(row) for row in rows}
