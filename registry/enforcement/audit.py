"""The access audit: who asked the registry about a person or an organisation, and
when: searches and checks of the untrustworthiness list, verifications of engineers
by ID number or by registration number, the disclosures an authority read to
hand to the people its records name, an authority's searches of its own
records by ID number, and the public pages' look-ups of an engineer by registration
number and name (under the node's own ``public pages`` token row, whose secret is
never made, with the role ``public``).

Each entry keeps the token, its role, the time, the action, how many rows were
asked about and how many were found (listings, or people the registry holds records
on), and the criteria as a keyed hash
(HMAC-SHA256 under the node secret of their canonical JSON, an ID number already
replaced by its lookup key): whoever holds the node secret and a credit code, name
or ID number can tell whether it was asked about; nobody can read the criteria
back. Rows are only ever added (the database refuses anything else).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, insert
from sqlmodel import Session, col, select

from registry.crypto.jcs import canonical_bytes
from registry.errors import InvalidInput
from registry.storage.models import AccessAudit, ApiToken
from registry.tokens import Caller

__all__ = [
    "ACTIONS",
    "AccessEntry",
    "access_trail",
    "add_accesses",
    "criteria_hash",
    "public_caller",
    "record_access",
]

ACTIONS = (
    "blacklist-search",
    "blacklist-check",
    "engineer-verification",
    "engineer-verification-batch",
    "disclosure",
    "records-search",
    "public-lookup",
)

PUBLIC_PAGES = "public pages"
"""The name of the token row the public pages' look-ups are recorded under."""
MAX_PAGE = 1000
_HEX64 = re.compile(r"^[0-9a-f]{64}$")


def public_caller(session: Session, *, now: datetime) -> Caller:
    """Who a look-up on the public pages is recorded as: the node's ``public pages``
    token row (made on first use; its secret is never made, so nobody can present it),
    with the role ``public``."""
    found = session.exec(
        select(ApiToken.id).where(col(ApiToken.name) == PUBLIC_PAGES).order_by(col(ApiToken.id))
    ).first()
    if found is None:
        row = ApiToken(
            token_hash=hashlib.sha256(secrets.token_bytes(32)).hexdigest(),
            role="verifier",  # what the row may be; never presented
            name=PUBLIC_PAGES,
            created_at=now,
        )
        session.add(row)
        session.flush()
        found = row.id
    if found is None:
        raise RuntimeError("the public pages' token row has no id")
    return Caller(found, PUBLIC_PAGES, "public")


def criteria_hash(criteria: Mapping[str, str], *, node_secret: bytes) -> str:
    """HMAC-SHA256 (hex) under the node secret of the criteria's canonical JSON."""
    return hmac.new(node_secret, canonical_bytes(dict(criteria)), hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class AccessEntry:
    """One entry of the access audit; ``criteria`` is its ``criteria_hash``."""

    caller: Caller
    action: str
    criteria: str
    rows: int
    results: int
    at: datetime

    def row(self) -> dict[str, object]:
        """The entry as a row of ``access_audit``; raises ``InvalidInput`` for an action
        the audit does not know."""
        if self.action not in ACTIONS:
            raise InvalidInput(f"no audited action {self.action}")
        return {
            "at": self.at,
            "token_id": self.caller.token_id,
            "role": self.caller.role,
            "action": self.action,
            "criteria_hash": self.criteria,
            "rows": self.rows,
            "results": self.results,
        }


def record_access(
    session: Session,
    caller: Caller,
    *,
    action: str,
    criteria: str,
    rows: int,
    results: int,
    now: datetime,
) -> None:
    """Add one entry in the session's transaction; ``criteria`` is its
    ``criteria_hash``. The caller commits."""
    add_accesses(session.connection(), [AccessEntry(caller, action, criteria, rows, results, now)])


def add_accesses(connection: Connection, entries: Sequence[AccessEntry]) -> None:
    """Add entries in one statement on ``connection`` (Core, no ORM session: a
    verification's entry costs a few microseconds this way). The caller commits."""
    rows = [entry.row() for entry in entries]
    if rows:
        connection.execute(insert(AccessAudit), rows)


def access_trail(
    session: Session,
    *,
    limit: int = 100,
    before: int | None = None,
    token_id: int | None = None,
    action: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    criteria: str | None = None,
) -> list[AccessAudit]:
    """Entries newest first, at most ``limit``; ``before`` an entry id to page on.
    Only those of ``token_id``, of ``action``, made at ``since`` or later and
    before ``until``, or whose criteria hash is ``criteria``, if given. Raises
    ``InvalidInput``."""
    if not 1 <= limit <= MAX_PAGE:
        raise InvalidInput(f"limit is between 1 and {MAX_PAGE}")
    if action is not None and action not in ACTIONS:
        raise InvalidInput(f"action is one of {', '.join(ACTIONS)}")
    if criteria is not None and not _HEX64.match(criteria):
        raise InvalidInput("a criteria hash is 64 lower-case hexadecimal characters")
    statement = select(AccessAudit).order_by(col(AccessAudit.id).desc()).limit(limit)
    if before is not None:
        statement = statement.where(col(AccessAudit.id) < before)
    if token_id is not None:
        statement = statement.where(col(AccessAudit.token_id) == token_id)
    if action is not None:
        statement = statement.where(col(AccessAudit.action) == action)
    if since is not None:
        statement = statement.where(col(AccessAudit.at) >= since)
    if until is not None:
        statement = statement.where(col(AccessAudit.at) < until)
    if criteria is not None:
        statement = statement.where(col(AccessAudit.criteria_hash) == criteria)
    return list(session.exec(statement))
