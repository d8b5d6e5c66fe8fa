"""How current each log an answer relies on is, and the reason that says when it is not.

An answer rests on every log this node holds: on those its evidence draws from, and on
all of them for what it did not find (a listing or a registration signed since a
mirror was last confirmed is missing from it), so it names them all. A log this node
hosts is its own: its head and checkpoint are read in the answer's own snapshot, so
the node, as the log's origin, confirms it as it answers (``confirmed_at`` is the
answer's time; a snapshot of a replica is at most its bound behind the primary,
``registry.storage.replica``). A mirrored log is as current as the last time this
node confirmed it with its origin (``PeerLog.confirmed_at``: the follower sets it
whenever the origin's checkpoint proved consistent with the mirror). Where that is
longer ago than the node's bound (``Settings.federation_stale_seconds``), or never,
the answer says so in Chinese and English (``mirror-stale``): the reason informs and
does not decide, for the verdict is what the records held say; what it cannot say is
whether the origin signed anything since.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlmodel import Session, col

from registry.calendar import CHINA
from registry.recognition import Reason
from registry.storage.models import Authority, LogHead, PeerLog
from registry.tlog.proofs import Head
from registry.trust.witnesses import Witnessing
from registry.verification.judge import Said

__all__ = [
    "DEFAULT_STALE_AFTER",
    "MIRROR_STALE",
    "LogRelied",
    "logs_relied",
    "stale_reasons",
]

DEFAULT_STALE_AFTER = timedelta(seconds=600)
"""The bound a node uses unless its settings say otherwise."""

MIRROR_STALE = "mirror-stale"
"""The code of the reason a log relied on is not confirmed within the bound."""


@dataclass(frozen=True)
class LogRelied:
    """A log an answer relies on: whose, its origin, the tree the answer used, when this
    node last confirmed it with the origin (``None``: never) and whether that is within
    ``bound``."""

    authority: str
    name_zh: str
    name_en: str
    origin: str
    mirrored: bool
    size: int
    root: bytes
    confirmed_at: datetime | None
    bound: timedelta
    current: bool
    witnessing: Witnessing | None = None
    """Who cosigned the checkpoint the answer uses (``None``: not looked at)."""


# Each log's authority, its names, whether it is mirrored, its origin, and when this
# node last confirmed it with that origin (a hosted log has no peer_log row).
_LOGS = (
    sa.select(
        col(Authority.code),
        col(Authority.name_zh),
        col(Authority.name_en),
        col(Authority.hosted),
        col(LogHead.origin),
        col(PeerLog.confirmed_at),
    )
    .join(LogHead, col(LogHead.authority_code) == col(Authority.code))
    .outerjoin(PeerLog, col(PeerLog.authority_code) == col(Authority.code))
)


def logs_relied(
    session: Session,
    authorities: Iterable[str],
    heads: Mapping[str, Head],
    *,
    now: datetime,
    bound: timedelta,
) -> list[LogRelied]:
    """The logs of ``authorities`` as of ``heads`` (read in the answer's snapshot), by
    authority, each with when this node last confirmed it and whether that is within
    ``bound`` of ``now``. A log not in ``heads`` is left out: nothing is relied on in it."""
    now = now.replace(microsecond=0)
    wanted = sorted(set(authorities) & set(heads))
    if not wanted:
        return []
    found = session.connection().execute(_LOGS.where(col(Authority.code).in_(wanted))).all()
    logs: list[LogRelied] = []
    for code, name_zh, name_en, hosted, origin, confirmed in sorted(found):
        head = heads[code]
        # Whole seconds, as the report states it: a reader recomputes the same answer.
        if hosted:
            at: datetime | None = now
        else:
            at = confirmed.replace(microsecond=0) if confirmed is not None else None
        logs.append(
            LogRelied(
                authority=code,
                name_zh=name_zh,
                name_en=name_en,
                origin=origin,
                mirrored=not hosted,
                size=head.size,
                root=head.root,
                confirmed_at=at,
                bound=bound,
                current=at is not None and now - at <= bound,
            )
        )
    return logs


def _stale(log: LogRelied) -> Said:
    if log.confirmed_at is None:
        zh = f"本节点从未与{log.name_zh}核对其记录，依据其记录作出的判断可能与其现有记录不符"
        en = (
            f"this node has never confirmed {log.name_en}'s records with it: what rests "
            "on them may differ from the records it holds now"
        )
    else:
        when = log.confirmed_at.astimezone(CHINA).strftime("%Y-%m-%d %H:%M")
        zh = (
            f"{log.name_zh}的记录截至 {when}（北京时间），本节点此后未能与其核对；"
            "此后如有新签发、变更或撤销的记录，本次核验未能反映"
        )
        en = (
            f"{log.name_en}'s records are as of {when} China time (UTC+8); this node has "
            "not confirmed them with it since: a record it has issued, changed or revoked "
            "after that is not reflected here"
        )
    return Said(Reason(MIRROR_STALE, zh, en), False, decides=False)


def stale_reasons(logs: Iterable[LogRelied]) -> list[Said]:
    """One informing reason (``mirror-stale``) for each log not confirmed within its
    bound: it never decides the verdict."""
    return [_stale(log) for log in logs if not log.current]
