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
   takes. Later deliveries wait for it, so a receiver sees changes in order. Each
   attempt resolves the URL's host again and goes only to an address the node's
   ``AddressPolicy`` allows (``registry.enforcement.addresses``); a redirect is not
   followed (it is not a 2xx answer).

Every attempt carries the same delivery id (``X-Registry-Delivery``): a receiver
that answered late, and gets the same delivery again, deduplicates on it.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import ipaddress
import json
import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import Engine
from sqlmodel import Session, col, func, select

from registry.enforcement.addresses import AddressPolicy
from registry.enforcement.feed import FeedItem, read_changes
from registry.errors import InvalidInput
from registry.storage.db import session_scope
from registry.storage.models import Delivery, RecordParty, Subscription

__all__ = [
    "CONNECT_SECONDS",
    "KINDS",
    "URL_PATTERN",
    "Attempt",
    "http_post",
    "serve_subscription",
    "signature",
    "subscriptions_in_turn",
]

logger = logging.getLogger(__name__)

KINDS = ("listing", "listing-change", "registration", "registration-change")
CONNECT_SECONDS = 5.0
"""Longest a delivery waits to connect (within its deadline)."""
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


def http_post(
    url: str, body: bytes, headers: dict[str, str], *, deadline: float, policy: AddressPolicy
) -> Attempt:
    """POST ``body`` and read the whole answer within ``deadline`` seconds of wall-clock
    time, resolving, connecting and sending included: an attempt still running then is
    cut off. The host is resolved and each address checked against ``policy`` first,
    and the POST goes to the address checked (with the URL's host as ``Host`` and as
    the TLS server name), so that a second resolution cannot switch it. Connecting
    has at most ``CONNECT_SECONDS`` of the deadline. A redirect is not followed: it
    is an answer that is not 2xx. A failure is the attempt's error, never raised."""
    # Timeouts per read, as httpx has them, do not bound an attempt: a receiver that
    # sends a byte every few seconds never lets one expire. The request runs on an
    # event loop of its own, and the deadline cancels it wherever it is.
    loop = asyncio.new_event_loop()
    try:
        return loop.run_until_complete(_post(url, body, headers, deadline, policy))
    except (TimeoutError, httpx.TimeoutException):
        return Attempt(None, f"no complete answer within {deadline:g} s")
    except InvalidInput as exc:
        return Attempt(None, f"not sent: {exc}")
    except Exception:
        # Named only by kind: the delivery log is not a way to probe the network.
        return Attempt(None, "no connection to the receiver")
    finally:
        # Without waiting for the loop's helper threads: a name lookup the deadline
        # gave up on finishes on its own.
        loop.close()


async def _post(
    url: str, body: bytes, headers: dict[str, str], deadline: float, policy: AddressPolicy
) -> Attempt:
    target = httpx.URL(url)
    host = target.host
    port = target.port or (443 if target.scheme == "https" else 80)
    timeout = httpx.Timeout(deadline, connect=min(CONNECT_SECONDS, deadline))
    async with asyncio.timeout(deadline):
        if _literal(host):
            addresses = policy.check(host, port)  # nothing to look up
        else:
            # A name is looked up on a thread, so that the deadline bounds the lookup too.
            loop = asyncio.get_running_loop()
            addresses = await loop.run_in_executor(None, policy.check, host, port)
        pinned = target.copy_with(host=addresses[0])
        sent = {**headers, "Host": target.netloc.decode("ascii")}
        extensions = {"sni_hostname": host} if target.scheme == "https" else {}
        async with (
            # trust_env off: a proxy from the environment would connect to the name
            # itself, past the address checked above.
            httpx.AsyncClient(timeout=timeout, follow_redirects=False, trust_env=False) as client,
            client.stream("POST", pinned, content=body, headers=sent, extensions=extensions) as (
                response
            ),
        ):
            async for _ in response.aiter_raw():
                pass  # read to its end, kept nowhere: only the status counts
        if response.is_redirect:
            return Attempt(response.status_code, "a redirect, not followed")
        return Attempt(response.status_code)


def _literal(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """``sha256=`` and the hex HMAC-SHA256 of ``timestamp.body`` under ``secret``."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


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
    policy: AddressPolicy,
) -> int:
    """Queue the subscription's new matching changes, then try its due deliveries in
    order, each attempt within ``deadline`` seconds; returns how many were delivered.
    Each step holds a lock on the subscription's row (``SKIP LOCKED``: a subscription
    another dispatcher is busy with is left alone)."""
    with session_scope(engine) as session:
        subscription = _locked(session, subscription_id)
        if subscription is not None:
            _queue(session, subscription, clock())
    return _deliver(engine, subscription_id, clock=clock, deadline=deadline, policy=policy)


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
    engine: Engine,
    subscription_id: str,
    *,
    clock: Callable[[], datetime],
    deadline: float,
    policy: AddressPolicy,
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
            attempt = http_post(subscription.url, body, headers, deadline=deadline, policy=policy)
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
