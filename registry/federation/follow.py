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
   refused, and so is a checkpoint inconsistent with the one verified before it;
4. or, for a chunk that ends before the checkpoint (at size m), requires the RFC 9162
   consistency proof from the tree recomputed at m to the checkpoint's signed root:
   the chunk is then proven part of the signed log, and may be kept on its own. A
   root verified before at a size the chunk passes (a signed checkpoint held) must
   be the tree's there too.

Nothing is returned unless all of it holds: a batch is kept whole or not at all.
``conflict`` tells whether two checkpoints of one log can both be true; where they
cannot, the pair is a fork, kept as evidence (``registry.federation.evidence``).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import Executor, Future
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from registry.credentials import CredentialType, authority_of, credential_type
from registry.credentials.keys import verify_signed
from registry.crypto.jcs import canonical_members, join_members
from registry.errors import FollowError, LogProofError, RegistryError, VerificationError
from registry.recognition.document import verify_agreement
from registry.tlog.checkpoint import Checkpoint, open_note, parse_checkpoint
from registry.tlog.merkle import EMPTY_ROOT, leaf_hash, node_hash, verify_consistency
from registry.tlog.note import NoteVerifierKey
from registry.tlog.tiles import read_bundle
from registry.trust.chain import TrustListVersion

__all__ = [
    "FollowError",
    "Frontier",
    "PageCheck",
    "Verified",
    "check_page",
    "conflict",
    "extend_checked",
    "verify_entries",
    "verify_extension",
    "verify_logged",
]


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
    signed time, the frontier it leaves (the checkpoint's tree, or for a chunk a
    smaller tree proven a prefix of it), the entries' credentials in log order and
    their canonical bytes (RFC 8785), computed once."""

    checkpoint: Checkpoint
    note: str
    signed_at: datetime
    frontier: Frontier
    documents: tuple[dict[str, Any], ...]
    canonicals: tuple[bytes, ...] = ()

    @property
    def complete(self) -> bool:
        """Whether the entries reach the checkpoint (else a chunk proven part of it)."""
        return self.frontier.size == self.checkpoint.size


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
    members: Mapping[str, bytes] | None = None,
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
        members=members,
    )


def verify_extension(
    *,
    authority: str,
    origin: str,
    log_keys: Sequence[NoteVerifierKey],
    trust: TrustListVersion,
    frontier: Frontier,
    note: str,
    entries: Sequence[Mapping[str, Any]] = (),
    now: datetime | None = None,
    proof: Sequence[bytes] | None = None,
    held: Mapping[int, bytes] | None = None,
    pages: Iterable[bytes | Bundle | Future[PageCheck]] = (),
    verifiers: Executor | None = None,
) -> Verified:
    """Check ``note`` (the peer's signed checkpoint) and ``entries`` then ``pages`` (its
    credentials from the frontier's size on, in order; pages as the entries endpoint
    answers them or entry bundles of its tiles (``Bundle``), read one at a time as they
    arrive, or the futures of their ``check_page`` submitted ahead) against the trust
    list and the tree verified so far. Without ``proof`` the entries run up to the
    checkpoint's size; with it they are a chunk ending before it, and ``proof`` is the
    consistency proof from the chunk's end to the checkpoint. ``held`` gives roots by
    size (signed checkpoints verified before): where the entries pass one, the tree must
    give it. ``verifiers`` (a pool of processes) verifies the pages' signatures in
    parallel, a page a task, while the next page is read. Returns what holds; raises
    ``FollowError`` naming the first thing that does not, and then nothing of the batch
    may be kept."""
    now = now or datetime.now(UTC)
    # 1. The checkpoint, signed by the log's key, does not shrink the log.
    checkpoint, signed_at = _opened(note, origin, log_keys)
    if checkpoint.size < frontier.size:
        raise FollowError(
            f"the checkpoint's {checkpoint.size} entries are fewer than the {frontier.size} "
            "already verified: a log never shrinks"
        )
    # 2. Every entry verifies against the trust list.
    canonicals = _verify_all(
        entries,
        pages,
        verifiers,
        authority=authority,
        trust=trust,
        signed_at=signed_at,
        now=now,
        first=frontier.size,
    )
    end = frontier.size + len(canonicals)
    if proof is None and end != checkpoint.size:
        raise FollowError(
            f"{len(canonicals)} entries given for entries {frontier.size} to {checkpoint.size}"
        )
    if proof is not None and not frontier.size < end < checkpoint.size:
        raise FollowError(
            f"a chunk of {len(canonicals)} entries from {frontier.size} does not end within "
            f"the checkpoint's {checkpoint.size}"
        )
    documents = tuple(json.loads(canonical) for canonical in canonicals)
    # 3. The tree, recomputed, gives the roots held on the way and the checkpoint's.
    extended = extend_checked(frontier, [leaf_hash(c) for c in canonicals], held or {})
    if proof is None:
        if extended.root() != checkpoint.root:
            raise FollowError(
                f"the entries do not hash to the checkpoint's root at size {checkpoint.size}: "
                "an entry was changed, left out or moved, or the log forked"
            )
    else:
        # 4. A chunk: its tree is a prefix of the signed one.
        try:
            verify_consistency(end, checkpoint.size, extended.root(), checkpoint.root, proof)
        except LogProofError as exc:
            raise FollowError(
                f"the entries {frontier.size} to {end} are not proven part of the checkpoint "
                f"of size {checkpoint.size}: {exc.message}"
            ) from exc
    return Verified(checkpoint, note, signed_at, extended, documents, tuple(canonicals))


PageCheck = tuple[int, list[bytes]] | str
"""What ``check_page`` found: the page's first index and canonical bytes, or why not."""


