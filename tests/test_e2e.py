"""End to end: the real `registry serve --demo` process, as `make run` starts it."""

from __future__ import annotations

import hashlib
import json
import os
import stat
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import rfc8785

from tests._support import REGISTRY, free_port


@dataclass
class Server:
    base: str
    log: Path

    @property
    def output(self) -> str:
        return self.log.read_text(errors="replace")


class Servers:
    """Starts real `registry serve --demo` processes and stops them all at the end."""

    def __init__(self, tmp_path: Path) -> None:
        self._tmp_path = tmp_path
        self._processes: list[subprocess.Popen[bytes]] = []

    def start(self, database_url: str, data_dir: Path) -> Server:
        port = free_port()
        env = {
            **os.environ,
            "REGISTRY_DATA_DIR": str(data_dir),
            "REGISTRY_DATABASE_URL": database_url,
        }
        server = Server(base=f"http://127.0.0.1:{port}", log=self._tmp_path / f"server-{port}.log")
        with server.log.open("wb") as log:
            process = subprocess.Popen(
                [str(REGISTRY), "serve", "--demo", "--host", "127.0.0.1", "--port", str(port)],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        self._processes.append(process)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if process.poll() is not None:
                pytest.fail(f"server exited with {process.returncode}:\n{server.output}")
            try:
                if httpx.get(f"{server.base}/healthz", timeout=1).status_code == 200:
                    return server
            except httpx.TransportError:
                time.sleep(0.2)
        pytest.fail(f"server did not answer /healthz within 60 s:\n{server.output}")

    def stop_all(self) -> None:
        for process in self._processes:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@pytest.fixture
def servers(tmp_path: Path) -> Iterator[Servers]:
    servers = Servers(tmp_path)
    yield servers
    servers.stop_all()


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
    assert len(key_files) == 8
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
    listed = {k["id"] for m in subject["members"] for k in m["issuingKeys"]}
    assert len(document["proof"]) == 4
    assert signers == listed
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
