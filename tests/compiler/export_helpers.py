"""A copy of the credit-risk example with every kind of schedule, for the export tests:
a weekly retrain in Berlin, a weekday monitor (the example logs predictions), a view
materialized every 30 minutes (a macro elsewhere), and a second model with no schedule
(its retrain is exported to be started by hand)."""

from __future__ import annotations

from pathlib import Path

from compile_helpers import copy_example, edit

RETRAIN = {"cron": "0 3 * * SUN", "timezone": "Europe/Berlin"}
MONITOR = {"cron": "0 6 * * MON-FRI", "timezone": "Europe/Berlin"}
MATERIALIZE = {"cron": "*/30 * * * *", "timezone": "UTC"}


def scheduled_project(dest: Path) -> Path:
    root = copy_example(dest)
    model = root / "specs" / "model.yaml"
    edit(model, "  cooldown: 7d\n", "  cooldown: 7d\n  schedule: {cron: \"0 6 * * MON-FRI\", "
         "timezone: Europe/Berlin}\n")
    edit(model, "review_cadence: 52w\n", "review_cadence: 52w\nschedule: {cron: \"0 3 * * "
         "SUN\", timezone: Europe/Berlin}\n")
    text = model.read_text(encoding="utf-8")
    second = "\n".join(line for line in text.split("\n") if "schedule:" not in line)
    second = second.replace("name: credit_default", "name: credit_default_manual", 1)
    model.write_text(text.rstrip("\n") + "\n---\n" + second, encoding="utf-8")
    edit(root / "specs" / "features.yaml", "name: bureau_history\nversion: 2\n",
         "name: bureau_history\nversion: 2\nschedule: \"*/30 * * * *\"\n")
    return root
