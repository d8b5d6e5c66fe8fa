"""The real server a benchmark measures: ``registry serve`` on a free loopback port.

A benchmark migrates and seeds its database (``seed_node``), then runs the server as
a subprocess for as long as it measures (``serving``), as a deployment would run it:
the same command, the same settings from the environment, only on 127.0.0.1.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
from sqlalchemy import Engine

from devtools import REGISTRY
from devtools.ports import free_port
from registry.demo import seed_demo, seed_demo_records
from registry.issuing import IssuingContext
from registry.settings import Settings
from registry.storage.db import session_scope
from registry.tokens import create_token
from registry.trust.store import NodeProfile

__all__ = [
    "REGISTRY",
    "ROOT",
    "UNLIMITED",
    "Server",
    "free_port",
    "seed_node",
    "server_errors",
    "serving",
]

ROOT = Path(__file__).resolve().parents[2]
"""The repository: the server runs there."""


_STARTING_S = 60.0

UNLIMITED = {
    "REGISTRY_VERIFICATIONS_PER_MINUTE": "1000000",
    "REGISTRY_SEARCHES_PER_MINUTE": "1000000",
    "REGISTRY_BATCHES_PER_MINUTE": "100000",
    "REGISTRY_SIGN_INS_PER_MINUTE": "100000",
    "REGISTRY_PUBLIC_LOOKUPS_PER_MINUTE": "10000",
}
"""The rate limits (``api.rates``) at their highest, for a server a benchmark runs: what
is measured is its capacity, from one token and one address, not its limits."""


def seed_node(engine: Engine, settings: Settings, *, role: str) -> tuple[IssuingContext, str]:
    """Seed the demo federation and its records (if not there yet) into a migrated
    database, and make a token with ``role``; the issuing context and the token."""
    context = IssuingContext.for_node(settings)
    with session_scope(engine) as session:
        seed_demo(session, context.key_store, profile=NodeProfile.from_settings(settings))
        seed_demo_records(session, context)
        _, token = create_token(session, role, name=f"bench-{role}-{time.time_ns()}")
    return context, token


@dataclass(frozen=True)
class Server:
    """A running server: where to reach it and its process id (the parent of its workers)."""

    host: str
    port: int
    pid: int

    @property
    def base(self) -> str:
        """The base URL, ``http://127.0.0.1:PORT``."""
        return f"http://{self.host}:{self.port}"


@contextmanager
def serving(settings: Settings, log: Path, *, workers: int = 1) -> Iterator[Server]:
    """``registry serve --workers N`` with ``settings``, its output appended to ``log``,
    from ready until the block ends. Raises ``RuntimeError`` if it is not ready (its
    ``/readyz`` answering 200) within a minute."""
    port = free_port()
    env = {
        **os.environ,
        "REGISTRY_DATA_DIR": str(settings.data_dir),
        "REGISTRY_DATABASE_URL": settings.database_url,
        "REGISTRY_NODE_URL": f"http://127.0.0.1:{port}",
        # The demo's agreements count only on a node running the demo.
        "REGISTRY_DEMO": "true" if settings.demo else "false",
        **UNLIMITED,
    }
    command = [str(REGISTRY), "serve", "--port", str(port), "--workers", str(workers)]
    print(f"server: registry {' '.join(command[1:])}", flush=True)
    with log.open("ab") as out:
        process = subprocess.Popen(command, env=env, stdout=out, stderr=out, cwd=ROOT)
    try:
        _wait_until_ready(f"http://127.0.0.1:{port}", log)
        yield Server("127.0.0.1", port, process.pid)
    finally:
        process.terminate()
        process.wait(timeout=60)


def _wait_until_ready(base: str, log: Path) -> None:
    deadline = time.monotonic() + _STARTING_S
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.1)
    raise RuntimeError(f"the server did not start:\n{log.read_text(errors='replace')}")


@contextmanager
def server_errors(log: Path) -> Iterator[None]:
    """On an error status from the server, print the last traceback of its ``log``
    (or the answer, if it logged none) before the ``httpx.HTTPStatusError`` goes on."""
    try:
        yield
    except httpx.HTTPStatusError as exc:
        time.sleep(2)  # the server logs the traceback after it answers
        text = log.read_text(errors="replace")
        print(text[text.rfind("Traceback") :][-3000:] if "Traceback" in text else exc.response.text)
        raise
