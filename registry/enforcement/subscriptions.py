"""Subscriptions as their owners manage them: subscribe, list, cancel, rotate the
secret, read the delivery log.

A subscription belongs to the token that made it. Another caller is told there is no
such subscription (``NotFound``), so that ids cannot be probed; an admin may read any
subscription's delivery log, but only the owner lists, cancels or re-keys its own.
"""

from __future__ import annotations

import json
import re
import secrets
import uuid
from datetime import datetime

import httpx
from sqlmodel import Session, col, delete, select

from registry.enforcement.addresses import AddressPolicy
from registry.enforcement.feed import end_cursor
from registry.enforcement.webhooks import KINDS, URL_PATTERN
from registry.errors import FieldError, InvalidInput, NotFound
from registry.ids import parse_credit_code
from registry.storage.models import Delivery, Subscription
from registry.tokens import Caller

__all__ = [
    "cancel_subscription",
    "create_subscription",
    "deliveries_of",
    "rotate_secret",
    "subscriptions_of",
]


def _new_secret() -> str:
    return secrets.token_urlsafe(32)


def create_subscription(
    session: Session,
    caller: Caller,
    *,
    url: str,
    credit_codes: list[str],
    kinds: list[str] | None,
    policy: AddressPolicy,
    now: datetime,
) -> tuple[Subscription, str]:
    """Add a subscription from now on (changes before it are not sent); returns it
    and its secret, which is shown this once. The caller commits.

    Raises ``InvalidInput`` for a URL that is not http(s), whose host does not resolve
    or resolves to an address ``policy`` does not allow, no credit code, or an
    unknown kind of change."""
    if not re.fullmatch(URL_PATTERN, url):
        raise InvalidInput(
            "the URL is an http or https URL with a host name or IPv4 address, "
            "an optional port, and no spaces"
        )
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, ValueError) as exc:
        raise InvalidInput("the URL is not one a POST can be sent to") from exc
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise InvalidInput("the URL is an http or https URL")
    if not credit_codes:
        raise InvalidInput("a subscription names at least one credit code")
    codes = sorted({parse_credit_code(code).code for code in credit_codes})
    chosen = sorted(set(kinds or KINDS))
    unknown = sorted(set(chosen) - set(KINDS))
    if unknown:
        raise InvalidInput(
            f"no kind of change {', '.join(unknown)}; kinds: {', '.join(KINDS)}",
            errors=(FieldError("kinds", f"unknown: {', '.join(unknown)}"),),
        )
    policy.check(parsed.host, parsed.port or (443 if parsed.scheme == "https" else 80))
    secret = _new_secret()
    row = Subscription(
        id=f"sub_{uuid.uuid4().hex}",
        token_id=caller.token_id,
        url=url,
        filter=json.dumps({"creditCodes": codes, "kinds": chosen}, ensure_ascii=False),
        secret=secret,
        cursor=end_cursor(session),
        created_at=now,
    )
    session.add(row)
    session.flush()
    return row, secret


def _own(
    session: Session, subscription_id: str, caller: Caller, *, admin: bool = False
) -> Subscription:
    row = session.get(Subscription, subscription_id)
    if row is None or (row.token_id != caller.token_id and not (admin and caller.role == "admin")):
        raise NotFound(f"no subscription {subscription_id}")
    return row


def subscriptions_of(session: Session, caller: Caller) -> list[Subscription]:
    """The caller's own subscriptions, oldest first."""
    return list(
        session.exec(
            select(Subscription)
            .where(col(Subscription.token_id) == caller.token_id)
            .order_by(col(Subscription.created_at), col(Subscription.id))
        )
    )


def cancel_subscription(session: Session, subscription_id: str, caller: Caller) -> None:
    """End the caller's subscription: nothing more is queued or sent, and its delivery
    log goes with it. Raises ``NotFound`` unless it is the caller's. The caller
    commits."""
    row = _own(session, subscription_id, caller)
    # Under the row's lock, as deliveries take it: one in flight finishes first.
    session.exec(
        select(Subscription).where(col(Subscription.id) == row.id).with_for_update()
    ).first()
    session.exec(delete(Delivery).where(col(Delivery.subscription_id) == row.id))
    session.delete(row)
    session.flush()


def rotate_secret(
    session: Session, subscription_id: str, caller: Caller
) -> tuple[Subscription, str]:
    """Give the caller's subscription a new secret, returned this once; every delivery
    attempt from now on is signed with it (pending ones included). Raises ``NotFound``
    unless it is the caller's. The caller commits."""
    row = _own(session, subscription_id, caller)
    secret = _new_secret()
    row.secret = secret
    session.add(row)
    session.flush()
    return row, secret


def deliveries_of(session: Session, subscription_id: str, caller: Caller) -> list[Delivery]:
    """The subscription's delivery log, oldest first; raises ``NotFound`` unless it
    is the caller's (or the caller is an admin)."""
    row = _own(session, subscription_id, caller, admin=True)
    return list(
        session.exec(
            select(Delivery)
            .where(col(Delivery.subscription_id) == row.id)
            .order_by(col(Delivery.sequence))
        )
    )
