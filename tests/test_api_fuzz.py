"""Every operation of the API, fuzzed from its own OpenAPI document with each role's token
(each operation its ``x-roles`` let that token call) or none (every public operation).

Schemathesis generates requests from the document (valid and invalid ones), sends
them to the app and checks each answer against the document: no 500, no status or
content type the document does not list, no body that breaks its schema, nothing
the schema forbids accepted, nothing it allows refused. Seeded (``derandomize``), so a
run is repeatable and a failure found once is found again.

Beside it: the witness's ``add-checkpoint`` with bodies made from a real checkpoint
and altered (a pattern alone rarely makes one the witness reads far), and a state
machine that issues engineers' records, changes their states and verifies them,
checking that each answer agrees with the changes made. ``FUZZ_EXAMPLES`` and
``FUZZ_STEPS`` set how many examples and steps (``make fuzz`` runs many more).
"""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import os
import uuid
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    rule,
    run_state_machine_as_test,
)
from schemathesis import GenerationMode
from schemathesis.config import SchemathesisConfig

from api import create_app
from api.openapi import ROLES
from registry.calendar import china_today
from registry.demo.synthetic import credit_code, resident_id
from registry.ids import CREDIT_CODE_JSON_SCHEMA, PROVINCES, RESIDENT_ID_JSON_SCHEMA
from registry.settings import Settings
from registry.storage.db import engine_scope, upgrade
from tests._support import LOOPBACK, seed_demo_node
from tests.test_authorization_matrix import lets_in

_EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "10"))
_STEPS = int(os.environ.get("FUZZ_STEPS", "8"))
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
# schema: one that is not a table is answered 422. A witness cosigns the logs of the
# other members it follows and a notice tells of one: on this node, which hosts all
# four, a well-formed checkpoint is of a log it hosts (witness 404, notice 409), or
# its signature or proof fails (403, 422). Everywhere else a valid request must be
# taken.
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

[[operations]]
include-path = "/v1/witness/add-checkpoint"
checks.positive_data_acceptance.expected-statuses = [200, 400, 403, 404, 409, 422]

[[operations]]
include-path = "/v1/federation/notices"
checks.positive_data_acceptance.expected-statuses = [202, 401, 403, 404, 409, 422]
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
    fuzzed = 0
    for result in schema.get_all_operations():
        operation = result.ok()  # type: ignore[union-attr]  # an Err raises: a bad document
        if not _fuzzed_as(operation.definition.raw.get(ROLES), role):
            continue

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

        fuzzed += 1
        try:
            fuzz()
        except Unsatisfiable:
            if mode is GenerationMode.NEGATIVE:
                continue  # nothing in the request to get wrong (no parameter, no body)
            raise
        except (Exception, BaseExceptionGroup) as exc:  # each operation's failures are kept
            failures.append(f"{operation.label}: {_described(exc)}")
    print(f"{role} {mode.value}: {fuzzed} operations, up to {_EXAMPLES} examples each")
    assert failures == [], "\n\n".join(failures)


def _fuzzed_as(roles: list[str] | None, role: str) -> bool:
    """Whether an operation of ``roles`` (``x-roles``) is fuzzed with a token of
    ``role``: a public operation (``None``) answers everyone alike, and is fuzzed
    without a token; one needing a token, with each role's it names. Any other token
    is refused before the request is read (401 or 403, whatever its parameters and
    body), as the authorisation matrix shows for every operation and role."""
    if roles is None:
        return role == "none"
    return lets_in(roles, role)


# The witness's body, from a real checkpoint: `old N`, proof lines, an empty line and
# the signed note, each part kept, dropped, altered or repeated.
_B64_HASH = st.binary(min_size=32, max_size=32).map(lambda raw: base64.b64encode(raw).decode())


@st.composite
def _witness_bodies(draw: st.DrawFn, checkpoint: str) -> bytes:
    old = draw(st.one_of(st.integers(0, 2**63), st.sampled_from(["-1", "x", "", "01"])))
    proof = draw(st.lists(_B64_HASH, max_size=4))
    note = checkpoint
    lines = note.split("\n")
    change = draw(st.sampled_from(["keep", "size", "root", "origin", "signature", "cut"]))
    if change == "size":
        lines[1] = str(draw(st.integers(0, 2**64)))
    elif change == "root":
        lines[2] = draw(_B64_HASH)
    elif change == "origin":
        lines[0] = draw(st.sampled_from(["registry.yrd.example/CN-XX", "", "a b", "例子/日志"]))
    elif change == "signature" and len(lines) > 4:
        lines[4] = lines[4][:-8] + "AAAAAAA="
    elif change == "cut":
        lines = lines[: draw(st.integers(0, len(lines)))]
    body = f"old {old}\n" + "".join(f"{h}\n" for h in proof) + "\n" + "\n".join(lines)
    raw = body.encode()
    if draw(st.booleans()):
        raw += draw(st.binary(max_size=8))
    return raw


