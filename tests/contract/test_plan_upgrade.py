"""Upgrading plans from older formats, and the generated plan schema.

The format-1 fixtures in tests/contract/fixtures/ are the golden plans as the last
format-1 compiler wrote them (same specs as tests/fixtures/plans/): upgrading them must
give exactly the params today's compiler writes, so an old plan runs as a new one would.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from specops.contract.op_params import BenchmarkParams, ValidateDataParams
from specops.contract.plan_records import FORMAT_VERSION, Plan
from specops.contract.plan_schema import PLAN_SCHEMA_NAME, plan_schema
from specops.contract.plan_upgrade import UPGRADES, PlanUpgradeError, upgrade

REPO = Path(__file__).resolve().parents[2]
V1 = sorted((Path(__file__).parent / "fixtures").glob("*.v1.plan.json"))
CURRENT = REPO / "tests" / "fixtures" / "plans"


def _raw(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))


def _nodes_without_fingerprints(plan: dict[str, Any]) -> list[dict[str, Any]]:
    return [{k: v for k, v in n.items() if k != "fingerprint"} for n in plan["nodes"]]


def test_there_is_an_upgrade_step_from_every_older_format() -> None:
    assert sorted(UPGRADES) == list(range(1, FORMAT_VERSION))


@pytest.mark.parametrize("path", V1, ids=lambda p: p.name)
def test_format_1_plan_upgrades_to_what_the_compiler_writes_now(path: Path) -> None:
    old = _raw(path)
    assert old["format_version"] == 1
    before = copy.deepcopy(old)
    new = upgrade(old)
    assert old == before                        # the input is not modified
    assert new["format_version"] == FORMAT_VERSION
    plan = Plan.model_validate(new)             # fits the current records
    current = _raw(CURRENT / path.name.replace(".v1.", "."))
    for node in current["nodes"]:   # the example's `fairness:` block came after format 1
        if node["op"] == "evaluate":
            node["params"].pop("fairness", None)
    assert _nodes_without_fingerprints(new) == _nodes_without_fingerprints(current)
    # fingerprints are kept as written: they name that plan's cached results
    assert [n.fingerprint for n in plan.nodes] == [n["fingerprint"] for n in old["nodes"]]


def test_upgrade_fills_a_distribution_check_with_the_old_runtime_bins() -> None:
    old = _raw(V1[0])
    validate = next(n for n in old["nodes"] if n["op"] == "validate_data")
    validate["params"]["distribution"] = {"reference": "data/ref.parquet", "method": "psi",
                                          "max": 0.25, "columns": None}
    plan = Plan.model_validate(upgrade(old))
    params = next(n.params for n in plan.nodes if n.id == validate["id"])
    assert isinstance(params, ValidateDataParams) and params.distribution is not None
    assert params.distribution.bins == 10
    bench = next(n.params for n in plan.nodes if n.op == "benchmark")
    assert isinstance(bench, BenchmarkParams) and bench.test_rows == 100


def test_a_current_plan_is_returned_as_is() -> None:
    plan = _raw(CURRENT / "minimal.plan.json")
    assert upgrade(plan) is plan


@pytest.mark.parametrize(("version", "fragment"), [
    (None, "has no format_version"), ("1", "not a known version"),
    (0, "not a known version"), (True, "not a known version"),
    (FORMAT_VERSION + 1, "newer than this runtime reads"),
])
def test_unknown_or_newer_formats_are_refused(version: Any, fragment: str) -> None:
    plan = _raw(V1[0])
    if version is None:
        del plan["format_version"]
    else:
        plan["format_version"] = version
    with pytest.raises(PlanUpgradeError, match=fragment):
        upgrade(plan)


def test_committed_plan_schema_is_generated_from_the_records() -> None:
    committed = (REPO / "schemas" / PLAN_SCHEMA_NAME).read_text(encoding="utf-8")
    generated = json.dumps(plan_schema(), indent=2, ensure_ascii=False) + "\n"
    assert committed == generated, "stale schemas/plan.schema.json: run `specops schema`"


def _validator() -> jsonschema.Draft202012Validator:
    schema = plan_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


@pytest.mark.parametrize("path", [*sorted(CURRENT.glob("*.plan.json")), *V1],
                         ids=lambda p: p.name)
def test_schema_accepts_current_and_upgraded_plans(path: Path) -> None:
    errors = [f"{e.json_path}: {e.message}" for e in _validator().iter_errors(
        upgrade(_raw(path)))]
    assert errors == []


def test_schema_refuses_what_the_records_refuse() -> None:
    plan = _raw(CURRENT / "minimal.plan.json")
    gate = next(n for n in plan["nodes"] if n["op"] == "gate")
    del gate["params"]["require_champion"]
    gate["params"]["checks"][0]["expr"] = {"op": "metric"}   # not a tree
    paths = {e.json_path for e in _validator().iter_errors(plan)}
    assert paths  # and pydantic agrees:
    with pytest.raises(ValueError, match="require_champion"):
        Plan.model_validate(plan)
    v1 = _raw(V1[0])  # a format-1 plan is not a format-2 plan until upgraded
    assert list(_validator().iter_errors(v1))
