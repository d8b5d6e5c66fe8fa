"""Subscriptions to the change feed: signed webhook deliveries, and their log; the
owner lists, cancels and re-keys its own."""

from __future__ import annotations

import datetime as dt
import json
from typing import Annotated

from fastapi import APIRouter, Body, Depends, Response

from api.auth import require_caller
from api.deps import DbSession, WebhookPolicy
from api.errors import problem_responses
from api.examples import subscription_examples
from api.limits import JSON_BODY, GatedRoute, body_limit, too_large
from api.schemas.enforcement import (
    DeliveriesOut,
    DeliveryOut,
    SecretOut,
    SubscriptionFilterOut,
    SubscriptionIn,
    SubscriptionListedOut,
    SubscriptionOut,
    SubscriptionsOut,
)
from registry.enforcement.subscriptions import (
    cancel_subscription,
    create_subscription,
    deliveries_of,
    rotate_secret,
    subscriptions_of,
)
from registry.tokens import Caller

__all__ = ["router"]

router = APIRouter(prefix="/v1/subscriptions", tags=["enforcement"], route_class=GatedRoute)

_ROLES = require_caller("enforcement", "federation", "admin")
_ERRORS = problem_responses(401, (403, "The role may not subscribe."), 422)
_MISSING = problem_responses((404, "No such subscription of the caller's."))


@router.post(
    "",
    status_code=201,
    summary="Subscribe a URL to changes about some organisations",
    openapi_extra=body_limit(JSON_BODY),
    responses={**_ERRORS, **too_large(JSON_BODY)},
)
def subscribe(
    session: DbSession,
    caller: Annotated[Caller, Depends(_ROLES)],
    policy: WebhookPolicy,
    body: Annotated[SubscriptionIn, Body(openapi_examples=subscription_examples())],
) -> SubscriptionOut:
    """Each matching change from now on is POSTed as JSON, signed:
    `X-Registry-Signature: sha256=<hex HMAC-SHA256 of "<X-Registry-Timestamp>.<body>">`
    under the `secret` answered here (this once). A delivery that is not answered
    2xx, in full, within the node's delivery deadline (10 s unless configured) is
    tried again, after 5 s, 10 s, 20 s... up to an hour apart, for as long as it
    takes; later ones wait for it. Every attempt carries the same
    `X-Registry-Delivery` id: deduplicate on it. A redirect is not followed: it
    counts as a failed attempt.

    Every address the URL's host resolves to must be a public one: loopback,
    private, link-local, unique-local, shared (CGNAT), multicast, reserved and cloud
    metadata addresses are refused (422 on `url`) unless the node's
    `REGISTRY_WEBHOOK_ALLOWED_NETWORKS` names their network. Every delivery checks
    again and connects to the address it checked."""
    row, secret = create_subscription(
        session,
        caller,
        url=body.url,
        credit_codes=body.credit_codes,
        kinds=body.kinds,
        policy=policy,
        now=dt.datetime.now(dt.UTC),
    )
    return SubscriptionOut(
        id=row.id,
        url=row.url,
        filter=SubscriptionFilterOut.model_validate(json.loads(row.filter)),
        secret=secret,
    )


@router.get("", summary="The caller's subscriptions", responses=_ERRORS)
def listed(session: DbSession, caller: Annotated[Caller, Depends(_ROLES)]) -> SubscriptionsOut:
    """The subscriptions the caller's token made, oldest first, without their secrets."""
    return SubscriptionsOut(
        subscriptions=[
            SubscriptionListedOut(
                id=row.id,
                url=row.url,
                filter=SubscriptionFilterOut.model_validate(json.loads(row.filter)),
                created_at=row.created_at,
            )
            for row in subscriptions_of(session, caller)
        ]
    )


@router.delete(
    "/{subscription_id}",
    status_code=204,
    summary="Cancel a subscription",
    responses={**_ERRORS, **_MISSING},
)
def cancel(
    session: DbSession, caller: Annotated[Caller, Depends(_ROLES)], subscription_id: str
) -> Response:
    """Nothing more is queued or sent; its delivery log goes with it. Only the
    token that subscribed may cancel (404 for any other)."""
    cancel_subscription(session, subscription_id, caller)
    return Response(status_code=204)


@router.post(
    "/{subscription_id}/secret",
    summary="Give a subscription a new secret",
    responses={**_ERRORS, **_MISSING},
)
def rotate(
    session: DbSession, caller: Annotated[Caller, Depends(_ROLES)], subscription_id: str
) -> SecretOut:
    """A new secret, answered this once, signs every delivery attempt from now on
    (those still pending too); the old one signs nothing more. Only the token that
    subscribed may rotate it (404 for any other)."""
    row, secret = rotate_secret(session, subscription_id, caller)
    return SecretOut(id=row.id, secret=secret)


@router.get(
    "/{subscription_id}/deliveries",
    summary="A subscription's delivery log",
    responses={**_ERRORS, **problem_responses((404, "No such subscription."))},
)
def deliveries(
    session: DbSession, caller: Annotated[Caller, Depends(_ROLES)], subscription_id: str
) -> DeliveriesOut:
    """Every delivery, oldest first: the change, its state, attempts, the last
    answer or error, and when it was delivered or will be tried again."""
    return DeliveriesOut(
        deliveries=[
            DeliveryOut(
                id=d.id,
                change=d.change_id,
                state=d.state,
                attempts=d.attempts,
                last_status=d.last_status,
                last_error=d.last_error,
                next_attempt_at=d.next_attempt_at if d.state == "pending" else None,
                delivered_at=d.delivered_at,
            )
            for d in deliveries_of(session, subscription_id, caller)
        ]
    )
