"""Proposing the next trust-list version, gathering members' proofs, and publishing it.

A proposal is the draft of the next version, kept in the database while members
add their proofs. Publishing verifies it exactly as any outside verifier would
(``verify_version``) and stores it as signed.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from registry.authorities import find_key, held_signer, hosted_codes, record_of
from registry.credentials import CredentialType
from registry.credentials.keys import KeyRecord
from registry.crypto.eddsa_jcs_2022 import add_proof, proofs_of, with_proofs
from registry.crypto.jcs import canonical_bytes
from registry.crypto.keys import KeyStore
from registry.errors import Conflict, InvalidInput, NotFound, TrustListError
from registry.storage.models import TrustListProposal
from registry.text import check_text
from registry.trust.chain import (
    QuorumReport,
    TrustListVersion,
    quorum_report,
    union_of_proofs,
    verify_version,
)
from registry.trust.document import (
    Member,
    Quorum,
    TrustListContent,
    WitnessPolicy,
    digest_of,
    parse_member,
    parse_trust_list,
)
from registry.trust.store import NodeProfile, current_version, member_from_node, store_version

__all__ = [
    "Changes",
    "merge_proofs",
    "open_proposal",
    "proposal_document",
    "proposal_report",
    "propose",
    "publish",
    "seed_genesis",
    "sign_document",
    "sign_proposal",
    "withdraw",
]


@dataclass(frozen=True)
class Changes:
    """What a proposal changes in the current version (or, for a genesis, who founds it).

    Keys are named by verification method; their new window or revocation is taken
    from this node's record, so ``registry key rotate`` or ``registry key revoke``
    comes first. ``founders`` applies to a genesis only (default: every authority
    the node knows). ``set_witnesses`` names members hosted here that list (or
    change) their witness key, the newest this node holds for each;
    ``witness_policy`` sets how many of the other members must cosign a checkpoint.
    """

    founders: tuple[str, ...] = ()
    add_members: tuple[str, ...] = ()
    add_member_entries: tuple[Mapping[str, Any], ...] = ()
    remove_members: tuple[str, ...] = ()
    add_keys: tuple[str, ...] = ()
    retire_keys: tuple[str, ...] = ()
    revoke_keys: tuple[str, ...] = ()
    set_witnesses: tuple[str, ...] = ()
    quorum: Quorum | None = None
    witness_policy: WitnessPolicy | None = None
    valid_from: datetime | None = None


def open_proposal(session: Session, *, for_update: bool = False) -> TrustListProposal:
    """The proposal being signed; raises ``NotFound`` if none is open.

    ``for_update`` locks its row until the transaction ends (PostgreSQL; SQLite has
    one writer anyway), so two members signing at once both keep their proof.
    """
    query = select(TrustListProposal).where(col(TrustListProposal.state) == "open")
    if for_update:
        query = query.with_for_update()
    row = session.exec(query).first()
    if row is None:
        raise NotFound("no proposal is open: start one with `registry trust propose`")
    return row


def proposal_document(row: TrustListProposal) -> dict[str, Any]:
    """The proposal's document, with the proofs gathered so far."""
    value = json.loads(row.document)
    if not isinstance(value, dict):
        raise TrustListError("a stored proposal is not a JSON object")
    return value


def proposal_report(
    session: Session, row: TrustListProposal, *, at: datetime | None = None
) -> QuorumReport:
    """Who has signed the proposal so far, who is missing, and how many are needed."""
    at = at or datetime.now(UTC)
    current = current_version(session, at=at)
    return quorum_report(proposal_document(row), previous=current, at=at)


def _genesis(
    session: Session, changes: Changes, *, profile: NodeProfile, valid_from: datetime
) -> TrustListContent:
    founders = changes.founders or tuple(hosted_codes(session))
    members = [member_from_node(session, code, profile) for code in founders]
    members += [parse_member(entry) for entry in changes.add_member_entries]
    return TrustListContent(
        version=1,
        previous=None,
        valid_from=valid_from,
        quorum=changes.quorum or Quorum(),
        members=tuple(members),
        witness_policy=changes.witness_policy,
    )


