"""The Ray executor: same results as inline, retries after a worker crash, and a run on a
two-node local cluster started by the test.

One Ray cluster per session (`ray start --head`, see conftest.py); the two-node test joins a
second node with `ray start --address` and runs `specops run --address` against them.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from plan_helpers import node, plan_dict, write_plan

from specops.runtime.engine.plan_reader import parse_plan
from specops.runtime.engine.run_loop import execute_plan
from specops.runtime.store import Store

pytestmark = pytest.mark.ray

SPECOPS = str(Path(sys.executable).with_name("specops"))


def _plan():
    return plan_dict(
        node("a", text="A", metrics={"rows": 3}),
        node("b", "test.sleep", inputs=["a"], seconds=0.05, text="B"),
        node("c", "test.sleep", inputs=["a"], seconds=0.05, text="C"),
        node("d", inputs=["b", "c"], text="D", metrics={"auc": 0.75}),
        node("bad", "test.fail", inputs=["a"], message="gate failed: auc < 0.8"),
        node("after_bad", inputs=["bad"]),
        node("fan", "test.fanout", n=5),
    )


def test_inline_and_ray_give_identical_results(ray_local, tmp_path):
    plan = parse_plan(_plan())
    inline = execute_plan(plan, tmp_path / "inline", executor="inline")
    on_ray = execute_plan(plan, tmp_path / "ray", executor="ray")
    assert on_ray.digests() == inline.digests()
    for nid, o in inline.nodes.items():
        r = on_ray.nodes[nid]
        assert (r.status, r.cause, r.metrics) == (o.status, o.cause, o.metrics), nid
    assert on_ray.nodes["bad"].cause == "gate failed: auc < 0.8"
    assert on_ray.nodes["after_bad"].status == "skipped"
    assert on_ray.nodes["d"].status == "done"                 # siblings of a failure finish
    assert on_ray.nodes["fan"].metrics == {"total": 30.0}     # fanned out as Ray tasks
    store = Store.from_url(None, tmp_path / "ray")
    fan = next(r for r in store.node_runs(on_ray.run_id) if r["node_id"] == "fan")
    assert fan["report"] == {"mapped": True}
    again = execute_plan(plan, tmp_path / "ray", executor="ray")
    assert all(again.nodes[n].cache_hit for n in ("a", "b", "c", "d"))


def test_ray_retries_a_crashed_worker_with_backoff(ray_local, tmp_path):
    n = node("flaky", "test.crash", mode="exit", times=1, marker="m.txt")
    n["retry"] = {"max_attempts": 3, "backoff_s": 0.05}
    res = execute_plan(parse_plan(plan_dict(n)), tmp_path, executor="ray")
    o = res.nodes["flaky"]
    assert res.ok and o.attempts == 2, o
    rows = Store.from_url(None, tmp_path).node_runs(res.run_id)
    assert rows[0]["attempts"] == 2


@pytest.mark.slow
def test_run_on_a_two_node_cluster(second_ray_node, tmp_path):
    project = tmp_path / "project"
    project.mkdir()
    # two 1-CPU nodes at once on two 1-CPU Ray nodes: they can only run side by side
    write_plan(project, plan_dict(
        node("left", "test.sleep", seconds=0.5, text="L"),
        node("right", "test.sleep", seconds=0.5, text="R"),
        node("join", inputs=["left", "right"], metrics={"n": 2})))
    r = subprocess.run([SPECOPS, "run", "--plan", "plan.json", "--executor", "ray",
                        "--address", second_ray_node, "--json"], cwd=project,
                       capture_output=True, text=True, timeout=180)
    assert r.returncode == 0, r.stderr[-3000:]
    events = [json.loads(line) for line in r.stdout.splitlines()]
    assert events[0]["executor"] == f"ray ({second_ray_node}, 2 nodes)"
    assert events[-1]["status"] == "succeeded" and events[-1]["counts"]["done"] == 3
