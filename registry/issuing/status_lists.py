"""An authority's status lists: which entries are taken, which bits are set, and the
signed ``BitstringStatusListCredential`` of each version.

There is one list per authority and purpose (``revocation``, ``suspension``),
served at ``<node>/v1/status-lists/<authority>/<purpose>``. Each change of its bits
is a new version, signed and logged like any record; version ``n`` has the id
``<list url>/<n>``, so every version stays addressable. Entries are allocated at
random, so an entry's position says nothing about when or to whom it was issued;
the records' own index columns (unique per authority) say which are taken.

Everything here runs under the authority's log lock (``registry.tlog.sequencer.
lock_log``), which serialises it with the appends it goes into.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.orm import defer
from sqlmodel import Session, col, select

from registry.credentials import CredentialType, new_credential
from registry.credentials.status_list import StatusBits, status_entry, status_list_subject
from registry.errors import Conflict, NotFound
from registry.ids import province
from registry.storage.credentials import get_credential
from registry.storage.models import Record, StatusListRow, StoredCredential

__all__ = [
    "DEFAULT_ENTRIES",
    "StatusLists",
    "current_list",
    "list_url",
    "list_version",
    "version_url",
]

DEFAULT_ENTRIES = 1 << 22
"""Entries per new list (4,194,304; 512 KiB of bits, a few hundred bytes once
compressed while few are set): room for 3.7 million records per authority and
purpose before ``allocate`` refuses. A list keeps the size it was created with."""

_FULL = 0.9  # random allocation slows as a list fills; refuse before it crawls
_CHUNK = 5000  # candidate indices per query (SQLite allows 32,766 parameters)


def list_url(node_url: str, authority: str, purpose: str) -> str:
    """Where the current version of a list is served."""
    return f"{node_url.rstrip('/')}/v1/status-lists/{authority}/{purpose}"


def version_url(node_url: str, authority: str, purpose: str, version: int) -> str:
    """The id (and address) of one version of a list."""
    return f"{list_url(node_url, authority, purpose)}/{version}"


def current_list(session: Session, authority: str, purpose: str) -> StoredCredential:
    """The newest signed version of ``authority``'s (either of its codes) list for
    ``purpose``, as stored.

    Raises ``InvalidProvinceCode`` for a code that does not parse and ``NotFound``
    before the authority has such a list.
    """
    code = province(authority).iso
    row = session.get(StatusListRow, (code, purpose))
    if row is None:
        raise NotFound(f"{code} has no {purpose} status list yet")
    return get_credential(session, row.credential_id)


def list_version(
    session: Session, authority: str, purpose: str, version: int, *, node_url: str
) -> StoredCredential:
    """Version ``version`` of ``authority``'s list for ``purpose``, as stored (its id
    is its address on ``node_url``).

    Raises ``InvalidProvinceCode`` for a code that does not parse and ``NotFound`` for
    a version that does not exist.
    """
    code = province(authority).iso
    return get_credential(session, version_url(node_url, code, purpose, version))


@dataclass
class _List:
    row: StatusListRow | None
    size: int
    allocated_count: int
    version: int
    bits: StatusBits | None = None  # read only when a bit is read or set
    changed: bool = False
    taken: set[int] = field(default_factory=set)


class StatusLists:
    """The status lists of one authority for one transaction, under its log lock.

    ``allocate`` takes entries, ``set`` flips bits; ``new_versions`` gives the
    unsigned credentials of the lists whose bits changed (and of lists created
    now), and ``save`` writes the lists once those credentials are stored. Which
    entries are taken is known from the records' own columns (unique per
    authority), so issuing reads no bitstring at all.
    """

    def __init__(
        self, session: Session, authority: str, *, node_url: str, entries: int = DEFAULT_ENTRIES
    ) -> None:
        self._session = session
        self._authority = authority
        self._node_url = node_url
        self._entries = entries
        self._lists: dict[str, _List] = {}
        self._versions: dict[str, str] = {}

    def _list(self, purpose: str) -> _List:
        found = self._lists.get(purpose)
        if found is not None:
            return found
        row = self._session.exec(
            select(StatusListRow)
            .where(
                col(StatusListRow.authority_code) == self._authority,
                col(StatusListRow.purpose) == purpose,
            )
            .options(defer(StatusListRow.bits))  # type: ignore[arg-type]
        ).first()
        if row is None:
            found = _List(
                row=None,
                size=self._entries,
                allocated_count=0,
                version=0,
                bits=StatusBits.empty(self._entries),
                changed=True,  # a new list is published at once, all zeros
            )
        else:
            found = _List(
                row=row, size=row.size, allocated_count=row.allocated_count, version=row.version
            )
        self._lists[purpose] = found
        return found

    def _bits(self, purpose: str) -> StatusBits:
        status = self._list(purpose)
        if status.bits is None:
            if status.row is None:
                raise LookupError("a new list has its bits in hand")
            status.bits = StatusBits(bytearray(status.row.bits))
        return status.bits

    def allocate(self, purpose: str, count: int) -> list[tuple[int, dict[str, Any]]]:
        """Take ``count`` free entries at random; returns each index and its
        ``credentialStatus`` entry. Raises ``Conflict`` when the list is nearly full."""
        status = self._list(purpose)
        if status.allocated_count + count > status.size * _FULL:
            raise Conflict(
                f"the {purpose} status list of {self._authority} is full "
                f"({status.allocated_count} of {status.size} entries taken)"
            )
        column = col(
            Record.revocation_index if purpose == "revocation" else Record.suspension_index
        )
        chosen: list[int] = []
        while len(chosen) < count:
            wanted = count - len(chosen)
            candidates = {secrets.randbelow(status.size) for _ in range(wanted + wanted // 8 + 4)}
            candidates -= status.taken
            ordered = sorted(candidates)
            for start in range(0, len(ordered), _CHUNK):
                part = ordered[start : start + _CHUNK]
                taken = self._session.exec(
                    select(column).where(
                        col(Record.authority_code) == self._authority, column.in_(part)
                    )
                ).all()
                candidates -= {int(index) for index in taken if index is not None}
            picked = list(candidates)[:wanted]
            chosen.extend(picked)
            status.taken.update(picked)
        status.allocated_count += count
        url = list_url(self._node_url, self._authority, purpose)
        return [(index, status_entry(url, purpose, index)) for index in chosen]

    def set(self, purpose: str, index: int, value: bool) -> None:
        """Set or clear entry ``index``; a change makes a new version of the list."""
        bits = self._bits(purpose)
        if bits.get(index) != value:
            bits.set(index, value)
            self._list(purpose).changed = True

    def new_versions(self, *, now: datetime) -> list[dict[str, Any]]:
        """The unsigned credentials of every list whose bits changed, one version each."""
        documents = []
        for purpose, status in sorted(self._lists.items()):
            if not status.changed:
                continue
            version = status.version + 1
            credential_id = version_url(self._node_url, self._authority, purpose, version)
            url = list_url(self._node_url, self._authority, purpose)
            documents.append(
                new_credential(
                    type_=CredentialType.STATUS_LIST,
                    issuer_code=self._authority,
                    subject=status_list_subject(url, purpose, self._bits(purpose)),
                    valid_from=now,
                    credential_id=credential_id,
                )
            )
            self._versions[purpose] = credential_id
        return documents

    def save(self, *, now: datetime) -> None:
        """Write every list touched, once ``new_versions``' credentials are stored."""
        for purpose, status in self._lists.items():
            if not status.changed and not status.taken:
                continue
            row = status.row
            if row is None:
                row = StatusListRow(
                    authority_code=self._authority,
                    purpose=purpose,
                    size=status.size,
                    bits=b"",
                    allocated_count=0,
                    version=0,
                    credential_id="",
                    updated_at=now,
                )
            row.allocated_count = status.allocated_count
            if status.changed:
                row.bits = bytes(self._bits(purpose).data)
                row.version = status.version + 1
                row.credential_id = self._versions[purpose]
            row.updated_at = now
            self._session.add(row)
        self._session.flush()