def test_the_witness_answers_any_checkpoint_body_as_documented(node: _Node) -> None:
    """Bodies near a real one: every answer is one the document lists (plain text,
    never a 5xx), and nothing this node hosts is cosigned."""
    client = TestClient(node.app)
    document = node.app.openapi()["paths"]["/v1/witness/add-checkpoint"]["post"]
    documented = {int(status) for status in document["responses"]}
    checkpoint = client.get("/v1/logs/CN-SH/checkpoint").text
    answered: Counter[int] = Counter()

    @given(body=_witness_bodies(checkpoint))
    @settings(
        max_examples=_EXAMPLES * 2,
        derandomize=True,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def fuzz(body: bytes) -> None:
        answer = client.post(
            "/v1/witness/add-checkpoint", content=body, headers={"Content-Type": "text/plain"}
        )
        answered[answer.status_code] += 1
        assert answer.status_code in documented, (answer.status_code, answer.text)
        assert answer.status_code != 200, "cosigned a checkpoint of a log this node hosts"
        assert answer.headers["content-type"].startswith("text/plain"), answer.headers

    fuzz()
    print(f"witness add-checkpoint: {answered.total()} bodies, answers {dict(answered)}")


# The rules of registrations' states (docs/records.md), and of a qualification's.
_NEXT = {
    ("active", "suspend"): "suspended",
    ("suspended", "reinstate"): "active",
    ("active", "revoke"): "revoked",
    ("suspended", "revoke"): "revoked",
    ("active", "cancel"): "cancelled",
    ("suspended", "cancel"): "cancelled",
}


@dataclasses.dataclass
class _Engineer:
    id_number: str
    qualification: str
    registration: str
    qualification_state: str = "active"
    registration_state: str = "active"


def test_issue_change_and_verify_agree(node: _Node) -> None:
    """Stateful: issue an engineer's qualification and registration, change their
    states in any order (a change the rules refuse is answered 409 and changes
    nothing), and verify: the record's state and the verification's verdict follow
    every change made, and only those."""
    client = TestClient(node.app)
    issuer = {"Authorization": f"Bearer {node.tokens['issuer:CN-SH']}"}
    verifier = {"Authorization": f"Bearer {node.tokens['verifier']}"}
    run = uuid.uuid4().hex[:8].upper()
    made = iter(range(1, 10**6))
    steps: Counter[str] = Counter()

    def issue(body: dict[str, Any]) -> str:
        answer = client.post("/v1/credentials", headers=issuer, json=body)
        assert answer.status_code == 201, answer.text
        return str(answer.json()["credential"]["id"])

    class Lifecycle(RuleBasedStateMachine):
        engineers = Bundle("engineers")

        @rule(target=engineers, category=st.sampled_from(["chemical", "construction", "other"]))
        def issue_engineer(self, category: str) -> _Engineer:
            n = next(made)
            steps["issue"] += 1
            today = china_today()
            born = dt.date(1960, 1, 1) + dt.timedelta(days=n % 12000)
            person = {
                "name": "赵测",
                "id_number": resident_id("310101", f"{born:%Y%m%d}", f"{n % 1000:03d}"),
            }
            qualification = issue(
                {
                    "type": "SafetyEngineerQualification",
                    "authority": "CN-SH",
                    "holder": person,
                    "certificate_number": f"SH-FZ-{run}-Q{n}",
                    "category": category,
                    "issued_on": (today - dt.timedelta(days=30)).isoformat(),
                }
            )
            registration = issue(
                {
                    "type": "SafetyEngineerRegistration",
                    "authority": "CN-SH",
                    "holder": person,
                    "registration_number": f"SH-FZ-{run}-R{n}",
                    "qualification": f"SH-FZ-{run}-Q{n}",
                    "category": category,
                    "employer": {
                        "name": "上海测试有限公司",
                        "credit_code": credit_code("91310104MA1FR0014"),
                    },
                    "kind": "initial",
                    "valid_from": today.isoformat(),
                    "valid_until": (today + dt.timedelta(days=5 * 365)).isoformat(),
                }
            )
            return _Engineer(person["id_number"], qualification, registration)

        @rule(
            engineer=engineers,
            action=st.sampled_from(["suspend", "reinstate", "revoke", "cancel"]),
        )
        def change_registration(self, engineer: _Engineer, action: str) -> None:
            after = _NEXT.get((engineer.registration_state, action))
            answer = self._change(engineer.registration, action)
            steps[f"{action} {engineer.registration_state} -> {answer.status_code}"] += 1
            if after is None:
                assert answer.status_code == 409, (engineer.registration_state, action, answer.text)
            else:
                assert answer.status_code == 201, (engineer.registration_state, action, answer.text)
                assert answer.json()["state"] == after
                engineer.registration_state = after

        @rule(engineer=engineers)
        def revoke_qualification(self, engineer: _Engineer) -> None:
            answer = self._change(engineer.qualification, "revoke")
            steps[f"revoke qualification -> {answer.status_code}"] += 1
            if engineer.qualification_state == "revoked":
                assert answer.status_code == 409, answer.text
            else:
                assert answer.status_code == 201, answer.text
                engineer.qualification_state = "revoked"

        @rule(engineer=engineers)
        def verify(self, engineer: _Engineer) -> None:
            for credential, state in (
                (engineer.registration, engineer.registration_state),
                (engineer.qualification, engineer.qualification_state),
            ):
                record = client.get(f"/v1/credentials/{credential}")
                assert record.status_code == 200, record.text
                assert record.json()["state"] == state
            answer = client.post(
                "/v1/verify/engineer",
                headers=verifier,
                json={"id_number": engineer.id_number, "region": "CN-SH"},
            )
            assert answer.status_code == 200, answer.text
            report = answer.json()["credentialSubject"]
            may = engineer.registration_state == engineer.qualification_state == "active"
            steps[f"verify -> {report['verdict']}"] += 1
            assert report["verdict"] == ("qualified" if may else "not-qualified"), (
                engineer,
                report["reasons"],
            )
            shown = report.get("registration") or {}
            if shown.get("id") == engineer.registration:
                assert shown["state"] == engineer.registration_state

        def _change(self, credential: str, action: str) -> Any:
            return client.post(
                f"/v1/credentials/{credential}/status",
                headers={**issuer, "Idempotency-Key": uuid.uuid4().hex},
                json={
                    "action": action,
                    "reason": "抽查变更",
                    "decision_number": f"沪应急注〔{run}〕{next(made)}号",
                    "effective_on": china_today().isoformat(),
                },
            )

    run_state_machine_as_test(
        Lifecycle,
        settings=settings(
            max_examples=max(1, _EXAMPLES // 3),
            stateful_step_count=_STEPS,
            derandomize=True,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        ),
    )
    print("issue, change, verify:", ", ".join(f"{k}: {v}" for k, v in sorted(steps.items())))


def test_the_documents_links_lead_from_an_issued_record_to_its_changes(node: _Node) -> None:
    """Issuing answers with links (OpenAPI `links`) to changing the record's state and
    reading it; followed as a client generated from the document would, they work."""
    client = TestClient(node.app)
    paths = node.app.openapi()["paths"]
    by_id = {
        op["operationId"]: (method, path)
        for path, item in paths.items()
        for method, op in item.items()
        if isinstance(op, dict) and "operationId" in op
    }
    issuer = {"Authorization": f"Bearer {node.tokens['issuer:CN-SH']}"}
    example = paths["/v1/credentials"]["post"]["requestBody"]["content"]["application/json"]
    body = dict(example["examples"]["qualification"]["value"])
    body["certificate_number"] = f"SH-LINK-{uuid.uuid4().hex[:8].upper()}"
    issued = client.post("/v1/credentials", headers=issuer, json=body)
    assert issued.status_code == 201, issued.text
    links = paths["/v1/credentials"]["post"]["responses"]["201"]["links"]
    assert set(links) == {"ChangeState", "Read"}
    for name in ("Read", "ChangeState"):
        method, path = by_id[links[name]["operationId"]]
        pointer = links[name]["parameters"]["credential_id"]
        assert pointer == "$response.body#/credential/id"
        address = path.replace("{credential_id}", issued.json()["credential"]["id"])
        if method == "get":
            answer = client.get(address)
            assert answer.status_code == 200, answer.text
            assert answer.json()["state"] == "active"
        else:
            answer = client.post(
                address,
                headers=issuer,
                json={
                    "action": "revoke",
                    "reason": "证书编号有误",
                    "decision_number": "沪应急资〔2026〕1号",
                    "effective_on": china_today().isoformat(),
                },
            )
            assert answer.status_code == 201, answer.text
            assert answer.json()["state"] == "revoked"
