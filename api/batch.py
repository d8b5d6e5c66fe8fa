"""A batch's body read whole: every problem of every item in one answer.

FastAPI would validate the body first and answer the first round of field errors
before the registry ever looked at what the items refer to. ``batch_of`` validates
the whole list at once (as fast as FastAPI would) and, only when that fails, goes
item by item: each field error is named as FastAPI names it (``items[3].hours``),
the valid items are checked against the registry (``check_records``) and the valid
fields of the invalid ones too (``check_valid_fields``), and everything found is one
``InvalidInput``. Nothing is written.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from pydantic import TypeAdapter, ValidationError
from pydantic_core import ErrorDetails
from sqlmodel import Session
from starlette.exceptions import HTTPException

from api.errors import field_path
from api.schemas.records import BatchIn
from registry.credentials import CREDENTIAL_TYPES
from registry.credentials.records import RecordIn
from registry.errors import FieldError, InvalidInput
from registry.ids import province
from registry.issuing import IssuingContext, check_records
from registry.issuing.partial import check_valid_fields, valid_fields
from registry.issuing.records import item_problem

__all__ = ["batch_body", "batch_of"]

_ITEM: TypeAdapter[RecordIn] = TypeAdapter(RecordIn)


async def batch_body(request: Request) -> Any:
    """The request's body as JSON values, read as FastAPI reads a body it validates:
    an empty body is none, a body of another media type stays bytes (both then fail
    validation), JSON that does not parse is a 422 naming the body, and bytes that
    are not text a 400."""
    body = await request.body()
    if not body:
        return None
    media = request.headers.get("content-type", "application/json").split(";")[0].strip()
    if not (media.endswith("/json") or media.endswith("+json")):
        return body
    try:
        return json.loads(body)
    except json.JSONDecodeError as exc:
        raise RequestValidationError(
            [{"type": "json_invalid", "loc": ("body", exc.pos), "msg": "JSON decode error"}]
        ) from None
    except ValueError as exc:
        raise HTTPException(400, "There was an error parsing the body") from exc


def _as_request_error(errors: Sequence[ErrorDetails]) -> RequestValidationError:
    # As FastAPI reports a body it validated; without the input, which may hold an
    # ID number.
    return RequestValidationError(
        [{"type": e["type"], "loc": ("body", *e["loc"]), "msg": e["msg"]} for e in errors]
    )


def _message(error: ErrorDetails) -> str:
    return str(error["msg"]).removeprefix("Value error, ")


def _field_of(location: tuple[Any, ...]) -> str | None:
    # ("items", 3, "SafetyEngineerRegistration", "holder", "id_number") -> "holder":
    # the item's own field, past the union member pydantic tried.
    rest = [part for part in location[2:] if part not in CREDENTIAL_TYPES]
    return str(rest[0]) if rest else None


def _authority_of(item: Mapping[str, Any]) -> str | None:
    try:
        return province(str(item["authority"])).iso
    except (KeyError, ValueError, TypeError):
        return None


def batch_of(
    session: Session,
    context: IssuingContext,
    body: Any,
    *,
    role: str,
    now: datetime | None = None,
) -> BatchIn:
    """The batch ``body`` (JSON values) validated, or every problem found in it.

    Raises ``RequestValidationError`` when the envelope itself is wrong (not an object,
    no ``items``, too many), and ``InvalidInput`` naming every bad field of every item
    (``items[3].holder.id_number``) with every registry problem of the items' valid
    fields, when any item is wrong. The registry is only asked about items of
    ``role``'s own authority. Writes nothing."""
    try:
        return BatchIn.model_validate(body)
    except ValidationError as exc:
        failures = exc.errors(include_url=False, include_input=False)
    envelope = [e for e in failures if len(e["loc"]) < 2 or e["loc"][0] != "items"]
    if envelope:
        raise _as_request_error(envelope) from None
    items: list[Any] = body["items"]
    by_item: dict[int, list[ErrorDetails]] = {}
    for error in failures:
        by_item.setdefault(int(error["loc"][1]), []).append(error)
    errors: list[tuple[int, FieldError]] = [
        (index, FieldError(field_path(tuple(e["loc"])), _message(e)))
        for index, found in by_item.items()
        for e in found
    ]
    now = now or datetime.now(UTC)
    valid = [(i, _ITEM.validate_python(item)) for i, item in enumerate(items) if i not in by_item]
    own = [(i, record) for i, record in valid if role == f"issuer:{record.authority}"]
    if own:  # all of one authority: the role's
        _, problems = check_records(
            session,
            [record for _, record in own],
            "items",
            lookup=context.lookup,
            policies=context.policies,
            now=now,
            name=lambda j: f"items[{own[j][0]}]",
        )
        for problem in problems:
            position, field = item_problem(problem, "items")
            index = own[position][0]
            errors.append((index, FieldError(f"items[{index}].{field}", problem.message)))
    known: dict[str, Any] = {}
    for index, found in by_item.items():
        item = items[index]
        authority = _authority_of(item) if isinstance(item, Mapping) else None
        if authority is None or role != f"issuer:{authority}":
            continue  # not an object of a known type, or not the caller's to ask about
        record_type = str(item.get("type"))
        failed = {name for name in map(_field_of, (tuple(e["loc"]) for e in found)) if name}
        values = valid_fields(record_type, item, failed)
        if not values:
            continue
        errors.extend(
            (index, FieldError(f"items[{index}].{e.field}", e.message))
            for e in check_valid_fields(
                session,
                record_type,
                values,
                authority=authority,
                lookup=context.lookup,
                now=now,
                known=known,
            )
        )
    errors.sort(key=lambda pair: pair[0])
    raise InvalidInput(
        f"{len(errors)} problem(s) in the batch: nothing is issued",
        errors=tuple(error for _, error in errors),
    )
