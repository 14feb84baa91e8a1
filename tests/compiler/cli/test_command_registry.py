"""How commands get onto `specops`: one entry point per half (`specops.commands`), each
registering every command module of its package, found by listing the package; a light
install (no `specops[runtime]`) skips the runtime's commands and says so in one line.

Why these tests: the CLI used to name five runtime modules in the compiler; a command
module added by another team must appear without editing any list, and a missing extra
must read as an install hint, not a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import subprocess
import sys
import textwrap
import tomllib
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

import pytest

from specops.compiler import register_commands
from specops.compiler.cli import main as cli

REPO = Path(__file__).resolve().parents[3]
EXAMPLE = REPO / "examples" / "credit-risk"
RUNTIME_CLI = REPO / "runtime" / "cli"
HALVES = {"compiler": "specops.compiler.cli:register", "runtime": "specops.runtime.cli:register"}


def _noop(_: argparse.ArgumentParser) -> None:
    return None


def _fresh() -> tuple[argparse.ArgumentParser, Any]:
    parser = argparse.ArgumentParser(prog="t")
    return parser, parser.add_subparsers(dest="command")


def test_one_entry_point_per_half_declared_and_installed() -> None:
    declared = tomllib.loads((REPO / "pyproject.toml").read_text("utf-8"))["project"][
        "entry-points"][cli.COMMAND_GROUP]
    assert declared == HALVES
    installed = {ep.name: ep.value for ep in entry_points(group=cli.COMMAND_GROUP)}
    assert installed == HALVES, "stale install: uv sync --frozen --reinstall-package specops"
    import specops.compiler.cli
    import specops.runtime.cli

    loaded = {ep.name: ep.load() for ep in entry_points(group=cli.COMMAND_GROUP)}
    assert loaded == {"compiler": specops.compiler.cli.register,
                      "runtime": specops.runtime.cli.register}


def _write_package(root: Path, name: str, modules: dict[str, str]) -> None:
    pkg = root / name
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    for mod, text in modules.items():
        (pkg / f"{mod}.py").write_text(textwrap.dedent(text))


def test_a_new_module_is_registered_by_adding_the_file(tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    _write_package(tmp_path, "fake_cli_pkg", {
        # name-ordered first, but builds on `base`: its `extend` runs after all registers
        "a_extra": """
            def extend(sub, add_common):
                base = sub.choices["base"]
                inner = next(a for a in base._actions if hasattr(a, "add_parser"))
                inner.add_parser("more").set_defaults(func="more")
            """,
        "b_base": """
            def register(sub, add_common):
                p = sub.add_parser("base")
                add_common(p)
                inner = p.add_subparsers(dest="inner", required=True)
                inner.add_parser("one").set_defaults(func="one")
            """,
        "c_helper": "VALUE = 1\n",                   # no register: skipped
        "_private": "def register(sub, add_common):\n    raise AssertionError\n",
    })
    monkeypatch.syspath_prepend(str(tmp_path))
    parser, sub = _fresh()
    seen: list[str] = []
    register_commands("fake_cli_pkg", sub, lambda p: seen.append(p.prog))
    assert set(sub.choices) == {"base"}
    assert seen == ["t base"]
    assert parser.parse_args(["base", "one"]).func == "one"
    assert parser.parse_args(["base", "more"]).func == "more"


def _runtime_command_modules() -> list[str]:
    return sorted(p.stem for p in RUNTIME_CLI.glob("*.py") if not p.stem.startswith("_")
                  and "\ndef register(" in p.read_text(encoding="utf-8"))


def test_every_runtime_command_module_reaches_specops() -> None:
    full = set(cli.build_parser()._subparsers._group_actions[0].choices)  # type: ignore[union-attr]
    modules = _runtime_command_modules()
    assert {"run_commands", "serve_commands", "monitor_commands", "model_commands"} <= set(
        modules)
    for name in modules:
        module = importlib.import_module(f"specops.runtime.cli.{name}")
        _, sub = _fresh()
        module.register(sub, _noop)
        assert sub.choices and set(sub.choices) <= full, name
    assert {"lint", "rules", "compile", "completion", "run", "runs", "serve", "monitor",
            "models", "deploy"} <= full


def test_extensions_of_other_commands_still_apply() -> None:
    """`runs compare` (model_commands) and the staging check around `deploy`
    (serve_commands) build on commands of modules registered after or before them."""
    parser = cli.build_parser()
    assert parser.parse_args(["runs", "compare", "a", "b"]).func.__name__ == "cmd_runs_compare"
    deploy = parser.parse_args(["deploy", "m@1", "--env", "staging"]).func
    assert deploy.__name__ == "deploy_with_staging_check"


def _light(prelude: str, *argv: str) -> subprocess.CompletedProcess[str]:
    code = (f"import sys\n{prelude}\n"
            "from specops.compiler.cli.main import main\n"
            f"rc = main({list(argv)!r})\n"
            "print('rc', rc, any(m.startswith('specops.runtime.') and v is not None\n"
            "                    for m, v in sys.modules.items()))\n")
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=REPO, timeout=120)


LIGHT = {
    # a runtime dependency is missing: importing specops.runtime.cli finds it out
    "no-polars": "sys.modules['polars'] = None",
    # the runtime's CLI package itself cannot be imported
    "no-runtime-cli": "sys.modules['specops.runtime.cli'] = None",
}


@pytest.mark.parametrize("prelude", LIGHT.values(), ids=LIGHT.keys())
def test_light_install_run_says_what_to_install(prelude: str) -> None:
    proc = _light(prelude, "run", str(EXAMPLE))
    assert proc.stdout.strip() == "rc 2 False"
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("specops: error: `run` is not available: the runtime "
                               "commands need `specops[runtime]`")
    assert "pip install 'specops[runtime]'" in lines[0]


def test_light_install_keeps_the_compiler_commands(tmp_path: Path) -> None:
    plan = tmp_path / "plan.json"
    proc = _light(LIGHT["no-polars"], "compile", str(EXAMPLE), "-o", str(plan))
    assert proc.stdout.strip().endswith("rc 0 False"), proc.stderr
    assert plan.read_text(encoding="utf-8").startswith("{")
    proc = _light(LIGHT["no-polars"], "--help")
    assert "not installed: the runtime commands (pip install 'specops[runtime]')" in proc.stdout
    assert "  compile " in proc.stdout and "  serve " not in proc.stdout


def test_light_install_typo_is_still_a_typo() -> None:
    proc = _light(LIGHT["no-polars"], "compil", ".")
    assert proc.returncode == 2 and "invalid choice: 'compil'" in proc.stderr
    assert "specops[runtime]" not in proc.stderr


def test_missing_specops_module_is_a_bug_not_a_skipped_set(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    def broken() -> Any:
        raise ModuleNotFoundError("No module named 'specops.runtime.gone'",
                                  name="specops.runtime.gone")

    monkeypatch.setattr(cli, "_entry_points",
                        lambda: [("runtime", "specops.runtime.cli", broken)])
    assert cli.main(["run", "."]) == 2
    err = capsys.readouterr().err
    assert err.strip() == ("specops: error: cannot load the commands: No module named "
                           "'specops.runtime.gone'")
    assert cli._not_installed(ModuleNotFoundError(name="polars"), "specops.runtime.cli")
    assert cli._not_installed(ModuleNotFoundError(name="specops.runtime"),
                              "specops.runtime.cli")
    assert not cli._not_installed(ModuleNotFoundError(name="specops.runtime.cli.gone"),
                                  "specops.runtime.cli")


def test_lint_loads_no_runtime_module_and_no_entry_point() -> None:
    code = ("import sys\n"
            "from specops.compiler.cli import main as cli\n"
            "cli._entry_points = lambda: sys.exit('entry points loaded')\n"
            f"rc = cli.main(['lint', '-q', {str(EXAMPLE)!r}])\n"
            "print(rc, sorted(m for m in sys.modules if m.startswith('specops.runtime')))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.strip()
    assert out == "0 []"
