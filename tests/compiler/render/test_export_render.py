"""`specops export`: jobs from the plan, GitHub Actions workflows against SchemaStore's
published schema, crontab lines read back by croniter, the generated shell run for real
(retries, exit status), and hostile values kept as data in Python, YAML and shell.

The Airflow and Dagster files are loaded by the real tools in
tests/compiler/cli/test_export_peers.py (their own environments, slow)."""

from __future__ import annotations

import ast
import hashlib
import json
import shlex
import stat
import subprocess
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import jsonschema
import pytest
import yaml
from compile_helpers import REPO, plan_of
from croniter import croniter
from export_helpers import MATERIALIZE, MONITOR, RETRAIN, scheduled_project

from specops.compiler.cli.main import main
from specops.compiler.render.orchestration import ExportError, ExportOptions, build_jobs, render

VENDOR = REPO / "tests" / "fixtures" / "vendor" / "github-workflow"
SCHEMA_SHA256 = "7a952fdb7c1b130732e40ccea9db9bced906c1198e97834f8a49ae3b411f3161"


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return scheduled_project(tmp_path_factory.mktemp("scheduled"))


@pytest.fixture(scope="module")
def plan(project: Path) -> dict[str, Any]:
    return plan_of(project)


def _export(target: str, project: Path, out: Path, *extra: str) -> int:
    return main(["export", target, "-o", str(out), str(project), *extra])


def test_plan_schedules_are_what_the_specs_say(plan: dict[str, Any]) -> None:
    by_id = {s["id"]: s for s in plan["schedules"]}
    assert sorted(by_id) == ["materialize:bureau_history@2", "monitor:credit_default",
                             "train:credit_default"]
    for sid, want in (("train:credit_default", RETRAIN), ("monitor:credit_default", MONITOR),
                      ("materialize:bureau_history@2", MATERIALIZE)):
        assert {k: by_id[sid][k] for k in ("cron", "timezone")} == want
    manual = {n["id"] for n in plan["nodes"] if n["manual"]}
    select = by_id["train:credit_default"]["select"]
    assert "train:credit_default" in select and not manual & set(select)
    assert by_id["materialize:bureau_history@2"]["select"] == ["features:bureau_history@2"]


def test_a_retrain_is_every_node_it_needs_in_order_with_the_plans_retries(
        plan: dict[str, Any]) -> None:
    nodes = {n["id"]: n for n in plan["nodes"]}
    jobs = {j.id: j for j in build_jobs(plan, ExportOptions(project_dir="proj"))}
    train = jobs["train:credit_default"]
    order = [t.node for t in train.tasks]
    assert "source:applications" in order and "register:credit_default" in order
    assert not any(nodes[n]["manual"] for n in order)
    for t in train.tasks:
        node = nodes[t.node]
        assert (t.attempts, t.backoff_s) == (node["retry"]["max_attempts"],
                                             node["retry"]["backoff_s"])
        assert t.argv == ("specops", "run", "proj", "--select", t.node)
        for i in node["inputs"]:   # every input runs before the node
            assert order.index(i) < order.index(t.node)
    assert {t.attempts for t in train.tasks} >= {1, 2, 3}   # per node, not one for all
    manual = jobs["train:credit_default_manual"]
    assert manual.cron is None and manual.tasks
    monitor = jobs["monitor:credit_default"].tasks[0]
    assert monitor.argv == ("specops", "monitor", "credit_default", "--from-log",
                            "--project", "proj", "--retrain")   # retrain_on: [data_drift]


def test_github_workflows_validate_against_the_published_schema(
        project: Path, plan: dict[str, Any], tmp_path: Path) -> None:
    raw = (VENDOR / "github-workflow.json").read_bytes()
    assert hashlib.sha256(raw).hexdigest() == SCHEMA_SHA256
    schema = json.loads(raw)
    jsonschema.Draft7Validator.check_schema(schema)
    validator = jsonschema.Draft7Validator(schema)
    assert _export("github-actions", project, tmp_path, "--specops", "uv run specops") == 0
    files = sorted(tmp_path.glob("*.yml"))
    assert len(files) == 4
    jobs = {j.id: j for j in build_jobs(plan, ExportOptions(project_dir=str(project)))}
    seen = set()
    for f in files:
        doc = yaml.safe_load(f.read_text(encoding="utf-8"))
        errors = [f"{e.json_path}: {e.message}" for e in validator.iter_errors(doc)]
        assert errors == [], (f.name, errors[:3])
        job = jobs[doc["name"].removeprefix("specops ")]
        seen.add(job.id)
        triggers = doc["on"]
        if job.cron:
            assert triggers["schedule"] == [{"cron": job.cron, "timezone": job.timezone}]
        else:
            assert "schedule" not in triggers
        (steps,) = [j["steps"] for j in doc["jobs"].values()]
        runs = [s for s in steps if "run" in s]
        assert [s["name"] for s in runs] == [t.node for t in job.tasks]
        for step, task in zip(runs, job.tasks, strict=True):
            assert f"uv run specops {shlex.join(task.argv[1:])}" in step["run"]
            assert step["run"].count("for pause in") == 1
            assert f"for pause in {' '.join([*(f'{p:g}' for p in task.pauses()), 'end'])};" \
                in step["run"]
    assert seen == set(jobs)


