"""Checking a peer's log before anything of it is kept: the step a following node
takes for each new checkpoint of a member it does not host.

Given the tree verified so far (its frontier: one hash per perfect subtree, left to
right, so memory stays bounded at any size), the peer's new signed checkpoint and the
entries between the two, ``verify_extension``

1. opens the checkpoint with the log key the trust list names for that member, and
   checks its origin and that it does not shrink the log;
2. verifies every entry as the log audit does (``registry.verification.log_audit``):
   its issuer is the log's authority, and its proof (every proof of an agreement's
   set) verifies with a key the trust list allowed that type at its time, the new
   checkpoint's signed time deciding for a key since reported compromised;
3. recomputes the tree from the verified frontier and the entries' leaf hashes
   (SHA-256 of 0x00 and the canonical bytes, RFC 9162) and requires the checkpoint's
   root: entries that do not hash to it, too few, too many or in another order are
   refused, and so is a checkpoint inconsistent with the one verified before it.

Nothing is returned unless all of it holds: a batch is kept whole or not at all.
``conflict`` tells whether two checkpoints of one log can both be true; where they
cannot, the pair is a fork, kept as evidence (``registry.federation.evidence``).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from registry.credentials import CredentialType, authority_of, credential_type
from registry.credentials.keys import verify_signed
from registry.crypto.jcs import canonical_bytes
from registry.errors import FollowError, LogProofError, RegistryError, VerificationError
from registry.recognition.document import verify_agreement
from registry.tlog.checkpoint import Checkpoint, open_note, parse_checkpoint
from registry.tlog.merkle import EMPTY_ROOT, leaf_hash, node_hash, verify_consistency
from registry.tlog.note import NoteVerifierKey
from registry.trust.chain import TrustListVersion

__all__ = ["FollowError", "Frontier", "Verified", "conflict", "verify_extension", "verify_logged"]


@dataclass(frozen=True)
class Frontier:
    """A tree as a following node keeps it: its size and the roots of its perfect
    subtrees, largest (leftmost) first. The empty tree has none."""

    size: int = 0
    hashes: tuple[bytes, ...] = ()

    def extend(self, leaves: Sequence[bytes]) -> Frontier:
        """The tree with ``leaves`` (leaf hashes) appended."""
        stack = [(self._heights()[i], h) for i, h in enumerate(self.hashes)]
        size = self.size
        for leaf in leaves:
            stack.append((0, leaf))
            size += 1
            while len(stack) > 1 and stack[-2][0] == stack[-1][0]:
                height, right = stack.pop()
                _, left = stack.pop()
                stack.append((height + 1, node_hash(left, right)))
        return Frontier(size, tuple(h for _, h in stack))

    def _heights(self) -> list[int]:
        # The perfect subtrees of a tree of ``size`` leaves are its size's one bits.
        return [bit for bit in reversed(range(self.size.bit_length())) if self.size >> bit & 1]

    def root(self) -> bytes:
        """The tree's root hash (RFC 9162 §2.1.1)."""
        if not self.hashes:
            return EMPTY_ROOT
        value = self.hashes[-1]
        for left in reversed(self.hashes[:-1]):
            value = node_hash(left, value)
        return value

    def to_json(self) -> dict[str, Any]:
        """The frontier as a node stores it."""
        return {
            "size": self.size,
            "hashes": [base64.b64encode(h).decode("ascii") for h in self.hashes],
        }

    @classmethod
    def from_json(cls, value: Mapping[str, Any]) -> Frontier:
        """Read a stored frontier; raises ``LogProofError`` if it cannot be one."""
        size = int(value["size"])
        hashes = tuple(base64.b64decode(h, validate=True) for h in value["hashes"])
        frontier = cls(size, hashes)
        if len(hashes) != len(frontier._heights()) or any(len(h) != 32 for h in hashes):
            raise LogProofError(f"a frontier of {size} leaves has one hash per one bit")
        return frontier


@dataclass(frozen=True)
class Verified:
    """A checkpoint and its entries that hold: the checkpoint, its signed note and
    signed time, the frontier it leaves, and the entries' credentials in log order."""

    checkpoint: Checkpoint
    note: str
    signed_at: datetime
    frontier: Frontier
    documents: tuple[dict[str, Any], ...]


