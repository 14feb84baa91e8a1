"""The Airflow and Dagster files `specops export` writes, loaded by the real tools.

Each tool runs from its own environment, `~/.cache/specops-peers/airflow-<v>` and
`dagster-<v>`, made here with `uv venv` + `uv pip install` when missing (Airflow about
200 MB, Dagster less; seconds to a minute with a warm uv cache; neither is ever a specops
dependency), and reused after. Loading takes 10-30 s per tool on the shared 2-core
machines, hence `slow`. What is checked: no import error, every job's DAG/job with one
task per node of the plan, the upstream edges, each node's retries and the schedule's
cron and timezone, as the tools themselves read them back.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from compile_helpers import plan_of
from export_helpers import scheduled_project

from specops.compiler.cli.main import main
from specops.compiler.render.orchestration import ExportOptions, Job, build_jobs

pytestmark = pytest.mark.slow

AIRFLOW = "3.3.2"
DAGSTER = "1.13.29"
PEERS = Path.home() / ".cache" / "specops-peers"


def _peer(name: str, version: str, package: str, exe: str) -> Path:
    """The environment's bin folder, made when missing (the console script `exe` is
    installed last, so its presence means the install finished)."""
    env = PEERS / f"{name}-{version}"
    if (env / "bin" / exe).is_file():
        return env / "bin"
    uv = shutil.which("uv")
    if uv is None:
        pytest.skip(f"uv is not installed: cannot make the {name} environment")
    shutil.rmtree(env, ignore_errors=True)
    PEERS.mkdir(parents=True, exist_ok=True)
    made = subprocess.run([uv, "venv", "-q", "--python", sys.executable, str(env)],
                          capture_output=True, text=True)
    if made.returncode == 0:
        made = subprocess.run([uv, "pip", "install", "-q", "--python",
                               str(env / "bin" / "python"), f"{package}=={version}"],
                              capture_output=True, text=True, timeout=900)
    if made.returncode != 0:
        shutil.rmtree(env, ignore_errors=True)
        why = f"cannot install {package}=={version}: {made.stderr.strip()[-300:]}"
        if os.environ.get("CI"):
            pytest.fail(why)
        pytest.skip(why)
    return env / "bin"


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Job]]:
    root = scheduled_project(tmp_path_factory.mktemp("project"))
    out = tmp_path_factory.mktemp("out")
    for target in ("airflow", "dagster"):
        assert main(["export", target, "-o", str(out / target), str(root)]) == 0
    return out, build_jobs(plan_of(root), ExportOptions(project_dir=str(root)))


def _expected(jobs: list[Job]) -> dict[str, Any]:
    return {f"specops__credit_risk__{j.slug}": {
        "cron": j.cron, "timezone": j.timezone if j.cron else None,
        "tasks": {t.id: {"retries": t.attempts - 1, "delay_s": t.backoff_s,
                         "upstream": sorted(t.upstream)} for t in j.tasks}} for j in jobs}


_AIRFLOW_READ = """
import json, sys
from airflow.models import DagBag
bag = DagBag(dag_folder=sys.argv[1])
out = {"errors": {str(k): str(v) for k, v in bag.import_errors.items()}, "dags": {}}
for dag_id, dag in bag.dags.items():
    tt = dag.timetable
    tz = getattr(tt, "_timezone", None)
    out["dags"][dag_id] = {
        "timetable": type(tt).__name__,
        "cron": tt.summary if type(tt).__name__ == "CronTriggerTimetable" else None,
        "timezone": getattr(tz, "name", None) if tz is not None else None,
        "catchup": dag.catchup,
        "tasks": {t.task_id: {"retries": t.retries,
                              "delay_s": t.retry_delay.total_seconds(),
                              "exponential": bool(t.retry_exponential_backoff),
                              "upstream": sorted(t.upstream_task_ids)} for t in dag.tasks}}
