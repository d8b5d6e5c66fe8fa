"""The one way to get the bytes that are signed, hashed or logged: RFC 8785 (JCS).

``canonical_bytes`` is defined by the ``rfc8785`` package. For the values the
registry signs almost exclusively (no floats, object keys without characters
beyond U+FFFF, integers within I-JSON's range, plain ``dict``/``list``/``str``)
the standard library's C JSON encoder with sorted keys writes exactly the same
bytes, several times faster: it escapes the same characters the same way, and
code-point order equals UTF-16 order for such keys. Anything outside that subset
goes to ``rfc8785``. tests/test_jcs.py checks both paths give the same bytes for
arbitrary JSON values.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
from collections.abc import Mapping
from typing import Any

import rfc8785

from registry.errors import InvalidInput

__all__ = ["Splice", "canonical_bytes", "canonical_members", "join_members", "sha256_hex"]

_INT_LIMIT = 2**53 - 1
_FLOAT_LOW, _FLOAT_HIGH = 1e-4, 1e16
# A value nested in itself never ends the walk; give up and let rfc8785 refuse it.
_MAX_NODES = 1_000_000
_ENCODER = json.JSONEncoder(
    ensure_ascii=False, sort_keys=True, separators=(",", ":"), allow_nan=False
)


def _plain_number(number: float) -> bool:
    if type(number) is int:
        return -_INT_LIMIT <= number <= _INT_LIMIT
    # Where Python's shortest round-trip repr is ECMAScript's Number::toString: no
    # exponent in either (1e-4 <= |x| < 1e16) and not integral ("48.0" vs "48").
    # Half-hours (8.5) are such numbers; others take the reference path.
    return _FLOAT_LOW <= abs(number) < _FLOAT_HIGH and not number.is_integer()


def _in_fast_subset(value: Any) -> bool:
    # Exact types only: subclasses (enums, custom mappings) take the reference path.
    # An explicit stack rather than recursion: this runs before every signature and
    # every verification. Strings, most of a credential, are passed over where they
    # are met rather than stacked.
    stack = [value]
    budget = _MAX_NODES
    while stack:
        budget -= 1
        if budget < 0:
            return False
        item = stack.pop()
        kind = type(item)
        if kind is dict:
            for key, member in item.items():
                if type(key) is not str or not (key.isascii() or max(key) <= "\uffff"):
                    return False
                if type(member) is not str:
                    stack.append(member)
        elif kind is list:
            stack.extend(member for member in item if type(member) is not str)
        elif kind is int or kind is float:
            if not _plain_number(item):
                return False
        elif not (kind is str or kind is bool or item is None):
            return False
    return True


def canonical_bytes(value: Any) -> bytes:
    """Return the RFC 8785 canonical UTF-8 bytes of a JSON value.

    Raises ``InvalidInput`` when the value is not I-JSON (for example an integer
    beyond 2**53, a float that is not finite, or a lone surrogate), since such a
    value has no canonical form and must not be signed.
    """
    if _in_fast_subset(value):
        try:
            return _ENCODER.encode(value).encode("utf-8")
        except UnicodeEncodeError:
            pass  # a lone surrogate: let the reference implementation say so
    try:
        return rfc8785.dumps(value)
    except (rfc8785.CanonicalizationError, UnicodeError, RecursionError) as exc:
        # UnicodeError: a lone surrogate in an object key (rfc8785 sorts keys as UTF-16).
        reason = str(exc) if isinstance(exc, rfc8785.CanonicalizationError) else type(exc).__name__
        raise InvalidInput(f"value has no canonical JSON form: {reason}") from exc


def canonical_members(value: Mapping[str, Any]) -> dict[str, bytes]:
    """A JSON object's members, each as its canonical ``"key":value`` bytes.

    ``join_members`` writes the object from them, so an object that differs from
    another by one member (a credential and the same credential with its proof) is
    written without canonicalising the rest a second time. Raises ``InvalidInput``
    as ``canonical_bytes`` does.
    """
    if _in_fast_subset(value):  # one check for all the members
        try:
            encode = _ENCODER.encode
            return {key: f"{encode(key)}:{encode(item)}".encode() for key, item in value.items()}
        except UnicodeEncodeError:
            pass  # a lone surrogate: let the reference implementation say so
    return {key: canonical_bytes(key) + b":" + canonical_bytes(item) for key, item in value.items()}


def join_members(members: Mapping[str, bytes]) -> bytes:
    """The canonical bytes of the object whose members ``canonical_members`` wrote,
    in JCS's key order (UTF-16 code units)."""
    ordered = sorted(members, key=lambda key: key.encode("utf-16-be"))
    return b"{" + b",".join(members[key] for key in ordered) + b"}"


def sha256_hex(data: bytes) -> str:
    """Lower-case hex SHA-256 of ``data``."""
    return hashlib.sha256(data).hexdigest()


_PLACEHOLDER = re.compile(rb'"([0-9a-f]{32}):(\d+)"')


class Splice:
    """Canonical texts placed verbatim into a value that is canonicalised later.

    A signed credential embedded in a larger document (a report carrying the
    credentials it relies on) is already stored in canonical form. ``embed`` takes
    that text and returns a placeholder string to put where the credential belongs;
    ``apply`` replaces each placeholder, quotes included, in the canonical bytes by
    its text. JCS writes a value the same wherever it sits, so the result is the
    canonical form of the document with the credentials in place, without parsing
    and writing each credential again. Placeholders carry a random nonce: no value
    holds one by chance or by design.

    The caller vouches that each embedded text is canonical JSON (as stored
    credentials are); tests/test_jcs.py checks the result equals canonicalising the
    whole.
    """

    def __init__(self) -> None:
        self._nonce = secrets.token_hex(16)
        self._texts: list[bytes] = []

    def embed(self, canonical: str | bytes) -> str:
        """The placeholder to put where ``canonical`` belongs."""
        self._texts.append(canonical.encode() if isinstance(canonical, str) else canonical)
        return f"{self._nonce}:{len(self._texts) - 1}"

    def apply(self, members: Mapping[str, bytes]) -> dict[str, bytes]:
        """Canonical members (as ``canonical_members`` writes them) with every
        placeholder replaced by its text. Raises ``InvalidInput`` unless each text
        was placed exactly once: one placed twice, or dropped, is a bug."""
        placed: list[int] = []
        nonce = self._nonce.encode()

        def text_of(match: re.Match[bytes]) -> bytes:
            if match.group(1) != nonce:  # another splice's: text like any other
                return match.group(0)
            placed.append(int(match.group(2)))
            return self._texts[placed[-1]]

        done = {key: _PLACEHOLDER.sub(text_of, value) for key, value in members.items()}
        if sorted(placed) != list(range(len(self._texts))):
            raise InvalidInput("embedded canonical texts were not each placed exactly once")
        return done
