"""``registry authority`` and ``registry key``: member authorities and their keys."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from registry.authorities import (
    ISSUING_TYPES,
    InToken,
    create_authority,
    create_node_key,
    create_witness_key,
    get_authority,
    key_location,
    keys_of,
    list_authorities,
    revoke_key,
    rotate_key,
)
from registry.calendar import parse_aware
from registry.cli._common import console, node_session, write_json
from registry.errors import InvalidInput
from registry.storage.models import SigningKey
from registry.trust.store import NodeProfile, member_from_node

__all__ = ["authority_app", "key_app"]

authority_app = typer.Typer(help="Member authorities.", no_args_is_help=True)
key_app = typer.Typer(
    help="Signing keys: list, rotate, revoke, keep in a hardware token, rewrap.",
    no_args_is_help=True,
)

_HSM_HELP = (
    "Generate the key inside this PKCS#11 token (its label), not as a file: the module "
    "and PIN come from REGISTRY_PKCS11_MODULE and REGISTRY_PKCS11_PIN_FILE."
)
_LABEL_HELP = "The key's label in the token (default: the name the node gives the key)."
_EXISTING_HELP = "Take the key the token already holds under --label instead of generating one."

TokenOption = Annotated[str | None, typer.Option("--token", help=_HSM_HELP)]
LabelOption = Annotated[str | None, typer.Option("--label", help=_LABEL_HELP)]
ExistingOption = Annotated[bool, typer.Option("--existing", help=_EXISTING_HELP)]


def _in_token(token: str | None, label: str | None, existing: bool) -> InToken | None:
    if token is None:
        if label is not None or existing:
            raise InvalidInput("--label and --existing name a key in a token: give --token")
        return None
    return InToken(token, label, existing)


def _keys_table(keys: list[SigningKey], title: str) -> Table:
    table = Table(title=title)
    columns = ("authority", "purpose", "verification method", "held in", "valid from", "until")
    for column in (*columns, "revoked"):
        table.add_column(column)
    for key in keys:
        revoked = ""
        if key.compromised_since is not None:
            reason = escape(key.revocation_reason or "")
            revoked = f"from {key.compromised_since:%Y-%m-%d %H:%M:%SZ}: {reason}"
        table.add_row(
            key.authority_code or "",
            key.purpose,
            key.verification_method,
            escape(str(key_location(key) or "not here (a peer's key)")),
            f"{key.valid_from:%Y-%m-%d %H:%M:%SZ}",
            f"{key.valid_until:%Y-%m-%d %H:%M:%SZ}" if key.valid_until else "",
            revoked,
        )
    return table


@authority_app.command("create")
def authority_create(
    code: Annotated[str, typer.Argument(help="ISO 3166-2 province code, e.g. CN-SH.")],
    name_zh: Annotated[str, typer.Option("--name-zh", help="Chinese name.")],
    name_en: Annotated[str, typer.Option("--name-en", help="English name.")],
    token: Annotated[
        str | None,
        typer.Option(help="Generate its keys inside this PKCS#11 token (its label), not as files."),
    ] = None,
) -> None:
    """Record an authority and generate its first issuing key, its log key and its
    witness key."""
    with node_session() as (_, data_dir, session):
        authority = create_authority(
            session,
            data_dir.key_store(),
            code=code,
            name_zh=name_zh,
            name_en=name_en,
            token=token,
        )
        keys = keys_of(session, authority.code)
    console.print(f"created {authority.code} {authority.name_zh} ({authority.gb_code})")
    console.print(_keys_table(keys, f"keys of {authority.code}"))


@authority_app.command("list")
def authority_list() -> None:
    """List the authorities this node knows."""
    with node_session() as (_, _, session):
        authorities = list_authorities(session)
    table = Table(title="authorities")
    for column in ("code", "GB/T 2260", "name (zh)", "name (en)"):
        table.add_column(column)
    for authority in authorities:
        table.add_row(authority.code, authority.gb_code, authority.name_zh, authority.name_en)
    console.print(table)


@authority_app.command("export")
def authority_export(
    code: Annotated[str, typer.Argument(help="Authority code, e.g. CN-SH.")],
    out: Annotated[Path | None, typer.Option(help="Write here instead of stdout.")] = None,
) -> None:
    """Print an authority's trust-list member entry, for a federation it asks to join."""
    with node_session() as (settings, _, session):
        member = member_from_node(session, code, NodeProfile.from_settings(settings))
    write_json(out, member.to_json())
    if out is not None:
        console.print(f"wrote {member.code}'s member entry to {out}")


