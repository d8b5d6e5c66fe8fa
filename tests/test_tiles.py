"""The logs as C2SP ``tlog-tiles``, checked by a client written here from the
specification alone (c2sp.org/tlog-tiles and RFC 6962's hashing), which knows
nothing of the registry but the URLs ``<prefix>/checkpoint`` and ``<prefix>/tile/...``:
the root it rebuilds from the tiles must be the signed checkpoint's."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable, Iterator
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import insert

from api import create_app
from registry.datadir import DataDir
from registry.demo import seed_demo
from registry.errors import InvalidInput, NotFound
from registry.settings import Settings
from registry.storage.db import engine_scope, session_scope
from registry.storage.models import LogHead, LogNode
from registry.tlog.sequencer import append
from registry.tlog.tiles import parse_tile_path, tile_index
from registry.tokens import create_token
from registry.trust.store import NodeProfile
from tests.test_tlog import _credentials

PREFIX = "/v1/logs/CN-SH"

# -- a tlog-tiles client, from the specification ----------------------------------------------


def _leaf(data: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + data).digest()


def _node(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def _mth(hashes: list[bytes]) -> bytes:
    """RFC 6962's Merkle tree hash over hashes already at the bottom of the tree."""
    if len(hashes) == 1:
        return hashes[0]
    split = 1 << ((len(hashes) - 1).bit_length() - 1)
    return _node(_mth(hashes[:split]), _mth(hashes[split:]))


def _path(n: int) -> str:
    """`N`: "zero-padded 3-digit path elements. All but the last path element MUST
    begin with an `x`"."""
    digits = str(n)
    digits = "0" * (-len(digits) % 3) + digits
    groups = [digits[i : i + 3] for i in range(0, len(digits), 3)]
    return "/".join([*("x" + g for g in groups[:-1]), groups[-1]])


def _tile_url(level: int | str, n: int, width: int) -> str:
    return f"tile/{level}/{_path(n)}" + ("" if width == 256 else f".p/{width}")


