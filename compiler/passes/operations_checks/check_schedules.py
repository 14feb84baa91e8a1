"""Schedules (`schedule:` on a model, its `monitoring:` block and a feature view): a cron
every export target reads the same way, a timezone this machine knows, a sane frequency,
no fire lost or doubled by a daylight-saving change, and a monitor that has rows to read.

Why lint and not the orchestrator: `specops export` hands the schedule to Airflow,
Dagster, GitHub Actions or cron, each of which reports a bad cron (if at all) when the
DAG is loaded or the job never fires, far from the spec line that must change. Each
finding here is located at that field (`cron`, `timezone`, or the `schedule` string).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Literal

from specops.compiler.diagnostics.diagnostic import Severity
from specops.compiler.facts.cron_syntax import cron_problem, dst_fires, min_gap, normalise, zone
from specops.compiler.frontend.validate_specs import LoadedSpec
from specops.compiler.kinds.common import CronSchedule
from specops.compiler.kinds.model_kind import ModelSpec
from specops.compiler.passes.context import Context

__all__ = ["FLOORS", "check_schedules"]

Job = Literal["train", "monitor", "materialize"]

# The shortest interval each job may be scheduled at without a warning (SPEC703): a
# retrain takes minutes to hours and registers a version each time; a monitor window needs
# new predictions to say anything; GitHub Actions runs nothing more often than 5 minutes.
FLOORS: dict[Job, timedelta] = {"train": timedelta(hours=1),
                                 "monitor": timedelta(minutes=15),
                                 "materialize": timedelta(minutes=5)}
_DST_MATTERS = timedelta(hours=2)


def _show(gap: timedelta) -> str:
    minutes = int(gap.total_seconds() // 60)
    return f"{minutes // 60}h" if minutes % 60 == 0 and minutes >= 60 else f"{minutes}m"


def _check_one(ctx: Context, loaded: LoadedSpec, schedule: str | CronSchedule, job: Job,
               *path: str) -> None:
    if loaded.reported(*path):
        return
    written = isinstance(schedule, CronSchedule)
    cron_at = (*path, "cron") if written else path
    cron = schedule.cron if isinstance(schedule, CronSchedule) else schedule
    tz_name = schedule.timezone if isinstance(schedule, CronSchedule) else "UTC"
    problem = None if loaded.reported(*cron_at) else cron_problem(cron)
    if problem is not None:
        ctx.error("SPEC701", f"invalid cron `{cron}`: {problem}", loaded, *cron_at,
                  help="five fields: minute hour day-of-month month day-of-week, e.g. "
                       "\"0 3 * * *\" for 03:00 every day")
    tz = zone(tz_name)
    if tz is None and not loaded.reported(*path, "timezone"):
        ctx.error("SPEC702", f"unknown timezone `{tz_name}`", loaded, *path, "timezone",
                  help="an IANA name such as UTC, Europe/Berlin or America/New_York")
    if problem is not None or tz is None:
        return
    floor = FLOORS[job]
    gap = min_gap(cron)
    if gap < floor:
        ctx.error("SPEC703", f"`{normalise(cron)}` runs the {job} job every {_show(gap)}; "
                  f"the floor for it is {_show(floor)}", loaded, *cron_at,
                  help=f"schedule it at most every {_show(floor)}, or suppress with a reason",
                  severity=Severity.WARNING)
    # a job that runs at least every two hours loses or doubles one run of many at a
    # daylight-saving change, which no one notices; a daily 02:30 loses its whole day
    hits = dst_fires(cron, tz) if gap >= _DST_MATTERS else []
    if hits:
        first = hits[0]
        ctx.error("SPEC704", f"`{normalise(cron)}` fires at {first:%H:%M} local time on "
                  f"{first:%d %B}, inside a daylight-saving change of {tz_name}: that run "
                  "is skipped or doubled depending on the orchestrator", loaded, *cron_at,
                  help="move it out of the change (e.g. before 01:00 or after 04:00), or "
                       "use timezone: UTC", severity=Severity.WARNING)


def _monitor_reads_nothing(ctx: Context, loaded: LoadedSpec, model: ModelSpec) -> None:
    """A scheduled monitor runs `specops monitor MODEL --from-log`; without the prediction
    log it has no current rows to compare with the reference, every time."""
    serving = model.serving
    if serving is not None and serving.log_predictions:
        return
    related = []
    if serving is not None and "log_predictions" in serving.model_fields_set:
        related.append(ctx.related("the prediction log is turned off here", loaded,
                                   "serving", "log_predictions"))
    why = "`serving.log_predictions` is false" if serving is not None else \
        "the model has no `serving:` block"
    ctx.error("SPEC705", f"a scheduled monitor of `{model.name}` reads the prediction log, "
              f"but {why}: it would have no rows to compare with the reference", loaded,
              "monitoring", "schedule", help="serve the model with `log_predictions: true`, "
              "or run `specops monitor --current FILE` yourself instead of scheduling it",
              related=related)


def check_schedules(ctx: Context) -> None:
    for loaded, model in ctx.models():
        if model.schedule is not None:
            _check_one(ctx, loaded, model.schedule, "train", "schedule")
        mon = model.monitoring
        if mon is not None and mon.schedule is not None:
            _check_one(ctx, loaded, mon.schedule, "monitor", "monitoring", "schedule")
            if not loaded.reported("serving"):
                _monitor_reads_nothing(ctx, loaded, model)
    for versions in ctx.index.features.values():
        for view_loaded in versions.values():
            view = view_loaded.spec
            if view.schedule is not None:
                _check_one(ctx, view_loaded, view.schedule, "materialize", "schedule")
