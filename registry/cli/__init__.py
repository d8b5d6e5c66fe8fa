"""The ``registry`` command line."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table
from sqlalchemy import Engine

from registry.authorities import keys_of, list_authorities
from registry.cli._authority import authority_app, key_app
from registry.cli._common import console, err_console
from registry.cli._import import import_records
from registry.cli._log import log_app
from registry.cli._recognition import recognition_app
from registry.cli._serve import serve_api
from registry.cli._token import token_app
from registry.cli._trust import trust_app
from registry.cli._verify import verify
from registry.datadir import DataDir
from registry.demo import seed_demo, seed_demo_tokens
from registry.demo_records import DEMO_ENGINEERS, seed_demo_records
from registry.errors import RegistryError
from registry.issuing import IssuingContext
from registry.settings import Settings
from registry.storage.db import engine_scope, schema_drift, schema_status, session_scope, upgrade
from registry.trust.store import NodeProfile, stored_versions

__all__ = ["app", "main"]

app = typer.Typer(
    help="Yangtze River Delta safety-engineer registry.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
_db_app = typer.Typer(help="Database migrations.", no_args_is_help=True)
app.add_typer(_db_app, name="db")
app.add_typer(authority_app, name="authority")
app.add_typer(key_app, name="key")
app.add_typer(trust_app, name="trust")
app.add_typer(log_app, name="log")
app.add_typer(token_app, name="token")
app.add_typer(recognition_app, name="recognition")
app.command("import")(import_records)
app.command("verify")(verify)


@_db_app.command("upgrade")
def db_upgrade(
    revision: Annotated[str, typer.Option(help="Target revision.")] = "head",
) -> None:
    """Migrate the database (REGISTRY_DATABASE_URL) to the latest schema."""
    with engine_scope(Settings().database_url) as engine:
        upgrade(engine, revision)
        status = schema_status(engine)
    console.print(f"database at revision {', '.join(status.current)}")


@_db_app.command("current")
def db_current() -> None:
    """Print the database's revision and the latest one; exit 1 unless at head."""
    with engine_scope(Settings().database_url) as engine:
        status = schema_status(engine)
    console.print(f"current: {', '.join(status.current) or 'none'}  head: {', '.join(status.head)}")
    if not status.at_head:
        raise typer.Exit(1)


@_db_app.command("check")
def db_check() -> None:
    """Exit 1 if the tables in code differ from the migrated database."""
    with engine_scope(Settings().database_url) as engine:
        drift = schema_drift(engine)
    if drift:
        for diff in drift:
            err_console.print(f"drift: {diff}")
        raise typer.Exit(1)
    console.print("no drift between the models and the migrations")


_DEMO_TOKENS = "demo-tokens.json"


def _print_tokens(data_dir: DataDir) -> None:
    saved = data_dir.read_private(_DEMO_TOKENS)
    if saved is None:
        console.print("Demo tokens: none saved here; make one with `registry token create`")
        return
    table = Table(title=f"Demo tokens (also in {data_dir.root / 'secrets' / _DEMO_TOKENS})")
    table.add_column("role")
    table.add_column("token")
    for role, token in json.loads(saved).items():
        table.add_row(role, token)
    console.print(table)


def _print_demo(engine: Engine, host: str, port: int) -> None:
    base = f"http://{host}:{port}"
    table = Table(title="Demo federation", show_lines=False)
    table.add_column("authority")
    table.add_column("issuing key")
    with session_scope(engine) as session:
        for authority in list_authorities(session):
            issuing = [k for k in keys_of(session, authority.code) if k.purpose == "issuing"]
            table.add_row(
                f"{authority.code} {authority.name_zh}",
                issuing[-1].public_key_multibase if issuing else "-",
            )
        genesis = stored_versions(session)[:1]
    console.print(table)
    if genesis:
        console.print(f"Genesis trust list digest (pin it): {genesis[0].digest}")
    console.print(f"API docs:        {base}/docs")
    console.print(
        f"Verify:          curl -X POST {base}/v1/verify/engineer "
        '-H "Authorization: Bearer <verifier token>" -H "Content-Type: application/json" '
        # By registration number and name: no ID number in the server's output.
        f'-d \'{{"registration_number": "SH-REG-1002", '
        f'"name": "{DEMO_ENGINEERS[1].name}", "region": "CN-SH"}}\''
    )
    console.print(f"Try:             curl {base}/v1/trust-list")
    console.print(f"                 curl {base}/v1/authorities")
    console.print(f"Health:          curl {base}/healthz")
    console.print(f"Readiness:       curl {base}/readyz")


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    demo: Annotated[bool, typer.Option(help="Seed the demo federation if empty.")] = False,
    workers: Annotated[
        int,
        typer.Option(
            min=1,
            help="Server processes, each with its own socket on the port (one per core).",
        ),
    ] = 1,
) -> None:
    """Migrate the database, optionally seed the demo, and serve the API."""
    settings = Settings()
    data_dir = DataDir(settings)
    data_dir.ensure()
    with engine_scope(settings.database_url) as engine:
        upgrade(engine)
        if demo:
            with session_scope(engine) as session:
                seeded = seed_demo(
                    session, data_dir.key_store(), profile=NodeProfile.from_settings(settings)
                )
                seeded = seed_demo_records(session, IssuingContext.for_node(settings)) or seeded
                tokens = seed_demo_tokens(session)
                if tokens:
                    data_dir.write_private(_DEMO_TOKENS, json.dumps(tokens, indent=2) + "\n")
            console.print("seeded the demo federation" if seeded else "demo data already present")
            _print_tokens(data_dir)
            _print_demo(engine, host, port)
    # By import string: the domain package never imports the web layer, and the
    # factory reads the same REGISTRY_* settings this command used.
    try:
        serve_api(host, port, workers, database_url=settings.database_url)
    except OSError as exc:
        err_console.print(f"[red]cannot listen on {host}:{port}: {exc.strerror or exc}[/red]")
        raise typer.Exit(1) from exc


def main() -> None:
    """Entry point: run the CLI, printing registry errors as one line and exiting 1."""
    try:
        app()
    except RegistryError as exc:
        err_console.print(f"[red]error:[/red] {escape(exc.message)}")
        raise SystemExit(1) from exc
