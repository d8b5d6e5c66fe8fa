"""End to end: the real `registry serve --demo` process, as `make run` starts it."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import stat
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
import rfc8785
from prometheus_client.parser import text_string_to_metric_families

from registry.demo import DEMO_ENGINEERS
from tests._servers import Server, Servers
from tests._support import REGISTRY


@pytest.mark.e2e
def test_make_run_on_embedded_sqlite(servers: Servers, tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    url = f"sqlite:///{data_dir / 'registry.sqlite3'}"
    server = servers.start(url, data_dir)
    assert f"curl {server.base}/v1/authorities" in server.output
    assert "seeded the demo federation" in server.output
    assert httpx.get(f"{server.base}/healthz").status_code == 200
    ready = httpx.get(f"{server.base}/readyz")
    assert ready.status_code == 200
    assert ready.json()["database"] == "sqlite"
    authorities = httpx.get(f"{server.base}/v1/authorities").json()
    assert [a["code"] for a in authorities] == ["CN-AH", "CN-JS", "CN-SH", "CN-ZJ"]
    genesis = _check_demo_genesis(server, tmp_path)
    # Keys and secrets were generated at first run, owner-only, private keys encrypted.
    key_files = sorted((data_dir / "keys").glob("*.pem"))
    assert len(key_files) == 13  # an issuing, a log and a witness key per authority, the node key
    for path in key_files:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert path.read_bytes().startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----")
    assert stat.S_IMODE((data_dir / "secrets" / "key-passphrase").stat().st_mode) == 0o600
    # Demo tokens: made at first run, kept owner-only, printed at every start, and
    # accepted for their role.
    tokens_file = data_dir / "secrets" / "demo-tokens.json"
    assert stat.S_IMODE(tokens_file.stat().st_mode) == 0o600
    tokens = json.loads(tokens_file.read_text(encoding="utf-8"))
    assert tokens["federation"] in server.output
    entries = httpx.get(
        f"{server.base}/v1/logs/CN-SH/entries",
        params={"start": 0, "end": 1},
        headers={"Authorization": f"Bearer {tokens['verifier']}"},
    )
    assert entries.status_code == 403
    # No ID number of the seeded records is in the database file, byte for byte.
    stored = b"".join(p.read_bytes() for p in data_dir.glob("registry.sqlite3*"))
    assert "王立新".encode() in stored
    for engineer in DEMO_ENGINEERS:
        assert engineer.id_number.encode() not in stored
        assert engineer.id_number not in server.output
    # A second start on the same data keeps what is there.
    again = servers.start(url, data_dir)
    assert "demo data already present" in again.output
    assert tokens["admin"] in again.output
    assert httpx.get(f"{again.base}/v1/authorities").json() == authorities
    assert httpx.get(f"{again.base}/v1/trust-list").content == genesis.content


def _check_demo_genesis(server: Server, tmp_path: Path) -> httpx.Response:
    """The demo's genesis trust list: all four members, signed by all four, verifiable."""
    genesis = httpx.get(f"{server.base}/v1/trust-list")
    assert genesis.status_code == 200
    assert genesis.headers["etag"] == f'"{hashlib.sha256(genesis.content).hexdigest()}"'
    document = genesis.json()
    unsigned = {k: v for k, v in document.items() if k != "proof"}
    digest = hashlib.sha256(rfc8785.dumps(unsigned)).hexdigest()
    assert f"Genesis trust list digest (pin it): {digest}" in server.output
    assert httpx.get(f"{server.base}/v1/trust-list/history").json()["genesis"] == digest
    assert document["type"] == ["VerifiableCredential", "TrustList"]
    subject = document["credentialSubject"]
    assert subject["version"] == 1
    assert sorted(m["code"] for m in subject["members"]) == ["CN-AH", "CN-JS", "CN-SH", "CN-ZJ"]
    signers = {p["verificationMethod"] for p in document["proof"]}
    # Every issuing key signed; the node key (reports only) is listed and did not.
    keys = [k for m in subject["members"] for k in m["issuingKeys"]]
    issuing = {k["id"] for k in keys if k["allowedTypes"] != ["VerificationReport"]}
    assert len(document["proof"]) == 4
    assert signers == issuing
    assert [k["allowedTypes"] for k in keys if k["id"] not in issuing] == [["VerificationReport"]]
    # The offline verifier accepts it when pinned to its own digest, and only then.
    path = tmp_path / "genesis.json"
    path.write_bytes(genesis.content)
    verify = [str(REGISTRY), "trust", "verify", str(path), "--genesis"]
    held = subprocess.run([*verify, digest], capture_output=True, text=True, check=False)
    assert held.returncode == 0, held.stdout + held.stderr
    assert "the chain holds" in held.stdout
    wrong = subprocess.run([*verify, "0" * 64], capture_output=True, text=True, check=False)
    assert wrong.returncode == 1
    assert "not the pinned genesis" in wrong.stderr
    return genesis


@pytest.mark.e2e
def test_serve_on_postgresql(pg_url: str, servers: Servers, tmp_path: Path) -> None:
    server = servers.start(pg_url, tmp_path / "data")
    ready = httpx.get(f"{server.base}/readyz")
    assert ready.status_code == 200
    assert ready.json()["database"] == "postgresql"
    missing = httpx.get(f"{server.base}/v1/authorities/CN-GD")
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"
    assert len(httpx.get(f"{server.base}/v1/authorities").json()) == 4
    _check_demo_genesis(server, tmp_path)


