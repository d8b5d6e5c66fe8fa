"""A log in the C2SP ``tlog-tiles`` layout: hash tiles and entry bundles, read from
what the log already stores.

The tiles of a log at ``<prefix>`` (here ``<node>/v1/logs/<CN-xx>``) are
``<prefix>/tile/<L>/<N>`` and ``<prefix>/tile/entries/<N>``, a partial one with
``.p/<W>`` after it; ``N`` is written in groups of three digits, each but the last
prefixed with ``x`` (1234067 is ``x001/x234/067``).

- Hash ``i`` of the hash tile at level ``L`` and index ``N`` is the root of the
  perfect subtree of ``256**L`` leaves from leaf ``(256 N + i) * 256**L``: the node
  the log stores at level ``8 L`` and index ``256 N + i`` (``LogNode`` holds every
  complete perfect subtree, level 0 being the leaf hashes). A full tile holds 256
  hashes (8,192 bytes); a partial one of width ``W`` the first ``W`` of them. A tile
  is served once the log holds all of its hashes: for a tree of ``s`` entries,
  ``256 N + W <= s // 256**L``.
- The entry bundle at ``N`` holds entries ``256 N`` onwards, each as its leaf's bytes
  (the credential's canonical JSON) after their length as a big-endian 16-bit
  integer: an entry of the log is therefore at most 65,535 bytes
  (``MAX_ENTRY_BYTES``, which appending enforces).

Nothing here writes; everything reads one range of one table's primary key.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import sqlalchemy as sa
from sqlmodel import Session, col, select

from registry.errors import Inconsistency, NotFound
from registry.storage.credentials import canonicals_by_id
from registry.storage.db import PREPARED
from registry.storage.models import LogEntry, LogHead, LogNode
from registry.tlog.reader import get_log
from registry.tlog.sequencer import MAX_ENTRY_BYTES

__all__ = [
    "MAX_ENTRY_BYTES",
    "TILE_HEIGHT",
    "TILE_WIDTH",
    "TilePath",
    "bundle_path",
    "entry_bundle",
    "hash_tile",
    "parse_tile_path",
    "read_bundle",
    "tile_index",
]

TILE_HEIGHT = 8
TILE_WIDTH = 1 << TILE_HEIGHT
"""Hashes (or entries) in a full tile: 256."""

_GROUP = re.compile(r"^x\d{3}$")
_LAST = re.compile(r"^\d{3}$")
_NUMBER = re.compile(r"^(0|[1-9]\d*)$")
_MAX_LEVEL = 63


@dataclass(frozen=True)
class TilePath:
    """A tile as its path names it: ``level`` (``None`` for an entry bundle), its
    ``index``, and ``width`` for a partial tile (``None`` for a full one)."""

    level: int | None
    index: int
    width: int | None

    @property
    def count(self) -> int:
        """How many hashes or entries it holds."""
        return TILE_WIDTH if self.width is None else self.width


def tile_index(index: int) -> str:
    """``N`` as a path: zero-padded groups of three digits, all but the last after an
    ``x`` (0 is ``000``, 1000 is ``x001/000``)."""
    if index < 0:
        raise ValueError("a tile index is not negative")
    groups = [f"{index % 1000:03d}"]
    index //= 1000
    while index:
        groups.append(f"x{index % 1000:03d}")
        index //= 1000
    return "/".join(reversed(groups))


def parse_tile_path(kind: str, rest: str) -> TilePath:
    """The tile that ``tile/<kind>/<rest>`` names, ``kind`` being a level (decimal, no
    leading zero, 0 to 63) or ``entries``, and ``rest`` its index, then ``.p/<W>`` for
    a partial tile (``W`` from 1 to 255, no leading zero). Raises ``NotFound`` for any
    other path, a non-canonical spelling of one included: each tile has one name."""
    level: int | None = None
    if kind != "entries":
        if not _NUMBER.match(kind) or int(kind) > _MAX_LEVEL:
            raise NotFound(f"no tile level {kind!r}")
        level = int(kind)
    width: int | None = None
    if ".p/" in rest:
        rest, _, spelled = rest.partition(".p/")
        if not _NUMBER.match(spelled) or not 0 < int(spelled) < TILE_WIDTH:
            raise NotFound(f"no partial tile of width {spelled!r}")
        width = int(spelled)
    groups = rest.split("/")
    if not _LAST.match(groups[-1]) or not all(_GROUP.match(g) for g in groups[:-1]):
        raise NotFound(f"no tile index {rest!r}")
    index = int("".join(group.removeprefix("x") for group in groups))
    if tile_index(index) != rest:  # "x000/001" for 1, say
        raise NotFound(f"the tile index {rest!r} is spelled {tile_index(index)!r}")
    return TilePath(level=level, index=index, width=width)


def _held(session: Session, authority: str, tile: TilePath, level: int) -> int:
    """The first item of ``tile`` (at tree level ``level``), once the log holds all of
    its items; raises ``NotFound`` before."""
    size = get_log(session, authority).size
    first = tile.index * TILE_WIDTH
    if first + tile.count > size >> level:
        raise NotFound(f"the log of {authority} ({size} entries) has no such tile yet")
    return first


_NODES = (
    sa.select(col(LogHead.size), col(LogNode.hash))
    .select_from(LogHead)
    .outerjoin(
        LogNode,
        sa.and_(
            col(LogNode.authority_code) == col(LogHead.authority_code),
            col(LogNode.level) == sa.bindparam("level"),
            col(LogNode.node_index) >= sa.bindparam("first"),
            col(LogNode.node_index) < sa.bindparam("end"),
        ),
    )
    .where(col(LogHead.authority_code) == sa.bindparam("authority"))
    .order_by(col(LogNode.node_index))
    .execution_options(**PREPARED)
)
"""The log's size and a range of its nodes at one level, in one statement (one
snapshot): a tile read is one round trip."""


def hash_tile(session: Session, authority: str, tile: TilePath) -> bytes:
    """The hash tile's bytes: its hashes, 32 bytes each, in order. Raises ``NotFound``
    for a tile the log does not hold whole, ``Inconsistency`` if a node is missing."""
    if tile.level is None:
        raise NotFound("an entry bundle is no hash tile")
    level = tile.level * TILE_HEIGHT
    first = tile.index * TILE_WIDTH
    rows = (
        session.connection()
        .execute(
            _NODES,
            {"authority": authority, "level": level, "first": first, "end": first + tile.count},
        )
        .all()
    )
    if not rows:
        raise NotFound(f"{authority} has no log")
    size = int(rows[0][0])
    if first + tile.count > size >> level:
        raise NotFound(f"the log of {authority} ({size} entries) has no such tile yet")
    hashes = [bytes(row[1]) for row in rows if row[1] is not None]
    if len(hashes) != tile.count:
        raise Inconsistency(
            f"the log of {authority} lacks nodes of level {level} from {first}: audit it"
        )
    return b"".join(hashes)


def bundle_path(index: int, size: int) -> str:
    """The path under ``tile/entries/`` of entry bundle ``index`` of a log of ``size``
    entries: full, or partial (``.p/W``) where the log ends within it."""
    width = min(TILE_WIDTH, size - index * TILE_WIDTH)
    if width <= 0:
        raise ValueError(f"a log of {size} entries has no entry bundle {index}")
    return tile_index(index) + (f".p/{width}" if width < TILE_WIDTH else "")


def read_bundle(body: bytes) -> list[bytes]:
    """The leaves of an entry bundle, each after its big-endian 16-bit length; raises
    ``ValueError`` for a body that is not one."""
    leaves: list[bytes] = []
    at = 0
    while at < len(body):
        if at + 2 > len(body):
            raise ValueError("an entry bundle ends within a length")
        length = int.from_bytes(body[at : at + 2], "big")
        leaf = body[at + 2 : at + 2 + length]
        if len(leaf) != length:
            raise ValueError("an entry bundle ends within an entry")
        leaves.append(leaf)
        at += 2 + length
    return leaves


def entry_bundle(session: Session, authority: str, tile: TilePath) -> bytes:
    """The entry bundle's bytes: each entry's leaf (canonical JSON, UTF-8) after its
    length as a big-endian 16-bit integer. Raises as ``hash_tile``, and
    ``Inconsistency`` for an entry too long to carry (appending refuses one)."""
    if tile.level is not None:
        raise NotFound("a hash tile is no entry bundle")
    first = _held(session, authority, tile, 0)
    ids = session.exec(
        select(LogEntry.credential_id)
        .where(
            col(LogEntry.authority_code) == authority,
            col(LogEntry.leaf_index) >= first,
            col(LogEntry.leaf_index) < first + tile.count,
        )
        .order_by(col(LogEntry.leaf_index))
    ).all()
    if len(ids) != tile.count:
        raise Inconsistency(f"the log of {authority} lacks entries from {first}: audit it")
    canonicals = canonicals_by_id(session, list(ids))
    parts = []
    for credential_id in ids:
        leaf = canonicals[credential_id].encode("utf-8")
        if len(leaf) > MAX_ENTRY_BYTES:
            raise Inconsistency(f"{credential_id} is too long for an entry bundle")
        parts.append(len(leaf).to_bytes(2, "big") + leaf)
    return b"".join(parts)
