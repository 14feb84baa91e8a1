"""Plan fields against the spec they come from, read independently of the compiler.

Why: the golden plan (tests/fixtures/plans/credit-risk.plan.json) is regenerated from the
compiler's own output, so it detects change, not wrongness. Here the example's YAML is read
with `yaml.safe_load` and each plan field that carries a spec value is compared with that
value: gate checks (text, id, operator, threshold), the estimator, the model's governance
facts, evaluation settings and monitoring durations.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from compile_helpers import copy_example, plan_of

OPS = {">=": "ge", "<=": "le", ">": "gt", "<": "lt", "==": "eq", "!=": "ne"}
SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    root = copy_example(tmp_path_factory.mktemp("plan_from_spec"))
    return root, plan_of(root)


def _docs(root: Path, name: str) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all((root / "specs" / name).read_text()) if d]


def _nodes(plan: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {n["id"]: n for n in plan["nodes"]}


def _seconds(text: str) -> int:
    m = re.fullmatch(r"(\d+)([smhdw])", text)
    assert m, text
    return int(m.group(1)) * SECONDS[m.group(2)]


def _model(root: Path) -> dict[str, Any]:
    (model,) = [d for d in _docs(root, "model.yaml") if d["kind"] == "model"]
    return model


def test_gate_checks_come_from_the_gate_specs(project) -> None:
    root, plan = project
    variables = yaml.safe_load((root / "specops.yaml").read_text()).get("vars") or {}
    nodes = _nodes(plan)
    model = _model(root)
    for gate in _docs(root, "gates.yaml"):
        node = nodes[f"gate:{model['name']}:{gate['name']}"]
        assert node["op"] == "gate" and node["params"]["gate"] == gate["name"]
        if "min_group_size" in gate:
            assert node["params"]["min_group_size"] == gate["min_group_size"]
        checks = node["params"]["checks"]
        assert len(checks) == len(gate["checks"])
        for i, (spec, compiled) in enumerate(zip(gate["checks"], checks, strict=True), 1):
            text = spec if isinstance(spec, str) else spec["check"]
            text = re.sub(r"\{\{\s*(\w+)\s*\}\}", lambda m: str(variables[m.group(1)]), text)
            assert compiled["text"] == text
            want_id = spec["id"] if isinstance(spec, dict) and "id" in spec \
                else f"{gate['name']}.{i}"
            assert compiled["id"] == want_id
            simple = re.fullmatch(r"(.+?)\s*(>=|<=|==|!=|>|<)\s*(-?[\d.e-]+)", text)
            if simple:   # `<lhs> <op> <number>`: operator and threshold carried exactly
                tree = compiled["expr"]
                assert tree["op"] == "compare" and tree["fn"] == OPS[simple.group(2)]
                number = simple.group(3)
                whole = re.fullmatch(r"-?\d+", number) is not None
                assert tree["right"] == {"op": "lit", "type": "int64" if whole else "float64",
                                         "value": int(number) if whole else float(number)}


def test_model_facts_come_from_the_model_spec(project) -> None:
    root, plan = project
    model = _model(root)
    nodes = _nodes(plan)
    reg = nodes[f"register:{model['name']}"]["params"]
    assert reg == {"model": model["name"], "owner": model["owner"],
                   "risk_tier": model["risk_tier"], "task": model["task"]}
    facts = plan["models"][model["name"]]
    for key in ("authors", "description", "assumptions"):
        assert facts[key] == model[key]
    assert facts["approval"]["name"] == model["approval"]
    assert {n.split(":")[2] for n in nodes if n.startswith(f"gate:{model['name']}:")} == \
        set(model["gates"])


def test_estimator_comes_from_the_model_spec(project) -> None:
    root, plan = project
    model = _model(root)
    est = _nodes(plan)[f"train:{model['name']}"]["params"]["estimator"]
    spec = model["estimator"]
    assert est["class"] == spec["class"] and est["params"] == spec["params"]
    assert est["search"] == spec["search"] and est["cv"] == spec["cv"]
    assert est["seed"] == spec["seed"]


def test_evaluation_settings_come_from_the_model_spec(project) -> None:
    root, plan = project
    model = _model(root)
    ev = _nodes(plan)[f"evaluate:{model['name']}"]["params"]
    assert ev["slices"] == model["slices"]
    assert sorted(ev["protected"]) == sorted(p.split(".")[-1]
                                             for p in model["training"]["protected"])
    assert ev["fairness"]["favorable"] == model["fairness"]["favorable"]
    assert ev["fairness"]["threshold"] == model["fairness"]["threshold"]
    assert ev["fairness"]["bands"] == {k: [float(x) for x in v]
                                       for k, v in model["fairness"]["bands"].items()}
    assert ev["label"]["name"] == model["training"]["label"]["column"]


def test_monitoring_durations_and_thresholds_come_from_the_model_spec(project) -> None:
    root, plan = project
    model = _model(root)
    mon = _nodes(plan)[f"monitor:{model['name']}"]["params"]
    spec = model["monitoring"]
    assert mon["window_s"] == _seconds(spec["window"])
    assert mon["label_delay_s"] == _seconds(spec["label_delay"])
    assert mon["cooldown_s"] == _seconds(spec["cooldown"])
    assert mon["consecutive_windows"] == spec["consecutive_windows"]
    assert mon["retrain_on"] == spec["retrain_on"]
    for key in ("method", "warn", "alert", "bins", "binning"):
        assert mon["drift"][key] == spec["drift"][key]
