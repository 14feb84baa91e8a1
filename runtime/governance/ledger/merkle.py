"""RFC 6962 / RFC 9162 Merkle tree hashing, inclusion and consistency proofs.

Why a Merkle tree on top of the hash chain: a chain proves nothing to someone who does not
hold the whole log, and a chain recomputed end to end by whoever controls the database
verifies again. A tree head (size + root) signed and kept outside the store fixes the
first `size` entries for good: a consistency proof shows that today's log extends it
without rewriting any of them, and an inclusion proof shows one entry is in it, each with
O(log n) hashes. The hashing is RFC 6962's exactly (leaf = SHA-256(0x00 || data), node =
SHA-256(0x01 || left || right), split at the largest power of two below n), so any
RFC 6962 / C2SP tlog verifier can check what specops produces.

Everything here works on leaf *hashes* (32 bytes each); `Tree` caches every full aligned
subtree once (n - 1 hashes), after which a root or a proof of any size costs O(log n).
The verification functions need nothing but the proof, the sizes and the roots: they are
what an offline verifier of an evidence bundle runs.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

__all__ = ["EMPTY_ROOT", "ProofError", "Tree", "leaf_hash", "node_hash", "root_of",
           "verify_consistency", "verify_inclusion"]

EMPTY_ROOT = hashlib.sha256(b"").digest()


class ProofError(ValueError):
    """A proof was asked for sizes or indexes the tree does not have."""


def leaf_hash(data: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(n: int) -> int:
    """The largest power of two strictly smaller than n (n >= 2)."""
    return 1 << ((n - 1).bit_length() - 1)


class Tree:
    """The Merkle tree over a list of leaf hashes, with every full aligned subtree cached."""

    def __init__(self, leaves: Sequence[bytes]) -> None:
        levels: list[list[bytes]] = [list(leaves)]
        sha = hashlib.sha256
        while len(levels[-1]) >= 2:
            below = levels[-1]
            levels.append([sha(b"\x01" + below[i] + below[i + 1]).digest()
                           for i in range(0, len(below) - 1, 2)])
        self._levels = levels

    @property
    def size(self) -> int:
        return len(self._levels[0])

    def leaf(self, index: int) -> bytes:
        return self._levels[0][index]

    def append(self, leaf: bytes) -> None:
        """Add one leaf, updating the cached subtrees it completes (O(log n))."""
        self._levels[0].append(leaf)
        level = 0
        while len(self._levels[level]) % 2 == 0:
            below = self._levels[level]
            if level + 1 == len(self._levels):
                self._levels.append([])
            self._levels[level + 1].append(node_hash(below[-2], below[-1]))
            level += 1

    def _subtree(self, start: int, end: int) -> bytes:
        size = end - start
        if size == 0:
            return EMPTY_ROOT
        if size & (size - 1) == 0 and start % size == 0:
            return self._levels[size.bit_length() - 1][start // size]
        k = _split(size)
        return node_hash(self._subtree(start, start + k), self._subtree(start + k, end))

    def root(self, size: int | None = None) -> bytes:
        """MTH of the first `size` leaves (all of them by default)."""
        n = self.size if size is None else size
        if not 0 <= n <= self.size:
            raise ProofError(f"tree size {n} is outside 0..{self.size}")
        return self._subtree(0, n)

    def inclusion_proof(self, index: int, size: int | None = None) -> list[bytes]:
        """PATH(index, D[size]): the audit path of leaf `index` in the tree of `size`."""
        n = self.size if size is None else size
        if not 0 <= index < n <= self.size:
            raise ProofError(f"no leaf {index} in a tree of size {n} (log has {self.size})")
        proof: list[bytes] = []
        start, end = 0, n
        while end - start > 1:
            k = _split(end - start)
            if index - start < k:
                proof.append(self._subtree(start + k, end))
                end = start + k
            else:
                proof.append(self._subtree(start, start + k))
                start += k
        proof.reverse()
        return proof

    def consistency_proof(self, old_size: int, size: int | None = None) -> list[bytes]:
        """PROOF(old_size, D[size]): proves the tree of `old_size` is a prefix of `size`."""
        n = self.size if size is None else size
        if not 0 <= old_size <= n <= self.size:
            raise ProofError(f"no consistency proof from size {old_size} to {n} "
                             f"(log has {self.size})")
        if old_size in (0, n):
            return []
        proof: list[bytes] = []
        start, end, m, complete = 0, n, old_size, True
        while m != end - start:
            k = _split(end - start)
            if m <= k:
                proof.append(self._subtree(start + k, end))
                end = start + k
            else:
                proof.append(self._subtree(start, start + k))
                m -= k
                start += k
                complete = False
        if not complete:
            proof.append(self._subtree(start, end))
        proof.reverse()
        return proof


def root_of(leaves: Sequence[bytes]) -> bytes:
    return Tree(leaves).root()


def verify_inclusion(leaf: bytes, index: int, size: int, proof: Sequence[bytes],
                     root: bytes) -> bool:
    """RFC 9162 section 2.1.3.2: does `proof` put `leaf` at `index` in the tree `root`?"""
    if not 0 <= index < size:
        return False
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


def verify_consistency(old_size: int, size: int, old_root: bytes, root: bytes,
                       proof: Sequence[bytes]) -> bool:
    """RFC 9162 section 2.1.4.2: is the tree (`size`, `root`) an append-only extension of
    (`old_size`, `old_root`)?  Equal sizes need an empty proof and equal roots; every tree
    extends the empty one."""
    if not 0 <= old_size <= size:
        return False
    if old_size == size:
        return not proof and old_root == root
    if old_size == 0:
        return not proof and old_root == EMPTY_ROOT
    if not proof:
        return False
    path = list(proof)
    if old_size & (old_size - 1) == 0:
        path.insert(0, old_root)
    fn, sn = old_size - 1, size - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return fr == old_root and sr == root and sn == 0
