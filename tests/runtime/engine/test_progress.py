"""Progress modes: rich, plain, quiet and JSON lines all report the same run."""

from __future__ import annotations

import io
import json

from plan_helpers import node, plan_dict
from rich.console import Console

from specops.runtime.engine.plan_reader import parse_plan
from specops.runtime.engine.progress import JsonProgress, PlainProgress, QuietProgress, RichProgress
from specops.runtime.engine.run_loop import execute_plan

PLAN = plan_dict(node("a"), node("bad", "test.fail", inputs=["a"], message="too few rows"),
                 node("c", inputs=["bad"]))


def test_json_lines(tmp_path):
    out = io.StringIO()
    execute_plan(parse_plan(PLAN), tmp_path, progress=JsonProgress(out))
    events = [json.loads(line) for line in out.getvalue().splitlines()]
    kinds = [e["event"] for e in events]
    assert kinds[0] == "run_started" and kinds[-1] == "run_finished"
    finished = {e["node"]: e for e in events if e["event"] == "node_finished"}
    assert finished["bad"]["cause"] == "too few rows" and finished["c"]["status"] == "skipped"
    assert events[-1]["counts"] == {"done": 1, "cached": 0, "failed": 1, "skipped": 1}


def test_plain_quiet_and_rich(tmp_path):
    plain, quiet = io.StringIO(), io.StringIO()
    execute_plan(parse_plan(PLAN), tmp_path, progress=PlainProgress(plain))
    execute_plan(parse_plan(PLAN), tmp_path, progress=QuietProgress(quiet))
    assert "   done a" in plain.getvalue() and "skipped c" in plain.getvalue()
    lines = quiet.getvalue().splitlines()
    assert lines[0] == "FAILED bad: too few rows"
    assert "failed: 0 done, 1 cached, 1 failed, 1 skipped" in lines[1]
    buf = io.StringIO()
    execute_plan(parse_plan(PLAN), tmp_path,
                 progress=RichProgress(Console(file=buf, width=100, color_system=None)))
    text = buf.getvalue()
    assert "cached" in text and "FAILED bad: too few rows" in text and "3 nodes" in text


def test_executor_that_cannot_start_is_a_one_line_error(tmp_path):
    import pytest

    from specops.runtime.engine.executors import Executor, ExecutorError

    class Broken(Executor):
        name = "broken"

        def init(self) -> None:
            raise ConnectionError("no cluster at 10.0.0.1:6379\nmore detail")

        def submit(self, task):  # pragma: no cover
            raise AssertionError

        def wait(self):  # pragma: no cover
            return []

        def pending(self) -> int:  # pragma: no cover
            return 0

    with pytest.raises(ExecutorError, match=r"^cannot start the broken executor: "
                       r"ConnectionError: no cluster at 10\.0\.0\.1:6379$"):
        execute_plan(parse_plan(PLAN), tmp_path, executor=Broken())
