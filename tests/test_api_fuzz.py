"""Every operation of the API, fuzzed from its own OpenAPI document with each role's token.

Schemathesis generates requests from the document (valid and invalid ones), sends
them to the app and checks each answer against the document: no 500, no status or
content type the document does not list, no body that breaks its schema, nothing
the schema forbids accepted, nothing it allows refused. Seeded (``derandomize``), so a
run is repeatable and a failure found once is found again.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.config import SchemathesisConfig

from api import create_app
from registry.demo.synthetic import credit_code, resident_id
from registry.ids import CREDIT_CODE_JSON_SCHEMA, PROVINCES, RESIDENT_ID_JSON_SCHEMA
from registry.settings import Settings
from registry.storage.db import engine_scope, upgrade
from tests._support import LOOPBACK, seed_demo_node

_EXAMPLES = 10
_ROLES = ("none", "issuer:CN-SH", "issuer:CN-AH", "verifier", "enforcement", "federation", "admin")


# The formats the document names for what a pattern cannot say (check characters,
# real birth dates): valid values, so that a valid request is one the API must take.
schemathesis.openapi.format(
    RESIDENT_ID_JSON_SCHEMA["format"],
    st.builds(
        lambda area, born, sequence: resident_id(area, born.strftime("%Y%m%d"), sequence),
        st.sampled_from([f"{p.gb[:2]}0101" for p in PROVINCES]),
        st.dates(min_value=dt.date(1940, 1, 1), max_value=dt.date(2005, 12, 31)),
        st.from_regex(r"\A[0-9]{3}\Z"),
    ),
)
schemathesis.openapi.format(
    CREDIT_CODE_JSON_SCHEMA["format"],
    st.builds(
        lambda region, rest: credit_code(f"91{region}{rest}"),
        st.sampled_from([p.gb for p in PROVINCES]),
        st.from_regex(r"\A[0-9A-HJ-NPQRTUWXY]{9}\Z"),
    ),
)

# The kinds of text (registry/text.py, docs/records.md "Text"): what each allows.
_HAN = st.characters(min_codepoint=0x4E00, max_codepoint=0x9FA5)
_LATIN = st.characters(min_codepoint=ord("a"), max_codepoint=ord("z"))
_PUNCTUATION = st.sampled_from("，。、；：（）《》-")
_han = st.text(_HAN, min_size=1, max_size=8)
schemathesis.openapi.format(
    "person-name",
    st.one_of(_han, st.builds(lambda a, b: f"{a}·{b}", _han, _han)),
)
schemathesis.openapi.format(
    "organisation-name",
    st.builds(
        lambda core, form: core + form, _han, st.sampled_from(["有限公司", "（集团）有限公司", ""])
    ),
)
schemathesis.openapi.format(
    "registry-text",
    st.builds(
        lambda head, rest: head + rest,
        _HAN,
        st.text(st.one_of(_HAN, _LATIN, _PUNCTUATION), max_size=60),
    ),
)
# A day in any of the forms the registry reads (registry.calendar.parse_day): real days
# only, which a pattern cannot say.
schemathesis.openapi.format(
    "registry-day",
    st.builds(
        lambda day, form: form.format(d=day),
        st.dates(min_value=dt.date(1900, 1, 1), max_value=dt.date(9000, 12, 31)),
        st.sampled_from(
            [
                "{d:%Y-%m-%d}",
                "{d.year}/{d.month}/{d.day}",
                "{d.year}.{d.month}.{d.day}",
                "{d.year}年{d.month}月{d.day}日",
                "{d:%Y%m%d}",
            ]
        ),
    ),
)
schemathesis.openapi.format("printable", st.from_regex(r"\A[!-~]{1,40}\Z"))
schemathesis.openapi.format("reference", st.from_regex(r"\A[!-~]{1,40}\Z"))


class _Node:
    def __init__(self, app: FastAPI, tokens: dict[str, str]) -> None:
        self.app = app
        self.tokens = tokens


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[_Node]:
    root = tmp_path_factory.mktemp("fuzz")
    url = f"sqlite:///{root / 'registry.sqlite3'}"
    with engine_scope(url) as engine:
        upgrade(engine)
    settings_ = Settings(data_dir=root / "data", database_url=url, demo=True)
    tokens = seed_demo_node(settings_)
    app = create_app(settings_)
    # Subscriptions name made-up hosts: resolved by this, not by the network.
    app.state.webhook_policy = dataclasses.replace(
        LOOPBACK, resolve=lambda _host, _port: ["127.0.0.1"]
    )
    with TestClient(app):
        yield _Node(app, tokens)


def _described(exc: BaseException) -> str:
    if isinstance(exc, BaseExceptionGroup):
        return str(exc) + "".join(f"\n  - {_described(e)}" for e in exc.exceptions)
    return f"{type(exc).__name__}: {exc}"


# What a schema cannot say: a request may name, in the right form, something that is
# not there. A proof to a size beyond the log, or entries past its end, are answered
# 400 (out of range, as the document lists); a feed cursor is opaque, and one this
# node did not give is answered 422 (as the document lists). A record's rules that
# tie its fields to each other (a registration runs at most five years from its first
# day, a change takes effect after the record's first day) are in the operation's
# description, not in its schema: issuing answers them 422, and so does a search of
# an authority's records whose ID number fails its check or whose days run backwards.
# A batch's file (an XLSX workbook, a CSV uploaded from a form) is any bytes to a
# schema: one that is not a table is answered 422. Everywhere else a valid request
# must be taken.
_CONFIG = SchemathesisConfig.from_str(
    """
