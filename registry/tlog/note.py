"""C2SP ``signed-note`` keys (c2sp.org/signed-note), Ed25519 only (signature type 0x01).

A verifier key is written ``<name>+<hex key ID>+<base64(0x01 || 32-byte public key)>``,
where the key ID is the first four bytes of SHA-256(name || 0x0A || 0x01 || key).
The key name of a log's key is the log's origin (``registry.yrd.example/CN-SH``).
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
    "verifier_key",
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


def key_id(name: str, public_key: Ed25519PublicKey, signature_type: bytes = ED25519) -> bytes:
    """The 4-byte key ID: SHA-256(name || 0x0A || type || public key)[:4]."""
    _check_name(name)
    material = name.encode("utf-8") + b"\n" + signature_type + raw_public_bytes(public_key)
    return hashlib.sha256(material).digest()[:4]


def verifier_key(name: str, public_key: Ed25519PublicKey) -> str:
    """The verifier key string of ``public_key`` under ``name``."""
    encoded = base64.b64encode(ED25519 + raw_public_bytes(public_key)).decode("ascii")
    return f"{name}+{key_id(name, public_key).hex()}+{encoded}"


@dataclass(frozen=True)
class NoteVerifierKey:
    """A parsed verifier key whose key ID matches its name and key."""

    name: str
    key_id: bytes
    public_key: Ed25519PublicKey


def parse_verifier_key(text: str) -> NoteVerifierKey:
    """Parse and check a verifier key; raises ``InvalidKeyEncoding`` if anything is off."""
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
    if len(material) != 33 or material[:1] != ED25519:
        raise InvalidKeyEncoding(f"verifier key {name!r} is not an Ed25519 (0x01) key")
    public_key = Ed25519PublicKey.from_public_bytes(material[1:])
    if key_id(name, public_key) != claimed:
        raise InvalidKeyEncoding(f"verifier key {name!r}: the key ID does not match the key")
    return NoteVerifierKey(name=name, key_id=claimed, public_key=public_key)