def _opened(note: str, origin: str, keys: Sequence[NoteVerifierKey]) -> tuple[Checkpoint, datetime]:
    try:
        opened = open_note(note, keys)
        checkpoint = parse_checkpoint(opened.text)
    except RegistryError as exc:
        raise FollowError(f"the checkpoint does not verify: {exc.message}") from exc
    if checkpoint.origin != origin:
        raise FollowError(f"the checkpoint is of {checkpoint.origin!r}, not of {origin!r}")
    stamp = opened.timestamps.get(origin)
    if stamp is None:
        raise FollowError("the checkpoint carries no time signed by its log key")
    return checkpoint, datetime.fromtimestamp(stamp, UTC)


def verify_logged(
    document: Mapping[str, Any],
    *,
    authority: str,
    trust: TrustListVersion,
    logged_at: datetime | None,
    at: datetime,
) -> None:
    """Verify a credential of ``authority``'s log against the trust list: its issuer is
    the log's authority, and its proof (every proof of an agreement's set, as
    publishing verifies it) verifies with a key the list allowed that type at its
    time, ``logged_at`` (the checkpoint first covering it) deciding for a key since
    reported compromised. Raises a ``RegistryError`` saying what does not hold; the
    log audit and a following node check each entry with it."""
    kind = credential_type(document)
    issuer = authority_of(document.get("issuer"))
    if issuer != authority:
        raise VerificationError(f"it is issued by {issuer}, not {authority}")
    directory = trust.known_keys.get
    if kind == CredentialType.RECOGNITION_AGREEMENT:
        verify_agreement(document, directory=directory, at=at, logged_at=logged_at, needs_log=True)
        return
    verify_signed(
        document,
        directory=directory,
        credential_type=kind,
        authority=authority,
        at=at,
        logged_at=logged_at,
        needs_log=True,
    )


def verify_extension(
    *,
    authority: str,
    origin: str,
    log_keys: Sequence[NoteVerifierKey],
    trust: TrustListVersion,
    frontier: Frontier,
    note: str,
    entries: Sequence[Mapping[str, Any]],
    now: datetime | None = None,
) -> Verified:
    """Check ``note`` (the peer's signed checkpoint) and ``entries`` (its credentials
    from the frontier's size up to the checkpoint's, in order) against the trust list
    and the tree verified so far. Returns what holds; raises ``FollowError`` naming the
    first thing that does not, and then nothing of the batch may be kept."""
    now = now or datetime.now(UTC)
    checkpoint, signed_at = _opened(note, origin, log_keys)
    if checkpoint.size < frontier.size:
        raise FollowError(
            f"the checkpoint's {checkpoint.size} entries are fewer than the {frontier.size} "
            "already verified: a log never shrinks"
        )
    if len(entries) != checkpoint.size - frontier.size:
        raise FollowError(
            f"{len(entries)} entries given for entries {frontier.size} to {checkpoint.size}"
        )
    leaves = []
    documents = []
    for index, document in enumerate(entries, start=frontier.size):
        try:
            verify_logged(document, authority=authority, trust=trust, logged_at=signed_at, at=now)
        except RegistryError as exc:
            raise FollowError(f"entry {index} does not verify: {exc.message}") from exc
        leaves.append(leaf_hash(canonical_bytes(document)))
        documents.append(json.loads(canonical_bytes(document)))
    extended = frontier.extend(leaves)
    if extended.root() != checkpoint.root:
        raise FollowError(
            f"the entries do not hash to the checkpoint's root at size {checkpoint.size}: "
            "an entry was changed, left out or moved, or the log forked"
        )
    return Verified(checkpoint, note, signed_at, extended, tuple(documents))


def conflict(
    first: Checkpoint, second: Checkpoint, proof: Sequence[bytes] | None = None
) -> str | None:
    """Why two verified checkpoints of one log cannot both be true, or ``None``: same
    size and different roots; or, given the consistency proof between them (from the
    smaller to the larger), a proof that does not hold."""
    if first.origin != second.origin:
        raise FollowError("checkpoints of two logs are never a fork")
    if first.size == second.size:
        if first.root != second.root:
            return f"two roots for size {first.size}"
        return None
    if proof is None:
        return None
    small, large = sorted((first, second), key=lambda c: c.size)
    try:
        verify_consistency(small.size, large.size, small.root, large.root, proof)
    except LogProofError as exc:
        return f"size {small.size} is not a prefix of size {large.size}: {exc.message}"
    return None
