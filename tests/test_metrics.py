"""``/metrics``: the node's figures in the Prometheus text format, read from the
database when scraped and counted per request, for clients whose address the node
allows. (tests/test_e2e.py scrapes a real server's two workers.)"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from ipaddress import ip_network
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from sqlmodel import select

from api import create_app
from devtools.ports import free_port
from registry.accounts import create_user
from registry.bulk.staged import check_import, imports_dir, receive_file
from registry.calendar import china_today
from registry.credentials import CredentialType
from registry.demo import DEMO_LISTED_ORGANISATIONS
from registry.enforcement.dispatcher import dispatch
from registry.issuing import IssuingContext
from registry.settings import Settings
from registry.storage.db import engine_scope, session_scope
from registry.storage.models import Delivery, RecordParty
from tests._federation import FOLLOWED, serve_peer
from tests._receivers import Events, Prompt
from tests._support import LOOPBACK, seed_demo_node

_HERE = ("127.0.0.1", 50000)
_ELSEWHERE = ("203.0.113.7", 50000)  # TEST-NET-3: a public address


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of a scrape by name and labels (the parser raises on bad syntax)."""
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def _value(samples: dict[Any, float], name: str, **labels: str) -> float:
    return samples[(name, tuple(sorted(labels.items())))]


def _scrape(client: TestClient) -> dict[Any, float]:
    answer = client.get("/metrics")
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/plain; version=0.0.4")
    return _samples(answer.text)


def _withdraw(client: TestClient, tokens: dict[str, str], database_url: str) -> None:
    """Withdraw Shanghai's demo listing through the API: a signed change, appended to
    Shanghai's log, that every subscription to the organisation follows."""
    code = DEMO_LISTED_ORGANISATIONS["CN-SH"][1]
    with engine_scope(database_url) as engine, session_scope(engine) as session:
        listing = session.exec(
            select(RecordParty.credential_id).where(RecordParty.credit_code == code)
        ).one()
    answer = client.post(
        f"/v1/credentials/{listing}/status",
        json={
            "action": "withdraw",
            "reason": "行政处罚决定经行政复议被撤销",
            "decision_number": "复〔2026〕7号",
            "effective_on": china_today(datetime.now(UTC)).isoformat(),
        },
        headers={"Authorization": f"Bearer {tokens['issuer:CN-SH']}"},
    )
    assert answer.status_code == 201, answer.text


_IMPORT_STATES = ("checking", "rejected", "checked", "running", "done", "failed")


def _stage_imports(settings: Settings) -> None:
    """Two spreadsheets uploaded at Shanghai's console: one waiting for its check, and
    one checked and rejected (its columns are none of a CE credit's)."""
    directory = imports_dir(settings.data_dir)
    with engine_scope(settings.database_url) as engine:
        with session_scope(engine) as session:
            clerk, _ = create_user(session, "sh.clerk", role="issuer:CN-SH", display_name="clerk")
            staged = [
                receive_file(
                    session,
                    directory,
                    user_id=clerk.id or 0,
                    authority="CN-SH",
                    record_type=CredentialType.CE_CREDIT,
                    file_name=name,
                    payload="姓名,学时\r\n张三,4\r\n".encode("utf-8-sig"),
                ).id
                for name in ("waiting.csv", "wrong.csv")
            ]
        context = IssuingContext.for_node(settings)
        assert check_import(engine, context, directory, staged[1]) is None


@pytest.fixture
def receiver() -> Iterator[Prompt]:
    prompt = Prompt(Events(), 1)
    yield prompt
    prompt.close()