def _set_witnesses(
    session: Session, by_code: dict[str, Member], changes: Changes, profile: NodeProfile
) -> None:
    """Each member named takes the witness key this node holds for it (its newest)."""
    for code in changes.set_witnesses:
        member = by_code.get(code)
        if member is None:
            raise InvalidInput(f"{code} is not a member")
        if code not in hosted_codes(session):
            raise InvalidInput(f"{code} is not hosted here: its own node proposes its witness")
        witness = member_from_node(session, code, profile).witness
        if witness is None:
            raise InvalidInput(f"{code} has no witness key here: run `registry key witness {code}`")
        if witness == member.witness:
            raise InvalidInput(f"{code}'s witness key is listed already")
        by_code[code] = dataclasses.replace(member, witness=witness)


def _members_after(
    session: Session, previous: TrustListContent, changes: Changes, profile: NodeProfile
) -> dict[str, Member]:
    by_code = {m.code: m for m in previous.members}
    for code in changes.remove_members:
        if by_code.pop(code, None) is None:
            raise InvalidInput(f"{code} is not a member of version {previous.version}")
    joining = [member_from_node(session, c, profile) for c in changes.add_members]
    joining += [_checked(parse_member(entry)) for entry in changes.add_member_entries]
    for member in joining:
        if member.code in by_code:
            raise InvalidInput(f"{member.code} is a member already")
        by_code[member.code] = member
    return by_code


def _checked(member: Member) -> Member:
    """A joining member's entry, its names and node URL held to what the node's own
    inputs may hold (``registry.text``); a published version is read as signed."""
    return dataclasses.replace(
        member,
        name_zh=check_text(member.name_zh, "organisation", field=f"{member.code} name.zh"),
        name_en=check_text(member.name_en, "organisation", field=f"{member.code} name.en"),
        node_url=check_text(member.node_url, "printable", field=f"{member.code} nodeUrl"),
    )


def _change_keys(
    session: Session, previous: TrustListContent, by_code: dict[str, Member], changes: Changes
) -> None:
    for method in changes.add_keys:
        record = record_of(find_key(session, method))
        holder = by_code.get(record.authority)
        if holder is None:
            raise InvalidInput(f"{method} belongs to {record.authority}, not a member")
        if previous.key(method) is not None:
            raise InvalidInput(f"{method} is listed already")
        by_code[holder.code] = dataclasses.replace(holder, keys=(*holder.keys, record))
    for method in changes.retire_keys:
        listed, known = _listed(previous, session, method)
        if known.valid_until is None:
            raise InvalidInput(f"{method} is not retired here: run `registry key rotate` first")
        if listed.valid_until is not None and listed.valid_until <= known.valid_until:
            raise InvalidInput(f"{method} is retired already; a key's window only ever shrinks")
        _replace_key(by_code, dataclasses.replace(listed, valid_until=known.valid_until))
    for method in changes.revoke_keys:
        listed, known = _listed(previous, session, method)
        if known.compromised_since is None:
            raise InvalidInput(f"{method} is not revoked here: run `registry key revoke` first")
        since = listed.compromised_since
        if since is not None and since <= known.compromised_since:
            raise InvalidInput(f"{method} is revoked already from that time or earlier")
        revoked = dataclasses.replace(
            listed,
            compromised_since=known.compromised_since,
            revocation_reason=known.revocation_reason,
        )
        _replace_key(by_code, revoked)


def _replace_key(by_code: dict[str, Member], key: KeyRecord) -> None:
    member = by_code.get(key.authority)
    if member is None:
        raise InvalidInput(f"{key.verification_method} belongs to a member being removed")
    method = key.verification_method
    keys = tuple(key if k.verification_method == method else k for k in member.keys)
    by_code[key.authority] = dataclasses.replace(member, keys=keys)


