"""Approval rules against the permission matrix, and the compiler's copy of its default.

The compiler does not import the runtime, so check_approvals keeps its own copy of the
roles allowed to approve by default; if the runtime's default changed alone, lint would
accept approvals the runtime refuses (or the reverse). The other tests run the attack a
project author would: a rule that requires a role the runtime will never let approve.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from broken_cases import MINIMAL

from specops.compiler.passes.governance_checks.check_approvals import DEFAULT_APPROVE
from specops.compiler.passes.lint import lint_paths
from specops.runtime.governance.permissions import DEFAULT_PERMISSIONS


def test_default_approvers_match_the_runtime() -> None:
    assert DEFAULT_PERMISSIONS["approve"] == DEFAULT_APPROVE


def _project(tmp_path: Path, approval: str, extra_config: str = "") -> Path:
    root = tmp_path / "p"
    shutil.copytree(MINIMAL, root)
    (root / "specs" / "approval.yaml").write_text(approval, encoding="utf-8")
    if extra_config:
        cfg = root / "specops.yaml"
        cfg.write_text(cfg.read_text(encoding="utf-8") + extra_config, encoding="utf-8")
    return root


def test_role_allowed_by_explicit_permissions_is_accepted(tmp_path: Path) -> None:
    root = _project(tmp_path, "kind: approval\nname: standard\nrules:\n"
                              "  - require: {ml_engineer: 1, model_risk_officer: 1}\n",
                    "permissions:\n  approve: [ml_engineer, model_risk_officer]\n")
    result = lint_paths([root], base=root)
    assert [d.code for d in result.diagnostics if d.code == "SPEC521"] == []
    # alice, the only ml_engineer, is in the owning team: unsatisfiable, located at the
    # rule's `ml_engineer` entry, with the model and alice herself related
    (d,) = [d for d in result.diagnostics if d.code == "SPEC503"]
    assert d.location() == "specs/approval.yaml:4:28"
    assert [r.location() for r in d.related] == ["specs/model.yaml:14:11", "specops.yaml:7:3"]
    assert "alice" in d.related[1].message


def test_each_role_that_may_not_approve_is_reported_once(tmp_path: Path) -> None:
    root = _project(tmp_path, "kind: approval\nname: standard\nrules:\n"
                              "  - require: {ml_engineer: 1, model_risk_officer: 1}\n"
                              "  - require: {ml_engineer: 1}\n")
    found = [d for d in lint_paths([root], base=root).diagnostics if d.code == "SPEC521"]
    assert sorted((d.span.line, d.span.col) for d in found) == [(4, 15), (5, 15)]
    assert all("`ml_engineer`" in d.message for d in found)
    # no permissions section: nothing to relate, the default applies and is named
    assert all(d.related == () and "default" not in d.message for d in found)
