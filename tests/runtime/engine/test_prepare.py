"""`prepare` steps run only when their output is missing, without a shell, and fail loudly."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from specops.runtime.engine.prepare import PrepareError, pending_steps, run_prepare


def _step(code: str, creates: str) -> dict[str, object]:
    return {"run": ["python", "-c", code], "creates": creates}


def test_runs_when_missing_and_skips_when_present(tmp_path: Path) -> None:
    config = {"prepare": [_step("open('out.txt','w').write('x')", "out.txt")]}
    notes: list[str] = []
    assert run_prepare(tmp_path, config, notes.append) == 1
    assert (tmp_path / "out.txt").read_text() == "x"
    assert "out.txt is missing" in notes[0]
    assert pending_steps(tmp_path, config) == []
    assert run_prepare(tmp_path, config, notes.append) == 0


def test_glob_creates(tmp_path: Path) -> None:
    config = {"prepare": [_step("import os; os.makedirs('d'); open('d/a.parquet','w')",
                                "d/*.parquet")]}
    assert run_prepare(tmp_path, config, lambda _: None) == 1
    assert pending_steps(tmp_path, config) == []


def test_no_shell_interpretation(tmp_path: Path) -> None:
    config = {"prepare": [{"run": ["python", "-c", "import sys; open('args','w').write("
                                   "repr(sys.argv[1:]))", "$(touch pwned)", ";", "rm"],
                           "creates": "args"}]}
    run_prepare(tmp_path, config, lambda _: None)
    assert not (tmp_path / "pwned").exists()
    assert "$(touch pwned)" in (tmp_path / "args").read_text()


def test_failure_is_one_line(tmp_path: Path) -> None:
    config = {"prepare": [_step("import sys; sys.exit('boom: no disk')", "never")]}
    with pytest.raises(PrepareError, match="exited 1: boom: no disk"):
        run_prepare(tmp_path, config, lambda _: None)


def test_step_that_creates_nothing_is_an_error(tmp_path: Path) -> None:
    config = {"prepare": [_step("pass", "never")]}
    with pytest.raises(PrepareError, match="did not create never"):
        run_prepare(tmp_path, config, lambda _: None)


def test_python_means_this_interpreter(tmp_path: Path) -> None:
    config = {"prepare": [_step("import sys; open('exe','w').write(sys.executable)", "exe")]}
    run_prepare(tmp_path, config, lambda _: None)
    assert Path((tmp_path / "exe").read_text()).resolve() == Path(sys.executable).resolve()
