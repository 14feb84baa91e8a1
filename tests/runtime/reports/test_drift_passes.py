"""Alert hygiene per stream: a `--current` pass and a `--from-log` pass of the same model
count their breaching windows separately (issue 19: a `--current` pass over four shifted
weeks followed by a `--from-log` pass over one window reported "5 in a row").

Real SQLite store (the state table the CLI uses), no mocks.
"""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa

from specops.runtime.monitor.alerts import Hygiene, Signal, reset_state

DAY = 86400.0
DRIFT = [Signal("data_drift", "alert", "dataset drift")]


def _engine(tmp_path: Path) -> sa.Engine:
    return sa.create_engine(f"sqlite:///{tmp_path / 'store.db'}")


def test_a_log_pass_does_not_continue_the_current_passes_run(tmp_path: Path) -> None:
    engine = _engine(tmp_path)
    batch = Hygiene(engine, "m", consecutive_windows=2, cooldown_s=0, stream="current")
    fired = []
    for week in range(4):                       # four breaching weeks from a file
        fired += batch.observe(DRIFT, f"w{week}", (week + 1) * 7 * DAY)
    assert [a.consecutive for a in fired] == [2, 3, 4]
    assert batch.active() == ["data_drift"]
    log = Hygiene(engine, "m", consecutive_windows=2, cooldown_s=0, stream="log")
    assert log.state("data_drift").consecutive == 0          # nothing leaked in
    # one log window, later than every file window: the first of its run, not the fifth
    assert log.observe(DRIFT, "today", 60 * DAY) == []
    assert log.state("data_drift").consecutive == 1
    assert log.active() == []
    # the second log window completes the log's own run of two
    (alert,) = log.observe(DRIFT, "tomorrow", 61 * DAY)
    assert alert.consecutive == 2 and log.active() == ["data_drift"]
    # and the batch stream kept its own count and its own seen windows
    assert batch.state("data_drift").consecutive == 4
    assert batch.state("data_drift").last_window_end == 28 * DAY


def test_a_log_window_before_the_batch_windows_is_not_skipped_as_seen(tmp_path: Path) -> None:
    """The seen-window guard is per stream too: log traffic from last week is new to the
    log even after a batch pass covered later dates."""
    engine = _engine(tmp_path)
    Hygiene(engine, "m", stream="current").observe(DRIFT, "batch", 100 * DAY)
    log = Hygiene(engine, "m", stream="log")
    (alert,) = log.observe(DRIFT, "last week", 90 * DAY)
    assert alert.consecutive == 1


def test_the_log_stream_keeps_the_plain_signal_rows_and_reset_clears_both(
        tmp_path: Path) -> None:
    """Stores written before streams existed hold the log's (and the monitor node's)
    state under the plain signal name; the log stream reads them as its own."""
    engine = _engine(tmp_path)
    Hygiene(engine, "m", consecutive_windows=3).observe(DRIFT, "w", DAY)
    Hygiene(engine, "m", consecutive_windows=3, stream="current").observe(DRIFT, "w", DAY)
    with engine.connect() as c:
        keys = sorted(r[0] for r in c.exec_driver_sql(
            "SELECT signal FROM monitor_state WHERE model = 'm'"))
    assert keys == ["data_drift", "data_drift@current"]
    reset_state(engine, "m")
    assert Hygiene(engine, "m").state("data_drift").consecutive == 0
    assert Hygiene(engine, "m", stream="current").state("data_drift").consecutive == 0
