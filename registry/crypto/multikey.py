"""Ed25519 keys as Multikey strings and ``did:key`` verification-method URLs.

A Multikey public key is ``z`` (multibase base58btc) followed by base58btc of the
multicodec header ``0xed 0x01`` and the 32 raw key bytes, so every Ed25519 key
reads ``z6Mk...``. The ``did:key`` verification method for it is
``did:key:<multikey>#<multikey>``. Secret keys use the header ``0x80 0x26``
(they appear only in test vectors; the registry stores keys as encrypted PKCS#8).
"""

from __future__ import annotations

from functools import lru_cache

from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from registry.crypto._base58 import b58decode, b58encode
from registry.errors import InvalidKeyEncoding

__all__ = [
    "decode_multibase",
    "decode_private_multikey",
    "decode_public_multikey",
    "did_key_verification_method",
    "encode_multibase",
    "encode_public_multikey",
    "public_key_from_verification_method",
    "raw_public_bytes",
]

_ED25519_PUB_HEADER = b"\xed\x01"
_ED25519_PRIV_HEADER = b"\x80\x26"
_BASE58BTC_PREFIX = "z"
_DID_KEY_PREFIX = "did:key:"
# Keys and signatures are under 100 characters; base58 decoding is quadratic, so
# anything much longer is refused before it is decoded.
_MAX_MULTIBASE = 256


def encode_multibase(data: bytes) -> str:
    """Multibase base58btc: ``z`` + base58btc(data)."""
    return _BASE58BTC_PREFIX + b58encode(data)


def decode_multibase(value: str) -> bytes:
    """Decode a base58btc multibase string; raises ``InvalidKeyEncoding`` if it is not one."""
    if not isinstance(value, str) or not value.startswith(_BASE58BTC_PREFIX) or len(value) < 2:
        raise InvalidKeyEncoding("expected a base58btc multibase string starting with 'z'")
    if len(value) > _MAX_MULTIBASE:
        raise InvalidKeyEncoding(f"a multibase value longer than {_MAX_MULTIBASE} characters")
    try:
        return b58decode(value[1:])
    except ValueError as exc:
        raise InvalidKeyEncoding(f"not valid base58btc: {exc}") from exc


def raw_public_bytes(key: Ed25519PublicKey) -> bytes:
    """The 32 raw bytes of an Ed25519 public key."""
    return key.public_bytes(Encoding.Raw, PublicFormat.Raw)


def encode_public_multikey(key: Ed25519PublicKey) -> str:
    """``publicKeyMultibase`` of an Ed25519 key (``z6Mk...``)."""
    return encode_multibase(_ED25519_PUB_HEADER + raw_public_bytes(key))


@lru_cache(maxsize=4096)
def decode_public_multikey(value: str) -> Ed25519PublicKey:
    """Parse ``publicKeyMultibase``; raises ``InvalidKeyEncoding`` unless it is Ed25519.
    Cached: a verifier resolves the same few keys for every credential (a key object
    is immutable)."""
    data = decode_multibase(value)
    if len(data) != 34 or data[:2] != _ED25519_PUB_HEADER:
        raise InvalidKeyEncoding("not an Ed25519 Multikey (header 0xed01 and 32 key bytes)")
    return Ed25519PublicKey.from_public_bytes(data[2:])


def decode_private_multikey(value: str) -> Ed25519PrivateKey:
    """Parse ``secretKeyMultibase`` (header 0x8026); raises ``InvalidKeyEncoding``."""
    data = decode_multibase(value)
    if len(data) != 34 or data[:2] != _ED25519_PRIV_HEADER:
        raise InvalidKeyEncoding("not an Ed25519 secret Multikey (header 0x8026 and 32 bytes)")
    return Ed25519PrivateKey.from_private_bytes(data[2:])


def did_key_verification_method(key: Ed25519PublicKey) -> str:
    """The ``did:key`` verification-method URL of a key: ``did:key:z6Mk...#z6Mk...``."""
    multikey = encode_public_multikey(key)
    return f"{_DID_KEY_PREFIX}{multikey}#{multikey}"


def public_key_from_verification_method(url: str) -> Ed25519PublicKey:
    """Resolve a ``did:key`` verification-method URL to its key, offline.

    The fragment, when present, must name the same key as the DID. Raises
    ``InvalidKeyEncoding`` for any other DID method or a malformed URL.
    """
    if not isinstance(url, str) or not url.startswith(_DID_KEY_PREFIX):
        raise InvalidKeyEncoding(f"not a did:key URL: {url!r}")
    return _did_key(url)


@lru_cache(maxsize=4096)
def _did_key(url: str) -> Ed25519PublicKey:
    # Cached: a verifier meets the same few keys again and again, and keys are immutable.
    did, _, fragment = url[len(_DID_KEY_PREFIX) :].partition("#")
    if fragment and fragment != did:
        raise InvalidKeyEncoding("did:key fragment does not match the key it belongs to")
    return decode_public_multikey(did)
