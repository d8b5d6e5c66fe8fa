"""What ``registry serve --demo`` does before it serves: seed an empty node with the
demo federation, its records and a token per role, then print what to try first."""

from __future__ import annotations

import json

from rich.console import Console
from rich.table import Table
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from registry.accounts import create_user, list_users
from registry.authorities import keys_of, list_authorities
from registry.credentials import CredentialType
from registry.datadir import DataDir
from registry.demo.federation import seed_demo, seed_demo_tokens
from registry.demo.records import DEMO_ENGINEERS, seed_demo_records
from registry.issuing import IssuingContext
from registry.settings import Settings
from registry.storage.db import begin_exclusive, session_scope
from registry.storage.models import Record
from registry.trust.store import NodeProfile, stored_versions

__all__ = ["DEMO_TOKENS_FILE", "DEMO_USERS_FILE", "print_demo", "seed_demo_users", "seed_node"]

DEMO_TOKENS_FILE = "demo-tokens.json"
"""Where the demo's tokens are kept, among the data directory's secrets."""

DEMO_USERS_FILE = "demo-users.json"
"""Where the demo's accounts and their passwords are kept, among the secrets."""

_SEEDING = 0x5945_4544  # the lock that seeding nodes on one database take in turn


def _demo_people() -> list[dict[str, str]]:
    """One account per role: an official of Shanghai, an employer's HR clerk (the
    company that employs a demo engineer), an inspector and an administrator."""
    employer = next(e.employer for e in DEMO_ENGINEERS if e.employer is not None)
    return [
        {"username": "sh.official", "role": "issuer:CN-SH", "name": "上海市应急管理局 李明"},
        {
            "username": "hr.demo",
            "role": "verifier",
            "name": "人事 王芳",
            "company_code": employer[1],
            "company_name": employer[0],
        },
        {"username": "inspector", "role": "enforcement", "name": "执法人员 张伟"},
        {"username": "admin", "role": "admin", "name": "系统管理员"},
    ]


def seed_demo_users(session: Session) -> dict[str, dict[str, str]]:
    """An account per role with a password made now, if the node has no account yet;
    returns them (role -> user name, password). Only their hashes are kept."""
    if list_users(session):
        return {}
    made = {}
    for person in _demo_people():
        user, password = create_user(
            session,
            person["username"],
            role=person["role"],
            display_name=person["name"],
            company_code=person.get("company_code"),
            company_name=person.get("company_name"),
        )
        made[user.role] = {"username": user.username, "password": password}
    return made


def seed_node(settings: Settings, engine: Engine, data_dir: DataDir) -> bool:
    """Seed what the demo lacks (authorities, trust list, agreements, records, tokens)
    and save new tokens owner-only; returns whether anything was seeded.

    Servers started together on one database seed it one at a time: each looks for
    what is missing only once the one before has committed, so none inserts what
    another has just inserted (an account of the same name, say) and fails to start."""
    with session_scope(engine) as session:
        begin_exclusive(session, _SEEDING)
        seeded = seed_demo(
            session, data_dir.key_store(), profile=NodeProfile.from_settings(settings)
        )
        seeded = seed_demo_records(session, IssuingContext.for_node(settings)) or seeded
        tokens = seed_demo_tokens(session)
        if tokens:
            data_dir.write_private(DEMO_TOKENS_FILE, json.dumps(tokens, indent=2) + "\n")
        users = seed_demo_users(session)
        if users:
            text = json.dumps(users, indent=2, ensure_ascii=False) + "\n"
            data_dir.write_private(DEMO_USERS_FILE, text)
    return seeded


