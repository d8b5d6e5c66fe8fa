"""``registry token``: bearer tokens and their roles."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from registry.calendar import parse_aware
from registry.cli._common import console, node_session
from registry.tokens import PLAIN_ROLES, create_token, list_tokens, revoke_token

__all__ = ["token_app"]

token_app = typer.Typer(help="API tokens: create, list, revoke.", no_args_is_help=True)


@token_app.command("create")
def token_create(
    role: Annotated[
        str, typer.Option(help=f"{', '.join(PLAIN_ROLES)}, or issuer:CN-xx for one authority.")
    ],
    name: Annotated[str, typer.Option(help="Who or what holds it.")],
    expires: Annotated[
        str | None, typer.Option(help="When it stops working (ISO 8601; default: never).")
    ] = None,
) -> None:
    """Make a token; it is printed once and only its hash is kept."""
    until = parse_aware(expires, "--expires") if expires else None
    with node_session() as (_, _, session):
        row, token = create_token(session, role, name=name, expires=until)
    console.print(f"token {row.id} for role {row.role} ({row.name}):")
    console.print(token)


@token_app.command("list")
def token_list() -> None:
    """List tokens (their ids, roles and names; never the tokens)."""
    with node_session() as (_, _, session):
        rows = list_tokens(session)
    table = Table(title="tokens")
    for column in ("id", "role", "name", "created", "expires", "revoked"):
        table.add_column(column)
    for row in rows:
        table.add_row(
            str(row.id),
            row.role,
            row.name,
            f"{row.created_at:%Y-%m-%d %H:%M}Z",
            f"{row.expires_at:%Y-%m-%d %H:%M}Z" if row.expires_at else "",
            f"{row.revoked_at:%Y-%m-%d %H:%M}Z" if row.revoked_at else "",
        )
    console.print(table)


@token_app.command("revoke")
def token_revoke(token_id: Annotated[int, typer.Argument(help="The token's id.")]) -> None:
    """Revoke a token: it is refused from now on."""
    with node_session() as (_, _, session):
        row = revoke_token(session, token_id)
    console.print(f"revoked token {row.id} ({row.role}, {row.name})")
