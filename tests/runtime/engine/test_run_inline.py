"""The run loop on the inline executor: caching, failures, retries, corruption, resume."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from plan_helpers import node, plan_dict, write_plan

from specops.runtime.engine.executors.inline import InlineExecutor
from specops.runtime.engine.plan_reader import PlanError, parse_plan
from specops.runtime.engine.run_loop import execute_plan
from specops.runtime.store import Store


def _log(root: Path) -> list[str]:
    f = root / "log.txt"
    return f.read_text().split() if f.exists() else []


def _diamond(**extra):
    return plan_dict(node("a", text="A", log="log.txt", metrics={"rows": 3}),
                     node("b", inputs=["a"], text="B", log="log.txt"),
                     node("c", inputs=["a"], text="C", log="log.txt"),
                     node("d", inputs=["b", "c"], text="D", log="log.txt"), **extra)


def test_run_then_cache_hit_does_no_work(tmp_path):
    plan = parse_plan(_diamond())
    first = execute_plan(plan, tmp_path)
    assert first.ok and sorted(_log(tmp_path)) == ["a", "b", "c", "d"]
    assert not any(o.cache_hit for o in first.nodes.values())
    out = json.loads((first.nodes["d"].path / "out.txt").read_text())
    assert set(out["inputs"]) == {"b", "c"}

    second = execute_plan(plan, tmp_path)
    assert second.ok and len(_log(tmp_path)) == 4          # nothing ran again
    assert all(o.cache_hit for o in second.nodes.values())
    assert second.digests() == first.digests()
    assert second.nodes["a"].metrics == {"rows": 3.0}       # replayed from the cache


def test_changed_param_recomputes_node_and_descendants_only(tmp_path):
    execute_plan(parse_plan(_diamond()), tmp_path)
    data = _diamond()
    for n in data["nodes"]:
        if n["id"] == "b":
            n["params"]["text"] = "B2"
            n["fingerprint"] = "sha256:changed"
    res = execute_plan(parse_plan(data), tmp_path)
    assert _log(tmp_path)[4:] == ["b", "d"]
    assert res.nodes["c"].cache_hit and not res.nodes["b"].cache_hit


def test_changed_external_file_invalidates_cache(tmp_path):
    (tmp_path / "data.csv").write_text("x\n1\n")
    plan = parse_plan(plan_dict(node("src", "test.read_file", path="data.csv"),
                                node("use", inputs=["src"], log="log.txt")))
    assert execute_plan(plan, tmp_path).ok
    assert execute_plan(plan, tmp_path).nodes["src"].cache_hit
    (tmp_path / "data.csv").write_text("x\n2\n")
    res = execute_plan(plan, tmp_path)
    assert not res.nodes["src"].cache_hit and not res.nodes["use"].cache_hit
    assert _log(tmp_path) == ["use", "use"]
    # the stat memo is persisted: an unchanged file is not re-read on the next check
    store = Store.from_url(None, tmp_path)
    from specops.runtime.engine.datahash import HashMemo
    memo = HashMemo()
    store.load_memo(memo)
    assert str(tmp_path / "data.csv") in memo.entries


def test_failure_skips_only_descendants_and_reports_cause(tmp_path):
    plan = parse_plan(plan_dict(node("a", log="log.txt"),
                                node("bad", "test.fail", inputs=["a"], message="row count 3 < 10"),
                                node("after", inputs=["bad"]),
                                node("later", inputs=["after"]),
                                node("sibling", inputs=["a"], log="log.txt")))
    res = execute_plan(plan, tmp_path)
    assert res.status == "failed"
    assert res.nodes["bad"].status == "failed" and res.nodes["bad"].cause == "row count 3 < 10"
    assert res.nodes["bad"].attempts == 1                   # OpError: never retried
    assert res.nodes["after"].status == "skipped"
    assert res.nodes["after"].cause == "input bad failed"
    assert res.nodes["later"].cause == "upstream bad failed"
    assert res.nodes["sibling"].status == "done"
    rows = {r["node_id"]: r for r in Store.from_url(None, tmp_path).node_runs(res.run_id)}
    assert rows["bad"]["cause"] == "row count 3 < 10" and rows["bad"]["failure_kind"] == "user"


def test_internal_errors_are_retried_with_backoff(tmp_path):
    n = node("flaky", "test.crash", times=1, marker="m.txt")
    n["retry"] = {"max_attempts": 3, "backoff_s": 0.01}
    res = execute_plan(parse_plan(plan_dict(n)), tmp_path)
    assert res.ok and res.nodes["flaky"].attempts == 2
    n2 = node("broken", "test.crash", times=5, marker="m2.txt")
    n2["retry"] = {"max_attempts": 2, "backoff_s": 0.01}
    res = execute_plan(parse_plan(plan_dict(n2)), tmp_path)
    o = res.nodes["broken"]
    assert o.status == "failed" and o.attempts == 2 and o.failure_kind == "internal"
    assert "simulated infrastructure failure" in o.cause


def test_corrupted_artifact_is_detected_and_recomputed(tmp_path):
    plan = parse_plan(_diamond())
    first = execute_plan(plan, tmp_path)
    target = first.nodes["b"].path / "out.txt"
    os.chmod(target, 0o644)
    target.write_text("tampered")
    notices: list[str] = []

    from specops.runtime.engine.progress import Progress

    class Capture(Progress):
        def notice(self, message: str) -> None:
            notices.append(message)

    res = execute_plan(plan, tmp_path, progress=Capture())
    assert res.ok
    assert not res.nodes["b"].cache_hit and res.nodes["c"].cache_hit
    assert _log(tmp_path)[4:] == ["b"]                       # d is a hit: b's output is equal
    assert res.nodes["b"].digest == first.nodes["b"].digest
    assert json.loads(target.read_text())["text"] == "B"     # restored, never used tampered
    assert any("b: stored output" in m and "corrupted" in m for m in notices)


def test_unknown_op_refused_before_running(tmp_path):
    with pytest.raises(PlanError, match="x: unknown op 'no such op'"):
        execute_plan(parse_plan(plan_dict(node("x", "no such op"))), tmp_path)
    with pytest.raises(PlanError, match="x: unknown op 'frobnicate'"):
        execute_plan(parse_plan(plan_dict(node("x", "frobnicate"))), tmp_path)


def test_select_runs_only_what_is_needed(tmp_path):
    res = execute_plan(parse_plan(_diamond()), tmp_path, select="b",
                       executor=InlineExecutor())
    assert sorted(res.nodes) == ["a", "b"] and sorted(_log(tmp_path)) == ["a", "b"]


SPECOPS = str(Path(sys.executable).with_name("specops"))


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([SPECOPS, *args], cwd=cwd,
                          capture_output=True, text=True, timeout=120)


def test_cli_exit_codes_and_runs_commands(tmp_path):
    write_plan(tmp_path, plan_dict(node("a", metrics={"auc": 0.8}),
                                   node("bad", "test.fail", inputs=["a"], message="gate x")))
    r = _cli("run", "--plan", "plan.json", "--executor", "inline", cwd=tmp_path)
    assert r.returncode == 1, r.stderr
    assert "node bad failed: gate x" in r.stderr
    r = _cli("runs", "list", cwd=tmp_path)
    assert r.returncode == 0 and "failed" in r.stdout
    r = _cli("runs", "show", "latest", cwd=tmp_path)
    assert r.returncode == 0 and "auc = 0.8" in r.stdout and "cause: gate x" in r.stdout
    r = _cli("runs", "show", "nope", cwd=tmp_path)
    assert r.returncode == 2 and r.stderr.count("\n") == 1
    (tmp_path / "new.json").write_text(json.dumps({**plan_dict(node("a")),
                                                   "format_version": 99}))
    r = _cli("run", "--plan", "new.json", "--executor", "inline", cwd=tmp_path)
    assert r.returncode == 2 and "newer than this runtime" in r.stderr
    assert r.stderr.count("\n") == 1
    r = _cli("run", "--plan", "plan.json", "--executor", "inline", "--select", "zz",
             cwd=tmp_path)
    assert r.returncode == 2 and "matches no node" in r.stderr
    r = _cli("run", "--plan", "plan.json", "--address", "127.0.0.1:1", cwd=tmp_path)
    assert r.returncode == 2 and "no Ray cluster answers at 127.0.0.1:1" in r.stderr
    r = _cli("run", "--plan", "plan.json", "--executor", "inline", "--json", "--select", "a",
             cwd=tmp_path)
    events = [json.loads(line) for line in r.stdout.splitlines()]
    assert r.returncode == 0 and events[-1]["event"] == "run_finished"
    assert events[1] == {**events[1], "event": "node_finished", "cache_hit": True}


@pytest.mark.slow
def test_resume_after_sigkill_of_the_driver(tmp_path):
    """Kill a real `specops run` mid-run; the next run recomputes only what is missing."""
    nodes = [node(f"s{i}", "test.sleep", seconds=0.6, log="log.txt", text=str(i))
             for i in range(6)]
    write_plan(tmp_path, plan_dict(*nodes, node("end", inputs=[n["id"] for n in nodes],
                                                log="log.txt")))
    cmd = [SPECOPS, "run", "--plan", "plan.json",
           "--executor", "inline", "--quiet"]
    proc = subprocess.Popen(cmd, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while len(_log(tmp_path)) < 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    done_before = _log(tmp_path)
    assert 3 <= len(done_before) < 7, done_before

    r = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert "was interrupted" in r.stderr
    rerun = _log(tmp_path)[len(done_before):]
    # nodes whose output was committed before the kill are not recomputed; at most the one
    # in flight (logged, not yet committed) runs again
    assert "end" in rerun and len(rerun) <= 7 - len(done_before) + 1
    assert sorted(set(_log(tmp_path))) == sorted([f"s{i}" for i in range(6)] + ["end"])
    store = Store.from_url(None, tmp_path)
    runs = store.list_runs()
    assert [r["status"] for r in runs] == ["succeeded", "interrupted"]
    assert not any((tmp_path / ".specops/artifacts/tmp").iterdir())
    # and a third run does nothing at all
    r = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and "7 cached" in r.stderr


def test_run_compiles_a_project_folder_first(tmp_path):
    import shutil

    fixture = Path(__file__).resolve().parents[2] / "fixtures" / "projects" / "minimal"
    project = tmp_path / "minimal"
    shutil.copytree(fixture, project)
    r = _cli("run", str(project), "--executor", "inline", "--quiet", "--select", "source:*",
             cwd=tmp_path)
    # compiled and ran: the source node ran and failed on its (absent) data file
    assert r.returncode == 1, r.stderr
    assert "node source:loans failed: " in r.stderr and "data/loans.parquet" in r.stderr
    assert (project / ".specops" / "store.db").is_file()


def test_an_op_hashing_its_inputs_differently_is_reported(tmp_path):
    from specops.runtime.engine.op_registry import OpResult, register_op
    from specops.runtime.engine.progress import Progress

    (tmp_path / "d.csv").write_text("1")
    register_op("test.bad_hash", lambda ctx: OpResult(data_hashes={"d.csv": "md5:abc"}))
    notices: list[str] = []

    class Capture(Progress):
        def notice(self, message: str) -> None:
            notices.append(message)

    plan = parse_plan(plan_dict(node("x", "test.bad_hash")))
    execute_plan(plan, tmp_path, progress=Capture())
    assert any("x: reported hash of d.csv (md5:abc)" in m for m in notices)
    assert not execute_plan(plan, tmp_path).nodes["x"].cache_hit   # never a silent hit
