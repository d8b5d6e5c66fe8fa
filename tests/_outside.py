"""An outside verifier: checks what the registry serves with nothing of the registry's
own code, from the specifications (vc-di-eddsa, RFC 9162, C2SP signed-note) and the
trust list alone."""

from __future__ import annotations

import base64
import hashlib
from typing import Any

import base58
import rfc8785
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

__all__ = [
    "inclusion_root",
    "issuing_key",
    "leaf_hash",
    "log_verifier_key",
    "note_signed_by",
    "verify_consistency",
    "verify_eddsa_jcs_2022",
]


def issuing_key(trust_list: dict[str, Any], verification_method: str) -> str:
    """The Multikey a trust list gives for a verification method."""
    for member in trust_list["credentialSubject"]["members"]:
        for key in member["issuingKeys"]:
            if key["id"] == verification_method:
                return str(key["publicKeyMultibase"])
    raise AssertionError(f"{verification_method} is in no member's keys")


def verify_eddsa_jcs_2022(document: dict[str, Any], public_key_multibase: str) -> None:
    """vc-di-eddsa §3.3 (eddsa-jcs-2022): raises if the proof does not verify."""
    proof = dict(document["proof"])
    unsecured = {k: v for k, v in document.items() if k != "proof"}
    proof_value = proof.pop("proofValue")
    assert proof["type"] == "DataIntegrityProof"
    assert proof["cryptosuite"] == "eddsa-jcs-2022"
    if "@context" in proof:
        assert proof["@context"] == document["@context"]
    digest = hashlib.sha256(rfc8785.dumps(proof)).digest()
    digest += hashlib.sha256(rfc8785.dumps(unsecured)).digest()
    assert proof_value.startswith("z")
    assert public_key_multibase.startswith("z")
    key = base58.b58decode(public_key_multibase[1:])
    assert key[:2] == b"\xed\x01"
    Ed25519PublicKey.from_public_bytes(key[2:]).verify(base58.b58decode(proof_value[1:]), digest)


def leaf_hash(document: dict[str, Any]) -> bytes:
    """RFC 9162 leaf hash of a credential's canonical bytes."""
    return hashlib.sha256(b"\x00" + rfc8785.dumps(document)).digest()


def inclusion_root(leaf: bytes, index: int, size: int, hashes: list[str]) -> bytes:
    """RFC 9162 §2.1.3.2: the root an inclusion proof leads to."""
    assert index < size
    fn, sn, node = index, size - 1, leaf
    for encoded in hashes:
        sibling = base64.b64decode(encoded)
        assert sn != 0
        if fn & 1 or fn == sn:
            node = hashlib.sha256(b"\x01" + sibling + node).digest()
            if not fn & 1:
                while fn & 1 == 0 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            node = hashlib.sha256(b"\x01" + node + sibling).digest()
        fn >>= 1
        sn >>= 1
    assert sn == 0
    return node


def log_verifier_key(trust_list: dict[str, Any], authority: str) -> str:
    """The C2SP verifier key a trust list gives for an authority's log."""
    for member in trust_list["credentialSubject"]["members"]:
        if member["code"] == authority:
            return str(member["log"]["verifierKey"])
    raise AssertionError(f"{authority} is not a member")


def note_signed_by(note: str, verifier_key: str) -> tuple[str, int, bytes]:
    """C2SP signed-note + tlog-checkpoint: check the named key's Ed25519 signature and
    return (origin, size, root). Other signatures are ignored."""
    name, key_id_hex, key_b64 = verifier_key.split("+", 2)
    key = base64.b64decode(key_b64)
    assert key[0] == 0x01
    text, _, signatures = note.partition("\n\n")
    text += "\n"
    for line in signatures.splitlines():
        if not line.startswith("\u2014 "):
            continue
        signer, encoded = line[2:].split(" ")
        raw = base64.b64decode(encoded)
        if signer == name and raw[:4].hex() == key_id_hex:
            Ed25519PublicKey.from_public_bytes(key[1:]).verify(raw[4:], text.encode())
            origin, size, root = text.splitlines()[:3]
            return origin, int(size), base64.b64decode(root)
    raise AssertionError(f"no signature by {name} on the note")


def verify_consistency(
    first: int, second: int, first_root: bytes, second_root: bytes, hashes: list[str]
) -> None:
    """RFC 9162 §2.1.4.2: raises unless the proof links the two roots."""
    path = [base64.b64decode(h) for h in hashes]
    assert 0 < first <= second
    if first == second:
        assert not path
        assert first_root == second_root
        return
    if first & (first - 1) == 0:  # a power of two: the first root is the first node
        path = [first_root, *path]
    assert path
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for node in path[1:]:
        assert sn != 0
        if fn & 1 or fn == sn:
            fr = hashlib.sha256(b"\x01" + node + fr).digest()
            sr = hashlib.sha256(b"\x01" + node + sr).digest()
            if not fn & 1:
                while fn & 1 == 0 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = hashlib.sha256(b"\x01" + sr + node).digest()
        fn >>= 1
        sn >>= 1
    assert sn == 0
    assert fr == first_root
    assert sr == second_root