def _apply(
    session: Session,
    current: TrustListVersion | None,
    changes: Changes,
    *,
    profile: NodeProfile,
    now: datetime,
) -> TrustListContent:
    valid_from = changes.valid_from or now
    if current is None:
        return _genesis(session, changes, profile=profile, valid_from=valid_from)
    if changes.founders:
        raise InvalidInput("founders are named for a genesis only; use --add-member")
    previous = current.content
    by_code = _members_after(session, previous, changes, profile)
    _change_keys(session, previous, by_code, changes)
    _set_witnesses(session, by_code, changes, profile)
    members = tuple(by_code.values())
    quorum = changes.quorum or previous.quorum
    policy = changes.witness_policy or previous.witness_policy
    if (members, quorum, policy) == (previous.members, previous.quorum, previous.witness_policy):
        raise InvalidInput("the proposal changes nothing")
    if changes.valid_from is None:
        valid_from = max(now, previous.valid_from)
    elif valid_from < previous.valid_from:
        raise InvalidInput("a version cannot be valid from before the one it follows")
    return TrustListContent(
        version=previous.version + 1,
        previous=current.digest,
        valid_from=valid_from,
        quorum=quorum,
        members=members,
        witness_policy=policy,
    )


def _listed(
    previous: TrustListContent, session: Session, method: str
) -> tuple[KeyRecord, KeyRecord]:
    listed = previous.key(method)
    if listed is None:
        raise InvalidInput(f"{method} is not listed in version {previous.version}")
    return listed, record_of(find_key(session, method))


def propose(
    session: Session,
    changes: Changes,
    *,
    profile: NodeProfile,
    now: datetime | None = None,
) -> TrustListProposal:
    """Draft the next version (the genesis if none exists) and open it for signatures.

    Raises ``Conflict`` while another proposal is open, ``InvalidInput`` for a
    change that does not apply. The caller commits.
    """
    now = now or datetime.now(UTC)
    if session.exec(
        select(TrustListProposal).where(col(TrustListProposal.state) == "open")
    ).first():
        raise Conflict("a proposal is open already: publish or withdraw it first")
    content = _apply(session, current_version(session, at=now), changes, profile=profile, now=now)
    row = TrustListProposal(
        version=content.version,
        state="open",
        document=canonical_bytes(content.to_document()).decode("utf-8"),
        created_at=now,
        updated_at=now,
    )
    session.add(row)
    try:
        session.flush()
    except IntegrityError as exc:
        raise Conflict("a proposal was opened meanwhile: publish or withdraw it first") from exc
    return row


def sign_document(
    session: Session,
    key_store: KeyStore,
    document: Mapping[str, Any],
    code: str,
    *,
    now: datetime | None = None,
) -> tuple[dict[str, Any], QuorumReport]:
    """Add ``code``'s proof to a proposed version, with a key this node holds for it.

    ``document`` must propose the version after this node's current one (or a
    genesis, on a node without a trust list). The key must be one the electorate
    (the current version, or the genesis itself) lists as valid for signing
    ``TrustList`` now. Returns the signed document and its tally. Raises
    ``InvalidInput`` (not the next version, not a member, no usable key) or
    ``Conflict`` (already signed). Writes nothing.
    """
    now = now or datetime.now(UTC)
    content = parse_trust_list(document)
    current = current_version(session, at=now)
    expected = (current.version + 1, current.digest) if current else (1, None)
    if (content.version, content.previous) != expected:
        here = f"version {current.version}" if current else "no trust list"
        raise InvalidInput(
            f"the proposal is for version {content.version}, but this node has {here}: "
            "import the versions it lacks first"
        )
    electorate = current.content if current else content
    member = electorate.member(code)
    if member is None:
        raise InvalidInput(f"{code} is not a member of the version that signs this proposal")
    if code in quorum_report(document, previous=current, at=now).signers:
        raise Conflict(f"{code} has signed this proposal already")
    held = held_signer(
        session,
        key_store,
        # Listed by the electorate, and valid under the proposal too if it lists it.
        directory=electorate.key,
        also_valid_in=[content.key],
        credential_type=CredentialType.TRUST_LIST,
        at=now,
        authority=code,
    )
    if held is None:
        raise InvalidInput(
            f"this node holds no key of {code} that is valid now for signing "
            f"{CredentialType.TRUST_LIST}"
        )
    signed = add_proof(document, held.signer, created=now)
    report = quorum_report(signed, previous=current, at=now)
    if not report.proofs[-1].counted:
        # Stored, a proof that does not count would keep the proposal from publishing.
        raise InvalidInput(f"{code}'s proof would not count: {report.proofs[-1].note}")
    return signed, report