def print_demo(console: Console, engine: Engine, data_dir: DataDir, *, base_url: str) -> None:
    """Print the demo's tokens, authorities, genesis digest and first requests to try."""
    _print_tokens(console, data_dir)
    _print_users(console, data_dir, base_url)
    table = Table(title="Demo federation", show_lines=False)
    table.add_column("authority")
    table.add_column("issuing key")
    with session_scope(engine) as session:
        for authority in list_authorities(session):
            issuing = [k for k in keys_of(session, authority.code) if k.purpose == "issuing"]
            table.add_row(
                f"{authority.code} {authority.name_zh}",
                issuing[-1].public_key_multibase if issuing else "-",
            )
        genesis = stored_versions(session)[:1]
        certificate = session.exec(
            select(Record.credential_id)
            .where(
                col(Record.authority_code) == "CN-SH",
                col(Record.type) == CredentialType.QUALIFICATION,
            )
            .order_by(col(Record.credential_id))
            .limit(1)
        ).first()
    console.print(table)
    if genesis:
        console.print(f"Genesis trust list digest (pin it): {genesis[0].digest}")
    console.print(f"Web pages:       {base_url}/   (sign in with a demo user above)")
    console.print(f"API docs:        {base_url}/docs")
    console.print(
        f"Verify:          curl -X POST {base_url}/v1/verify/engineer "
        '-H "Authorization: Bearer <verifier token>" -H "Content-Type: application/json" '
        # By registration number and name: no ID number in the server's output.
        f'-d \'{{"registration_number": "SH-REG-1002", '
        f'"name": "{DEMO_ENGINEERS[1].name}", "region": "CN-SH"}}\''
    )
    console.print(
        "                 the same with "
        '\'{"registration_number": "ZJ-REG-1010", "name": "黄磊", "region": "CN-ZJ"}\''
        " (a renewal that stands, its hours as information), "
        '\'{"registration_number": "ZJ-REG-1006", "name": "赵强", "region": "CN-ZJ"}\''
        " (reported with a listing that names him), or "
        '\'"employer": "<credit code>"\' added (registered to that employer or not)'
    )
    if certificate is not None:
        console.print(
            f'Certificate:     curl -H "Authorization: Bearer <issuer:CN-SH token>" '
            f"{base_url}/v1/credentials/{certificate}/disclosures"
            "   # the holder's disclosure and QR text, to print on their certificate"
        )
    if genesis:
        console.print(
            f"Offline:         curl {base_url}/v1/trust-list/chain > chain.json; "
            "registry verify report.json --trust-list chain.json "
            f"--genesis {genesis[0].digest} --demo"
        )
    console.print(f"Try:             curl {base_url}/v1/trust-list")
    console.print(f"                 curl {base_url}/v1/authorities")
    console.print(f"Health:          curl {base_url}/healthz")
    console.print(f"Readiness:       curl {base_url}/readyz")


_TRY_FIRST = {
    "issuer": "/console/import: import a spreadsheet, act on a record, sign a proposal",
    "verifier": "/desk/verify: verify an engineer; /desk/verify-list: a list",
    "enforcement": "/inspect/search: search the list (try 矿业), follow a company",
    "admin": "/admin/users: users, tokens, the access audit, health",
}
"""What each demo account's desk offers first, printed beside it."""


def _print_users(console: Console, data_dir: DataDir, base_url: str) -> None:
    saved = data_dir.read_private(DEMO_USERS_FILE)
    if saved is None:
        console.print("Demo users: none saved here; make one with `registry user create`")
        return
    table = Table(
        title=f"Demo users: sign in at {base_url}/sign-in "
        f"(also in {data_dir.root / 'secrets' / DEMO_USERS_FILE})"
    )
    for column in ("role", "user", "password", "try first"):
        table.add_column(column)
    for role, user in json.loads(saved).items():
        kind = "issuer" if role.startswith("issuer:") else role
        table.add_row(role, user["username"], user["password"], _TRY_FIRST.get(kind, ""))
    console.print(table)


def _print_tokens(console: Console, data_dir: DataDir) -> None:
    saved = data_dir.read_private(DEMO_TOKENS_FILE)
    if saved is None:
        console.print("Demo tokens: none saved here; make one with `registry token create`")
        return
    table = Table(title=f"Demo tokens (also in {data_dir.root / 'secrets' / DEMO_TOKENS_FILE})")
    table.add_column("role")
    table.add_column("token")
    for role, token in json.loads(saved).items():
        table.add_row(role, token)
    console.print(table)
