"""Content-addressed artifacts: `<artifacts>/objects/<hex>/` holds one node's outputs.

Why content addressing: identical outputs are stored once, an output's name is its proof
of integrity, and "is this still what we produced?" is a hash check. An op writes into a
staging directory under `<artifacts>/tmp/<run_id>/`; `commit` hashes every file, writes
the manifest to `manifests/<hex>.json`, then moves the directory into `objects/` with one
atomic rename (same filesystem), so `objects/` never holds a half-written output. Files are
made read-only so an op cannot edit an input it was given.

Before an output is reused, `verify` re-hashes every file against the manifest; a missing,
extra or changed file means corruption, and the caller recomputes — never silently uses it.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import stat
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from specops.runtime.engine.datahash import file_sha256

__all__ = ["Artifact", "ArtifactStore"]


@dataclass(frozen=True)
class Artifact:
    digest: str                 # "sha256:<hex>" over the manifest's files
    path: Path
    manifest: dict[str, Any]

    @property
    def size_bytes(self) -> int:
        return sum(int(f["size"]) for f in self.manifest["files"].values())


def _hex(digest: str) -> str:
    return digest.split(":", 1)[-1]


def _manifest_digest(files: dict[str, dict[str, Any]]) -> str:
    body = json.dumps(files, sort_keys=True, separators=(",", ":"))
    return "sha256:" + hashlib.sha256(body.encode()).hexdigest()


def _scan(root: Path) -> dict[str, dict[str, Any]]:
    files: dict[str, dict[str, Any]] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in sorted(filenames):
            full = Path(dirpath) / name
            if full.is_symlink():
                raise ValueError(f"outputs may not contain symlinks: {full.relative_to(root)}")
            rel = full.relative_to(root).as_posix()
            files[rel] = {"sha256": file_sha256(full), "size": full.stat().st_size}
    return files


def _make_writable(root: Path) -> None:
    for dirpath, _dirs, filenames in os.walk(root):
        os.chmod(dirpath, 0o755)
        for name in filenames:
            p = os.path.join(dirpath, name)
            if not os.path.islink(p):
                os.chmod(p, 0o644)


def _remove(root: Path) -> None:
    if root.exists():
        _make_writable(root)
        shutil.rmtree(root, ignore_errors=True)


class ArtifactStore:
    def __init__(self, root: Path | str) -> None:
        self.root = Path(root).resolve()
        self.objects = self.root / "objects"
        self.manifests = self.root / "manifests"
        self.tmp = self.root / "tmp"

    def path(self, digest: str) -> Path:
        return self.objects / _hex(digest)

    def staging_dir(self, run_id: str, node_id: str) -> Path:
        """A fresh, not yet existing directory for one attempt at a node's outputs."""
        safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in node_id)[:80]
        d = self.tmp / run_id / f"{safe}-{uuid.uuid4().hex[:8]}"
        d.parent.mkdir(parents=True, exist_ok=True)
        return d

    def commit(self, staging: Path) -> Artifact:
        """Hash `staging`, write its manifest and move it into `objects/` atomically."""
        files = _scan(staging)
        digest = _manifest_digest(files)
        manifest = {"digest": digest, "files": files}
        target = self.path(digest)
        self.manifests.mkdir(parents=True, exist_ok=True)
        self.objects.mkdir(parents=True, exist_ok=True)
        mpath = self.manifests / f"{_hex(digest)}.json"
        tmp_m = mpath.with_suffix(f".{uuid.uuid4().hex[:8]}.tmp")
        tmp_m.write_text(json.dumps(manifest, sort_keys=True, indent=1))
        os.replace(tmp_m, mpath)
        if target.exists():
            if not self.verify(digest):
                _remove(staging)      # identical content already stored (dedup)
                return Artifact(digest, target, manifest)
            _remove(target)           # a corrupted copy: replace it with the fresh one
        for dirpath, _dirs, filenames in os.walk(staging):
            for name in filenames:
                p = os.path.join(dirpath, name)
                os.chmod(p, os.stat(p).st_mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))
        try:
            os.replace(staging, target)
        except OSError:               # lost a race with another driver committing it
            if self.verify(digest):
                raise
            _remove(staging)
        return Artifact(digest, target, manifest)

    def manifest(self, digest: str) -> dict[str, Any] | None:
        try:
            data = json.loads((self.manifests / f"{_hex(digest)}.json").read_text())
        except (OSError, ValueError):
            return None
        return data if isinstance(data, dict) else None

    def verify(self, digest: str) -> list[str]:
        """Problems with a stored artifact; `[]` means every file matches its hash."""
        manifest = self.manifest(digest)
        if manifest is None or not isinstance(manifest.get("files"), dict):
            return ["manifest missing or unreadable"]
        if _manifest_digest(manifest["files"]) != digest:
            return ["manifest does not match its digest"]
        root = self.path(digest)
        if not root.is_dir():
            return ["output directory missing"]
        problems = []
        try:
            actual = {p.relative_to(root).as_posix() for p in root.rglob("*")
                      if p.is_file() or p.is_symlink()}
        except OSError as exc:
            return [f"cannot list outputs: {exc}"]
        for rel, meta in sorted(manifest["files"].items()):
            f = root / rel
            if rel not in actual:
                problems.append(f"{rel}: missing")
            elif f.stat().st_size != meta["size"]:
                problems.append(f"{rel}: size {f.stat().st_size} != {meta['size']}")
            elif file_sha256(f) != meta["sha256"]:
                problems.append(f"{rel}: sha256 mismatch")
        for rel in sorted(actual - set(manifest["files"])):
            problems.append(f"{rel}: unexpected file")
        return problems

    def discard(self, digest: str) -> None:
        """Remove a corrupted artifact so it can be recomputed."""
        _remove(self.path(digest))
        (self.manifests / f"{_hex(digest)}.json").unlink(missing_ok=True)

    def discard_staging(self, staging: Path) -> None:
        _remove(staging)

    def clean_tmp(self, keep_runs: set[str]) -> int:
        """Remove staging directories of runs that are not running any more (a killed
        driver leaves its in-flight outputs there). Returns how many were removed."""
        if not self.tmp.is_dir():
            return 0
        n = 0
        for d in self.tmp.iterdir():
            if d.name not in keep_runs:
                _remove(d)
                n += 1
        return n
