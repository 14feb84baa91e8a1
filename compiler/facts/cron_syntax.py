"""Cron expressions as every export target reads them: the portable five-field subset.

Why a subset: the schedule of a spec is handed to Airflow, Dagster, GitHub Actions and a
crontab (`specops export`), and they agree only on POSIX cron fields with numbers, names
(JAN-DEC, SUN-SAT), `*`, lists, ranges and steps. croniter (the parser lint uses) also
takes seconds fields, `L`, `W`, `#`, `?` and Jenkins' `H`, which GitHub Actions and
crontab refuse or read differently, so those are refused here, located at the field.
The `@daily`-style macros are read as the five fields they stand for (GitHub Actions has
none), and the plan holds the five fields.

Why the time checks scan a fixed year: lint must give the same answer on every machine
and every day, so gaps and daylight-saving transitions are looked for in 2030 (a year
with no leap day in February and the usual transitions), from its first instant.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import CroniterBadDateError, croniter

__all__ = ["MACROS", "CronProblem", "cron_problem", "dst_fires", "min_gap", "normalise",
           "zone"]

MACROS = {"@yearly": "0 0 1 1 *", "@annually": "0 0 1 1 *", "@monthly": "0 0 1 * *",
          "@weekly": "0 0 * * 0", "@daily": "0 0 * * *", "@midnight": "0 0 * * *",
          "@hourly": "0 * * * *"}
_FIELDS = ("minute", "hour", "day-of-month", "month", "day-of-week")
_RANGES = ((0, 59), (0, 23), (1, 31), (1, 12), (0, 7))
_NAMES = {3: ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov",
              "dec"),
          4: ("sun", "mon", "tue", "wed", "thu", "fri", "sat")}
_ITEM = re.compile(r"^(\*|[0-9]+|[A-Za-z]{3})(?:-([0-9]+|[A-Za-z]{3}))?(?:/([0-9]+))?$")
_YEAR = datetime(2030, 1, 1)


class CronProblem(ValueError):
    """Why a cron expression is refused (one sentence, for a diagnostic)."""


def normalise(text: str) -> str:
    """The five fields of `text`, single-spaced; a macro as the fields it stands for."""
    text = " ".join(text.split())
    return MACROS.get(text.lower(), text)


def _value(token: str, field: int) -> int:
    if token.isdigit():
        return int(token)
    names = _NAMES.get(field)
    if names is None or token.lower() not in names:
        raise CronProblem(f"`{token}` is not a {_FIELDS[field]} value")
    return names.index(token.lower()) + (1 if field == 3 else 0)


def _check_field(text: str, field: int) -> None:
    low, high = _RANGES[field]
    for item in text.split(","):
        m = _ITEM.match(item)
        if m is None:
            raise CronProblem(f"`{item}` in the {_FIELDS[field]} field is not portable cron "
                              "(numbers, names, `*`, `a-b`, `*/n` and lists only)")
        start, end, step = m.groups()
        for token in (start, end):
            if token is None or token == "*":
                continue
            v = _value(token, field)
            if not low <= v <= high:
                raise CronProblem(f"{_FIELDS[field]} {v} is outside {low}-{high}")
        if start == "*" and end is not None:
            raise CronProblem(f"`{item}`: `*` cannot start a range")
        if end is not None and _value(start, field) > _value(end, field):
            raise CronProblem(f"`{item}`: the range runs backwards")
        if step is not None and int(step) == 0:
            raise CronProblem(f"`{item}`: a step of 0 never advances")


def cron_problem(text: str) -> str | None:
    """Why `text` is not a portable cron expression that fires, or None when it is."""
    cron = normalise(text)
    if cron.startswith("@"):
        return (f"`{cron}` is not one of the cron macros ({', '.join(sorted(MACROS))}); "
                "@reboot has no time to schedule")
    fields = cron.split(" ")
    if len(fields) != 5:
        return (f"a cron expression has five fields (minute hour day-of-month month "
                f"day-of-week); this one has {len(fields)}")
    try:
        for i, f in enumerate(fields):
            _check_field(f, i)
    except CronProblem as exc:
        return str(exc)
    if not croniter.is_valid(cron):
        return "croniter cannot read it"
    try:
        croniter(cron, _YEAR).get_next(datetime)
    except CroniterBadDateError:
        return "it never fires (no such date, e.g. 30 February)"
    return None


def zone(name: str) -> ZoneInfo | None:
    """The IANA timezone `name`, or None when this machine's tz database lacks it."""
    if not name or name.startswith(("/", ".")) or ".." in name:
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


def min_gap(cron: str, fires: int = 400) -> timedelta:
    """The shortest wall-clock gap between consecutive fires among the first `fires` of
    the scan year (enough to see every pattern a human writes: a day's worth of minutes
    shows itself in the first two)."""
    it = croniter(normalise(cron), _YEAR - timedelta(minutes=1))
    prev: datetime = it.get_next(datetime)
    best = timedelta.max
    for _ in range(fires):
        nxt: datetime = it.get_next(datetime)
        best = min(best, nxt - prev)
        prev = nxt
    return best


@lru_cache(maxsize=64)
def _transitions(tz: ZoneInfo) -> list[tuple[datetime, datetime]]:
    """Local wall-clock windows of the scan year that are skipped or repeated in `tz`."""
    out = []
    t = _YEAR.replace(tzinfo=UTC)
    end = t.replace(year=_YEAR.year + 1)
    step = timedelta(hours=1)
    before = t.astimezone(tz).utcoffset()
    while t < end:
        after = (t + step).astimezone(tz).utcoffset()
        if after != before and before is not None and after is not None:
            local = (t + step).astimezone(tz).replace(tzinfo=None)
            shift = abs(after - before)
            # spring forward skips [local - shift, local); fall back repeats [local, +shift)
            start = local - shift if after > before else local
            out.append((start, start + shift))
        before = after
        t += step
    return out


def dst_fires(cron: str, tz: ZoneInfo) -> list[datetime]:
    """Local fire times of the scan year that fall in a daylight-saving gap or overlap
    of `tz`: skipped or run twice, depending on the orchestrator."""
    hits = []
    expr = normalise(cron)
    for start, stop in _transitions(tz):
        t = start
        while t < stop:
            if croniter.match(expr, t):
                hits.append(t)
            t += timedelta(minutes=1)
    return hits
