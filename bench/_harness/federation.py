"""Four real nodes on PostgreSQL, and single issuances sent to one of them on a fixed
schedule: what the federation benchmarks (propagation, witnessing) share.

``four_nodes`` starts a throwaway PostgreSQL cluster (durable defaults) with a
database per node, prints the machine's line and reference figures, then runs the
demo federation of four real nodes on loopback (``registry demo federation``'s own
code: each ``registry serve`` holds only its own keys, follows the others' logs,
witnesses them, and has its own checkpoints cosigned by them).
"""

from __future__ import annotations

import tempfile
import threading
import time
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import httpx
from sqlalchemy import text

from bench._harness.machine import machine, reference
from bench.issue import ce_credit
from devtools.ports import free_ports
from devtools.postgres import start_cluster
from registry.demo.network import DemoNode, run_federation, stop_nodes
from registry.storage.db import engine_scope

__all__ = ["CODES", "four_nodes", "issue_steadily"]

CODES = ("CN-SH", "CN-JS", "CN-ZJ", "CN-AH")
"""The demo federation's members; the first is the origin the benchmarks issue on."""

_START_DELAY = 0.5


@contextmanager
def four_nodes(
    *, prefix: str, follow_interval: float, workers: Mapping[str, int]
) -> Iterator[list[DemoNode]]:
    """The four nodes running (the origin first), each mirroring the others, until
    the block ends; ``workers``: server processes by authority (default one)."""
    print(f"machine: {machine()}", flush=True)
    cluster = start_cluster(durable=True)
    try:
        base = f"postgresql+psycopg://{cluster.superuser}@{cluster.host}:{cluster.port}"
        with engine_scope(f"{base}/postgres") as admin, admin.connect() as connection:
            autocommit = connection.execution_options(isolation_level="AUTOCOMMIT")
            for code in CODES:
                autocommit.execute(text(f"CREATE DATABASE node_{code[3:].lower()}"))
        urls = {code: f"{base}/node_{code[3:].lower()}" for code in CODES}
        reference(urls["CN-SH"])
        with tempfile.TemporaryDirectory(prefix=prefix) as work:
            began = time.perf_counter()
            nodes, _ = run_federation(
                free_ports(4),
                Path(work),
                say=lambda _message: None,
                database_urls=urls,
                follow_interval=follow_interval,
                workers=workers,
            )
            print(f"four nodes built and mirrored in {time.perf_counter() - began:.0f} s")
            try:
                yield nodes
            finally:
                stop_nodes(nodes)
    finally:
        cluster.stop()


def issue_steadily(origin: DemoNode, rate: float, seconds: float) -> list[tuple[float, int]]:
    """Issue ``rate`` single CE credits a second for ``seconds`` on a fixed schedule
    (starting half a second from now, whatever the answers' pace); each issuance's
    201 time (``time.monotonic``) and leaf index. Raises ``RuntimeError`` on any
    other answer."""
    token = origin.tokens[f"issuer:{origin.code}"]
    count = int(rate * seconds)
    done: list[tuple[float, int]] = []
    lock = threading.Lock()
    local = threading.local()
    start = time.monotonic() + _START_DELAY

    def one(n: int) -> None:
        client = getattr(local, "client", None)
        if client is None:
            client = local.client = httpx.Client(
                base_url=origin.url, headers={"Authorization": f"Bearer {token}"}, timeout=30
            )
        delay = start + n / rate - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        answer = client.post("/v1/credentials", json=ce_credit(1_000_000 + n))
        at = time.monotonic()
        if answer.status_code != 201:
            raise RuntimeError(f"issuance {n}: {answer.status_code} {answer.text[:300]}")
        with lock:
            done.append((at, int(answer.json()["leaf_index"])))

    with ThreadPoolExecutor(max_workers=16) as pool:
        for future in [pool.submit(one, n) for n in range(count)]:
            future.result()
    return done