@key_app.command("list")
def key_list(
    code: Annotated[str | None, typer.Argument(help="Only this authority's keys.")] = None,
) -> None:
    """List signing keys with their validity windows and revocations."""
    with node_session() as (_, _, session):
        codes = (
            [get_authority(session, code).code]
            if code
            else [a.code for a in list_authorities(session)]
        )
        keys = [key for c in codes for key in keys_of(session, c)]
    console.print(_keys_table(keys, "signing keys"))


@key_app.command("rotate")
def key_rotate(
    *,
    code: Annotated[str, typer.Argument(help="Authority code, e.g. CN-SH.")],
    at: Annotated[
        str | None,
        typer.Option(help="When the new key starts and the old retires (ISO 8601; now)."),
    ] = None,
    types: Annotated[
        str | None,
        typer.Option(
            help=f"Comma-separated types the new key may sign (default: the old key's). "
            f"Known: {', '.join(ISSUING_TYPES)}."
        ),
    ] = None,
    token: TokenOption = None,
    label: LabelOption = None,
    existing: ExistingOption = False,
) -> None:
    """Start a new issuing key; the old one signs nothing from that time on."""
    allowed = [t.strip() for t in types.split(",") if t.strip()] if types is not None else None
    when = parse_aware(at, "--at") if at else None
    in_token = _in_token(token, label, existing)
    with node_session() as (_, data_dir, session):
        retired, new = rotate_key(
            session, data_dir.key_store(), code, at=when, allowed_types=allowed, in_token=in_token
        )
    for key in retired:
        console.print(
            f"retired {key.verification_method} from {key.valid_until:%Y-%m-%dT%H:%M:%SZ}"
        )
    console.print(f"new key {new.verification_method} from {new.valid_from:%Y-%m-%dT%H:%M:%SZ}")
    flags = " ".join(
        [f"--add-key {new.verification_method}"]
        + [f"--retire-key {key.verification_method}" for key in retired]
    )
    console.print(
        f"other members learn of it from the next trust list: registry trust propose {flags}"
    )


@key_app.command("node")
def key_node(
    code: Annotated[str, typer.Argument(help="The authority the key is held for, e.g. CN-SH.")],
    token: TokenOption = None,
    label: LabelOption = None,
    existing: ExistingOption = False,
) -> None:
    """Generate the key this node signs verification reports with (that type only)."""
    in_token = _in_token(token, label, existing)
    with node_session() as (_, data_dir, session):
        key = create_node_key(session, data_dir.key_store(), code, in_token=in_token)
    console.print(f"new node key {key.verification_method}")
    console.print(
        "reports count once the trust list lists it: "
        f"registry trust propose --add-key {key.verification_method}"
    )


@key_app.command("witness")
def key_witness(
    code: Annotated[str, typer.Argument(help="The authority the key is held for, e.g. CN-SH.")],
    token: TokenOption = None,
    label: LabelOption = None,
    existing: ExistingOption = False,
) -> None:
    """Generate the key with which this node cosigns other members' checkpoints as a
    witness, for an authority made before witnessing or to replace one."""
    in_token = _in_token(token, label, existing)
    with node_session() as (_, data_dir, session):
        key = create_witness_key(
            session, data_dir.key_store(), code.strip().upper(), in_token=in_token
        )
    console.print(f"new witness key {key.verification_method}")
    console.print(
        "checkpoints count it once the trust list lists it: "
        f"registry trust propose --set-witness {code.strip().upper()}"
    )


@key_app.command("revoke")
def key_revoke(
    key: Annotated[str, typer.Argument(help="Verification method, Multikey or key name.")],
    compromised_since: Annotated[
        str, typer.Option(help="From when the key is compromised (ISO 8601 with a zone).")
    ],
    reason: Annotated[str, typer.Option(help="Why, in a sentence.")],
) -> None:
    """Revoke a compromised key: whatever it signed at or after that time is invalid."""
    since = parse_aware(compromised_since, "--compromised-since")
    with node_session() as (_, _, session):
        revoked = revoke_key(session, key, compromised_since=since, reason=reason)
        others = [
            k
            for k in keys_of(session, revoked.authority_code or "")
            if k.purpose == revoked.purpose and k.compromised_since is None
        ]
    console.print(f"revoked {revoked.verification_method} from {since.isoformat()}")
    if not others:
        console.print(
            f"{revoked.authority_code} has no other {revoked.purpose} key: "
            f"registry key rotate {revoked.authority_code}"
        )
    console.print(
        "other members learn of it from the next trust list: "
        f"registry trust propose --revoke-key {revoked.verification_method}"
    )
