"""The helpers every runtime command shares (runtime/cli/support.py): the plan to act on,
the store URL and the acting user, with one precedence everywhere, and mistakes as one
line (exit 2) through the compiler's public UsageError.

Real projects (the minimal fixture, copied), real plan files, a real store.
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

import pytest

from specops.compiler import UsageError
from specops.compiler.cli.main import main
from specops.runtime.cli import support

MINIMAL = Path(__file__).resolve().parents[2] / "fixtures" / "projects" / "minimal"


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "p"
    shutil.copytree(MINIMAL, root)
    return root


def _break(root: Path) -> None:
    model = root / "specs" / "model.yaml"
    model.write_text(model.read_text().replace("gates: [quality]", "gates: [qualty]", 1))


def _args(**kw: object) -> argparse.Namespace:
    return argparse.Namespace(**{"plan": None, "var": None, "store": None, "actor": None,
                                 **kw})


def test_fail_is_the_compilers_usage_error() -> None:
    err = support.fail("bad thing")
    assert isinstance(err, UsageError) and str(err) == "bad thing"
    assert support.usage_error is support.fail


def test_refused_is_one_line_and_exit_1(capsys: pytest.CaptureFixture[str]) -> None:
    assert support.refused("not approved") == 1
    assert capsys.readouterr().err == "specops: refused: not approved\n"


def test_plan_for_compiles_the_project(project: Path) -> None:
    plan = support.plan_for(project, _args(var=["min_auc=0.8"]), "monitor")
    assert plan is not None and set(plan.models) == {"default_risk"}
    assert "train:default_risk" in plan.by_id
    with pytest.raises(UsageError, match="NAME=VALUE"):
        support.plan_for(project, _args(var=["min_auc"]), "monitor")


def test_plan_for_reads_a_plan_file_and_refuses_a_bad_one(project: Path, tmp_path: Path,
                                                          capsys: pytest.CaptureFixture[str]
                                                          ) -> None:
    assert main(["compile", str(project), "-o", str(tmp_path / "plan.json")]) == 0
    compiled = support.plan_for(project, _args(), "run")
    loaded = support.plan_for(tmp_path, _args(plan=str(tmp_path / "plan.json")), "run")
    assert loaded is not None and compiled is not None
    assert sorted(loaded.by_id) == sorted(compiled.by_id)
    (tmp_path / "bad.json").write_text('{"format_version": 999}')
    with pytest.raises(UsageError):
        support.plan_for(project, _args(plan=str(tmp_path / "bad.json")), "run")


def test_plan_for_without_a_project_is_none(tmp_path: Path) -> None:
    assert support.plan_for(tmp_path, _args(), "serve") is None


def test_specs_with_errors_are_reported_once_or_not_at_all(
        project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _break(project)
    with pytest.raises(support.NotCompiled):
        support.plan_for(project, _args(), "monitor")
    err = capsys.readouterr().err
    assert "SPEC304" in err and err.rstrip().endswith("specops: monitor refused: 1 error")
    with pytest.raises(support.NotCompiled):
        support.compiled_plan(project, _args(), "serve", report=False)
    assert capsys.readouterr().err == ""


def test_run_and_monitor_on_broken_specs(project: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    _break(project)
    assert main(["run", str(project), "--executor", "inline"]) == 1
    assert capsys.readouterr().err.rstrip().endswith("specops: run refused: 1 error")
    assert main(["monitor", "m", "--project", str(project), "--current", "x.parquet"]) == 2
    last = capsys.readouterr().err.rstrip().splitlines()[-1]
    assert last == "specops: error: the project does not compile (see above)"


def test_store_precedence(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SPECOPS_STORE_URL", raising=False)
    assert support.store_setting(_args(), project) is None
    assert support.store_url(_args(), project) == \
        f"sqlite:///{(project / '.specops' / 'store.db').resolve()}"
    cfg = project / "specops.yaml"
    cfg.write_text(cfg.read_text() + "store: sqlite:///yaml.db\n")
    assert support.store_setting(_args(), project) == "sqlite:///yaml.db"
    assert support.store_setting(_args(), project, "sqlite:///plan.db") == "sqlite:///plan.db"
    monkeypatch.setenv("SPECOPS_STORE_URL", "sqlite:///env.db")
    assert support.store_setting(_args(), project, "sqlite:///plan.db") == "sqlite:///env.db"
    assert support.store_setting(_args(store="sqlite:///flag.db"), project) == \
        "sqlite:///flag.db"
    assert support.store_url(_args(), project) == f"sqlite:///{(project / 'env.db').resolve()}"


def test_actor_precedence(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SPECOPS_USER", raising=False)
    assert support.requested_actor(_args(), {}) is None
    assert support.requested_actor(_args(), {"run_as": ["not", "a", "name"]}) is None
    assert support.requested_actor(_args(), {"run_as": "svc"}) == "svc"
    monkeypatch.setenv("SPECOPS_USER", "env_user")
    assert support.requested_actor(_args(), {"run_as": "svc"}) == "env_user"
    assert support.requested_actor(_args(actor="flag"), {"run_as": "svc"}) == "flag"


def test_serve_without_a_store_is_one_line(tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    """No `.specops/` yet: the store cannot be opened; a usage error, not a crash."""
    assert main(["serve", "m@1", "--project", str(tmp_path)]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("specops: error: cannot open the store ")
