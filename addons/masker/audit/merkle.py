"""Merkle trees per RFC 6962 / RFC 9162 section 2.1.

leaf = SHA-256(0x00 || data), node = SHA-256(0x01 || left || right), a tree of
n leaves splits at the largest power of two below n, and the last node is
never duplicated. ``CompactRange`` keeps only the roots of the perfect
subtrees that make up a prefix, so a journal can maintain its root while
appending and a pruned journal can still prove the root of its full history.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

HASH_LEN = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()


def leaf_hash(data: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(n: int) -> int:
    """Largest power of two strictly below n (n >= 2)."""
    return 1 << ((n - 1).bit_length() - 1)


def root(leaves: Sequence[bytes]) -> bytes:
    """Merkle tree hash of a list of *leaf hashes*."""
    tree = CompactRange()
    for h in leaves:
        tree.append(h)
    return tree.root()


def inclusion_proof(leaves: Sequence[bytes], index: int) -> list[bytes]:
    """RFC 6962 PATH(index, leaves) over leaf hashes, leaf-to-root order."""
    if not 0 <= index < len(leaves):
        raise IndexError(f"leaf {index} not in a tree of {len(leaves)}")
    lo, hi = 0, len(leaves)
    # Walk down from the root, remembering the sibling subtree at each level.
    siblings: list[bytes] = []
    while hi - lo > 1:
        k = _split(hi - lo)
        if index < lo + k:
            siblings.append(root(leaves[lo + k : hi]))
            hi = lo + k
        else:
            siblings.append(root(leaves[lo : lo + k]))
            lo = lo + k
    return siblings[::-1]


def root_from_inclusion_proof(leaf: bytes, index: int, size: int, proof: Sequence[bytes]) -> bytes | None:
    """The root a proof implies (RFC 9162 2.1.3.2), or None if it is malformed."""
    if not 0 <= index < size or len(leaf) != HASH_LEN:
        return None
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0 or len(p) != HASH_LEN:
            return None
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return r if sn == 0 else None


def verify_inclusion(leaf: bytes, index: int, size: int, proof: Sequence[bytes], expected_root: bytes) -> bool:
    return root_from_inclusion_proof(leaf, index, size, proof) == expected_root


class CompactRange:
    """Roots of the perfect subtrees covering leaves [0, size), largest first."""

    __slots__ = ("size", "hashes")

    def __init__(self, size: int = 0, hashes: Sequence[bytes] = ()) -> None:
        if len(hashes) != bin(size).count("1") or any(len(h) != HASH_LEN for h in hashes):
            raise ValueError("compact range does not match its size")
        self.size = size
        self.hashes = list(hashes)

    def append(self, leaf: bytes) -> None:
        self.hashes.append(leaf)
        self.size += 1
        s = self.size
        while not s & 1:  # each trailing zero of the new size merges two subtrees
            right = self.hashes.pop()
            self.hashes[-1] = node_hash(self.hashes[-1], right)
            s >>= 1

    def root(self) -> bytes:
        if not self.hashes:
            return EMPTY_ROOT
        r = self.hashes[-1]
        for h in reversed(self.hashes[:-1]):
            r = node_hash(h, r)
        return r

    def copy(self) -> CompactRange:
        return CompactRange(self.size, self.hashes)
