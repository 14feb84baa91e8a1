"""The pre-commit hook, the example GitHub workflow and docs/lint.md name real things.

Why: these files are copied into other repositories, where a renamed command or flag
fails silently or late; here the failure is a test.
"""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

from specops.compiler.cli import main as cli
from specops.compiler.diagnostics.formats import FORMATS

REPO = Path(__file__).resolve().parents[3]
HOOKS = REPO / ".pre-commit-hooks.yaml"
WORKFLOW = REPO / "docs" / "examples" / "github-actions-lint.yml"
LINT_DOC = REPO / "docs" / "lint.md"
EXAMPLE = REPO / "examples" / "credit-risk"


def _hook() -> dict[str, Any]:
    hooks = yaml.safe_load(HOOKS.read_text(encoding="utf-8"))
    assert isinstance(hooks, list) and len(hooks) == 1
    hook: dict[str, Any] = hooks[0]
    return hook


def _parse_command(command: str) -> Any:
    """Parse a shell line `specops ...` with the real CLI parser (SystemExit on mistakes)."""
    words = shlex.split(command.replace('"$PROJECT"', "."))
    assert words[0] == "specops"
    return cli.build_parser().parse_args(words[1:])


def test_hook_has_pre_commits_required_keys() -> None:
    hook = _hook()
    assert {"id", "name", "entry", "language"} <= set(hook)
    assert hook["id"] == "specops-lint"
    assert hook["language"] == "python"
    assert hook["types"] == ["yaml"]
    assert hook["require_serial"] is True
    assert hook.get("pass_filenames", True) is True


def test_hook_entry_is_a_real_command() -> None:
    entry = _hook()["entry"].split()
    scripts = tomllib.loads((REPO / "pyproject.toml").read_text("utf-8"))["project"]["scripts"]
    assert entry[0] in scripts
    args = _parse_command(" ".join([*entry, "specs/model.yaml"]))
    assert args.func is cli.cmd_lint


@pytest.mark.parametrize(("path", "matches"), [
    ("specops.yaml", True),
    ("examples/credit-risk/specops.yaml", True),
    ("specs/model.yaml", True),
    ("ml/risk/specs/features/bureau.yml", True),
    ("models/churn.specops.yaml", True),
    (".github/workflows/ci.yml", False),
    ("docker-compose.yaml", False),
    ("specs.yaml", False),
])
def test_hook_files_pattern(path: str, matches: bool) -> None:
    assert bool(re.search(_hook()["files"], path)) is matches


def test_hook_run_on_example_files(monkeypatch: pytest.MonkeyPatch,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    """What pre-commit runs: the entry plus the matching files, from the repo root."""
    monkeypatch.chdir(REPO)
    files = [p.relative_to(REPO).as_posix() for p in sorted(EXAMPLE.rglob("*.yaml"))]
    files = [f for f in files if re.search(_hook()["files"], f)]
    assert len(files) >= 2
    assert cli.main(["lint", *files]) == 0, capsys.readouterr()


def test_crash_exits_2_not_1(monkeypatch: pytest.MonkeyPatch,
                             capsys: pytest.CaptureFixture[str]) -> None:
    def boom(*_: Any, **__: Any) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(cli, "lint_paths", boom)
    assert cli.main(["lint", str(EXAMPLE)]) == 2
    assert "internal error" in capsys.readouterr().err


def _steps() -> list[dict[str, Any]]:
    workflow = yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))
    steps: list[dict[str, Any]] = workflow["jobs"]["lint"]["steps"]
    return steps


def test_workflow_permissions_and_upload() -> None:
    workflow = yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))
    perms = workflow["jobs"]["lint"]["permissions"]
    assert perms["security-events"] == "write"
    uploads = [s for s in _steps() if str(s.get("uses", "")).startswith(
        "github/codeql-action/upload-sarif@")]
    assert len(uploads) == 1 and uploads[0]["uses"].endswith("@v3")
    assert uploads[0]["with"]["sarif_file"] == "specops.sarif"


def test_workflow_commands_parse() -> None:
    commands = [line.strip().removesuffix("|| true").strip()
                for s in _steps() for line in str(s.get("run", "")).splitlines()
                if line.strip().startswith("specops ")]
    assert len(commands) >= 2
    formats = set()
    for command in commands:
        args = _parse_command(command)
        formats.add(args.format)
    assert {"github", "sarif"} <= formats


def test_lint_doc_covers_the_essentials() -> None:
    text = LINT_DOC.read_text(encoding="utf-8")
    for fmt in FORMATS:
        assert f"`{fmt}`" in text
    for needle in ("--fail-on", "# specops: ignore[", "# yaml-language-server: $schema=",
                   "pre-commit", "upload-sarif@v3", "security-events: write", "| 2 |"):
        assert needle in text
    for link in re.findall(r"\]\(((?:\.\./|examples/)[^)#]+)\)", text):
        assert (LINT_DOC.parent / link).exists(), link


def test_lint_command_loads_no_runtime_dependencies() -> None:
    """A pre-commit hook pays for every import: `specops lint` (parser construction with
    every extension command registered, then the lint itself) must not import the
    runtime's heavy packages. Extension modules import them inside their commands."""
    heavy = ("ray", "polars", "sklearn", "scipy", "onnxruntime", "onnx", "skl2onnx",
             "sqlalchemy", "networkx", "numpy", "pyarrow", "fastapi")
    code = (
        "import sys\n"
        "from specops.compiler.cli import main as cli\n"
        f"rc = cli.main(['lint', '-q', {str(EXAMPLE)!r}])\n"
        f"print(rc, sorted(m for m in {heavy!r} if m in sys.modules))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.strip().splitlines()[-1]
    assert out == "0 []", f"exit code and heavy modules imported: {out}"
