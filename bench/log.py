"""Transparency-log throughput and proof latency on PostgreSQL.

Run: ``.venv/bin/python bench/log.py [--entries 1000000]`` (or ``make bench-log``).
It starts a throwaway PostgreSQL cluster (or uses ``REGISTRY_BENCH_DATABASE_URL``),
migrates it, and prints beside each target:

- append throughput with batches of 1 entry and of 1,000 entries (target: at least
  5,000 entries/s batched). Credential signing is not counted: the credentials are
  stored first, then appended, each batch in its own transaction with its signed
  checkpoint, as the sequencer runs for real;
- inclusion- and consistency-proof latency, p50 and p99, in a log of ``--entries``
  entries (target: p99 at most 5 ms), each proof read from the database as the API
  reads it.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Engine, insert, text

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # bench, when run as a script

from bench._database import bench_database
from bench._harness.machine import machine, reference
from bench._harness.stats import Latency, at_least, at_most
from registry.authorities import create_authority, keys_of
from registry.crypto.keys import KeyStore
from registry.storage.db import engine_scope, session_scope, upgrade
from registry.storage.models import StoredCredential
from registry.tlog.merkle import leaf_hash
from registry.tlog.reader import consistency, inclusion
from registry.tlog.sequencer import append

TARGET_BATCHED = 5000.0
TARGET_P99_MS = 5.0
PREFIX = "registry.yrd.example"
NOW = datetime(2026, 11, 21, tzinfo=UTC)


def _leaf(n: int) -> bytes:
    # About the size of a signed qualification credential.
    return (
        f'{{"@context":["https://www.w3.org/ns/credentials/v2"],"id":"urn:bench:{n}",'
        f'"credentialSubject":{{"n":{n},"pad":"{"x" * 900}"}}}}'
    ).encode()


def _store_credentials(engine: Engine, method: str, start: int, count: int) -> None:
    rows = [
        {
            "id": f"urn:bench:{n}",
            "type": "SafetyEngineerQualification",
            "issuer_code": "CN-SH",
            "verification_method": method,
            "subject_lookup": None,
            "digest": f"{n:064x}",
            "canonical": _leaf(n).decode(),
            "signed_at": NOW,
            "recorded_at": NOW,
        }
        for n in range(start, start + count)
    ]
    with engine.begin() as connection:
        connection.execute(insert(StoredCredential), rows)


def _append_range(engine: Engine, keys: KeyStore, start: int, count: int, batch: int) -> float:
    began = time.perf_counter()
    for first in range(start, start + count, batch):
        with session_scope(engine) as session:
            end = min(first + batch, start + count)
            entries = [(f"urn:bench:{n}", _leaf(n)) for n in range(first, end)]
            append(session, keys, "CN-SH", entries, origin_prefix=PREFIX, now=NOW)
    return count / (time.perf_counter() - began)


def run(url: str, entries: int, single: int, samples: int) -> None:
    with tempfile.TemporaryDirectory() as keys_dir, engine_scope(url) as engine:
        upgrade(engine)
        keys = KeyStore(Path(keys_dir), passphrase=b"benchmark passphrase")
        with session_scope(engine) as session:
            # Created at NOW, the time every append is signed at: a key signs only
            # from the moment it was made.
            create_authority(
                session, keys, code="CN-SH", name_zh="上海", name_en="Shanghai", now=NOW
            )
            method = next(k for k in keys_of(session, "CN-SH") if k.purpose == "issuing")
            issuing = method.verification_method
        print(f"storing {entries} credentials (not timed) ...", flush=True)
        for start in range(0, entries, 50_000):
            _store_credentials(engine, issuing, start, min(50_000, entries - start))

        one = _append_range(engine, keys, 0, single, 1)
        print(f"append, batches of 1:      {one:10.0f} entries/s", flush=True)
        batched = _append_range(engine, keys, single, entries - single, 1000)
        print(
            f"append, batches of 1000:   {batched:10.0f} entries/s"
            f"   {at_least(batched, TARGET_BATCHED)}",
            flush=True,
        )
        with engine.connect() as connection:
            connection.execute(text("ANALYZE"))

        rng = random.Random(7)  # noqa: S311 - picks entries to prove, not secrets
        timings: dict[str, list[float]] = {"inclusion": [], "consistency": []}
        with session_scope(engine) as session:
            for _ in range(samples):
                n = rng.randrange(entries)
                began = time.perf_counter()
                inclusion(session, "CN-SH", leaf_hash(_leaf(n)), entries)
                timings["inclusion"].append((time.perf_counter() - began) * 1000)
                first = rng.randrange(1, entries)
                began = time.perf_counter()
                consistency(session, "CN-SH", first, entries)
                timings["consistency"].append((time.perf_counter() - began) * 1000)
        for kind, values in timings.items():
            latency = Latency.of(values)
            print(
                f"{kind + ' proof':<18} p50 {latency.p50:6.2f} ms  p99 {latency.p99:6.2f} ms"
                f"   {at_most(latency.p99, TARGET_P99_MS, what='p99 ', unit=' ms')}"
                f"   ({entries} entries)"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--single", type=int, default=2000, help="entries appended one by one")
    parser.add_argument("--samples", type=int, default=2000, help="proofs timed of each kind")
    args = parser.parse_args()
    print(machine())
    with bench_database() as url:
        reference(url)
        run(url, args.entries, args.single, args.samples)


if __name__ == "__main__":
    main()
