"""Data Integrity proofs with the ``eddsa-jcs-2022`` cryptosuite (W3C vc-di-eddsa, §3.3).

Creating a proof::

    proof config  = the proof options (type, cryptosuite, created, verificationMethod,
                    proofPurpose, and the document's @context)
    hash data     = SHA-256(JCS(proof config)) || SHA-256(JCS(document without proof))
    proofValue    = "z" + base58btc(Ed25519-sign(hash data))

Proof sets (several independent proofs on one document) follow vc-data-integrity
§4.3/§4.5: every proof in the set signs the document with its ``proof`` member
removed, so each verifies on its own. Proof chains (``previousProof``) are not
used by the registry and are rejected, not half-supported.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from registry.crypto.ed25519 import verify_signature
from registry.crypto.jcs import Splice, canonical_bytes, canonical_members, join_members
from registry.crypto.keys import Signer
from registry.crypto.multikey import (
    decode_multibase,
    encode_multibase,
    public_key_from_verification_method,
)
from registry.errors import (
    InvalidInput,
    InvalidKeyEncoding,
    KeyResolutionError,
    MalformedProofValue,
    ProofConfigurationError,
    ProofMissing,
    SignatureMismatch,
    TransformationError,
    VerificationError,
)

__all__ = [
    "ASSERTION_METHOD",
    "CRYPTOSUITE",
    "PROOF_TYPE",
    "KeyResolver",
    "VerifiedProof",
    "add_proof",
    "add_proofs_canonical",
    "create_proof",
    "format_datetime",
    "hash_data",
    "proofs_of",
    "resolve_did_key",
    "sign_each",
    "verify_proof",
    "verify_proof_set",
    "with_proofs",
]

CRYPTOSUITE = "eddsa-jcs-2022"
PROOF_TYPE = "DataIntegrityProof"
ASSERTION_METHOD = "assertionMethod"

KeyResolver = Callable[[str], Ed25519PublicKey]
"""Maps a verification-method URL to its public key, or raises ``KeyResolutionError``."""

# XML Schema dateTimeStamp: a date, a time and a mandatory zone.
_DATETIME_STAMP = re.compile(r"^-?\d{4,}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")


@dataclass(frozen=True)
class VerifiedProof:
    """What a proof that verified says about itself."""

    verification_method: str
    proof_purpose: str
    created: datetime | None


def format_datetime(moment: datetime) -> str:
    """Format an aware datetime as the UTC dateTimeStamp the registry writes (``...Z``)."""
    if moment.tzinfo is None:
        raise InvalidInput("timestamps must carry a time zone")
    utc = moment.astimezone(UTC)
    # Formatted by hand: strftime costs more than a tenth of the work around a signature.
    return (
        f"{utc.year:04d}-{utc.month:02d}-{utc.day:02d}"
        f"T{utc.hour:02d}:{utc.minute:02d}:{utc.second:02d}Z"
    )


def _aware(moment: datetime | None) -> datetime:
    if moment is None:
        return datetime.now(UTC)
    if moment.tzinfo is None:
        raise InvalidInput("the verification time must carry a time zone")
    return moment


def _parse_datetime_stamp(value: object, name: str) -> datetime:
    if not isinstance(value, str) or not _DATETIME_STAMP.match(value):
        raise ProofConfigurationError(f"{name} is not an XML Schema dateTimeStamp: {value!r}")
    try:
        return datetime.fromisoformat(value)
    except ValueError as exc:
        raise ProofConfigurationError(f"{name} is not a real date and time: {value!r}") from exc


def resolve_did_key(verification_method: str) -> Ed25519PublicKey:
    """Resolve a ``did:key`` verification method offline; any other method is refused.

    This establishes no trust: it only reads the key the URL spells out. Pass it
    as ``resolve_key`` where any signer will do (test vectors, self-checks); where
    it matters who signed, pass a resolver backed by the trust list or the database.
    """
    try:
        return public_key_from_verification_method(verification_method)
    except InvalidKeyEncoding as exc:
        raise KeyResolutionError(exc.message) from exc


def hash_data(unsecured_document: Mapping[str, Any], proof_config: Mapping[str, Any]) -> bytes:
    """SHA-256(JCS(proof config)) || SHA-256(JCS(document)): the 64 bytes that are signed.

    Raises ``TransformationError`` when either has no canonical JSON form.
    """
    try:
        document_bytes = canonical_bytes(unsecured_document)
    except InvalidInput as exc:
        raise TransformationError(exc.message) from exc
    return _hash_data(document_bytes, proof_config)


def _hash_data(document_bytes: bytes, proof_config: Mapping[str, Any]) -> bytes:
    try:
        config_bytes = canonical_bytes(proof_config)
    except InvalidInput as exc:
        raise TransformationError(exc.message) from exc
    return hashlib.sha256(config_bytes).digest() + hashlib.sha256(document_bytes).digest()


def _without_proof(document: Mapping[str, Any]) -> dict[str, Any]:
    # A shallow copy is enough: nothing below mutates nested values.
    return {key: value for key, value in document.items() if key != "proof"}


def _proof_over(
    unsecured: dict[str, Any], signer: Signer, *, created: datetime | None, proof_purpose: str
) -> dict[str, Any]:
    proof = _proof_config(unsecured, signer, created=created, proof_purpose=proof_purpose)
    try:
        to_sign = hash_data(unsecured, proof)
    except TransformationError as exc:
        raise InvalidInput(exc.reason) from exc
    proof["proofValue"] = encode_multibase(signer.sign(to_sign))
    return proof


def _proof_config(
    unsecured: Mapping[str, Any], signer: Signer, *, created: datetime | None, proof_purpose: str
) -> dict[str, Any]:
    proof: dict[str, Any] = {
        "type": PROOF_TYPE,
        "cryptosuite": CRYPTOSUITE,
        "created": format_datetime(created or datetime.now(UTC)),
        "verificationMethod": signer.verification_method,
        "proofPurpose": proof_purpose,
    }
    if "@context" in unsecured:
        proof["@context"] = unsecured["@context"]
    return proof


def create_proof(
    document: Mapping[str, Any],
    signer: Signer,
    *,
    created: datetime | None = None,
    proof_purpose: str = ASSERTION_METHOD,
) -> dict[str, Any]:
    """Create one ``eddsa-jcs-2022`` proof over ``document`` (its ``proof`` member ignored).

    ``created`` defaults to now. Returns the proof object, ``proofValue`` included.
    Raises ``InvalidInput`` if the document has no canonical JSON form.
    """
    return _proof_over(
        _without_proof(document), signer, created=created, proof_purpose=proof_purpose
    )


def proofs_of(document: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The document's proofs as a list (empty if it has none)."""
    proof = document.get("proof")
    if proof is None:
        return []
    if isinstance(proof, Mapping):
        return [proof]
    if isinstance(proof, list):
        return list(proof)
    raise ProofConfigurationError("proof must be an object or a list of objects")


