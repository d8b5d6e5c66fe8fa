"""Mirroring a peer's log: how long a following node takes to verify a large batch of
one log and to store it (``registry.federation.mirror``), on SQLite or PostgreSQL.

Run: ``.venv/bin/python bench/mirror.py [--engineers 4000] [--postgresql]``. Node A (a
SQLite file in a temporary directory, or a PostgreSQL database as ``bench/audit.py`` has
it) gets the demo federation and ``--engineers`` synthetic engineers as
``bench/verify.py`` loads them (10 credentials each, about a quarter of them in each
log: ``--engineers 4000`` makes CN-JS's log about 10,000 entries). Node B (another
file, or another database of that server) accepts A's trust list, registers CN-JS as a
peer, and mirrors its whole log as one batch; then it audits the mirror. Printed: the
batch's entries, the seconds to verify it, to store it, and to audit it, and the
audit's findings (none expected).

No target is set: the figures say how long one batch takes on this machine.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # bench, when run as a script

import sqlalchemy as sa
from sqlalchemy.engine import make_url
from sqlmodel import col

from bench._database import bench_database
from bench._harness.machine import machine, reference
from bench._verify_data import prepare
from registry.federation import Frontier, verify_extension
from registry.federation.mirror import mirror_entries
from registry.federation.peers import register_peer
from registry.storage.db import engine_scope, session_scope, upgrade
from registry.storage.models import LogEntry, StoredCredential
from registry.tlog.note import parse_verifier_key
from registry.tlog.sequencer import newest_checkpoint
from registry.trust.store import accept_version, current_version, stored_versions
from registry.verification.log_audit import audit_log

AUTHORITY = "CN-JS"


def _peer_log(url: str) -> tuple[str, list[dict[str, object]], list[dict[str, object]]]:
    """A's newest CN-JS checkpoint, its credentials in log order, its trust list."""
    with engine_scope(url) as engine, session_scope(engine) as session:
        checkpoint = newest_checkpoint(session, AUTHORITY)
        assert checkpoint is not None
        rows = session.execute(
            sa.select(col(StoredCredential.canonical))
            .join(LogEntry, col(LogEntry.credential_id) == col(StoredCredential.id))
            .where(
                col(LogEntry.authority_code) == AUTHORITY,
                col(LogEntry.leaf_index) < checkpoint.tree_size,
            )
            .order_by(col(LogEntry.leaf_index))
        ).scalars()
        entries = [json.loads(row) for row in rows]
        trust = [json.loads(row.canonical) for row in stored_versions(session)]
        return checkpoint.note, entries, trust


def _genesis_digest(url: str) -> str:
    """The digest of A's genesis: what B pins its trust list to."""
    with engine_scope(url) as engine, session_scope(engine) as session:
        return stored_versions(session)[0].digest


@contextmanager
def _databases(postgresql: bool, root: Path) -> Iterator[tuple[str, str]]:
    """A's and B's database URLs: two SQLite files, or two PostgreSQL databases (a
    throwaway cluster's, or ``REGISTRY_BENCH_DATABASE_URL``'s server; B's is dropped
    after)."""
    if not postgresql:
        yield f"sqlite:///{root / 'a.sqlite3'}", f"sqlite:///{root / 'b.sqlite3'}"
        return
    with bench_database() as url_a:
        name = f"bench_mirror_{os.getpid()}"
        url_b = make_url(url_a).set(database=name).render_as_string(hide_password=False)
        admin = make_url(url_a).set(database="postgres").render_as_string(hide_password=False)
        with engine_scope(admin) as engine, engine.connect() as connection:
            autocommit = connection.execution_options(isolation_level="AUTOCOMMIT")
            autocommit.execute(sa.text(f'CREATE DATABASE "{name}"'))
        try:
            yield url_a, url_b
        finally:
            with engine_scope(admin) as engine, engine.connect() as connection:
                autocommit = connection.execution_options(isolation_level="AUTOCOMMIT")
                autocommit.execute(sa.text(f'DROP DATABASE "{name}" WITH (FORCE)'))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engineers", type=int, default=4000)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--postgresql", action="store_true", help="On PostgreSQL.")
    args = parser.parse_args()
    print(machine(), flush=True)
    with (
        tempfile.TemporaryDirectory() as directory,
        _databases(args.postgresql, Path(directory)) as (url_a, url_b),
    ):
        root = Path(directory)
        reference(url_b)
        prepare(url_a, root / "a", args.engineers, batch=args.batch)
        note, entries, trust_documents = _peer_log(url_a)
        with engine_scope(url_b) as engine:
            upgrade(engine)
            with session_scope(engine) as session:
                genesis = _genesis_digest(url_a)
                accept_version(session, trust_documents[0], genesis_digest=genesis)
                for document in trust_documents[1:]:
                    accept_version(session, document)
                trust = current_version(session)
                assert trust is not None
                member = next(m for m in trust.content.members if m.code == AUTHORITY)
                register_peer(session, member, valid_from=trust.content.valid_from)
                began = time.perf_counter()
                verified = verify_extension(
                    authority=AUTHORITY,
                    origin=member.log.origin,
                    log_keys=[parse_verifier_key(member.log.verifier_key)],
                    trust=trust,
                    frontier=Frontier(),
                    note=note,
                    entries=entries,
                )
                verifying = time.perf_counter() - began
                began = time.perf_counter()
                mirror_entries(session, AUTHORITY, verified, start=0)
                session.commit()
                storing = time.perf_counter() - began
            with session_scope(engine) as session:
                began = time.perf_counter()
                report = audit_log(session, AUTHORITY)
                auditing = time.perf_counter() - began
    print(
        f"{AUTHORITY}: {len(entries)} entries; verified in {verifying:.2f} s, stored in "
        f"{storing:.2f} s ({len(entries) / storing:,.0f} entries/s), audited in "
        f"{auditing:.2f} s with {report.problems} findings"
    )


if __name__ == "__main__":
    main()
