"""The demo federation that ``registry serve --demo`` seeds into an empty database."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlmodel import Session

from registry.authorities import create_authority
from registry.crypto.keys import KeyStore
from registry.storage.models import Authority

__all__ = ["DEMO_AUTHORITIES", "seed_demo"]

DEMO_AUTHORITIES: tuple[tuple[str, str, str], ...] = (
    ("CN-SH", "上海市应急管理局", "Shanghai Municipal Emergency Management Bureau"),
    ("CN-JS", "江苏省应急管理厅", "Jiangsu Provincial Department of Emergency Management"),
    ("CN-ZJ", "浙江省应急管理厅", "Zhejiang Provincial Department of Emergency Management"),
    ("CN-AH", "安徽省应急管理厅", "Anhui Provincial Department of Emergency Management"),
)


def seed_demo(session: Session, key_store: KeyStore, *, now: datetime | None = None) -> bool:
    """Seed the four founding authorities, with fresh keys, if no authority exists yet.

    Returns whether anything was seeded. The caller commits.
    """
    if session.scalar(select(func.count()).select_from(Authority)):
        return False
    for code, name_zh, name_en in DEMO_AUTHORITIES:
        create_authority(session, key_store, code=code, name_zh=name_zh, name_en=name_en, now=now)
    return True