def add_proof(
    document: Mapping[str, Any],
    signer: Signer,
    *,
    created: datetime | None = None,
    proof_purpose: str = ASSERTION_METHOD,
) -> dict[str, Any]:
    """Return a copy of ``document`` with one more proof.

    A document without a proof gets a single ``proof`` object; one that already has
    proofs gets a proof set (a list), each proof signing the document without them.
    """
    existing = proofs_of(document)
    secured = _without_proof(document)
    proof = _proof_over(secured, signer, created=created, proof_purpose=proof_purpose)
    secured["proof"] = [*existing, proof] if existing else proof
    return secured


def add_proofs_canonical(
    documents: Sequence[Mapping[str, Any]],
    signers: Sequence[Signer],
    *,
    created: datetime | None = None,
    proof_purpose: str = ASSERTION_METHOD,
    splice: Splice | None = None,
) -> list[tuple[dict[str, Any], bytes]]:
    """``add_proof`` for many documents without proofs, each by its own signer, with
    each signed document's canonical bytes; each document is canonicalised once.

    With ``splice`` (for one document), the document holds its placeholders, and
    what is signed and returned as bytes has its canonical texts in their place
    (the returned dictionary keeps the placeholders).

    The signatures are made on several threads (``sign_each``). Raises
    ``InvalidInput`` if a document has a proof already or no canonical form.
    """
    if splice is not None and len(documents) != 1:
        raise ValueError("a splice places its texts in one document")
    prepared = []
    for document, signer in zip(documents, signers, strict=True):
        if "proof" in document:
            raise InvalidInput("the document is signed already")
        secured = dict(document)
        try:
            members = canonical_members(secured)
            if splice is not None:
                members = splice.apply(members)
        except InvalidInput as exc:
            raise InvalidInput(f"the document has no canonical form: {exc.message}") from exc
        proof = _proof_config(secured, signer, created=created, proof_purpose=proof_purpose)
        try:
            to_sign = _hash_data(join_members(members), proof)
        except TransformationError as exc:
            raise InvalidInput(exc.reason) from exc
        prepared.append((secured, members, proof, to_sign))
    signatures = sign_each(
        [(signer, item[3]) for signer, item in zip(signers, prepared, strict=True)]
    )
    signed = []
    for (secured, members, proof, _), signature in zip(prepared, signatures, strict=True):
        proof["proofValue"] = encode_multibase(signature)
        secured["proof"] = proof
        members["proof"] = b'"proof":' + canonical_bytes(proof)
        signed.append((secured, join_members(members)))
    return signed


