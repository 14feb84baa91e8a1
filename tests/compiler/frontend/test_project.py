"""Project loading: every file, every document, and no error that only repeats another."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from broken_cases import MINIMAL

from specops.compiler.frontend.project import load_project, typed_var
from specops.compiler.passes.lint import lint_paths


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "p"
    shutil.copytree(MINIMAL, root)
    return root


def found(root: Path) -> list[tuple[str, int, int, str]]:
    result = lint_paths([root], {}, base=root)
    return [(d.file, d.span.line, d.span.col, d.code) for d in result.diagnostics]


@pytest.mark.parametrize(("text", "value"), [
    ("3", 3), ("-3", -3), ("0.5", 0.5), ("1e-4", 1e-4), ("true", True), ("false", False),
    ("abc", "abc"), ("", ""), ("yes", "yes"), ("3.1.4", "3.1.4"), ("007", 7),
])
def test_typed_var(text: str, value: object) -> None:
    assert typed_var(text) == value and type(typed_var(text)) is type(value)


def test_unreadable_file_is_reported(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real = os.open

    def refuse(path: str | os.PathLike[str], flags: int, *args: int) -> int:
        if os.fspath(path).endswith("gate.yaml"):
            raise PermissionError(13, "Permission denied")
        return real(path, flags, *args)

    # as root, chmod 000 does not stop a read: fail the open instead
    monkeypatch.setattr(os, "open", refuse)
    # nothing of the file is known, so the model's reference to its gate is unknown too
    assert found(project) == [("specs/gate.yaml", 1, 1, "SPEC001"),
                              ("specs/model.yaml", 13, 9, "SPEC304")]


def test_failed_specs_are_remembered_as_broken(project: Path) -> None:
    (project / "specs" / "gate.yaml").write_text("kind: gate\nname: quality\n")
    proj = load_project([project], {}, base=project)
    assert ("gate", "quality") in proj.broken
    assert [d.code for d in proj.diagnostics] == ["SPEC202"]


def test_names_in_an_unparsable_file_are_broken_not_unknown(project: Path) -> None:
    (project / "specs" / "gate.yaml").write_text("kind: gate\nname: quality\nchecks: [\n")
    assert found(project) == [("specs/gate.yaml", 3, 10, "SPEC101")]


def test_salvaged_spec_still_takes_part(project: Path) -> None:
    gate = project / "specs" / "gate.yaml"
    gate.write_text(gate.read_text() + "blockng: true\n")
    proj = load_project([project], {}, base=project)
    assert [s.name for s in proj.specs if s.kind == "gate"] == ["quality"]
    assert found(project) == [("specs/gate.yaml", 5, 1, "SPEC201")]


def test_broken_config_does_not_blame_templates(project: Path) -> None:
    (project / "specops.yaml").write_text("name: [x\n")
    codes = {c for *_, c in found(project)}
    assert "SPEC101" in codes and "SPEC152" not in codes


def test_config_vars_and_cli_vars(project: Path) -> None:
    (project / "specops.yaml").write_text(
        (project / "specops.yaml").read_text().replace("data_dir: data", "data_dir: '{{ d }}'"))
    assert ("specops.yaml", 4, 13, "SPEC152") in found(project)
    result = lint_paths([project], {"d": "x"}, base=project)
    assert result.diagnostics == []
    source = next(s for s in result.project.specs if s.kind == "source")
    assert source.spec.path == "x/loans.parquet"


def test_diagnostics_are_deterministic(project: Path) -> None:
    (project / "specs" / "gate.yaml").write_text("kind: gate\nname: quality\nx: 1\n")
    assert found(project) == found(project)


def test_huge_files_are_refused_without_reading_them(project: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    huge = project / "specs" / "huge.yaml"
    with huge.open("wb") as f:  # sparse: 100 MB on paper, nothing on disk
        f.truncate(100 * 1024 * 1024)
    real = Path.read_bytes

    def read_bytes(self: Path) -> bytes:
        assert self.name != "huge.yaml", "a huge file was read"
        return real(self)

    monkeypatch.setattr(Path, "read_bytes", read_bytes)
    assert found(project) == [("specs/huge.yaml", 1, 1, "SPEC003")]


def test_an_empty_config_still_reports_undefined_variables(project: Path) -> None:
    (project / "specops.yaml").write_text("# nothing yet\n")
    codes = [c for *_, c in found(project)]
    assert "SPEC004" in codes and "SPEC152" in codes
