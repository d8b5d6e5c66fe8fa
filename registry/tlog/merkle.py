"""RFC 9162 Merkle trees: hashes, roots, inclusion and consistency proofs.

Leaf hash = SHA-256(0x00 || leaf input); node hash = SHA-256(0x01 || left || right).
Everything here reads the tree through a ``NodeGetter``: the hash of the *perfect*
subtree of ``2**level`` leaves starting at leaf ``index << level``. A log that stores
every such subtree once it is complete answers a root of any past size, an inclusion
proof or a consistency proof from O(log n) of them (``nodes_needed`` lists which, so
a database can fetch them in one query), never from a pass over the leaves.

Proof generation follows RFC 9162 §2.1.3.1 (PATH) and §2.1.4.1 (SUBPROOF);
verification follows §2.1.3.2 and §2.1.4.2 step by step.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence

from registry.errors import LogProofError, OutOfRange

__all__ = [
    "EMPTY_ROOT",
    "NodeGetter",
    "consistency_proof",
    "inclusion_nodes",
    "inclusion_proof",
    "leaf_hash",
    "node_hash",
    "nodes_needed",
    "root_hash",
    "subtree_hash",
    "verify_consistency",
    "verify_inclusion",
]

EMPTY_ROOT = hashlib.sha256(b"").digest()
"""The root of the empty tree: SHA-256 of nothing."""

NodeGetter = Callable[[int, int], bytes]
"""``(level, index)`` -> hash of the perfect subtree of ``2**level`` leaves from
leaf ``index << level``."""


def leaf_hash(data: bytes) -> bytes:
    """SHA-256(0x00 || data)."""
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """SHA-256(0x01 || left || right)."""
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(size: int) -> int:
    # The largest power of two smaller than size (size >= 2).
    return 1 << ((size - 1).bit_length() - 1)


def subtree_hash(
    get: NodeGetter, start: int, end: int, memo: dict[tuple[int, int], bytes] | None = None
) -> bytes:
    """MTH(D[start:end]) for a range the RFC's recursion produces (``start`` aligned).

    ``memo`` keeps the hashes computed for ranges that are not perfect subtrees:
    proofs in one tree share them (they all end at its right edge)."""
    size = end - start
    if size <= 0:
        raise OutOfRange("an empty range has no subtree hash")
    if size & (size - 1) == 0:
        level = size.bit_length() - 1
        return get(level, start >> level)
    if memo is not None and (start, end) in memo:
        return memo[(start, end)]
    k = _split(size)
    value = node_hash(
        subtree_hash(get, start, start + k, memo), subtree_hash(get, start + k, end, memo)
    )
    if memo is not None:
        memo[(start, end)] = value
    return value


def root_hash(get: NodeGetter, size: int) -> bytes:
    """The root of the tree of the first ``size`` leaves."""
    if size < 0:
        raise OutOfRange("a tree size cannot be negative")
    return EMPTY_ROOT if size == 0 else subtree_hash(get, 0, size)


def inclusion_proof(
    get: NodeGetter, index: int, size: int, memo: dict[tuple[int, int], bytes] | None = None
) -> list[bytes]:
    """The audit path of leaf ``index`` in the tree of ``size`` leaves (RFC 9162 PATH).

    ``memo``, shared by proofs in the same tree of ``size``, is as for ``subtree_hash``.
    """
    if not 0 <= index < size:
        raise OutOfRange(f"leaf {index} is not in a tree of {size} leaves")

    def path(m: int, start: int, end: int) -> list[bytes]:
        n = end - start
        if n == 1:
            return []
        k = _split(n)
        if m < k:
            return [*path(m, start, start + k), subtree_hash(get, start + k, end, memo)]
        return [*path(m - k, start + k, end), subtree_hash(get, start, start + k, memo)]

    return path(index, 0, size)


def inclusion_nodes(index: int, size: int) -> list[tuple[int, int]]:
    """The stored nodes (level, index) ``inclusion_proof`` reads for leaf ``index`` in
    the tree of ``size``: what ``nodes_needed`` finds by a dry run, without one."""
    if not 0 <= index < size:
        raise OutOfRange(f"leaf {index} is not in a tree of {size} leaves")
    nodes: list[tuple[int, int]] = []
    m, start, end = index, 0, size
    while end - start > 1:
        k = _split(end - start)
        if m < k:
            nodes += _perfect_parts(start + k, end)
            end = start + k
        else:
            nodes += _perfect_parts(start, start + k)
            start, m = start + k, m - k
    return nodes


def _perfect_parts(start: int, end: int) -> list[tuple[int, int]]:
    # The perfect subtrees subtree_hash reads for [start, end): a run of halvings.
    parts = []
    while (size := end - start) & (size - 1):
        k = _split(size)
        level = k.bit_length() - 1
        parts.append((level, start >> level))
        start += k
    level = size.bit_length() - 1
    parts.append((level, start >> level))
    return parts


def consistency_proof(get: NodeGetter, first: int, second: int) -> list[bytes]:
    """The proof that the tree of ``first`` leaves is a prefix of that of ``second``."""
    if not 0 <= first <= second:
        raise OutOfRange(f"no consistency proof from {first} to {second} leaves")
    if first in (0, second):
        return []

    def subproof(m: int, start: int, end: int, whole: bool) -> list[bytes]:
        n = end - start
        if m == n:
            return [] if whole else [subtree_hash(get, start, end)]
        k = _split(n)
        if m <= k:
            return [*subproof(m, start, start + k, whole), subtree_hash(get, start + k, end)]
        return [*subproof(m - k, start + k, end, False), subtree_hash(get, start, start + k)]

    return subproof(first, 0, second, True)


def nodes_needed(compute: Callable[[NodeGetter], object]) -> set[tuple[int, int]]:
    """The stored nodes ``compute`` reads, found by a dry run: fetch them, then compute."""
    seen: set[tuple[int, int]] = set()

    def record(level: int, index: int) -> bytes:
        seen.add((level, index))
        return EMPTY_ROOT

    compute(record)
    return seen


def _check_hashes(values: Sequence[bytes], what: str) -> None:
    if any(len(value) != len(EMPTY_ROOT) for value in values):
        raise LogProofError(f"{what}: every hash has 32 bytes")


def verify_inclusion(
    leaf: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes
) -> None:
    """Check that ``leaf`` (a leaf hash) is at ``index`` in the tree ``root`` of ``size``.

    RFC 9162 §2.1.3.2. Raises ``LogProofError`` if it is not.
    """
    _check_hashes([leaf, root, *proof], "inclusion proof")
    if not 0 <= index < size:
        raise LogProofError(f"leaf {index} cannot be in a tree of {size} leaves")
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            raise LogProofError("the inclusion proof is longer than the path")
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            r = node_hash(r, p)
        fn, sn = fn >> 1, sn >> 1
    if sn != 0:
        raise LogProofError("the inclusion proof is shorter than the path")
    if r != root:
        raise LogProofError(f"leaf {index} does not lead to the root of size {size}")


def _trivially_consistent(
    first: int, second: int, first_root: bytes, second_root: bytes, proof: Sequence[bytes]
) -> bool:
    if not 0 <= first <= second:
        raise LogProofError(f"a tree of {first} leaves cannot precede one of {second}")
    if first == 0:
        if proof or first_root != EMPTY_ROOT or (second == 0 and second_root != EMPTY_ROOT):
            raise LogProofError("the empty tree has the empty root and an empty proof")
        return True
    if first == second:
        if proof or first_root != second_root:
            raise LogProofError("equal sizes need equal roots and an empty proof")
        return True
    if not proof:
        raise LogProofError("the consistency proof is empty")
    return False


def verify_consistency(
    first: int, second: int, first_root: bytes, second_root: bytes, proof: Sequence[bytes]
) -> None:
    """Check that the tree ``first_root`` of ``first`` leaves is a prefix of ``second_root``.

    RFC 9162 §2.1.4.2. Raises ``LogProofError`` if it is not.
    """
    _check_hashes([first_root, second_root, *proof], "consistency proof")
    if _trivially_consistent(first, second, first_root, second_root, proof):
        return
    path = [first_root, *proof] if first & (first - 1) == 0 else list(proof)
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            raise LogProofError("the consistency proof is longer than the path")
        if fn & 1 or fn == sn:
            fr, sr = node_hash(c, fr), node_hash(c, sr)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            sr = node_hash(sr, c)
        fn, sn = fn >> 1, sn >> 1
    if sn != 0:
        raise LogProofError("the consistency proof is shorter than the path")
    if fr != first_root or sr != second_root:
        raise LogProofError(f"the tree of {first} leaves is not a prefix of that of {second}")
