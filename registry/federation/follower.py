"""Following one peer's log a step at a time: fetch its newest checkpoint, check it and
the entries since the tree verified before, keep them, or catch a fork.

A step handles at most ``CHUNK`` entries, so memory stays bounded however far
behind the node is: entries up to the checkpoint are checked against its root; a
chunk that ends before it (at size m) is checked with the peer's RFC 9162
consistency proof from the tree recomputed at m to the signed root, and is then
kept with the verified tree at m (``PeerLog.tree_size``), the checkpoint it was
proven against held (``PeerLog.checkpoint``, a ``PeerCheckpoint``) and the state
``behind``. ``more_to_follow`` tells the caller to step again at once.

``follow_once`` runs in the caller's transaction: a chunk's entries, the verified tree
and the checkpoint are kept together or not at all, so a crash leaves the mirror at
the last chunk it fully verified, and the next step resumes from there with no gap
and no duplicate. A peer that cannot be reached is ``unreachable`` (the mirror stays
as it was); a batch that does not verify is refused whole and named in
``last_error``; two checkpoints of the log that cannot both be true stop the node
following it (``forked``) and keep the evidence (``registry.federation.evidence``).

The checkpoint the peer serves carries the cosignatures the other members'
witnesses gave it: once the mirror holds that checkpoint (kept now, or before), the
ones that verify are kept with it (``cosigning.keep_note_cosignatures``), and the
mirror serves them as the peer does.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
from sqlmodel import Session, col, select

from registry.crypto.jcs import canonical_bytes
from registry.errors import FollowError, RegistryError
from registry.federation.cosigning import keep_note_cosignatures
from registry.federation.evidence import fork_evidence
from registry.federation.follow import Bundle, Frontier, PageCheck, Verified, verify_extension
from registry.federation.mirror import mirror_entries
from registry.federation.peers import register_peer
from registry.federation.verifiers import ENTRIES_PAGE, Verifiers, read_bundles, read_pages
from registry.storage.models import ForkEvidenceRow, PeerCheckpoint, PeerLog
from registry.tlog.checkpoint import Checkpoint, open_note, parse_checkpoint
from registry.tlog.merkle import leaf_hash
from registry.tlog.note import parse_verifier_key
from registry.trust.chain import TrustListVersion
from registry.trust.document import Member

__all__ = [
    "CHUNK",
    "ENTRIES_PAGE",
    "Mirror",
    "follow_once",
    "mirror_batch",
    "more_to_follow",
    "peer_states",
]

CHUNK = 20_000
"""The most entries one step verifies and keeps (bench/federation.py measured it)."""

Mirror = Callable[[Session, str, Verified, int], None]
"""Keeps a verified batch (session, authority, batch, index of its first entry)."""


def mirror_batch(session: Session, authority: str, verified: Verified, start: int) -> None:
    """Keep a verified batch in the tables of the node's own records
    (``registry.federation.mirror``)."""
    mirror_entries(session, authority, verified, start=start)


def more_to_follow(state: PeerLog) -> bool:
    """Whether the step that returned ``state`` kept a chunk and the peer's checkpoint
    lies further: the caller steps again at once (in a new transaction) rather than
    waiting for the next poll. False once caught up, and after any error."""
    return (
        state.state == "behind"
        and state.last_error is None
        and state.peer_size is not None
        and state.tree_size < state.peer_size
    )


def _state(session: Session, member: Member, now: datetime) -> PeerLog:
    state = session.get(PeerLog, member.code)
    if state is None:
        state = PeerLog(authority_code=member.code, origin=member.log.origin, updated_at=now)
        session.add(state)
    return state


def _documents(page: bytes) -> list[dict[str, Any]]:
    """The credentials of a page of entries; raises ``FollowError`` if it is none."""
    try:
        return [row["leaf"] for row in json.loads(page)["entries"]]
    except (KeyError, TypeError, ValueError) as exc:
        raise FollowError(f"the peer's page of entries is not one: {exc!r}") from exc


def _consistency(client: httpx.Client, authority: str, first: int, second: int) -> list[bytes]:
    answer = client.get(
        f"/v1/logs/{authority}/proof/consistency", params={"first": first, "second": second}
    )
    answer.raise_for_status()
    try:
        return [base64.b64decode(h, validate=True) for h in answer.json()["hashes"]]
    except (binascii.Error, KeyError, TypeError, ValueError) as exc:
        raise FollowError(f"the peer's consistency proof is not one: {exc}") from exc


@dataclass
class _Step:
    """One step of following one member's log: what it reads and where it writes."""

    session: Session
    state: PeerLog
    member: Member
    trust: TrustListVersion
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

    def settle(self, frontier: Frontier, checkpoint: Checkpoint, note: str) -> PeerLog:
        """The peer's checkpoint is no larger than the tree verified: the same one
        confirms it (and may bring more cosignatures of it); another says the peer
        lags."""
        if checkpoint.size == frontier.size and checkpoint.root == frontier.root():
            self.state.confirmed_at, self.state.state = self.now, "current"
            self.cosignatures(note)
            return self.done()
        return self.fail(
            f"the peer serves checkpoint {checkpoint.size}, below the {frontier.size} "
            "entries verified"
        )

    def cosignatures(self, note: str) -> None:
        """Keep the witnesses' cosignatures ``note`` carries, if the mirror holds its
        checkpoint."""
        keep_note_cosignatures(self.session, self.trust.content, self.authority, note, now=self.now)

    def done(self) -> PeerLog:
        """The step went as it should: no error to report."""
        self.state.last_error, self.state.updated_at = None, self.now
        return self.state

    def held(self, above: int, upto: int) -> dict[int, bytes]:
        """The roots of the signed checkpoints held of sizes in (above, upto]."""
        rows = self.session.exec(
            select(PeerCheckpoint.tree_size, PeerCheckpoint.root).where(
                PeerCheckpoint.authority_code == self.authority,
                col(PeerCheckpoint.tree_size) > above,
                col(PeerCheckpoint.tree_size) <= upto,
            )
        )
        return {size: bytes(root) for size, root in rows}

    def rewritten(self, checkpoint: Checkpoint, note: str) -> PeerLog | None:
        """Where a batch did not verify: whether the peer's whole log, as it serves it,
        gives its new checkpoint's root but does not begin with the newest signed
        checkpoint held below it (a log rewritten and re-signed). Then that is a fork,
        with its evidence; else ``None`` (the batch was bad, and is refused). Only the
        leaf hashes are kept while reading, a page at a time."""
        ours = self.session.exec(
            select(PeerCheckpoint)
            .where(
                PeerCheckpoint.authority_code == self.authority,
                col(PeerCheckpoint.tree_size) > 0,
                col(PeerCheckpoint.tree_size) < checkpoint.size,
            )
            .order_by(col(PeerCheckpoint.tree_size).desc())
            .limit(1)
        ).first()
        if ours is None:
            return None
        leaves: list[bytes] = []
        try:
            for page in read_pages(self.client, self.authority, 0, checkpoint.size):
                leaves += [leaf_hash(canonical_bytes(e)) for e in _documents(page)]
        except (httpx.HTTPError, RegistryError):
            return None
        if Frontier().extend(leaves).root() != checkpoint.root:
            return None
        if Frontier().extend(leaves[: ours.tree_size]).root() == bytes(ours.root):
            return None
        return self.fork((ours.note, note), leaves)

    def keep(self, verified: Verified, mirror: Mirror, start: int) -> PeerLog:
        """Keep a verified batch, the tree it leaves and the checkpoint it was proven
        against, together."""
        checkpoint = verified.checkpoint
        mirror(self.session, self.authority, verified, start)
        if verified.complete:
            self.cosignatures(verified.note)
        if self.session.get(PeerCheckpoint, (self.authority, checkpoint.size)) is None:
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
        state.tree_size, state.checkpoint = verified.frontier.size, verified.note
        if verified.complete:
            state.confirmed_at, state.state = self.now, "current"
        else:
            state.state = "behind"
        return self.done()


