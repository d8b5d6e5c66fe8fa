"""Subscriptions to the change feed: signed webhook deliveries, and their log."""

from __future__ import annotations

import datetime as dt
import json
from typing import Annotated

from fastapi import APIRouter, Body, Depends

from api.auth import require_caller
from api.deps import DbSession
from api.errors import problem_responses
from api.examples import subscription_examples
from api.limits import JSON_BODY, GatedRoute, body_limit, too_large
from api.schemas.enforcement import (
    DeliveriesOut,
    DeliveryOut,
    SubscriptionFilterOut,
    SubscriptionIn,
    SubscriptionOut,
)
from registry.enforcement.webhooks import create_subscription, deliveries_of
from registry.tokens import Caller

__all__ = ["router"]

router = APIRouter(prefix="/v1/subscriptions", tags=["enforcement"], route_class=GatedRoute)

_ROLES = require_caller("enforcement", "federation", "admin")
_ERRORS = problem_responses(401, (403, "The role may not subscribe."), 422)


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
    body: Annotated[SubscriptionIn, Body(openapi_examples=subscription_examples())],
) -> SubscriptionOut:
    """Each matching change from now on is POSTed as JSON, signed:
    `X-Registry-Signature: sha256=<hex HMAC-SHA256 of "<X-Registry-Timestamp>.<body>">`
    under the `secret` answered here (this once). A delivery that is not answered
    2xx, in full, within the node's delivery deadline (10 s unless configured) is
    tried again, after 5 s, 10 s, 20 s... up to an hour apart, for as long as it
    takes; later ones wait for it. Every attempt carries the same
    `X-Registry-Delivery` id: deduplicate on it."""
    row, secret = create_subscription(
        session,
        caller,
        url=body.url,
        credit_codes=body.credit_codes,
        kinds=body.kinds,
        now=dt.datetime.now(dt.UTC),
    )
    return SubscriptionOut(
        id=row.id,
        url=row.url,
        filter=SubscriptionFilterOut.model_validate(json.loads(row.filter)),
        secret=secret,
    )


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
