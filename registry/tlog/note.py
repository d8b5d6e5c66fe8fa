"""C2SP ``signed-note`` keys (c2sp.org/signed-note): Ed25519 (signature type 0x01)
and timestamped Ed25519 cosignatures (type 0x04, c2sp.org/tlog-cosignature).

A verifier key is written ``<name>+<hex key ID>+<base64(type || 32-byte public key)>``,
where the key ID is the first four bytes of SHA-256(name || 0x0A || type || key).
The key name of a log's key is the log's origin (``registry.yrd.example/CN-SH``); a
witness's key (type 0x04) is named after the witness.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from registry.crypto.multikey import raw_public_bytes
from registry.errors import InvalidKeyEncoding

__all__ = [
    "COSIGNATURE",
    "ED25519",
    "NoteVerifierKey",
    "key_id",
    "log_origin",
    "parse_verifier_key",
    "parse_witness_key",
    "verifier_key",
    "witness_key",
    "witness_name",
]

ED25519 = b"\x01"
"""The signed-note signature type of plain Ed25519 signatures."""

COSIGNATURE = b"\x04"
"""The signature type of timestamped Ed25519 cosignatures (c2sp.org/tlog-cosignature)."""


def _check_name(name: str) -> None:
    # Key names are non-empty, with no whitespace and no "+" (signed-note, "Format").
    if not name or any(c.isspace() or c == "+" for c in name) or not name.isprintable():
        raise InvalidKeyEncoding(f"{name!r} is not a signed-note key name")


def log_origin(prefix: str, authority: str) -> str:
    """The origin of an authority's log, also its key name (``registry.yrd.example/CN-SH``)."""
    origin = f"{prefix.rstrip('/')}/{authority}"
    _check_name(origin)
    return origin


def witness_name(prefix: str, authority: str) -> str:
    """The key name of ``authority``'s witness under a node's log origin prefix,
    apart from every log's origin: ``registry.yrd.example/CN-SH/witness``."""
    name = f"{prefix.rstrip('/')}/{authority}/witness"
    _check_name(name)
    return name


def key_id(name: str, public_key: Ed25519PublicKey, signature_type: bytes = ED25519) -> bytes:
    """The 4-byte key ID: SHA-256(name || 0x0A || type || public key)[:4]."""
    _check_name(name)
    material = name.encode("utf-8") + b"\n" + signature_type + raw_public_bytes(public_key)
    return hashlib.sha256(material).digest()[:4]


def verifier_key(name: str, public_key: Ed25519PublicKey) -> str:
    """The verifier key string of ``public_key`` under ``name``."""
    return _vkey(name, public_key, ED25519)


def witness_key(name: str, public_key: Ed25519PublicKey) -> str:
    """The verifier key string of a witness's cosignature key (type 0x04)."""
    return _vkey(name, public_key, COSIGNATURE)


def _vkey(name: str, public_key: Ed25519PublicKey, signature_type: bytes) -> str:
    encoded = base64.b64encode(signature_type + raw_public_bytes(public_key)).decode("ascii")
    return f"{name}+{key_id(name, public_key, signature_type).hex()}+{encoded}"


@dataclass(frozen=True)
class NoteVerifierKey:
    """A parsed verifier key whose key ID matches its name and key."""

    name: str
    key_id: bytes
    public_key: Ed25519PublicKey


def parse_verifier_key(text: str) -> NoteVerifierKey:
    """Parse and check a verifier key; raises ``InvalidKeyEncoding`` if anything is off."""
    return _parse(text, ED25519)


def parse_witness_key(text: str) -> NoteVerifierKey:
    """Parse and check a witness's verifier key (type 0x04, its ``key_id`` the ID of
    its cosignatures); raises ``InvalidKeyEncoding`` if anything is off, a plain
    Ed25519 (0x01) key included: a log's key is never taken for a witness's."""
    return _parse(text, COSIGNATURE)


def _parse(text: str, signature_type: bytes) -> NoteVerifierKey:
    parts = text.split("+", 2) if isinstance(text, str) else []
    if len(parts) != 3:
        raise InvalidKeyEncoding("a verifier key reads name+keyid+key")
    name, hex_id, encoded = parts
    _check_name(name)
    try:
        claimed = bytes.fromhex(hex_id) if len(hex_id) == 8 else b""
        material = base64.b64decode(encoded, validate=True)
    except (ValueError, binascii.Error) as exc:
        raise InvalidKeyEncoding(f"verifier key {name!r} does not decode") from exc
    if len(claimed) != 4:
        raise InvalidKeyEncoding(f"verifier key {name!r}: the key ID is 8 hex digits")
    if len(material) != 33 or material[:1] != signature_type:
        kind = "an Ed25519 (0x01)" if signature_type == ED25519 else "a cosignature (0x04)"
        raise InvalidKeyEncoding(f"verifier key {name!r} is not {kind} key")
    public_key = Ed25519PublicKey.from_public_bytes(material[1:])
    if key_id(name, public_key, signature_type) != claimed:
        raise InvalidKeyEncoding(f"verifier key {name!r}: the key ID does not match the key")
    return NoteVerifierKey(name=name, key_id=claimed, public_key=public_key)
