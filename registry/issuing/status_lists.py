"""An authority's status lists: which entries are taken, which bits are set, and the
signed ``BitstringStatusListCredential`` of each version.

There is one list per authority and purpose (``revocation``, ``suspension``),
served at ``<node>/v1/status-lists/<authority>/<purpose>``. Each change of its bits
is a new version, signed and logged like any record; version ``n`` has the id
``<list url>/<n>``, so every version stays addressable. Entries are allocated at
random, so an entry's position says nothing about when or to whom it was issued.

Everything here runs under the authority's log lock (``registry.tlog.sequencer.
lock_log``), which serialises it with the appends it goes into.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlmodel import Session

from registry.credentials import new_credential
from registry.credentials.status_list import StatusBits, status_entry, status_list_subject
from registry.errors import Conflict
from registry.storage.models import StatusListRow

__all__ = ["DEFAULT_ENTRIES", "StatusLists", "list_url", "version_url"]

DEFAULT_ENTRIES = 1 << 20
"""Entries per list: room for a million records per authority and purpose."""

_FULL = 0.9  # random allocation slows as a list fills; refuse before it crawls


def list_url(node_url: str, authority: str, purpose: str) -> str:
    """Where the current version of a list is served."""
    return f"{node_url.rstrip('/')}/v1/status-lists/{authority}/{purpose}"


def version_url(node_url: str, authority: str, purpose: str, version: int) -> str:
    """The id (and address) of one version of a list."""
    return f"{list_url(node_url, authority, purpose)}/{version}"


@dataclass
class _List:
    row: StatusListRow | None
    bits: StatusBits
    allocated: StatusBits
    allocated_count: int
    version: int
    changed: bool = False
    allocations: int = 0


class StatusLists:
    """The status lists of one authority for one transaction, under its log lock.

    ``allocate`` takes entries, ``set`` flips bits; ``new_versions`` gives the
    unsigned credentials of the lists whose bits changed (and of lists created
    now), and ``save`` writes the lists once those credentials are stored.
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
        row = self._session.get(StatusListRow, (self._authority, purpose))
        if row is None:
            found = _List(
                row=None,
                bits=StatusBits.empty(self._entries),
                allocated=StatusBits.empty(self._entries),
                allocated_count=0,
                version=0,
                changed=True,  # a new list is published at once, all zeros
            )
        else:
            found = _List(
                row=row,
                bits=StatusBits(bytearray(row.bits)),
                allocated=StatusBits(bytearray(row.allocated)),
                allocated_count=row.allocated_count,
                version=row.version,
            )
        self._lists[purpose] = found
        return found

    def allocate(self, purpose: str) -> tuple[int, dict[str, Any]]:
        """Take a free entry at random; returns its index and the ``credentialStatus``.

        Raises ``Conflict`` when the list is nearly full.
        """
        status = self._list(purpose)
        if status.allocated_count >= status.allocated.size * _FULL:
            raise Conflict(
                f"the {purpose} status list of {self._authority} is full "
                f"({status.allocated_count} of {status.allocated.size} entries taken)"
            )
        while True:
            index = secrets.randbelow(status.allocated.size)
            if not status.allocated.get(index):
                break
        status.allocated.set(index, True)
        status.allocated_count += 1
        status.allocations += 1
        return index, status_entry(
            list_url(self._node_url, self._authority, purpose), purpose, index
        )

    def get(self, purpose: str, index: int) -> bool:
        """Whether entry ``index`` of the list is set."""
        return self._list(purpose).bits.get(index)

    def set(self, purpose: str, index: int, value: bool) -> None:
        """Set or clear entry ``index``; a change makes a new version of the list."""
        status = self._list(purpose)
        if status.bits.get(index) != value:
            status.bits.set(index, value)
            status.changed = True

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
                    type_="BitstringStatusListCredential",
                    issuer_code=self._authority,
                    subject=status_list_subject(url, purpose, status.bits),
                    valid_from=now,
                    credential_id=credential_id,
                )
            )
            self._versions[purpose] = credential_id
        return documents

    def save(self, *, now: datetime) -> None:
        """Write every list touched, once ``new_versions``' credentials are stored."""
        for purpose, status in self._lists.items():
            if not status.changed and not status.allocations:
                continue
            row = status.row
            if row is None:
                row = StatusListRow(
                    authority_code=self._authority,
                    purpose=purpose,
                    size=status.bits.size,
                    bits=b"",
                    allocated=b"",
                    allocated_count=0,
                    version=0,
                    credential_id="",
                    updated_at=now,
                )
            row.bits = bytes(status.bits.data)
            row.allocated = bytes(status.allocated.data)
            row.allocated_count = status.allocated_count
            if status.changed:
                row.version = status.version + 1
                row.credential_id = self._versions[purpose]
            row.updated_at = now
            self._session.add(row)
        self._session.flush()
