"""The enforcement side through the real server: a change reaches a subscriber, and a
slow subscriber holds up no other."""

from __future__ import annotations

import hmac
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from api.examples import record_examples
from registry.calendar import china_today
from registry.demo import DEMO_LISTED_ORGANISATIONS
from registry.enforcement.webhooks import signature
from tests._receivers import Events, Prompt, Trickler, wait_for
from tests._servers import Server, Servers


@pytest.mark.e2e
def test_a_withdrawal_reaches_a_subscriber_of_the_real_server(
    pg_url: str, servers: Servers, tmp_path: Path
) -> None:
    received: list[tuple[dict[str, str], bytes]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            received.append(
                (dict(self.headers), self.rfile.read(int(self.headers["Content-Length"])))
            )
            self.send_response(204)
            self.end_headers()

        def log_message(self, *_args: Any) -> None:
            return

    receiver = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    try:
        data_dir = tmp_path / "data"
        server = servers.start(pg_url, data_dir)
        tokens = json.loads((data_dir / "secrets" / "demo-tokens.json").read_text("utf-8"))
        name, code = DEMO_LISTED_ORGANISATIONS["CN-AH"]
        enforcement = {"Authorization": f"Bearer {tokens['enforcement']}"}
        subscribed = httpx.post(
            f"{server.base}/v1/subscriptions",
            json={
                "url": f"http://127.0.0.1:{receiver.server_address[1]}/hook",
                "credit_codes": [code],
            },
            headers=enforcement,
        )
        assert subscribed.status_code == 201, subscribed.text
        listing = _withdraw(server, tokens, "CN-AH")
        deadline = time.monotonic() + 30
        while not received and time.monotonic() < deadline:
            time.sleep(0.2)
        [(headers, body)] = received
        secret = subscribed.json()["secret"]
        expected = signature(secret, headers["X-Registry-Timestamp"], body)
        assert hmac.compare_digest(headers["X-Registry-Signature"], expected)
        change = json.loads(body)["change"]
        assert (change["kind"], change["action"], change["target"]) == (
            "listing-change",
            "withdraw",
            listing["id"],
        )
        # Withdrawn from its listing date: as if never in force, so no longer found.
        again = httpx.post(
            f"{server.base}/v1/blacklist/search", json={"credit_code": code}, headers=enforcement
        ).json()
        assert again["listings"] == []
        public = httpx.get(f"{server.base}/v1/blacklist/public").json()["entries"]
        assert name not in {entry["name"] for entry in public}
    finally:
        receiver.shutdown()
        receiver.server_close()


@pytest.mark.e2e
def test_concurrent_searches_and_checks_all_answer(
    db_url: str, servers: Servers, tmp_path: Path
) -> None:
    # Each search and check writes its access-audit entry in the transaction that read
    # the listings: on SQLite, a reader's snapshot could not become a writer once
    # another request had committed, and the request answered 500 ("database is
    # locked"). Eight inspectors at once, as at a morning's checks.
    data_dir = tmp_path / "data"
    # The eight share the demo's one enforcement token, which the rate limits would hold
    # to 20 checks a minute a process: raised here, as this is about concurrent
    # transactions (the limits have tests of their own, tests/test_rate_limits.py).
    limits = {"REGISTRY_BATCHES_PER_MINUTE": "1000", "REGISTRY_SEARCHES_PER_MINUTE": "1000"}
    server = servers.start(db_url, data_dir, workers=2, settings=limits)
    tokens = json.loads((data_dir / "secrets" / "demo-tokens.json").read_text("utf-8"))
    enforcement = {"Authorization": f"Bearer {tokens['enforcement']}"}
    codes = [code for _name, code in DEMO_LISTED_ORGANISATIONS.values()]
    statuses: list[int] = []
    failures: list[str] = []

    def ask(client: httpx.Client, path: str, body: dict[str, Any], expected: int) -> None:
        try:
            answer = client.post(path, json=body)
        except httpx.HTTPError as exc:
            failures.append(f"{path}: {exc!r}")
            return
        statuses.append(answer.status_code)
        if answer.status_code != expected:
            failures.append(f"{path}: {answer.status_code} {answer.text[:200]}")

    def inspector(number: int) -> None:
        with httpx.Client(base_url=server.base, headers=enforcement, timeout=60) as client:
            for turn in range(12):
                code = codes[(number + turn) % len(codes)]
                if turn % 2:
                    ask(client, "/v1/blacklist/search", {"credit_code": code}, 200)
                else:
                    rows = [{"credit_code": c} for c in codes]
                    ask(client, "/v1/blacklist/check", {"rows": rows}, 200)

    def issuer(code: str) -> None:
        # Writers beside them: listings issued while the inspectors read.
        listing = {**record_examples(china_today())["listing"]["value"], "authority": code}
        issuing = {"Authorization": f"Bearer {tokens[f'issuer:{code}']}"}
        with httpx.Client(base_url=server.base, headers=issuing, timeout=60) as client:
            for _ in range(6):
                ask(client, "/v1/credentials", listing, 201)

    threads = [threading.Thread(target=inspector, args=(n,)) for n in range(8)]
    threads += [threading.Thread(target=issuer, args=(code,)) for code in ("CN-SH", "CN-ZJ")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert failures == []
    assert len(statuses) == 8 * 12 + 2 * 6
    # Every answer given has its entry in the access audit, and no other.
    trail = httpx.get(
        f"{server.base}/v1/audit/access",
        params={"limit": 1000},
        headers={"Authorization": f"Bearer {tokens['admin']}"},
    )
    assert trail.status_code == 200, trail.text
    assert len(trail.json()["entries"]) == 8 * 12


def _withdraw(server: Server, tokens: dict[str, str], authority: str) -> dict[str, Any]:
    """Withdraw the authority's demo listing from its first day; returns the listing."""
    code = DEMO_LISTED_ORGANISATIONS[authority][1]
    enforcement = {"Authorization": f"Bearer {tokens['enforcement']}"}
    [listing] = httpx.post(
        f"{server.base}/v1/blacklist/search", json={"credit_code": code}, headers=enforcement
    ).json()["listings"]
    withdrawn = httpx.post(
        f"{server.base}/v1/credentials/{listing['id']}/status",
        json={
            "action": "withdraw",
            "reason": "行政处罚决定经行政复议被撤销",
            "decision_number": "复〔2026〕9号",
            "effective_on": listing["listedOn"],
        },
        headers={"Authorization": f"Bearer {tokens[f'issuer:{authority}']}"},
    )
    assert withdrawn.status_code == 201, withdrawn.text
    found: dict[str, Any] = listing
    return found


@pytest.mark.e2e
def test_a_receiver_that_never_finishes_holds_up_no_subscriber_of_the_real_server(
    db_url: str, servers: Servers, tmp_path: Path
) -> None:
    events = Events()
    slow = Trickler(events, 0)
    prompt = [Prompt(events, n) for n in (1, 2, 3)]
    settings = {"REGISTRY_WEBHOOK_DEADLINE_SECONDS": "2"}
    data_dir = tmp_path / "data"
    try:
        server = servers.start(db_url, data_dir, settings=settings)
        tokens = json.loads((data_dir / "secrets" / "demo-tokens.json").read_text("utf-8"))
        enforcement = {"Authorization": f"Bearer {tokens['enforcement']}"}
        codes = [code for _, code in DEMO_LISTED_ORGANISATIONS.values()]
        subscriptions = []
        for url in [slow.url, *(p.url for p in prompt)]:
            subscribed = httpx.post(
                f"{server.base}/v1/subscriptions",
                json={"url": url, "credit_codes": codes},
                headers=enforcement,
            )
            assert subscribed.status_code == 201, subscribed.text
            subscriptions.append(subscribed.json()["id"])

        def slow_log() -> list[dict[str, Any]]:
            answer = httpx.get(
                f"{server.base}/v1/subscriptions/{subscriptions[0]}/deliveries",
                headers=enforcement,
            )
            assert answer.status_code == 200, answer.text
            deliveries: list[dict[str, Any]] = answer.json()["deliveries"]
            return deliveries

        _withdraw(server, tokens, "CN-AH")
        wait_for(lambda: all(len(p.seen) == 1 for p in prompt), "the change at each receiver")
        wait_for(lambda: bool(slow.ended), "the slow receiver's first attempt to end")
        # The prompt receivers had it before the slow one's attempt ended, which the
        # server cut off at the deadline it was given.
        cut = events.position("ended", 0)
        assert all(events.position("received", n) < cut for n in (1, 2, 3)), events.log
        assert slow.ended[0] == "cut off"
        [delivery] = slow_log()
        assert delivery["state"] == "pending"
        assert delivery["lastError"] == "no complete answer within 2 s"

        # Restarted, with the slow delivery due again: the next change still reaches
        # the prompt receivers, and the slow one is tried again and cut off again.
        servers.stop(server)
        server = servers.start(db_url, data_dir, settings=settings)
        tried = len(slow.ended)
        _withdraw(server, tokens, "CN-SH")
        wait_for(lambda: all(len(p.seen) == 2 for p in prompt), "the next change at each")
        wait_for(lambda: len(slow.ended) > tried, "the slow receiver tried again")
        assert set(slow.ended) == {"cut off"}
        # Queued for the slow one too, behind the delivery it has not taken yet.
        wait_for(lambda: len(slow_log()) == 2, "the next change queued for the slow one")
        first, second = slow_log()
        assert (first["state"], second["state"], second["attempts"]) == ("pending", "pending", 0)
        assert first["attempts"] > tried
        for number, receiver in enumerate(prompt, start=1):
            actions = [json.loads(body)["change"]["action"] for _, body in receiver.seen]
            assert actions == ["withdraw", "withdraw"], number
    finally:
        slow.close()
        for receiver in prompt:
            receiver.close()
