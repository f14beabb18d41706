"""RFC 9162 Merkle tree hashes over the sealed events' leaf hashes.

Leaves are the seals' ``entry_hash`` (already ``HASH(0x00 || entry)``);
interior nodes are ``HASH(0x01 || left || right)``. A :class:`Frontier`
holds the roots of the perfect subtrees of the tree so far (its compact
range), so a tree head can be extended one leaf at a time without keeping
the whole tree.
"""

from __future__ import annotations

from .canonical import digest


def node_hash(algorithm: str, left: bytes, right: bytes) -> bytes:
    return digest(algorithm, b"\x01" + left + right)


def empty_root(algorithm: str) -> bytes:
    """The root of the empty tree: the hash of the empty string."""
    return digest(algorithm, b"")


class Frontier:
    """The compact range of a growing Merkle tree: one subtree root per set
    bit of its size, largest first."""

    def __init__(self, algorithm: str, size: int = 0, nodes: list[bytes] | None = None) -> None:
        self.algorithm = algorithm
        self.size = size
        self.nodes: list[bytes] = list(nodes or [])
        if len(self.nodes) != bin(size).count("1"):
            raise ValueError("a frontier has one node per set bit of its size")

    @classmethod
    def from_hex(cls, algorithm: str, size: int, nodes: list[str]) -> Frontier:
        return cls(algorithm, size, [bytes.fromhex(n) for n in nodes])

    def to_hex(self) -> list[str]:
        return [n.hex() for n in self.nodes]

    def append(self, leaf: bytes) -> None:
        """Add the next leaf, merging equal-sized subtrees as a binary counter carries."""
        node = leaf
        size = self.size
        while size & 1:
            node = node_hash(self.algorithm, self.nodes.pop(), node)
            size >>= 1
        self.nodes.append(node)
        self.size += 1

    def root(self) -> bytes:
        """The RFC 9162 Merkle Tree Hash of the leaves so far."""
        if not self.nodes:
            return empty_root(self.algorithm)
        acc = self.nodes[-1]
        for node in reversed(self.nodes[:-1]):
            acc = node_hash(self.algorithm, node, acc)
        return acc


def tree_hash(algorithm: str, leaves: list[bytes]) -> bytes:
    """MTH(D[n]) by the RFC's recursive definition (used for proofs and tests)."""
    n = len(leaves)
    if n == 0:
        return empty_root(algorithm)
    if n == 1:
        return leaves[0]
    k = 1 << ((n - 1).bit_length() - 1)
    return node_hash(algorithm, tree_hash(algorithm, leaves[:k]), tree_hash(algorithm, leaves[k:]))


def inclusion_proof(algorithm: str, index: int, leaves: list[bytes]) -> list[bytes]:
    """PATH(m, D[n]) of RFC 9162 section 2.1.3.1, for the leaf at ``index``."""
    n = len(leaves)
    if not 0 <= index < n:
        raise IndexError("leaf index outside the tree")
    if n == 1:
        return []
    k = 1 << ((n - 1).bit_length() - 1)
    if index < k:
        return [*inclusion_proof(algorithm, index, leaves[:k]), tree_hash(algorithm, leaves[k:])]
    return [*inclusion_proof(algorithm, index - k, leaves[k:]), tree_hash(algorithm, leaves[:k])]


def verify_inclusion(
    algorithm: str, index: int, size: int, leaf: bytes, proof: list[bytes], root: bytes
) -> bool:
    """Check an inclusion proof as RFC 9162 section 2.1.3.2 describes."""
    if index >= size:
        return False
    fn, sn = index, size - 1
    r = leaf
    for p in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(algorithm, p, r)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(algorithm, r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root
