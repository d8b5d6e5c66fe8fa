"""Verification through the API on PostgreSQL: one engineer at a time under load, and batches.

Run: ``.venv/bin/python bench/verify.py [--engineers 100000]`` (or ``make bench-verify``).
It starts a throwaway PostgreSQL cluster (or uses ``REGISTRY_BENCH_DATABASE_URL``),
seeds the demo federation, loads ``--engineers`` synthetic engineers in process
(each: a qualification, a registration and 8 continuing-education credits, so 10
credentials; one in five registered in another province than the one that
qualified them, some hours from a third), starts the real server and prints beside
each target:

- verifications per second through ``POST /v1/verify/engineer`` (a signed
  ``VerificationReport`` with inclusion proofs each), ``--concurrency`` requests in
  flight (16, then 32) for ``--seconds`` over random engineers and regions: target
  at least 500/s, p99 at most 100 ms. The server is saturated at 16: at 32 the rate
  is the same and each request waits behind twice as many;
- one 10,000-row ``POST /v1/verify/batch``, as JSON and as CSV: target at most 10 s.

The server is ``registry serve --workers N``, for each N of ``--workers`` (default
2, one per core; ``--workers 1,2`` measures both). Where each core's time went
during the load (server, PostgreSQL, client, anything else) is printed too.

With ``REGISTRY_BENCH_DATABASE_URL`` the loaded engineers are kept: the node's keys
and secrets stay in ``--data-dir`` (default under ``~/.cache/registry-bench``), and a
re-run against the same database loads only what is missing. The client runs on the
same two cores as the server and the database: it speaks plain HTTP/1.1 over kept-alive
connections, about 0.15 ms of CPU a request, and its CPU time is printed.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import random
import re
import shutil
import sys
import time
from collections import Counter
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # bench, when run as a script

from bench._database import bench_database
from bench._harness.cpu import PARTS, cpu_split, postmaster, snapshot
from bench._harness.load import Load, post_head, run_load, sequential
from bench._harness.machine import Reference, machine, reference
from bench._harness.server import Server, server_errors, serving
from bench._harness.stats import Latency, Row, at_least, at_most, percentile, print_table
from bench._verify_data import data_directory, prepare
from registry.demo.synthetic import AUTHORITIES, engineer

TARGET_PER_SECOND = 500.0
TARGET_P99_MS = 100.0
TARGET_BATCH_S = 10.0
BATCH_ROWS = 10_000

_VERDICT = re.compile(rb'"verdict":"([a-z-]+)"')


# -- measuring -------------------------------------------------------------------------


def _question(rng: random.Random, engineers: int) -> dict[str, str]:
    return {
        "id_number": engineer(rng.randrange(engineers)).id_number,
        "region": rng.choice(AUTHORITIES),
    }


def _single_load(
    server: Server, token: str, engineers: int, *, concurrency: int, seconds: float, seed: int
) -> tuple[Load, Counter[str]]:
    """``concurrency`` verifications in flight for ``seconds`` over random engineers and
    regions; what the load gave and the count of each verdict."""
    rng = random.Random(seed)  # noqa: S311 - picks whom to ask about, not secrets
    bodies = (json.dumps(_question(rng, engineers)).encode() for _ in iter(int, 1))
    verdicts: Counter[str] = Counter()

    def inspect(content: bytes) -> None:
        found = _VERDICT.search(content)
        verdicts[found.group(1).decode() if found else "none"] += 1

    head = post_head(server.host, server.port, "/v1/verify/engineer", token=token)
    loaded = run_load(
        server.host,
        server.port,
        head,
        bodies,
        concurrency=concurrency,
        seconds=seconds,
        inspect=inspect,
    )
    return loaded, verdicts


def _batch_rows(engineers: int, seed: int) -> list[dict[str, str]]:
    rng = random.Random(seed)  # noqa: S311
    people = rng.sample(range(engineers), min(BATCH_ROWS, engineers))
    people += [rng.randrange(engineers) for _ in range(BATCH_ROWS - len(people))]
    return [{"id_number": engineer(n).id_number, "region": rng.choice(AUTHORITIES)} for n in people]


def _json_batch(client: httpx.Client, rows: list[dict[str, str]]) -> tuple[float, Counter[str]]:
    began = time.perf_counter()
    response = client.post("/v1/verify/batch", json={"rows": rows})
    elapsed = time.perf_counter() - began
    response.raise_for_status()
    results = response.json()["results"]
    if len(results) != len(rows):
        raise RuntimeError(f"the batch answered {len(results)} results for {len(rows)} rows")
    return elapsed, Counter(r.get("verdict") or "error" for r in results)


def _csv_batch(client: httpx.Client, rows: list[dict[str, str]]) -> tuple[float, Counter[str]]:
    body = "id_number,region\n" + "".join(f"{r['id_number']},{r['region']}\n" for r in rows)
    # English headers: the answer's `verdict` column by its code name.
    headers = {"content-type": "text/csv", "accept": "text/csv", "accept-language": "en"}
    began = time.perf_counter()
    response = client.post("/v1/verify/batch", content=body.encode(), headers=headers)
    elapsed = time.perf_counter() - began
    response.raise_for_status()
    answered = list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))
    if len(answered) != len(rows):
        raise RuntimeError(f"the CSV batch answered {len(answered)} rows for {len(rows)}")
    return elapsed, Counter(r["verdict"] or "error" for r in answered)


def _load_rows(
    server: Server,
    database: str,
    token: str,
    engineers: int,
    *,
    workers: int,
    concurrency: int,
    seconds: float,
) -> list[Row]:
    """``concurrency`` requests in flight for ``seconds``: what it printed, as rows."""
    before = snapshot()
    loaded, verdicts = _single_load(
        server, token, engineers, concurrency=concurrency, seconds=seconds, seed=workers
    )
    split, processes = cpu_split(before, snapshot(), server.pid, postmaster(database))
    latency = Latency.of(loaded.latencies)
    size = percentile(loaded.sizes, 50) / 1024
    print(
        f"single verification, {concurrency} in flight for {loaded.seconds:.0f} s: "
        f"{loaded.rate:6.0f} verifications/s   {at_least(loaded.rate, TARGET_PER_SECOND)}",
        flush=True,
    )
    print(
        f"  latency p50 {latency.p50:6.1f} ms  p99 {latency.p99:6.1f} ms   "
        f"{at_most(latency.p99, TARGET_P99_MS, what='p99 ', unit=' ms')}",
        flush=True,
    )
    print(
        f"  {loaded.requests} requests, statuses {dict(sorted(loaded.statuses.items()))}, "
        f"verdicts {dict(sorted(verdicts.items()))}",
        flush=True,
    )
    print(
        f"  report size: median {size:.1f} KiB, max {max(loaded.sizes) / 1024:.1f} KiB; "
        f"client CPU {loaded.client_cpu:.1f} s "
        f"({loaded.client_cpu / loaded.seconds:.0%} of one core)",
        flush=True,
    )
    cores = os.cpu_count() or 1
    print(
        "  CPU of the machine during the load: "
        + ", ".join(f"{part} {split[part] / loaded.seconds / cores:.0%}" for part in PARTS)
        + f" (of {cores} cores); server processes "
        + " ".join(f"{used / loaded.seconds:.0%}" for used in processes if used > 0.05)
        + " of one core each; server CPU per verification "
        f"{split['server'] / loaded.requests * 1000:.1f} ms, PostgreSQL "
        f"{split['postgres'] / loaded.requests * 1000:.1f} ms",
        flush=True,
    )
    if loaded.failed:
        print(f"  ERRORS: {loaded.failed} requests were not answered 200", flush=True)
    label = f"{workers} worker(s), {concurrency} in flight"
    return [
        (
            f"verify one engineer, {label}",
            f"{loaded.rate:.0f} /s ({loaded.failed} errors)",
            f">= {TARGET_PER_SECOND:.0f} /s",
        ),
        (
            f"verify one engineer, {label}, p50 / p99",
            f"{latency.p50:.1f} / {latency.p99:.1f} ms",
            f"p99 <= {TARGET_P99_MS:.0f} ms",
        ),
        (
            f"CPU during that load ({workers} worker(s)): server / PostgreSQL / client / other",
            " / ".join(f"{split[part] / loaded.seconds / cores:.0%}" for part in PARTS),
            "",
        ),
        ("signed report size (median)", f"{size:.1f} KiB", ""),
    ]


def _batches(client: httpx.Client, engineers: int) -> list[Row]:
    """Three 10,000-row batches as JSON, one as CSV: what they printed, as rows."""
    times = []
    distinct = min(BATCH_ROWS, engineers)
    for attempt in range(3):
        elapsed, verdicts = _json_batch(client, _batch_rows(engineers, 100 + attempt))
        times.append(elapsed)
        print(
            f"batch verification, {BATCH_ROWS} rows ({distinct} people) as JSON "
            f"(run {attempt + 1}): {elapsed:6.2f} s   "
            f"{at_most(elapsed, TARGET_BATCH_S, unit=' s')}   {dict(sorted(verdicts.items()))}",
            flush=True,
        )
    elapsed, verdicts = _csv_batch(client, _batch_rows(engineers, 100))
    print(
        f"batch verification, {BATCH_ROWS} rows ({distinct} people) as CSV in and out: "
        f"{elapsed:6.2f} s   {at_most(elapsed, TARGET_BATCH_S, unit=' s')}   "
        f"{dict(sorted(verdicts.items()))}",
        flush=True,
    )
    return [
        (
            f"verify batch, {BATCH_ROWS} rows, JSON (slowest of 3)",
            f"{max(times):.2f} s",
            f"<= {TARGET_BATCH_S:.0f} s",
        ),
        (f"verify batch, {BATCH_ROWS} rows, CSV", f"{elapsed:.2f} s", f"<= {TARGET_BATCH_S:.0f} s"),
    ]


def measure(
    server: Server,
    database: str,
    token: str,
    engineers: int,
    *,
    workers: int,
    concurrency: list[int],
    seconds: float,
) -> list[Row]:
    """Every measurement against one running server; the summary table's rows."""
    rows: list[Row] = []
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=server.base, headers=headers, timeout=600) as client:
        # Warm up every worker: keys, the signer, caches, connections.
        rng = random.Random(1)  # noqa: S311
        for _ in range(50 * workers):
            client.post("/v1/verify/engineer", json=_question(rng, engineers)).raise_for_status()
        rng = random.Random(3)  # noqa: S311
        questions = [_question(rng, engineers) for _ in range(500)]
        latency = Latency.of(
            sequential(
                len(questions),
                lambda n: client.post("/v1/verify/engineer", json=questions[n]).raise_for_status(),
            )
        )
        print(
            f"single verification, one at a time (500 requests): p50 {latency.p50:6.1f} ms  "
            f"p99 {latency.p99:6.1f} ms",
            flush=True,
        )
        rows.append(
            (
                f"verify one engineer, sequential, p50 / p99 ({workers} worker(s))",
                f"{latency.p50:.1f} / {latency.p99:.1f} ms",
                "",
            )
        )

    for in_flight in concurrency:
        rows += _load_rows(
            server,
            database,
            token,
            engineers,
            workers=workers,
            concurrency=in_flight,
            seconds=seconds,
        )

    with httpx.Client(base_url=server.base, headers=headers, timeout=600) as client:
        rows += _batches(client, engineers)
    return rows


