"""Idempotency keys: a retried request gets the first result, never a second record.

A key belongs to a role (the tokens of one office share them). Only an HMAC of the
request body is kept, never the body, which holds ID numbers. The key's row is
written before the work, in the same transaction: a concurrent request with the
same key waits on it and is then refused, so the work happens once.

``issue_once`` and ``change_once`` are the issuing and status-change paths with a
key: they do the work, or rebuild from what the key names exactly what the first
request answered (``registry.issuing.replay``).
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from registry.credentials.lifecycle import StatusChangeIn
from registry.credentials.records import RecordIn
from registry.crypto.jcs import canonical_bytes
from registry.errors import Conflict, FieldError, Forbidden, InvalidInput
from registry.issuing.changes import change_status, get_record
from registry.issuing.context import IssuingContext
from registry.issuing.receipts import Issuer, record_receipt
from registry.issuing.records import IssuedRecord, issue_records
from registry.issuing.replay import (
    AnsweredItem,
    ChangeAnswer,
    IssueAnswer,
    change_answered,
    issue_answered,
)
from registry.storage.models import IdempotencyKey

__all__ = [
    "Single",
    "change_once",
    "issue_each",
    "issue_once",
    "recall",
    "remember",
    "request_digest",
    "settle",
]

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


def _own(role: str, authority: str) -> None:
    if role != f"issuer:{authority}":
        raise Forbidden(f"role {role} may not act for {authority}")


def _recall_or_claim(
    session: Session,
    context: IssuingContext,
    *,
    role: str,
    key: str | None,
    scope: str,
    body_json: Any,
) -> tuple[list[str] | None, IdempotencyKey | None]:
    """What the key's first use produced, or else the claim on it (none without a key)."""
    if key is None:
        return None, None
    digest = request_digest(body_json, node_secret=context.node_secret, scope=scope)
    ids = recall(session, role=role, key=key, digest=digest)
    if ids:
        return ids, None
    return None, remember(session, role=role, key=key, digest=digest)


def issue_once(
    session: Session,
    context: IssuingContext,
    items: Sequence[RecordIn],
    *,
    role: str,
    idempotency_key: str | None,
    scope: str,
    body_json: Any,
    field_prefix: str | None = None,
    receipt_for: Issuer | None = None,
    now: datetime | None = None,
) -> IssueAnswer:
    """Issue ``items`` for ``role`` (``issue_records``), or, for a key used before with
    the same request, answer again what that request answered, writing nothing.

    ``scope`` names the operation and ``body_json`` is the request as sent (JSON
    values): the key's digest is over both. Raises ``Forbidden`` unless ``role`` is
    the issuer of every item's authority; ``InvalidInput`` for a malformed key, a key
    used with another request, or what ``issue_records`` refuses; ``Conflict`` while
    another request holds the key; ``Inconsistency`` if what the key names is not
    stored and logged whole.

    With ``receipt_for``, the issue gets a receipt (``registry.issuing.receipts``),
    each item numbered by its index, whose id the answer carries.
    """
    for item in items:
        _own(role, item.authority)
    replay, claim = _recall_or_claim(
        session, context, role=role, key=idempotency_key, scope=scope, body_json=body_json
    )
    if replay:
        return issue_answered(session, replay)
    now = (now or datetime.now(UTC)).replace(microsecond=0)
    issued = issue_records(session, context, items, field_prefix=field_prefix, now=now)
    if claim is not None:
        settle(session, claim, [record.credential.id for record in issued.records])
    receipt_id = None
    if receipt_for is not None:
        kinds = {item.type for item in items}
        receipt_id = record_receipt(
            session,
            kind="batch",
            authority=items[0].authority,
            issuer=receipt_for,
            rows=[(i, record.credential.id) for i, record in enumerate(issued.records)],
            record_type=kinds.pop() if len(kinds) == 1 else None,
            now=now,
        )
    return IssueAnswer(
        items=tuple(_answered(record) for record in issued.records),
        tree_size=issued.log.size,
        checkpoint=issued.log.checkpoint,
        replayed=False,
        receipt_id=receipt_id,
    )


@dataclass(frozen=True)
class Single:
    """One request to issue one record: the record, the caller's role, its
    idempotency key if any, and the request as sent (JSON values)."""

    item: RecordIn
    role: str
    idempotency_key: str | None
    body_json: Any


def issue_each(
    session: Session,
    context: IssuingContext,
    singles: Sequence[Single],
    *,
    scope: str,
    now: datetime | None = None,
) -> list[IssueAnswer]:
    """Issue single requests of one authority together: one ``issue_records``, so one
    append and one checkpoint, with each answered (in order) as ``issue_once`` would
    answer it alone, the checkpoint being the one that covers all of them.

    Raises whatever ``issue_once`` would raise for any one of them (and for what one
    refuses only because of another, such as a CE credit that another repeats); the
    caller's transaction then writes nothing, and the caller issues each alone to give
    each its own answer.
    """
    now = (now or datetime.now(UTC)).replace(microsecond=0)
    answers: dict[int, IssueAnswer] = {}
    fresh: list[tuple[int, IdempotencyKey | None]] = []
    for n, single in enumerate(singles):
        _own(single.role, single.item.authority)
        replay, claim = _recall_or_claim(
            session,
            context,
            role=single.role,
            key=single.idempotency_key,
            scope=scope,
            body_json=single.body_json,
        )
        if replay:
            answers[n] = issue_answered(session, replay)
        else:
            fresh.append((n, claim))
    if fresh:
        issued = issue_records(session, context, [singles[n].item for n, _ in fresh], now=now)
        for (n, claim), record in zip(fresh, issued.records, strict=True):
            if claim is not None:
                settle(session, claim, [record.credential.id])
            answers[n] = IssueAnswer(
                items=(_answered(record),),
                tree_size=issued.log.size,
                checkpoint=issued.log.checkpoint,
                replayed=False,
            )
    return [answers[n] for n in range(len(singles))]


def _answered(record: IssuedRecord) -> AnsweredItem:
    return AnsweredItem(
        credential_id=record.credential.id,
        canonical=record.credential.canonical,
        state=record.state,
        leaf_index=record.leaf_index,
        status_change=record.status_change,
    )


def change_once(
    session: Session,
    context: IssuingContext,
    credential_id: str,
    change: StatusChangeIn,
    *,
    role: str,
    idempotency_key: str | None,
    scope: str,
    body_json: Any,
    now: datetime | None = None,
) -> ChangeAnswer:
    """Apply ``change`` to the record for ``role`` (``change_status``), or, for a key
    used before with the same request, answer again what that request answered,
    writing nothing.

    ``scope`` and ``body_json`` as for ``issue_once``. Raises ``NotFound`` for no such
    record, then ``Forbidden`` unless ``role`` is the issuer of its authority; then as
    ``issue_once`` for the key, and what ``change_status`` raises.
    """
    record = get_record(session, credential_id)
    _own(role, record.authority_code)
    replay, claim = _recall_or_claim(
        session, context, role=role, key=idempotency_key, scope=scope, body_json=body_json
    )
    if replay:
        return change_answered(session, replay[0])
    changed = change_status(session, context, credential_id, change, now=now)
    if claim is not None:
        settle(session, claim, [changed.credential.id])
    return ChangeAnswer(
        credential_id=changed.credential.id,
        canonical=changed.credential.canonical,
        state=changed.state,
        leaf_index=changed.leaf_index,
        tree_size=changed.log.size,
        checkpoint=changed.log.checkpoint,
        replayed=False,
    )
