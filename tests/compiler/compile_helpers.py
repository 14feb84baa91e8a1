"""Shared helpers for the plan, graph and diff tests: copy and edit the example project."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from specops.compiler.plan.compile import CompileResult, compile_project

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "credit-risk"


def copy_example(dest: Path) -> Path:
    """A copy of examples/credit-risk (specs and specops.yaml only) under `dest`."""
    dest.mkdir(parents=True, exist_ok=True)
    shutil.copy(EXAMPLE / "specops.yaml", dest / "specops.yaml")
    shutil.copytree(EXAMPLE / "specs", dest / "specs")
    return dest


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def compiled(path: Path) -> CompileResult:
    result = compile_project(path, base=path)
    assert result.plan is not None, [f"{d.location()} {d.code} {d.message}"
                                     for d in result.diagnostics]
    return result


def plan_of(path: Path) -> dict[str, Any]:
    plan = compiled(path).plan
    assert plan is not None
    return plan.data


def fingerprints(plan: dict[str, Any]) -> dict[str, str]:
    return {n["id"]: n["fingerprint"] for n in plan["nodes"]}