[[operations]]
include-path-regex = "^/v1/logs/"
checks.positive_data_acceptance.expected-statuses = ["2xx", "3xx", 400, 401, 403, 404]

[[operations]]
include-path-regex = '^/v1/credentials(/batch|/[{]credential_id[}]/status)?$'
checks.positive_data_acceptance.expected-statuses = ["2xx", "3xx", 401, 403, 404, 409, 422]

[[operations]]
include-path = "/v1/records/search"
checks.positive_data_acceptance.expected-statuses = ["2xx", "3xx", 401, 403, 422]

[[operations]]
include-path = "/v1/changes"
checks.positive_data_acceptance.expected-statuses = ["2xx", "3xx", 401, 403, 422]

[[operations]]
include-path = "/v1/verify/batch"
checks.positive_data_acceptance.expected-statuses = ["2xx", "3xx", 401, 403, 422]
"""
)


@pytest.fixture(params=_ROLES)
def role(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_every_operation_answers_as_documented(
    node: _Node, role: str, mode: GenerationMode
) -> None:
    schema = schemathesis.openapi.from_asgi("/openapi.json", node.app, config=_CONFIG)
    headers = {} if role == "none" else {"Authorization": f"Bearer {node.tokens[role]}"}
    failures: list[str] = []
    for result in schema.get_all_operations():
        operation = result.ok()  # type: ignore[union-attr]  # an Err raises: a bad document

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(
            max_examples=_EXAMPLES,
            derandomize=True,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            database=None,
            phases=[Phase.explicit, Phase.generate, Phase.target],
        )
        def fuzz(case: Any) -> None:
            # A client sends a new Idempotency-Key with each new request; one reused
            # with another body is refused (422), as its own tests show.
            fresh = {"Idempotency-Key": uuid.uuid4().hex} if case.headers else {}
            case.call_and_validate(headers={**headers, **fresh})

        try:
            fuzz()
        except Unsatisfiable:
            if mode is GenerationMode.NEGATIVE:
                continue  # nothing in the request to get wrong (no parameter, no body)
            raise
        except (Exception, BaseExceptionGroup) as exc:  # each operation's failures are kept
            failures.append(f"{operation.label}: {_described(exc)}")
    assert failures == [], "\n\n".join(failures)
