"""How far the other members witness one of this node's own logs: its newest
checkpoint, who cosigned it, and the largest tree the witness policy's number of
them cosigned (``registry.trust.witnesses``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Session, col, select

from registry.errors import RegistryError
from registry.federation.cosigning import cosigned_note
from registry.storage.models import LogCheckpoint, LogCosignature
from registry.trust.document import TrustListContent
from registry.trust.witnesses import required_cosignatures, witnessing

__all__ = ["LogWitnessing", "log_witnessing"]


@dataclass(frozen=True)
class LogWitnessing:
    """An own log's newest checkpoint (``size``, signed at ``signed_at``), the members
    whose witness cosigned it (code: time), how many the policy requires, the largest
    size that many cosigned (``None``: none yet), and why the cosignatures could not
    be read, if they could not."""

    authority: str
    size: int
    signed_at: datetime
    cosigners: dict[str, datetime] = field(default_factory=dict)
    required: int = 0
    witnessed_size: int | None = None
    problem: str | None = None

    @property
    def witnessed(self) -> bool:
        """Whether the newest checkpoint itself is witnessed."""
        return self.problem is None and len(self.cosigners) >= self.required


def log_witnessing(
    session: Session, authority: str, trust: TrustListContent | None
) -> LogWitnessing | None:
    """The witnessing of ``authority``'s log under ``trust`` (no trust list: nobody is
    named to witness it); ``None`` while the log has signed no checkpoint."""
    newest = session.exec(
        select(LogCheckpoint)
        .where(col(LogCheckpoint.authority_code) == authority)
        .order_by(col(LogCheckpoint.tree_size).desc())
        .limit(1)
    ).first()
    if newest is None:
        return None
    if trust is None or trust.member(authority) is None:
        return LogWitnessing(authority, newest.tree_size, newest.signed_at)
    required = required_cosignatures(trust, authority)
    try:
        found = witnessing(trust, authority, cosigned_note(session, newest))
    except RegistryError as exc:
        return LogWitnessing(
            authority, newest.tree_size, newest.signed_at, required=required, problem=exc.message
        )
    witnessed_size = session.exec(
        select(sa.func.max(LogCosignature.tree_size)).where(
            col(LogCosignature.tree_size).in_(
                select(LogCosignature.tree_size)
                .where(col(LogCosignature.authority_code) == authority)
                .group_by(col(LogCosignature.tree_size))
                .having(sa.func.count() >= required)
            ),
            col(LogCosignature.authority_code) == authority,
        )
    ).first()
    return LogWitnessing(
        authority,
        newest.tree_size,
        newest.signed_at,
        dict(found.cosigners),
        required,
        witnessed_size,
    )