def _workers(parent: int) -> set[int]:
    # The server's worker processes: its children that run the app (not
    # multiprocessing's resource tracker).
    children = Path(f"/proc/{parent}/task/{parent}/children").read_text().split()
    return {
        int(pid)
        for pid in children
        if "resource_tracker" not in Path(f"/proc/{pid}/cmdline").read_text(errors="replace")
    }


def _sockets_by_worker(port: int, workers: set[int], state: str) -> dict[int, set[str]]:
    # The TCP sockets on the port in ``state`` ("0A" listening, "01" established), by
    # the worker holding each: from /proc, each worker's socket inodes and the
    # kernel's table of TCP sockets.
    on_port = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if int(fields[1].split(":")[1], 16) == port and fields[3] == state:
            on_port.add(fields[9])
    held = {}
    for pid in workers:
        inodes = {
            target.removeprefix("socket:[").removesuffix("]")
            for link in Path(f"/proc/{pid}/fd").iterdir()
            if (target := _link(link)).startswith("socket:")
        }
        held[pid] = inodes & on_port
    return held


def _link(fd: Path) -> str:
    # A descriptor the worker closes between the listing and the reading is no socket.
    try:
        return fd.readlink().name
    except FileNotFoundError:
        return ""


def _wait_for(predicate: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + 60
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"gave up waiting: {what}")
        time.sleep(0.2)


def _authorities_requests(server: Server) -> float:
    """How many answered ``GET /v1/authorities`` requests ``/metrics`` counts."""
    answer = httpx.get(f"{server.base}/metrics", timeout=30)
    assert answer.status_code == 200, answer.text
    labels = {"method": "GET", "route": "/v1/authorities", "status": "2xx"}
    return sum(
        sample.value
        for family in text_string_to_metric_families(answer.text)
        for sample in family.samples
        if sample.name == "registry_http_request_duration_seconds_count" and sample.labels == labels
    )


def test_serve_with_workers_shares_connections_and_restarts_a_worker(
    pg_url: str, servers: Servers, tmp_path: Path
) -> None:
    # Request figures left by an earlier run: the server empties their directory.
    stale = tmp_path / "data" / "metrics" / "counter_1.db"
    stale.parent.mkdir(parents=True)
    stale.write_bytes(b"left by an earlier run")
    json_logs = {"REGISTRY_LOG_FORMAT": "json"}
    server = servers.start(pg_url, tmp_path / "data", workers=2, settings=json_logs)
    assert not stale.exists()
    port = int(server.base.rsplit(":", 1)[1])
    _wait_for(lambda: len(_workers(server.pid)) == 2, "two workers")
    workers = _workers(server.pid)
    # Each worker listens on a socket of its own, once its app has started (one
    # shared socket would let the worker that wakes first take a whole burst).
    _wait_for(
        lambda: all(_sockets_by_worker(port, workers, "0A").values()), "both workers listening"
    )
    listening = _sockets_by_worker(port, workers, "0A")
    assert all(len(inodes) == 1 for inodes in listening.values()), listening
    assert len(set.union(*listening.values())) == 2
    # The kernel spreads connections between them: of forty, each worker holds at
    # least 8 but for a chance near 1 in 100,000.
    clients = [httpx.Client(base_url=server.base, timeout=30) for _ in range(40)]
    number = DEMO_ENGINEERS[0].id_number
    try:
        for client in clients:
            assert client.get("/healthz").status_code == 200
        held = _sockets_by_worker(port, workers, "01")
        assert sum(len(inodes) for inodes in held.values()) == 40
        assert all(len(inodes) >= 8 for inodes in held.values()), held
    finally:
        for client in clients:
            client.close()
    for n in range(40):
        # A connection each, spread over both workers. An ID number in the query
        # string: it reaches no log line and no label.
        answer = httpx.get(
            f"{server.base}/v1/authorities",
            params={"id_number": number},
            headers={"X-Request-ID": f"e-{n}"},
            timeout=30,
        )
        assert answer.headers["X-Request-ID"] == f"e-{n}"
    # One scrape adds up both workers' requests (each wrote its own figures' file).
    assert _authorities_requests(server) == 40
    written = {p.name for p in (tmp_path / "data" / "metrics").glob("histogram_*.db")}
    assert written == {f"histogram_{pid}.db" for pid in workers}
    lines = [json.loads(line) for line in server.output.splitlines() if line.startswith("{")]
    asked_lines = [line for line in lines if line.get("route") == "/v1/authorities"]
    assert sorted(line["request_id"] for line in asked_lines) == sorted(f"e-{n}" for n in range(40))
    assert number not in server.output
    # A second server cannot take the port (it would share its connections).
    second = subprocess.run(
        [str(REGISTRY), "serve", "--port", str(port), "--workers", "2"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**os.environ, "REGISTRY_DATA_DIR": str(tmp_path / "second")},
    )
    assert second.returncode == 1
    assert f"cannot listen on 127.0.0.1:{port}" in second.stdout + second.stderr
    # A worker that dies is replaced, and the port is served throughout.
    dead = min(workers)
    os.kill(dead, signal.SIGKILL)
    _wait_for(lambda: len(_workers(server.pid) - {dead}) == 2, "a new worker")
    for _ in range(10):
        assert httpx.get(f"{server.base}/healthz", timeout=30).status_code == 200
    assert "starting another" in server.output
    assert _authorities_requests(server) == 40  # the dead worker's figures stay counted
    # Stopping the server stops every worker.
    survivors = _workers(server.pid)
    os.kill(server.pid, signal.SIGTERM)
    _wait_for(lambda: not any(Path(f"/proc/{pid}").exists() for pid in survivors), "workers gone")
