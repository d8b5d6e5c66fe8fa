"""Issuance through the API on PostgreSQL: batch throughput and single-record latency.

Run: ``.venv/bin/python bench/issue.py`` (or ``make bench-issue``). It starts a
throwaway PostgreSQL cluster (or uses ``REGISTRY_BENCH_DATABASE_URL``), seeds the
demo federation, starts the real server (``registry serve``, one process) and
prints beside each target:

- end-to-end issuance throughput through ``POST /v1/credentials/batch`` (request
  parsing and validation, ID bindings, look-up keys and sealed disclosures,
  status-list entries, signing, storing,
  logging with a signed checkpoint, commit, and the response): target at least
  3,000 credentials/s;
- single-record latency through ``POST /v1/credentials``, p50 and p99, one request
  after another: target p99 at most 50 ms.

The client runs on the same two cores as the server and the database.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # bench, when run as a script

from bench._database import bench_database
from bench._harness.load import sequential
from bench._harness.machine import machine, reference
from bench._harness.server import seed_node, server_errors, serving
from bench._harness.stats import Latency, at_least, at_most
from registry.calendar import china_today
from registry.demo import DEMO_ENGINEERS, credit_code, resident_id
from registry.settings import Settings
from registry.storage.db import engine_scope, upgrade

TARGET_PER_SECOND = 3000.0
TARGET_P99_MS = 50.0
PROVIDER = credit_code("12310000MB0P10008")


def ce_credit(n: int) -> dict[str, Any]:
    engineer = DEMO_ENGINEERS[n % len(DEMO_ENGINEERS)]
    return {
        "type": "ContinuingEducationCredit",
        "authority": "CN-SH",
        "holder": {"name": engineer.name, "id_number": engineer.id_number},
        "course_title": f"安全生产继续教育第{n}期",
        "provider": {"name": "上海市安全生产科学研究所", "credit_code": PROVIDER},
        "hours": 8,
        "kind": "professional",
        "completed_on": (china_today() - timedelta(days=1 + n % 300)).isoformat(),
    }


def person(n: int) -> dict[str, str]:
    """A synthetic person of the bench's own, one per registration: one employer at a
    time means a registration each."""
    born = date(1980, 1, 1) + timedelta(days=n // 900)
    return {
        "name": "测" + str(n).translate(str.maketrans("0123456789", "零一二三四五六七八九")),
        "id_number": resident_id("310101", born.strftime("%Y%m%d"), f"{100 + n % 900:03d}"),
    }


def _qualification(n: int) -> dict[str, Any]:
    return {
        "type": "SafetyEngineerQualification",
        "authority": "CN-SH",
        "holder": person(n),
        "certificate_number": f"SH-BENCH-Q-{n}",
        "category": "chemical",
        "issued_on": (china_today() - timedelta(days=400)).isoformat(),
    }


def _registration(n: int) -> dict[str, Any]:
    start = china_today()
    return {
        "type": "SafetyEngineerRegistration",
        "authority": "CN-SH",
        "holder": person(n),
        "registration_number": f"SH-BENCH-{n}",
        "qualification": f"SH-BENCH-Q-{n}",
        "category": "chemical",
        "employer": {"name": "上海申安检测技术有限公司", "credit_code": PROVIDER},
        "kind": "initial",
        "valid_from": start.isoformat(),
        "valid_until": (start + timedelta(days=1000)).isoformat(),
    }


def run(url: str, *, batches: int, batch_size: int, singles: int) -> None:
    with tempfile.TemporaryDirectory() as data:
        settings = Settings(data_dir=Path(data), database_url=url, demo=True)
        with engine_scope(url) as engine:
            upgrade(engine)
            _, token = seed_node(engine, settings, role="issuer:CN-SH")
        log = Path(data) / "server.log"
        with serving(settings, log) as server, server_errors(log):
            headers = {"Authorization": f"Bearer {token}"}
            with httpx.Client(base_url=server.base, headers=headers, timeout=300) as client:
                _measure(client, batches=batches, batch_size=batch_size, singles=singles)


def _singles(client: httpx.Client, count: int, offset: int, label: str) -> None:
    bodies = [ce_credit(offset + n) for n in range(count)]  # built before the clock starts

    def issue(n: int) -> None:
        client.post("/v1/credentials", json=bodies[n]).raise_for_status()

    latency = Latency.of(sequential(count, issue))
    target = at_most(latency.p99, TARGET_P99_MS, what="p99 ", unit=" ms")
    print(
        f"single issuance, {label} ({count} requests): p50 {latency.p50:6.1f} ms  "
        f"p99 {latency.p99:6.1f} ms   {target}",
        flush=True,
    )


def _measure(client: httpx.Client, *, batches: int, batch_size: int, singles: int) -> None:
    # Warm up: the first requests load keys and fill caches. Courses of their own: the
    # same CE credit is issued once, and the measured batches start at course 0.
    for n in range(20):
        client.post("/v1/credentials", json=ce_credit(30_000_000 + n)).raise_for_status()
    warm = {"items": [ce_credit(40_000_000 + n) for n in range(100)]}
    client.post("/v1/credentials/batch", json=warm).raise_for_status()
    _singles(client, singles, 10_000_000, "demo database")

    bodies = [
        {"items": [ce_credit(b * batch_size + n) for n in range(batch_size)]}
        for b in range(batches)
    ]
    began = time.perf_counter()
    for body in bodies:
        response = client.post("/v1/credentials/batch", json=body)
        response.raise_for_status()
    elapsed = time.perf_counter() - began
    rate = batches * batch_size / elapsed
    print(
        f"batch issuance ({batches} x {batch_size} CE credits): {rate:8.0f} credentials/s"
        f"   {at_least(rate, TARGET_PER_SECOND)}",
        flush=True,
    )
    qualified = {"items": [_qualification(n) for n in range(batch_size // 2)]}
    client.post("/v1/credentials/batch", json=qualified).raise_for_status()
    mixed = {"items": [_registration(n) for n in range(batch_size // 2)]}
    began = time.perf_counter()
    client.post("/v1/credentials/batch", json=mixed).raise_for_status()
    print(
        f"batch issuance (1 x {batch_size // 2} registrations, 2 status entries each): "
        f"{batch_size // 2 / (time.perf_counter() - began):8.0f} credentials/s",
        flush=True,
    )
    _singles(client, singles, 20_000_000, f"after {batches * batch_size} more records")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=10_000)
    parser.add_argument("--singles", type=int, default=1000)
    args = parser.parse_args()
    print(machine())
    options = {"batches": args.batches, "batch_size": args.batch_size, "singles": args.singles}
    with bench_database() as url:
        reference(url)
        run(url, **options)


if __name__ == "__main__":
    main()
