"""What a proposed trust-list version changes in the current one, item by item, so
that a person can read it before signing.

Each ``Difference`` has a stable ``kind`` (its words are the reader's, in their
language) and names the member, key or witness it is about:

- ``founder``: the genesis lists this member (no current version);
- ``member-joins`` / ``member-leaves``;
- ``key-added``; ``key-retired`` (a listed key gets or changes its last valid time);
  ``key-revoked`` (a key reported compromised, from ``at``); ``key-removed``;
- ``witness-added`` / ``witness-changed`` / ``witness-removed``;
- ``log-changed``, ``node-moved``, ``names-changed``;
- ``quorum-changed``, ``witness-policy-changed`` (``detail``: the new rule,
  ``majority`` or a number of members).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from registry.credentials.keys import KeyRecord
from registry.trust.document import Member, TrustListContent

__all__ = ["Difference", "differences"]


@dataclass(frozen=True)
class Difference:
    """One change a proposal makes: its kind, the member it is about, the key or
    witness named (``subject``), a time (``at``: a key's end or compromise) and, for a
    rule, the new rule (``detail``: ``majority`` or a number)."""

    kind: str
    member: str | None = None
    subject: str | None = None
    at: datetime | None = None
    detail: str | None = None


def _keys(before: Member, after: Member) -> list[Difference]:
    found = []
    old: dict[str, KeyRecord] = {k.verification_method: k for k in before.keys}
    new: dict[str, KeyRecord] = {k.verification_method: k for k in after.keys}
    for method, key in new.items():
        was = old.get(method)
        if was is None:
            found.append(Difference("key-added", after.code, method, key.valid_from))
        elif key.compromised_since is not None and key.compromised_since != was.compromised_since:
            found.append(Difference("key-revoked", after.code, method, key.compromised_since))
        elif key.valid_until is not None and key.valid_until != was.valid_until:
            found.append(Difference("key-retired", after.code, method, key.valid_until))
    found += [Difference("key-removed", after.code, method) for method in old if method not in new]
    return found


def _member(before: Member, after: Member) -> list[Difference]:
    found = _keys(before, after)
    if before.witness != after.witness:
        if before.witness is None and after.witness is not None:
            found.append(Difference("witness-added", after.code, after.witness.name))
        elif after.witness is None and before.witness is not None:
            found.append(Difference("witness-removed", after.code, before.witness.name))
        elif after.witness is not None:
            found.append(Difference("witness-changed", after.code, after.witness.name))
    if before.log != after.log:
        found.append(Difference("log-changed", after.code, after.log.origin))
    if before.node_url != after.node_url:
        found.append(Difference("node-moved", after.code, after.node_url))
    if (before.name_zh, before.name_en) != (after.name_zh, after.name_en):
        found.append(Difference("names-changed", after.code, after.name_zh))
    return found


def differences(
    current: TrustListContent | None, proposed: TrustListContent
) -> tuple[Difference, ...]:
    """What ``proposed`` changes in ``current`` (``None``: it is the genesis), members
    in the proposal's order, then those leaving, then the rules."""
    if current is None:
        return tuple(Difference("founder", m.code, m.name_zh) for m in proposed.members)
    found: list[Difference] = []
    for member in proposed.members:
        before = current.member(member.code)
        if before is None:
            found.append(Difference("member-joins", member.code, member.name_zh))
        else:
            found += _member(before, member)
    found += [
        Difference("member-leaves", m.code, m.name_zh)
        for m in current.members
        if proposed.member(m.code) is None
    ]
    if current.quorum != proposed.quorum:
        count = proposed.quorum.count
        found.append(Difference("quorum-changed", detail=str(count or "majority")))
    if current.witness_policy != proposed.witness_policy:
        count = proposed.witnessing.count
        found.append(Difference("witness-policy-changed", detail=str(count or "majority")))
    return tuple(found)