def test_crontab_lines_read_back_with_croniter(project: Path, plan: dict[str, Any],
                                               tmp_path: Path) -> None:
    assert _export("cron", project, tmp_path) == 0
    lines = [ln for ln in (tmp_path / "crontab").read_text(encoding="utf-8").splitlines()
             if ln and not ln.startswith("#")]
    assert lines[0] == "SHELL=/bin/sh"
    entries = {}
    tz = "UTC"
    for line in lines[1:]:
        if line.startswith("CRON_TZ="):
            tz = line.split("=", 1)[1]
            continue
        fields = line.split(None, 5)
        cron, command = " ".join(fields[:5]), shlex.split(fields[5])
        assert croniter.is_valid(cron)
        script = Path(command[-1])
        assert script.parent == tmp_path.resolve() and script.is_file()
        entries[script.stem] = (cron, tz)
    assert entries == {"materialize__bureau_history_v2": tuple(MATERIALIZE.values()),
                       "monitor__credit_default": tuple(MONITOR.values()),
                       "train__credit_default": tuple(RETRAIN.values())}
    # read in its zone, the retrain's next fire is Sunday 03:00 Berlin time
    cron, tz = entries["train__credit_default"]
    nxt = croniter(cron, datetime(2026, 3, 25, tzinfo=ZoneInfo(tz))).get_next(datetime)
    assert (nxt.weekday(), nxt.hour, nxt.minute, str(nxt.tzinfo)) == (6, 3, 0, tz)
    assert (tmp_path / "train__credit_default_manual.sh").is_file()   # no line: by hand


def _fake_specops(tmp_path: Path, fail_times: int) -> Path:
    """A stand-in for the specops CLI (a mock, said so: these tests check the generated
    shell, not specops): logs its arguments, fails the first `fail_times` calls."""
    fake = tmp_path / "fake-specops"
    fake.write_text(f"""#!/bin/sh
n=$(cat "{tmp_path}/count" 2>/dev/null || echo 0); n=$((n + 1)); echo $n > "{tmp_path}/count"
for a in "$@"; do printf '%s\\n' "$a"; done >> "{tmp_path}/argv"
[ "$n" -gt {fail_times} ]
""", encoding="utf-8")
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    return fake


