"""Federation on PostgreSQL: how fast a node catches up with a peer's log over HTTP.

Run: ``.venv/bin/python bench/federation.py [--entries 1000000] [--reuse DIR]`` (or
``make bench-federation``). It starts a throwaway PostgreSQL cluster (durable defaults)
with two databases, one per node, both on this machine:

- the origin: the demo federation, then ``--entries`` CE credits of Shanghai issued in
  batches of 10,000 through the real issuing path (``POST /v1/credentials/batch`` of
  the real server: signed, logged with a signed checkpoint each batch). With
  ``--reuse DIR`` the origin's keys and a dump of its database are kept in ``DIR``
  and restored by the next run with as many entries or fewer (issuing is not timed);
- the follower: the origin's trust list accepted, CN-SH registered as a peer.

With the origin served by ``registry serve`` on a loopback port, it times the
follower catching up with CN-SH's whole log from nothing, entirely over HTTP with a
``federation`` token: ``follow_once`` in a loop, each step its own transaction, each
a chunk of at most ``--chunk`` entries (every signature verified, the tree recomputed,
each chunk proven part of the signed checkpoint, then stored). Then it runs the log
audit on the mirror. Printed: the entries per second against the target, the steps,
the follower's peak memory, the audit's time and findings, and first the machine's
reference figures of the same run.

The second figure of the federation, propagation, is ``bench/propagation.py``
(``--propagation`` here runs it with its defaults).

Target: catch-up at no less than 5,000 entries/s on this 2-core machine, both nodes
and PostgreSQL on it, for a log of 1,000,000 entries (the default).
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path

import httpx
import sqlalchemy as sa
from sqlalchemy import Engine
from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # bench, when run as a script

from bench import propagation
from bench._database import bench_database
from bench._harness.cpu import Snapshot, cpu_split, postmaster, snapshot
from bench._harness.machine import machine, reference
from bench._harness.server import seed_node, server_errors, serving
from bench._harness.stats import at_least
from bench.issue import ce_credit
from devtools.postgres import find_bindir
from registry.federation.follower import CHUNK, follow_once, more_to_follow
from registry.federation.verifiers import Verifiers
from registry.settings import Settings
from registry.storage.db import engine_scope, session_scope, upgrade
from registry.storage.models import LogHead
from registry.tokens import create_token
from registry.trust.store import accept_version, current_version, stored_versions
from registry.verification.log_audit import audit_log

AUTHORITY = "CN-SH"
TARGET_PER_SECOND = 5000.0
BATCH = 10_000
FOLLOWER = "follower"


def _database(url: str, name: str) -> str:
    """A new, empty database ``name`` on the server of ``url``."""
    admin = make_url(url).set(database="postgres").render_as_string(hide_password=False)
    with engine_scope(admin) as engine, engine.connect() as connection:
        autocommit = connection.execution_options(isolation_level="AUTOCOMMIT")
        autocommit.execute(sa.text(f'CREATE DATABASE "{name}"'))
    return make_url(url).set(database=name).render_as_string(hide_password=False)


def _log_size(url: str) -> int:
    with engine_scope(url) as engine, session_scope(engine) as session:
        head = session.get(LogHead, AUTHORITY)
        return 0 if head is None else head.size


def _pg_tool(name: str) -> str:
    bindir = find_bindir()
    return str(bindir / name) if bindir is not None else name


def _libpq(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


# -- the origin --------------------------------------------------------------------------------


def _issue(base: str, token: str, entries: int) -> None:
    """CE credits of Shanghai through the real issuing path until its log holds
    ``entries`` (not timed for the figure; its rate is printed)."""
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=base, headers=headers, timeout=600) as client:
        size = _served_size(client)
        began, first = time.perf_counter(), size
        n = 0
        while size < entries:
            count = min(BATCH, entries - size)
            body = {"items": [ce_credit(50_000_000 + size + k) for k in range(count)]}
            client.post("/v1/credentials/batch", json=body).raise_for_status()
            size, n = _served_size(client), n + 1
            if n % 10 == 0 or size >= entries:
                rate = (size - first) / (time.perf_counter() - began)
                print(f"origin: {size} entries in the log ({rate:,.0f}/s issued)", flush=True)


def _served_size(client: httpx.Client) -> int:
    note = client.get(f"/v1/logs/{AUTHORITY}/checkpoint").text
    return int(note.split("\n")[1])


def _vacuum(url: str) -> None:
    """Bring the origin's database to the state a node's autovacuum keeps it in (its
    statistics gathered, its rows marked visible), whether just issued or restored:
    otherwise the catch-up's first reads of each row would do that work, and be
    timed with it. Not timed."""
    with engine_scope(url) as engine, engine.connect() as connection:
        connection.execution_options(isolation_level="AUTOCOMMIT").execute(
            sa.text("VACUUM (ANALYZE)")
        )


@contextmanager
def _origin(url: str, reuse: Path | None, entries: int, root: Path) -> Iterator[Settings]:
    """The origin's settings once its database holds a log of at least ``entries``:
    restored from ``reuse`` when it holds a dump that large, else built (and dumped
    there)."""
    data = (reuse or root) / "origin"
    dump = (reuse or root) / "origin.dump"
    meta = (reuse or root) / "origin.json"
    settings = Settings(data_dir=data, database_url=url, demo=True)
    held = json.loads(meta.read_text())["entries"] if reuse and meta.exists() else -1
    if held >= entries:
        began = time.perf_counter()
        subprocess.run(
            [_pg_tool("pg_restore"), "-j", "2", "--no-owner", "-d", _libpq(url), str(dump)],
            check=True,
        )
        print(f"origin: restored {held} entries from {dump} in {time.perf_counter() - began:.0f} s")
        _vacuum(url)
        yield settings
        return
    if data.exists():
        shutil.rmtree(data)
    data.mkdir(parents=True)
    with engine_scope(url) as engine:
        upgrade(engine)
        _, token = seed_node(engine, settings, role=f"issuer:{AUTHORITY}")
    with serving(settings, root / "origin.log") as server, server_errors(root / "origin.log"):
        _issue(server.base, token, entries)
    _vacuum(url)
    if reuse is not None:
        if dump.exists():
            shutil.rmtree(dump)
        subprocess.run(
            [_pg_tool("pg_dump"), "-Fd", "-j", "2", "-f", str(dump), _libpq(url)], check=True
        )
        meta.write_text(json.dumps({"entries": _log_size(url)}))
    yield settings


# -- the follower ------------------------------------------------------------------------------


def _follower(url: str, origin: Settings) -> None:
    """The follower's database: migrated, with the origin's trust list accepted."""
    with engine_scope(origin.database_url) as engine, session_scope(engine) as session:
        versions = stored_versions(session)
        documents = [json.loads(row.canonical) for row in versions]
        genesis = versions[0].digest
    with engine_scope(url) as engine:
        upgrade(engine)
        with session_scope(engine) as session:
            accept_version(session, documents[0], genesis_digest=genesis)
            for document in documents[1:]:
                accept_version(session, document)


def catch_up(
    engine: Engine, base: str, token: str, *, chunk: int, workers: int
) -> tuple[int, int, float]:
    """Follow CN-SH from the origin at ``base`` until caught up, each step its own
    transaction on ``engine`` (the follower's database), the signatures verified on
    ``workers`` processes (none: in the follower's own); the entries kept, the steps
    and the seconds."""
    with (
        Verifiers(workers) if workers else nullcontext() as verifiers,
        httpx.Client(
            base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=600
        ) as client,
    ):
        with session_scope(engine) as session:
            trust = current_version(session)
        assert trust is not None
        member = next(m for m in trust.content.members if m.code == AUTHORITY)
        steps, began = 0, time.perf_counter()
        while True:
            with session_scope(engine) as session:
                state = follow_once(
                    session,
                    member=member,
                    trust=trust,
                    client=client,
                    chunk=chunk,
                    verifiers=verifiers,
                )
                more, size, error = more_to_follow(state), state.tree_size, state.last_error
                current = state.state == "current"
            steps += 1
            if steps % 10 == 0:
                rate = size / (time.perf_counter() - began)
                print(f"follower: {size} entries kept ({rate:,.0f}/s)", flush=True)
            if not more:
                break
        elapsed = time.perf_counter() - began
    if not current:
        raise RuntimeError(f"the follower stopped at {size} entries: {error}")
    return size, steps, elapsed


def _cpu(
    before: Snapshot, after: Snapshot, server: int, database: int | None, verifiers: float
) -> dict[str, float]:
    """CPU seconds of the origin's server, PostgreSQL (both nodes'), the follower, its
    verifying processes (``verifiers``, as they reported ending), and everything else."""
    split, _ = cpu_split(before, after, server, database)
    other = split.pop("other")
    split["follower"] = split.pop("client")
    return {**split, "verifiers": verifiers, "other": max(0.0, other - verifiers)}


def _children() -> float:
    """CPU seconds of the child processes ended so far (the verifying processes)."""
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    return used.ru_utime + used.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--chunk", type=int, default=CHUNK, help="Entries a step at most.")
    parser.add_argument(
        "--workers", type=int, default=os.cpu_count() or 1, help="Verifying processes (0: none)."
    )
    parser.add_argument("--reuse", type=Path, help="Keep the origin here, restore it next run.")
    parser.add_argument("--profile", type=Path, help="cProfile the catch-up into this file.")
    parser.add_argument(
        "--propagation",
        action="store_true",
        help="Measure propagation instead (bench/propagation.py with its defaults).",
    )
    args = parser.parse_args()
    if args.propagation:
        propagation.run(rate=100.0, seconds=30.0, workers=2, followers=3)
        return
    print(machine(), flush=True)
    with tempfile.TemporaryDirectory() as directory, bench_database() as url:
        root = Path(directory)
        reference(url)
        follower = _database(url, FOLLOWER)
        with _origin(url, args.reuse, args.entries, root) as origin:
            _follower(follower, origin)
            with engine_scope(url) as engine, session_scope(engine) as session:
                _, token = create_token(session, "federation", name=f"bench-{time.time_ns()}")
            log = root / "origin.log"
            # The follower's connections stay open until the CPU is read: a PostgreSQL
            # backend that has exited is no longer counted under postgres.
            with (
                serving(origin, log) as server,
                server_errors(log),
                engine_scope(follower) as engine,
            ):
                before, children = snapshot(), _children()
                profiler = cProfile.Profile() if args.profile else None
                if profiler is not None:
                    profiler.enable()
                size, steps, elapsed = catch_up(
                    engine, server.base, token, chunk=args.chunk, workers=args.workers
                )
                if profiler is not None:
                    profiler.disable()
                    profiler.dump_stats(args.profile)
                split = _cpu(
                    before, snapshot(), server.pid, postmaster(url), _children() - children
                )
            peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
            rate = size / elapsed
            print(
                f"catch-up of {AUTHORITY} ({size} entries over HTTP, {steps} steps of at most "
                f"{args.chunk}, {args.workers} verifying processes): {rate:8.0f} entries/s   "
                f"{at_least(rate, TARGET_PER_SECOND)}",
                flush=True,
            )
            print(f"follower: {elapsed:.0f} s, peak memory {peak:.0f} MiB", flush=True)
            print(
                "CPU seconds (2 cores x "
                + f"{elapsed:.0f} s): "
                + ", ".join(f"{part} {used:.1f}" for part, used in split.items()),
                flush=True,
            )
            with engine_scope(follower) as engine, session_scope(engine) as session:
                began = time.perf_counter()
                report = audit_log(session, AUTHORITY)
                auditing = time.perf_counter() - began
            print(
                f"audit of the mirror: {report.entries} entries in {auditing:.0f} s, "
                f"{report.problems} findings",
                flush=True,
            )


if __name__ == "__main__":
    main()
