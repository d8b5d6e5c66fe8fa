"""``registry verify``: check a credential, proof bundle or report offline."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.tree import Tree

from registry.calendar import parse_aware
from registry.cli._common import console, read_json
from registry.errors import InvalidInput
from registry.ids import parse_disclosure, parse_resident_id
from registry.verification.offline import Check, check_file
from registry.verification.qr import parse_qr_payload

__all__ = ["verify"]

_MARK = {True: "[green]✓[/green]", False: "[red]✗[/red]", None: "[yellow]·[/yellow]"}


def _documents(path: Path) -> list[Mapping[str, Any]]:
    value = read_json(path)
    if isinstance(value, Mapping) and isinstance(value.get("versions"), list):
        value = value["versions"]
    items = value if isinstance(value, list) else [value]
    if not all(isinstance(item, Mapping) for item in items):
        raise InvalidInput(f"{path} holds neither a credential nor a list of them")
    return items


def _tree(check: Check, tree: Tree) -> None:
    for child in check.children:
        label = f"{_MARK[child.ok]} {escape(child.name)}"
        if child.detail:
            label += f": {escape(child.detail)}"
        _tree(child, tree.add(label))


def verify(
    file: Annotated[
        Path,
        typer.Argument(
            help="A credential, a proof bundle (GET /v1/credentials/{id}/proof) or a "
            "VerificationReport, as JSON; or the text a registry QR code carries."
        ),
    ],
    *,
    trust_list: Annotated[
        list[Path],
        typer.Option(
            "--trust-list",
            help="Trust-list versions: a file with one version or a JSON list of them, "
            "from the genesis on; repeat for several files.",
        ),
    ] = [],  # noqa: B006  (typer reads the default; it is never mutated)
    genesis: Annotated[
        str | None,
        typer.Option(help="The genesis trust list's digest to pin (SHA-256 hex)."),
    ] = None,
    status_list: Annotated[
        list[Path],
        typer.Option(
            "--status-list", help="A BitstringStatusListCredential to check status against."
        ),
    ] = [],  # noqa: B006
    at: Annotated[
        str | None,
        typer.Option(help="Judge as of this time (ISO 8601 with a zone; default now)."),
    ] = None,
    qr: Annotated[
        str | None,
        typer.Option(
            help="The text a registry QR code carries: the file must hold the very "
            "credential it names (id, authority and digest). The code on a person's own "
            "certificate also carries their disclosure: see --id-number."
        ),
    ] = None,
    disclosure: Annotated[
        str | None,
        typer.Option(
            help="The disclosure printed on the person's certificate (22 characters): "
            "with it, the ID number from their ID card is checked against the credential."
        ),
    ] = None,
    id_number: Annotated[
        str | None,
        typer.Option(
            help="The ID number to check with the disclosure; asked for (and not shown) "
            "if a disclosure is given without it, so that it stays out of the shell's "
            "history.",
        ),
    ] = None,
) -> None:
    """Check everything that can be checked without the server, print it as a tree,
    and exit 0 only if every check holds."""
    document = read_json(file)
    versions = [doc for path in trust_list for doc in _documents(path)]
    lists = [doc for path in status_list for doc in _documents(path)]
    when = parse_aware(at, "--at") if at else None
    code = parse_qr_payload(qr) if qr is not None else None
    salt = parse_disclosure(disclosure) if disclosure is not None else None
    if code is not None and code.disclosure is not None:
        if salt is not None and salt != code.disclosure:
            raise InvalidInput("--disclosure is not the disclosure the QR code carries")
        salt = code.disclosure
    if id_number is not None and salt is None:
        raise InvalidInput(
            "an ID number is checked with the person's disclosure: give --disclosure, or "
            "--qr with the code from their certificate"
        )
    holder = None
    if salt is not None:
        if id_number is None:
            id_number = typer.prompt("ID number (not shown)", hide_input=True)
        holder = (salt, parse_resident_id(id_number))
    result = check_file(
        document,
        trust_lists=versions,
        genesis=genesis,
        status_lists=lists,
        at=when,
        qr=code,
        holder=holder,
    )
    tree = Tree(f"{_MARK[result.holds]} {escape(str(file))}")
    _tree(result, tree)
    console.print(tree)
    if not result.holds:
        failed = _first_failure(result)
        console.print(f"[red]does not verify[/red]: {escape(failed)}")
        raise typer.Exit(1)
    console.print("[green]verifies[/green]: every check holds")


def _first_failure(check: Check, path: str = "") -> str:
    here = f"{path} > {check.name}" if path else check.name
    if check.ok is False:
        return f"{here}: {check.detail}"
    for child in check.children:
        if not child.holds:
            return _first_failure(child, here)
    return here
