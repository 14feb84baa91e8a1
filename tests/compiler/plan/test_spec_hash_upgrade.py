"""The spec hash across upgrades: approvals bind to it, so a field specops learned later
must not move the hash of a spec that does not use it, and operational settings never do."""

from __future__ import annotations

import json
from pathlib import Path

from compile_helpers import REPO, copy_example, edit, plan_of

GOLDEN = REPO / "tests" / "fixtures" / "plans" / "credit-risk.plan.json"
# The example's spec hash before specops knew schedule:, rollout:, on_breach:,
# online_store: and lineage: (golden plan at 3038315): upgrading must leave it unchanged.
BEFORE_UPGRADE = "sha256:6cfdbd0c1e8e3370f7ea7ade5d9e7df49067c4027aa3e20389406d866fc128f1"


def test_the_example_hashes_as_before_the_new_fields(tmp_path: Path) -> None:
    assert plan_of(copy_example(tmp_path))["spec_hash"] == BEFORE_UPGRADE
    assert json.loads(GOLDEN.read_text(encoding="utf-8"))["spec_hash"] == BEFORE_UPGRADE


def test_where_operational_output_goes_is_not_approved_content(tmp_path: Path) -> None:
    project = copy_example(tmp_path)
    (project / "specops.yaml").write_text(
        (project / "specops.yaml").read_text(encoding="utf-8")
        + "\nonline_store: redis://127.0.0.1:6379/3\nlineage: file:lineage.jsonl\n",
        encoding="utf-8")
    assert plan_of(project)["spec_hash"] == BEFORE_UPGRADE


def test_a_rollout_rule_or_on_breach_that_is_set_is_approved_content(tmp_path: Path) -> None:
    project = copy_example(tmp_path / "a")
    edit(project / "specs" / "model.yaml", "  label_delay: 30d",
         "  label_delay: 30d\n  on_breach: rollback")
    with_breach = plan_of(project)["spec_hash"]
    assert with_breach != BEFORE_UPGRADE

    other = copy_example(tmp_path / "b")
    (other / "specs" / "model.yaml").write_text(
        (other / "specs" / "model.yaml").read_text(encoding="utf-8")
        + "rollout: {rollback_when: [{metric: error_rate, above: 0.05}]}\n", encoding="utf-8")
    assert plan_of(other)["spec_hash"] not in (BEFORE_UPGRADE, with_breach)