def _verify_all(
    entries: Sequence[Mapping[str, Any]],
    pages: Iterable[bytes | Bundle | Future[PageCheck]],
    verifiers: Executor | None,
    *,
    first: int,
    **context: Any,
) -> list[bytes]:
    """The canonical bytes of ``entries`` then of every page's, each verified (here, or
    on ``verifiers``: a page a task, submitted as it is read, collected in order), the
    pages' indexes running on from ``entries``. ``context``: ``verify_entries``'s."""
    canonicals = verify_entries(entries, first=first, **context) if entries else []
    tasks: list[Future[PageCheck]] = []
    try:
        if verifiers is None:
            results: Iterable[PageCheck] = (
                page.result() if isinstance(page, Future) else check_page(page, **context)
                for page in pages
            )
        else:
            tasks = [
                page if isinstance(page, Future) else verifiers.submit(check_page, page, **context)
                for page in pages
            ]
            results = (task.result() for task in tasks)
        for result in results:
            if isinstance(result, str):
                raise FollowError(result)
            start, verified = result
            expected = first + len(canonicals)
            if start != expected or not verified:
                raise FollowError(f"the peer gave entries from {start} where {expected} was next")
            canonicals += verified
    finally:
        for task in tasks:
            task.cancel()
    return canonicals


@dataclass(frozen=True)
class Bundle:
    """An entry bundle of a peer's log as fetched (c2sp.org/tlog-tiles): its body, the
    index of its first entry, and the entries of it wanted, ``start`` to ``end``."""

    body: bytes
    first: int
    start: int
    end: int


def _bundle_leaves(bundle: Bundle) -> list[bytes] | str:
    try:
        leaves = read_bundle(bundle.body)
    except ValueError as exc:
        return f"the peer's entry bundle from {bundle.first} is not one: {exc}"
    if len(leaves) < bundle.end - bundle.first:
        return f"the peer's entry bundle from {bundle.first} holds {len(leaves)} entries"
    return leaves[bundle.start - bundle.first : bundle.end - bundle.first]


