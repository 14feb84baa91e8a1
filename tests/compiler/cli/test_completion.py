"""`specops completion bash|zsh|fish`: the scripts complete every command of this
installation (the runtime's included), their sub-commands, options and choices.

The bash script is exercised for real: sourced in bash, its completion function is called
the way bash calls it on <Tab>, and the candidates are read back.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from specops.compiler.cli.main import build_parser, main
from specops.compiler.cli.shell_completion import SHELLS, completion_script


@pytest.fixture(scope="module")
def bash_script(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("completion") / "specops.bash"
    path.write_text(completion_script("bash"), encoding="utf-8")
    return path


def _complete(script: Path, *words: str, cwd: Path | None = None) -> list[str]:
    """What bash offers after `specops WORDS...` (the last word is being completed)."""
    quoted = " ".join(f"'{w}'" for w in ("specops", *words))
    code = (f"source '{script}'\n"
            f"COMP_WORDS=({quoted}); COMP_CWORD={len(words)}\n"
            f"COMP_LINE=\"${{COMP_WORDS[*]}}\"; COMP_POINT=${{#COMP_LINE}}\n"
            "_shtab_specops\n"
            "printf '%s\\n' \"${COMPREPLY[@]}\"\n")
    out = subprocess.run(["bash", "--norc", "-c", code], capture_output=True, text=True,
                         check=True, timeout=60, cwd=cwd).stdout
    return sorted(w for w in out.split() if w)


@pytest.mark.skipif(shutil.which("bash") is None, reason="bash is not installed")
@pytest.mark.parametrize(("words", "expected"), [
    (("li",), ["lint"]),
    (("ru",), ["rules", "run", "runs"]),                 # compiler and runtime commands
    (("runs", ""), ["compare", "list", "show"]),         # `compare` comes from `extend`
    (("lint", "--fail-on", ""), ["error", "info", "warning"]),
    (("completion", ""), sorted(SHELLS)),
    (("deploy", "m@1", "--env", ""), ["production", "staging"]),
])
def test_bash_completes_commands_subcommands_and_choices(
        bash_script: Path, words: tuple[str, ...], expected: list[str]) -> None:
    assert _complete(bash_script, *words) == expected


def test_bash_completes_paths_where_commands_take_them(bash_script: Path,
                                                      tmp_path: Path) -> None:
    (tmp_path / "proj_a").mkdir()
    (tmp_path / "plan_a.json").write_text("{}")
    assert _complete(bash_script, "run", "--plan", "pl", cwd=tmp_path) == ["plan_a.json"]
    # a folder option offers folders only
    assert _complete(bash_script, "runs", "list", "--project", "p", cwd=tmp_path) == [
        "proj_a"]
    assert _complete(bash_script, "lint", "--select", "p", cwd=tmp_path) == []


def test_bash_completes_every_top_level_command(bash_script: Path) -> None:
    commands = set(build_parser()._subparsers._group_actions[0].choices)  # type: ignore[union-attr]
    assert set(_complete(bash_script, "")) == commands


@pytest.mark.parametrize("shell", SHELLS)
def test_each_shell_script_names_every_command(shell: str,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["completion", shell]) == 0
    script = capsys.readouterr().out
    for command in ("lint", "compile", "run", "monitor", "completion"):
        assert command in script
    checker = shutil.which(shell)
    if checker is not None:   # syntax-check where the shell exists (bash always here)
        proc = subprocess.run([checker, "-n"], input=script, capture_output=True, text=True,
                              timeout=60)
        assert proc.returncode == 0, proc.stderr


def test_unknown_shell_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["completion", "cmd.exe"])
    assert exc.value.code == 2
    assert "invalid choice: 'cmd.exe'" in capsys.readouterr().err


@pytest.mark.skipif(shutil.which("fish") is None, reason="fish is not installed")
def test_fish_completes_commands_and_subcommands(tmp_path: Path) -> None:
    script = tmp_path / "specops.fish"
    script.write_text(completion_script("fish"), encoding="utf-8")
    out = subprocess.run(["fish", "--no-config", "-c",
                          f"source '{script}'; complete -C 'specops ru'; "
                          "complete -C 'specops runs '"],
                         capture_output=True, text=True, check=True, timeout=60).stdout
    offered = sorted(line.split("\t")[0] for line in out.splitlines())
    assert offered == ["compare", "list", "rules", "run", "runs", "show"]
