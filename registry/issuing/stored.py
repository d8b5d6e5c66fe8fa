"""Credentials signed elsewhere, accepted into storage, and stored ones checked again.

``store_credential`` is the way in for a credential this node did not sign: it
verifies the proof under the node's record of keys before the row exists.
``verify_stored`` checks a stored credential with the log's evidence of when it
existed.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from registry.authorities import database_keys
from registry.credentials import authority_of, credential_type
from registry.credentials.keys import verify_signed
from registry.crypto.eddsa_jcs_2022 import proofs_of
from registry.crypto.jcs import canonical_bytes, sha256_hex
from registry.errors import Conflict, InvalidInput
from registry.storage.credentials import credential_id_of, document_of, get_credential
from registry.storage.models import StoredCredential
from registry.tlog.reader import entry_of, first_covering

__all__ = ["store_credential", "verify_stored"]


def store_credential(
    session: Session,
    document: Mapping[str, Any],
    *,
    subject_lookup: str | None = None,
    now: datetime | None = None,
) -> StoredCredential:
    """Verify a signed credential and add it to the session, keyed by id and by digest.

    The proof must verify under the key the database holds for its verification
    method, a key of the issuer allowed to sign this type at the proof's ``created``
    time (``registry.credentials.keys.key_standing`` judges it). The row keeps the JCS
    bytes exactly as signed. Raises ``InvalidInput`` for a document that is not a
    registry credential, a ``VerificationError`` for one that does not verify,
    ``Conflict`` if the id or the same bytes are stored already. The caller commits.
    """
    credential_id = credential_id_of(document)
    kind = credential_type(document)
    issuer = authority_of(document.get("issuer"))
    proofs = proofs_of(document)
    if len(proofs) != 1:
        raise InvalidInput("a stored credential carries exactly one proof")

    now = now or datetime.now(UTC)
    # Not logged yet: a key since reported compromised cannot vouch for it at all.
    verified, _ = verify_signed(
        document,
        proofs[0],
        directory=database_keys(session),
        credential_type=kind,
        authority=issuer,
        at=now,
        needs_log=True,
    )
    if verified.created is None:
        raise InvalidInput("the credential's proof has no created time")
    canonical = canonical_bytes(document)
    row = StoredCredential(
        id=credential_id,
        type=kind,
        issuer_code=issuer,
        verification_method=verified.verification_method,
        subject_lookup=subject_lookup,
        digest=sha256_hex(canonical),
        canonical=canonical.decode("utf-8"),
        signed_at=verified.created,
        recorded_at=now,
    )
    if session.get(StoredCredential, credential_id) is not None:
        raise Conflict(f"credential {credential_id} is already stored")
    session.add(row)
    try:
        session.flush()
    except IntegrityError as exc:
        raise Conflict(f"credential {credential_id} clashes with a stored one") from exc
    return row


def verify_stored(session: Session, credential_id: str, *, at: datetime | None = None) -> None:
    """Verify a stored credential now, with the log's evidence of when it existed.

    The key is judged as ``store_credential`` judges it, except that a key since
    reported compromised still vouches for the credential if a checkpoint signed
    before the compromise includes it. Raises ``NotFound`` or a
    ``VerificationError`` subclass saying what fails.
    """
    row = get_credential(session, credential_id)
    document = document_of(row)
    entry = entry_of(session, row.id)
    covering = first_covering(session, entry.authority_code, entry.leaf_index) if entry else None
    verify_signed(
        document,
        directory=database_keys(session),
        credential_type=row.type,
        authority=row.issuer_code,
        at=at or datetime.now(UTC),
        logged_at=covering.signed_at if covering else None,
        needs_log=True,
    )
