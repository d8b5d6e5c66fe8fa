"""The registry's base58btc matches the reference ``base58`` package on any bytes."""

from __future__ import annotations

import base58
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from registry.crypto._base58 import b58decode, b58encode

_bytes = st.binary(max_size=80) | st.builds(
    lambda zeros, body: b"\0" * zeros + body, st.integers(0, 4), st.binary(max_size=70)
)


@settings(max_examples=1000, deadline=None)
@given(data=_bytes)
def test_encode_matches_reference_and_round_trips(data: bytes) -> None:
    encoded = b58encode(data)
    assert encoded == base58.b58encode(data).decode("ascii")
    assert b58decode(encoded) == data
    assert b58decode(encoded) == base58.b58decode(encoded)


@pytest.mark.parametrize(("data", "text"), [(b"", ""), (b"\0", "1"), (b"\0\0\x01", "112")])
def test_edges(data: bytes, text: str) -> None:
    assert b58encode(data) == text
    assert b58decode(text) == data


@pytest.mark.parametrize("text", ["0", "O", "I", "l", "abc+"])
def test_invalid_characters(text: str) -> None:
    with pytest.raises(ValueError, match="invalid base58 character"):
        b58decode(text)
