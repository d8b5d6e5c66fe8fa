"""``registry recognition``: propose, sign, publish, terminate and list agreements."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from registry.calendar import china_today
from registry.cli._common import console, node_session, read_json, write_json
from registry.credentials.envelope import new_credential_id
from registry.errors import InvalidInput
from registry.ids import parse_category
from registry.issuing import IssuingContext
from registry.recognition import Agreement, Direction, RecordKind
from registry.recognition import agreements as workflow

__all__ = ["recognition_app"]

recognition_app = typer.Typer(
    help="Recognition agreements between authorities.", no_args_is_help=True
)


def _codes(value: str) -> list[str]:
    return [part.strip() for part in value.split(",") if part.strip()]


def _day(value: str, option: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise InvalidInput(f"{option}: {value!r} is not a date (YYYY-MM-DD)") from exc


@recognition_app.command("propose")
def propose(
    *,
    by: Annotated[str, typer.Option(help="The proposing party, e.g. CN-JS; it issues it.")],
    parties: Annotated[str, typer.Option(help="Comma-separated parties, e.g. CN-JS,CN-SH.")],
    kinds: Annotated[
        str,
        typer.Option(help="Comma-separated: qualification, registration, continuing-education."),
    ],
    effective_from: Annotated[str, typer.Option(help="First day in force (YYYY-MM-DD).")],
    basis_number: Annotated[str, typer.Option(help="Number of the document it rests on.")],
    basis_title: Annotated[str, typer.Option(help="Title of that document.")],
    direction: Annotated[
        str, typer.Option(help="mutual, or one-way (then --source and --target).")
    ] = "mutual",
    source: Annotated[str | None, typer.Option(help="One-way: whose records count.")] = None,
    target: Annotated[str | None, typer.Option(help="One-way: where they count.")] = None,
    categories: Annotated[
        str | None, typer.Option(help="Comma-separated categories (default: every one).")
    ] = None,
    levels: Annotated[str, typer.Option(help="Comma-separated levels.")] = "junior",
    effective_until: Annotated[
        str | None, typer.Option(help="Last day in force (YYYY-MM-DD; default: open).")
    ] = None,
    demonstration: Annotated[
        bool,
        typer.Option(
            "--demonstration",
            help="Mark it as a demonstration (its basis a synthetic document): only a "
            "node running the demo (REGISTRY_DEMO) publishes or relies on it.",
        ),
    ] = False,
) -> None:
    """Draft an agreement and open it for every party's signature."""
    try:
        agreement = Agreement(
            id=new_credential_id(),
            parties=frozenset(_codes(parties)),
            direction=Direction(direction),
            kinds=frozenset(RecordKind(k) for k in _codes(kinds)),
            levels=frozenset(_codes(levels)),
            valid_from=_day(effective_from, "--effective-from"),
            valid_until=_day(effective_until, "--effective-until") if effective_until else None,
            categories=frozenset(parse_category(c) for c in _codes(categories))
            if categories
            else None,
            source=source,
            target=target,
            basis_number=basis_number,
            basis_title=basis_title,
            demonstration=demonstration,
        )
    except ValueError as exc:
        raise InvalidInput(str(exc)) from exc
    with node_session() as (_, _, session):
        row = workflow.propose(session, agreement, proposer=by)
    console.print(f"proposed {row.id}")
    for party in sorted(agreement.parties):
        console.print(f"  registry recognition sign {row.id} --as {party}")
    console.print(f"then: registry recognition publish {row.id}")