def test_a_scrape_reports_the_logs_the_routes_and_the_webhook_queue(
    settings: Settings, receiver: Prompt
) -> None:
    tokens = seed_demo_node(settings)
    enforcement = {"Authorization": f"Bearer {tokens['enforcement']}"}
    code = DEMO_LISTED_ORGANISATIONS["CN-SH"][1]
    with TestClient(create_app(settings), client=_HERE) as client:
        # One receiver that takes deliveries, one address where nothing listens.
        for url in (receiver.url, f"http://127.0.0.1:{free_port()}/hook"):
            answer = client.post(
                "/v1/subscriptions", json={"url": url, "credit_codes": [code]}, headers=enforcement
            )
            assert answer.status_code == 201, answer.text
        before = {log["authority"]: log["size"] for log in client.get("/v1/logs").json()}
        _withdraw(client, tokens, settings.database_url)
        with engine_scope(settings.database_url) as engine:
            delivered = dispatch(
                engine, now=datetime.now(UTC), deadline=5, concurrency=2, policy=LOOPBACK
            )
        assert delivered == 1
        _stage_imports(settings)
        samples = _scrape(client)
        logs = {log["authority"]: log for log in client.get("/v1/logs").json()}

    # Each log: its real size, appended entries, its checkpoint and its witnessing.
    assert set(logs) == {"CN-SH", "CN-JS", "CN-ZJ", "CN-AH"}
    for authority, log in logs.items():
        labels = {"authority": authority, "origin": log["origin"]}
        assert _value(samples, "registry_log_size", **labels) == log["size"]
        assert _value(samples, "registry_log_appended_total", **labels) == log["size"]
        assert _value(samples, "registry_log_checkpoint_size", **labels) == log["size"]
        assert _value(samples, "registry_log_checkpoint_age_seconds", **labels) >= 0
        required = _value(samples, "registry_log_cosignatures_required", **labels)
        assert required == 2  # a majority of the three other members
        # Shanghai's newest checkpoint (the withdrawal's) has no cosignature yet: its
        # witnessed size is the one before. The others' were cosigned by all three.
        cosigned = _value(samples, "registry_log_cosignatures", **labels)
        witnessed = _value(samples, "registry_log_witnessed_size", **labels)
        if authority == "CN-SH":
            assert log["size"] > before[authority]
            assert (cosigned, witnessed) == (0, before[authority])
        else:
            assert (cosigned, witnessed) == (3, log["size"])

    # The requests, by route template: never the path sent, with its identifiers.
    counted = [labels for name, labels in samples if name.endswith("duration_seconds_count")]
    routes = {dict(labels)["route"] for labels in counted}
    assert "/v1/credentials/{credential_id}/status" in routes
    assert "/v1/subscriptions" in routes
    assert not any("urn:" in route or code in route for route in routes)
    status = ("method", "POST"), ("route", "/v1/subscriptions"), ("status", "2xx")
    assert samples[("registry_http_request_duration_seconds_count", status)] == 2
    assert _value(samples, "registry_http_requests_in_flight") == 1  # the scrape itself

    # The queue: what the database holds, as the subscriptions' delivery logs show it.
    with engine_scope(settings.database_url) as engine, session_scope(engine) as session:
        rows = session.exec(select(Delivery.state, Delivery.attempts)).all()
    assert sorted(rows) == [("delivered", 1), ("pending", 1)]
    assert _value(samples, "registry_webhook_queue_depth") == 1
    assert _value(samples, "registry_webhook_failing") == 1
    assert _value(samples, "registry_webhook_attempts", outcome="delivered") == 1
    assert _value(samples, "registry_webhook_attempts", outcome="failed") == 1
    # The console's imports: one kept and not yet checked, one checked and rejected.
    imports = {s: _value(samples, "registry_imports", state=s) for s in _IMPORT_STATES}
    assert imports == {
        "checking": 1,
        "rejected": 1,
        "checked": 0,
        "running": 0,
        "done": 0,
        "failed": 0,
    }
    # One process: prometheus_client's own process figures are there too.
    assert _value(samples, "process_resident_memory_bytes") > 0


def test_a_followed_log_reports_how_far_behind_it_is(
    pg_url: str, sqlite_url: str, tmp_path: Path
) -> None:
    # The follower's database, which the scrape reads, is PostgreSQL; the peer it
    # follows, the demo on SQLite.
    seeded = Settings(data_dir=tmp_path / "peer", database_url=sqlite_url, demo=True)
    follower = pg_url
    with serve_peer(seeded, follower) as peer:
        size = peer.size()
        assert peer.step(peer.transport(), chunk=5)["state"] == "behind"
        node = Settings(data_dir=tmp_path / "follower", database_url=follower)
        with TestClient(create_app(node), client=_HERE) as client:
            behind = _scrape(client)
            assert peer.step(peer.transport())["state"] == "current"
            current = _scrape(client)
    labels = {"authority": FOLLOWED, "origin": peer.member.log.origin}
    assert _value(behind, "registry_federation_entries_behind", **labels) == size - 5
    states = {s: _value(behind, "registry_federation_state", **labels, state=s) for s in _STATES}
    assert states == {"current": 0, "behind": 1, "unreachable": 0, "forked": 0}
    assert _value(current, "registry_federation_entries_behind", **labels) == 0
    assert _value(current, "registry_federation_seconds_since_confirmed", **labels) >= 0
    states = {s: _value(current, "registry_federation_state", **labels, state=s) for s in _STATES}
    assert states == {"current": 1, "behind": 0, "unreachable": 0, "forked": 0}


_STATES = ("current", "behind", "unreachable", "forked")


def test_only_the_allowed_addresses_read_the_metrics(tmp_path: Path, sqlite_url: str) -> None:
    settings = Settings(data_dir=tmp_path / "data", database_url=sqlite_url)
    app = create_app(settings)
    with TestClient(app, client=_ELSEWHERE) as client:
        refused = client.get("/metrics", headers={"Accept-Language": "zh-CN"})
        assert refused.status_code == 403
        assert refused.headers["content-type"] == "application/problem+json"
        assert refused.json()["detail"] == "该地址无权读取运行指标"
        assert "registry_" not in refused.text
        assert "/metrics" not in client.get("/openapi.json").json()["paths"]
    # Not an IP address at all (what the test client says by default): refused too.
    with TestClient(app) as client:
        assert client.get("/metrics").status_code == 403
    opened = create_app(
        settings.model_copy(update={"metrics_networks": (ip_network("203.0.113.0/24"),)})
    )
    with TestClient(opened, client=_ELSEWHERE) as client:
        assert client.get("/metrics").status_code == 200
    with TestClient(opened, client=_HERE) as client:
        assert client.get("/metrics").status_code == 403  # loopback no longer listed
