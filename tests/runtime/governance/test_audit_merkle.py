"""RFC 6962 hashing, inclusion and consistency proofs: the Certificate Transparency test
vectors, and properties (every proof verifies; any changed hash, size or index fails)."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from specops.runtime.governance.ledger import merkle as M

# certificate-transparency (RFC 6962) reference inputs and the roots of their prefixes
CT_LEAVES = [bytes.fromhex(h) for h in (
    "", "00", "10", "2021", "3031", "40414243", "5051525354555657",
    "606162636465666768696a6b6c6d6e6f")]
CT_ROOTS = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]


def _tree(n: int) -> M.Tree:
    return M.Tree([M.leaf_hash(i.to_bytes(4, "big")) for i in range(n)])


def _recursive_root(leaves: list[bytes]) -> bytes:
    """MTH straight from the RFC's definition, as an independent oracle."""
    if not leaves:
        return M.EMPTY_ROOT
    if len(leaves) == 1:
        return leaves[0]
    k = 1
    while k * 2 < len(leaves):
        k *= 2
    return M.node_hash(_recursive_root(leaves[:k]), _recursive_root(leaves[k:]))


def test_ct_reference_roots() -> None:
    tree = M.Tree([M.leaf_hash(d) for d in CT_LEAVES])
    assert [tree.root(n).hex() for n in range(1, 9)] == CT_ROOTS
    assert M.Tree([]).root() == hashlib.sha256(b"").digest()


def test_ct_reference_proof_shapes() -> None:
    """RFC 6962 section 2.1.3 worked example (7 leaves a..g): the path of d is [c, g(ab),
    h(efg)] and the consistency proof 3 -> 7 is [c, d, g(ab), h(efg)]."""
    tree = M.Tree([M.leaf_hash(d) for d in CT_LEAVES[:7]])
    a, b, c, d, e, f, g = (tree.leaf(i) for i in range(7))
    ab, ef = M.node_hash(a, b), M.node_hash(e, f)
    assert tree.inclusion_proof(3, 7) == [c, ab, M.node_hash(ef, g)]
    assert tree.consistency_proof(3, 7) == [c, d, ab, M.node_hash(ef, g)]
    assert tree.consistency_proof(4, 7) == [M.node_hash(ef, g)]
    assert tree.consistency_proof(6, 7) == [ef, g, M.node_hash(M.node_hash(a, b),
                                                               M.node_hash(c, d))]


@settings(max_examples=60, deadline=None)
@given(st.integers(min_value=1, max_value=70), st.data())
def test_every_inclusion_proof_verifies_and_a_changed_one_does_not(n: int, data) -> None:
    tree = _tree(n)
    size = data.draw(st.integers(min_value=1, max_value=n))
    index = data.draw(st.integers(min_value=0, max_value=size - 1))
    root = tree.root(size)
    assert root == _recursive_root([tree.leaf(i) for i in range(size)])
    proof = tree.inclusion_proof(index, size)
    assert M.verify_inclusion(tree.leaf(index), index, size, proof, root)
    assert not M.verify_inclusion(M.leaf_hash(b"forged"), index, size, proof, root)
    if size > 1:
        assert not M.verify_inclusion(tree.leaf(index), (index + 1) % size, size, proof, root)
        bad = list(proof)
        bad[data.draw(st.integers(0, len(bad) - 1))] = bytes(32)
        assert not M.verify_inclusion(tree.leaf(index), index, size, bad, root)
    if size < n:   # a root of another size does not accept it
        assert not M.verify_inclusion(tree.leaf(index), index, size, proof, tree.root(n))


@settings(max_examples=80, deadline=None)
@given(st.integers(min_value=1, max_value=70), st.data())
def test_every_consistency_proof_verifies_and_a_rewrite_does_not(n: int, data) -> None:
    tree = _tree(n)
    m = data.draw(st.integers(min_value=0, max_value=n))
    proof = tree.consistency_proof(m, n)
    assert M.verify_consistency(m, n, tree.root(m), tree.root(n), proof)
    if 0 < m < n:
        # the same sizes over a log whose entry j (< m) was rewritten
        j = data.draw(st.integers(0, m - 1))
        leaves = [tree.leaf(i) for i in range(n)]
        leaves[j] = M.leaf_hash(b"rewritten")
        forged = M.Tree(leaves)
        assert not M.verify_consistency(m, n, tree.root(m), forged.root(),
                                        forged.consistency_proof(m, n))
        bad = list(proof)
        bad[data.draw(st.integers(0, len(bad) - 1))] = bytes(32)
        assert not M.verify_consistency(m, n, tree.root(m), tree.root(n), bad)
        assert not M.verify_consistency(m + 1, n, tree.root(m), tree.root(n), proof)


def test_append_matches_a_fresh_build() -> None:
    grown = M.Tree([])
    for i in range(37):
        grown.append(M.leaf_hash(i.to_bytes(4, "big")))
        assert grown.root() == _tree(i + 1).root()


def test_bad_sizes_are_refused() -> None:
    tree = _tree(5)
    with pytest.raises(M.ProofError):
        tree.inclusion_proof(5, 5)
    with pytest.raises(M.ProofError):
        tree.consistency_proof(3, 6)
    assert not M.verify_consistency(4, 3, tree.root(3), tree.root(3), [])
    assert not M.verify_consistency(2, 5, tree.root(2), tree.root(5), [])


@settings(max_examples=150, deadline=None)
@given(st.integers(min_value=1, max_value=2**62),
       st.lists(st.text(st.characters(blacklist_categories=["Cs"])), min_size=5, max_size=5),
       st.dictionaries(st.text(st.characters(blacklist_categories=["Cs"]), max_size=8),
                       st.one_of(st.integers(), st.text(st.characters(
                           blacklist_categories=["Cs"])), st.none(), st.booleans()),
                       max_size=4))
def test_leaf_bytes_from_stored_text_equal_the_canonical_entry(seq, texts, details) -> None:
    """The fast path verification takes (hashing a row's stored text) must produce the very
    bytes `canonical(entry)` does, for any strings (quotes, controls, non-ASCII, U+2028)."""
    from specops.runtime.governance.ledger import audit as A

    at, actor, action, target, reason = texts
    entry = {"seq": seq, "at": at, "actor": actor, "action": action, "target": target,
             "reason": reason, "details": details}
    stored = A.canonical(details).decode()
    assert A._stored_canonical(seq, at, actor, action, target, reason, stored) == \
        A.canonical(entry)
