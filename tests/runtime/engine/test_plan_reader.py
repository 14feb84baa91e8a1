"""The runtime's plan reader: version checks, graph checks, selection."""

from __future__ import annotations

import json

import pytest
from plan_helpers import node, plan_dict

from specops.runtime.engine.plan_reader import (
    SUPPORTED_FORMAT_VERSION,
    PlanError,
    load_plan,
    parse_plan,
)


def test_parses_nodes_and_project(tmp_path):
    data = plan_dict(node("a"), node("b", inputs=["a"], text="x"))
    plan = parse_plan(data)
    assert [n.id for n in plan.nodes] == ["a", "b"]
    b = plan.by_id["b"]
    assert b.inputs == ("a",) and b.params == {"text": "x"} and b.retry.max_attempts == 2
    assert plan.project.store == "sqlite:///.specops/store.db"


@pytest.mark.parametrize("version, fragment", [
    (None, "has no format_version"),
    ("1", "not a known version"),
    (0, "not a known version"),
    (True, "not a known version"),
    (SUPPORTED_FORMAT_VERSION + 1, "newer than this runtime reads"),
])
def test_format_version_refused_clearly(version, fragment):
    data = plan_dict(node("a"))
    if version is None:
        del data["format_version"]
    else:
        data["format_version"] = version
    with pytest.raises(PlanError, match=fragment):
        parse_plan(data)


def test_graph_errors():
    with pytest.raises(PlanError, match="input zz is not a node"):
        parse_plan(plan_dict(node("a", inputs=["zz"])))
    with pytest.raises(PlanError, match="two nodes with id a"):
        parse_plan(plan_dict(node("a"), node("a")))
    with pytest.raises(PlanError, match="cycle through a, b"):
        parse_plan(plan_dict(node("a", inputs=["b"]), node("b", inputs=["a"])))
    data = plan_dict(node("a"))
    del data["nodes"][0]["fingerprint"]
    with pytest.raises(PlanError, match="no fingerprint"):
        parse_plan(data)


def test_load_plan_errors(tmp_path):
    with pytest.raises(PlanError, match="no plan file"):
        load_plan(tmp_path / "missing.json")
    bad = tmp_path / "bad.json"
    bad.write_text("{\n  nope")
    with pytest.raises(PlanError, match=r"bad.json:2:3: plan is not valid JSON"):
        load_plan(bad)
    good = tmp_path / "good.json"
    good.write_text(json.dumps(plan_dict(node("a"))))
    assert load_plan(good).nodes[0].id == "a"


def test_select_adds_ancestors_and_descendants_and_skips_manual():
    deploy = node("deploy:m", "noop", inputs=["train:m"])
    deploy["manual"] = True
    plan = parse_plan(plan_dict(node("source:x"), node("train:m", inputs=["source:x"]),
                                node("eval:m", inputs=["train:m"]), deploy))
    assert plan.select(None) == ["eval:m", "source:x", "train:m"]
    assert plan.select("train:*") == ["source:x", "train:m"]
    assert plan.select("train:m+") == ["eval:m", "source:x", "train:m"]
    assert plan.select("deploy:m") == ["deploy:m", "source:x", "train:m"]
    with pytest.raises(PlanError, match="matches no node"):
        plan.select("nope")
