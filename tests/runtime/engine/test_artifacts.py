"""Content-addressed artifacts: commit, dedup, verification, cleanup."""

from __future__ import annotations

import os

from specops.runtime.engine.artifacts import ArtifactStore
from specops.runtime.engine.datahash import MISSING, HashMemo, hash_path


def _stage(store: ArtifactStore, files: dict[str, str]):
    d = store.staging_dir("run1", "node:x@1")
    d.mkdir()
    for rel, text in files.items():
        (d / rel).parent.mkdir(parents=True, exist_ok=True)
        (d / rel).write_text(text)
    return d


def test_commit_is_content_addressed_and_deduplicated(tmp_path):
    store = ArtifactStore(tmp_path / "a")
    one = store.commit(_stage(store, {"x.txt": "1", "sub/y.json": "{}"}))
    assert one.path == store.path(one.digest) and (one.path / "sub" / "y.json").is_file()
    assert sorted(one.manifest["files"]) == ["sub/y.json", "x.txt"]
    assert (one.path / "x.txt").stat().st_mode & 0o222 == 0     # inputs are read-only
    two = store.commit(_stage(store, {"sub/y.json": "{}", "x.txt": "1"}))
    assert two.digest == one.digest
    other = store.commit(_stage(store, {"x.txt": "2", "sub/y.json": "{}"}))
    assert other.digest != one.digest
    assert store.verify(one.digest) == []
    assert not any((store.tmp / "run1").iterdir())              # staging moved or removed


def test_verify_detects_every_kind_of_damage(tmp_path):
    store = ArtifactStore(tmp_path / "a")
    art = store.commit(_stage(store, {"x.txt": "hello", "y.txt": "world"}))
    os.chmod(art.path / "x.txt", 0o644)
    (art.path / "x.txt").write_text("hellO")                      # same size, new bytes
    assert store.verify(art.digest) == ["x.txt: sha256 mismatch"]
    (art.path / "x.txt").unlink()
    (art.path / "extra.bin").write_text("")
    assert store.verify(art.digest) == ["x.txt: missing", "extra.bin: unexpected file"]
    store.discard(art.digest)
    assert store.verify(art.digest) == ["manifest missing or unreadable"]


def test_commit_replaces_a_corrupted_copy(tmp_path):
    store = ArtifactStore(tmp_path / "a")
    art = store.commit(_stage(store, {"x.txt": "hello"}))
    os.chmod(art.path / "x.txt", 0o644)
    (art.path / "x.txt").write_text("bad!!")
    again = store.commit(_stage(store, {"x.txt": "hello"}))
    assert again.digest == art.digest and store.verify(art.digest) == []


def test_clean_tmp_keeps_live_runs(tmp_path):
    store = ArtifactStore(tmp_path / "a")
    _stage(store, {"x": "1"})
    store.staging_dir("run2", "n").mkdir()
    assert store.clean_tmp({"run2"}) == 1
    assert [p.name for p in store.tmp.iterdir()] == ["run2"]


def test_data_hashes_of_files_and_globs(tmp_path):
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "p1.csv").write_text("a")
    memo = HashMemo()
    one = hash_path(tmp_path, "d/p1.csv", memo)
    assert one.startswith("sha256:") and str(tmp_path / "d" / "p1.csv") in memo.dirty
    g1 = hash_path(tmp_path, "d/*.csv", memo)
    (tmp_path / "d" / "p2.csv").write_text("b")                  # a new partition
    assert hash_path(tmp_path, "d/*.csv", memo) != g1
    assert hash_path(tmp_path, "nope.csv") == MISSING
    assert hash_path(tmp_path, "none/*.csv") == MISSING
