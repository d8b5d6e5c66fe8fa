"""Following one peer's log a step at a time: fetch its newest checkpoint, check it and
the entries since the tree verified before, keep them, or catch a fork.

``follow_once`` runs in the caller's transaction: the entries, the verified tree and
the checkpoint are kept together or not at all, so a crash leaves the mirror at the
last checkpoint it fully verified, and the next step resumes from there with no gap
and no duplicate. A peer that cannot be reached is ``unreachable`` (the mirror stays
as it was); a batch that does not verify is refused whole and named in
``last_error``; two checkpoints of the log that cannot both be true stop the node
following it (``forked``) and keep the evidence (``registry.federation.evidence``).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
from sqlmodel import Session, col, select

from registry.crypto.jcs import canonical_bytes
from registry.errors import FollowError, RegistryError
from registry.federation.evidence import fork_evidence
from registry.federation.follow import Frontier, Verified, verify_extension
from registry.federation.mirror import mirror_entries
from registry.federation.peers import register_peer
from registry.storage.models import ForkEvidenceRow, PeerCheckpoint, PeerLog
from registry.tlog.checkpoint import Checkpoint, open_note, parse_checkpoint
from registry.tlog.merkle import leaf_hash
from registry.tlog.note import parse_verifier_key
from registry.trust.chain import TrustListVersion
from registry.trust.document import Member

__all__ = ["ENTRIES_PAGE", "Mirror", "follow_once", "mirror_batch", "peer_states"]

ENTRIES_PAGE = 1000
"""Entries asked for at a time: the most the entries endpoint answers."""

Mirror = Callable[[Session, str, Verified, int], None]
"""Keeps a verified batch (session, authority, batch, index of its first entry)."""


def mirror_batch(session: Session, authority: str, verified: Verified, start: int) -> None:
    """Keep a verified batch in the tables of the node's own records
    (``registry.federation.mirror``)."""
    mirror_entries(session, authority, verified, start=start)


def _state(session: Session, member: Member, now: datetime) -> PeerLog:
    state = session.get(PeerLog, member.code)
    if state is None:
        state = PeerLog(authority_code=member.code, origin=member.log.origin, updated_at=now)
        session.add(state)
    return state


def _entries(client: httpx.Client, authority: str, start: int, end: int) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    while start < end:
        answer = client.get(
            f"/v1/logs/{authority}/entries",
            params={"start": start, "end": min(end, start + ENTRIES_PAGE)},
        )
        answer.raise_for_status()
        page = [entry["leaf"] for entry in answer.json()["entries"]]
        if not page:
            raise FollowError(f"the peer gave no entries from {start}")
        found += page
        start += len(page)
    return found


@dataclass
class _Step:
    """One step of following one member's log: what it reads and where it writes."""

    session: Session
    state: PeerLog
    member: Member
    client: httpx.Client
    now: datetime

    @property
    def authority(self) -> str:
        return self.member.code

    def fail(self, error: str, state: str | None = None) -> PeerLog:
        """Keep nothing, and say why (``state``: what following the log now is)."""
        self.state.last_error, self.state.updated_at = error, self.now
        if state is not None:
            self.state.state = state
        return self.state

    def fork(self, notes: tuple[str, str], leaves: Sequence[bytes] = ()) -> PeerLog:
        """Stop following the log, and keep the evidence of its fork."""
        evidence = fork_evidence(
            origin=self.member.log.origin,
            verifier_key=self.member.log.verifier_key,
            notes=notes,
            leaf_hashes=leaves,
        )
        self.session.add(
            ForkEvidenceRow(
                authority_code=self.authority,
                evidence=json.dumps(evidence, ensure_ascii=False),
                found_at=self.now,
            )
        )
        return self.fail(evidence["found"], "forked")

    def settle(self, frontier: Frontier, checkpoint: Checkpoint) -> PeerLog:
        """The peer's checkpoint is no larger than the tree verified: the same one
        confirms it; another says the peer lags."""
        if checkpoint.size == frontier.size and checkpoint.root == frontier.root():
            self.state.confirmed_at, self.state.state = self.now, "current"
            return self.done()
        return self.fail(
            f"the peer serves checkpoint {checkpoint.size}, below the {frontier.size} "
            "entries verified"
        )

    def done(self) -> PeerLog:
        """The step went as it should: no error to report."""
        self.state.last_error, self.state.updated_at = None, self.now
        return self.state

    def rewritten(self, checkpoint: Checkpoint, note: str, frontier: Frontier) -> PeerLog | None:
        """Where a batch did not verify: whether the peer's whole log, as it serves it,
        gives its new checkpoint's root but does not begin with the tree verified
        before (a log rewritten and re-signed). Then that is a fork, with its
        evidence; else ``None`` (the batch was bad, and is refused)."""
        ours = self.session.get(PeerCheckpoint, (self.authority, frontier.size))
        if ours is None or frontier.size == 0:
            return None
        try:
            served = _entries(self.client, self.authority, 0, checkpoint.size)
        except (httpx.HTTPError, RegistryError):
            return None
        leaves = [leaf_hash(canonical_bytes(e)) for e in served]
        if Frontier().extend(leaves).root() != checkpoint.root:
            return None
        if Frontier().extend(leaves[: frontier.size]).root() == frontier.root():
            return None
        return self.fork((ours.note, note), leaves)

    def keep(self, verified: Verified, mirror: Mirror, start: int) -> PeerLog:
        """Keep a verified batch, the tree it leaves and its checkpoint, together."""
        checkpoint = verified.checkpoint
        mirror(self.session, self.authority, verified, start)
        self.session.add(
            PeerCheckpoint(
                authority_code=self.authority,
                tree_size=checkpoint.size,
                root=checkpoint.root,
                note=verified.note,
                verified_at=self.now,
            )
        )
        state = self.state
        state.frontier = json.dumps(verified.frontier.to_json())
        state.tree_size, state.checkpoint = checkpoint.size, verified.note
        state.confirmed_at, state.state = self.now, "current"
        return self.done()


