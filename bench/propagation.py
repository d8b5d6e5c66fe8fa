"""Federation: how fast a record issued on one node is held, verified, by the others.

Run: ``.venv/bin/python bench/propagation.py [--rate 100] [--seconds 30]`` (or ``make
bench-propagation``). It starts a throwaway PostgreSQL cluster (durable defaults) with
a database per node and the demo federation of four real nodes on loopback
(``registry demo federation``'s own code: each ``registry serve`` holds only its own
keys, follows the others' logs, polling every 10 s and acting on notices).

Shanghai's node (``--workers`` server processes, 2: one per core) is then sent
``--rate`` single issuances a second (CE credits, one ``POST /v1/credentials`` each,
on a fixed schedule whatever the answers' pace) for ``--seconds``. Each record's
propagation time, for each of the ``--followers`` other nodes (3; the rest are
stopped first, so that fewer servers share the machine), is
from the origin's 201 to that node's commit of the mirror batch holding it (read
every 20 ms from that node's ``peer_log``: the batch was verified, entry by entry,
before that commit). Printed: the issuances per second achieved, and p50, p99 and the
maximum per node and over all, against the target; first the machine's reference
figures of the same run.

Target: p99 at most 2 s under 100 issuances/s.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import sqlalchemy as sa
from sqlalchemy import text

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # bench, when run as a script

from bench._harness.machine import machine, reference
from bench._harness.stats import at_most, percentile
from bench.issue import ce_credit
from devtools.ports import free_ports
from devtools.postgres import start_cluster
from registry.demo.network import DemoNode, run_federation, stop_nodes
from registry.storage.db import engine_scope

TARGET_P99_SECONDS = 2.0
_WATCH_SECONDS = 0.02
_CODES = ("CN-SH", "CN-JS", "CN-ZJ", "CN-AH")


class Watcher:
    """Reads each follower's verified size of the origin's log every 20 ms, and keeps
    the first time each size was seen."""

    def __init__(self, nodes: list[DemoNode], origin: str) -> None:
        self._engines = {
            node.code: sa.create_engine(node.settings.database_url, pool_size=1)
            for node in nodes
            if node.code != origin
        }
        self._origin = origin
        self.seen: dict[str, list[tuple[float, int]]] = {code: [] for code in self._engines}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> Watcher:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join()
        for engine in self._engines.values():
            engine.dispose()

    def _run(self) -> None:
        query = text("SELECT tree_size FROM peer_log WHERE authority_code = :code")
        while not self._stop.is_set():
            for code, engine in self._engines.items():
                with engine.connect() as connection:
                    size = connection.execute(query, {"code": self._origin}).scalar() or 0
                at = time.monotonic()
                history = self.seen[code]
                if not history or size > history[-1][1]:
                    history.append((at, size))
            time.sleep(_WATCH_SECONDS)

    def size(self, code: str) -> int:
        history = self.seen[code]
        return history[-1][1] if history else 0

    def held_at(self, code: str, leaf: int) -> float | None:
        """When the follower first held entry ``leaf`` (its verified size past it)."""
        for at, size in self.seen[code]:
            if size > leaf:
                return at
        return None


def _issue(origin: DemoNode, rate: float, seconds: float) -> list[tuple[float, int]]:
    """Issue on a fixed schedule; each issuance's 201 time and leaf index."""
    token = origin.tokens[f"issuer:{origin.code}"]
    count = int(rate * seconds)
    done: list[tuple[float, int]] = []
    lock = threading.Lock()
    local = threading.local()
    start = time.monotonic() + 0.5

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


def run(*, rate: float, seconds: float, workers: int, followers: int) -> None:
    """Build the federation on a throwaway cluster and measure propagation."""
    print(f"machine: {machine()}", flush=True)
    cluster = start_cluster(durable=True)
    try:
        base = f"postgresql+psycopg://{cluster.superuser}@{cluster.host}:{cluster.port}"
        with engine_scope(f"{base}/postgres") as admin, admin.connect() as connection:
            autocommit = connection.execution_options(isolation_level="AUTOCOMMIT")
            for code in _CODES:
                autocommit.execute(text(f"CREATE DATABASE node_{code[3:].lower()}"))
        urls = {code: f"{base}/node_{code[3:].lower()}" for code in _CODES}
        reference(urls["CN-SH"])
        with tempfile.TemporaryDirectory(prefix="propagation-") as work:
            began = time.perf_counter()
            nodes, _ = run_federation(
                free_ports(4),
                Path(work),
                say=lambda _message: None,
                database_urls=urls,
                follow_interval=10.0,
                workers={"CN-SH": workers},
            )
            print(f"four nodes built and mirrored in {time.perf_counter() - began:.0f} s")
            try:
                # The nodes past --followers stop: fewer peers for the machine to run.
                stop_nodes(nodes[1 + followers :])
                _measure(nodes[: 1 + followers], rate=rate, seconds=seconds)
            finally:
                stop_nodes(nodes)
    finally:
        cluster.stop()


def _measure(nodes: list[DemoNode], *, rate: float, seconds: float) -> None:
    origin = nodes[0]
    with Watcher(nodes, origin.code) as watcher:
        began = time.monotonic()
        issued = _issue(origin, rate, seconds)
        took = time.monotonic() - began - 0.5
        last = max(leaf for _, leaf in issued)
        deadline = time.monotonic() + 120
        while any(watcher.size(code) <= last for code in watcher.seen):
            if time.monotonic() > deadline:
                raise RuntimeError("a follower did not catch up within 120 s")
            time.sleep(0.1)
    achieved = len(issued) / took
    print(
        f"issued {len(issued)} records at {achieved:.1f}/s (asked {rate:.0f}/s)   "
        + ("ok" if achieved >= 0.95 * rate else "MISSED: the origin could not keep the rate")
    )
    every: list[float] = []
    for code in watcher.seen:
        times = []
        for at, leaf in issued:
            held = watcher.held_at(code, leaf)
            if held is None:
                raise RuntimeError(f"{code} never held entry {leaf}")
            times.append(max(0.0, held - at))
        every += times
        print(
            f"  {code}: p50 {percentile(times, 50):.2f} s, p99 {percentile(times, 99):.2f} s, "
            f"max {max(times):.2f} s"
        )
    p99 = percentile(every, 99)
    print(
        f"propagation over all {len(watcher.seen)} followers: p50 {percentile(every, 50):.2f} s, "
        f"p99 {p99:.2f} s, max {max(every):.2f} s   "
        + at_most(p99, TARGET_P99_SECONDS, what="p99 ", unit=" s")
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rate", type=float, default=100.0, help="issuances a second")
    parser.add_argument("--seconds", type=float, default=30.0, help="how long to issue")
    parser.add_argument(
        "--workers", type=int, default=2, help="server processes of the origin (one per core)"
    )
    parser.add_argument(
        "--followers",
        type=int,
        choices=(1, 2, 3),
        default=3,
        help="nodes that follow the origin while it is timed (the others are stopped)",
    )
    arguments = parser.parse_args()
    run(
        rate=arguments.rate,
        seconds=arguments.seconds,
        workers=arguments.workers,
        followers=arguments.followers,
    )


if __name__ == "__main__":
    main()
