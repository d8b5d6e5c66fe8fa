"""``registry federation lookup-secret``: the secret every member node finds a person's
records by, exported from the node that made it and imported by each member's.
``registry federation evidence verify``: check a fork's evidence file offline."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from registry.cli._common import console, node_session, write_json
from registry.datadir import DataDir
from registry.errors import InvalidInput, NotFound
from registry.federation import verify_evidence
from registry.federation.follower import peer_states
from registry.federation.peers import fork_evidence_of
from registry.ids import LookupSecrets, province
from registry.settings import Settings

__all__ = ["federation_app"]

federation_app = typer.Typer(help="What the member nodes share.", no_args_is_help=True)
lookup_app = typer.Typer(
    help="The look-up secrets: every member node keys a person's records by them.",
    no_args_is_help=True,
)
federation_app.add_typer(lookup_app, name="lookup-secret")
evidence_app = typer.Typer(help="Evidence that a member's log forked.", no_args_is_help=True)
federation_app.add_typer(evidence_app, name="evidence")


@federation_app.command("status")
def status() -> None:
    """Print how this node follows each member's log it does not host: entries
    verified, the origin's size, how far behind, the state and the last error (as
    GET /v1/federation/status)."""
    now = datetime.now(UTC)
    with node_session() as (_settings, _data_dir, session):
        peers = peer_states(session)
        table = Table(title="Followed logs")
        for column in ("authority", "state", "verified", "origin's size", "confirmed", "error"):
            table.add_column(column)
        for peer in peers:
            confirmed = (
                f"{int((now - peer.confirmed_at).total_seconds())} s ago"
                if peer.confirmed_at is not None
                else "never"
            )
            table.add_row(
                peer.authority_code,
                peer.state,
                str(peer.tree_size),
                "" if peer.peer_size is None else str(peer.peer_size),
                confirmed,
                escape(peer.last_error or ""),
            )
    if peers:
        console.print(table)
    else:
        console.print("this node follows no other member's log yet")


@evidence_app.command("verify")
def verify_evidence_file(
    source: Annotated[Path, typer.Argument(help="A fork evidence file (JSON).")],
) -> None:
    """Check offline that the file proves a fork: two checkpoints its log key signed
    that cannot both be true. Exits 0 when it does, 1 when it does not. Compare its
    verifierKey with the one the trust list names for the member."""
    try:
        evidence = json.loads(source.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidInput(f"{source} is not a JSON file: {exc}") from exc
    if not isinstance(evidence, dict):
        raise InvalidInput(f"{source} is not fork evidence")
    found = verify_evidence(evidence)
    console.print(f"fork proven: {escape(found)}")
    console.print(f"log key: {escape(str(evidence['verifierKey']))}")


@evidence_app.command("export")
def export_evidence(
    authority: Annotated[str, typer.Argument(help="The member whose log forked, e.g. CN-JS.")],
    out: Annotated[Path | None, typer.Option(help="Write here instead of stdout.")] = None,
) -> None:
    """Write the newest evidence this node keeps that the member's log forked: a
    self-contained file that `registry federation evidence verify` (or any checker
    of C2SP signed notes and RFC 9162 proofs) confirms without trusting either node."""
    code = province(authority).iso
    with node_session() as (_settings, _data_dir, session):
        rows = fork_evidence_of(session, code)
    if not rows:
        raise NotFound(f"this node keeps no evidence that {code}'s log forked")
    write_json(out, json.loads(rows[-1].evidence))
    if out is not None:
        console.print(f"wrote the evidence of {code}'s fork to {out}")


@federation_app.command("peer-token")
def peer_token(
    authority: Annotated[str, typer.Argument(help="The member whose node granted it, e.g. CN-JS.")],
    token: Annotated[
        str,
        typer.Option(
            prompt=True,
            hide_input=True,
            help="The `federation` token that member's node created for this one.",
        ),
    ],
) -> None:
    """Keep the `federation` token a member's node granted this node (owner-only, under
    the data directory): this node reads that member's log and sends it notices with
    it. REGISTRY_PEER_TOKENS, if set, takes the place of what is kept here."""
    code = province(authority).iso
    value = token.strip()
    if not value or any(c.isspace() for c in value):
        raise InvalidInput("a token is one word, as `registry token create` printed it")
    _settings, data_dir = _data()
    data_dir.set_peer_token(code, value)
    console.print(f"kept the token of {code}'s node")


def _data() -> tuple[Settings, DataDir]:
    settings = Settings()
    return settings, DataDir(settings)


def _stored_only(settings: Settings) -> None:
    if settings.federation_lookup_secret is not None:
        raise InvalidInput(
            "this node takes its look-up secrets from REGISTRY_FEDERATION_LOOKUP_SECRET: "
            "change them there"
        )


def _describe(secrets_: LookupSecrets) -> str:
    versions = ", ".join(LookupSecrets.version_of(s) for s in secrets_.versions)
    return f"versions {versions}; new records use {secrets_.current}"


@lookup_app.command("show")
def show() -> None:
    """Print the versions this node holds (never the secrets)."""
    _settings, data = _data()
    console.print(_describe(data.lookup_secrets()))


@lookup_app.command("export")
def export(
    output: Annotated[
        Path, typer.Argument(help="A new file to write, readable by its owner only.")
    ],
) -> None:
    """Write every version to a new owner-only file, to carry to a member's node
    (`registry federation lookup-secret import`). The secrets are never printed."""
    _settings, data = _data()
    secrets_ = data.lookup_secrets()
    try:
        fd = os.open(output, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError as exc:
        raise InvalidInput(f"{output} exists: export to a new file") from exc
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(secrets_.text())
    console.print(f"wrote {escape(str(output))}: {_describe(secrets_)}")


@lookup_app.command("import")
def import_(
    source: Annotated[Path, typer.Argument(help="A file `export` wrote.")],
) -> None:
    """Add the versions of an exported file that this node lacks, after its own, so
    that it finds records keyed by any of them and keys new ones as the file's newest."""
    settings, data = _data()
    _stored_only(settings)
    try:
        given = LookupSecrets.parse(source.read_text(encoding="utf-8"))
    except OSError as exc:
        raise InvalidInput(f"cannot read {source}: {exc.strerror}") from exc
    held = data.stored_lookup_secrets()
    merged = held.merged(given) if held is not None else given
    data.replace_lookup_secrets(merged)
    console.print(f"imported: {_describe(merged)}")
    console.print(_RESTART)


_RESTART = (
    "restart the node's server: it keys new records under the newest version from then "
    "on, and finds records under every version"
)


@lookup_app.command("rotate")
def rotate() -> None:
    """Add a new version for new records; the others still find the records keyed
    under them. Export it to every member's node afterwards."""
    settings, data = _data()
    _stored_only(settings)
    rotated = data.lookup_secrets().rotated()
    data.replace_lookup_secrets(rotated)
    console.print(f"rotated: {_describe(rotated)}")
    console.print(_RESTART)
