"""Ed25519 verification by libsodium (``registry.crypto.ed25519``) agrees with OpenSSL's
(``cryptography``) and with RFC 8032's test vectors."""

from __future__ import annotations

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from hypothesis import given, settings
from hypothesis import strategies as st

from registry.crypto.ed25519 import verify_signature

# RFC 8032, section 7.1: TEST 1 (the empty message), TEST 2 (one byte) and TEST 3.
RFC8032 = [
    (
        "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
        "",
        "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e06522490155"
        "5fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b",
    ),
    (
        "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c",
        "72",
        "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da"
        "085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00",
    ),
    (
        "fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025",
        "af82",
        "6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac"
        "18ff9b538d16f290ae67f760984dc6594a7c15e9716ed28dc027beceea1ec40a",
    ),
]


@pytest.mark.parametrize(("public", "message", "signature"), RFC8032)
def test_the_rfc_8032_vectors_verify(public: str, message: str, signature: str) -> None:
    key = Ed25519PublicKey.from_public_bytes(bytes.fromhex(public))
    verify_signature(key, bytes.fromhex(signature), bytes.fromhex(message))
    with pytest.raises(InvalidSignature):
        verify_signature(key, bytes.fromhex(signature), bytes.fromhex(message) + b"\0")


@settings(max_examples=60, deadline=None)
@given(
    message=st.binary(max_size=200),
    flip=st.integers(min_value=0, max_value=64 * 8 - 1),
    where=st.sampled_from(["signature", "message", "none"]),
)
def test_it_agrees_with_openssl(message: bytes, flip: int, where: str) -> None:
    private = Ed25519PrivateKey.generate()
    signature = bytearray(private.sign(message))
    signed = bytearray(message)
    if where == "signature":
        signature[flip // 8] ^= 1 << (flip % 8)
    elif where == "message":
        signed = bytearray(message or b"\0")
        signed[flip % len(signed)] ^= 1 << (flip % 8)
    try:
        private.public_key().verify(bytes(signature), bytes(signed))
        openssl = True
    except InvalidSignature:
        openssl = False
    try:
        verify_signature(private.public_key(), bytes(signature), bytes(signed))
        ours = True
    except InvalidSignature:
        ours = False
    assert ours == openssl == (where == "none")


@pytest.mark.parametrize("signature", [b"", b"\0" * 63, b"\0" * 65, b"\0" * 64])
def test_a_signature_of_the_wrong_shape_is_refused(signature: bytes) -> None:
    key = Ed25519PrivateKey.generate().public_key()
    with pytest.raises(InvalidSignature):
        verify_signature(key, signature, b"message")
