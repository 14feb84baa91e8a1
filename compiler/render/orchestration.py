"""A compiled plan as jobs for an orchestrator: Airflow, Dagster, GitHub Actions or cron.

What a job is: one `schedules` entry of the plan (a retrain, a monitor, a materialization)
or, for a model with no `schedule:`, its retrain to be started by hand. A retrain is one
task per plan node (the model's automatic nodes and everything they read, in dependency
order), each `specops run PROJECT --select NODE` with the node's retries from the plan
(`retry.max_attempts`, `backoff_s` doubling per attempt, as the runtime's executors back
off): the orchestrator shows, retries and times each node, and `specops run` finds every
input a cache hit because the task before it computed it. A monitor is
`specops monitor MODEL --from-log` (with `--retrain` where the spec retrains on drift); a
materialization is `specops materialize PROJECT --select VIEW@VERSION`.

Why the artifacts come from sandboxed templates fed with one literal table: every value
from the plan (names, node ids, the project path, the cron) reaches the generated Python
only through `py` (Python's own `repr` of str/int/float/bool/None, lists and dicts), YAML
only through `yaml` (a JSON string, which YAML reads as a double-quoted scalar) and shell
only through `sh` (`shlex.quote`); templates hold no other interpolation. GitHub
evaluates `${{ ... }}` anywhere in a workflow, so a value containing it is refused.
The templates run in Jinja's sandbox with StrictUndefined (a misspelt field fails the
export instead of writing an empty string).
"""

from __future__ import annotations

import json
import pprint
import re
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jinja2 import FileSystemLoader, StrictUndefined
from jinja2.sandbox import SandboxedEnvironment

__all__ = ["TARGETS", "ExportError", "ExportOptions", "Job", "Task", "build_jobs", "render"]

TARGETS = ("airflow", "dagster", "github-actions", "cron")
TEMPLATES = Path(__file__).parent / "templates"
_SAFE_ID = re.compile(r"^[A-Za-z0-9_]+$")


class ExportError(ValueError):
    """The plan cannot be exported to this target (one line, for the command line)."""


@dataclass(frozen=True, slots=True)
class ExportOptions:
    project_dir: str                       # the project folder as the orchestrator sees it
    specops: tuple[str, ...] = ("specops",)  # how the orchestrator's machine runs specops
    out_dir: str = "."                     # absolute path of the output (crontab paths)


@dataclass(frozen=True, slots=True)
class Task:
    id: str                      # safe for Airflow task ids and Dagster op names
    node: str                    # the plan node, or the job's id for monitor/materialize
    argv: tuple[str, ...]
    attempts: int
    backoff_s: float
    upstream: tuple[str, ...] = ()

    def pauses(self) -> list[float]:
        """Seconds to wait before attempts 2..n (the runtime's doubling backoff)."""
        return [self.backoff_s * 2 ** i for i in range(self.attempts - 1)]


@dataclass(frozen=True, slots=True)
class Job:
    id: str                      # schedule id: train:credit_default
    slug: str                    # file, DAG and job name part: train__credit_default
    job: str                     # train | monitor | materialize
    cron: str | None             # None: started by hand
    timezone: str
    tasks: tuple[Task, ...]
    description: str = ""


def safe_id(text: str) -> str:
    """A plan id as an Airflow task id / Dagster name: `:` -> `__`, `@` -> `_v`."""
    out = text.replace(":", "__").replace("@", "_v")
    if not _SAFE_ID.match(out):
        raise ExportError(f"plan id {text!r} cannot be a task name (letters, digits, _, "
                          ": and @ only)")
    return out


def _order(nodes: Mapping[str, Mapping[str, Any]], wanted: set[str]) -> list[str]:
    """`wanted` in dependency order (ties by id: the same plan gives the same file)."""
    deps = {n: sorted(i for i in nodes[n].get("inputs", ()) if i in wanted) for n in wanted}
    done: list[str] = []
    placed: set[str] = set()
    while len(done) < len(wanted):
        ready = sorted(n for n in wanted if n not in placed and set(deps[n]) <= placed)
        if not ready:
            raise ExportError("the plan's nodes form a cycle")
        done.extend(ready[:1])
        placed.add(ready[0])
    return done


