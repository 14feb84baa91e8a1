"""Failures outside any op are one line and a failed run, never a traceback or an
"interrupted" run: a local Ray that cannot start, an artifacts folder that cannot be
written; and Ray's token-authentication notice is not printed on every start."""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from plan_helpers import node, plan_dict, write_plan

from specops.compiler.cli.main import main


def _statuses(root: Path) -> list[str]:
    db = sqlite3.connect(root / ".specops" / "store.db")
    rows = [r[0] for r in db.execute("SELECT status FROM runs ORDER BY started_at")]
    db.close()
    return rows


def test_ray_that_cannot_start_is_one_line_exit_2_and_a_failed_run(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any) -> None:
    pytest.importorskip("ray")
    import ray

    from specops.runtime.engine.executors import ray_executor

    calls: list[dict[str, Any]] = []

    def broken_init(**kwargs: Any) -> None:
        calls.append(kwargs)
        raise RuntimeError("Failed to start the GCS server.\nmore detail")

    monkeypatch.setattr(ray, "is_initialized", lambda: False)
    monkeypatch.setattr(ray, "init", broken_init)
    monkeypatch.setattr(ray, "shutdown", lambda: None)
    monkeypatch.setattr(ray_executor.time, "sleep", lambda s: None)
    write_plan(tmp_path, plan_dict(node("a")))
    monkeypatch.chdir(tmp_path)
    assert main(["run", "--plan", "plan.json", "--executor", "ray"]) == 2
    err = capsys.readouterr().err
    assert err.strip().splitlines()[-1] == \
        "specops: error: could not start Ray: Failed to start the GCS server."
    assert "Traceback" not in err and "internal error" not in err
    assert len(calls) == ray_executor.START_ATTEMPTS == 2     # tried again once
    assert calls[0]["address"] == "local"
    assert _statuses(tmp_path) == ["failed"]
    # the auth notice's logger is silenced for every start
    assert logging.getLogger(ray_executor._AUTH_LOGGER).level == logging.ERROR


def test_unwritable_artifacts_fail_the_step_with_one_line(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any) -> None:
    """As root, file modes do not stop writes, so the folder is made unwritable by putting
    a file where its staging directory goes: the same OSError a read-only mount gives."""
    write_plan(tmp_path, plan_dict(node("a"), node("b", inputs=["a"])))
    tmp = tmp_path / ".specops" / "artifacts" / "tmp"
    tmp.parent.mkdir(parents=True)
    tmp.write_text("not a folder")
    monkeypatch.chdir(tmp_path)
    assert main(["run", "--plan", "plan.json", "--executor", "inline", "--quiet"]) == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err and "internal error" not in err
    assert f"specops: node a failed: cannot write outputs under {tmp}:" in err
    assert _statuses(tmp_path) == ["failed"]


def test_the_shared_ray_fixture_retries_a_failed_start_with_fresh_arguments(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A busy machine made the session's `ray start` miss once and error six Ray tests;
    the fixture now tries again (new ports each time) before giving up."""
    import ray_helpers

    seen: list[list[str]] = []

    def flaky(args: list[str], log: Path, deadline: float) -> Any:
        seen.append(args)
        if len(seen) < 3:
            raise TimeoutError("ray start did not finish in time:\n...")
        return "proc"

    monkeypatch.setattr(ray_helpers, "start_node", flaky)
    monkeypatch.setattr(ray_helpers.time, "sleep", lambda s: None)
    assert ray_helpers.start_with_retry(lambda i: [f"--port={i}"], tmp_path / "h.log") == \
        "proc"
    assert seen == [["--port=0"], ["--port=1"], ["--port=2"]]
    seen.clear()
    monkeypatch.setattr(ray_helpers, "start_node",
                        lambda a, log, d: (_ for _ in ()).throw(RuntimeError("ray start "
                                                                             "failed:\nx")))
    with pytest.raises(RuntimeError, match="ray start failed 3 times"):
        ray_helpers.start_with_retry(lambda i: [], tmp_path / "h.log")


def test_an_all_cached_run_neither_imports_nor_starts_ray(tmp_path: Path) -> None:
    from plan_helpers import plan_dict as make_plan

    from specops.runtime.engine.executors import LazyRay
    from specops.runtime.engine.plan_reader import parse_plan
    from specops.runtime.engine.run_loop import execute_plan

    plan = parse_plan(make_plan(node("a"), node("b", inputs=["a"])))
    assert execute_plan(plan, tmp_path, executor="inline").ok
    lazy = LazyRay()
    again = execute_plan(plan, tmp_path, executor=lazy)
    assert again.ok and all(o.cache_hit for o in again.nodes.values())
    assert lazy.real is None                      # Ray never imported for this run
    assert lazy.describe() == "ray (local, not started: nothing to compute)"
