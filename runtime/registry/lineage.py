"""Lineage recorded in every registry manifest: where a model came from.

Why these fields: a reviewer (or `specops reproduce`) must be able to answer "which specs,
which plan, which data, which code, which run, which parameters produced this file": the
spec hash and plan fingerprint come from the runtime (`ctx.extra`), the node fingerprint
from the context, the data hashes from the training parameters (`params.json` records the
training set's files and hashes), and the git commit from the project checkout, if any
(`dirty` says whether uncommitted changes were present).
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

from specops.runtime.engine.op_interface import OpContext

__all__ = ["build_lineage", "git_state"]


def git_state(root: Path) -> dict[str, Any] | None:
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True,
                                text=True, timeout=10, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                               cwd=root, capture_output=True, text=True, timeout=10,
                               check=True).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return {"commit": commit, "dirty": bool(dirty)} if commit else None


def _specops_version() -> str | None:
    """The installed distribution's version (the runtime package sets no __version__)."""
    from importlib import metadata

    try:
        return metadata.version("specops")
    except metadata.PackageNotFoundError:   # pragma: no cover - running from a bare checkout
        return None


def build_lineage(ctx: OpContext, trained: dict[str, Any] | None) -> dict[str, Any]:
    trained = trained or {}
    return {
        "run_id": ctx.run_id,
        "node_id": ctx.node_id,
        "node_fingerprint": ctx.fingerprint,
        "spec_hash": ctx.extra.get("spec_hash"),
        "plan_fingerprint": ctx.extra.get("plan_fingerprint") or ctx.extra.get("plan_hash"),
        "git": git_state(ctx.project_root),
        "data": trained.get("data"),
        "parameters": {k: trained.get(k) for k in ("estimator", "params", "seed", "task",
                                                   "label", "inputs", "scoring", "cv",
                                                   "cv_strategy", "search_strategy")
                       if k in trained},
        "train_op_params": trained.get("op_params"),
        "fit_digest": trained.get("fit_digest"),
        "specops_version": _specops_version(),
    }
