"""``registry backup`` and ``registry restore``: the node in one encrypted file, and back."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from registry.backup import Manifest, read_backup, restore_backup, write_backup
from registry.cli._common import console
from registry.errors import BackupError
from registry.settings import Settings

__all__ = ["backup_app", "restore"]

backup_app = typer.Typer(
    help="Back the node up (database, keys, secrets) into one encrypted file.",
    invoke_without_command=True,
)

_PassphraseFile = Annotated[
    Path | None,
    typer.Option(
        "--passphrase-file",
        help=(
            "Read the backup passphrase from this file's first line (for cron). "
            "Else REGISTRY_BACKUP_PASSPHRASE, else it is asked for without echo."
        ),
        dir_okay=False,
    ),
]


def _passphrase(settings: Settings, path: Path | None, *, confirm: bool) -> str:
    if path is not None:
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except OSError as exc:
            raise BackupError(f"cannot read {path}: {exc.strerror}") from exc
        return lines[0] if lines else ""
    if settings.backup_passphrase is not None:
        return settings.backup_passphrase.get_secret_value()
    if not sys.stdin.isatty():
        raise BackupError(
            "no backup passphrase: give --passphrase-file or REGISTRY_BACKUP_PASSPHRASE "
            "(or run the command at a terminal, which asks for it)"
        )
    value: str = typer.prompt(
        "backup passphrase (not shown)", hide_input=True, confirmation_prompt=confirm
    )
    return value


def _print(manifest: Manifest) -> None:
    console.print(f"made at:        {manifest.created_at.isoformat()}")
    console.print(f"registry:       {escape(manifest.registry_version)}")
    console.print(f"schema:         {', '.join(manifest.schema)}")
    console.print(f"database:       {manifest.database}")
    for log in manifest.logs:
        console.print(f"log {log.authority}:     {escape(log.origin)} at size {log.size}")
        if log.checkpoint:
            body = log.checkpoint.split("\n\n", 1)[0].replace("\n", " | ")
            console.print(f"  checkpoint:   {escape(body)}")
    console.print(f"files:          {', '.join(manifest.files) or 'none'}")
    if manifest.from_settings:
        console.print(
            "not in the backup: "
            f"{', '.join(manifest.from_settings)} (set in the node's environment; keep them "
            "apart, with the backup passphrase)"
        )
    if manifest.rows:
        total = sum(manifest.rows.values())
        console.print(f"rows:           {total:,} in {len(manifest.rows)} tables")


@backup_app.callback()
def backup(
    ctx: typer.Context,
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="The backup file to write (must not exist)."),
    ] = None,
    passphrase_file: _PassphraseFile = None,
) -> None:
    """Write one encrypted file (owner-only) holding a consistent snapshot of the
    database, the encrypted key files and the secrets, with a manifest. Safe while the
    server runs. `registry backup verify FILE` checks a backup and lists its manifest."""
    if ctx.invoked_subcommand is not None:
        return
    if output is None:
        raise typer.BadParameter("give --output FILE", param_hint="--output")
    settings = Settings()
    passphrase = _passphrase(settings, passphrase_file, confirm=True)
    manifest = write_backup(settings, output, passphrase)
    _print(manifest)
    console.print(f"[green]✓[/green] wrote {escape(str(output))} (owner-only)")


@backup_app.command("verify")
def verify_backup(
    file: Annotated[Path, typer.Argument(help="The backup file.", dir_okay=False)],
    passphrase_file: _PassphraseFile = None,
) -> None:
    """Decrypt and authenticate every part of a backup (nothing is written) and list
    its manifest; exit 1 if the passphrase is wrong or the file was altered."""
    manifest = read_backup(file, _passphrase(Settings(), passphrase_file, confirm=False))
    _print(manifest)
    console.print(f"[green]✓[/green] {escape(str(file))} is whole and authentic")


def restore(
    file: Annotated[Path, typer.Argument(help="The backup file.", dir_okay=False)],
    passphrase_file: _PassphraseFile = None,
) -> None:
    """Restore a backup into this node's data directory (REGISTRY_DATA_DIR, without keys
    or secrets) and database (REGISTRY_DATABASE_URL, without rows). The whole file is
    authenticated before anything is written. Each restored log then signs nothing until
    `registry serve` (or `registry log standing`) has its peers confirm its newest
    checkpoint."""
    settings = Settings()
    restored = restore_backup(settings, file, _passphrase(settings, passphrase_file, confirm=False))
    _print(restored.manifest)
    console.print(f"[green]✓[/green] restored {escape(str(file))}")
    if restored.held:
        console.print(
            f"the logs of {', '.join(restored.held)} sign nothing until this node's peers "
            "confirm their newest checkpoints: start the node (`registry serve`), or run "
            "`registry log standing`, to ask them"
        )
