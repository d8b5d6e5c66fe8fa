"""A throwaway PostgreSQL cluster, for a test session or a benchmark.

``initdb`` refuses to run as root, so when the suite runs as root the cluster is
created and started as an unprivileged user (``postgres`` if it exists, else
``nobody``) through ``runuser``. It listens on 127.0.0.1 on a free port with its
socket inside its own temporary directory, so it never touches a cluster the
machine already runs, and it is stopped and deleted at the end of the session.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from devtools.ports import free_port

__all__ = ["Cluster", "find_bindir", "start_cluster"]


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

    def stop(self) -> None:
        """Stop the server at once and delete its files."""
        try:
            self._run("pg_ctl", "-D", str(self.root / "data"), "-m", "immediate", "-w", "stop")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)


def start_cluster(*, durable: bool = False) -> Cluster:
    """Create and start a cluster with trust authentication on loopback only.

    Tests run without fsync (a throwaway cluster need not survive a crash);
    ``durable=True`` keeps PostgreSQL's defaults, as benchmarks must.
    """
    bindir = find_bindir()
    if bindir is None:
        raise RuntimeError(
            "no PostgreSQL server binaries found; run `make test` (it installs them) "
            "or set REGISTRY_TEST_DATABASE_URL"
        )
    run_as = _unprivileged_user()
    root = Path(tempfile.mkdtemp(prefix="registry-pg-"))
    if run_as is not None:
        entry = pwd.getpwnam(run_as)
        os.chown(root, entry.pw_uid, entry.pw_gid)
    cluster = Cluster(bindir=bindir, root=root, port=free_port(), run_as=run_as)
    try:
        cluster._run(
            "initdb",
            "-D",
            str(root / "data"),
            "-U",
            cluster.superuser,
            "--auth=trust",
            "--encoding=UTF8",
            "--no-locale",
            "--no-sync",
        )
        options = (
            f"-p {cluster.port} -k {root} -c listen_addresses=127.0.0.1 -c max_connections=100"
        )
        if not durable:
            options += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        cluster._run(
            "pg_ctl",
            "-D",
            str(root / "data"),
            "-l",
            str(root / "postgres.log"),
            "-o",
            options,
            "-w",
            "-t",
            "60",
            "start",
        )
    except BaseException:
        shutil.rmtree(root, ignore_errors=True)
        raise
    return cluster
