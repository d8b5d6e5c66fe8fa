"""Subscriptions: each change of the feed that matches, POSTed to the receiver, signed.

A subscription names a URL and a filter (credit codes: the organisations a listing
names, or the employer of a registration; and optionally which kinds of change).
``serve_subscription`` does two things for one subscription, each in its own
transaction (``registry.enforcement.dispatcher`` runs it for every subscription):

1. queue: read the feed from its cursor, add one delivery per matching change
   (unique per subscription and change, so never twice) and move the cursor,
   together: a change is queued or the cursor stays before it;
2. deliver: its pending deliveries in feed order, each as a JSON POST signed with
   HMAC-SHA256 under the subscription's secret. A 2xx answer marks it delivered;
   anything else, no answer, or no complete answer within the deadline (wall-clock
   time from connecting to the answer's last byte) leaves it pending, to be tried
   again after a backoff that doubles from 5 s up to an hour, for as long as it
   takes. Later deliveries wait for it, so a receiver sees changes in order.

Every attempt carries the same delivery id (``X-Registry-Delivery``): a receiver
that answered late, and gets the same delivery again, deduplicates on it.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import re
import secrets
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import Engine
from sqlmodel import Session, col, func, select

from registry.enforcement.feed import FeedItem, end_cursor, read_changes
from registry.errors import InvalidInput, NotFound
from registry.ids import parse_credit_code
from registry.storage.db import session_scope
from registry.storage.models import Delivery, RecordParty, Subscription
from registry.tokens import Caller

__all__ = [
    "KINDS",
    "URL_PATTERN",
    "Attempt",
    "create_subscription",
    "deliveries_of",
    "http_post",
    "serve_subscription",
    "signature",
    "subscriptions_in_turn",
]

logger = logging.getLogger(__name__)

KINDS = ("listing", "listing-change", "registration", "registration-change")
_FIRST_BACKOFF = timedelta(seconds=5)
_LONGEST_BACKOFF = timedelta(hours=1)


@dataclass(frozen=True)
class Attempt:
    """What one POST got: the status code, or the error that stopped it."""

    status: int | None
    error: str | None = None

    @property
    def ok(self) -> bool:
        """Whether the receiver took it (a 2xx answer)."""
        return self.status is not None and 200 <= self.status < 300


URL_PATTERN = (
    r"^[Hh][Tt][Tt][Pp][Ss]?://"
    r"([A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*"
    r")"
    r"(:(6553[0-5]|655[0-2][0-9]|65[0-4][0-9]{2}|6[0-4][0-9]{3}|[1-5][0-9]{4}|[1-9][0-9]{0,3}))?"
    r"([/?#][!-~]*)?$"
)
"""The URLs a subscription may name: http or https, a host name or an IPv4 address (labels of
letters, digits and hyphens, joined by dots), a port from 1 to 65535 if any, then a path,
query or fragment of printable ASCII."""


def http_post(url: str, body: bytes, headers: dict[str, str], *, deadline: float) -> Attempt:
    """POST ``body`` and read the whole answer within ``deadline`` seconds of wall-clock
    time, connecting and sending included: an attempt still running then is cut off.
    A failure is the attempt's error, never raised."""
    # Timeouts per read, as httpx has them, do not bound an attempt: a receiver that
    # sends a byte every few seconds never lets one expire. The request runs on an
    # event loop of its own, and the deadline cancels it wherever it is.
    loop = asyncio.new_event_loop()
    try:
        return loop.run_until_complete(_post(url, body, headers, deadline))
    except (TimeoutError, httpx.TimeoutException):
        return Attempt(None, f"no complete answer within {deadline:g} s")
    except Exception:
        # Named only by kind: the delivery log is not a way to probe the network.
        return Attempt(None, "no connection to the receiver")
    finally:
        # Without waiting for the loop's helper threads: a name lookup the deadline
        # gave up on finishes on its own.
        loop.close()


async def _post(url: str, body: bytes, headers: dict[str, str], deadline: float) -> Attempt:
    async with asyncio.timeout(deadline), httpx.AsyncClient(timeout=deadline) as client:
        async with client.stream("POST", url, content=body, headers=headers) as response:
            async for _ in response.aiter_raw():
                pass  # read to its end, kept nowhere: only the status counts
        return Attempt(response.status_code)


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """``sha256=`` and the hex HMAC-SHA256 of ``timestamp.body`` under ``secret``."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def create_subscription(
    session: Session,
    caller: Caller,
    *,
    url: str,
    credit_codes: list[str],
    kinds: list[str] | None,
    now: datetime,
) -> tuple[Subscription, str]:
    """Add a subscription from now on (changes before it are not sent); returns it
    and its secret, which is shown this once. The caller commits."""
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
        raise InvalidInput(f"no kind of change {', '.join(unknown)}; kinds: {', '.join(KINDS)}")
    secret = secrets.token_urlsafe(32)
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


def deliveries_of(session: Session, subscription_id: str, caller: Caller) -> list[Delivery]:
    """The subscription's delivery log, oldest first; raises ``NotFound`` unless it
    is the caller's (or the caller is an admin)."""
    row = session.get(Subscription, subscription_id)
    if row is None or (row.token_id != caller.token_id and caller.role != "admin"):
        raise NotFound(f"no subscription {subscription_id}")
    return list(
        session.exec(
            select(Delivery)
            .where(col(Delivery.subscription_id) == subscription_id)
            .order_by(col(Delivery.sequence))
        )
    )


