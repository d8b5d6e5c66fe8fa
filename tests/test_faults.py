"""Kill -9 at any moment, then restart: the real server (or the `registry import`
process) on PostgreSQL, killed at moments spread over a batch issuance, a bulk import,
a federation catch-up and a webhook round. After each restart nothing is half written
(``tests/_faults.whole``: the log audit holds for every log, every credential has its
log entry and record), a batch or an import is all or nothing, a retry with the same
Idempotency-Key answers what the first request committed or issues once, the mirror
resumes to the peer's size, and every change reaches the receiver with its delivery id.

The moments are read from the database where they can be (a transaction that has
written, the rows of a commit), so each run kills at the same steps."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from api.examples import record_examples
from devtools.ports import free_port, free_ports
from registry.calendar import china_today
from registry.demo.network import (
    build_federation,
    checkpoint_of,
    plan_nodes,
    start_nodes,
    stop_nodes,
)
from registry.settings import Settings
from registry.storage.db import engine_scope
from tests._faults import ce_credit, connected, log_size, wait_until, whole, writing
from tests._federation import postgresql_databases
from tests._servers import Servers
from tests._support import LOOPBACK, REGISTRY, run_import, seed_demo_node

BATCH = 300
"""Items of each batch: enough that the server is busy with it for a moment."""


def _node(pg_url: str, tmp_path: Path) -> tuple[Settings, dict[str, str]]:
    settings = Settings(
        data_dir=tmp_path / "data",
        database_url=pg_url,
        webhook_allowed_networks=LOOPBACK.allowed,
        demo=True,
    )
    return settings, seed_demo_node(settings)


def _idempotent(url: str, key: str) -> list[str] | None:
    with engine_scope(url) as engine, engine.connect() as connection:
        found = connection.execute(
            sa.text("SELECT credential_ids FROM idempotency_key WHERE key = :k"), {"k": key}
        ).scalar()
    return None if found is None else list(found)


def _leaves(url: str, ids: list[str]) -> list[int]:
    with engine_scope(url) as engine, engine.connect() as connection:
        found: dict[str, int] = dict(
            connection.execute(
                sa.text(
                    "SELECT credential_id, leaf_index FROM log_entry WHERE credential_id IN :ids"
                ).bindparams(sa.bindparam("ids", expanding=True)),
                {"ids": ids},
            ).all()
        )
    return [found[i] for i in ids]


class _Request(threading.Thread):
    """One request, sent on a thread of its own so that the server can be killed
    under it; ``answer`` is its answer, or ``None`` if the server died first."""

    def __init__(self, url: str, body: Any, headers: dict[str, str]) -> None:
        super().__init__(daemon=True)
        self.url, self.body, self.headers = url, body, headers
        self.answer: httpx.Response | None = None

    def run(self) -> None:
        try:
            self.answer = httpx.post(self.url, json=self.body, headers=self.headers, timeout=60)
        except httpx.TransportError:
            self.answer = None


# Where the batch is when the server is killed: as soon as the request is sent
# (before the server has read it, or while it reads it), while the batch's
# transaction has written and not committed, and once it has committed (its log
# entries visible: the answer may or may not have left).
_BATCH_MOMENTS: list[tuple[str, Callable[[str, int], object]]] = [
    ("before anything", lambda _url, _before: True),
    ("while writing", lambda url, _before: writing(url)),
    ("right at the end", lambda url, before: log_size(url, "CN-SH") >= before + BATCH),
]


@pytest.mark.e2e
def test_a_batch_killed_at_any_moment_is_all_or_nothing_and_its_retry_answers_once(
    pg_url: str, servers: Servers, tmp_path: Path
) -> None:
    settings, tokens = _node(pg_url, tmp_path)
    server = servers.start(pg_url, settings.data_dir)
    headers = {"Authorization": f"Bearer {tokens['issuer:CN-SH']}"}
    outcomes: dict[str, bool] = {}
    for number, (moment, reached) in enumerate(_BATCH_MOMENTS):
        key = f"batch-{number}"
        body = {"items": [ce_credit(number * BATCH + n) for n in range(BATCH)]}
        before = log_size(pg_url, "CN-SH")
        sent = {**headers, "Idempotency-Key": key}
        request = _Request(f"{server.base}/v1/credentials/batch", body, sent)
        request.start()
        wait_until(lambda: reached(pg_url, before), f"the batch {moment}")  # noqa: B023
        servers.kill(server)
        request.join()
        server = servers.start(pg_url, settings.data_dir)
        sizes = whole(pg_url, settings.data_dir)
        # All or nothing, and the key remembered exactly when the batch committed.
        committed = _idempotent(pg_url, key)
        assert sizes["CN-SH"] == before + (BATCH if committed else 0), moment
        outcomes[moment] = committed is not None
        if request.answer is not None:
            assert request.answer.status_code == 201, request.answer.text
            assert committed is not None
        retry = httpx.post(
            f"{server.base}/v1/credentials/batch", json=body, headers=sent, timeout=60
        )
        assert retry.status_code == 201, retry.text
        items = retry.json()["items"]
        ids = [item["credential"]["id"] for item in items]
        if committed is not None:
            # The same answer: the same credentials at the same leaves, nothing new.
            assert retry.headers.get("Idempotent-Replayed") == "true"
            assert ids == committed
            assert [item["leaf_index"] for item in items] == _leaves(pg_url, committed)
            if request.answer is not None:
                assert request.answer.json()["items"] == items
            assert log_size(pg_url, "CN-SH") == before + BATCH
        else:
            # Issued once now, and once only: a further retry answers the same.
            assert "Idempotent-Replayed" not in retry.headers
            assert log_size(pg_url, "CN-SH") == before + BATCH
            again = httpx.post(
                f"{server.base}/v1/credentials/batch", json=body, headers=sent, timeout=60
            )
            assert again.headers.get("Idempotent-Replayed") == "true"
            assert [i["credential"]["id"] for i in again.json()["items"]] == ids
        whole(pg_url, settings.data_dir)
    # The moments did fall before and after the commit.
    assert outcomes["before anything"] is False
    assert outcomes["while writing"] is False
    assert outcomes["right at the end"] is True


IMPORTED = 600
"""Rows of the imported file."""


def _import_file(path: Path) -> Path:
    header = ["姓名", "身份证号", "课程名称", "培训机构", "培训机构统一社会信用代码",
              "学时", "学时类型", "完成日期"]  # fmt: skip
    rows = [header]
    for n in range(IMPORTED):
        item = ce_credit(10_000 + n)
        rows.append(
            [
                item["holder"]["name"],
                item["holder"]["id_number"],
                item["course_title"],
                item["provider"]["name"],
                item["provider"]["credit_code"],
                str(item["hours"]),
                item["kind"],
                item["completed_on"],
            ]
        )
    with path.open("w", encoding="utf-8-sig", newline="") as handle:
        csv.writer(handle).writerows(rows)
    return path


def _receipts(url: str) -> int:
    with engine_scope(url) as engine, engine.connect() as connection:
        return int(connection.execute(sa.text("SELECT count(*) FROM receipt")).scalar() or 0)


# Where `registry import` is when it is killed: checking the file against the registry
# (connected, nothing written), issuing (its transaction has written), and once its
# transaction has committed (the receipt is stored; the receipt file may not be
# written yet).
_IMPORT_MOMENTS: list[tuple[str, Callable[[str, int], object]]] = [
    ("checking", lambda url, _receipts: connected(url)),
    ("while writing", lambda url, _receipts: writing(url)),
    ("right at the end", lambda url, receipts: _receipts(url) > receipts),
]


@pytest.mark.e2e
@pytest.mark.parametrize("moment", [moment for moment, _ in _IMPORT_MOMENTS])
def test_an_import_killed_at_any_moment_issued_all_its_rows_or_none(
    pg_url: str, tmp_path: Path, moment: str
) -> None:
    settings, _tokens = _node(pg_url, tmp_path)
    path = _import_file(tmp_path / "credits.csv")
    reached = dict(_IMPORT_MOMENTS)[moment]
    before, receipts = log_size(pg_url, "CN-SH"), _receipts(pg_url)
    env = {
        **os.environ,
        "REGISTRY_DATABASE_URL": pg_url,
        "REGISTRY_DATA_DIR": str(settings.data_dir),
    }
    command = [str(REGISTRY), "import", str(path), "--type", "continuing-education"]
    process = subprocess.Popen(
        [*command, "--authority", "CN-SH"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_until(lambda: reached(pg_url, receipts) or process.poll() is not None, moment)
        assert process.poll() is None, f"the import ended before {moment}"
    finally:
        process.kill()
        process.wait()
    sizes = whole(pg_url, settings.data_dir)
    done = _receipts(pg_url) > receipts
    # All or nothing, and the node's receipt says which.
    assert sizes["CN-SH"] == before + (IMPORTED if done else 0)
    assert done == (moment == "right at the end")
    # The official runs it again: the rows issued before are refused as held already,
    # and nothing is issued twice; rows never issued are issued now, once.
    kind = ("--type", "continuing-education", "--authority", "CN-SH")
    again = run_import(settings, str(path), *kind)
    if done:
        assert again.returncode == 1, again.stdout
        assert "nothing issued" in again.stderr
    else:
        assert again.returncode == 0, again.stderr
        assert f"issued {IMPORTED} ContinuingEducationCredit record(s)" in again.stdout
    assert whole(pg_url, settings.data_dir)["CN-SH"] == before + IMPORTED


class _Receiver:
    """A webhook receiver on loopback that keeps every delivery it is sent, and holds
    its answer to the ``hold``-th one it receives (counting from 1) until the server
    that sent it is gone; 0 holds none."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, dict[str, Any]]] = []
        self.answered = 0
        self.hold = 0
        self.released = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.seen.append((self.headers["X-Registry-Delivery"], json.loads(body)))
                if len(receiver.seen) == receiver.hold:
                    receiver.released.wait(60)
                    return  # never answered: the sender is gone
                self.send_response(204)
                self.end_headers()
                receiver.answered += 1

            def log_message(self, *_args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def changes(self) -> set[str]:
        return {body["change"]["id"] for _, body in self.seen}

    def close(self) -> None:
        self.released.set()
        self.server.shutdown()
        self.server.server_close()


LISTINGS = 6
"""Changes delivered in the webhook round."""


@pytest.mark.e2e
def test_a_webhook_round_killed_mid_delivery_delivers_every_change_after_restart(
    pg_url: str, servers: Servers, tmp_path: Path
) -> None:
    settings, tokens = _node(pg_url, tmp_path)
    receiver = _Receiver()
    receiver.hold = 3
    try:
        server = servers.start(pg_url, settings.data_dir)
        enforcement = {"Authorization": f"Bearer {tokens['enforcement']}"}
        listing = record_examples(china_today())["listing"]["value"]
        subscribed = httpx.post(
            f"{server.base}/v1/subscriptions",
            json={"url": receiver.url, "credit_codes": [listing["listed"]["credit_code"]]},
            headers=enforcement,
        )
        assert subscribed.status_code == 201, subscribed.text
        issued = httpx.post(
            f"{server.base}/v1/credentials/batch",
            json={"items": [listing] * LISTINGS},
            headers={"Authorization": f"Bearer {tokens['issuer:CN-SH']}"},
            timeout=60,
        )
        assert issued.status_code == 201, issued.text
        wanted = {f"CN-SH/{item['leaf_index']}" for item in issued.json()["items"]}
        # Killed while the receiver holds the third delivery: it was sent, and its
        # answer never came back.
        wait_until(lambda: len(receiver.seen) >= 3, "the third delivery")
        servers.kill(server)
        receiver.released.set()
        # Killed right after the receiver answered the fifth delivery: whether the
        # server recorded it or not, it is delivered again at most, never lost.
        receiver.hold = 0
        server = servers.start(pg_url, settings.data_dir)
        wait_until(lambda: receiver.answered >= 4, "the fifth delivery's answer")
        servers.kill(server)
        server = servers.start(pg_url, settings.data_dir)
        wait_until(lambda: receiver.changes() >= wanted, "every change delivered")
        deliveries = httpx.get(
            f"{server.base}/v1/subscriptions/{subscribed.json()['id']}/deliveries",
            headers=enforcement,
        )
    finally:
        receiver.close()
    assert receiver.changes() == wanted
    # At least once, in order, and a change sent again carries the same delivery id
    # and the same body: the receiver can tell it has it.
    first: dict[str, tuple[str, dict[str, Any]]] = {}
    for delivery, body in receiver.seen:
        first.setdefault(body["change"]["id"], (delivery, body))
        assert first[body["change"]["id"]] == (delivery, body)
    order = [body["change"]["leafIndex"] for _, body in receiver.seen]
    assert sorted(dict.fromkeys(order)) == list(dict.fromkeys(order))
    assert len(receiver.seen) > LISTINGS  # the held one at least came twice
    assert deliveries.status_code == 200, deliveries.text
    states = [d["state"] for d in deliveries.json()["deliveries"]]
    assert states == ["delivered"] * LISTINGS
    whole(pg_url, settings.data_dir)


PEER_ENTRIES = 2_000
"""Entries the peer's log has beyond its first: what the follower catches up on."""


def _mirrored(url: str, authority: str) -> tuple[int, str | None]:
    """How far the node's mirror of ``authority``'s log is, and its state."""
    with engine_scope(url) as engine, engine.connect() as connection:
        found = connection.execute(
            sa.text("SELECT tree_size, state FROM peer_log WHERE authority_code = :a"),
            {"a": authority},
        ).first()
    return (int(found[0]), str(found[1])) if found else (0, None)


@pytest.mark.e2e
def test_a_catch_up_killed_at_any_moment_resumes_to_the_peers_size(
    pg_url: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    work = tmp_path / "federation"
    work.mkdir()
    with postgresql_databases(pg_url, request, 2) as (sh_url, js_url):
        urls = {"CN-SH": sh_url, "CN-JS": js_url}
        sh, js = plan_nodes(free_ports(4), work, database_urls=urls, follow_interval=0.5)[:2]
        build_federation([sh, js], work, say=lambda _message: None)
        try:
            start_nodes([js], work)
            issued = httpx.post(
                f"{js.url}/v1/credentials/batch",
                json={"items": [ce_credit(n, authority="CN-JS") for n in range(PEER_ENTRIES)]},
                headers={"Authorization": f"Bearer {js.tokens['issuer:CN-JS']}"},
                timeout=120,
            )
            assert issued.status_code == 201, issued.text
            size = log_size(js_url, "CN-JS")
            # The follower killed: as soon as it answers (before it has mirrored
            # anything), while it writes the mirror (the transaction that stores the
            # entries verified), and right at the end (the mirror at the peer's size).
            moments: list[tuple[str, Callable[[], object]]] = [
                ("at once", lambda: True),
                ("while writing", lambda: writing(sh_url)),
                ("right at the end", lambda: _mirrored(sh_url, "CN-JS")[0] >= size),
            ]
            for moment, reached in moments:
                start_nodes([sh], work)
                wait_until(reached, f"the catch-up {moment}")
                assert sh.process is not None
                sh.process.kill()
                sh.process.wait()
                mirrored = whole(sh_url, sh.settings.data_dir).get("CN-JS", 0)
                assert mirrored in (0, size), f"{moment}: mirrored {mirrored} of {size}"
            # Restarted, it resumes: the mirror reaches the peer's size and holds.
            start_nodes([sh], work)
            wait_until(lambda: _mirrored(sh_url, "CN-JS") == (size, "current"), "the mirror")
            assert whole(sh_url, sh.settings.data_dir)["CN-JS"] == size
            assert checkpoint_of(sh.url, "CN-JS") == checkpoint_of(js.url, "CN-JS")
        finally:
            stop_nodes([sh, js])


def _alive(pid: int) -> bool:
    """Whether the process runs (an exited one not yet reaped is a zombie: not)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False
    return "\nState:\tZ" not in status


@pytest.mark.e2e
def test_workers_of_a_killed_server_stop_and_it_starts_again_on_its_port(
    pg_url: str, servers: Servers, tmp_path: Path
) -> None:
    """`registry serve --workers 2` killed outright (its supervising process): its
    workers stop by themselves instead of serving on, and the server started again
    listens on the same port."""
    settings, tokens = _node(pg_url, tmp_path)
    server = servers.start(pg_url, settings.data_dir, workers=2, ready_within=180)
    children = Path(f"/proc/{server.pid}/task/{server.pid}/children").read_text().split()
    # Its worker processes (multiprocessing's resource tracker is a child of its too).
    workers = [
        int(pid) for pid in children if b"spawn_main" in Path(f"/proc/{pid}/cmdline").read_bytes()
    ]
    assert len(workers) == 2
    servers.kill(server)
    wait_until(lambda: not any(_alive(pid) for pid in workers), "the workers to stop")
    port = int(server.base.rsplit(":", 1)[1])
    again = servers.start(pg_url, settings.data_dir, port=port)
    assert again.base == server.base
    answer = httpx.post(
        f"{again.base}/v1/credentials",
        json=ce_credit(900_000),
        headers={"Authorization": f"Bearer {tokens['issuer:CN-SH']}"},
        timeout=60,
    )
    assert answer.status_code == 201, answer.text
