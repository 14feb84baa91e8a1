"""The runtime's reader on the plans the compiler writes: every golden plan (and every
format-1 one, upgraded) is read, and every node comes with its op's typed params holding
exactly the values the plan carries; params that do not fit are refused before a run."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from plan_helpers import node, plan_dict

from specops.contract.op_catalog import OPS
from specops.contract.op_params import BenchmarkParams, GateParams
from specops.runtime.engine.op_interface import OpContext, OpError
from specops.runtime.engine.plan_reader import PlanError, load_plan, parse_plan

REPO = Path(__file__).resolve().parents[3]
GOLDEN = sorted((REPO / "tests" / "fixtures" / "plans").glob("*.plan.json"))
V1 = sorted((REPO / "tests" / "contract" / "fixtures").glob("*.v1.plan.json"))


def test_there_are_golden_plans() -> None:
    assert len(GOLDEN) >= 2 and len(V1) >= 2


@pytest.mark.parametrize("path", GOLDEN, ids=lambda p: p.name)
def test_every_golden_plan_is_read_with_typed_params(path: Path) -> None:
    raw = json.loads(path.read_text(encoding="utf-8"))
    plan = load_plan(path)
    assert [n.id for n in plan.nodes] == [n["id"] for n in raw["nodes"]]
    for n, written in zip(plan.nodes, raw["nodes"], strict=True):
        assert type(n.typed) is OPS[n.op].params, n.id
        # the op reads exactly what the compiler wrote, nothing added or defaulted
        assert n.typed.model_dump(mode="json", by_alias=True) == written["params"], n.id
        assert dict(n.params) == written["params"], n.id
        assert n.fingerprint == written["fingerprint"]


@pytest.mark.parametrize("path", V1, ids=lambda p: p.name)
def test_a_format_1_plan_is_upgraded_on_read(path: Path) -> None:
    plan = load_plan(path)
    current = load_plan(REPO / "tests" / "fixtures" / "plans" / path.name.replace(".v1.", "."))
    assert plan.format_version == current.format_version
    # the example's `fairness:` block came after format 1: compare without it
    def typed(n: Any) -> Any:
        return n.typed.model_copy(update={"fairness": None}) if n.op == "evaluate" else n.typed

    assert [typed(n) for n in plan.nodes] == [typed(n) for n in current.nodes]
    bench = next(n.typed for n in plan.nodes if n.op == "benchmark")
    gate = next(n.typed for n in plan.nodes if n.op == "gate")
    assert isinstance(bench, BenchmarkParams) and bench.test_rows == 100
    assert isinstance(gate, GateParams) and gate.require_champion is False


def _golden_with(change: Any) -> dict[str, Any]:
    raw: dict[str, Any] = json.loads(GOLDEN[0].read_text(encoding="utf-8"))
    change(next(n for n in raw["nodes"] if n["op"] == "train")["params"])
    return raw


@pytest.mark.parametrize(("change", "fragment"), [
    (lambda p: p["estimator"].pop("seed"), "params.estimator.seed: Field required"),
    (lambda p: p.update(task="clustering"), "params.task: Input should be"),
    (lambda p: p.update(extra=1), "params.extra: Extra inputs are not permitted"),
])
def test_params_that_do_not_fit_their_op_are_refused_before_running(change: Any,
                                                                    fragment: str) -> None:
    with pytest.raises(PlanError) as info:
        parse_plan(_golden_with(change))
    message = str(info.value)
    assert "train:" in message and fragment in message and "\n" not in message


def test_ops_outside_the_catalog_keep_their_own_params() -> None:
    plan = parse_plan(plan_dict(node("a", text="x")))
    assert plan.nodes[0].typed is None and plan.nodes[0].params == {"text": "x"}


def test_op_context_gives_typed_params_or_a_one_line_cause(tmp_path: Path) -> None:
    plan = load_plan(GOLDEN[0])
    n = next(n for n in plan.nodes if n.op == "benchmark")
    ctx = OpContext(node_id=n.id, op=n.op, params=dict(n.params), project_root=tmp_path,
                    out_dir=tmp_path, inputs={}, run_id="r", fingerprint=n.fingerprint)
    assert ctx.typed(BenchmarkParams) == n.typed
    partial = OpContext(node_id=n.id, op=n.op, params={"rows": 10}, project_root=tmp_path,
                        out_dir=tmp_path, inputs={}, run_id="r", fingerprint=n.fingerprint)
    with pytest.raises(OpError, match=r"params\.repeats: Field required"):
        partial.typed(BenchmarkParams)


def test_every_catalog_op_is_runnable_here() -> None:
    """The runtime's op registry follows the catalog: every op the compiler can write
    names a function that exists in this runtime (checked without importing it)."""
    from specops.runtime.engine.op_registry import OPS as REGISTRY
    from specops.runtime.engine.op_registry import check_ops

    assert {op: REGISTRY[op] for op in OPS} == {op: i.runtime for op, i in OPS.items()}
    assert check_ops(OPS) == {}
