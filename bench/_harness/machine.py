"""The machine a benchmark ran on, and how fast it was that day.

Machines here vary by up to twice from one day to the next, so every benchmark that
runs on PostgreSQL prints two reference figures measured in the same run, before its
own: the raw Ed25519 signing rate (the processor, through the same library the
registry signs with) and the database's commit latency (the disk's flush, through
the same driver). A figure is comparable with another day's only next to these.
"""

from __future__ import annotations

import os
import platform
import time
import timeit
from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import text

from bench._harness.load import sequential
from bench._harness.stats import Latency
from registry.storage.db import engine_scope

__all__ = ["Reference", "commit_latency", "machine", "reference", "signing_rate"]

_SIGN_CALLS = 2000
_SIGN_ROUNDS = 5
_COMMITS = 200
_PROBE = "bench_commit_probe"


def machine() -> str:
    """The line each benchmark prints first: processor, cores, Python."""
    return (
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}"
    )


def signing_rate() -> float:
    """Raw Ed25519 signatures of 64 bytes (what a proof signs) per second on one core:
    the best of 5 rounds of 2,000."""
    key = Ed25519PrivateKey.generate()
    message = bytes(range(64))
    best = min(
        timeit.timeit(lambda: key.sign(message), number=_SIGN_CALLS) for _ in range(_SIGN_ROUNDS)
    )
    return _SIGN_CALLS / best


def commit_latency(url: str) -> Latency:
    """p50 and p99 (ms) of 200 one-row ``INSERT``s into the database at ``url``, each
    its own transaction, one after another: a round trip and a durable commit each.
    The table it writes is dropped after."""
    with engine_scope(url) as engine, engine.connect() as connection:
        autocommit = connection.execution_options(isolation_level="AUTOCOMMIT")
        autocommit.execute(text(f"CREATE TABLE IF NOT EXISTS {_PROBE} (n integer)"))
        insert = text(f"INSERT INTO {_PROBE} VALUES (:n)")  # noqa: S608 - a constant name
        try:
            timings = sequential(_COMMITS, lambda n: autocommit.execute(insert, {"n": n}))
        finally:
            autocommit.execute(text(f"DROP TABLE {_PROBE}"))
    return Latency.of(timings)


@dataclass(frozen=True)
class Reference:
    """The day's reference figures: signatures per second, commit latency in ms."""

    signatures: float
    commit: Latency

    def __str__(self) -> str:
        return (
            f"raw Ed25519 signing {self.signatures:,.0f}/s on one core; "
            f"database commit p50 {self.commit.p50:.2f} ms, p99 {self.commit.p99:.2f} ms"
        )


def reference(url: str) -> Reference:
    """Measure the reference figures (the database's at ``url``) and print them."""
    began = time.perf_counter()
    figures = Reference(signing_rate(), commit_latency(url))
    print(f"reference: {figures} ({time.perf_counter() - began:.0f} s)", flush=True)
    return figures
