"""The same CE credit twice: one holder, provider, course and completion day.

Importing a spreadsheet twice must not give its holders their hours twice. A CE
credit is the same credit as another when they name the same person (the same
look-up key, under any version of the federation's look-up secret), the same
provider (credit code), the same course title (``course_title_key``: width folded,
spaces collapsed, case folded) and the same completion day. Each record keeps the
hash of those four (``record.course_key``), so that a batch of 10,000 is checked
with a few indexed queries: each item's key under every version of the secret,
looked up in chunks.

An authority may not issue a credit it already holds in force (not revoked or
superseded); one that two authorities issued is counted once by verification instead
(``registry.ce.counting``).
"""

from __future__ import annotations

import hashlib
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date

from sqlmodel import Session, col, select

from registry.credentials import CredentialType
from registry.credentials.lifecycle import State
from registry.credentials.records import ContinuingEducationIn, RecordIn
from registry.ids import LookupSecrets, ResidentId
from registry.storage.models import Record

__all__ = [
    "DUPLICATE_FIELD",
    "Duplicate",
    "course_key",
    "course_title_key",
    "duplicate_message",
    "find_duplicates",
]

DUPLICATE_FIELD = "course_title"
"""The field a duplicate is reported on (the import's column of the course title)."""

_CHUNK = 2_000


def course_title_key(title: str) -> str:
    """A course title as duplicates compare it: NFKC, whitespace collapsed to one space
    and trimmed, case folded (``安全 培训`` is ``安全　培训``, ``ABC`` is ``abc``)."""
    return " ".join(unicodedata.normalize("NFKC", title).split()).casefold()


def course_key(lookup_key: str, credit_code: str, title: str, completed_on: date | str) -> str:
    """SHA-256 (hex) of a CE credit's holder look-up key, provider credit code,
    course title (``course_title_key``) and completion day (ISO)."""
    day = completed_on if isinstance(completed_on, str) else completed_on.isoformat()
    text = "\n".join((lookup_key, credit_code.upper(), course_title_key(title), day))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _keys(item: ContinuingEducationIn, lookup: LookupSecrets) -> list[str]:
    """The item's course key under every version of the look-up secret, newest first."""
    numbers = lookup.keys(ResidentId(item.holder.id_number)).values()
    return [
        course_key(key, item.provider.credit_code, item.course_title, item.completed_on)
        for key in reversed(list(numbers))
    ]


def _existing(session: Session, authority: str, keys: Sequence[str]) -> dict[str, str]:
    """Course key -> the id of a CE credit of ``authority`` in force that has it.

    Only the course key is in the query: it is the column that finds the few rows,
    and with nothing else to choose from, the planner takes its index even when the
    table's statistics are older than a batch of 100,000 just issued (it then took the
    type's and the authority's indexes, believing each matched a few rows, and read
    every CE credit: 14 ms an issue). The rest is checked here."""
    found: dict[str, str] = {}
    unique = sorted(set(keys))
    for start in range(0, len(unique), _CHUNK):
        rows = session.exec(
            select(Record.course_key, Record.credential_id, Record.authority_code, Record.type)
            .where(col(Record.course_key).in_(unique[start : start + _CHUNK]))
            .where(col(Record.state).not_in([State.REVOKED.value, State.SUPERSEDED.value]))
        )
        for key, credential_id, held_by, kind in sorted(rows, key=lambda row: row[1]):
            if key is not None and held_by == authority and kind == CredentialType.CE_CREDIT:
                found.setdefault(key, credential_id)
    return found


@dataclass(frozen=True)
class Duplicate:
    """Item ``index`` repeats a credit: one in force (``existing``, its credential id)
    or an earlier item of the same batch (``earlier``, its index)."""

    index: int
    existing: str | None = None
    earlier: int | None = None


def find_duplicates(
    session: Session, items: Sequence[RecordIn], *, lookup: LookupSecrets
) -> list[Duplicate]:
    """Each CE credit of ``items`` that its authority already holds in force, or that
    an earlier item of the same batch repeats, in item order. A correction is no
    duplicate of the record it replaces. Writes nothing."""
    credits = [
        (i, item, _keys(item, lookup))
        for i, item in enumerate(items)
        if isinstance(item, ContinuingEducationIn)
    ]
    if not credits:
        return []
    by_authority: dict[str, list[str]] = {}
    for _, item, keys in credits:
        by_authority.setdefault(item.authority, []).extend(keys)
    existing = {
        authority: _existing(session, authority, keys) for authority, keys in by_authority.items()
    }
    found: list[Duplicate] = []
    first_of: dict[tuple[str, str], int] = {}
    for i, item, keys in credits:
        held = existing[item.authority]
        match = next((held[k] for k in keys if k in held and held[k] != item.replaces), None)
        mine = (item.authority, keys[0])
        if match is not None:
            found.append(Duplicate(i, existing=match))
        elif mine in first_of:
            found.append(Duplicate(i, earlier=first_of[mine]))
        else:
            first_of[mine] = i
    return found


def duplicate_message(duplicate: Duplicate, name: Callable[[int], str]) -> str:
    """What a field error says of a duplicate; ``name`` names an item by its index."""
    if duplicate.existing is not None:
        return f"{_SAME} is already issued: {duplicate.existing}"
    return f"{_SAME} as {name(duplicate.earlier or 0)}"


_SAME = "the same credit (holder, provider, course, completion date)"