# -- the run ---------------------------------------------------------------------------


def run(
    url: str,
    figures: Reference,
    *,
    engineers: int,
    batch: int,
    workers: list[int],
    concurrency: list[int],
    seconds: float,
    data_dir: Path | None,
) -> None:
    kept = bool(os.environ.get("REGISTRY_BENCH_DATABASE_URL"))
    directory, remove = data_directory(url, data_dir, kept=kept)
    try:
        settings, token, loaded = prepare(url, directory, engineers, batch=batch)
        rows: list[Row] = []
        if loaded is not None:
            people, took = loaded
            rows.append(
                (
                    f"load {people} engineers, {10 * people} credentials, in process",
                    f"{took:.0f} s ({10 * people / took:.0f} credentials/s)",
                    "",
                )
            )
        log = directory / "server.log"
        for count in workers:
            with serving(settings, log, workers=count) as server, server_errors(log):
                rows += measure(
                    server,
                    url,
                    token,
                    engineers,
                    workers=count,
                    concurrency=concurrency,
                    seconds=seconds,
                )
        errors = log.read_text(errors="replace").count("Traceback")
        print(f"server log: {errors} tracebacks", flush=True)
        print_table(
            f"Verification on PostgreSQL, {engineers} engineers, {10 * engineers} "
            f"credentials ({machine()}; {figures}):",
            rows,
        )
    finally:
        if remove:
            shutil.rmtree(directory, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engineers", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=5000, help="records per issuing batch")
    parser.add_argument(
        "--workers", default="2", help="server processes; a list (1,2) measures each"
    )
    parser.add_argument(
        "--concurrency",
        default="16,32",
        help="requests in flight; a list (16,32) measures each",
    )
    parser.add_argument("--seconds", type=float, default=20.0, help="length of the load")
    parser.add_argument(
        "--data-dir", type=Path, default=None, help="keys and secrets of the loaded node"
    )
    args = parser.parse_args()
    if not 0 < args.engineers <= 9_000_000:
        parser.error("--engineers is between 1 and 9,000,000")
    print(machine())
    with bench_database() as url:
        run(
            url,
            reference(url),
            engineers=args.engineers,
            batch=args.batch,
            workers=[int(w) for w in args.workers.split(",")],
            concurrency=[int(c) for c in args.concurrency.split(",")],
            seconds=args.seconds,
            data_dir=args.data_dir,
        )


if __name__ == "__main__":
    main()
