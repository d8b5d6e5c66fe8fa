"""Whether a checkpoint is witnessed, as the trust list decides it.

A member's checkpoint is *witnessed* once the witness policy's number of the other
members' witnesses (each under the C2SP verifier key the trust list names for it)
have cosigned that very checkpoint (c2sp.org/tlog-cosignature). Each cosignature
carries its witness's time, so a witnessed checkpoint also proves when its tree
existed: no later than the time by which the policy's number had cosigned it (the
policy-th earliest cosignature, ``Witnessing.witnessed_at``). That, not the log's
own word, is what the key-compromise rule judges by.

The log's own lines aside, lines by keys the trust list does not name as another
member's witness (a key since replaced, anybody's) are not counted and are named
(``Witnessing.unknown``); a named witness's line that does not verify raises.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from registry.tlog.checkpoint import signature_ids, witness_cosignatures
from registry.tlog.note import parse_witness_key
from registry.trust.document import Member, TrustListContent, WitnessEntry

__all__ = ["Witnessing", "other_witnesses", "required_cosignatures", "witnessing"]


@dataclass(frozen=True)
class Witnessing:
    """Who cosigned a checkpoint of ``authority``'s log (member code: time), how many
    the policy requires, and the names of cosignature lines that count for nothing."""

    authority: str
    cosigners: dict[str, datetime]
    required: int
    unknown: tuple[str, ...] = ()

    @property
    def witnessed(self) -> bool:
        """Whether the policy's number of the other members cosigned it."""
        return len(self.cosigners) >= self.required

    @property
    def witnessed_at(self) -> datetime | None:
        """When the policy's number had cosigned it (``None``: not witnessed)."""
        if not self.witnessed:
            return None
        return sorted(self.cosigners.values())[self.required - 1]

    def describe(self) -> str:
        """``2 of 2 cosignatures (CN-JS, CN-ZJ)``, and any line that counts for nothing."""
        names = ", ".join(sorted(self.cosigners)) or "none"
        text = f"{len(self.cosigners)} of {self.required} cosignatures ({names})"
        if self.unknown:
            unknown = ", ".join(self.unknown)
            text += f"; not counted, by keys the trust list does not name: {unknown}"
        return text


def other_witnesses(trust: TrustListContent, authority: str) -> list[tuple[Member, WitnessEntry]]:
    """The members other than ``authority`` that name a witness, each with it."""
    return [(m, m.witness) for m in trust.members if m.code != authority and m.witness]


def witnessing(trust: TrustListContent, authority: str, note: str) -> Witnessing:
    """Which of the other members' witnesses cosigned ``note`` (a checkpoint of
    ``authority``'s log, with its cosignature lines), and how many the policy needs.

    Raises ``SignatureMismatch`` if a named witness's line does not verify, and
    ``LogProofError`` for a malformed note. The log's own signature is not checked
    here (``open_note`` does that)."""
    members = other_witnesses(trust, authority)
    keys = [parse_witness_key(witness.verifier_key) for _, witness in members]
    codes = {witness.name: member.code for member, witness in members}
    found = witness_cosignatures(note, keys)
    known = {(k.name, k.key_id) for k in keys}
    member = trust.member(authority)
    own = member.log.origin if member is not None else None
    unknown = tuple(
        name for name, key_id in signature_ids(note) if name != own and (name, key_id) not in known
    )
    return Witnessing(
        authority=authority,
        cosigners={codes[name]: datetime.fromtimestamp(t, UTC) for name, t in found.items()},
        required=required_cosignatures(trust, authority),
        unknown=unknown,
    )


def required_cosignatures(trust: TrustListContent, authority: str) -> int:
    """How many of the other members' witnesses must cosign ``authority``'s checkpoint."""
    return trust.witnessing.required(len([m for m in trust.members if m.code != authority]))