def _root_from_tiles(size: int, fetch: Callable[[str], bytes]) -> bytes:
    """The root of a tree of ``size`` leaves, from its hash tiles: each perfect
    subtree of the size (largest first) is hashed from the tile at the level it spans,
    and the subtrees are folded right to left."""
    tiles: dict[tuple[int, int], list[bytes]] = {}

    def hashes(level: int, n: int) -> list[bytes]:
        if (level, n) not in tiles:
            width = min(256, (size >> (8 * level)) - 256 * n)
            data = fetch(_tile_url(level, n, width))
            assert len(data) == 32 * width
            tiles[level, n] = [data[i : i + 32] for i in range(0, len(data), 32)]
        return tiles[level, n]

    subtrees = []
    start = 0
    for height in reversed(range(size.bit_length())):
        if not size >> height & 1:
            continue
        level = height // 8
        first = start >> (8 * level)  # the subtree's first hash at that tile level
        count = 1 << (height - 8 * level)
        tile = hashes(level, first // 256)
        subtrees.append(_mth(tile[first % 256 : first % 256 + count]))
        start += 1 << height
    root = subtrees[-1]
    for subtree in reversed(subtrees[:-1]):
        root = _node(subtree, root)
    return root


def _checkpoint(client: TestClient, prefix: str = PREFIX) -> tuple[int, bytes]:
    response = client.get(f"{prefix}/checkpoint")
    assert response.status_code == 200
    _origin, size, root = response.text.split("\n")[:3]
    return int(size), base64.b64decode(root)


def _bundle(data: bytes) -> list[bytes]:
    """An entry bundle: "sequences of big-endian uint16 length-prefixed log entries"."""
    entries, at = [], 0
    while at < len(data):
        length = int.from_bytes(data[at : at + 2], "big")
        entries.append(data[at + 2 : at + 2 + length])
        at += 2 + length
    assert at == len(data)
    return entries


# -- the node ------------------------------------------------------------------------------------


@pytest.fixture
def bare(settings: Settings) -> Iterator[tuple[TestClient, list[bytes], Settings]]:
    """The demo federation's node, its logs empty."""
    key_store = DataDir(settings).key_store()
    with engine_scope(settings.database_url) as engine, session_scope(engine) as session:
        seed_demo(session, key_store, profile=NodeProfile.from_settings(settings))
    with TestClient(create_app(settings)) as client:
        yield client, [], settings


@pytest.fixture
def node(
    bare: tuple[TestClient, list[bytes], Settings],
) -> tuple[TestClient, list[bytes], Settings]:
    """The node with a Shanghai log of 600 credentials, appended 300, 20 and 280 at a
    time (checkpoints at 300, 320 and 600)."""
    client, leaves, settings = bare
    key_store = DataDir(settings).key_store()
    with engine_scope(settings.database_url) as engine:
        for count in (300, 20, 280):
            with session_scope(engine) as session:
                made = _credentials(session, key_store, count, signed_at=datetime.now(UTC))
                append(session, key_store, "CN-SH", made, origin_prefix="registry.yrd.example")
                leaves += [leaf for _, leaf in made]
    return client, leaves, settings


def test_a_tiles_client_rebuilds_the_signed_root(
    node: tuple[TestClient, list[bytes], Settings],
) -> None:
    client, leaves, _ = node
    size, root = _checkpoint(client)
    assert size == 600

    def fetch(path: str) -> bytes:
        response = client.get(f"{PREFIX}/{path}")
        assert response.status_code == 200, (path, response.text)
        assert response.headers["content-type"] == "application/octet-stream"
        return response.content

    assert _root_from_tiles(size, fetch) == root
    # The level-0 tiles are the leaves' hashes; level 1's partial tile, two full tiles'.
    level0 = fetch("tile/0/000") + fetch("tile/0/001") + fetch("tile/0/002.p/88")
    assert level0 == b"".join(_leaf(leaf) for leaf in leaves)
    assert fetch("tile/1/000.p/2") == _mth([_leaf(leaf) for leaf in leaves[:256]]) + _mth(
        [_leaf(leaf) for leaf in leaves[256:512]]
    )
    # A smaller checkpoint's partial tile is served too: a client at size 300 needs it.
    assert fetch("tile/0/001.p/44") == level0[256 * 32 : 300 * 32]
    # A full tile never changes; the checkpoint changes with every append.
    full = client.get(f"{PREFIX}/tile/0/000")
    assert full.headers["cache-control"] == "public, max-age=31536000, immutable"
    partial = client.get(f"{PREFIX}/tile/0/002.p/88")
    assert "immutable" not in partial.headers["cache-control"]
    assert client.get(f"{PREFIX}/checkpoint").headers["cache-control"] == "no-cache"


_NOT_TILES = (
    "tile/0/002",  # not full yet
    "tile/0/002.p/89",  # wider than the log
    "tile/0/003.p/1",
    "tile/1/000",
    "tile/2/000.p/1",  # 600 < 65,536: no level-2 hash yet
    "tile/0/2",  # not three digits
    "tile/0/x000/001",  # 1 spelled with a leading group
    "tile/0/000.p/0",  # an empty tile
    "tile/0/000.p/256",
    "tile/0/000.p/010",
    "tile/00/000",
    "tile/64/000",
    "tile/0/x001",
    "tile/entries/003.p/1",
)


def _federation_token(settings: Settings) -> str:
    with engine_scope(settings.database_url) as engine, session_scope(engine) as session:
        return create_token(session, "federation", name="tiles")[1]


def test_entry_bundles_go_to_other_nodes_only_and_what_is_no_tile_is_404(
    node: tuple[TestClient, list[bytes], Settings],
) -> None:
    client, leaves, settings = node
    federation = {"Authorization": f"Bearer {_federation_token(settings)}"}
    for path in _NOT_TILES:
        response = client.get(f"{PREFIX}/{path}", headers=federation)
        assert response.status_code == 404, (path, response.text)
        assert response.headers["content-type"] == "application/problem+json"
    assert client.get(f"{PREFIX}/tile/entries/000").status_code == 401
    bundles = [
        client.get(f"{PREFIX}/tile/entries/{path}", headers=federation)
        for path in ("000", "001", "002.p/88")
    ]
    assert [b.status_code for b in bundles] == [200] * 3
    assert bundles[0].headers["cache-control"] == "private"
    entries = [entry for bundle in bundles for entry in _bundle(bundle.content)]
    assert entries == leaves
    # Each entry hashes to its hash in the level-0 tiles.
    level0 = b"".join(client.get(f"{PREFIX}/tile/0/{p}").content for p in ("000", "001"))
    assert [_leaf(e) for e in entries[:512]] == [level0[i : i + 32] for i in range(0, 16384, 32)]


def test_a_large_tree_rebuilds_from_tiles_of_three_levels(
    bare: tuple[TestClient, list[bytes], Settings],
) -> None:
    """The specification's example: 70,000 entries make 273 full level-0 tiles, a
    partial one of width 112, a full level-1 tile, a partial one of width 17 and a
    partial level-2 tile of width 1. The tree is written here (as the log keeps it:
    every complete perfect subtree) for a log of Anhui's, with no entries."""
    client, _, settings = bare
    size = 70_000
    levels = [[_leaf(n.to_bytes(4, "big")) for n in range(size)]]
    while len(levels[-1]) > 1:
        below = levels[-1]
        levels.append([_node(below[i], below[i + 1]) for i in range(0, len(below) - 1, 2)])
    root = _mth(levels[0])
    with engine_scope(settings.database_url) as engine, session_scope(engine) as session:
        session.add(
            LogHead(
                authority_code="CN-AH",
                origin="tiles.example/CN-AH",
                size=size,
                root=root,
                updated_at=datetime.now(UTC),
            )
        )
        session.flush()
        rows = [
            {"authority_code": "CN-AH", "level": level, "node_index": index, "hash": value}
            for level, hashes in enumerate(levels)
            for index, value in enumerate(hashes)
        ]
        session.execute(insert(LogNode), rows)
    fetched: list[str] = []

    def fetch(path: str) -> bytes:
        fetched.append(path)
        response = client.get(f"/v1/logs/CN-AH/{path}")
        assert response.status_code == 200, (path, response.text)
        return response.content

    assert _root_from_tiles(size, fetch) == root
    assert sorted(fetched) == ["tile/0/273.p/112", "tile/1/001.p/17", "tile/2/000.p/1"]
    # The full tiles below them hold what the specification says.
    assert fetch("tile/1/000") == b"".join(levels[8][:256])
    assert fetch("tile/0/272") == b"".join(levels[0][272 * 256 : 273 * 256])
    assert fetch("tile/2/000.p/1") == _mth(levels[0][: 256 * 256])


@pytest.mark.parametrize(
    ("index", "path"),
    [(0, "000"), (7, "007"), (999, "999"), (1000, "x001/000"), (1234067, "x001/x234/067")],
)
def test_tile_indexes_are_spelled_as_the_specification_says(index: int, path: str) -> None:
    assert tile_index(index) == path == _path(index)
    assert parse_tile_path("0", path).index == index
    assert parse_tile_path("entries", path + ".p/5").width == 5


def test_a_log_entry_longer_than_an_entry_bundle_can_carry_is_refused(
    bare: tuple[TestClient, list[bytes], Settings],
) -> None:
    _, _, settings = bare
    key_store = DataDir(settings).key_store()
    with engine_scope(settings.database_url) as engine, session_scope(engine) as session:
        (made,) = _credentials(session, key_store, 1, signed_at=datetime.now(UTC))
        with pytest.raises(InvalidInput, match="at most 65,535"):
            append(
                session,
                key_store,
                "CN-SH",
                [(made[0], made[1] + b" " * 65_536)],
                origin_prefix="registry.yrd.example",
            )
    with pytest.raises(NotFound):
        parse_tile_path("entries", "1")