def sign_each(work: Sequence[tuple[Signer, bytes]]) -> list[bytes]:
    """Each message signed by its signer, in order, on up to ``_SIGNING_THREADS``
    threads for many: Ed25519 signing releases the interpreter lock."""
    threads = min(_SIGNING_THREADS, os.cpu_count() or 1, len(work) // _PER_THREAD)
    if threads < 2:
        return [signer.sign(message) for signer, message in work]
    size = -(-len(work) // threads)
    parts = [work[start : start + size] for start in range(0, len(work), size)]

    def sign_part(part: Sequence[tuple[Signer, bytes]]) -> list[bytes]:
        return [signer.sign(message) for signer, message in part]

    with ThreadPoolExecutor(max_workers=len(parts) - 1) as pool:
        later = [pool.submit(sign_part, part) for part in parts[1:]]
        signatures = sign_part(parts[0])
        for future in later:
            signatures.extend(future.result())
    return signatures


_SIGNING_THREADS = 4
_PER_THREAD = 200  # fewer signatures than this per thread are not worth a thread


def with_proofs(document: Mapping[str, Any], proofs: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """A copy of ``document`` carrying exactly ``proofs``: none, one object, or a set.

    Each proof signs the document without its proofs, so choosing which to carry
    leaves every one of them valid.
    """
    secured = _without_proof(document)
    if proofs:
        secured["proof"] = list(proofs) if len(proofs) > 1 else proofs[0]
    return secured


def _check_configuration(
    proof: Mapping[str, Any], *, expected_purpose: str, at: datetime
) -> tuple[str, str, datetime | None]:
    # 2. Only DataIntegrityProof with eddsa-jcs-2022; proof chains are refused.
    if proof.get("type") != PROOF_TYPE:
        raise ProofConfigurationError(f"proof type must be {PROOF_TYPE}, not {proof.get('type')!r}")
    if proof.get("cryptosuite") != CRYPTOSUITE:
        raise ProofConfigurationError(
            f"cryptosuite must be {CRYPTOSUITE}, not {proof.get('cryptosuite')!r}"
        )
    if "previousProof" in proof:
        raise ProofConfigurationError("proof chains (previousProof) are not accepted")
    verification_method = proof.get("verificationMethod")
    if not isinstance(verification_method, str) or not verification_method:
        raise ProofConfigurationError("verificationMethod is missing")

    # 3. The proof must be made for the purpose the verifier expects.
    purpose = proof.get("proofPurpose")
    if purpose != expected_purpose:
        raise ProofConfigurationError(f"proofPurpose is {purpose!r}, expected {expected_purpose!r}")

    # 4. created and expires, when present, are dateTimeStamps; expired proofs fail.
    created = _parse_datetime_stamp(proof["created"], "created") if "created" in proof else None
    if "expires" in proof:
        expires = _parse_datetime_stamp(proof["expires"], "expires")
        if at >= expires:
            raise ProofConfigurationError(f"the proof expired at {proof['expires']}")
    return verification_method, purpose, created


def _unsecured_document(document: Mapping[str, Any], proof: Mapping[str, Any]) -> dict[str, Any]:
    # 5. The proof's @context must be a prefix of the document's; it then replaces it.
    unsecured = _without_proof(document)
    if "@context" not in proof:
        return unsecured
    proof_context = proof["@context"]
    document_context = document.get("@context")
    if not isinstance(proof_context, list) or not isinstance(document_context, list):
        if proof_context != document_context:
            raise ProofConfigurationError("proof @context does not match the document's")
    elif document_context[: len(proof_context)] != proof_context:
        raise ProofConfigurationError("the document's @context does not start with the proof's")
    unsecured["@context"] = proof_context
    return unsecured


def _signature(proof: Mapping[str, Any]) -> bytes:
    # 6. proofValue is a base58btc multibase 64-byte signature.
    proof_value = proof.get("proofValue")
    if not isinstance(proof_value, str):
        raise MalformedProofValue("proofValue is missing or not a string")
    try:
        signature = decode_multibase(proof_value)
    except InvalidKeyEncoding as exc:
        raise MalformedProofValue(exc.message) from exc
    if len(signature) != 64:
        raise MalformedProofValue(f"an Ed25519 signature has 64 bytes, not {len(signature)}")
    return signature


def verify_proof(
    document: Mapping[str, Any],
    proof: Mapping[str, Any] | None = None,
    *,
    resolve_key: KeyResolver,
    expected_purpose: str = ASSERTION_METHOD,
    at: datetime | None = None,
    members: Mapping[str, bytes] | None = None,
) -> VerifiedProof:
    """Verify one ``eddsa-jcs-2022`` proof on ``document``.

    ``proof`` defaults to the document's single proof. ``resolve_key`` decides which
    key a verification method stands for: trust is the caller's to pass in. A proof
    with ``expires`` must not have expired at ``at`` (default: now). ``members``, the
    document's members as ``canonical_members`` wrote them, spares canonicalising it
    again when the caller has them (a node that also hashes the whole document).
    Returns what the proof states; raises a ``VerificationError`` subclass naming
    the failed step.
    """
    at = _aware(at)
    # 1. Find the proof.
    if proof is None:
        proofs = proofs_of(document)
        if not proofs:
            raise ProofMissing("the document has no proof")
        if len(proofs) > 1:
            raise ProofConfigurationError("the document carries a proof set; verify it as a set")
        proof = proofs[0]
    if not isinstance(proof, Mapping):
        raise ProofConfigurationError("a proof must be a JSON object")

    # 2.-4. Type, cryptosuite, purpose, dates.
    verification_method, purpose, created = _check_configuration(
        proof, expected_purpose=expected_purpose, at=at
    )
    # 5. @context.
    unsecured = _unsecured_document(document, proof)
    # 6. The signature bytes.
    signature = _signature(proof)

    # 7. Resolve the verification method: the resolver, not the URL, decides the key.
    public_key = resolve_key(verification_method)

    # 8. Canonicalise and hash the document and the proof options.
    options = {key: value for key, value in proof.items() if key != "proofValue"}
    if members is not None and proof.get("@context", document.get("@context")) == document.get(
        "@context"
    ):
        # The unsecured document is the document without its proof, member for member.
        joined = join_members({key: data for key, data in members.items() if key != "proof"})
        to_verify = _hash_data(joined, options)
    else:
        to_verify = hash_data(unsecured, options)

    # 9. Check the signature.
    try:
        verify_signature(public_key, signature, to_verify)
    except InvalidSignature as exc:
        raise SignatureMismatch(
            f"the signature by {verification_method} does not match the document"
        ) from exc
    return VerifiedProof(
        verification_method=verification_method, proof_purpose=purpose, created=created
    )


def verify_proof_set(
    document: Mapping[str, Any],
    *,
    resolve_key: KeyResolver,
    expected_purpose: str = ASSERTION_METHOD,
    at: datetime | None = None,
) -> tuple[VerifiedProof, ...]:
    """Verify every proof on ``document`` independently; all of them must hold.

    Returns one ``VerifiedProof`` per proof, in order. Raises the failing proof's
    ``VerificationError`` (same class), its message naming which proof of the set;
    a set carrying the same signature twice is refused, so nothing counts twice.
    """
    proofs: Sequence[Mapping[str, Any]] = proofs_of(document)
    if not proofs:
        raise ProofMissing("the document has no proof")
    values = [p.get("proofValue") if isinstance(p, Mapping) else None for p in proofs]
    if len({v for v in values if isinstance(v, str)}) < sum(isinstance(v, str) for v in values):
        raise ProofConfigurationError("the proof set carries the same proof more than once")
    verified = []
    for index, proof in enumerate(proofs, start=1):
        try:
            verified.append(
                verify_proof(
                    document,
                    proof,
                    resolve_key=resolve_key,
                    expected_purpose=expected_purpose,
                    at=at,
                )
            )
        except VerificationError as exc:
            raise type(exc)(f"proof {index} of {len(proofs)}: {exc.reason}") from exc
    return tuple(verified)