def _save(
    session: Session, row: TrustListProposal, document: Mapping[str, Any], *, now: datetime
) -> None:
    # Written only if nobody changed the proposal since it was read: PostgreSQL's row
    # lock already serialises signers, but SQLite reads before it takes its write
    # lock, so a concurrent signature would otherwise be overwritten and lost.
    before = row.document
    after = canonical_bytes(document).decode("utf-8")
    result = session.execute(
        update(TrustListProposal)
        .where(col(TrustListProposal.id) == row.id, col(TrustListProposal.document) == before)
        .values(document=after, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    if getattr(result, "rowcount", 1) != 1:
        raise Conflict("the proposal changed while it was being signed: sign again")
    session.expire(row)


def sign_proposal(
    session: Session, key_store: KeyStore, code: str, *, now: datetime | None = None
) -> QuorumReport:
    """Add ``code``'s proof to the open proposal (see ``sign_document``).

    Returns the new tally. Raises ``NotFound`` if no proposal is open, ``Conflict``
    if it changed meanwhile, and what ``sign_document`` raises. The caller commits.
    """
    now = now or datetime.now(UTC)
    row = open_proposal(session, for_update=True)
    signed, report = sign_document(session, key_store, proposal_document(row), code, now=now)
    _save(session, row, signed, now=now)
    return report


def merge_proofs(
    session: Session, document: Mapping[str, Any], *, now: datetime | None = None
) -> QuorumReport:
    """Add to the open proposal the proofs from a copy signed elsewhere that count.

    The copy must propose the same version (same digest). Of the proofs of both,
    only those that count together are kept, so the proposal stays publishable.
    Returns the new tally. Raises ``NotFound``, ``InvalidInput`` for a copy of
    another proposal, ``Conflict`` if it changed meanwhile. The caller commits.
    """
    now = now or datetime.now(UTC)
    row = open_proposal(session, for_update=True)
    mine = proposal_document(row)
    if digest_of(document) != digest_of(mine):
        raise InvalidInput("the file proposes something else than the open proposal")
    current = current_version(session, at=now)
    combined = with_proofs(mine, union_of_proofs(mine, document))
    report = quorum_report(combined, previous=current, at=now)
    kept = [proofs_of(combined)[p.index - 1] for p in report.proofs if p.counted]
    combined = with_proofs(mine, kept)
    _save(session, row, combined, now=now)
    return quorum_report(combined, previous=current, at=now)


def publish(session: Session, *, now: datetime | None = None) -> TrustListVersion:
    """Verify the open proposal as the next version and store it.

    Raises ``QuorumNotMet`` (saying how many proofs are missing and from whom),
    ``TrustListError`` if any proof on it does not count, and whatever the chain's
    verification raises. The caller commits.
    """
    now = now or datetime.now(UTC)
    row = open_proposal(session, for_update=True)
    current = current_version(session, at=now)
    version = verify_version(proposal_document(row), previous=current, at=now)
    stray = [p for p in version.report.proofs if not p.counted]
    if stray:
        notes = "; ".join(f"proof {p.index}: {p.note}" for p in stray)
        raise TrustListError(f"every proof on a published version must count ({notes})")
    store_version(session, version, now=now)
    row.state = "published"
    row.updated_at = now
    session.add(row)
    session.flush()
    return version


def withdraw(session: Session, *, now: datetime | None = None) -> TrustListProposal:
    """Close the open proposal without publishing it (it stays on record)."""
    row = open_proposal(session, for_update=True)
    row.state = "withdrawn"
    row.updated_at = now or datetime.now(UTC)
    session.add(row)
    session.flush()
    return row


def seed_genesis(
    session: Session,
    key_store: KeyStore,
    *,
    profile: NodeProfile,
    founders: Sequence[str] = (),
    now: datetime | None = None,
) -> TrustListVersion:
    """Propose, sign by every founder and publish version 1, for a node hosting them all."""
    now = now or datetime.now(UTC)
    row = propose(session, Changes(founders=tuple(founders)), profile=profile, now=now)
    for member in parse_trust_list(proposal_document(row)).members:
        sign_proposal(session, key_store, member.code, now=now)
    return publish(session, now=now)
