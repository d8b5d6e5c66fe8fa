"""Idempotency keys: a retried request gets the first result, never a second record.

A key belongs to a role (the tokens of one office share them). Only an HMAC of the
request body is kept, never the body, which holds ID numbers. The key's row is
written before the work, in the same transaction: a concurrent request with the
same key waits on it and is then refused, so the work happens once.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from registry.crypto.jcs import canonical_bytes
from registry.errors import Conflict, FieldError, InvalidInput
from registry.storage.models import IdempotencyKey

__all__ = ["recall", "remember", "request_digest", "settle"]

_KEY = re.compile(r"^[\x21-\x7e]{1,255}$")


def request_digest(body: Any, *, node_secret: bytes, scope: str) -> str:
    """An HMAC of the request (its path and canonical body) under the node secret."""
    message = scope.encode("utf-8") + b"\n" + canonical_bytes(body)
    return hmac.new(node_secret, message, hashlib.sha256).hexdigest()


def _valid(key: str) -> str:
    if not _KEY.match(key):
        raise InvalidInput(
            "bad Idempotency-Key",
            errors=(FieldError("Idempotency-Key", "1 to 255 printable ASCII characters"),),
        )
    return key


def recall(session: Session, *, role: str, key: str, digest: str) -> list[str] | None:
    """The credential ids the first request with this key produced, if there was one.

    Raises ``InvalidInput`` if the key was used with a different request.
    """
    row = session.get(IdempotencyKey, (role, _valid(key)))
    if row is None:
        return None
    if not hmac.compare_digest(row.request_digest, digest):
        raise InvalidInput(
            "this Idempotency-Key was used with a different request",
            errors=(FieldError("Idempotency-Key", "already used with a different request"),),
        )
    return list(row.credential_ids)


def remember(
    session: Session,
    *,
    role: str,
    key: str,
    digest: str,
    now: datetime | None = None,
) -> IdempotencyKey:
    """Claim the key before the work; fill in the result with ``settle``.

    Raises ``Conflict`` if another request claimed it first (retry to get its result).
    """
    row = IdempotencyKey(
        role=role,
        key=_valid(key),
        request_digest=digest,
        credential_ids=[],
        created_at=now or datetime.now(UTC),
    )
    session.add(row)
    try:
        session.flush()
    except IntegrityError as exc:
        raise Conflict(
            "a request with this Idempotency-Key is being processed; retry to get its result"
        ) from exc
    return row


def settle(session: Session, row: IdempotencyKey, credential_ids: Sequence[str]) -> None:
    """Record what the request produced under its key."""
    row.credential_ids = list(credential_ids)
    session.add(row)
    session.flush()
