"""`specops diff`: added/removed/changed nodes, reasons, impact, formats and exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from compile_helpers import EXAMPLE, copy_example, edit, plan_of

from specops.compiler.plan.plan_diff import PlanDiffError, diff_plans
from specops.compiler.render.diff_text import headline, render_diff


@pytest.fixture(scope="module")
def base() -> dict[str, Any]:
    return plan_of(EXAMPLE)


def _changed(tmp_path: Path, file: str, old: str, new: str) -> dict[str, Any]:
    project = copy_example(tmp_path / "p")
    edit(project / "specs" / file, old, new)
    return plan_of(project)


def test_identical_plans_have_no_changes(base: dict[str, Any]) -> None:
    diff = diff_plans(base, base)
    assert not diff.has_changes and diff.changes == []
    assert headline(diff) == "No changes to the plan."


def test_feature_expression_change_explains_itself_in_user_terms(
        base: dict[str, Any], tmp_path: Path) -> None:
    new = _changed(tmp_path, "features.yaml", '"log1p(income)"', '"log(income + 1)"')
    diff = diff_plans(base, new)
    by_id = {c.id: c for c in diff.changes}
    view = by_id["features:application_features@1"]
    assert view.direct and view.status == "changed"
    assert view.reasons == ["params.features[log_income].expr: log1p(income) → log(income + 1)"]
    train = by_id["train:credit_default"]
    assert not train.direct and "training_set:credit_default" in train.reasons[0]
    assert diff.impact["features_recomputed"] == ["application_features@1"]
    assert diff.impact["models_retrained"] == ["credit_default"]
    assert diff.impact["approvals_voided"] == ["credit_default"]
    assert diff.impact["deployments_affected"] == ["credit_default (production)",
                                                   "credit_default (staging)"]
    assert headline(diff).startswith("This change retrains 1 model, voids 1 approval")


def test_gate_change_voids_approval_without_retraining(base: dict[str, Any],
                                                       tmp_path: Path) -> None:
    diff = diff_plans(base, _changed(tmp_path, "gates.yaml", "brier <= 0.25", "brier <= 0.2"))
    assert diff.impact["models_retrained"] == []
    assert diff.impact["gates_reevaluated"] == ["credit_default:quality"]
    assert diff.impact["approvals_voided"] == ["credit_default"]
    gate = next(c for c in diff.changes if c.id == "gate:credit_default:quality")
    assert any("brier <= 0.25 → brier <= 0.2" in r for r in gate.reasons)


def test_serving_change_affects_deployments_only(base: dict[str, Any], tmp_path: Path) -> None:
    diff = diff_plans(base, _changed(tmp_path, "model.yaml", "replicas: 1", "replicas: 3"))
    assert {c.id for c in diff.changes} == {"deploy:credit_default:production",
                                            "deploy:credit_default:staging",
                                            "monitor:credit_default"}  # watches production
    assert diff.impact["approvals_voided"] == [] and diff.impact["models_retrained"] == []
    assert diff.models_changed["credit_default"] == ["serving.replicas: 1 → 3"]


def test_added_and_removed_models(base: dict[str, Any]) -> None:
    new = json.loads(json.dumps(base))
    new["nodes"] = [n for n in new["nodes"] if not n["id"].endswith(":credit_default")]
    diff = diff_plans(base, new)
    assert diff.impact["models_removed"] == ["credit_default"]
    assert diff.impact["approvals_voided"] == ["credit_default"]
    back = diff_plans(new, base)
    assert back.impact["models_added"] == ["credit_default"]
    assert back.impact["approvals_voided"] == []          # a new model had no approval
    assert {c.status for c in back.changes} == {"added"}


def test_formats(base: dict[str, Any], tmp_path: Path) -> None:
    diff = diff_plans(base, _changed(tmp_path, "features.yaml", '"log1p(income)"',
                                     '"log(income + 1)"'))
    md = render_diff("markdown", diff)
    assert md.startswith("### specops plan diff")
    assert "| models retrained | 1 | `credit_default` |" in md
    assert "<details>" in md and "`features:application_features@1` (direct)" in md
    text = render_diff("text", diff)
    assert "models retrained: credit_default" in text
    data = json.loads(render_diff("json", diff))
    assert data["has_changes"] is True and data["summary"]["changed"] == len(diff.changes)


def test_incomparable_plans(base: dict[str, Any]) -> None:
    with pytest.raises(PlanDiffError, match="format_version"):
        diff_plans(base, {**base, "format_version": base["format_version"] + 1})
    with pytest.raises(PlanDiffError):
        diff_plans(base, {"nodes": None})


def _cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "specops.compiler.cli.main", *args], cwd=cwd,
                          capture_output=True, text=True, check=False)


def test_cli_exit_codes(tmp_path: Path) -> None:
    old = tmp_path / "old.json"
    assert _cli("compile", str(EXAMPLE), "-o", str(old)).returncode == 0
    project = copy_example(tmp_path / "p")
    assert _cli("diff", str(old), str(project), "--exit-code").returncode == 0
    edit(project / "specs" / "gates.yaml", "brier <= 0.25", "brier <= 0.2")
    proc = _cli("diff", str(old), str(project), "--exit-code", "--format", "markdown")
    assert proc.returncode == 1 and "approvals voided" in proc.stdout
    assert _cli("diff", str(old), str(project)).returncode == 0      # without --exit-code
    missing = _cli("diff", str(old), str(tmp_path / "nope.json"))
    assert missing.returncode == 2 and missing.stderr.count("\n") == 1
    bad = tmp_path / "bad.json"
    bad.write_text("{not json", encoding="utf-8")
    assert _cli("diff", str(bad), str(old)).returncode == 2


def _git(cwd: Path, *args: str) -> None:
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.com"}
    subprocess.run(["git", *args], cwd=cwd, env=env, check=True, capture_output=True)


def test_cli_diff_against_a_git_ref(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    project = copy_example(repo / "projects" / "credit")
    _git(repo, "init", "-q")
    _git(repo, "add", ".")
    _git(repo, "commit", "-q", "-m", "base")
    assert _cli("diff", "--git", "HEAD", str(project), "--exit-code").returncode == 0
    edit(project / "specs" / "features.yaml", '"log1p(income)"', '"log(income + 1)"')
    proc = _cli("diff", "--git", "HEAD", "--exit-code", cwd=project)
    assert proc.returncode == 1, proc.stderr
    assert "retrains 1 model" in proc.stdout
    newer = copy_example(repo / "projects" / "new")
    added = _cli("diff", "--git", "HEAD", str(newer), "--exit-code", "--format", "json")
    assert added.returncode == 1, added.stderr
    assert json.loads(added.stdout)["impact"]["models_added"] == ["credit_default"]
    bad = _cli("diff", "--git", "no-such-ref", str(project))
    assert bad.returncode == 2 and "unknown git ref" in bad.stderr
    assert "Traceback" not in bad.stderr


def test_cli_explain(tmp_path: Path) -> None:
    proc = _cli("explain", "features:application_features@1", str(EXAMPLE))
    assert proc.returncode == 0, proc.stderr
    assert "the expression of feature log_income in specs/features.yaml:9" in proc.stdout
    proc = _cli("explain", "train:credit_default", str(EXAMPLE))
    assert "the estimator (class, params, search space) of model credit_default" in proc.stdout
    assert "features:bureau_history@2" in proc.stdout        # reached through inputs
    unknown = _cli("explain", "train:credit_defualt", str(EXAMPLE))
    assert unknown.returncode == 2 and "did you mean" in unknown.stderr
    several = _cli("explain", "credit_default", str(EXAMPLE))
    assert several.returncode == 2 and "name one" in several.stderr


def test_approval_rule_change_is_named(base: dict[str, Any], tmp_path: Path) -> None:
    new = _changed(tmp_path, "governance.yaml", "require: {model_risk_officer: 1, "
                   "business_owner: 1}", "require: {model_risk_officer: 2, business_owner: 1}")
    diff = diff_plans(base, new)
    assert diff.impact["approval_rules_changed"] == ["credit_default"]
    assert diff.impact["approvals_voided"] == [] and diff.impact["models_retrained"] == []
    assert diff.impact["deployments_affected"] == ["credit_default (production)"]
