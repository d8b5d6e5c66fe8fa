"""W3C Bitstring Status List: bit order, encoding, decoding and its limits."""

from __future__ import annotations

import base64
import gzip

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from registry.credentials.status_list import (
    MIN_ENTRIES,
    StatusBits,
    entry_index,
    status_entry,
    status_list_subject,
)
from registry.errors import InvalidInput

# The encodedList of the specification's examples: 131,072 zero bits.
SPEC_EMPTY = "uH4sIAAAAAAAAA-3BMQEAAADCoPVPbQwfoAAAAAAAAAAAAAAAAAAAAIC3AYbSVKsAQAAA"


def test_the_specification_example_decodes_to_an_empty_list() -> None:
    bits = StatusBits.decode(SPEC_EMPTY)
    assert bits.size == MIN_ENTRIES
    assert not any(bits.data)


def test_entry_zero_is_the_first_bytes_most_significant_bit() -> None:
    bits = StatusBits.empty()
    bits.set(0, True)
    bits.set(9, True)
    assert bits.data[:2] == bytearray([0x80, 0x40])
    assert bits.get(0)
    assert bits.get(9)
    assert not bits.get(1)
    bits.set(0, False)
    assert bits.data[0] == 0


# No deadline: each example reads back all 131,072 entries, which takes from 45 ms to
# several times that on a busy machine; speed is not what this tests. A few dozen sets
# of up to 50 indexes cover it.
@settings(max_examples=30, deadline=None)
@given(st.sets(st.integers(min_value=0, max_value=MIN_ENTRIES - 1), max_size=50))
def test_round_trip(indexes: set[int]) -> None:
    bits = StatusBits.empty()
    for index in indexes:
        bits.set(index, True)
    encoded = bits.encode()
    assert encoded == bits.encode()  # the same bits give the same bytes
    decoded = StatusBits.decode(encoded)
    assert {i for i in range(decoded.size) if decoded.get(i)} == indexes


def _encoded(raw: bytes) -> str:
    return "u" + base64.urlsafe_b64encode(gzip.compress(raw, mtime=0)).decode().rstrip("=")


@pytest.mark.parametrize(
    ("encoded", "message"),
    [
        ("zabc", "starting with 'u'"),
        ("u!!!", "does not decode"),
        ("uH4sIAAAAAAAAA-3BMQEAAADCoPVPbQwfoAAAAAAAAAAAAAAAA", "does not decode"),
        (_encoded(bytes(100)), "at least 131072"),
        (_encoded(bytes(17 * 1024 * 1024)), "larger than any"),
    ],
)
def test_bad_lists_are_refused(encoded: str, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        StatusBits.decode(encoded)


def test_subject_and_entries() -> None:
    url = "http://127.0.0.1:8000/v1/status-lists/CN-SH/revocation"
    bits = StatusBits.empty()
    subject = status_list_subject(url, "revocation", bits)
    assert subject["type"] == "BitstringStatusList"
    assert subject["id"] == url + "#list"
    entry = status_entry(url, "suspension", 4242)
    assert entry == {
        "id": url + "#4242",
        "type": "BitstringStatusListEntry",
        "statusPurpose": "suspension",
        "statusListIndex": "4242",
        "statusListCredential": url,
    }
    assert entry_index(entry) == 4242
    for bad in ("04242", "-1", 4242, ""):
        with pytest.raises(InvalidInput):
            entry_index({**entry, "statusListIndex": bad})
    with pytest.raises(InvalidInput):
        status_entry(url, "message", 1)
    with pytest.raises(InvalidInput):
        StatusBits.empty(MIN_ENTRIES - 8)
    with pytest.raises(InvalidInput):
        bits.get(MIN_ENTRIES)