def _closure(nodes: Mapping[str, Mapping[str, Any]], select: Sequence[str]) -> set[str]:
    seen: set[str] = set()
    stack = [s for s in select if s in nodes]
    while stack:
        n = stack.pop()
        if n in seen:
            continue
        seen.add(n)
        stack.extend(i for i in nodes[n].get("inputs", ()) if i in nodes)
    return seen


def _retry(node: Mapping[str, Any] | None) -> tuple[int, float]:
    retry = (node or {}).get("retry") or {}
    return max(1, int(retry.get("max_attempts", 1))), max(0.0, float(retry.get("backoff_s", 0)))


def _train_tasks(plan: Mapping[str, Any], nodes: Mapping[str, Mapping[str, Any]],
                 select: Sequence[str], opts: ExportOptions) -> tuple[Task, ...]:
    wanted = _closure(nodes, select)
    manual = sorted(n for n in wanted if nodes[n].get("manual"))
    if manual:
        raise ExportError(f"a scheduled job would run manual node(s) {', '.join(manual)}; "
                          "deploys and monitors stay a person's decision")
    tasks = []
    for n in _order(nodes, wanted):
        attempts, backoff = _retry(nodes[n])
        ups = tuple(safe_id(i) for i in sorted(nodes[n].get("inputs", ())) if i in wanted)
        tasks.append(Task(safe_id(n), n, (*opts.specops, "run", opts.project_dir,
                                          "--select", n), attempts, backoff, ups))
    return tuple(tasks)


def _automatic(model: Mapping[str, Any], nodes: Mapping[str, Mapping[str, Any]]) -> list[str]:
    return sorted(n for n in model.get("nodes", ()) if n in nodes and not nodes[n]["manual"])


def build_jobs(plan: Mapping[str, Any], opts: ExportOptions) -> list[Job]:
    """Every job of the plan: its schedules, and a hand-started retrain per model that has
    no retrain schedule."""
    nodes = {str(n["id"]): n for n in plan.get("nodes", ())}
    models: Mapping[str, Any] = plan.get("models") or {}
    jobs: list[Job] = []
    scheduled = set()
    for s in plan.get("schedules", ()):
        sid, kind, name = str(s["id"]), str(s["job"]), str(s["spec"]["name"])
        if kind == "train":
            scheduled.add(name)
            tasks = _train_tasks(plan, nodes, s["select"], opts)
            what = f"retrain {name}: its plan nodes, one task each"
        elif kind == "monitor":
            mon = (models.get(name) or {}).get("monitoring") or {}
            argv = (*opts.specops, "monitor", name, "--from-log", "--project",
                    opts.project_dir, *(("--retrain",) if mon.get("retrain_on") else ()))
            attempts, backoff = _retry(nodes.get(f"monitor:{name}"))
            tasks = (Task(safe_id(sid), sid, argv, attempts, backoff),)
            what = f"monitor {name} from its prediction log"
        else:
            view = sid.split(":", 1)[1]
            attempts, backoff = _retry(nodes.get(f"features:{view}"))
            argv = (*opts.specops, "materialize", opts.project_dir, "--select", view)
            tasks = (Task(safe_id(sid), sid, argv, attempts, backoff),)
            what = f"materialize {view} into the online store"
        jobs.append(Job(sid, safe_id(sid), kind, str(s["cron"]), str(s["timezone"]), tasks,
                        f"{what}; {s['cron']} ({s['timezone']})"))
    for name in sorted(models):
        if name in scheduled:
            continue
        select = _automatic(models[name], nodes)
        if select:
            sid = f"train:{name}"
            jobs.append(Job(sid, safe_id(sid), "train", None, "UTC",
                            _train_tasks(plan, nodes, select, opts),
                            f"retrain {name}: its plan nodes, one task each; started by hand "
                            "(the model has no schedule)"))
    return sorted(jobs, key=lambda j: j.id)


# --- rendering -------------------------------------------------------------------------

def _py(value: Any) -> str:
    """A Python literal for plain data (never code): what `ast.literal_eval` reads back."""
    def check(v: Any) -> None:
        if isinstance(v, dict):
            for k, x in v.items():
                check(k)
                check(x)
        elif isinstance(v, (list, tuple)):
            for x in v:
                check(x)
        elif v is not None and not isinstance(v, (str, int, float, bool)):
            raise ExportError(f"cannot write a {type(v).__name__} into generated Python")
    check(value)
    return pprint.pformat(value, width=96, sort_dicts=False)


