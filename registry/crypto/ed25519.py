"""Ed25519 signature verification, by libsodium (PyNaCl).

Keys and signing stay with ``cryptography``. Verification, which a node does for
every entry it mirrors from a peer and every credential it is asked about, goes
through libsodium's ``crypto_sign_open``: on this project's machines about twice as
fast as OpenSSL's (``bench/crypto.py`` prints both). Both implement RFC 8032's
Ed25519; libsodium is the stricter, refusing also a public key or an ``R`` of small
order and non-canonical encodings, none of which an honest signer produces.
"""

from __future__ import annotations

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from nacl.exceptions import BadSignatureError, CryptoError
from nacl.signing import VerifyKey

__all__ = ["verify_signature"]


def verify_signature(public_key: Ed25519PublicKey, signature: bytes, message: bytes) -> None:
    """Check ``signature`` over ``message`` by ``public_key``; raises
    ``cryptography.exceptions.InvalidSignature`` if it does not verify (a signature
    of the wrong length included), as ``Ed25519PublicKey.verify`` would."""
    try:
        VerifyKey(public_key.public_bytes_raw()).verify(message, signature)
    except (BadSignatureError, CryptoError, TypeError, ValueError) as exc:
        raise InvalidSignature from exc
