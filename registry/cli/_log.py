"""``registry log``: the transparency logs."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.markup import escape

from registry.cli._common import console, err_console, node_session
from registry.federation.standing import Standing, check_standing, release
from registry.ids import province
from registry.storage.db import engine_scope
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


@log_app.command("standing")
def log_standing() -> None:
    """Ask the peers (their mirrors of this node's logs, and their witnesses) for each
    hosted log's newest checkpoint, and hold or release the log's signing as their
    answers decide (a log signs nothing while a peer holds more of it or another root,
    nor after a restore until its peers confirm it); print each log's standing and
    exit 1 if any is held. `registry serve` does the same at every start."""
    with node_session() as (settings, _, _session):
        database_url = settings.database_url
    with engine_scope(database_url) as engine:
        standings = check_standing(engine)
    held = False
    for standing in standings:
        asked = list(standing.answers)
        said = "; ".join(
            f"{a.peer} {a.source}: "
            + (a.problem or ("another root" if a.conflict else f"size {a.size}"))
            for a in asked
        )
        line = f"{standing.authority} at size {standing.size}: " + (said or "no peer to ask")
        if standing.hold is None:
            if asked and not standing.confirmed_by:
                line += " (no peer confirmed it; it signs, having lost nothing it knows of)"
            console.print(f"[green]✓[/green] {escape(line)}")
            continue
        held = True
        err_console.print(f"[red]✗ {escape(line)}[/red]")
        err_console.print(f"  held ({standing.hold.reason}): {escape(standing.hold.detail)}")
        err_console.print(f"  {escape(_advice(standing))}")
    if held:
        raise typer.Exit(1)


def _advice(standing: Standing) -> str:
    hold = standing.hold
    if hold is None:
        return ""
    if hold.reason == "restored":
        return (
            f"confirmed by {len(standing.confirmed_by)} of the {standing.needed} peers needed; "
            "start the peers' nodes or wait for them, then run this again. Only if no "
            "peer can ever answer: `registry log release "
            f"{standing.authority} --accept-unconfirmed`"
        )
    return (
        "signing now would fork the log. Restore a newer backup of this node if there is "
        "one (into a new data directory and database), else follow docs/operations.md, "
        "Restore: the federation's members decide how the log goes on"
    )


@log_app.command("release")
def log_release(
    authority: Annotated[str, typer.Argument(help="Whose log, e.g. CN-SH.")],
    accept_unconfirmed: Annotated[
        bool,
        typer.Option(
            "--accept-unconfirmed",
            help="Sign again although no peer confirmed the log's newest checkpoint.",
        ),
    ] = False,
) -> None:
    """Lift a restored log's hold although no peer confirmed its newest checkpoint:
    for a node whose peers cannot answer at all. If the backup was older than what the
    log published, the next checkpoint forks the log, and every peer will prove it."""
    if not accept_unconfirmed:
        raise typer.BadParameter(
            "lifting a hold unconfirmed may fork the log: say --accept-unconfirmed",
            param_hint="--accept-unconfirmed",
        )
    code = province(authority).iso
    with node_session() as (_, _, session):
        release(session, code)
    console.print(f"the log of {code} signs again, unconfirmed by its peers")