print(json.dumps(out))
"""


def test_airflow_loads_every_dag_as_the_plan_says(exported: tuple[Path, list[Job]],
                                                  tmp_path: Path) -> None:
    bin_dir = _peer("airflow", AIRFLOW, "apache-airflow", "airflow")
    out, jobs = exported
    env = {**os.environ, "AIRFLOW_HOME": str(tmp_path), "AIRFLOW__CORE__LOAD_EXAMPLES":
           "False", "AIRFLOW__CORE__DAGS_FOLDER": str(out / "airflow")}
    done = subprocess.run([str(bin_dir / "python"), "-c", _AIRFLOW_READ,
                           str(out / "airflow")], capture_output=True, text=True,
                          timeout=300, env=env)
    assert done.returncode == 0, done.stderr[-2000:]
    read = json.loads(done.stdout.strip().splitlines()[-1])
    assert read["errors"] == {}
    dags = read["dags"]
    want = _expected(jobs)
    assert sorted(dags) == sorted(want)
    for dag_id, dag in dags.items():
        w = want[dag_id]
        if w["cron"]:
            assert (dag["timetable"], dag["cron"], dag["timezone"]) == (
                "CronTriggerTimetable", w["cron"], w["timezone"])
        else:
            assert dag["timetable"] == "NullTimetable"   # started by hand
        assert dag["catchup"] is False
        got = {tid: {k: v for k, v in t.items() if k != "exponential"}
               for tid, t in dag["tasks"].items()}
        assert got == w["tasks"]
        assert all(t["exponential"] for t in dag["tasks"].values())


_DAGSTER_READ = """
import importlib.util, json, sys
spec = importlib.util.spec_from_file_location("exported", sys.argv[1])
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
defs = module.defs
out = {"jobs": {}, "schedules": {}}
for job in defs.resolve_all_job_defs():
    deps = job.graph.dependency_structure
    tasks = {}
    for node in job.graph.nodes:
        policy = node.definition.retry_policy
        ups = [o.node_name for outs in deps.input_to_upstream_outputs_for_node(
            node.name).values() for o in outs]
        tasks[node.name] = {"retries": policy.max_retries, "delay_s": policy.delay,
                            "backoff": policy.backoff.value, "upstream": sorted(ups)}
    out["jobs"][job.name] = tasks
for s in defs.get_repository_def().schedule_defs:
    out["schedules"][s.job_name] = [s.cron_schedule, s.execution_timezone]
print(json.dumps(out))
"""


def test_dagster_validates_and_loads_every_job_as_the_plan_says(
        exported: tuple[Path, list[Job]], tmp_path: Path) -> None:
    bin_dir = _peer("dagster", DAGSTER, "dagster", "dagster")
    out, jobs = exported
    (path,) = (out / "dagster").glob("*.py")
    env = {**os.environ, "DAGSTER_HOME": str(tmp_path)}
    (tmp_path / "dagster.yaml").write_text("", encoding="utf-8")
    checked = subprocess.run([str(bin_dir / "dagster"), "definitions", "validate", "-f",
                              str(path)], capture_output=True, text=True, timeout=300,
                             env=env)
    assert checked.returncode == 0, (checked.stdout + checked.stderr)[-2000:]
    assert "Validation successful" in checked.stdout + checked.stderr
    done = subprocess.run([str(bin_dir / "python"), "-c", _DAGSTER_READ, str(path)],
                          capture_output=True, text=True, timeout=300, env=env)
    assert done.returncode == 0, done.stderr[-2000:]
    read = json.loads(done.stdout.strip().splitlines()[-1])
    want = _expected(jobs)
    assert sorted(read["jobs"]) == sorted(want)
    for name, tasks in read["jobs"].items():
        assert {tid: {k: v for k, v in t.items() if k != "backoff"}
                for tid, t in tasks.items()} == want[name]["tasks"]
        assert {t["backoff"] for t in tasks.values()} == {"EXPONENTIAL"}
        cron = want[name]["cron"]
        assert read["schedules"].get(name) == ([cron, want[name]["timezone"]] if cron
                                               else None)
