"""``registry trust``: propose, sign, publish, import, export and verify trust lists."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape

from registry.calendar import parse_aware
from registry.cli._common import console, err_console, node_session, read_json, write_json
from registry.crypto.jcs import canonical_bytes
from registry.errors import InvalidInput, QuorumNotMet, TrustListError
from registry.trust.chain import (
    QuorumReport,
    TrustChain,
    order_versions,
    quorum_report,
)
from registry.trust.document import Quorum, WitnessPolicy, digest_of
from registry.trust.proposals import (
    Changes,
    merge_proofs,
    open_proposal,
    proposal_document,
    proposal_report,
    propose,
    publish,
    sign_document,
    sign_proposal,
    withdraw,
)
from registry.trust.store import NodeProfile, accept_version, get_version, stored_versions

__all__ = ["trust_app"]

trust_app = typer.Typer(help="The quorum-signed trust list.", no_args_is_help=True)


def _quorum(value: str | None) -> Quorum | None:
    if value is None:
        return None
    if value.strip().lower() == "majority":
        return Quorum()
    if value.strip().isdigit():
        return Quorum(count=int(value))
    raise InvalidInput("--quorum: give 'majority' or a number of members")


def _witness_policy(value: str | None) -> WitnessPolicy | None:
    if value is None:
        return None
    if value.strip().lower() == "majority":
        return WitnessPolicy()
    if value.strip().isdigit():
        return WitnessPolicy(count=int(value))
    raise InvalidInput("--witness-policy: give 'majority' or a number of other members")


def _print_report(report: QuorumReport) -> None:
    for proof in report.proofs:
        mark = "[green]✓[/green]" if proof.counted else "[yellow]·[/yellow]"
        console.print(f"  {mark} proof {proof.index}: {escape(proof.note)}")
    mark = "[green]✓[/green]" if report.met else "[red]✗[/red]"
    console.print(f"  {mark} quorum: {report.summary()}")


@trust_app.command("propose")
def trust_propose(
    *,
    founder: Annotated[
        list[str] | None,
        typer.Option(help="Genesis only: a founding member (default: every authority here)."),
    ] = None,
    add_member: Annotated[
        list[str] | None, typer.Option(help="Add an authority this node hosts.")
    ] = None,
    add_member_entry: Annotated[
        list[Path] | None,
        typer.Option(help="Add a member from its entry (`registry authority export`)."),
    ] = None,
    remove_member: Annotated[list[str] | None, typer.Option(help="Remove a member.")] = None,
    add_key: Annotated[list[str] | None, typer.Option(help="List a new key.")] = None,
    retire_key: Annotated[
        list[str] | None, typer.Option(help="Carry a key's retirement (`key rotate`).")
    ] = None,
    revoke_key: Annotated[
        list[str] | None, typer.Option(help="Carry a key's revocation (`key revoke`).")
    ] = None,
    set_witness: Annotated[
        list[str] | None,
        typer.Option(help="List the witness key this node holds for a member it hosts."),
    ] = None,
    quorum: Annotated[
        str | None, typer.Option(help="'majority' or a number of members (a strict majority).")
    ] = None,
    witness_policy: Annotated[
        str | None,
        typer.Option(help="How many other members must cosign a checkpoint: 'majority' or N."),
    ] = None,
    valid_from: Annotated[str | None, typer.Option(help="ISO 8601 time (default: now).")] = None,
) -> None:
    """Draft the next version (the genesis if there is none) and open it for signatures."""
    entries = [read_json(path) for path in add_member_entry or []]
    changes = Changes(
        founders=tuple(founder or ()),
        add_members=tuple(add_member or ()),
        add_member_entries=tuple(entries),
        remove_members=tuple(remove_member or ()),
        add_keys=tuple(add_key or ()),
        retire_keys=tuple(retire_key or ()),
        revoke_keys=tuple(revoke_key or ()),
        set_witnesses=tuple(code.strip().upper() for code in set_witness or ()),
        quorum=_quorum(quorum),
        witness_policy=_witness_policy(witness_policy),
        valid_from=parse_aware(valid_from, "--valid-from") if valid_from else None,
    )
    with node_session() as (settings, _, session):
        row = propose(session, changes, profile=NodeProfile.from_settings(settings))
        report = proposal_report(session, row)
    console.print(f"proposed version {row.version}")
    _print_report(report)
    console.print("next: registry trust sign --authority CN-xx, by each member that agrees")


@trust_app.command("sign")
def trust_sign(
    authority: Annotated[str, typer.Option(help="The member signing, e.g. CN-JS.")],
    file: Annotated[
        Path | None,
        typer.Option(help="Sign a proposal received from another node, in this file, in place."),
    ] = None,
) -> None:
    """Add a member's proof to the open proposal (or to a proposal file), with its key
    held on this node."""
    code = authority.strip().upper()
    with node_session() as (_, data_dir, session):
        if file is None:
            report = sign_proposal(session, data_dir.key_store(), code)
        else:
            document = read_json(file)
            if not isinstance(document, dict):
                raise InvalidInput(f"{file} holds no trust-list proposal")
            signed, report = sign_document(session, data_dir.key_store(), document, code)
            write_json(file, signed)
    console.print(f"{code} signed version {report.version}")
    _print_report(report)
    if file is not None:
        console.print(f"send {file} back; the proposing node adds it with `registry trust merge`")


@trust_app.command("merge")
def trust_merge(
    file: Annotated[Path, typer.Argument(help="The proposal, signed on another node.")],
) -> None:
    """Add the proofs that count from a copy of the open proposal signed elsewhere."""
    document = read_json(file)
    if not isinstance(document, dict):
        raise InvalidInput(f"{file} holds no trust-list proposal")
    with node_session() as (_, _, session):
        report = merge_proofs(session, document)
    console.print(f"merged the proofs of {file}")
    _print_report(report)


@trust_app.command("status")
def trust_status() -> None:
    """Show the open proposal: who signed, who has not, and how many are needed."""
    with node_session() as (_, _, session):
        row = open_proposal(session)
        report = proposal_report(session, row)
    console.print(f"proposal for version {row.version}, opened {row.created_at:%Y-%m-%d %H:%M}Z")
    _print_report(report)


@trust_app.command("publish")
def trust_publish() -> None:
    """Publish the open proposal; refused below quorum, naming whose proofs are missing."""
    with node_session() as (_, _, session):
        version = publish(session)
    console.print(f"published trust-list version {version.version}, digest {version.digest}")
    _print_report(version.report)
    if version.version == 1:
        console.print(f"verifiers pin this genesis digest: {version.digest}")


@trust_app.command("withdraw")
def trust_withdraw() -> None:
    """Close the open proposal without publishing it."""
    with node_session() as (_, _, session):
        row = withdraw(session)
    console.print(f"withdrew the proposal for version {row.version}")


@trust_app.command("show")
def trust_show(
    version: Annotated[int | None, typer.Argument(help="Version (default: current).")] = None,
    proposal: Annotated[bool, typer.Option(help="Show the open proposal instead.")] = False,
) -> None:
    """Print a trust-list version (or the open proposal) as JSON."""
    with node_session() as (_, _, session):
        if proposal:
            document: Mapping[str, Any] = proposal_document(open_proposal(session))
        else:
            document = json.loads(get_version(session, version).canonical)
    write_json(None, document)


@trust_app.command("export")
def trust_export(
    out: Annotated[Path | None, typer.Option(help="Write here instead of stdout.")] = None,
) -> None:
    """Print every published version, oldest first, as one JSON array (the chain)."""
    with node_session() as (_, _, session):
        chain = [json.loads(row.canonical) for row in stored_versions(session)]
    write_json(out, chain)
    if out is not None:
        console.print(f"wrote {len(chain)} version(s) to {out}")


@trust_app.command("import")
def trust_import(
    file: Annotated[Path, typer.Argument(help="A version published elsewhere (JSON).")],
    genesis: Annotated[
        str | None, typer.Option(help="Genesis digest to pin, when none is stored yet.")
    ] = None,
) -> None:
    """Verify a version published elsewhere as the next one here, and store it."""
    document = read_json(file)
    if not isinstance(document, dict):
        raise InvalidInput(f"{file} holds no single trust-list version")
    with node_session() as (_, _, session):
        version = accept_version(session, document, genesis_digest=genesis)
    console.print(f"imported trust-list version {version.version}, digest {version.digest}")


def _documents(files: Sequence[Path]) -> list[Mapping[str, Any]]:
    documents: list[Mapping[str, Any]] = []
    for path in files:
        value = read_json(path)
        items = value if isinstance(value, list) else [value]
        if not all(isinstance(item, dict) for item in items):
            raise InvalidInput(f"{path} holds something other than trust-list versions")
        documents.extend(items)
    return documents


def _verify_step(chain: TrustChain, document: Mapping[str, Any]) -> None:
    previous = chain.current
    digest = digest_of(document)
    try:
        version = chain.accept(document)
    except QuorumNotMet:
        _print_report(quorum_report(document, previous=previous, at=chain.at))
        raise
    console.print(f"version {version.version}  digest {digest}")
    if previous is None:
        console.print("  [green]✓[/green] the genesis is the pinned one")
    else:
        console.print(f"  [green]✓[/green] previous is version {previous.version}'s digest")
    _print_report(version.report)


@trust_app.command("verify")
def trust_verify(
    files: Annotated[
        list[Path], typer.Argument(help="Versions: files of one version or of an array.")
    ],
    genesis: Annotated[str, typer.Option(help="The genesis digest you trust (SHA-256, hex).")],
    at: Annotated[str | None, typer.Option(help="Verify as of this time (default: now).")] = None,
) -> None:
    """Walk the chain from the pinned genesis, offline; exit 0 only if every step holds."""
    when: datetime | None = parse_aware(at, "--at") if at else None
    chain = TrustChain(genesis_digest=genesis, at=when)
    console.print(f"pinned genesis {chain.genesis_digest}")
    try:
        for document in order_versions(_documents(files)):
            _verify_step(chain, document)
    except TrustListError as exc:
        err_console.print(f"[red]✗[/red] {escape(exc.message)}")
        err_console.print("[red]the chain does not hold[/red]")
        raise typer.Exit(1) from exc
    current = chain.current
    assert current is not None  # noqa: S101 - order_versions refuses an empty chain
    size = len(canonical_bytes(current.document))
    console.print(
        f"[green]the chain holds[/green]: version {current.version} is current "
        f"({len(current.content.members)} members, {size} bytes)"
    )
