"""Subscriptions to the change feed: signed webhook deliveries, and their log."""

from __future__ import annotations

import datetime as dt
import json
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends
from pydantic import BaseModel, ConfigDict, Field

from api.auth import require_caller
from api.deps import DbSession
from api.errors import problem_responses
from api.examples import subscription_examples
from registry.enforcement.webhooks import KINDS, create_subscription, deliveries_of
from registry.tokens import Caller

__all__ = ["router"]

router = APIRouter(prefix="/v1/subscriptions", tags=["enforcement"])

_ROLES = require_caller("enforcement", "federation", "admin")
_ERRORS = problem_responses(401, (403, "The role may not subscribe."), 422)


class SubscriptionIn(BaseModel):
    """Where to send changes, and which."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    url: str = Field(max_length=2000, description="An http or https URL that takes a POST.")
    credit_codes: list[str] = Field(
        min_length=1,
        max_length=10_000,
        description="Organisations to follow: listings naming them, and registrations of "
        "engineers they employ, with every change of those.",
    )
    kinds: list[str] | None = Field(
        default=None, description=f"Only these kinds of change: {', '.join(KINDS)}."
    )


@router.post(
    "",
    status_code=201,
    summary="Subscribe a URL to changes about some organisations",
    responses=_ERRORS,
)
def subscribe(
    session: DbSession,
    caller: Annotated[Caller, Depends(_ROLES)],
    body: Annotated[SubscriptionIn, Body(openapi_examples=subscription_examples())],
) -> dict[str, Any]:
    """Each matching change from now on is POSTed as JSON, signed:
    `X-Registry-Signature: sha256=<hex HMAC-SHA256 of "<X-Registry-Timestamp>.<body>">`
    under the `secret` answered here (this once). A delivery that is not answered
    2xx is tried again, after 5 s, 10 s, 20 s... up to an hour apart, for as long as
    it takes; later ones wait for it. Every attempt carries the same
    `X-Registry-Delivery` id: deduplicate on it."""
    row, secret = create_subscription(
        session,
        caller,
        url=body.url,
        credit_codes=body.credit_codes,
        kinds=body.kinds,
        now=dt.datetime.now(dt.UTC),
    )
    session.commit()  # stored before its secret is shown
    return {"id": row.id, "url": row.url, "filter": json.loads(row.filter), "secret": secret}


@router.get(
    "/{subscription_id}/deliveries",
    summary="A subscription's delivery log",
    responses={**_ERRORS, **problem_responses((404, "No such subscription."))},
)
def deliveries(
    session: DbSession, caller: Annotated[Caller, Depends(_ROLES)], subscription_id: str
) -> dict[str, Any]:
    """Every delivery, oldest first: the change, its state, attempts, the last
    answer or error, and when it was delivered or will be tried again."""
    return {
        "deliveries": [
            {
                "id": d.id,
                "change": d.change_id,
                "state": d.state,
                "attempts": d.attempts,
                "lastStatus": d.last_status,
                "lastError": d.last_error,
                "nextAttemptAt": d.next_attempt_at.isoformat() if d.state == "pending" else None,
                "deliveredAt": d.delivered_at.isoformat() if d.delivered_at else None,
            }
            for d in deliveries_of(session, subscription_id, caller)
        ]
    }
