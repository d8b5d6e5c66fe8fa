"""The members this node does not host, as the trust list names them: the authority
row (``hosted`` false) and the public keys its mirrored records and checkpoints are
stored under (``registry.federation.mirror``).

No private key of a peer is ever here: the rows hold what the trust list publishes,
so that a peer's credentials and checkpoints refer to keys of the node's own record
of keys, as its own authorities' do.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlmodel import Session, col, select

from registry.authorities import NODE_TYPES
from registry.crypto.multikey import did_key_verification_method, encode_public_multikey
from registry.errors import Conflict
from registry.storage.models import Authority, ForkEvidenceRow, SigningKey
from registry.tlog.note import parse_verifier_key
from registry.trust.document import Member

__all__ = ["fork_evidence_of", "log_verification_method", "register_peer"]


def log_verification_method(member: Member) -> str:
    """The verification method a peer's log key is recorded under here: its
    ``did:key`` URL, as this node names the log keys it holds."""
    return did_key_verification_method(parse_verifier_key(member.log.verifier_key).public_key)


def register_peer(
    session: Session, member: Member, *, valid_from: datetime, now: datetime | None = None
) -> Authority:
    """Record a member this node does not host, with the keys the trust list gives it
    (its log key valid from ``valid_from``, the trust-list version's start). Keys
    already recorded are kept; a key the list adds later is added.

    Raises ``Conflict`` if the member is an authority this node hosts, or a key is
    recorded here as another authority's. The caller commits.
    """
    now = (now or datetime.now(UTC)).replace(microsecond=0)
    authority = session.get(Authority, member.code)
    if authority is None:
        authority = Authority(
            code=member.code,
            gb_code=member.gb_code,
            name_zh=member.name_zh,
            name_en=member.name_en,
            created_at=now,
            hosted=False,
        )
        session.add(authority)
        session.flush()
    elif authority.hosted:
        raise Conflict(f"{member.code} is hosted by this node: its log is not a mirror")
    log_key = parse_verifier_key(member.log.verifier_key).public_key
    wanted = [
        SigningKey(
            verification_method=key.verification_method,
            authority_code=member.code,
            purpose="node" if key.allowed_types <= frozenset(NODE_TYPES) else "issuing",
            public_key_multibase=key.public_key_multibase,
            allowed_types=sorted(key.allowed_types),
            valid_from=key.valid_from,
            valid_until=key.valid_until,
            compromised_since=key.compromised_since,
            revocation_reason=key.revocation_reason,
            created_at=now,
        )
        for key in member.keys
    ]
    wanted.append(
        SigningKey(
            verification_method=log_verification_method(member),
            authority_code=member.code,
            purpose="log",
            public_key_multibase=encode_public_multikey(log_key),
            allowed_types=[],
            valid_from=valid_from,
            created_at=now,
        )
    )
    for key in wanted:
        known = session.get(SigningKey, key.verification_method)
        if known is None:
            session.add(key)
        elif known.authority_code != member.code:
            raise Conflict(f"{key.verification_method} is recorded as {known.authority_code}'s")
        else:
            # A compromise the trust list reports later is recorded here too.
            known.valid_until = key.valid_until
            known.compromised_since = key.compromised_since
            known.revocation_reason = key.revocation_reason
            session.add(known)
    session.flush()
    return authority


def fork_evidence_of(session: Session, code: str) -> list[ForkEvidenceRow]:
    """The evidence kept that ``code``'s log forked, oldest first."""
    return list(
        session.exec(
            select(ForkEvidenceRow)
            .where(col(ForkEvidenceRow.authority_code) == code)
            .order_by(col(ForkEvidenceRow.id))
        )
    )
