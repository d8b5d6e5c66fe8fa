"""Small helpers shared by the tests."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Mapping, Sequence
from datetime import datetime
from functools import partial
from ipaddress import ip_network
from pathlib import Path

from click.testing import CliRunner
from sqlmodel import Session
from typer.main import get_command

from devtools import REGISTRY
from registry.authorities import create_authority
from registry.cli import app, report_error
from registry.cli._common import console, err_console
from registry.crypto.keys import KeyStore
from registry.demo import DEMO_AUTHORITIES, seed_demo, seed_demo_records, seed_demo_tokens
from registry.enforcement.addresses import AddressPolicy
from registry.errors import RegistryError
from registry.issuing import IssuingContext
from registry.settings import Settings
from registry.storage.db import engine_scope, session_scope
from registry.trust.proposals import seed_genesis
from registry.trust.store import NodeProfile
from tests._seeded import seeded
from tests._witnessing import cosign_logs

__all__ = [
    "LOOPBACK",
    "LOOPBACK_NETWORKS",
    "PROFILE",
    "REGISTRY",
    "TEST_PASSPHRASE",
    "found_federation",
    "migrated_sqlite",
    "run_command",
    "run_import",
    "seed_demo_node",
]

LOOPBACK_NETWORKS = "127.0.0.0/8,::1/128"
"""The networks the tests' webhook receivers are in, as ``REGISTRY_WEBHOOK_ALLOWED_NETWORKS``
says them: allowed by every test node."""

LOOPBACK = AddressPolicy(allowed=(ip_network("127.0.0.0/8"), ip_network("::1/128")))
"""An address policy that lets webhooks reach the tests' receivers on loopback."""


PROFILE = NodeProfile(log_origin_prefix="registry.yrd.example", node_url="http://127.0.0.1:8000")
"""How the test node names the members it hosts."""

TEST_PASSPHRASE = b"test passphrase"
"""What the ``key_store`` fixture encrypts keys with (other processes need it too)."""


def found_federation(
    session: Session, key_store: KeyStore, *, now: datetime, genesis: bool = True
) -> None:
    """The four demo authorities, created at ``now``, and their genesis signed by all four."""
    for code, name_zh, name_en in DEMO_AUTHORITIES:
        create_authority(session, key_store, code=code, name_zh=name_zh, name_en=name_en, now=now)
    if genesis:
        seed_genesis(session, key_store, profile=PROFILE, now=now)


def seed_demo_node(
    settings: Settings, *, records: bool = True, witnessed: bool = True
) -> dict[str, str]:
    """Seed the demo federation into the settings' database as `make run` does (its
    records too, unless ``records`` is false), its logs' checkpoints cosigned by the
    other members' witnesses as its serving process has them cosigned within a
    second (unless ``witnessed`` is false); returns a token per demo role. Seeded
    once per worker for the same settings, then copied (tests/_seeded.py)."""
    return seeded(
        settings,
        variant=f"records={records},witnessed={witnessed}",
        seed=partial(_seed, records=records, witnessed=witnessed),
    )


def _seed(settings: Settings, *, records: bool, witnessed: bool) -> dict[str, str]:
    context = IssuingContext.for_node(settings)
    with engine_scope(settings.database_url) as engine, session_scope(engine) as session:
        seed_demo(session, context.key_store, profile=NodeProfile.from_settings(settings))
        if records:
            seed_demo_records(session, context)
        if witnessed:
            cosign_logs(session, context.key_store)
        return seed_demo_tokens(session)


def migrated_sqlite(template: Path, path: Path) -> str:
    """The URL of a fresh SQLite database at ``path`` migrated to head: a copy of the
    session's ``sqlite_template`` (built once by the migrations)."""
    shutil.copyfile(template, path)
    return f"sqlite:///{path}"


def run_import(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    """``registry import ARGS --lang en`` against the settings' node, as an official
    runs it, its problem table wide enough for one line a problem."""
    env = {
        "REGISTRY_DATABASE_URL": settings.database_url,
        "REGISTRY_DATA_DIR": str(settings.data_dir),
        "COLUMNS": "250",
    }
    return run_command(["import", *args, "--lang", "en"], env)


def run_command(
    args: Sequence[str], env: Mapping[str, str | None], *, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    """``registry ARGS`` run in this process, as ``registry.cli.main`` runs it (a
    registry error printed as one line, exit 1), with ``env`` among the environment's
    variables for its duration (a ``None`` unsets one) and ``stdin`` its input; its
    exit code and what it printed. The command's code is the same as in its own
    process, without a second of starting Python and the imports each time; a test
    that needs the installed command itself (a password read from the terminal, a
    server, a process killed) runs ``REGISTRY``."""
    command = get_command(app)
    # The consoles took their width from COLUMNS when imported, as the command's own
    # process would when started: given here, it is theirs for the command's duration.
    widths = (console.width, err_console.width)
    columns = env.get("COLUMNS") or ""
    if columns.isdigit():
        console.width = err_console.width = int(columns)
    try:
        with CliRunner().isolation(input=stdin, env=dict(env)) as (stdout, stderr, _):
            try:
                command.main(args=list(args), prog_name="registry", standalone_mode=True)
                code = 0
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
            except RegistryError as exc:
                report_error(exc)
                code = 1
            out, err = stdout.getvalue().decode(), stderr.getvalue().decode()
    finally:
        console.width, err_console.width = widths
    return subprocess.CompletedProcess(["registry", *args], code, out, err)