def check_bundle(
    bundle: Bundle, *, authority: str, trust: TrustListVersion, signed_at: datetime, now: datetime
) -> PageCheck:
    """``verify_entries`` of the wanted entries of an entry bundle, parsed where they
    are verified (in a worker process, where there is a pool). An entry's bytes are
    its leaf: each must be the canonical form (RFC 8785) of the credential it holds,
    as the origin logs it. Returns the first index wanted and the canonical bytes, or
    the reason it failed."""
    leaves = _bundle_leaves(bundle)
    if isinstance(leaves, str):
        return leaves
    try:
        documents = [json.loads(leaf) for leaf in leaves]
    except ValueError as exc:
        return f"an entry of the peer's bundle from {bundle.first} is not JSON: {exc}"
    if not all(isinstance(document, dict) for document in documents):
        return f"the peer's entry bundle from {bundle.first} holds a leaf that is no object"
    try:
        verified = verify_entries(
            documents,
            authority=authority,
            trust=trust,
            signed_at=signed_at,
            now=now,
            first=bundle.start,
        )
    except FollowError as exc:
        return exc.reason
    for offset, (leaf, canonical) in enumerate(zip(leaves, verified, strict=True)):
        if leaf != canonical:
            return f"entry {bundle.start + offset} is not in canonical form (RFC 8785)"
    return bundle.start, verified


def check_page(
    body: bytes | Bundle,
    *,
    authority: str,
    trust: TrustListVersion,
    signed_at: datetime,
    now: datetime,
) -> PageCheck:
    """``verify_entries`` of one page as the entries endpoint answers it (JSON
    ``{"entries": [{"index": i, "leaf": credential}, ...]}``, consecutive indexes),
    parsed where it is verified (in a worker process, where there is a pool): its
    first index and the canonical bytes, or the reason it failed (an error crosses
    processes as its text). ``verify_extension`` takes a page, or the future of its
    check submitted ahead. An entry bundle is checked by ``check_bundle``."""
    if isinstance(body, Bundle):
        return check_bundle(body, authority=authority, trust=trust, signed_at=signed_at, now=now)
    try:
        rows = json.loads(body)["entries"]
        first = int(rows[0]["index"]) if rows else 0
        if any(row["index"] != first + offset for offset, row in enumerate(rows)):
            return f"the peer's page of entries from {first} skips an index"
        leaves = [row["leaf"] for row in rows]
        if not all(isinstance(leaf, dict) for leaf in leaves):
            return f"the peer's page of entries from {first} holds a leaf that is no object"
    except (KeyError, TypeError, ValueError) as exc:
        return f"the peer's page of entries is not one: {exc!r}"
    try:
        verified = verify_entries(
            leaves, authority=authority, trust=trust, signed_at=signed_at, now=now, first=first
        )
    except FollowError as exc:
        return exc.reason
    return first, verified


def verify_entries(
    entries: Sequence[Mapping[str, Any]],
    *,
    authority: str,
    trust: TrustListVersion,
    signed_at: datetime,
    now: datetime,
    first: int = 0,
) -> list[bytes]:
    """Verify each entry (``first``: the index of the first) with ``verify_logged``, the
    checkpoint's ``signed_at`` deciding for a key since reported compromised; returns
    their canonical bytes. Raises ``FollowError`` naming the first that does not."""
    canonicals = []
    for index, document in enumerate(entries, start=first):
        try:
            # Canonicalised once, member by member: the whole for its leaf, the whole
            # but its proof for the signature.
            members = canonical_members(document)
            verify_logged(
                document,
                authority=authority,
                trust=trust,
                logged_at=signed_at,
                at=now,
                members=members,
            )
        except RegistryError as exc:
            raise FollowError(f"entry {index} does not verify: {exc.message}") from exc
        canonicals.append(join_members(members))
    return canonicals


def extend_checked(
    frontier: Frontier, leaves: Sequence[bytes], held: Mapping[int, bytes]
) -> Frontier:
    """``frontier`` extended by ``leaves`` (leaf hashes), requiring the root ``held``
    gives at each size the leaves pass; raises ``FollowError`` where one differs."""
    done = 0
    for size in sorted(s for s in held if frontier.size < s <= frontier.size + len(leaves)):
        step = size - frontier.size
        frontier, done = frontier.extend(leaves[done : done + step]), done + step
        if frontier.root() != held[size]:
            raise FollowError(
                f"the entries do not hash to the root of the checkpoint of size {size} "
                "verified before: the log forked"
            )
    return frontier.extend(leaves[done:])


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
