"""Subtree hashes kept in memory: the large ones that nearly every proof reads.

A stored subtree hash never changes (a log only grows, and a node is stored once its
subtree is complete), so it can be kept for the life of the process. The large
subtrees are few and shared: of the 24 hashes an inclusion proof reads in a log of
250,000 entries, about half cover 64 entries or more, and a few thousand such
nodes serve every proof in it. The small ones are many and rarely read twice, so
they are not kept.
"""

from __future__ import annotations

from collections.abc import Collection

from sqlmodel import Session

from registry.tlog.sequencer import load_nodes_of

__all__ = ["SubtreeCache"]


class SubtreeCache:
    """Subtree hashes of ``2**min_level`` entries or more, by (authority, level,
    index), up to ``limit`` of them (once full, it keeps what it has).

    Safe to share between threads: a lookup or an update of the dictionary is
    atomic, and two threads storing one node store the same hash.
    """

    def __init__(self, *, min_level: int = 6, limit: int = 200_000) -> None:
        self._min_level = min_level
        self._limit = limit
        self._nodes: dict[tuple[str, int, int], bytes] = {}

    def __len__(self) -> int:
        return len(self._nodes)

    def clear(self) -> None:
        """Forget every hash (a proof built from them failed its check)."""
        self._nodes.clear()

    def load(
        self, session: Session, keys: Collection[tuple[str, int, int]]
    ) -> dict[tuple[str, int, int], bytes]:
        """The hashes of ``keys``, those not kept read in one query (as
        ``load_nodes_of``, which raises ``NotFound`` if any is not stored)."""
        nodes = self._nodes
        found = {key: value for key in keys if (value := nodes.get(key)) is not None}
        if len(found) == len(keys):
            return found
        read = load_nodes_of(session, [key for key in keys if key not in found])
        if len(nodes) < self._limit:
            nodes.update((key, value) for key, value in read.items() if key[1] >= self._min_level)
        found.update(read)
        return found
