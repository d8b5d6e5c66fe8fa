"""The demo federation that ``registry serve --demo`` seeds into an empty database:
the four founding authorities and a genesis trust list signed by all four."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlmodel import Session

from registry.authorities import create_authority, create_node_key
from registry.crypto.keys import KeyStore
from registry.storage.models import ApiToken, Authority, TrustListProposal
from registry.tokens import create_token
from registry.trust.proposals import seed_genesis
from registry.trust.store import NodeProfile

__all__ = [
    "DEMO_AUTHORITIES",
    "DEMO_NODE_AUTHORITY",
    "DEMO_ROLES",
    "seed_demo",
    "seed_demo_tokens",
]

DEMO_AUTHORITIES: tuple[tuple[str, str, str], ...] = (
    ("CN-SH", "上海市应急管理局", "Shanghai Municipal Emergency Management Bureau"),
    ("CN-JS", "江苏省应急管理厅", "Jiangsu Provincial Department of Emergency Management"),
    ("CN-ZJ", "浙江省应急管理厅", "Zhejiang Provincial Department of Emergency Management"),
    ("CN-AH", "安徽省应急管理厅", "Anhui Provincial Department of Emergency Management"),
)

DEMO_NODE_AUTHORITY = "CN-SH"
"""The authority the demo node's report-signing key is held for."""


def seed_demo(
    session: Session,
    key_store: KeyStore,
    *,
    profile: NodeProfile,
    now: datetime | None = None,
) -> bool:
    """Seed the four founding authorities, with fresh keys, the node's report key, and
    their genesis trust list.

    Authorities only into an empty database; the genesis only where no trust-list
    proposal was ever made. Nothing is seeded twice.
    Returns whether anything was seeded. The caller commits.
    """
    seeded = False
    if not session.scalar(select(func.count()).select_from(Authority)):
        for code, name_zh, name_en in DEMO_AUTHORITIES:
            create_authority(
                session, key_store, code=code, name_zh=name_zh, name_en=name_en, now=now
            )
        # The node signs its verification reports with a key held for Shanghai,
        # listed in the genesis like the authorities' issuing keys.
        create_node_key(session, key_store, DEMO_NODE_AUTHORITY, now=now)
        seeded = True
    # A demo database from before the trust list existed gets its genesis too, but
    # never a second one, and never over a proposal someone started.
    codes = [code for code, _, _ in DEMO_AUTHORITIES]
    untouched = not session.scalar(select(func.count()).select_from(TrustListProposal))
    if untouched and all(session.get(Authority, code) for code in codes):
        seed_genesis(session, key_store, profile=profile, founders=codes, now=now)
        seeded = True
    return seeded


DEMO_ROLES: tuple[str, ...] = (
    *(f"issuer:{code}" for code, _, _ in DEMO_AUTHORITIES),
    "verifier",
    "enforcement",
    "federation",
    "admin",
)
"""One demo token per role."""


def seed_demo_tokens(session: Session, *, now: datetime | None = None) -> dict[str, str]:
    """A token per demo role, if no token exists yet; returns them (role -> token).

    The database keeps only their hashes: the caller shows or saves them now.
    """
    if session.scalar(select(func.count()).select_from(ApiToken)):
        return {}
    return {
        role: create_token(session, role, name=f"demo {role}", now=now)[1] for role in DEMO_ROLES
    }
