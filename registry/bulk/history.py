"""The console's import history: the authority's receipts (its finished imports and API
batches) beside the person's own imports not finished (being checked, rejected, waiting
for confirmation, running, failed), newest first, a page at a time."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, literal, union_all
from sqlmodel import Session, col, select

from registry.storage.models import Receipt, StagedImport

__all__ = ["HistoryEntry", "import_history"]

SOURCES = ("receipt", "staged")


@dataclass(frozen=True)
class HistoryEntry:
    """One line of the history: a receipt, or an import not finished."""

    created_at: datetime
    receipt: Receipt | None = None
    staged: StagedImport | None = None


def import_history(
    session: Session, *, authority: str, user_id: int, limit: int = 20, offset: int = 0
) -> tuple[list[HistoryEntry], int]:
    """A page of the history of ``authority`` as the person ``user_id`` sees it, and how
    many lines it has in all. An import once done is its receipt; another person's
    unfinished import is theirs alone, and not listed."""
    lines = union_all(
        select(
            col(Receipt.id).label("id"),
            col(Receipt.created_at).label("created_at"),
            literal("receipt").label("source"),
        ).where(col(Receipt.authority_code) == authority),
        select(
            col(StagedImport.id).label("id"),
            col(StagedImport.created_at).label("created_at"),
            literal("staged").label("source"),
        )
        .where(col(StagedImport.authority_code) == authority)
        .where(col(StagedImport.user_id) == user_id)
        .where(col(StagedImport.state) != "done"),
    ).subquery()
    total = session.scalar(select(func.count()).select_from(lines)) or 0
    chosen = session.execute(
        select(lines.c.id, lines.c.source)
        .order_by(lines.c.created_at.desc(), lines.c.id.desc())
        .offset(offset)
        .limit(limit)
    ).all()
    wanted = {source: [i for i, kind in chosen if kind == source] for source in SOURCES}
    receipts = {
        r.id: r for r in session.exec(select(Receipt).where(col(Receipt.id).in_(wanted["receipt"])))
    }
    staged = {
        s.id: s
        for s in session.exec(
            select(StagedImport).where(col(StagedImport.id).in_(wanted["staged"]))
        )
    }
    entries = [
        HistoryEntry(receipts[i].created_at, receipt=receipts[i])
        if source == "receipt"
        else HistoryEntry(staged[i].created_at, staged=staged[i])
        for i, source in chosen
    ]
    return entries, int(total)
