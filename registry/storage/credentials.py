"""Storing and reading signed credentials as their canonical bytes."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from registry.authorities import database_keys
from registry.credentials import authority_of, credential_type
from registry.crypto.eddsa_jcs_2022 import proofs_of
from registry.crypto.jcs import canonical_bytes, sha256_hex
from registry.errors import Conflict, InvalidInput, NotFound
from registry.storage.base import bulk_insert
from registry.storage.models import StoredCredential
from registry.tlog.reader import entry_of, first_covering
from registry.trust.keys import verify_signed

__all__ = [
    "Signed",
    "credentials_by_id",
    "document_of",
    "get_credential",
    "insert_signed",
    "store_credential",
    "verify_stored",
]

_MAX_ID = 128  # the width of credential.id


def _id_of(document: Mapping[str, Any]) -> str:
    credential_id = document.get("id")
    if not isinstance(credential_id, str) or not 0 < len(credential_id) <= _MAX_ID:
        raise InvalidInput(f"the credential needs an id of 1 to {_MAX_ID} characters")
    return credential_id


class _HasCanonical(Protocol):
    @property
    def canonical(self) -> str: ...


@dataclass(frozen=True)
class Signed:
    """A credential just signed and inserted: what its row holds, without the ORM."""

    id: str
    type: str
    issuer_code: str
    verification_method: str
    digest: str
    canonical: str


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
    time (``registry.trust.keys.key_standing`` judges it). The row keeps the JCS
    bytes exactly as signed. Raises ``InvalidInput`` for a document that is not a
    registry credential, a ``VerificationError`` for one that does not verify,
    ``Conflict`` if the id or the same bytes are stored already. The caller commits.
    """
    credential_id = _id_of(document)
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


def insert_signed(
    session: Session,
    documents: Sequence[Mapping[str, Any]],
    *,
    canonicals: Sequence[bytes],
    kinds: Sequence[str],
    authority: str,
    verification_methods: Sequence[str],
    subject_lookups: Sequence[str | None],
    now: datetime,
) -> list[Signed]:
    """Insert credentials this node has just signed, with their canonical bytes, in
    one statement.

    For the issuing path, which has chosen and checked the keys itself
    (``registry.issuance``); anything from outside goes through
    ``store_credential``. Raises ``InvalidInput`` for a bad id and ``Conflict`` if
    an id is stored already or repeats. The caller commits.
    """
    signed: list[Signed] = []
    for document, canonical, kind, method in zip(
        documents, canonicals, kinds, verification_methods, strict=True
    ):
        credential_id = _id_of(document)
        signed.append(
            Signed(
                id=credential_id,
                type=kind,
                issuer_code=authority,
                verification_method=method,
                digest=sha256_hex(canonical),
                canonical=canonical.decode("utf-8"),
            )
        )
    rows = [
        {
            "id": row.id,
            "type": row.type,
            "issuer_code": authority,
            "verification_method": row.verification_method,
            "subject_lookup": lookup,
            "digest": row.digest,
            "canonical": row.canonical,
            "signed_at": now,
            "recorded_at": now,
        }
        for row, lookup in zip(signed, subject_lookups, strict=True)
    ]
    ids = [row.id for row in signed]
    if len(set(ids)) != len(ids):
        raise Conflict("a credential id repeats in the batch")
    clash = session.exec(
        select(col(StoredCredential.id)).where(col(StoredCredential.id).in_(ids))
    ).first()
    if clash is not None:
        raise Conflict(f"credential {clash} is already stored")
    try:
        bulk_insert(session, StoredCredential, rows)
    except IntegrityError as exc:
        raise Conflict("a credential clashes with a stored one") from exc
    return signed


def get_credential(session: Session, credential_id: str) -> StoredCredential:
    """The stored credential with that id; raises ``NotFound``."""
    row = session.get(StoredCredential, credential_id)
    if row is None:
        raise NotFound(f"no credential {credential_id}")
    return row


def credentials_by_id(session: Session, ids: list[str]) -> dict[str, dict[str, Any]]:
    """The signed credentials with these ids, in one query, by id."""
    if not ids:
        return {}
    rows = session.exec(select(StoredCredential).where(col(StoredCredential.id).in_(ids)))
    return {row.id: document_of(row) for row in rows}


def document_of(row: _HasCanonical) -> dict[str, Any]:
    """The signed credential a row holds, parsed from its canonical bytes."""
    value = json.loads(row.canonical)
    if not isinstance(value, dict):
        raise TypeError("a stored credential is a JSON object")
    return value


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
