"""Hashes of external data files (what ops report in `OpResult.data_hashes`).

Why the runtime owns this function: a node's cache key includes the *current* hashes of the
files it read last time, recomputed by the driver before reusing an output. Ops and the
driver must hash the same way, so ops call `hash_path` and nothing else.

A key may be a path or a glob relative to the project root (`data/events/*.parquet`); a
glob hashes the sorted list of matched files with their content hashes, so a new partition
invalidates the cache as surely as a changed one. Hashing is memoised on
(size, mtime_ns) so checking an unchanged multi-GB source is a `stat`, not a read.
"""

from __future__ import annotations

import glob as _glob
import hashlib
import os
from pathlib import Path

__all__ = ["MISSING", "HashMemo", "file_sha256", "hash_path"]

MISSING = "missing"
_CHUNK = 1 << 20


def file_sha256(path: Path | str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            h.update(chunk)
    return "sha256:" + h.hexdigest()


class HashMemo:
    """(size, mtime_ns) -> digest per absolute path; the store persists one between runs."""

    def __init__(self) -> None:
        self.entries: dict[str, tuple[int, int, str]] = {}
        self.dirty: set[str] = set()   # entries added since loading (to persist)

    def get(self, path: str, size: int, mtime_ns: int) -> str | None:
        hit = self.entries.get(path)
        return hit[2] if hit and hit[:2] == (size, mtime_ns) else None

    def put(self, path: str, size: int, mtime_ns: int, digest: str,
            dirty: bool = True) -> None:
        self.entries[path] = (size, mtime_ns, digest)
        if dirty:
            self.dirty.add(path)


_PROCESS_MEMO = HashMemo()


def _hash_one(path: str, memo: HashMemo | None) -> str:
    memo = memo or _PROCESS_MEMO
    st = os.stat(path)
    hit = memo.get(path, st.st_size, st.st_mtime_ns)
    if hit is not None:
        return hit
    digest = file_sha256(path)
    memo.put(path, st.st_size, st.st_mtime_ns, digest)
    return digest


def hash_path(project_root: Path | str, rel: str, memo: HashMemo | None = None) -> str:
    """`sha256:<hex>` of a file, or of a glob's matches; `"missing"` when nothing exists."""
    full = os.path.join(str(project_root), rel)
    if _glob.has_magic(rel):
        matches = sorted(p for p in _glob.glob(full, recursive=True) if os.path.isfile(p))
        if not matches:
            return MISSING
        h = hashlib.sha256()
        for p in matches:
            h.update(os.path.relpath(p, str(project_root)).encode() + b"\0")
            h.update(_hash_one(p, memo).encode() + b"\n")
        return "sha256:" + h.hexdigest()
    if not os.path.isfile(full):
        return MISSING
    return _hash_one(full, memo)
