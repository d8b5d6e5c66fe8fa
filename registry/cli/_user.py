"""``registry user``: people's accounts for the web pages."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from registry.accounts import create_user, disable_user, list_users, reset_password
from registry.cli._common import console, node_session

__all__ = ["user_app"]

user_app = typer.Typer(
    help="People's accounts for the web pages: create, list, disable, reset.",
    no_args_is_help=True,
)

_PASSWORD_HELP = "Read the password from standard input (default: one is made and printed)."  # noqa: S105


def _read_password(given: bool) -> str | None:
    return typer.prompt("password", hide_input=True) if given else None


@user_app.command("create")
def user_create(
    username: Annotated[str, typer.Argument(help="The name to sign in with (a-z 0-9 . _ -).")],
    *,
    role: Annotated[
        str, typer.Option(help="verifier (an employer), enforcement, admin, or issuer:CN-xx.")
    ],
    name: Annotated[str | None, typer.Option(help="The person's name as shown.")] = None,
    company_code: Annotated[
        str | None, typer.Option(help="An employer's unified social credit code (verifier).")
    ] = None,
    company_name: Annotated[str | None, typer.Option(help="An employer's company name.")] = None,
    password: Annotated[bool, typer.Option("--password", help=_PASSWORD_HELP)] = False,
) -> None:
    """Make an account; a password made for it is printed once."""
    given = _read_password(password)
    with node_session() as (_, _, session):
        user, secret = create_user(
            session,
            username,
            role=role,
            display_name=name,
            company_code=company_code,
            company_name=company_name,
            password=given,
        )
    console.print(f"user {user.username} ({user.role}) created")
    if given is None:
        console.print(f"password: {secret}")


@user_app.command("list")
def user_list() -> None:
    """List accounts (never their passwords)."""
    with node_session() as (_, _, session):
        users = list_users(session)
    table = Table(title="users")
    for column in ("user", "name", "role", "company", "created", "state"):
        table.add_column(column)
    for user in users:
        if user.disabled_at is not None:
            state = f"disabled {user.disabled_at:%Y-%m-%d %H:%M}Z"
        elif user.locked_until is not None:
            state = f"locked until {user.locked_until:%Y-%m-%d %H:%M}Z"
        else:
            state = "active"
        table.add_row(
            user.username,
            user.display_name,
            user.role,
            " ".join(p for p in (user.company_code, user.company_name) if p),
            f"{user.created_at:%Y-%m-%d %H:%M}Z",
            state,
        )
    console.print(table)


@user_app.command("disable")
def user_disable(username: Annotated[str, typer.Argument(help="The account's user name.")]) -> None:
    """Disable an account: it can no longer sign in, and its sessions end."""
    with node_session() as (_, _, session):
        user = disable_user(session, username)
    console.print(f"user {user.username} disabled")


@user_app.command("reset")
def user_reset(
    username: Annotated[str, typer.Argument(help="The account's user name.")],
    *,
    password: Annotated[bool, typer.Option("--password", help=_PASSWORD_HELP)] = False,
) -> None:
    """Set a new password (a made one is printed once), lift a lock-out, end sessions."""
    given = _read_password(password)
    with node_session() as (_, _, session):
        user, secret = reset_password(session, username, password=given)
    console.print(f"user {user.username}: password reset")
    if given is None:
        console.print(f"password: {secret}")
