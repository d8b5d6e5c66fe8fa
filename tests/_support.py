"""Small helpers shared by the tests."""

from __future__ import annotations

import os
import secrets
import socket
import sys
from datetime import datetime
from pathlib import Path

from sqlmodel import Session

from registry.authorities import create_authority
from registry.crypto.keys import KeyStore
from registry.demo import DEMO_AUTHORITIES
from registry.trust.proposals import seed_genesis
from registry.trust.store import NodeProfile

__all__ = ["PROFILE", "REGISTRY", "TEST_PASSPHRASE", "found_federation", "free_port"]

REGISTRY = Path(sys.executable).parent / "registry"
"""The installed `registry` console script of the environment running the tests."""


PROFILE = NodeProfile(log_origin_prefix="registry.yrd.example", node_url="http://127.0.0.1:8000")
"""How the test node names the members it hosts."""

TEST_PASSPHRASE = b"test passphrase"
"""What the ``key_store`` fixture encrypts keys with (other processes need it too)."""


_PORTS = range(20000, 32000)
"""Where servers started by the tests listen: below Linux's ephemeral range (32768 and
up), so no outgoing connection or ``bind(0)`` of another process takes them."""


def _own_ports() -> range:
    # Under pytest-xdist each worker draws from its own slice, so two workers never
    # hand out the same port between choosing it and their server binding it.
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
    count = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    index = int(worker.removeprefix("gw"))
    size = len(_PORTS) // count
    start = _PORTS.start + index * size
    return range(start, start + size)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now, of this worker's own."""
    ports = _own_ports()
    for _ in range(200):
        port = ports[secrets.randbelow(len(ports))]
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free port in {ports.start}-{ports.stop - 1} on 127.0.0.1")


def found_federation(
    session: Session, key_store: KeyStore, *, now: datetime, genesis: bool = True
) -> None:
    """The four demo authorities, created at ``now``, and their genesis signed by all four."""
    for code, name_zh, name_en in DEMO_AUTHORITIES:
        create_authority(session, key_store, code=code, name_zh=name_zh, name_en=name_en, now=now)
    if genesis:
        seed_genesis(session, key_store, profile=PROFILE, now=now)