@pytest.mark.parametrize(("fail_times", "code", "calls"), [(2, 0, 3), (5, 1, 3)])
def test_the_cron_script_retries_each_node_as_the_plan_says(
        project: Path, tmp_path: Path, fail_times: int, code: int, calls: int) -> None:
    fake = _fake_specops(tmp_path, fail_times)
    out = tmp_path / "cron"
    assert _export("cron", project, out, "--specops", str(fake)) == 0
    # materialize: the view's node has 3 attempts, 1 s then 2 s apart
    done = subprocess.run(["/bin/sh", str(out / "materialize__bureau_history_v2.sh")],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == code, done.stderr
    assert int((tmp_path / "count").read_text()) == calls


HOSTILE = "proj dir/'; touch PWNED; echo '\"\"\"$(touch PWNED2)`touch PWNED3`{{ 7*7 }}%"


def test_hostile_values_stay_data_in_every_target(project: Path, tmp_path: Path) -> None:
    fake = _fake_specops(tmp_path, 0)
    for target in ("airflow", "dagster", "cron"):
        out = tmp_path / (target if target != "cron" else "cron 50%")
        assert _export(target, project, out, "--project-dir", HOSTILE,
                       "--specops", str(fake)) == 0
    for py in (*(tmp_path / "airflow").glob("*.py"), *(tmp_path / "dagster").glob("*.py")):
        tree = ast.parse(py.read_text(encoding="utf-8"))
        (jobs,) = [n.value for n in tree.body if isinstance(n, ast.Assign)
                   and getattr(n.targets[0], "id", "") == "JOBS"]
        table = ast.literal_eval(jobs)            # plain data: no call, no name
        argvs = [t["argv"] for j in table for t in j["tasks"]]
        assert all(HOSTILE in a for a in argvs)
        assert "PWNED" not in "".join(ast.unparse(n) for n in tree.body if n is not jobs
                                      and not isinstance(n, ast.Assign))
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    done = subprocess.run(["/bin/sh", str(tmp_path / "cron 50%" / "monitor__credit_default.sh")],
                          cwd=cwd, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    argv = (tmp_path / "argv").read_text(encoding="utf-8").splitlines()
    assert argv == ["monitor", "credit_default", "--from-log", "--project", HOSTILE,
                    "--retrain"]
    assert not any(p.name.startswith("PWNED") for p in cwd.iterdir())
    crontab = (tmp_path / "cron 50%" / "crontab").read_text(encoding="utf-8")
    assert "50\\%" in crontab and "%" not in crontab.replace("\\%", "")   # bare %: newline


@pytest.mark.parametrize("value", ["a\nb: pwned", "${{ secrets.TOKEN }}"])
def test_values_github_would_read_as_yaml_or_expressions_are_refused(
        project: Path, tmp_path: Path, value: str, capsys: pytest.CaptureFixture[str]
        ) -> None:
    assert _export("github-actions", project, tmp_path, "--project-dir", value) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("specops: error: export github-actions:") and "\n" not in err
    assert not list(tmp_path.glob("*.yml"))


def test_a_hand_edited_plan_cannot_smuggle_code(plan: dict[str, Any], tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    bad = json.loads(json.dumps(plan))
    bad["schedules"][0]["cron"] = "0 3 * * *'); import os; os.system('id"
    path = tmp_path / "plan.json"
    path.write_text(json.dumps(bad), encoding="utf-8")
    assert main(["export", "airflow", "-o", str(tmp_path / "out"), "--plan", str(path)]) == 2
    err = capsys.readouterr().err.strip()
    assert "is not a plan this specops can export" in err and "\n" not in err
    assert not (tmp_path / "out").exists()


def test_target_option_plan_file_and_subcommand_write_the_same(
        project: Path, plan: dict[str, Any], tmp_path: Path) -> None:
    plan_path = tmp_path / "plan.json"
    plan_path.write_text(json.dumps(plan), encoding="utf-8")
    a, b, c = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    assert main(["export", "--target", "airflow", "-o", str(a), str(project)]) == 0
    assert main(["export", "airflow", "-o", str(b), str(project)]) == 0
    assert main(["export", "--target=airflow", "-o", str(c), "--plan", str(plan_path),
                 "--project-dir", str(project)]) == 0
    contents = {f.read_text(encoding="utf-8") for d in (a, b, c) for f in d.iterdir()}
    assert len(contents) == 1


def test_a_package_can_add_a_target_the_documented_way(tmp_path: Path) -> None:
    import argparse

    from specops.compiler.cli.export_commands import register

    parser = argparse.ArgumentParser(prog="specops")
    sub = parser.add_subparsers(dest="command")
    register(sub, lambda p: None)
    export = sub.choices.get("export")
    targets = getattr(export, "export_targets", None)
    assert targets is not None
    extra = targets.add_parser("mytool")
    extra.add_argument("--uri")
    extra.set_defaults(func="mytool-handler")
    for argv in (["export", "mytool", "--uri", "x"], ["export", "--target", "mytool",
                                                      "--uri", "x"]):
        args = parser.parse_args(argv)
        assert (args.export_target, args.uri, args.func) == ("mytool", "x", "mytool-handler")


def test_a_name_that_cannot_be_a_task_id_is_refused(plan: dict[str, Any]) -> None:
    bad = json.loads(json.dumps(plan))
    bad["project"]["name"] = "a-b"
    with pytest.raises(ExportError, match="cannot be a task name"):
        render("airflow", bad, ExportOptions(project_dir="p"))


def test_a_schedule_changes_neither_fingerprints_nor_the_spec_hash(tmp_path: Path) -> None:
    """Approvals bind to spec_hash and caches to fingerprints: when a job runs is neither."""
    from compile_helpers import copy_example, edit

    plain = plan_of(copy_example(tmp_path / "plain"))
    timed = copy_example(tmp_path / "timed")
    edit(timed / "specs" / "model.yaml", "review_cadence: 52w\n",
         "review_cadence: 52w\nschedule: \"0 4 * * *\"\n")
    scheduled = plan_of(timed)
    assert [s["id"] for s in scheduled["schedules"]] == ["train:credit_default"]
    assert scheduled["spec_hash"] == plain["spec_hash"]
    assert [n["fingerprint"] for n in scheduled["nodes"]] == \
        [n["fingerprint"] for n in plain["nodes"]]