def follow_once(
    session: Session,
    *,
    member: Member,
    trust: TrustListVersion,
    client: httpx.Client,
    mirror: Mirror = mirror_batch,
    now: datetime | None = None,
) -> PeerLog:
    """One step of following ``member``'s log through ``client`` (a peer's base URL and
    its federation token); returns the log's state, added to the session. The member
    is registered as a peer first, with the keys ``trust`` gives it (a key the list
    added since is added)."""
    now = now or datetime.now(UTC)
    register_peer(session, member, valid_from=trust.content.valid_from, now=now)
    step = _Step(session, _state(session, member, now), member, client, now)
    if step.state.state == "forked":
        return step.state  # stopped: a fork is for people to resolve
    return _advance(step, trust, mirror)


def _advance(step: _Step, trust: TrustListVersion, mirror: Mirror) -> PeerLog:
    member, session, client = step.member, step.session, step.client
    keys = [parse_verifier_key(member.log.verifier_key)]
    frontier = Frontier.from_json(json.loads(step.state.frontier))
    try:
        answer = client.get(f"/v1/logs/{member.code}/checkpoint")
        answer.raise_for_status()
        note = answer.text
        checkpoint = parse_checkpoint(open_note(note, keys).text)
        step.state.peer_size = checkpoint.size
        seen = session.get(PeerCheckpoint, (member.code, checkpoint.size))
        if seen is not None and seen.root != checkpoint.root:
            return step.fork((seen.note, note))
        if checkpoint.size <= frontier.size:
            return step.settle(frontier, checkpoint)
        entries = _entries(client, member.code, frontier.size, checkpoint.size)
        verified = verify_extension(
            authority=member.code,
            origin=member.log.origin,
            log_keys=keys,
            trust=trust,
            frontier=frontier,
            note=note,
            entries=entries,
            now=step.now,
        )
    except httpx.HTTPError as exc:
        return step.fail(str(exc), "unreachable")
    except FollowError as exc:
        return step.rewritten(checkpoint, note, frontier) or step.fail(exc.message, "behind")
    except RegistryError as exc:
        return step.fail(f"its checkpoint does not verify: {exc.message}")
    return step.keep(verified, mirror, frontier.size)


def peer_states(session: Session) -> list[PeerLog]:
    """Every followed log's state, by authority."""
    return list(session.exec(select(PeerLog).order_by(col(PeerLog.authority_code))))
