"""RFC 6962 Merkle trees against the published certificate-transparency /
transparency-dev test vectors (proof/verify_test.go), and proof tampering."""

from __future__ import annotations

import hashlib

import pytest

from masker.audit.merkle import (
    EMPTY_ROOT,
    CompactRange,
    inclusion_proof,
    leaf_hash,
    node_hash,
    root,
    root_from_inclusion_proof,
    verify_inclusion,
)

LEAVES = [bytes.fromhex(h) for h in ("", "00", "10", "2021", "3031", "40414243", "5051525354555657",
                                     "606162636465666768696a6b6c6d6e6f")]
ROOTS = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]
# (leaf index, tree size, proof); the upstream file numbers leaves from 1.
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
]
HASHES = [leaf_hash(x) for x in LEAVES]


def test_empty_tree_root_is_sha256_of_nothing() -> None:
    assert root([]) == EMPTY_ROOT == hashlib.sha256(b"").digest()
    assert EMPTY_ROOT.hex() == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"


@pytest.mark.parametrize("size", range(1, 9))
def test_roots_match_rfc6962_vectors(size: int) -> None:
    assert root(HASHES[:size]).hex() == ROOTS[size - 1]


def test_prefixes_are_domain_separated() -> None:
    assert leaf_hash(b"") != hashlib.sha256(b"").digest()
    assert node_hash(b"a" * 32, b"b" * 32) == hashlib.sha256(b"\x01" + b"a" * 32 + b"b" * 32).digest()


@pytest.mark.parametrize(("index", "size", "proof"), INCLUSION)
def test_inclusion_proofs_match_vectors(index: int, size: int, proof: list[str]) -> None:
    expected = [bytes.fromhex(p) for p in proof]
    assert inclusion_proof(HASHES[:size], index) == expected
    assert verify_inclusion(HASHES[index], index, size, expected, bytes.fromhex(ROOTS[size - 1]))


@pytest.mark.parametrize(("index", "size", "proof"), INCLUSION)
def test_corrupted_inclusion_proofs_fail(index: int, size: int, proof: list[str]) -> None:
    good = [bytes.fromhex(p) for p in proof]
    r, leaf = bytes.fromhex(ROOTS[size - 1]), HASHES[index]
    bad_cases = [
        (leaf, index - 1, size, good), (leaf, index + 1, size, good), (leaf, index ^ 2, size, good),
        (leaf, index, size * 2, good), (leaf, index, size // 2, good),
        (leaf_hash(b"WrongLeaf"), index, size, good),
        (leaf, index, size, good + [b""]), (leaf, index, size, good + [r]),
        (leaf, index, size, [b""] + good), (leaf, index, size, [r] + good),
        (leaf, index, size, good[:-1]),  # truncated
        (leaf, index, size, good[:1] + [b"\xab" * 32] + good[1:]),  # inserted
    ]
    for i in range(len(good)):
        flipped = list(good)
        flipped[i] = bytes([flipped[i][0] ^ 8]) + flipped[i][1:]
        bad_cases.append((leaf, index, size, flipped))
    for case in bad_cases:
        assert not verify_inclusion(case[0], case[1], case[2], case[3], r), case[1:3]
    assert not verify_inclusion(leaf, index, size, good, EMPTY_ROOT)


def test_every_leaf_of_every_size_proves_and_compact_range_agrees() -> None:
    leaves = [leaf_hash(bytes([i, i * 7 % 256])) for i in range(40)]
    tree = CompactRange()
    for n in range(1, len(leaves) + 1):
        tree.append(leaves[n - 1])
        r = root(leaves[:n])
        # reference recursion (RFC 6962 MTH) for the root itself
        assert tree.root() == r == _mth(leaves[:n])
        for i in range(n):
            proof = inclusion_proof(leaves[:n], i)
            assert root_from_inclusion_proof(leaves[i], i, n, proof) == r
            if i + 1 < n:
                assert not verify_inclusion(leaves[i], i + 1, n, proof, r)


def _mth(hashes: list[bytes]) -> bytes:
    if len(hashes) == 1:
        return hashes[0]
    k = 1
    while k * 2 < len(hashes):
        k *= 2
    return node_hash(_mth(hashes[:k]), _mth(hashes[k:]))


def test_compact_range_rejects_a_range_of_the_wrong_shape() -> None:
    with pytest.raises(ValueError):
        CompactRange(3, [b"\x00" * 32])  # 3 leaves need two subtree roots
    with pytest.raises(IndexError):
        inclusion_proof(HASHES[:3], 3)