def follow_once(
    session: Session,
    *,
    member: Member,
    trust: TrustListVersion,
    client: httpx.Client,
    mirror: Mirror = mirror_batch,
    now: datetime | None = None,
    chunk: int = CHUNK,
    verifiers: Verifiers | None = None,
) -> PeerLog:
    """One step of following ``member``'s log through ``client`` (a peer's base URL and
    its federation token); returns the log's state, added to the session (the caller
    commits). The member is registered as a peer first, with the keys ``trust`` gives
    it (a key the list added since is added).

    A step keeps at most ``chunk`` entries. Where the peer's checkpoint lies further,
    the state is ``behind`` with no ``last_error`` and ``tree_size`` below
    ``peer_size``: ``more_to_follow(state)`` is then true, and the caller steps again
    at once, each step in its own transaction, until it is false (``current``: the
    peer's checkpoint reached; or an error to wait on). ``verifiers``, kept by the
    caller across steps (``registry.federation.verifiers``), verifies the pages on
    its processes while the next is fetched, and reads the next chunk ahead while
    this one is stored."""
    now = now or datetime.now(UTC)
    register_peer(session, member, valid_from=trust.content.valid_from, now=now)
    step = _Step(session, _state(session, member, now), member, trust, client, now)
    if step.state.state == "forked":
        return step.state  # stopped: a fork is for people to resolve
    return _advance(step, trust, mirror, max(1, chunk), verifiers)


def _advance(
    step: _Step, trust: TrustListVersion, mirror: Mirror, chunk: int, verifiers: Verifiers | None
) -> PeerLog:
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
            return step.settle(frontier, checkpoint, note)
        end = min(checkpoint.size, frontier.size + chunk)
        proof = None
        if end < checkpoint.size:
            proof = _consistency(client, member.code, end, checkpoint.size)
        # The chunk's pages: read ahead by the step before, or fetched as verified.
        pages: Iterable[bytes | Bundle | Future[PageCheck]] | None = None
        if verifiers is not None:
            pages = verifiers.take(authority=member.code, note=note, start=frontier.size, end=end)
        if pages is None:
            pages = read_bundles(client, member.code, frontier.size, end, checkpoint.size)
        verified = verify_extension(
            authority=member.code,
            origin=member.log.origin,
            log_keys=keys,
            trust=trust,
            frontier=frontier,
            note=note,
            pages=pages,
            now=step.now,
            proof=proof,
            held=step.held(frontier.size, end),
            verifiers=verifiers.pool if verifiers is not None else None,
        )
    except httpx.HTTPError as exc:
        return step.fail(str(exc), "unreachable")
    except FollowError as exc:
        return step.rewritten(checkpoint, note) or step.fail(exc.message, "behind")
    except RegistryError as exc:
        return step.fail(f"its checkpoint does not verify: {exc.message}")
    if verifiers is not None and end < checkpoint.size:
        verifiers.read_ahead(
            client,
            authority=member.code,
            note=note,
            start=end,
            end=min(checkpoint.size, end + chunk),
            size=checkpoint.size,
            trust=trust,
            signed_at=verified.signed_at,
            now=step.now,
        )
    return step.keep(verified, mirror, frontier.size)


def peer_states(session: Session) -> list[PeerLog]:
    """Every followed log's state, by authority."""
    return list(session.exec(select(PeerLog).order_by(col(PeerLog.authority_code))))
