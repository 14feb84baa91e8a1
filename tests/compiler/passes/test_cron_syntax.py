"""The portable cron subset lint accepts (compiler/facts/cron_syntax.py): what it accepts
croniter reads and fires; what it refuses is named; the frequency and daylight-saving
scans give the expected answers."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from croniter import croniter

from specops.compiler.facts.cron_syntax import cron_problem, dst_fires, min_gap, normalise

ACCEPTED = ["0 3 * * *", "*/5 * * * *", "0 0 1 1 *", "15 6,18 * JAN-DEC mon-fri",
            "0 0 * * 7", "0-30/10 1-3 1,15 * *", "@daily", "@weekly", "  0   3 * *  * "]
REFUSED = {
    "0 3 * *": "five fields",
    "0 0 3 * * *": "five fields",
    "61 * * * *": "outside 0-59",
    "0 24 * * *": "outside 0-23",
    "0 0 0 * *": "outside 1-31",
    "0 0 L * *": "not portable",
    "0 0 * * 1#2": "not portable",
    "0 0 ? * *": "not portable",
    "H 0 * * *": "not portable",
    "0 0 * * MON-SUNDAY": "not portable",
    "0 0 * FOO *": "not a month",
    "30-10 * * * *": "backwards",
    "*/0 * * * *": "step of 0",
    "0 0 30 2 *": "never fires",
    "@reboot": "macros",
}


@pytest.mark.parametrize("cron", ACCEPTED)
def test_accepted_cron_is_read_and_fires_in_croniter(cron: str) -> None:
    assert cron_problem(cron) is None
    five = normalise(cron)
    assert len(five.split(" ")) == 5 and croniter.is_valid(five)
    croniter(five, datetime(2030, 1, 1)).get_next(datetime)


@pytest.mark.parametrize(("cron", "why"), sorted(REFUSED.items()))
def test_refused_cron_says_why(cron: str, why: str) -> None:
    problem = cron_problem(cron)
    assert problem is not None and why in problem, problem


def test_the_shortest_gap() -> None:
    assert min_gap("*/5 * * * *") == timedelta(minutes=5)
    assert min_gap("0 6,18 * * *") == timedelta(hours=12)
    assert min_gap("0 3,4 * * 1") == timedelta(hours=1)
    assert min_gap("@daily") == timedelta(days=1)


def test_daylight_saving_fires() -> None:
    berlin = ZoneInfo("Europe/Berlin")
    hits = dst_fires("30 2 * * *", berlin)
    assert [(h.month, h.hour, h.minute) for h in hits] == [(3, 2, 30), (10, 2, 30)]
    assert dst_fires("0 4 * * *", berlin) == []
    assert dst_fires("30 2 * * *", ZoneInfo("UTC")) == []
