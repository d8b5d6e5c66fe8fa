"""A throwaway PostgreSQL cluster, for a test session or a benchmark.

``initdb`` refuses to run as root, so when the suite runs as root the cluster is
created and started as an unprivileged user (``postgres`` if it exists, else
``nobody``) through ``runuser``. It listens on 127.0.0.1 on a free port with its
socket inside its own temporary directory, so it never touches a cluster the
machine already runs, and it is stopped and deleted at the end of the session.

``start_replicated_pair`` starts two such clusters: a primary that streams its
write-ahead log, and a hot standby of it made with ``pg_basebackup -R`` on another
free port, for the tests of a node reading from a replica.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import psycopg

from devtools.ports import free_port

__all__ = [
    "Cluster",
    "ReplicatedPair",
    "find_bindir",
    "start_cluster",
    "start_replicated_pair",
    "start_standby",
]


def find_bindir() -> Path | None:
    """Directory holding ``initdb`` and ``pg_ctl``: the newest Debian-style install, or PATH."""
    candidates = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/initdb"),
        key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit() else 0,
    )
    if candidates:
        return candidates[-1].parent
    found = shutil.which("initdb")
    return Path(found).parent if found else None


def _unprivileged_user() -> str | None:
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        try:
            pwd.getpwnam(name)
        except KeyError:
            continue
        return name
    raise RuntimeError("running as root and no unprivileged user (postgres, nobody) exists")


@dataclass
class Cluster:
    """A running throwaway cluster."""

    bindir: Path
    root: Path
    port: int
    run_as: str | None
    host: str = "127.0.0.1"
    superuser: str = "postgres"
    options: str = ""
    """What the server is started with (``postgres`` options, through ``pg_ctl -o``)."""

    @property
    def data(self) -> Path:
        """The cluster's data directory."""
        return self.root / "data"

    def url(self, dbname: str = "postgres") -> str:
        """The SQLAlchemy URL of a database of the cluster, as its superuser."""
        return f"postgresql+psycopg://{self.superuser}@{self.host}:{self.port}/{dbname}"

    def _run(self, *args: str) -> None:
        command = [str(self.bindir / args[0]), *args[1:]]
        if self.run_as is not None:
            command = ["runuser", "-u", self.run_as, "--", *command]
        result = subprocess.run(command, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            log = self.root / "postgres.log"
            tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
            raise RuntimeError(
                f"{' '.join(command)} failed ({result.returncode}):\n"
                f"{result.stdout}{result.stderr}{tail}"
            )

    def start(self) -> None:
        """Start the server (again) and wait until it accepts connections."""
        log = str(self.root / "postgres.log")
        self._run(
            "pg_ctl", "-D", str(self.data), "-l", log, "-o", self.options, "-w", "-t", "60", "start"
        )

    def halt(self) -> None:
        """Stop the server at once, keeping its files (``start`` starts it again)."""
        self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")

    def stop(self) -> None:
        """Stop the server at once and delete its files."""
        try:
            self.halt()
        finally:
            shutil.rmtree(self.root, ignore_errors=True)


def _bindir() -> Path:
    bindir = find_bindir()
    if bindir is None:
        raise RuntimeError(
            "no PostgreSQL server binaries found; run `make test` (it installs them) "
            "or set REGISTRY_TEST_DATABASE_URL"
        )
    return bindir


def _own_root(run_as: str | None) -> Path:
    """A new temporary directory, owned by the user the server runs as."""
    root = Path(tempfile.mkdtemp(prefix="registry-pg-"))
    if run_as is not None:
        entry = pwd.getpwnam(run_as)
        os.chown(root, entry.pw_uid, entry.pw_gid)
    return root


def _options(port: int, root: Path, *, durable: bool) -> str:
    options = f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c max_connections=100"
    if not durable:
        options += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
    return options


def start_cluster(*, durable: bool = False, replication: bool = False) -> Cluster:
    """Create and start a cluster with trust authentication on loopback only.

    Tests run without fsync (a throwaway cluster need not survive a crash);
    ``durable=True`` keeps PostgreSQL's defaults, as benchmarks must.
    ``replication=True`` makes it a primary that standbys can stream from
    (``start_standby``): WAL for a replica, senders for it, and the superuser
    allowed to connect for replication from loopback.
    """
    bindir = _bindir()
    run_as = _unprivileged_user()
    root = _own_root(run_as)
    port = free_port()
    options = _options(port, root, durable=durable)
    if replication:
        options += " -c wal_level=replica -c max_wal_senders=4 -c max_replication_slots=4"
    cluster = Cluster(bindir=bindir, root=root, port=port, run_as=run_as, options=options)
    try:
        cluster._run(
            "initdb",
            "-D",
            str(cluster.data),
            "-U",
            cluster.superuser,
            "--auth=trust",
            "--encoding=UTF8",
            "--no-locale",
            "--no-sync",
        )
        if replication:
            # Said here rather than left to initdb's defaults: only the superuser,
            # only from loopback.
            with (cluster.data / "pg_hba.conf").open("a", encoding="ascii") as hba:
                hba.write(f"host replication {cluster.superuser} 127.0.0.1/32 trust\n")
        cluster.start()
    except BaseException:
        shutil.rmtree(root, ignore_errors=True)
        raise
    return cluster


def start_standby(primary: Cluster, *, slot: str = "standby") -> Cluster:
    """A hot standby of ``primary`` (started with ``replication=True``): a base backup
    taken with ``pg_basebackup -R`` (which writes the standby's connection to the
    primary) through a replication slot, so the primary keeps every WAL segment the
    standby has not had, started on a free port of its own and serving reads."""
    root = _own_root(primary.run_as)
    port = free_port()
    options = _options(port, root, durable=False) + " -c hot_standby=on"
    standby = Cluster(
        bindir=primary.bindir, root=root, port=port, run_as=primary.run_as, options=options
    )
    try:
        standby._run(
            "pg_basebackup",
            "-D",
            str(standby.data),
            "-h",
            primary.host,
            "-p",
            str(primary.port),
            "-U",
            primary.superuser,
            "-X",
            "stream",
            "-C",
            "-S",
            slot,
            "-R",
            "--checkpoint=fast",
            "--no-sync",
        )
        standby.start()
    except BaseException:
        shutil.rmtree(root, ignore_errors=True)
        raise
    return standby


@dataclass
class ReplicatedPair:
    """A primary and a hot standby streaming from it."""

    primary: Cluster
    standby: Cluster

    def replayed(self, *, timeout: float = 30.0) -> None:
        """Wait until the standby has replayed everything the primary has written so
        far (to the end of its WAL's last record: the throwaway primary commits without
        waiting for the disk); raises ``TimeoutError`` past ``timeout`` seconds."""
        with psycopg.connect(_dsn(self.primary), autocommit=True) as connection:
            row = connection.execute("SELECT pg_current_wal_insert_lsn()::text").fetchone()
        if row is None:
            raise RuntimeError("the primary did not say where its WAL ends")
        target = row[0]
        deadline = time.monotonic() + timeout
        with psycopg.connect(_dsn(self.standby), autocommit=True) as connection:
            while True:
                found = connection.execute(
                    "SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn", (target,)
                ).fetchone()
                if found is not None and found[0]:
                    return
                if time.monotonic() > deadline:
                    raise TimeoutError(f"the standby did not replay up to {target} in {timeout} s")
                time.sleep(0.05)

    def pause_replay(self) -> None:
        """Stop the standby applying what it receives (``pg_wal_replay_pause``) and
        wait until it has: it keeps serving reads, of what it had replayed."""
        with psycopg.connect(_dsn(self.standby), autocommit=True) as connection:
            connection.execute("SELECT pg_wal_replay_pause()")
            deadline = time.monotonic() + 30
            while True:
                row = connection.execute("SELECT pg_get_wal_replay_pause_state()").fetchone()
                if row is not None and row[0] == "paused":
                    return
                if time.monotonic() > deadline:
                    raise TimeoutError("the standby did not pause its replay in 30 s")
                time.sleep(0.02)

    def resume_replay(self) -> None:
        """Let the standby apply what it receives again (``pg_wal_replay_resume``)."""
        with psycopg.connect(_dsn(self.standby), autocommit=True) as connection:
            connection.execute("SELECT pg_wal_replay_resume()")

    def stop(self) -> None:
        """Stop both servers and delete their files, the standby's first."""
        try:
            self.standby.stop()
        finally:
            self.primary.stop()


def _dsn(cluster: Cluster) -> str:
    return f"host={cluster.host} port={cluster.port} user={cluster.superuser} dbname=postgres"


def start_replicated_pair() -> ReplicatedPair:
    """A primary configured for streaming replication and a hot standby of it, each a
    throwaway cluster of its own (see ``start_cluster``); ``stop`` removes both."""
    primary = start_cluster(replication=True)
    try:
        standby = start_standby(primary)
    except BaseException:
        primary.stop()
        raise
    return ReplicatedPair(primary=primary, standby=standby)
