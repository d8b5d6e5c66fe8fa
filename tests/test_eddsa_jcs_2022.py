"""eddsa-jcs-2022 proofs: one negative test per verification step, proof sets, round trips."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from registry.crypto.eddsa_jcs_2022 import (
    add_proof,
    add_proofs_canonical,
    create_proof,
    hash_data,
    resolve_did_key,
    verify_proof,
    verify_proof_set,
)
from registry.crypto.jcs import canonical_bytes, canonical_members, join_members
from registry.crypto.keys import Ed25519Signer
from registry.crypto.multikey import encode_multibase
from registry.errors import (
    InvalidInput,
    KeyResolutionError,
    MalformedProofValue,
    ProofConfigurationError,
    ProofMissing,
    SignatureMismatch,
    TransformationError,
)

SIGNER = Ed25519Signer.generate()
OTHER = Ed25519Signer.generate()
CREATED = datetime(2026, 11, 1, 8, 0, tzinfo=UTC)


def _document() -> dict[str, Any]:
    return {
        "@context": ["https://www.w3.org/ns/credentials/v2"],
        "id": "urn:uuid:0b0d7f3e-5d4b-4d39-9b1a-000000000001",
        "type": ["VerifiableCredential", "SafetyEngineerQualification"],
        "issuer": "urn:yrd-registry:authority:CN-JS",
        "validFrom": "2026-11-01T00:00:00Z",
        "credentialSubject": {"name": "张三", "category": "chemical", "level": "junior"},
    }


def _signed() -> dict[str, Any]:
    return add_proof(_document(), SIGNER, created=CREATED)


@pytest.mark.parametrize("count", [1, 1000])  # one thread, and several
def test_add_proofs_canonical_signs_as_add_proof_and_gives_the_signed_bytes(count: int) -> None:
    documents = [{**_document(), "id": f"urn:uuid:{n}"} for n in range(count)]
    signers = [SIGNER if n % 3 else OTHER for n in range(count)]
    signed = add_proofs_canonical(documents, signers, created=CREATED)
    assert len(signed) == count
    for document, signer, (secured, canonical) in zip(documents, signers, signed, strict=True):
        # Ed25519 is deterministic: exactly add_proof's proof value, in the right place.
        assert secured == add_proof(document, signer, created=CREATED)
        assert canonical == canonical_bytes(secured)
    verify_proof(signed[-1][0], resolve_key=resolve_did_key)


def test_add_proofs_canonical_refuses_what_cannot_be_signed() -> None:
    with pytest.raises(InvalidInput, match="signed already"):
        add_proofs_canonical([_signed()], [SIGNER])
    with pytest.raises(InvalidInput, match="no canonical form"):
        add_proofs_canonical([{**_document(), "n": 2**60}], [SIGNER])


def test_round_trip() -> None:
    verified = verify_proof(_signed(), resolve_key=resolve_did_key)
    assert verified.verification_method == SIGNER.verification_method
    assert verified.proof_purpose == "assertionMethod"
    assert verified.created == CREATED


def test_step1_missing_proof() -> None:
    with pytest.raises(ProofMissing, match=r"step 1 .*no proof"):
        verify_proof(_document(), resolve_key=resolve_did_key)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("type", "Ed25519Signature2020", "proof type must be DataIntegrityProof"),
        ("cryptosuite", "eddsa-rdfc-2022", "cryptosuite must be eddsa-jcs-2022"),
        ("cryptosuite", None, "cryptosuite must be eddsa-jcs-2022"),
        ("previousProof", "urn:uuid:1", "proof chains"),
        ("verificationMethod", "", "verificationMethod is missing"),
    ],
)
def test_step2_wrong_type_or_cryptosuite(field: str, value: Any, message: str) -> None:
    document = _signed()
    document["proof"][field] = value
    with pytest.raises(ProofConfigurationError, match=message):
        verify_proof(document, resolve_key=resolve_did_key)


def test_step3_wrong_purpose() -> None:
    with pytest.raises(ProofConfigurationError, match="proofPurpose is 'assertionMethod'"):
        verify_proof(_signed(), expected_purpose="authentication", resolve_key=resolve_did_key)


def test_step4_malformed_created() -> None:
    document = _signed()
    document["proof"]["created"] = "2026-11-01 08:00:00"
    with pytest.raises(ProofConfigurationError, match="created is not an XML Schema dateTimeStamp"):
        verify_proof(document, resolve_key=resolve_did_key)


def test_step4_expired_proof() -> None:
    document = _signed()
    document["proof"]["expires"] = "2026-12-01T00:00:00Z"
    # Within the window, the signature check is what fails (expires was not signed).
    with pytest.raises(SignatureMismatch):
        verify_proof(document, at=CREATED, resolve_key=resolve_did_key)
    with pytest.raises(ProofConfigurationError, match="expired"):
        verify_proof(document, at=CREATED + timedelta(days=60), resolve_key=resolve_did_key)


def test_step5_context_not_a_prefix() -> None:
    document = _signed()
    document["@context"] = ["https://www.w3.org/ns/credentials/examples/v2"]
    with pytest.raises(ProofConfigurationError, match="does not start with the proof's"):
        verify_proof(document, resolve_key=resolve_did_key)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (None, "proofValue is missing"),
        ("u" + "A" * 86, "starting with 'z'"),
        ("z0OIl", "not valid base58btc"),
        (encode_multibase(b"\x01" * 63), "64 bytes, not 63"),
    ],
)
def test_step6_malformed_proof_value(value: str | None, message: str) -> None:
    document = _signed()
    document["proof"]["proofValue"] = value
    with pytest.raises(MalformedProofValue, match=message):
        verify_proof(document, resolve_key=resolve_did_key)


def test_step7_unresolvable_verification_method() -> None:
    document = _signed()
    document["proof"]["verificationMethod"] = "https://example.test/keys/1"
    with pytest.raises(KeyResolutionError, match="not a did:key URL"):
        verify_proof(document, resolve_key=resolve_did_key)


def test_step7_resolver_decides_the_key() -> None:
    # The URL names SIGNER, but the trusted resolver says the method is OTHER's key.
    def resolver(_method: str) -> Ed25519PublicKey:
        return OTHER.public_key

    with pytest.raises(SignatureMismatch):
        verify_proof(_signed(), resolve_key=resolver)


def test_step8_document_without_canonical_form() -> None:
    document = _signed()
    document["credentialSubject"]["hours"] = 2**60
    with pytest.raises(TransformationError, match="no canonical JSON form"):
        verify_proof(document, resolve_key=resolve_did_key)


def test_step9_changed_document() -> None:
    document = _signed()
    document["credentialSubject"]["category"] = "coal-mine"
    with pytest.raises(SignatureMismatch, match=r"step 9 .*does not match"):
        verify_proof(document, resolve_key=resolve_did_key)


def test_step9_changed_proof_option() -> None:
    document = _signed()
    document["proof"]["created"] = "2026-11-02T08:00:00Z"
    with pytest.raises(SignatureMismatch):
        verify_proof(document, resolve_key=resolve_did_key)


def test_step9_wrong_key() -> None:
    document = _signed()
    # A valid signature by another key, presented under SIGNER's method.
    forged = add_proof(_document(), OTHER, created=CREATED)
    document["proof"]["proofValue"] = forged["proof"]["proofValue"]
    with pytest.raises(SignatureMismatch):
        verify_proof(document, resolve_key=resolve_did_key)


def test_creating_a_proof_over_non_canonical_data_is_refused() -> None:
    document = _document()
    document["credentialSubject"]["hours"] = float("nan")
    with pytest.raises(InvalidInput):
        create_proof(document, SIGNER)


def test_naive_created_is_refused() -> None:
    with pytest.raises(InvalidInput, match="time zone"):
        create_proof(_document(), SIGNER, created=datetime(2026, 1, 1))  # noqa: DTZ001


def test_proof_set_each_proof_verifies_on_its_own() -> None:
    three = [Ed25519Signer.generate() for _ in range(3)]
    document = _document()
    for signer in three:
        document = add_proof(document, signer, created=CREATED)
    assert isinstance(document["proof"], list)
    assert len(document["proof"]) == 3
    verified = verify_proof_set(document, resolve_key=resolve_did_key)
    assert [v.verification_method for v in verified] == [s.verification_method for s in three]
    # Any one proof, alone on the document, verifies too: none depends on the others.
    for proof in document["proof"]:
        verify_proof({**document, "proof": proof}, resolve_key=resolve_did_key)


def test_proof_set_with_one_bad_proof_is_rejected() -> None:
    document = _document()
    for signer in (SIGNER, OTHER, Ed25519Signer.generate()):
        document = add_proof(document, signer, created=CREATED)
    document["proof"][1]["created"] = "2026-11-02T08:00:00Z"  # no longer what was signed
    with pytest.raises(SignatureMismatch, match="proof 2 of 3"):
        verify_proof_set(document, resolve_key=resolve_did_key)


def test_proof_set_counts_no_proof_twice() -> None:
    document = add_proof(_document(), SIGNER, created=CREATED)
    document["proof"] = [document["proof"], dict(document["proof"])]
    with pytest.raises(ProofConfigurationError, match="same proof more than once"):
        verify_proof_set(document, resolve_key=resolve_did_key)


def test_expiry_is_checked_against_now_by_default() -> None:
    document = _document()
    proof = create_proof(document, SIGNER, created=CREATED)
    del proof["proofValue"]
    proof["expires"] = "2026-11-02T00:00:00Z"
    # Sign the options including expires, as an issuer setting an expiry would.
    proof["proofValue"] = encode_multibase(SIGNER.sign(hash_data(document, proof)))
    signed = {**document, "proof": proof}
    verify_proof(signed, resolve_key=resolve_did_key, at=CREATED)
    with pytest.raises(ProofConfigurationError, match="expired"):
        verify_proof(signed, resolve_key=resolve_did_key)
    with pytest.raises(InvalidInput, match="time zone"):
        verify_proof(signed, resolve_key=resolve_did_key, at=datetime(2026, 11, 1))  # noqa: DTZ001


def test_step5_context_that_is_not_a_list() -> None:
    document = {**_document(), "@context": "https://www.w3.org/ns/credentials/v2"}
    signed = add_proof(document, SIGNER, created=CREATED)
    verify_proof(signed, resolve_key=resolve_did_key)
    signed["@context"] = "https://www.w3.org/ns/credentials/examples/v2"
    with pytest.raises(ProofConfigurationError, match="does not match the document's"):
        verify_proof(signed, resolve_key=resolve_did_key)


def test_lone_surrogate_key_is_a_transformation_error() -> None:
    document = _signed()
    document["credentialSubject"]["\ud800"] = 1
    with pytest.raises(TransformationError):
        verify_proof(document, resolve_key=resolve_did_key)


def test_single_proof_verify_refuses_a_set() -> None:
    document = add_proof(_signed(), OTHER, created=CREATED)
    with pytest.raises(ProofConfigurationError, match="proof set"):
        verify_proof(document, resolve_key=resolve_did_key)


def test_proof_set_needs_a_proof() -> None:
    with pytest.raises(ProofMissing):
        verify_proof_set(_document(), resolve_key=resolve_did_key)


# --- Hypothesis: sign, then any change to the document fails -----------------

_json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**53) + 1, max_value=2**53 - 1)
    | st.text(max_size=20)
)
_json = st.recursive(
    _json_scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)
_documents = st.dictionaries(
    st.text(min_size=1, max_size=10).filter(lambda k: k not in ("proof", "@context")),
    _json,
    min_size=1,
    max_size=6,
)


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    paths = [prefix] if prefix else []
    if isinstance(value, dict):
        for key, child in value.items():
            paths += _paths(child, (*prefix, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            paths += _paths(child, (*prefix, index))
    return paths


@settings(max_examples=150, deadline=None)
@given(document=_documents)
def test_hypothesis_round_trip(document: dict[str, Any]) -> None:
    verify_proof(add_proof(document, SIGNER), resolve_key=resolve_did_key)


@settings(max_examples=150, deadline=None)
@given(document=_documents, data=st.data())
def test_hypothesis_any_change_fails(document: dict[str, Any], data: st.DataObject) -> None:
    signed = add_proof(document, SIGNER)
    tampered = copy.deepcopy(signed)
    paths = _paths({k: v for k, v in tampered.items() if k != "proof"})
    path = data.draw(st.sampled_from(paths))
    parent = tampered
    for part in path[:-1]:
        parent = parent[part]
    old = parent[path[-1]]
    kind = data.draw(st.sampled_from(["replace", "delete", "add"]))
    if kind == "delete" and isinstance(parent, dict):
        del parent[path[-1]]
    elif kind == "add" and isinstance(parent, dict):
        key = data.draw(st.text(max_size=8).filter(lambda k: k not in parent))
        parent[key] = data.draw(_json)
    else:
        parent[path[-1]] = data.draw(_json.filter(lambda v: v != old or type(v) is not type(old)))
    # A "change" that leaves the canonical bytes as they were is no change at all.
    assume(canonical_bytes(tampered) != canonical_bytes(signed))
    with pytest.raises(SignatureMismatch):
        verify_proof(tampered, resolve_key=resolve_did_key)


def test_the_members_a_caller_gives_are_what_is_verified() -> None:
    """A node that canonicalised the document already (for its leaf) gives its members;
    they, not the document canonicalised again, are hashed: members of a changed
    document fail, those of the document pass."""
    signed = _signed()
    verify_proof(signed, resolve_key=resolve_did_key, members=canonical_members(signed))
    changed = copy.deepcopy(signed)
    changed["credentialSubject"]["category"] = "coal-mine"
    with pytest.raises(SignatureMismatch):
        verify_proof(signed, resolve_key=resolve_did_key, members=canonical_members(changed))
    assert join_members(canonical_members(signed)) == canonical_bytes(signed)
