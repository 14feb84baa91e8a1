"""`--current` with raw spine rows: model inputs computed by the training pipeline's own
feature nodes (the credit-risk example's plan, on small generated data)."""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "credit-risk"


def _generator() -> Any:
    spec = importlib.util.spec_from_file_location("gen_mon", EXAMPLE / "generate_data.py")
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.mark.slow
def test_raw_rows_get_the_training_features(tmp_path: Path) -> None:
    from specops.compiler.plan.compile import compile_project
    from specops.runtime.engine.plan_reader import parse_plan
    from specops.runtime.monitor.model_inputs import derived_plan, model_inputs_from_raw

    root = tmp_path / "cr"
    shutil.copytree(EXAMPLE / "specs", root / "specs")
    shutil.copy(EXAMPLE / "specops.yaml", root / "specops.yaml")
    gen = _generator()
    gen.generate(root / "data", seed=7, n_apps=3000)
    gen.next_month(root / "data", seed=7, drift=True, n_apps=300)
    result = compile_project(root)
    assert result.plan is not None
    plan = parse_plan(result.plan.data)
    raw = root / "data" / "next_month.parquet"

    derived, sid = derived_plan(plan, "credit_default", raw)
    by_id = derived.by_id
    assert by_id["source:applications"].params["path"] == str(raw.resolve())
    assert by_id["source:applications"].fingerprint != plan.by_id["source:applications"
                                                                  ].fingerprint
    assert by_id["validate:applications"].op == "noop"
    assert "source:outcomes" not in by_id[sid].inputs       # no label join
    assert by_id["features:bureau_history@2"] == plan.by_id["features:bureau_history@2"]

    frame = model_inputs_from_raw(plan, root, "credit_default", raw)
    assert frame.height == 300
    inputs = [i["name"] for i in plan.by_id["train:credit_default"].params["inputs"]]
    assert set(inputs) <= set(frame.columns)
    assert {"application_id", "sex", "age"} <= set(frame.columns)
    income = frame.get_column("income").to_numpy()
    logged = frame.get_column("log_income").to_numpy()
    ok = ~np.isnan(income)
    # the current row's own application features, not an earlier application's
    assert np.allclose(logged[ok], np.log1p(income[ok]))
