"""``registry verify``: check a credential, proof bundle or report offline."""

from __future__ import annotations

import os
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
from registry.messages import translate
from registry.verification.offline import Check, check_file
from registry.verification.qr import parse_qr_payload
from registry.verification.summary import Language, phrase, summary_lines

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


def _language(value: str | None) -> Language:
    if value is None:
        # The terminal's own language: Chinese where the locale is Chinese.
        locale = os.environ.get("LC_ALL") or os.environ.get("LANG") or ""
        return "zh" if locale.lower().startswith("zh") else "en"
    if value.strip().lower() in ("zh", "zh-cn", "zh_cn"):
        return "zh"
    if value.strip().lower() in ("en", "en-us", "en_us", "en-gb"):
        return "en"
    raise InvalidInput("--lang: give zh or en")


def _summary(document: object, lang: Language, holds: bool) -> None:
    lines = summary_lines(document, lang)
    if not lines:
        return
    if not holds:
        console.print(f"[red]{escape(phrase('unverified', lang))}[/red]")
    width = max(len(label) for label, _ in lines)
    for label, value in lines:
        console.print(f"[bold]{escape(label.ljust(width))}[/bold]  {escape(value)}")
    console.print("")


def _tree(check: Check, tree: Tree, lang: Language) -> None:
    for child in check.children:
        label = f"{_MARK[child.ok]} {escape(translate(child.name, lang))}"
        if child.detail:
            label += f": {escape(translate(child.detail, lang))}"
        _tree(child, tree.add(label), lang)


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
            help="Trust-list versions: the whole chain as one file (GET "
            "/v1/trust-list/chain, or `registry trust export`), or files of one version "
            "each, from the genesis on; repeat for several files.",
        ),
    ] = [],  # noqa: B006  (typer reads the default; it is never mutated)
    genesis: Annotated[
        str | None,
        typer.Option(
            help="The genesis trust list's digest to pin (SHA-256 hex), as the federation "
            "published it. Without it nothing verifies."
        ),
    ] = None,
    unsafe_genesis_from_file: Annotated[
        bool,
        typer.Option(
            "--unsafe-genesis-from-file",
            help="UNSAFE: take the trust-list file's own version 1 as the genesis instead "
            "of a pinned --genesis; whoever wrote the file chose it. Said so in the output.",
        ),
    ] = False,
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
    demo: Annotated[
        bool,
        typer.Option(
            "--demo",
            help="Accept a report that relies on a demonstration agreement (the demo's, "
            "citing a synthetic document): for checking the demo's reports only.",
        ),
    ] = False,
    lang: Annotated[
        str | None,
        typer.Option(
            help="zh or en: the language of the summary and the verdict (default: zh "
            "where the locale (LC_ALL, LANG) is Chinese, else en).",
        ),
    ] = None,
) -> None:
    """Check everything that can be checked without the server; print first what the
    file says (the verdict, the person, the region and the day; or whose record, what,
    issued by whom, valid when), then every check as a tree. Exit 0 only if every
    check holds from a pinned genesis."""
    language = _language(lang)
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
        unsafe_genesis_from_file=unsafe_genesis_from_file,
        demo=demo,
    )
    _summary(document, language, result.holds)
    tree = Tree(f"{_MARK[result.holds]} {escape(str(file))}")
    _tree(result, tree, language)
    console.print(tree)
    if not result.holds:
        failed = _first_failure(result, language)
        console.print(f"[red]{phrase('fails', language)}[/red]: {escape(failed)}")
        raise typer.Exit(1)
    if genesis is None:
        console.print(f"[bold yellow]{escape(phrase('unpinned', language))}[/bold yellow]")
        return
    console.print(f"[green]{escape(phrase('holds', language))}[/green]")


def _first_failure(check: Check, lang: Language, path: str = "") -> str:
    name = translate(check.name, lang)
    here = f"{path} > {name}" if path else name
    if check.ok is False:
        return f"{here}: {translate(check.detail, lang)}"
    for child in check.children:
        if not child.holds:
            return _first_failure(child, lang, here)
    return here
