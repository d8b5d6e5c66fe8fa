"""W3C Bitstring Status List v1.0: the bits, their encoding, the list credential, entries.

A status list is a bitstring of at least 131,072 entries (16 KiB); entry ``i`` is bit
``i`` counting from the most significant bit of the first byte. It travels as
``encodedList`` = ``"u"`` (multibase base64url) + base64url without padding of the
GZIP-compressed bitstring, inside a ``BitstringStatusListCredential`` that the
authority signs. A credential that can change state carries a
``BitstringStatusListEntry`` naming the list and its index.
"""

from __future__ import annotations

import base64
import binascii
import gzip
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from registry.errors import InvalidInput

__all__ = [
    "MIN_ENTRIES",
    "PURPOSES",
    "StatusBits",
    "entry_index",
    "status_entry",
    "status_list_subject",
]

MIN_ENTRIES = 131_072
"""The smallest list the specification allows (16 KiB): the herd that hides each holder."""

PURPOSES = ("revocation", "suspension")
_MAX_BYTES = 16 * 1024 * 1024  # refuse to inflate more than this (a GZIP bomb)


@dataclass
class StatusBits:
    """A mutable bitstring of status entries, all 0 (not revoked, not suspended) at first."""

    data: bytearray

    @classmethod
    def empty(cls, entries: int = MIN_ENTRIES) -> StatusBits:
        """A list of ``entries`` zero bits (a multiple of 8, at least ``MIN_ENTRIES``)."""
        if entries < MIN_ENTRIES or entries % 8:
            raise InvalidInput(f"a status list has a multiple of 8 entries, at least {MIN_ENTRIES}")
        return cls(bytearray(entries // 8))

    @property
    def size(self) -> int:
        """How many entries the list holds."""
        return len(self.data) * 8

    def _at(self, index: int) -> tuple[int, int]:
        if not 0 <= index < self.size:
            raise InvalidInput(f"status index {index} is outside a list of {self.size}")
        return index // 8, 0x80 >> (index % 8)

    def get(self, index: int) -> bool:
        """Whether entry ``index`` is set."""
        byte, mask = self._at(index)
        return bool(self.data[byte] & mask)

    def set(self, index: int, value: bool) -> None:
        """Set or clear entry ``index``."""
        byte, mask = self._at(index)
        if value:
            self.data[byte] |= mask
        else:
            self.data[byte] &= ~mask & 0xFF

    def encode(self) -> str:
        """``encodedList``: multibase base64url (no padding) of the GZIP'd bits.

        ``mtime=0`` makes the bytes depend on the bits alone.
        """
        compressed = gzip.compress(bytes(self.data), compresslevel=9, mtime=0)
        return "u" + base64.urlsafe_b64encode(compressed).decode("ascii").rstrip("=")

    @classmethod
    def decode(cls, encoded: str) -> StatusBits:
        """Read an ``encodedList``; raises ``InvalidInput`` if it is not one."""
        if not isinstance(encoded, str) or not encoded.startswith("u"):
            raise InvalidInput("encodedList is multibase base64url, starting with 'u'")
        text = encoded[1:]
        try:
            padded = text + "=" * (-len(text) % 4)
            compressed = base64.b64decode(padded, altchars=b"-_", validate=True)
            inflater = zlib.decompressobj(wbits=31)  # 31: a GZIP stream
            data = inflater.decompress(compressed, _MAX_BYTES)
        except (binascii.Error, ValueError, zlib.error) as exc:
            raise InvalidInput("encodedList does not decode to a GZIP'd bitstring") from exc
        if inflater.unconsumed_tail:
            raise InvalidInput("encodedList is larger than any status list the registry reads")
        if not inflater.eof:
            raise InvalidInput("encodedList does not decode to a GZIP'd bitstring")
        if len(data) * 8 < MIN_ENTRIES:
            raise InvalidInput(f"a status list holds at least {MIN_ENTRIES} entries")
        return cls(bytearray(data))


def status_list_subject(list_url: str, purpose: str, bits: StatusBits) -> dict[str, Any]:
    """The ``credentialSubject`` of a ``BitstringStatusListCredential``."""
    if purpose not in PURPOSES:
        raise InvalidInput(f"status purpose must be one of {', '.join(PURPOSES)}")
    return {
        "id": f"{list_url}#list",
        "type": "BitstringStatusList",
        "statusPurpose": purpose,
        "encodedList": bits.encode(),
    }


def status_entry(list_url: str, purpose: str, index: int) -> dict[str, Any]:
    """A credential's ``credentialStatus`` entry pointing at ``index`` of the list."""
    if purpose not in PURPOSES:
        raise InvalidInput(f"status purpose must be one of {', '.join(PURPOSES)}")
    return {
        "id": f"{list_url}#{index}",
        "type": "BitstringStatusListEntry",
        "statusPurpose": purpose,
        "statusListIndex": str(index),
        "statusListCredential": list_url,
    }


def entry_index(entry: Mapping[str, Any]) -> int:
    """The index a ``BitstringStatusListEntry`` names; raises ``InvalidInput``."""
    value = entry.get("statusListIndex")
    if not isinstance(value, str) or not value.isdigit() or (len(value) > 1 and value[0] == "0"):
        raise InvalidInput("statusListIndex is a decimal string")
    return int(value)
