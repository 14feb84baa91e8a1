"""Fixtures for the online-features tests: the two examples, trained and registered once.

Why the real examples: parity is only meaningful on real feature views (a request-time
view, a bureau view with a TTL and late rows, windowed sensor aggregates). Each example is
copied to a temporary folder with its own generated data and run through `execute_plan`
up to `register:<model>` (inline executor, ~1 min for credit-risk and ~30 s for
machine-rul here), once per session; the session's registry key signs (tests/runtime/
conftest.py). The serving-latency gate is relaxed in the copy: these tests are about
features, and a loaded CI machine would otherwise reject the version before they run.
"""

from __future__ import annotations

import importlib.util
import re
import shutil
from pathlib import Path
from typing import Any

import polars as pl
import pytest

EXAMPLES = Path(__file__).resolve().parents[4] / "examples"


def _example(root: Path, name: str) -> dict[str, Any]:
    from specops.compiler.plan.compile import compile_project
    from specops.runtime.engine.plan_reader import parse_plan
    from specops.runtime.engine.run_loop import execute_plan

    src = EXAMPLES / name
    shutil.copytree(src / "specs", root / "specs")
    gates = root / "specs" / "gates.yaml"   # a loaded machine must not fail the fixture
    gates.write_text(re.sub(r"latency_p99_ms <= [0-9.]+", "latency_p99_ms <= 10000",
                            gates.read_text()))
    shutil.copy(src / "specops.yaml", root / "specops.yaml")
    spec = importlib.util.spec_from_file_location(f"gen_{name}", src / "generate_data.py")
    assert spec and spec.loader
    gen = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gen)
    gen.generate(root / "data")
    compiled = compile_project(root)
    assert compiled.plan is not None
    plan = parse_plan(compiled.plan.data)
    model = next(iter(plan.models))
    result = execute_plan(plan, root, select=[f"register:{model}"], executor="inline")
    assert result.ok, [o.cause for o in result.failed]
    ts = plan.by_id[f"training_set:{model}"]
    test = pl.read_parquet(result.nodes[ts.id].path / "test.parquet")
    return {"root": root, "plan": plan, "model": model, "test": test,
            "spine": ts.params["spine"]}


@pytest.fixture(scope="session")
def credit_example(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return _example(tmp_path_factory.mktemp("online") / "credit-risk", "credit-risk")


@pytest.fixture(scope="session")
def rul_example(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return _example(tmp_path_factory.mktemp("online") / "machine-rul", "machine-rul")
