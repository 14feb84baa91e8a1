"""Helpers for the online-store tests: the credit-risk example in a temp folder, its
compiled plan, and the offline point-in-time values an online row must equal."""

from __future__ import annotations

import importlib.util
import os
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from specops.compiler import compile_project
from specops.runtime.engine.plan_reader import parse_plan

EXAMPLE = Path(__file__).resolve().parents[4] / "examples" / "credit-risk"


def us(*args: int) -> int:
    """UTC microseconds of datetime(*args)."""
    return int(datetime(*args, tzinfo=UTC).timestamp()) * 1_000_000   # type: ignore[misc]


def make_credit_project(root: Path, n_apps: int = 3000, *, cutoff: bool = False) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    shutil.copytree(EXAMPLE / "specs", root / "specs")
    shutil.copy(EXAMPLE / "specops.yaml", root / "specops.yaml")
    if cutoff:   # a second model on the bureau view alone, trained "as known at t"
        text = (root / "specs" / "model.yaml").read_text(encoding="utf-8")
        text = text.replace("name: credit_default\n", "name: credit_default_known\n") \
            .replace("  spine: applications\n",
                     "  spine: applications\n  created_time_cutoff: true\n") \
            .replace("    - application_features@1\n", "")
        (root / "specs" / "model_known.yaml").write_text(text, encoding="utf-8")
    spec = importlib.util.spec_from_file_location("gen_credit", EXAMPLE / "generate_data.py")
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    mod.generate(root / "data", seed=7, n_apps=n_apps)
    return root


def plan_of(root: Path) -> Any:
    result = compile_project(root)
    assert result.plan is not None, [str(d) for d in result.diagnostics]
    return parse_plan(result.plan.data)


def bureau(root: Path) -> pl.DataFrame:
    return pl.read_parquet(root / "data" / "bureau" / "*.parquet")


def redis_url_or_skip() -> str:
    url = os.environ.get("SPECOPS_TEST_REDIS_URL")
    if not url:
        pytest.skip("SPECOPS_TEST_REDIS_URL is not set (`.ci/run` sets it to the local Redis)")
    return url
