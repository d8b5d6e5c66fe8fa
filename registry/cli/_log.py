"""``registry log``: the transparency logs."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.markup import escape

from registry.cli._common import console, err_console, node_session
from registry.ids import province
from registry.verification.log_audit import MAX_KEPT, audit_log

__all__ = ["log_app"]

log_app = typer.Typer(help="Transparency logs.", no_args_is_help=True)


@log_app.command("audit")
def log_audit(
    authority: Annotated[str, typer.Argument(help="Whose log, e.g. CN-SH.")],
    show: Annotated[
        int, typer.Option(min=1, help="Print at most this many problems; all are counted.")
    ] = MAX_KEPT,
) -> None:
    """Recompute every leaf, subtree hash and checkpoint of a log from what is stored,
    verifying every credential against the trust list, and rebuild from the log every
    table projected from it (records and their states, parties, status changes, status
    lists, agreements, digests); print every problem found and exit 1 if there is any."""
    with node_session() as (_, _, session):
        report = audit_log(session, province(authority).iso, keep=show)
    if not report.holds:
        for finding in report.findings:
            err_console.print(f"[red]✗ {escape(finding.where)}[/red]: {escape(finding.problem)}")
        if report.omitted:
            err_console.print(
                f"… and {report.omitted} more not shown (only the first {len(report.findings)} "
                "are printed: --show prints more)"
            )
        problems = f"{report.problems} problem{'s' * (report.problems != 1)}"
        err_console.print(f"[red]the log of {report.authority} does not hold: {problems}[/red]")
        raise typer.Exit(1)
    rows = ", ".join(f"{count} {table}" for table, count in sorted(report.rows.items()))
    console.print(
        f"[green]✓[/green] the log of {report.authority} holds: {report.entries} entries, "
        f"{report.nodes} subtree hashes and {report.checkpoints} checkpoints recomputed; "
        f"rows rebuilt from it and compared: {rows or 'none'}"
    )
