"""What the authority's console shows of the trust list, the agreements and the
federation, shaped for its templates (the words are the templates')."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from registry.recognition.coverage import Agreement
from registry.storage.models import PeerLog
from registry.trust.document import Member

__all__ = ["PeerRow", "agreement_view", "member_view", "names_of", "peer_rows", "span"]

_TONES = {"current": "good", "behind": "warn", "unreachable": "bad", "forked": "bad"}


@dataclass(frozen=True)
class PeerRow:
    """A followed log at a glance: its state and colour, how far this node verified
    it, how far behind that is (entries; seconds since the origin last confirmed its
    tree), and the last error."""

    authority: str
    origin: str
    state: str
    tone: str
    verified_size: int
    peer_size: int | None
    behind_entries: int | None
    confirmed_at: datetime | None
    behind_seconds: int | None
    last_error: str | None
    updated_at: datetime


def peer_rows(peers: Iterable[PeerLog], *, now: datetime) -> list[PeerRow]:
    """Each followed log's row, forked and unreachable first (what needs a person
    soonest), then by authority: the same figures ``GET /v1/federation/status`` gives."""
    rows = [
        PeerRow(
            authority=peer.authority_code,
            origin=peer.origin,
            state=peer.state,
            tone=_TONES.get(peer.state, "bad"),
            verified_size=peer.tree_size,
            peer_size=peer.peer_size,
            behind_entries=(
                peer.peer_size - peer.tree_size if peer.peer_size is not None else None
            ),
            confirmed_at=peer.confirmed_at,
            behind_seconds=(
                int((now - peer.confirmed_at).total_seconds())
                if peer.confirmed_at is not None
                else None
            ),
            last_error=peer.last_error,
            updated_at=peer.updated_at,
        )
        for peer in peers
    ]
    order = {"forked": 0, "unreachable": 1, "behind": 2, "current": 3}
    return sorted(rows, key=lambda row: (order.get(row.state, 0), row.authority))


def span(seconds: int) -> tuple[str, int]:
    """A time span as people say it: (``minutes``, ``hours`` or ``days``, how many),
    rounded down, at least one minute."""
    if seconds < 3600:
        return "minutes", max(1, seconds // 60)
    if seconds < 86400:
        return "hours", seconds // 3600
    return "days", seconds // 86400


def agreement_view(agreement: Agreement) -> dict[str, Any]:
    """An agreement's terms: parties in code order, kinds, levels and categories sorted."""
    return {
        "id": agreement.id,
        "parties": sorted(agreement.parties),
        "direction": agreement.direction.value,
        "source": agreement.source,
        "target": agreement.target,
        "kinds": sorted(kind.value for kind in agreement.kinds),
        "levels": sorted(agreement.levels),
        "categories": (
            sorted(str(c) for c in agreement.categories)
            if agreement.categories is not None
            else None
        ),
        "valid_from": agreement.valid_from,
        "valid_until": agreement.valid_until,
        "terminated_on": agreement.terminated_on,
        "basis_number": agreement.basis_number,
        "basis_title": agreement.basis_title,
        "demonstration": agreement.demonstration,
    }


def member_view(member: Member, *, at: datetime) -> dict[str, Any]:
    """A trust-list member: names, node, log, witness and each issuing key with what
    it may sign and whether it may sign now (``valid``, ``retired``, ``revoked`` or
    ``future``)."""
    keys = []
    for key in member.keys:
        if key.compromised_since is not None:
            standing = "revoked"
        elif key.valid_from > at:
            standing = "future"
        elif key.valid_until is not None and key.valid_until <= at:
            standing = "retired"
        else:
            standing = "valid"
        keys.append(
            {
                "id": key.verification_method.rsplit("#", 1)[-1],
                "method": key.verification_method,
                "types": sorted(key.allowed_types),
                "valid_from": key.valid_from,
                "valid_until": key.valid_until,
                "compromised_since": key.compromised_since,
                "standing": standing,
            }
        )
    return {
        "code": member.code,
        "name_zh": member.name_zh,
        "name_en": member.name_en,
        "node_url": member.node_url,
        "log": member.log.origin,
        "witness": member.witness.name if member.witness is not None else None,
        "keys": keys,
    }


def names_of(authorities: Iterable[Any]) -> Mapping[str, tuple[str, str]]:
    """Each authority's (Chinese, English) name by code."""
    return {a.code: (a.name_zh, a.name_en) for a in authorities}
