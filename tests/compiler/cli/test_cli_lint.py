"""`specops lint` exit codes and filters: 0 clean, 1 findings at/above --fail-on, 2 usage."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from broken_cases import MINIMAL

from specops.compiler.cli.main import main


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "p"
    shutil.copytree(MINIMAL, root)
    return root


def lint(*args: str) -> int:
    return main(["lint", "--format", "concise", "-q", *args])


def codes_in(out: str) -> list[str]:
    return sorted(line.split()[1] for line in out.splitlines() if line.strip())


def break_model(root: Path, old: str, new: str) -> None:
    path = root / "specs" / "model.yaml"
    path.write_text(path.read_text().replace(old, new, 1))


def test_clean_project_exits_0(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert lint(str(project)) == 0
    assert capsys.readouterr().out == ""


def test_errors_exit_1(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    break_model(project, "gates: [quality]", "gates: [qualty]")
    assert lint(str(project)) == 1
    out = capsys.readouterr().out
    assert "specs/model.yaml:13:9" in out.replace("\\", "/") and "SPEC304" in out


def test_warnings_fail_only_with_fail_on_warning(project: Path) -> None:
    break_model(project, "gates: [quality]", "gates: [quality]  # specops: ignore[SPEC304] x")
    assert lint(str(project)) == 0                       # SPEC901 is a warning
    assert lint(str(project), "--fail-on", "warning") == 1
    assert lint(str(project), "--fail-on", "info") == 1


def test_every_error_in_every_file_at_once(project: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    break_model(project, "gates: [quality]", "gates: [qualty]")
    (project / "specs" / "gate.yaml").write_text("kind: gate\nname: other\nchecks: [a >]\nx: 1\n")
    (project / "specs" / "bad.yaml").write_text("a: [\n")
    assert lint(str(project)) == 1
    found = codes_in(capsys.readouterr().out)
    assert {"SPEC101", "SPEC201", "SPEC304"} <= set(found)


def test_select_and_ignore_by_code_and_prefix(project: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    break_model(project, "gates: [quality]\napproval: standard",
                "gates: [qualty]\napproval: standrd\nownr: x")
    assert lint(str(project)) == 1
    assert codes_in(capsys.readouterr().out) == ["SPEC201", "SPEC304", "SPEC305"]
    assert lint(str(project), "--select", "SPEC304") == 1
    assert codes_in(capsys.readouterr().out) == ["SPEC304"]
    assert lint(str(project), "--select", "spec30") == 1
    assert codes_in(capsys.readouterr().out) == ["SPEC304", "SPEC305"]
    assert lint(str(project), "--ignore", "SPEC3,SPEC201") == 0
    assert codes_in(capsys.readouterr().out) == []
    assert lint(str(project), "--select", "SPEC3", "--ignore", "SPEC305") == 1
    assert codes_in(capsys.readouterr().out) == ["SPEC304"]


def test_vars_are_typed_and_override_the_config(project: Path) -> None:
    break_model(project, "  params: {max_iter: 50}",
                '  params: {max_iter: 50}\n  cv: "{{ folds }}"')
    assert lint(str(project)) == 1                       # folds undefined
    assert lint(str(project), "--var", "folds=3") == 0   # an integer, not "3"
    assert lint(str(project), "--var", "folds=1") == 1   # below the minimum of 2
    assert lint(str(project), "--var", "folds=3", "--var", "min_auc=0.8") == 0


def test_usage_errors_exit_2(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert lint(str(project / "missing")) == 2
    assert "no such file" in capsys.readouterr().err
    assert lint(str(project), "--var", "novalue") == 2
    assert "NAME=VALUE" in capsys.readouterr().err
    assert main([]) == 2
    with pytest.raises(SystemExit) as exc:
        main(["lint", "--format", "nope", str(project)])
    assert exc.value.code == 2


def test_a_single_file_is_linted_within_its_project(project: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    break_model(project, "gates: [quality]", "gates: [qualty]")
    (project / "specs" / "gate.yaml").write_text("kind: gate\nname: quality\nchecks: [a]\nx: 1\n")
    assert lint(str(project / "specs" / "model.yaml")) == 1
    assert codes_in(capsys.readouterr().out) == ["SPEC304"]  # only the file asked about


def test_json_output_is_parseable(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    break_model(project, "owner: team:risk", "owner: !!python/name:os.system")
    assert main(["lint", "--format", "json", str(project)]) == 1
    report = json.loads(capsys.readouterr().out)
    assert "SPEC104" in json.dumps(report)


@pytest.mark.parametrize("content", [b"", b"\x00\x01", b"\xff\xfe", b"a: &a [*a]\n",
                                     b"- 1\n", b"{{\n"])
def test_hostile_files_never_crash_the_cli(project: Path, content: bytes) -> None:
    (project / "specs" / "x.yaml").write_bytes(content)
    assert lint(str(project)) in (0, 1)
