"""The W3C vc-di-eddsa eddsa-jcs-2022 vectors, reproduced byte for byte."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Any

from registry.crypto.eddsa_jcs_2022 import (
    create_proof,
    hash_data,
    resolve_did_key,
    verify_proof,
)
from registry.crypto.jcs import canonical_bytes
from registry.crypto.keys import Ed25519Signer
from registry.crypto.multikey import (
    decode_multibase,
    decode_private_multikey,
    encode_public_multikey,
)


def _signer(vectors: dict[str, str]) -> Ed25519Signer:
    pair = json.loads(vectors["keyPair.json"])
    signer = Ed25519Signer(private_key=decode_private_multikey(pair["privateKeyMultibase"]))
    assert encode_public_multikey(signer.public_key) == pair["publicKeyMultibase"]
    return signer


def _unsigned(signed: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in signed.items() if k != "proof"}


def _config(vectors: dict[str, str]) -> dict[str, Any]:
    value = json.loads(vectors["proofConfigJCS.json"])
    assert isinstance(value, dict)
    return value


def test_canonical_document(vectors: dict[str, str], signed_vector: dict[str, Any]) -> None:
    assert canonical_bytes(_unsigned(signed_vector)) == vectors["canonDocJCS.txt"].strip().encode()


def test_canonical_proof_configuration(vectors: dict[str, str]) -> None:
    assert canonical_bytes(_config(vectors)) == vectors["proofCanonJCS.txt"].strip().encode()


def test_hashes(vectors: dict[str, str], signed_vector: dict[str, Any]) -> None:
    document_hash = hashlib.sha256(canonical_bytes(_unsigned(signed_vector))).hexdigest()
    config_hash = hashlib.sha256(canonical_bytes(_config(vectors))).hexdigest()
    assert document_hash == vectors["docHashJCS.txt"].strip()
    assert config_hash == vectors["proofHashJCS.txt"].strip()
    combined = hash_data(_unsigned(signed_vector), _config(vectors)).hex()
    assert combined == vectors["combinedHashJCS.txt"].strip()


def test_signature_and_proof_value(vectors: dict[str, str], signed_vector: dict[str, Any]) -> None:
    created = datetime.fromisoformat(_config(vectors)["created"])
    proof = create_proof(_unsigned(signed_vector), _signer(vectors), created=created)
    assert proof["proofValue"] == vectors["sigBTC58JCS.txt"].strip()
    assert decode_multibase(proof["proofValue"]).hex() == vectors["sigHexJCS.txt"].strip()
    # The whole proof object, and so the whole signed document, is the vector's.
    assert {**_unsigned(signed_vector), "proof": proof} == signed_vector
    assert canonical_bytes({**_unsigned(signed_vector), "proof": proof}) == canonical_bytes(
        signed_vector
    )


def test_signed_vector_verifies(signed_vector: dict[str, Any]) -> None:
    verified = verify_proof(signed_vector, resolve_key=resolve_did_key)
    assert verified.verification_method == signed_vector["proof"]["verificationMethod"]
    assert verified.created == datetime.fromisoformat("2023-02-24T23:36:38+00:00")
