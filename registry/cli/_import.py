"""``registry import``: issue records from a CSV or XLSX file, all or nothing."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from registry.bulk import TYPES, check_file, issue_rows, record_type, write_template
from registry.cli._common import console, err_console, node_session
from registry.errors import RegistryError
from registry.issuing import IssuingContext
from registry.issuing.receipts import read_receipt, write_receipt
from registry.messages import Language, translate

__all__ = ["import_records"]

_TYPES = ", ".join(TYPES)


def import_records(
    file: Annotated[
        Path | None, typer.Argument(help="The CSV or XLSX file to import.", show_default=False)
    ] = None,
    *,
    type_: Annotated[str | None, typer.Option("--type", help=f"The record type: {_TYPES}.")] = None,
    authority: Annotated[
        str | None, typer.Option(help="The issuing authority (CN-SH, or 310000).")
    ] = None,
    template: Annotated[
        str | None,
        typer.Option(help=f"Write the empty template of a type ({_TYPES}) instead of importing."),
    ] = None,
    output: Annotated[
        Path | None, typer.Option(help="Where --template writes (.csv or .xlsx; default: print).")
    ] = None,
    receipt: Annotated[
        Path | None,
        typer.Option(
            help="Where the receipt is written (.csv or .xlsx; default: NAME.receipt.csv "
            "beside FILE).",
            show_default=False,
        ),
    ] = None,
    lang: Annotated[
        str, typer.Option(help="zh or en: the language of the messages and the problem table.")
    ] = "zh",
) -> None:
    """Check every row of FILE first and list every bad row (row, column, reason),
    writing nothing; if all rows are good, issue them all, or none if anything fails.

    A CE credit the authority already holds in force (the same holder, provider,
    course title and completion date), or that an earlier row repeats, is a bad row:
    importing a file again issues nothing. Headers may be Chinese (as the template
    writes them) or English. The import's receipt (each row and the credential it
    became) is written to --receipt and kept by the node (GET /v1/imports/{id}).
    Messages are in Chinese unless --lang en.
    """
    language = _language(lang)
    try:
        _import(
            file,
            type_,
            authority,
            template=template,
            output=output,
            receipt=receipt,
            lang=language,
        )
    except RegistryError as exc:
        fields = "; ".join(f"{e.field}: {e.message}" for e in getattr(exc, "errors", ()))
        message = f"{exc.message} ({fields})" if fields else exc.message
        err_console.print(f"[red]error:[/red] {escape(translate(message, language))}")
        raise typer.Exit(1) from exc


def _language(value: str) -> Language:
    if value.strip().lower() in ("zh", "zh-cn", "zh_cn"):
        return "zh"
    if value.strip().lower() in ("en", "en-us", "en_us", "en-gb"):
        return "en"
    err_console.print("--lang: give zh or en")
    raise typer.Exit(2)


def _import(
    file: Path | None,
    type_: str | None,
    authority: str | None,
    *,
    template: str | None,
    output: Path | None,
    receipt: Path | None,
    lang: Language,
) -> None:
    def say(message: str) -> str:
        return escape(translate(message, lang))

    if template is not None:
        text = write_template(record_type(template), output)
        if text is not None:
            console.print(text, end="", markup=False)
        else:
            console.print(say(f"wrote the {template} template to {output}"))
        return
    if file is None or type_ is None or authority is None:
        err_console.print(say("give FILE, --type and --authority (or --template TYPE)"))
        raise typer.Exit(2)
    kind = record_type(type_)
    receipt_path = receipt or file.with_name(f"{file.stem}.receipt.csv")
    if receipt_path.suffix.lower() not in (".csv", ".xlsx"):
        err_console.print("--receipt is a .csv or .xlsx file")
        raise typer.Exit(2)
    with node_session() as (settings, _, session):
        context = IssuingContext.for_node(settings)
        parsed = check_file(session, context, file, record_type=kind, authority=authority)
        if parsed.errors:
            table = Table(
                title=say(f"{len(parsed.errors)} problem(s) in {file.name}: nothing issued")
            )
            table.add_column(say("row"), justify="right")
            table.add_column(say("column"))
            table.add_column(say("reason"))
            for error in parsed.errors:
                table.add_row(str(error.row), escape(error.column), say(error.reason))
            err_console.print(table)
            raise typer.Exit(1)
        if not parsed.items:
            err_console.print(say(f"{file.name} has no rows to import"))
            raise typer.Exit(1)
        columns = (
            TextColumn("issuing"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
        )
        with Progress(*columns, console=console) as progress:
            task = progress.add_task("issuing", total=len(parsed.items))
            imported = issue_rows(
                session,
                context,
                parsed,
                file_name=file.name,
                advance=lambda n: progress.advance(task, n),
            )
        view = read_receipt(session, imported.receipt_id, role="admin")
        write_receipt(view, receipt_path)
    console.print(say(f"issued {imported.count} {kind} record(s) for {authority}"))
    console.print(say(f"receipt {imported.receipt_id} written to {receipt_path}"))
