"""Storing and reading signed credentials as their canonical bytes."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from registry.crypto.jcs import sha256_hex
from registry.errors import Conflict, InvalidInput, NotFound
from registry.storage.base import bulk_insert
from registry.storage.models import StoredCredential

__all__ = [
    "Signed",
    "canonicals_by_id",
    "credential_id_of",
    "credentials_by_id",
    "document_of",
    "get_credential",
    "insert_signed",
]

_MAX_ID = 128  # the width of credential.id


def credential_id_of(document: Mapping[str, Any]) -> str:
    """The credential's ``id``; raises ``InvalidInput`` unless it is 1 to 128 characters."""
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
        credential_id = credential_id_of(document)
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


def canonicals_by_id(session: Session, ids: list[str]) -> dict[str, str]:
    """The canonical bytes (RFC 8785, as text) of the signed credentials with these ids,
    in one query, by id: what is passed on as it is signed, never parsed."""
    if not ids:
        return {}
    rows = session.exec(
        select(StoredCredential.id, StoredCredential.canonical).where(
            col(StoredCredential.id).in_(ids)
        )
    )
    return dict(rows.all())


def document_of(row: _HasCanonical) -> dict[str, Any]:
    """The signed credential a row holds, parsed from its canonical bytes."""
    value = json.loads(row.canonical)
    if not isinstance(value, dict):
        raise TypeError("a stored credential is a JSON object")
    return value
