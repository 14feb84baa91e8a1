"""Lint on the trust root: a change not yet accepted is a warning (SPEC508) that goes away
after `specops policy accept`; duties across actions nobody can satisfy fail (SPEC509)."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import yaml
from trust_helpers import Project

from specops.compiler.cli.main import main
from specops.compiler.passes.lint import lint_paths

MINIMAL = Path(__file__).resolve().parents[2] / "fixtures" / "projects" / "minimal"


def _project(p: Project) -> Path:
    """The minimal fixture's specs with the signed project's specops.yaml."""
    for item in (MINIMAL / "specs").iterdir():
        (p.root / "specs").mkdir(exist_ok=True)
        shutil.copy(item, p.root / "specs" / item.name)
    p.config.update({"specs": ["specs/**/*.yaml"], "vars": {"data_dir": "data",
                                                            "min_auc": 0.7}})
    p.config["people"]["alice"]["teams"] = ["risk"]
    p.write()
    return p.root


def _codes(root: Path) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for d in lint_paths([root], base=root).diagnostics:
        out.setdefault(d.code, []).append(d.message)
    return out


def test_unaccepted_change_warns_until_policy_accept(sqlite_project: Project,
                                                     capsys: Any) -> None:
    root = _project(sqlite_project)
    assert "never been accepted" in _codes(root)["SPEC508"][0]
    common = ["--project", str(root), "--store", sqlite_project.url]
    assert main(["policy", "accept", "--key", str(sqlite_project.keys["bob"].path),
                 *common]) == 0
    assert (root / "trust.lock.json").is_file()
    assert "SPEC508" not in _codes(root)
    sqlite_project.add_person("mallory", ["business_owner"])
    sqlite_project.config["people"]["frank"]["roles"].append("model_risk_officer")
    sqlite_project.write()
    (message,) = _codes(root)["SPEC508"]
    assert "+ mallory" in message and "~ frank (roles or teams)" in message
    capsys.readouterr()
    assert main(["lint", str(root)]) == 0          # a warning: the pull request may merge
    assert "SPEC508" in capsys.readouterr().out
    assert main(["policy", "accept", "--key", str(sqlite_project.keys["erin"].path),
                 *common]) == 0
    assert "SPEC508" not in _codes(root)


def test_deployer_who_must_approve_is_an_error(tmp_path: Path) -> None:
    root = tmp_path / "project"
    shutil.copytree(MINIMAL, root)
    cfg = yaml.safe_load((root / "specops.yaml").read_text())
    cfg["people"]["bob"]["roles"].append("platform_engineer")
    cfg["permissions"] = {"deploy": ["platform_engineer"]}
    (root / "specops.yaml").write_text(yaml.safe_dump(cfg))
    (message,) = _codes(root)["SPEC509"]
    assert "deployer_not_approver" in message
    assert "1 deployer + 1 model_risk_officer must be 2 distinct people" in message
    cfg["separation_of_duties"] = {"deployer_not_approver": False}
    (root / "specops.yaml").write_text(yaml.safe_dump(cfg))
    assert "SPEC509" not in _codes(root)