@recognition_app.command("sign")
def sign(
    agreement_id: Annotated[
        str | None, typer.Argument(help="The proposed agreement's id (not with --file).")
    ] = None,
    *,
    party: Annotated[str, typer.Option("--as", help="The party signing, e.g. CN-SH.")],
    file: Annotated[
        Path | None,
        typer.Option(help="Sign a proposal received from the proposing node, in place."),
    ] = None,
) -> None:
    """Add a party's proof, with its key held on this node: to the open proposal here,
    or to a proposal file (`registry recognition show ID > FILE` on the proposing
    node) that goes back to it for `registry recognition merge`."""
    if (agreement_id is None) == (file is None):
        raise InvalidInput("give the agreement's id, or --file with a proposal")
    with node_session() as (_, data_dir, session):
        if agreement_id is not None:
            signers = workflow.sign(session, data_dir.key_store(), agreement_id, party)
        elif file is not None:
            document = read_json(file)
            if not isinstance(document, dict):
                raise InvalidInput(f"{file} holds no proposed agreement")
            signed, signers = workflow.sign_document(session, data_dir.key_store(), document, party)
            write_json(file, signed)
    console.print(f"signed by {', '.join(signers)}")
    if file is not None:
        console.print(
            f"send {file} back; the proposing node adds it with `registry recognition merge`"
        )


@recognition_app.command("merge")
def merge(
    file: Annotated[Path, typer.Argument(help="The proposal, signed on other parties' nodes.")],
) -> None:
    """Add to the open proposal the proofs on a copy that other parties signed."""
    document = read_json(file)
    if not isinstance(document, dict) or not isinstance(document.get("id"), str):
        raise InvalidInput(f"{file} holds no proposed agreement")
    with node_session() as (_, _, session):
        signers = workflow.merge(session, document["id"], document)
    console.print(f"signed by {', '.join(signers)}")


@recognition_app.command("show")
def show(
    agreement_id: Annotated[str, typer.Argument(help="The agreement's id.")],
) -> None:
    """Print a proposed agreement with the proofs gathered so far, as JSON."""
    with node_session() as (_, _, session):
        document = workflow.proposal_document(workflow.get_proposal(session, agreement_id))
    write_json(None, document)


@recognition_app.command("publish")
def publish(
    agreement_id: Annotated[str, typer.Argument(help="The fully signed agreement's id.")],
) -> None:
    """Verify that every party signed, store the agreement and log it."""
    with node_session() as (settings, _, session):
        published = workflow.publish(session, IssuingContext.for_node(settings), agreement_id)
    console.print(
        f"published {published.agreement.id} in the log of {published.issuer}; in force "
        f"from {published.agreement.valid_from}"
    )


@recognition_app.command("terminate")
def terminate(
    agreement_id: Annotated[str, typer.Argument(help="The agreement's id.")],
    *,
    by: Annotated[str, typer.Option(help="The terminating party, e.g. CN-ZJ.")],
    effective_on: Annotated[str, typer.Option(help="First day no longer in force.")],
    reason: Annotated[str, typer.Option(help="Why, in a sentence.")],
    decision_number: Annotated[str, typer.Option(help="Number of the decision document.")],
) -> None:
    """End an agreement from a day (today or later) by a party's signed StatusChange."""
    with node_session() as (settings, _, session):
        ended = workflow.terminate(
            session,
            IssuingContext.for_node(settings),
            agreement_id,
            by=by,
            effective_on=_day(effective_on, "--effective-on"),
            reason=reason,
            decision_number=decision_number,
        )
    console.print(
        f"terminated {agreement_id} from {ended.agreement.terminated_on} ({ended.termination_id})"
    )


@recognition_app.command("list")
def list_agreements(
    on: Annotated[
        str | None, typer.Option("--date", help="Only those in force on this day.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the credentials.")] = False,
) -> None:
    """Published agreements (all, or those in force on a day)."""
    with node_session() as (_, _, session):
        found = workflow.load_agreements(session)
    if on is not None:
        found = workflow.in_force(found, _day(on, "--date"))
    if as_json:
        write_json(None, [p.credential for p in found])
        return
    table = Table(title=f"Recognition agreements (today {china_today()})")
    for column in ("id", "parties", "direction", "kinds", "in force", "basis"):
        table.add_column(column)
    for published in found:
        a = published.agreement
        way = a.direction.value if a.source is None else f"{a.source} -> {a.target}"
        end = (a.terminated_on and f"terminated {a.terminated_on}") or a.valid_until or "open"
        table.add_row(
            a.id,
            ", ".join(sorted(a.parties)),
            way,
            ", ".join(sorted(k.value for k in a.kinds)),
            f"{a.valid_from} to {end}",
            escape(a.basis_number),
        )
    console.print(table)
