"""Evidence of a fork: two checkpoints signed by one log's key that cannot both be
true, in a file anyone can check without trusting either node.

The file is JSON::

    {"type": "ForkEvidence", "origin": "...", "verifierKey": "<C2SP verifier key>",
     "checkpoints": ["<signed note>", "<signed note>"], "leafHashes": ["<base64>", ...],
     "found": "..."}

It proves a fork when both notes open with the verifier key under the origin and

- they state one size and two roots; or
- they state two sizes, and ``leafHashes`` (the leaf hashes of the larger tree, in
  order) give the larger checkpoint's root while their first part does not give the
  smaller one's: no log could have grown from one to the other (RFC 9162 §2.1).

A consistency proof that fails is no evidence (anyone can write a wrong proof), so
none is taken. Whether the key is the member's is the trust list's to say: the
verifier compares ``verifierKey`` with the one the trust list names.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping, Sequence
from typing import Any

from registry.errors import FollowError, RegistryError
from registry.federation.follow import Frontier
from registry.tlog.checkpoint import Checkpoint, open_note, parse_checkpoint
from registry.tlog.note import parse_verifier_key

__all__ = ["EVIDENCE_TYPE", "fork_evidence", "verify_evidence"]

EVIDENCE_TYPE = "ForkEvidence"


def fork_evidence(
    *,
    origin: str,
    verifier_key: str,
    notes: tuple[str, str],
    leaf_hashes: Sequence[bytes] = (),
) -> dict[str, Any]:
    """The evidence file for two conflicting signed checkpoints (``leaf_hashes``: those
    of the larger tree, where the sizes differ). Checked before it is returned: raises
    ``FollowError`` if it would not prove a fork."""
    evidence: dict[str, Any] = {
        "type": EVIDENCE_TYPE,
        "origin": origin,
        "verifierKey": verifier_key,
        "checkpoints": list(notes),
    }
    if leaf_hashes:
        evidence["leafHashes"] = [base64.b64encode(h).decode("ascii") for h in leaf_hashes]
    evidence["found"] = verify_evidence(evidence)
    return evidence


def _opened(note: object, origin: str, verifier_key: str) -> Checkpoint:
    if not isinstance(note, str):
        raise FollowError("a checkpoint of the evidence is not a signed note")
    try:
        key = parse_verifier_key(verifier_key)
        checkpoint = parse_checkpoint(open_note(note, [key]).text)
    except RegistryError as exc:
        raise FollowError(f"a checkpoint does not verify with the key: {exc.message}") from exc
    if key.name != origin or checkpoint.origin != origin:
        raise FollowError(f"a checkpoint or the key is not of the log {origin!r}")
    return checkpoint


def _leaves(value: object, size: int) -> list[bytes]:
    if not isinstance(value, list) or len(value) != size:
        raise FollowError(f"two sizes need the {size} leaf hashes of the larger tree")
    try:
        leaves = [base64.b64decode(h, validate=True) for h in value]
    except (binascii.Error, TypeError, ValueError) as exc:
        raise FollowError("a leaf hash is not base64") from exc
    if any(len(h) != 32 for h in leaves):
        raise FollowError("a leaf hash has 32 bytes")
    return leaves


def verify_evidence(evidence: Mapping[str, Any]) -> str:
    """What the evidence proves, in a sentence; raises ``FollowError`` when it proves
    no fork (a note that does not verify, two checkpoints that can both be true)."""
    if evidence.get("type") != EVIDENCE_TYPE:
        raise FollowError(f"not fork evidence (type {EVIDENCE_TYPE})")
    origin, verifier_key = evidence.get("origin"), evidence.get("verifierKey")
    notes = evidence.get("checkpoints")
    if not isinstance(origin, str) or not isinstance(verifier_key, str):
        raise FollowError("the evidence names its log's origin and verifier key")
    if not isinstance(notes, list) or len(notes) != 2:
        raise FollowError("the evidence holds two signed checkpoints")
    first, second = (_opened(note, origin, verifier_key) for note in notes)
    if first.size == second.size:
        if first.root == second.root:
            raise FollowError(f"both checkpoints state the same root for size {first.size}")
        return f"{origin}: its key signed two roots for size {first.size}"
    small, large = sorted((first, second), key=lambda c: c.size)
    leaves = _leaves(evidence.get("leafHashes"), large.size)
    if Frontier().extend(leaves).root() != large.root:
        raise FollowError(f"the leaf hashes do not give the root of size {large.size}")
    if Frontier().extend(leaves[: small.size]).root() == small.root:
        raise FollowError(f"size {small.size} is a prefix of size {large.size}: no fork")
    return (
        f"{origin}: its key signed size {small.size} and size {large.size}, and the tree of "
        f"size {large.size} does not begin with that of size {small.size}"
    )
