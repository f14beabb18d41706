"""RFC 9162 Merkle tree: the frontier's root, inclusion proofs."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from audit.merkle import Frontier, inclusion_proof, tree_hash, verify_inclusion


def _leaves(n: int) -> list[bytes]:
    return [hashlib.sha256(b"\x00" + str(i).encode()).digest() for i in range(n)]


@pytest.mark.parametrize("n", list(range(0, 40)))
def test_the_frontier_root_equals_the_recursive_tree_hash(n: int) -> None:
    frontier = Frontier("sha256")
    leaves = _leaves(n)
    for leaf in leaves:
        frontier.append(leaf)
    assert frontier.root() == tree_hash("sha256", leaves)


def test_the_empty_tree_hashes_the_empty_string() -> None:
    assert Frontier("sha256").root() == hashlib.sha256(b"").digest()


def test_a_frontier_resumes_from_its_stored_nodes() -> None:
    leaves = _leaves(13)
    first = Frontier("sha256")
    for leaf in leaves[:9]:
        first.append(leaf)
    resumed = Frontier.from_hex("sha256", first.size, first.to_hex())
    for leaf in leaves[9:]:
        resumed.append(leaf)
    assert resumed.root() == tree_hash("sha256", leaves)


@given(st.integers(min_value=1, max_value=70), st.data())
def test_every_inclusion_proof_verifies_and_a_wrong_leaf_does_not(
    n: int, data: st.DataObject
) -> None:
    leaves = _leaves(n)
    index = data.draw(st.integers(min_value=0, max_value=n - 1))
    root = tree_hash("sha256", leaves)
    proof = inclusion_proof("sha256", index, leaves)
    assert verify_inclusion("sha256", index, n, leaves[index], proof, root)
    assert not verify_inclusion("sha256", index, n, b"\x01" * 32, proof, root)


def test_sm3_trees_differ_from_sha256_trees() -> None:
    leaves = _leaves(5)
    assert tree_hash("sm3", leaves) != tree_hash("sha256", leaves)
