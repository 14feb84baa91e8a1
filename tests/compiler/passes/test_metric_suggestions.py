"""A gate check on `auc` suggests `roc_auc` (what everyone means), not `pr_auc` (which is
closer in spelling); other names brought from other tools map the same way."""

from __future__ import annotations

import shutil
from pathlib import Path

from specops.compiler.diagnostics.suggest import closest
from specops.compiler.passes.lint import lint_paths

MINIMAL = Path(__file__).resolve().parents[2] / "fixtures" / "projects" / "minimal"


def test_auc_in_a_gate_suggests_roc_auc(tmp_path: Path) -> None:
    root = tmp_path / "p"
    shutil.copytree(MINIMAL, root)
    (root / "specs" / "gate.yaml").write_text('kind: gate\nname: quality\nchecks:\n'
                                              '  - "auc >= 0.7"\n')
    result = lint_paths([root], base=root)
    found = [d for d in result.diagnostics if "auc" in d.message]
    assert found and found[0].help == "did you mean `roc_auc`?", \
        [(d.code, d.message, d.help) for d in result.diagnostics]


def test_aliases_only_apply_to_names_on_offer() -> None:
    metrics = ["roc_auc", "pr_auc", "accuracy", "log_loss"]
    assert closest("auc", metrics) == "roc_auc"
    assert closest("AUPRC", metrics) == "pr_auc"
    assert closest("logloss", metrics) == "log_loss"
    assert closest("mse", ["rmse", "mae", "r2"]) == "rmse"
    assert closest("auc", ["rmse", "mae"]) is None     # a regressor: no roc_auc to offer
    assert closest("acuracy", metrics) == "accuracy"   # spelling still works
