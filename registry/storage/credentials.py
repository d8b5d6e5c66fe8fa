"""Storing and reading signed credentials as their canonical bytes."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from registry.credentials import authority_of, credential_type
from registry.crypto.eddsa_jcs_2022 import proofs_of
from registry.crypto.jcs import canonical_bytes, sha256_hex
from registry.errors import Conflict, InvalidInput, NotFound
from registry.storage.models import Authority, SigningKey, StoredCredential

__all__ = ["document_of", "get_credential", "store_credential"]


def store_credential(
    session: Session,
    document: Mapping[str, Any],
    *,
    subject_lookup: str | None = None,
    now: datetime | None = None,
) -> StoredCredential:
    """Add a signed credential to the session, keyed by id and by digest.

    The row keeps the JCS bytes exactly as signed. Raises ``InvalidInput`` for an
    unsigned document or one that is not a registry credential, ``Conflict`` if the
    id or the same bytes are stored already. The caller commits.
    """
    proofs = proofs_of(document)
    if len(proofs) != 1:
        raise InvalidInput("a stored credential carries exactly one proof")
    proof = proofs[0]
    credential_id = document.get("id")
    if not isinstance(credential_id, str) or not credential_id:
        raise InvalidInput("the credential has no id")
    created = proof.get("created")
    if not isinstance(created, str):
        raise InvalidInput("the credential's proof has no created time")
    canonical = canonical_bytes(document)
    row = StoredCredential(
        id=credential_id,
        type=credential_type(document),
        issuer_code=authority_of(document.get("issuer")),
        verification_method=str(proof.get("verificationMethod")),
        subject_lookup=subject_lookup,
        digest=sha256_hex(canonical),
        canonical=canonical.decode("utf-8"),
        signed_at=datetime.fromisoformat(created),
        recorded_at=now or datetime.now(UTC),
    )
    if session.get(Authority, row.issuer_code) is None:
        raise InvalidInput(f"issuer {row.issuer_code} is not a known authority")
    if session.get(SigningKey, row.verification_method) is None:
        raise InvalidInput(f"signed by {row.verification_method}, which the registry does not know")
    if session.get(StoredCredential, credential_id) is not None:
        raise Conflict(f"credential {credential_id} is already stored")
    session.add(row)
    try:
        session.flush()
    except IntegrityError as exc:
        raise Conflict(f"credential {credential_id} clashes with a stored one") from exc
    return row


def get_credential(session: Session, credential_id: str) -> StoredCredential:
    """The stored credential with that id; raises ``NotFound``."""
    row = session.get(StoredCredential, credential_id)
    if row is None:
        raise NotFound(f"no credential {credential_id}")
    return row


def document_of(row: StoredCredential) -> dict[str, Any]:
    """The signed credential a row holds, parsed from its canonical bytes."""
    value = json.loads(row.canonical)
    if not isinstance(value, dict):
        raise TypeError("a stored credential is a JSON object")
    return value
