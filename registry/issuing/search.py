"""Finding an authority's own records, to correct or revoke one, without paging the log.

An issuing office knows a person's ID number or name, a certificate or registration
number, the import a record came in, or roughly when it was issued. ``search_records``
finds the authority's own records by any of those together (every criterion given
must hold), newest first, each with its state and its history of status changes.
Only the authority's own records are ever searched: a mirrored record of another
member is that member's to correct.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import ColumnElement
from sqlmodel import Session, col, select

from registry.calendar import day_start
from registry.credentials.records import named_parties
from registry.errors import InvalidInput, RegistryError
from registry.ids import LookupSecrets, ResidentId, lookup_key, name_key, parse_resident_id
from registry.issuing.views import CHANGE_ORDER, ChangeView
from registry.storage.models import (
    LogEntry,
    ReceiptRow,
    Record,
    RecordParty,
    StatusChangeRow,
    StoredCredential,
)

__all__ = [
    "MAX_SEARCH_PAGE",
    "MAX_WORDS",
    "FoundRecord",
    "RecordQuery",
    "RecordsFound",
    "audited_criteria",
    "search_records",
]

MAX_SEARCH_PAGE = 200
MAX_WORDS = 8
"""Words of a name searched at once, at most."""


@dataclass(frozen=True)
class RecordQuery:
    """What to look for; every criterion given must hold. ``name`` is a whole name
    (as ``name_key`` compares names); each of ``words`` must occur within a name the
    record names (张 finds 张伟; 化工 finds 江苏盐城某化工有限公司). ``issued_from`` and
    ``issued_until`` are days in China, both included."""

    id_number: str | None = None
    name: str | None = None
    words: tuple[str, ...] = ()
    number: str | None = None
    import_id: str | None = None
    type: str | None = None
    state: str | None = None
    issued_from: date | None = None
    issued_until: date | None = None


@dataclass(frozen=True)
class FoundRecord:
    """One record found: its credential, state, number, the person or organisation it
    is about (name, masked number or credit code) and its changes, oldest first."""

    credential_id: str
    type: str
    number: str | None
    state: str
    issued_at: datetime
    name: str | None
    masked: str | None
    credit_code: str | None
    replaces: str | None
    import_id: str | None
    changes: list[ChangeView]


@dataclass(frozen=True)
class RecordsFound:
    """A page of records, and the offset of the next page if there is one."""

    records: list[FoundRecord]
    next_offset: int | None


def _holding(lookup: LookupSecrets, id_number: str) -> ColumnElement[bool]:
    number: ResidentId = parse_resident_id(id_number)
    keys = list(lookup.keys(number).values())
    return col(Record.credential_id).in_(
        select(RecordParty.credential_id).where(col(RecordParty.lookup_key).in_(keys))
    )


def _conditions(
    query: RecordQuery, *, authority: str, lookup: LookupSecrets
) -> list[ColumnElement[bool]]:
    wanted: list[ColumnElement[bool]] = [col(Record.authority_code) == authority]
    if query.id_number is not None:
        wanted.append(_holding(lookup, query.id_number))
    if query.name is not None:
        wanted.append(
            col(Record.credential_id).in_(
                select(RecordParty.credential_id).where(
                    col(RecordParty.name_key) == name_key(query.name)
                )
            )
        )
    for word in _keys(query.words):
        wanted.append(
            col(Record.credential_id).in_(
                select(RecordParty.credential_id).where(
                    col(RecordParty.name_key).contains(word, autoescape=True)
                )
            )
        )
    if query.number is not None:
        wanted.append(col(Record.number) == query.number.strip())
    if query.import_id is not None:
        wanted.append(
            col(Record.credential_id).in_(
                select(ReceiptRow.credential_id).where(
                    col(ReceiptRow.receipt_id) == query.import_id
                )
            )
        )
    if query.type is not None:
        wanted.append(col(Record.type) == query.type)
    if query.state is not None:
        wanted.append(col(Record.state) == query.state)
    if query.issued_from is not None:
        wanted.append(col(StoredCredential.signed_at) >= day_start(query.issued_from))
    if query.issued_until is not None:
        after = day_start(query.issued_until + timedelta(days=1))
        wanted.append(col(StoredCredential.signed_at) < after)
    return wanted


def search_records(
    session: Session,
    query: RecordQuery,
    *,
    authority: str,
    lookup: LookupSecrets,
    limit: int = 50,
    offset: int = 0,
) -> RecordsFound:
    """``authority``'s own records that ``query`` matches, newest first, a page of
    ``limit`` from ``offset``. A person is found by their number's look-up key under
    every version of the federation's secret. Raises ``InvalidInput`` for an invalid
    ID number, a page over ``MAX_SEARCH_PAGE`` or an empty date range. Writes nothing.
    """
    if not 1 <= limit <= MAX_SEARCH_PAGE or offset < 0:
        raise InvalidInput(f"a page holds 1 to {MAX_SEARCH_PAGE} records from offset 0 on")
    if query.issued_from and query.issued_until and query.issued_from > query.issued_until:
        raise InvalidInput("issued_from is after issued_until")
    if len(query.words) > MAX_WORDS:
        raise InvalidInput(f"search with at most {MAX_WORDS} words")
    rows = list(
        session.exec(
            select(Record, StoredCredential.canonical, StoredCredential.signed_at)
            .join(StoredCredential, col(StoredCredential.id) == col(Record.credential_id))
            .where(*_conditions(query, authority=authority, lookup=lookup))
            .order_by(col(StoredCredential.signed_at).desc(), col(Record.credential_id))
            .offset(offset)
            .limit(limit + 1)
        )
    )
    more = len(rows) > limit
    rows = rows[:limit]
    ids = [record.credential_id for record, _, _ in rows]
    changes = _changes(session, ids)
    imports = _imports(session, ids)
    found = []
    for record, canonical, signed_at in rows:
        name, masked, code = _about(record.type, canonical)
        found.append(
            FoundRecord(
                credential_id=record.credential_id,
                type=record.type,
                number=record.number,
                state=record.state,
                issued_at=signed_at,
                name=name,
                masked=masked,
                credit_code=code,
                replaces=record.replaces,
                import_id=imports.get(record.credential_id),
                changes=changes.get(record.credential_id, []),
            )
        )
    return RecordsFound(found, offset + limit if more else None)


def audited_criteria(query: RecordQuery, *, node_secret: bytes) -> dict[str, str] | None:
    """What the access audit hashes of a search that looks a person up: by ID number
    (the number as its HMAC under the node secret, never in clear), by name, or by a
    certificate or registration number; ``None`` for a search that names no one (by
    type, state, import or days alone). Words of a name count as a name."""
    criteria: dict[str, str] = {}
    if query.id_number is not None:
        number = parse_resident_id(query.id_number)
        criteria["key"] = lookup_key(number, secret=node_secret)
    if query.name is not None:
        criteria["name"] = name_key(query.name)
    if query.words:
        criteria["words"] = " ".join(_keys(query.words))
    if query.number is not None:
        criteria["number"] = query.number.strip()
    return {"by": "records", **criteria} if criteria else None


def _keys(words: Sequence[str]) -> list[str]:
    """The words as names are compared (``name_key``), empty ones left out."""
    return [key for key in (name_key(word) for word in words) if key]


def _about(kind: str, canonical: str) -> tuple[str | None, str | None, str | None]:
    """Whom the record is about, as its credential names them (the first party)."""
    try:
        first = named_parties(kind, json.loads(canonical)["credentialSubject"])[0]
    except (RegistryError, KeyError, TypeError, IndexError, ValueError):
        return None, None, None
    masked = first.identifier.masked if first.identifier else None
    return first.name, masked, first.credit_code


def _changes(session: Session, ids: Sequence[str]) -> dict[str, list[ChangeView]]:
    found: dict[str, list[ChangeView]] = {}
    if not ids:
        return found
    rows = session.exec(
        select(StatusChangeRow)
        .outerjoin(LogEntry, col(LogEntry.credential_id) == col(StatusChangeRow.credential_id))
        .where(col(StatusChangeRow.target_id).in_(ids))
        .order_by(*CHANGE_ORDER)
    )
    for change in rows:
        found.setdefault(change.target_id, []).append(ChangeView.of(change))
    return found


def _imports(session: Session, ids: Sequence[str]) -> dict[str, str]:
    if not ids:
        return {}
    rows = session.exec(
        select(ReceiptRow.credential_id, ReceiptRow.receipt_id).where(
            col(ReceiptRow.credential_id).in_(ids)
        )
    )
    return dict(rows.all())