def _yaml(value: Any) -> str:
    """A YAML scalar: a JSON string (YAML reads it as a double-quoted scalar), a number."""
    if isinstance(value, str) and "${{" in value:
        raise ExportError(f"{value!r} holds `${{{{`, which GitHub would evaluate as an "
                          "expression")
    return json.dumps(value, ensure_ascii=True)


def _sh(value: Any) -> str:
    """Shell words, quoted. A line break is refused: quoted it is still one word to the
    shell, but it would end a YAML block scalar (`run: |`) or a crontab line."""
    words = [str(v) for v in value] if isinstance(value, (list, tuple)) else [str(value)]
    if any(c in w for w in words for c in "\r\n\x85\u2028\u2029"):
        raise ExportError(f"{words!r}: a value with a line break cannot be written as a "
                          "shell command")
    return shlex.join(words) if isinstance(value, (list, tuple)) else shlex.quote(words[0])


def _crontab_cmd(text: str) -> str:
    """A crontab command field: `%` means newline there unless escaped."""
    if "\n" in text:
        raise ExportError("a crontab command cannot hold a line break")
    return text.replace("%", "\\%")


def _comment(value: Any) -> str:
    """Text for a comment line: a line break would end the comment."""
    return " ".join(str(value).split())


def _seconds(value: float) -> str:
    return f"{value:g}"


def environment() -> SandboxedEnvironment:
    env = SandboxedEnvironment(loader=FileSystemLoader(str(TEMPLATES)),
                               undefined=StrictUndefined, autoescape=False,
                               keep_trailing_newline=True, trim_blocks=True,
                               lstrip_blocks=True)
    env.filters.update(py=_py, yaml=_yaml, sh=_sh, crontab=_crontab_cmd, seconds=_seconds,
                       comment=_comment)
    return env


def _job_table(jobs: Sequence[Job], project: str) -> list[dict[str, Any]]:
    return [{"dag_id": f"specops__{project}__{j.slug}", "job": j.id, "kind": j.job,
             "cron": j.cron, "timezone": j.timezone, "description": j.description,
             "tasks": [{"id": t.id, "node": t.node, "argv": list(t.argv),
                        "attempts": t.attempts, "backoff_s": t.backoff_s,
                        "upstream": list(t.upstream)} for t in j.tasks]} for j in jobs]


def render(target: str, plan: Mapping[str, Any], opts: ExportOptions) -> dict[str, str]:
    """File name (relative to the output folder) -> content, for one target."""
    project = safe_id(str((plan.get("project") or {}).get("name") or "project"))
    jobs = build_jobs(plan, opts)
    env = environment()
    head = {"project": project, "command": f"specops export {target}"}
    if target == "airflow":
        text = env.get_template("airflow_dag.py.j2").render(
            jobs=_job_table(jobs, project), **head)
        return {f"specops_{project}_airflow.py": text}
    if target == "dagster":
        text = env.get_template("dagster_defs.py.j2").render(
            jobs=_job_table(jobs, project), **head)
        return {f"specops_{project}_dagster.py": text}
    if target == "github-actions":
        for j in jobs:
            for t in j.tasks:
                for word in t.argv:
                    _yaml(word)   # GitHub evaluates ${{ }} inside `run:` too
        uses_uv = opts.specops[0] in ("uv", "uvx")
        return {f"specops-{project}-{j.slug}.yml".replace("_", "-"): env.get_template(
            "github_workflow.yml.j2").render(job=j, uses_uv=uses_uv, **head) for j in jobs}
    if target == "cron":
        out = {f"{j.slug}.sh": env.get_template("cron_job.sh.j2").render(job=j, **head)
               for j in jobs}
        scripts = {j.slug: f"{opts.out_dir.rstrip('/')}/{j.slug}.sh" for j in jobs}
        out["crontab"] = env.get_template("crontab.j2").render(
            jobs=[j for j in jobs if j.cron], scripts=scripts, **head)
        return out
    raise ExportError(f"unknown export target {target!r} (one of {', '.join(TARGETS)})")
