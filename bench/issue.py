"""Issuance through the API on PostgreSQL: batch throughput and single-record latency.

Run: ``.venv/bin/python bench/issue.py`` (or ``make bench-issue``). It starts a
throwaway PostgreSQL cluster (or uses ``REGISTRY_BENCH_DATABASE_URL``), seeds the
demo federation, starts the real server (``registry serve``, one process) and
prints beside each target:

- end-to-end issuance throughput through ``POST /v1/credentials/batch`` (request
  parsing and validation, ID commitments, status-list entries, signing, storing,
  logging with a signed checkpoint, commit, and the response): target at least
  3,000 credentials/s;
- single-record latency through ``POST /v1/credentials``, p50 and p99, one request
  after another: target p99 at most 50 ms.

The client runs on the same two cores as the server and the database.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # for the test harness's throwaway cluster

from bench._database import bench_database, machine  # noqa: E402
from registry.demo import (  # noqa: E402
    DEMO_ENGINEERS,
    credit_code,
    seed_demo,
    seed_demo_records,
)
from registry.issuing import IssuingContext, china_today  # noqa: E402
from registry.settings import Settings  # noqa: E402
from registry.storage.db import engine_scope, session_scope, upgrade  # noqa: E402
from registry.tokens import create_token  # noqa: E402
from registry.trust.store import NodeProfile  # noqa: E402
from tests._support import REGISTRY, free_port  # noqa: E402

TARGET_PER_SECOND = 3000.0
TARGET_P99_MS = 50.0
PROVIDER = credit_code("12310000MB0P10008")


def _credit(n: int) -> dict[str, Any]:
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


def _registration(n: int) -> dict[str, Any]:
    engineer = DEMO_ENGINEERS[2]  # 刘洋: qualified, not registered
    start = china_today()
    return {
        "type": "SafetyEngineerRegistration",
        "authority": "CN-SH",
        "holder": {"name": engineer.name, "id_number": engineer.id_number},
        "registration_number": f"SH-BENCH-{n}",
        "qualification": engineer.certificate_number,
        "category": engineer.category,
        "employer": {"name": "上海申安检测技术有限公司", "credit_code": PROVIDER},
        "kind": "initial",
        "valid_from": start.isoformat(),
        "valid_until": (start + timedelta(days=1000)).isoformat(),
    }


def _serve(settings: Settings, port: int, log: Path) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "REGISTRY_DATA_DIR": str(settings.data_dir),
        "REGISTRY_DATABASE_URL": settings.database_url,
        "REGISTRY_NODE_URL": f"http://127.0.0.1:{port}",
    }
    with log.open("wb") as out:
        process = subprocess.Popen(
            [str(REGISTRY), "serve", "--port", str(port)], env=env, stdout=out, stderr=out
        )
    for _ in range(300):
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                return process
        except httpx.TransportError:
            time.sleep(0.1)
    process.terminate()
    raise RuntimeError(f"the server did not start:\n{log.read_text()}")


def run(url: str, *, batches: int, batch_size: int, singles: int) -> None:
    with tempfile.TemporaryDirectory() as data:
        settings = Settings(data_dir=Path(data), database_url=url)
        with engine_scope(url) as engine:
            upgrade(engine)
            context = IssuingContext.for_node(settings)
            with session_scope(engine) as session:
                seed_demo(session, context.key_store, profile=NodeProfile.from_settings(settings))
                seed_demo_records(session, context)
                _, token = create_token(session, "issuer:CN-SH", name="bench")
        port = free_port()
        server = _serve(settings, port, Path(data) / "server.log")
        try:
            headers = {"Authorization": f"Bearer {token}"}
            base = f"http://127.0.0.1:{port}"
            with httpx.Client(base_url=base, headers=headers, timeout=300) as client:
                _measure(client, batches=batches, batch_size=batch_size, singles=singles)
        except httpx.HTTPStatusError as exc:
            time.sleep(2)  # the server logs the traceback after it answers
            log = (Path(data) / "server.log").read_text()
            print(log[log.find("Traceback") :][-3000:] if "Traceback" in log else exc.response.text)
            raise
        finally:
            server.terminate()
            server.wait(timeout=30)


def _singles(client: httpx.Client, count: int, offset: int, label: str) -> None:
    timings = []
    for n in range(count):
        body = _credit(offset + n)
        began = time.perf_counter()
        client.post("/v1/credentials", json=body).raise_for_status()
        timings.append((time.perf_counter() - began) * 1000)
    ordered = sorted(timings)
    p50, p99 = statistics.median(ordered), ordered[int(len(ordered) * 0.99) - 1]
    mark = "ok" if p99 <= TARGET_P99_MS else "MISSED"
    print(
        f"single issuance, {label} ({count} requests): p50 {p50:6.1f} ms  p99 {p99:6.1f} ms"
        f"   target p99 <= {TARGET_P99_MS:.0f} ms   {mark}",
        flush=True,
    )


def _measure(client: httpx.Client, *, batches: int, batch_size: int, singles: int) -> None:
    # Warm up: the first requests load keys and fill caches.
    for n in range(20):
        client.post("/v1/credentials", json=_credit(n)).raise_for_status()
    client.post("/v1/credentials/batch", json={"items": [_credit(n) for n in range(100)]})
    _singles(client, singles, 10_000_000, "demo database")

    bodies = [
        {"items": [_credit(b * batch_size + n) for n in range(batch_size)]} for b in range(batches)
    ]
    began = time.perf_counter()
    for body in bodies:
        response = client.post("/v1/credentials/batch", json=body)
        response.raise_for_status()
    elapsed = time.perf_counter() - began
    rate = batches * batch_size / elapsed
    mark = "ok" if rate >= TARGET_PER_SECOND else "MISSED"
    print(
        f"batch issuance ({batches} x {batch_size} CE credits): {rate:8.0f} credentials/s"
        f"   target >= {TARGET_PER_SECOND:.0f}   {mark}",
        flush=True,
    )
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
        run(url, **options)


if __name__ == "__main__":
    main()