def subscriptions_in_turn(session: Session) -> list[str]:
    """Every subscription's id, in the order to serve them: those whose next delivery
    has failed fewest times first (none at all, or nothing pending, before any that
    has failed), then the oldest subscription first."""
    failures = dict(
        session.exec(
            select(Delivery.subscription_id, func.max(Delivery.attempts))
            .where(col(Delivery.state) == "pending")
            .group_by(col(Delivery.subscription_id))
        ).all()
    )
    ids = session.exec(
        select(Subscription.id).order_by(col(Subscription.created_at), col(Subscription.id))
    ).all()
    # Only the first pending delivery of a subscription is ever tried (the others
    # wait for it), so the most attempts among them are the first one's.
    return sorted(ids, key=lambda subscription_id: failures.get(subscription_id, 0))


def serve_subscription(
    engine: Engine,
    subscription_id: str,
    *,
    clock: Callable[[], datetime],
    deadline: float,
) -> int:
    """Queue the subscription's new matching changes, then try its due deliveries in
    order, each attempt within ``deadline`` seconds; returns how many were delivered.
    Each step holds a lock on the subscription's row (``SKIP LOCKED``: a subscription
    another dispatcher is busy with is left alone)."""
    with session_scope(engine) as session:
        subscription = _locked(session, subscription_id)
        if subscription is not None:
            _queue(session, subscription, clock())
    return _deliver(engine, subscription_id, clock=clock, deadline=deadline)


def _locked(session: Session, subscription_id: str) -> Subscription | None:
    return session.exec(
        select(Subscription)
        .where(col(Subscription.id) == subscription_id)
        .with_for_update(skip_locked=True)
    ).first()


def _queue(session: Session, subscription: Subscription, now: datetime) -> None:
    wanted = json.loads(subscription.filter)
    codes, kinds = set(wanted["creditCodes"]), set(wanted["kinds"])
    cursor = subscription.cursor
    sequence = _last_sequence(session, subscription.id)
    while True:
        page = read_changes(session, since=cursor, limit=1000)
        organisations = _organisations(session, page.items)
        for item in page.items:
            record = item.target or item.credential_id
            if item.kind in kinds and organisations.get(record, set()) & codes:
                sequence += 1
                delivery_id = f"dlv_{uuid.uuid4().hex}"
                session.add(
                    Delivery(
                        id=delivery_id,
                        subscription_id=subscription.id,
                        change_id=f"{item.authority}/{item.leaf_index}",
                        sequence=sequence,
                        body=_body(delivery_id, subscription.id, item),
                        state="pending",
                        next_attempt_at=now,
                        created_at=now,
                    )
                )
        cursor = page.next
        if not page.more:
            break
    subscription.cursor = cursor
    session.add(subscription)


def _last_sequence(session: Session, subscription_id: str) -> int:
    last = session.exec(
        select(Delivery.sequence)
        .where(col(Delivery.subscription_id) == subscription_id)
        .order_by(col(Delivery.sequence).desc())
        .limit(1)
    ).first()
    return int(last or 0)


def _organisations(session: Session, items: list[FeedItem]) -> dict[str, set[str]]:
    records = {item.target or item.credential_id for item in items}
    found: dict[str, set[str]] = {}
    if not records:
        return found
    rows = session.exec(
        select(RecordParty.credential_id, RecordParty.credit_code).where(
            col(RecordParty.credential_id).in_(sorted(records)),
            col(RecordParty.credit_code).is_not(None),
        )
    ).all()
    for credential_id, code in rows:
        found.setdefault(credential_id, set()).add(str(code))
    return found


def _body(delivery_id: str, subscription_id: str, item: FeedItem) -> str:
    payload: dict[str, Any] = {
        "delivery": delivery_id,
        "subscription": subscription_id,
        "change": item.as_json(),
    }
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":"))


def _deliver(
    engine: Engine, subscription_id: str, *, clock: Callable[[], datetime], deadline: float
) -> int:
    delivered = 0
    while True:
        now = clock()
        with session_scope(engine) as session:
            subscription = _locked(session, subscription_id)
            if subscription is None:
                return delivered
            pending = session.exec(
                select(Delivery)
                .where(
                    col(Delivery.subscription_id) == subscription_id,
                    col(Delivery.state) == "pending",
                )
                .order_by(col(Delivery.sequence))
                .limit(1)
            ).first()
            if pending is None or pending.next_attempt_at > now:
                return delivered
            body = pending.body.encode()
            timestamp = str(int(time.time()))  # when it is sent, for the receiver to check
            headers = {
                "Content-Type": "application/json",
                "X-Registry-Delivery": pending.id,
                "X-Registry-Timestamp": timestamp,
                "X-Registry-Signature": signature(subscription.secret, timestamp, body),
            }
            attempt = http_post(subscription.url, body, headers, deadline=deadline)
            ended = clock()  # the backoff counts from the attempt's end, not its start
            pending.attempts += 1
            pending.last_status = attempt.status
            pending.last_error = attempt.error
            if attempt.ok:
                pending.state = "delivered"
                pending.delivered_at = ended
                delivered += 1
            else:
                wait = min(_FIRST_BACKOFF * 2 ** (pending.attempts - 1), _LONGEST_BACKOFF)
                pending.next_attempt_at = ended + wait
            session.add(pending)
            if not attempt.ok:
                return delivered
