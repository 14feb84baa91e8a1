"""Registry manifests: per-file sha256 plus lineage, as canonical JSON that gets signed.

Why two digests:
- `content_digest` identifies the *model*: the files that are a deterministic function of
  the spec, the plan and the data (the ONNX graph, its signature, the training parameters
  and search log, the evaluation and the parity report). Registering the same content
  twice returns the existing version (idempotent).
- The manifest also lists *evidence* files that legitimately differ between runs of the
  same model (benchmark timings, gate reports); they are hashed and signed, so they cannot
  change after registration, but they do not define identity.

Canonical JSON (sorted keys, no whitespace, UTF-8) makes the signed bytes reproducible;
`manifest.json` on disk is exactly those bytes.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from specops.runtime.engine.datahash import file_sha256

__all__ = ["CONTENT_FILES", "FORMAT", "MANIFEST", "SIGNATURE", "canonical", "content_digest",
           "hash_artifacts"]

FORMAT = "specops.registry.manifest/v1"
MANIFEST, SIGNATURE = "manifest.json", "manifest.sig"
CONTENT_FILES = ("model.onnx", "signature.json", "params.json", "search.json",
                 "evaluation.json", "parity.json")


def canonical(doc: Any) -> bytes:
    return json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False).encode()


def hash_artifacts(files: dict[str, Path]) -> dict[str, dict[str, Any]]:
    return {name: {"sha256": file_sha256(path), "size": path.stat().st_size}
            for name, path in sorted(files.items())}


def content_digest(artifacts: dict[str, dict[str, Any]]) -> str:
    ident = {n: a["sha256"] for n, a in artifacts.items() if n in CONTENT_FILES}
    return "sha256:" + hashlib.sha256(canonical(ident)).hexdigest()
