"""RFC 9162 Merkle trees: the RFC 6962 reference vectors and a naive reference tree."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from registry.errors import LogProofError, OutOfRange
from registry.tlog.merkle import (
    EMPTY_ROOT,
    NodeGetter,
    consistency_proof,
    inclusion_nodes,
    inclusion_proof,
    leaf_hash,
    node_hash,
    nodes_needed,
    root_hash,
    verify_consistency,
    verify_inclusion,
)

# The eight leaves and roots of the RFC 6962 reference tests (Certificate
# Transparency's merkle_tree_test, carried on in transparency-dev/merkle).
LEAVES = [bytes.fromhex(h) for h in (
    "", "00", "10", "2021", "3031", "40414243", "5051525354555657",
    "606162636465666768696a6b6c6d6e6f",
)]  # fmt: skip
ROOTS = [bytes.fromhex(h) for h in (
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
)]  # fmt: skip
# (leaf index, tree size, path): the intermediate nodes of the reference tree.
INCLUSION = [
    (0, 8, ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"]),
    (5, 8, ["bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"]),
    (2, 3, ["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"]),
    (1, 5, ["6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"]),
]  # fmt: skip
CONSISTENCY = [
    (1, 8, ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"]),
    (6, 8, ["0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"]),
    (2, 5, ["5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"]),
]  # fmt: skip


class Reference:
    """The tree exactly as RFC 9162 §2.1.1 defines MTH, over a list of leaf hashes."""

    def __init__(self, leaves: list[bytes]) -> None:
        self.hashes = [leaf_hash(leaf) for leaf in leaves]

    def mth(self, start: int, end: int) -> bytes:
        n = end - start
        if n == 0:
            return hashlib.sha256(b"").digest()
        if n == 1:
            return self.hashes[start]
        k = 1
        while k * 2 < n:
            k *= 2
        return node_hash(self.mth(start, start + k), self.mth(start + k, end))

    def getter(self) -> NodeGetter:
        """Perfect subtrees, each computed from the leaves: what a log stores."""
        return lambda level, index: self.mth(index << level, (index + 1) << level)


def _hex(values: list[bytes]) -> list[str]:
    return [value.hex() for value in values]


def test_the_reference_roots() -> None:
    get = Reference(LEAVES).getter()
    assert [root_hash(get, size) for size in range(9)] == ROOTS
    assert ROOTS[0] == EMPTY_ROOT


@pytest.mark.parametrize(("index", "size", "path"), INCLUSION)
def test_the_reference_inclusion_proofs(index: int, size: int, path: list[str]) -> None:
    get = Reference(LEAVES).getter()
    assert _hex(inclusion_proof(get, index, size)) == path
    proof = [bytes.fromhex(h) for h in path]
    verify_inclusion(leaf_hash(LEAVES[index]), index, size, proof, ROOTS[size])
    probes = [
        (index ^ 1, size, proof, ROOTS[size]),
        (index, size * 2, proof, ROOTS[size]),
        (index, size, proof, ROOTS[size - 1]),
        (index, size, [*proof, ROOTS[size]], ROOTS[size]),
        (index, size, proof[:-1], ROOTS[size]),
        (index, size, [bytes([proof[0][0] ^ 8]) + proof[0][1:], *proof[1:]], ROOTS[size]),
    ]
    for probe_index, probe_size, probe_proof, probe_root in probes:
        with pytest.raises(LogProofError):
            verify_inclusion(
                leaf_hash(LEAVES[index]), probe_index, probe_size, probe_proof, probe_root
            )


@pytest.mark.parametrize(("first", "second", "path"), CONSISTENCY)
def test_the_reference_consistency_proofs(first: int, second: int, path: list[str]) -> None:
    get = Reference(LEAVES).getter()
    assert _hex(consistency_proof(get, first, second)) == path
    proof = [bytes.fromhex(h) for h in path]
    verify_consistency(first, second, ROOTS[first], ROOTS[second], proof)
    probes = [
        (first - 1, second, ROOTS[first], ROOTS[second], proof),
        (first, second, ROOTS[second], ROOTS[first], proof),
        (first, second, ROOTS[first], ROOTS[second], []),
        (first, second, ROOTS[first], ROOTS[second], [*proof, ROOTS[first]]),
        (first, second, ROOTS[first], ROOTS[second], proof[:-1]),
        (first, second, ROOTS[first], ROOTS[second], [ROOTS[second], *proof]),
    ]
    for probe in probes:
        with pytest.raises(LogProofError):
            verify_consistency(*probe)


def test_out_of_range_requests() -> None:
    get = Reference(LEAVES).getter()
    for bad in ((8, 8), (-1, 8), (0, 0)):
        with pytest.raises(OutOfRange):
            inclusion_proof(get, *bad)
    with pytest.raises(OutOfRange):
        consistency_proof(get, 5, 4)
    with pytest.raises(LogProofError):
        verify_consistency(5, 4, ROOTS[5], ROOTS[4], [])
    assert consistency_proof(get, 0, 8) == consistency_proof(get, 8, 8) == []
    verify_consistency(0, 8, ROOTS[0], ROOTS[8], [])
    verify_consistency(8, 8, ROOTS[8], ROOTS[8], [])
    verify_consistency(0, 0, ROOTS[0], ROOTS[0], [])
    for first_root, second_root, second in ((ROOTS[3], ROOTS[8], 8), (ROOTS[3], ROOTS[3], 0)):
        with pytest.raises(LogProofError, match="empty root"):
            verify_consistency(0, second, first_root, second_root, [])


def _leaves(count: int) -> list[bytes]:
    return [i.to_bytes(4, "big") for i in range(count)]


def _check_everything(size: int) -> None:
    reference = Reference(_leaves(size))
    get = reference.getter()
    root = root_hash(get, size)
    assert root == reference.mth(0, size)
    for index in range(size):
        proof = inclusion_proof(get, index, size)
        verify_inclusion(reference.hashes[index], index, size, proof, root)
    for first in range(size + 1):
        proof = consistency_proof(get, first, size)
        verify_consistency(first, size, reference.mth(0, first), root, proof)


@pytest.mark.parametrize("size", range(1, 65))
def test_every_size_up_to_64(size: int) -> None:
    _check_everything(size)


@settings(max_examples=40, deadline=None)
@given(size=st.integers(min_value=65, max_value=3000), data=st.data())
def test_random_larger_trees(size: int, data: st.DataObject) -> None:
    reference = Reference(_leaves(size))
    memo: dict[tuple[int, int], bytes] = {}

    def get(level: int, index: int) -> bytes:
        if (level, index) not in memo:
            memo[(level, index)] = reference.mth(index << level, (index + 1) << level)
        return memo[(level, index)]

    index = data.draw(st.integers(min_value=0, max_value=size - 1))
    first = data.draw(st.integers(min_value=1, max_value=size))
    second = data.draw(st.integers(min_value=first, max_value=size))
    root = root_hash(get, second)
    if index < second:
        verify_inclusion(
            reference.hashes[index], index, second, inclusion_proof(get, index, second), root
        )
    proof = consistency_proof(get, first, second)
    verify_consistency(first, second, root_hash(get, first), root, proof)
    # O(log n): a proof reads at most about two nodes per level.
    reads = nodes_needed(lambda g: consistency_proof(g, first, second))
    assert len(reads) <= 2 * second.bit_length() + 2


@settings(max_examples=300, deadline=None)
@given(size=st.integers(min_value=1, max_value=2**40), data=st.data())
def test_inclusion_nodes_are_those_a_proof_reads(size: int, data: st.DataObject) -> None:
    index = data.draw(st.integers(min_value=0, max_value=size - 1))
    read = nodes_needed(lambda get: inclusion_proof(get, index, size))
    listed = inclusion_nodes(index, size)
    assert set(listed) == read
    assert len(listed) == len(read)  # each once


@settings(max_examples=40, deadline=None)
@given(size=st.integers(min_value=2, max_value=3000), data=st.data())
def test_proofs_sharing_a_memo_are_the_proofs(size: int, data: st.DataObject) -> None:
    get = Reference(_leaves(size)).getter()
    indexes = data.draw(st.lists(st.integers(min_value=0, max_value=size - 1), max_size=8))
    memo: dict[tuple[int, int], bytes] = {}
    for index in indexes:
        assert inclusion_proof(get, index, size, memo) == inclusion_proof(get, index, size)
    with pytest.raises(OutOfRange):
        inclusion_nodes(size, size)
