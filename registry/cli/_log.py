"""``registry log``: the transparency logs."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.markup import escape

from registry.cli._common import console, err_console, node_session
from registry.ids import province
from registry.verification.log_audit import audit_log

__all__ = ["log_app"]

log_app = typer.Typer(help="Transparency logs.", no_args_is_help=True)


@log_app.command("audit")
def log_audit(
    authority: Annotated[str, typer.Argument(help="Whose log, e.g. CN-SH.")],
) -> None:
    """Recompute every leaf, subtree hash and checkpoint of a log from what is stored,
    verifying every credential against the trust list; exit 1 at the first that fails."""
    with node_session() as (_, _, session):
        report = audit_log(session, province(authority).iso)
    if report.finding is not None:
        err_console.print(
            f"[red]✗ {escape(report.finding.where)}[/red]: {escape(report.finding.problem)}"
        )
        err_console.print(f"[red]the log of {report.authority} does not hold[/red]")
        raise typer.Exit(1)
    console.print(
        f"[green]✓[/green] the log of {report.authority} holds: {report.entries} entries, "
        f"{report.nodes} subtree hashes and {report.checkpoints} checkpoints recomputed"
    )
