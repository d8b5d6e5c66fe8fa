"""Member authorities and the keys the node holds for them."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime

from sqlmodel import Session, col, select

from registry.credentials import CREDENTIAL_TYPES
from registry.crypto.keys import KeyStore
from registry.errors import Conflict, InvalidInput, KeyResolutionError, NotFound
from registry.ids import province
from registry.storage.models import Authority, SigningKey

__all__ = [
    "ISSUING_TYPES",
    "create_authority",
    "get_authority",
    "issuing_key",
    "keys_of",
    "known_key",
    "list_authorities",
]

ISSUING_TYPES: tuple[str, ...] = tuple(
    t for t in CREDENTIAL_TYPES if t not in ("VerificationReport",)
)
"""What an authority's issuing key may sign: every record type but node reports."""


def _new_key(
    session: Session,
    key_store: KeyStore,
    *,
    authority: str,
    purpose: str,
    allowed_types: tuple[str, ...],
    now: datetime,
) -> SigningKey:
    name = f"{authority}-{purpose}-{now:%Y%m%d}-{secrets.token_hex(4)}"
    signer = key_store.create(name)
    key = SigningKey(
        verification_method=signer.verification_method,
        authority_code=authority,
        purpose=purpose,
        public_key_multibase=signer.public_key_multibase,
        allowed_types=list(allowed_types),
        valid_from=now,
        key_name=name,
        created_at=now,
    )
    session.add(key)
    return key


def create_authority(
    session: Session,
    key_store: KeyStore,
    *,
    code: str,
    name_zh: str,
    name_en: str,
    now: datetime | None = None,
) -> Authority:
    """Record an authority and generate its first issuing key and its log key.

    ``code`` is an ISO 3166-2 province code (``CN-SH``); the GB/T 2260 code is
    derived from it. Raises ``InvalidInput`` for a bad code or empty names and
    ``Conflict`` if the authority exists. The caller commits.
    """
    now = now or datetime.now(UTC)
    found = province(code)
    if found.iso != code.strip().upper():
        raise InvalidInput(
            f"an authority is named by its ISO 3166-2 code ({found.iso}), not {code}"
        )
    if not name_zh.strip() or not name_en.strip():
        raise InvalidInput("an authority needs a Chinese and an English name")
    if session.get(Authority, found.iso) is not None:
        raise Conflict(f"authority {found.iso} already exists")
    authority = Authority(
        code=found.iso,
        gb_code=found.gb,
        name_zh=name_zh.strip(),
        name_en=name_en.strip(),
        created_at=now,
    )
    session.add(authority)
    session.flush()
    _new_key(
        session,
        key_store,
        authority=found.iso,
        purpose="issuing",
        allowed_types=ISSUING_TYPES,
        now=now,
    )
    _new_key(session, key_store, authority=found.iso, purpose="log", allowed_types=(), now=now)
    session.flush()
    return authority


def list_authorities(session: Session) -> list[Authority]:
    """Every authority, ordered by code."""
    return list(session.exec(select(Authority).order_by(col(Authority.code))).all())


def get_authority(session: Session, code: str) -> Authority:
    """The authority with that ISO 3166-2 or GB/T 2260 code; raises ``NotFound``."""
    authority = session.get(Authority, province(code).iso)
    if authority is None:
        raise NotFound(f"no authority {code}")
    return authority


def keys_of(session: Session, code: str) -> list[SigningKey]:
    """An authority's keys, oldest first."""
    query = (
        select(SigningKey)
        .where(col(SigningKey.authority_code) == code)
        .order_by(col(SigningKey.valid_from), col(SigningKey.verification_method))
    )
    return list(session.exec(query).all())


def known_key(session: Session, verification_method: str) -> SigningKey:
    """The database's record of a verification method; raises ``KeyResolutionError``."""
    key = session.get(SigningKey, verification_method)
    if key is None:
        raise KeyResolutionError(f"{verification_method} is not a key the registry knows")
    return key


def issuing_key(
    session: Session,
    verification_method: str,
    *,
    authority: str,
    credential_type: str,
    signed_at: datetime,
) -> SigningKey:
    """The key behind ``verification_method``, if it may sign this credential then.

    It must be a known issuing key of ``authority``, allowed to sign
    ``credential_type``, within its validity window at ``signed_at`` and not
    compromised by then. Raises ``KeyResolutionError`` saying which of these fails.
    """
    key = known_key(session, verification_method)
    if key.authority_code != authority or key.purpose != "issuing":
        raise KeyResolutionError(f"{verification_method} is not an issuing key of {authority}")
    if credential_type not in key.allowed_types:
        raise KeyResolutionError(f"{verification_method} may not sign {credential_type}")
    if signed_at < key.valid_from or (key.valid_until is not None and signed_at >= key.valid_until):
        raise KeyResolutionError(f"{verification_method} was not valid at {signed_at.isoformat()}")
    if key.compromised_since is not None and signed_at >= key.compromised_since:
        since = key.compromised_since.isoformat()
        raise KeyResolutionError(f"{verification_method} was reported compromised from {since}")
    return key
