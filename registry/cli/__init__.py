"""The ``registry`` command line."""

from __future__ import annotations

import os
from typing import Annotated

import typer
from rich.markup import escape

from registry.cli._authority import authority_app, key_app
from registry.cli._backup import backup_app, restore
from registry.cli._common import console, err_console
from registry.cli._demo import demo_app
from registry.cli._federation import federation_app
from registry.cli._import import import_records
from registry.cli._log import log_app
from registry.cli._recognition import recognition_app
from registry.cli._rewrap import key_rewrap
from registry.cli._serve import report_standing, serve_api
from registry.cli._token import token_app
from registry.cli._trust import trust_app
from registry.cli._user import user_app
from registry.cli._verify import verify
from registry.datadir import DataDir
from registry.demo.startup import print_demo, seed_node
from registry.errors import RegistryError
from registry.federation.standing import check_standing
from registry.settings import Settings
from registry.storage.db import engine_scope, schema_drift, schema_status, upgrade

__all__ = ["app", "main", "report_error"]

app = typer.Typer(
    help="Yangtze River Delta safety-engineer registry.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
_db_app = typer.Typer(help="Database migrations.", no_args_is_help=True)
app.add_typer(_db_app, name="db")
app.add_typer(authority_app, name="authority")
key_app.command("rewrap")(key_rewrap)
app.add_typer(key_app, name="key")
app.add_typer(trust_app, name="trust")
app.add_typer(log_app, name="log")
app.add_typer(token_app, name="token")
app.add_typer(user_app, name="user")
app.add_typer(recognition_app, name="recognition")
app.add_typer(federation_app, name="federation")
app.add_typer(demo_app, name="demo")
app.add_typer(backup_app, name="backup")
app.command("restore")(restore)
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
    if demo:
        # The demo's settings: this command's, and the workers' (the app factory
        # reads REGISTRY_* again, in this process or the ones it starts).
        os.environ["REGISTRY_DEMO"] = "true"
    settings = Settings()
    data_dir = DataDir(settings)
    data_dir.ensure()
    with engine_scope(settings.database_url) as engine:
        upgrade(engine)
        if demo:
            seeded = seed_node(settings, engine, data_dir)
            console.print("seeded the demo federation" if seeded else "demo data already present")
            print_demo(console, engine, data_dir, base_url=f"http://{host}:{port}")
        # Before signing anything: do the peers hold more of this node's logs?
        report_standing(check_standing(engine))
    # By import string: the domain package never imports the web layer, and the
    # factory reads the same REGISTRY_* settings this command used.
    try:
        serve_api(host, port, workers, settings=settings)
    except OSError as exc:
        err_console.print(f"[red]cannot listen on {host}:{port}: {exc.strerror or exc}[/red]")
        raise typer.Exit(1) from exc


def report_error(exc: RegistryError) -> None:
    """Print a registry error as one line, with every field an ``InvalidInput`` names."""
    fields = "; ".join(f"{e.field}: {e.message}" for e in getattr(exc, "errors", ()))
    message = f"{exc.message} ({fields})" if fields else exc.message
    err_console.print(f"[red]error:[/red] {escape(message)}")


def main() -> None:
    """Entry point: run the CLI, printing registry errors as one line and exiting 1."""
    try:
        app()
    except RegistryError as exc:
        report_error(exc)
        raise SystemExit(1) from exc
