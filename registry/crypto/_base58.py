"""Base58btc (the Bitcoin alphabet) for multibase keys and proof values.

The ``base58`` package converts one base-58 digit per big-integer division, which
costs as much as half an Ed25519 signature on every proof. This converts ten
digits per big-integer division and two per table lookup, and decodes two digits a
step. The test suite checks it
against ``base58`` on arbitrary bytes (tests/test_base58.py).
"""

from __future__ import annotations

__all__ = ["b58decode", "b58encode"]

ALPHABET = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
_INDEX = {char: value for value, char in enumerate(ALPHABET)}
_PAIRS = tuple(a + b for a in ALPHABET for b in ALPHABET)
_PAIR_VALUES = {pair: value for value, pair in enumerate(_PAIRS)}
_PAIR = 58 * 58
_CHUNK = 58**10


def b58encode(data: bytes) -> str:
    """Base58btc of ``data``; each leading zero byte becomes a leading ``1``."""
    number = int.from_bytes(data, "big")
    parts: list[str] = []
    while number:
        number, chunk = divmod(number, _CHUNK)
        # Ten digits per chunk, two at a time, least significant pair first.
        for _ in range(4):
            chunk, pair = divmod(chunk, _PAIR)
            parts.append(_PAIRS[pair])
        parts.append(_PAIRS[chunk])
    digits = "".join(reversed(parts)).lstrip("1")
    zeros = len(data) - len(data.lstrip(b"\0"))
    return "1" * zeros + digits


def b58decode(text: str) -> bytes:
    """Bytes of a base58btc string; raises ``ValueError`` on a character outside the alphabet."""
    # Two digits per step; an odd-length text starts with one.
    odd = len(text) % 2
    try:
        number = _INDEX[text[0]] if odd else 0
        for at in range(odd, len(text), 2):
            number = number * _PAIR + _PAIR_VALUES[text[at : at + 2]]
    except KeyError:
        bad = next(char for char in text if char not in _INDEX)
        raise ValueError(f"invalid base58 character {bad!r}") from None
    zeros = len(text) - len(text.lstrip("1"))
    body = number.to_bytes((number.bit_length() + 7) // 8, "big") if number else b""
    return b"\0" * zeros + body
