"""Reading the console's forms (``web.record_forms``): a form's flat values into the
API's request model, with every problem put beside the field it is about, in the
visitor's language; and a record's signed content back into its form, to correct it
(everything but an ID number, which no record carries in clear)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime, timedelta
from itertools import pairwise
from typing import Any

from pydantic import ValidationError

from registry.calendar import china_today
from registry.credentials.records import RecordIn
from registry.errors import FieldError
from registry.messages import Language, translate
from web.record_forms import Field, RecordForm

__all__ = ["Errors", "field_errors", "read_record", "values_of"]

Errors = dict[str, list[str]]
"""Each field's problems, by the field's name (``form``: the form's as a whole)."""


def _placed(target: dict[str, Any], path: tuple[str, ...], value: Any) -> None:
    """Put ``value`` at ``path``; a step ``#n`` is the n-th item of a list (from 0)."""
    here: Any = target
    for step, after in pairwise(path):
        if isinstance(here, list):
            index = int(step.removeprefix("#"))
            while len(here) <= index:
                here.append({})
            here = here[index]
        else:
            here = here.setdefault(step, [] if after.startswith("#") else {})
    here[path[-1]] = value


def _rows(form: RecordForm, values: Mapping[str, Any]) -> dict[int, int]:
    """The repeated rows filled in, each with its index in the request's list: the
    empty ones are left out, the others keep their order."""
    filled = sorted({f.group for f in form.fields if f.group is not None and values.get(f.name)})
    return {row: index for index, row in enumerate(filled)}


def _request(form: RecordForm, values: Mapping[str, Any], authority: str) -> dict[str, Any]:
    """The request the form's values make, as the API would receive it: empty fields
    left out (a required one is then named missing)."""
    body: dict[str, Any] = {"type": form.credential_type, "authority": authority}
    listed_kind = str(values.get("listed_kind") or "")
    rows = _rows(form, values)
    for field in form.fields:
        path = field.path
        if field.group is not None:
            if field.group not in rows:
                continue
            path = tuple(f"#{rows[field.group]}" if s.startswith("#") else s for s in path)
        value = values.get(field.name)
        if field.widget == "lines":
            value = [line.strip() for line in str(value or "").splitlines() if line.strip()]
        elif field.widget == "checks":
            value = list(value or [])
        elif field.widget == "check":
            value = True if value else None
        if value in ("", None, []):
            continue
        # A listing names an organisation by its credit code, a person by their number.
        if field.name in ("listed_code", "listed_pilot") and listed_kind == "person":
            continue
        if field.name == "listed_id_number" and listed_kind != "person":
            continue
        _placed(body, path, value)
    if values.get("replaces"):
        body["replaces"] = str(values["replaces"])
    return body


def _message(text: str, lang: Language) -> str:
    return translate(str(text).removeprefix("Value error, "), lang)


def _form_path(loc: Sequence[object], rows: Mapping[int, int]) -> tuple[str, ...]:
    """A place in the request as the form's fields name it: a union's member left out
    (``listed.organisation.name``), a list's index as the form's row (``#2``)."""
    row_of = {index: row for row, index in rows.items()}
    path: list[str] = []
    for step in loc:
        if step in ("organisation", "person"):
            continue
        if isinstance(step, int) and path == ["related_persons"]:
            path.append(f"#{row_of.get(step, step + 1)}")
        else:
            path.append(str(step))
    return tuple(path)


def _validation_errors(
    form: RecordForm, exc: ValidationError, lang: Language, rows: Mapping[int, int]
) -> Errors:
    found: Errors = {}
    for error in exc.errors():
        path = _form_path(error["loc"], rows)
        name = form.field_of(path) or ("replaces" if path[:1] == ("replaces",) else "form")
        found.setdefault(name, []).append(_message(error["msg"], lang))
    return found


def read_record(
    form: RecordForm, values: Mapping[str, Any], *, authority: str, lang: Language
) -> tuple[RecordIn | None, Errors]:
    """The record the form's ``values`` ask for, issued by ``authority``, or ``None``
    and each problem by the field it is about (in ``lang``)."""
    try:
        item: RecordIn = form.model.model_validate(_request(form, values, authority))  # type: ignore[assignment]  # the form's model is one of RecordIn's
    except ValidationError as exc:
        return None, _validation_errors(form, exc, lang, _rows(form, values))
    return item, {}


def field_errors(form: RecordForm, problems: list[FieldError], lang: Language) -> Errors:
    """``check_records``' problems by the field of ``form`` each is about."""
    found: Errors = {}
    for problem in problems:
        path = tuple(problem.field.split("."))
        name = form.field_of(path) or ("replaces" if path[:1] == ("replaces",) else "form")
        found.setdefault(name, []).append(_message(problem.message, lang))
    return found


def _dig(subject: Mapping[str, Any], *steps: str) -> Any:
    found: Any = subject
    for step in steps:
        found = found.get(step) if isinstance(found, Mapping) else None
    return found


def _value_of(field: Field, subject: Mapping[str, Any]) -> Any:
    """What the record says for ``field``, as the form writes it (``None``: nothing)."""
    if field.widget == "secret":
        return None
    if field.widget == "check":
        return "1" if _dig(subject, field.path[0], "creditCodeCheck") == "pilot" else None
    if field.group is not None:
        persons = subject.get("relatedPersons") or []
        return persons[field.group - 1].get(field.path[-1]) if field.group <= len(persons) else None
    camel = "".join(
        part if n == 0 else part.capitalize() for n, part in enumerate(field.path[-1].split("_"))
    )
    if field.path[0] in ("holder", "employer", "provider", "listed") and len(field.path) == 2:
        value = _dig(
            subject, field.path[0], {"credit_code": "creditCode"}.get(field.path[1], camel)
        )
    elif field.name == "course_title":
        value = _dig(subject, "course", "title")
    else:
        value = subject.get(camel)
    if field.widget == "lines" and isinstance(value, list):
        return "\n".join(str(v) for v in value)
    return value


def values_of(form: RecordForm, document: Mapping[str, Any]) -> dict[str, Any]:
    """A record's content (its signed ``document``) as ``form``'s values, to correct it:
    everything but an ID number, which the credential does not carry in clear and must
    be typed again."""
    subject: Mapping[str, Any] = document.get("credentialSubject") or {}
    values: dict[str, Any] = {}
    if form.slug == "registration":
        # A registration's term is its credential's validity: from the first instant of
        # its first day to the first instant after its last, in China.
        first = _china_day(document.get("validFrom"))
        after = _china_day(document.get("validUntil"))
        if first is not None:
            values["valid_from"] = first.isoformat()
        if after is not None:
            values["valid_until"] = (after - timedelta(days=1)).isoformat()
    for field in form.fields:
        value = _value_of(field, subject)
        if value is not None and field.name not in values:
            values[field.name] = value
    return values


def _china_day(value: object) -> date | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return china_today(datetime.fromisoformat(value.replace("Z", "+00:00")))
    except ValueError:
        return None
