"""Lint on a hostile pull request reads nothing outside the project root.

Each test is the attack itself, as a contributor who can only commit files would mount
it: a spec that is a symlink to a secret, a folder link out of the checkout, absolute and
`..` globs, a dangling link, a FIFO and a device node. The secret must not appear in any
output format, the outside file must never be opened, and lint must not hang.
"""

from __future__ import annotations

import io
import os
import shutil
import signal
import socket
import stat
import subprocess
import time
from collections.abc import Iterator
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import pytest
from broken_cases import MINIMAL

from specops.compiler.cli.main import main
from specops.compiler.diagnostics.formats import FORMATS, render
from specops.compiler.frontend.gitref import GitRefError, project_at_ref
from specops.compiler.passes.lint import LintResult, lint_paths

SECRET = "AKIA-TOP-SECRET-7f3a9c"
# A YAML error on the secret's line would print it in the excerpt if the file were read.
SECRET_YAML = f"kind: gate\nname: leak\nchecks: [\naws_key: {SECRET}\n"


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "p"
    shutil.copytree(MINIMAL, root)
    return root


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    folder = tmp_path / "home" / ".aws"
    folder.mkdir(parents=True)
    (folder / "credentials.yaml").write_text(SECRET_YAML, encoding="utf-8")
    return folder


@pytest.fixture
def opened(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Every path lint opens or lists (os.open, os.scandir), resolved."""
    seen: list[str] = []
    real_open, real_scandir = os.open, os.scandir

    def spy_open(path: str | os.PathLike[str], flags: int, *args: int) -> int:
        seen.append(os.path.realpath(path))
        return real_open(path, flags, *args)

    def spy_scandir(path: str | os.PathLike[str]) -> object:
        seen.append(os.path.realpath(path))
        return real_scandir(path)

    monkeypatch.setattr(os, "open", spy_open)
    monkeypatch.setattr(os, "scandir", spy_scandir)
    yield seen


@pytest.fixture
def alarm() -> Iterator[None]:
    """Fail instead of hanging the suite if lint blocks (a FIFO opened for reading)."""
    def timeout(signum: int, frame: object) -> None:
        raise TimeoutError("lint blocked")

    old = signal.signal(signal.SIGALRM, timeout)
    signal.alarm(10)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, old)


def found(result: LintResult) -> list[tuple[str, int, int, str]]:
    return [(d.file, d.span.line, d.span.col, d.code) for d in result.diagnostics]


def assert_no_leak(result: LintResult) -> None:
    for fmt in FORMATS:
        text = render(fmt, result.diagnostics, result.sources(), "0", color=False)
        assert SECRET not in text, fmt
    assert all(SECRET not in f.text for f in result.project.files.values())


def cli(*args: str) -> tuple[int, str]:
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = main(["lint", *args])
    return code, out.getvalue() + err.getvalue()


def test_spec_linked_to_a_secret_is_not_read(project: Path, outside: Path,
                                             opened: list[str]) -> None:
    (project / "specs" / "leak.yaml").symlink_to(outside / "credentials.yaml")
    result = lint_paths([project], base=project)
    assert found(result) == [("specs/leak.yaml", 1, 1, "SPEC007")]
    assert "outside the project root" in result.diagnostics[0].message
    assert_no_leak(result)
    assert not [p for p in opened if p.startswith(str(outside.parent))]
    for fmt in (*FORMATS, "full"):  # and through the CLI, as CI runs it
        code, text = cli(str(project), "--format", fmt)
        assert code == 1 and SECRET not in text and "SPEC007" in text, fmt


def test_linked_spec_named_on_the_command_line(project: Path, outside: Path) -> None:
    leak = project / "specs" / "leak.yaml"
    leak.symlink_to(outside / "credentials.yaml")
    result = lint_paths([leak], base=project)
    assert found(result) == [("specs/leak.yaml", 1, 1, "SPEC007")]
    assert_no_leak(result)
    code, text = cli(str(leak), "--format", "full")
    assert code == 1 and SECRET not in text


def test_file_outside_the_project_named_beside_it(project: Path, outside: Path) -> None:
    result = lint_paths([project, outside / "credentials.yaml"], base=project)
    assert [d.code for d in result.diagnostics] == ["SPEC007"]
    assert_no_leak(result)


def test_folder_link_out_of_the_root_is_not_followed(project: Path, outside: Path,
                                                     opened: list[str]) -> None:
    (project / "specs" / "shared").symlink_to(outside, target_is_directory=True)
    result = lint_paths([project], base=project)
    assert found(result) == [("specs/shared", 1, 1, "SPEC007")]
    assert "folder link" in result.diagnostics[0].message
    assert_no_leak(result)
    assert not [p for p in opened if p.startswith(str(outside.parent))]


def test_folder_link_named_on_the_command_line(project: Path, outside: Path,
                                              opened: list[str]) -> None:
    # the link leads to another project: lint must neither walk it nor adopt it
    (outside / "specops.yaml").write_text("name: other\nspecs: ['*.yaml']\n")
    evil = project / "specs" / "evil"
    evil.symlink_to(outside, target_is_directory=True)
    result = lint_paths([evil], base=project)
    # reported once, although both the command line and the `specs` walk meet it
    assert found(result) == [("specs/evil", 1, 1, "SPEC007")]
    assert result.project.root == project.resolve()
    assert_no_leak(result)
    assert not [p for p in opened if p.startswith(str(outside.parent))]


def test_folder_link_outside_any_project_is_the_users_own(project: Path,
                                                          tmp_path: Path) -> None:
    (tmp_path / "current").symlink_to(project, target_is_directory=True)
    result = lint_paths([tmp_path / "current"], base=project)
    assert result.project.root == project.resolve() and found(result) == []


def test_config_linked_out_of_the_root(project: Path, outside: Path) -> None:
    (project / "specops.yaml").unlink()
    (project / "specops.yaml").symlink_to(outside / "credentials.yaml")
    result = lint_paths([project], base=project)
    assert ("specops.yaml", 1, 1, "SPEC007") in found(result)
    assert_no_leak(result)


def _set_specs(project: Path, globs: str) -> None:
    cfg = project / "specops.yaml"
    cfg.write_text(cfg.read_text().replace('specs: ["specs/**/*.yaml"]', f"specs: {globs}"))


def test_absolute_glob_is_refused_at_the_glob_without_a_walk(project: Path, alarm: None,
                                                              opened: list[str]) -> None:
    # before the fix this walked the whole filesystem (over 10 minutes here): the alarm
    # turns a regression into a failure instead of a hung suite
    _set_specs(project, '["specs/**/*.yaml", "/**/*.yaml"]')
    start = time.perf_counter()
    result = lint_paths([project], base=project)
    assert time.perf_counter() - start < 5
    assert found(result) == [("specops.yaml", 2, 28, "SPEC007")]
    assert "absolute" in result.diagnostics[0].message
    assert all(Path(p).is_relative_to(project.resolve()) for p in opened), \
        sorted({p for p in opened if not Path(p).is_relative_to(project.resolve())})[:5]
    assert [s.name for s in result.project.specs if s.kind == "gate"] == ["quality"]


@pytest.mark.parametrize("glob", ["../home/.aws/*.yaml", "specs/../../home/**/*.yaml",
                                  "..\\\\home\\\\.aws\\\\*.yaml", "C:/x/*.yaml"])
def test_climbing_glob_is_refused(project: Path, outside: Path, opened: list[str],
                                  glob: str) -> None:
    _set_specs(project, f'["{glob}"]')
    result = lint_paths([project], base=project)
    assert found(result) == [("specops.yaml", 2, 9, "SPEC007")]  # no SPEC006 on top
    assert_no_leak(result)
    assert not [p for p in opened if p.startswith(str(outside.parent))]


def test_absolute_prepare_glob_is_refused(project: Path) -> None:
    cfg = project / "specops.yaml"
    cfg.write_text(cfg.read_text() + "prepare:\n  - run: [python, gen.py]\n"
                   "    creates: /**/*.csv\n")
    result = lint_paths([project], base=project)
    assert found(result) == [("specops.yaml", 11, 14, "SPEC007")]


@pytest.mark.parametrize("template", ["{%% include '%s' %%}", "{%% import '%s' as x %%}",
                                      "{%% extends '%s' %%}", "{{ lipsum }}{%% include '%s' %%}"])
def test_templates_cannot_pull_in_a_file(project: Path, outside: Path, opened: list[str],
                                         template: str) -> None:
    text = template % (outside / "credentials.yaml")
    gate = project / "specs" / "gate.yaml"
    gate.write_text(gate.read_text() + f"description: \"{text}\"\n")
    result = lint_paths([project], base=project)
    assert [d.code for d in result.diagnostics] == ["SPEC153"]
    assert_no_leak(result)
    assert not [p for p in opened if p.startswith(str(outside.parent))]


def test_dangling_link_is_spec001(project: Path) -> None:
    (project / "specs" / "gone.yaml").symlink_to(project / "specs" / "deleted.yaml")
    result = lint_paths([project], base=project)
    assert found(result) == [("specs/gone.yaml", 1, 1, "SPEC001")]
    assert "link to a missing file" in result.diagnostics[0].message


def test_fifo_is_spec001_and_does_not_hang(project: Path, alarm: None) -> None:
    os.mkfifo(project / "specs" / "pipe.yaml")
    os.mkfifo(project / "fifo-target")
    (project / "specs" / "to-pipe.yaml").symlink_to(project / "fifo-target")
    result = lint_paths([project], base=project)
    assert found(result) == [("specs/pipe.yaml", 1, 1, "SPEC001"),
                             ("specs/to-pipe.yaml", 1, 1, "SPEC001")]
    assert "FIFO" in result.diagnostics[0].message
    assert found(lint_paths([project / "specs" / "pipe.yaml"], base=project)) == [
        ("specs/pipe.yaml", 1, 1, "SPEC001")]


def test_socket_is_spec001(project: Path) -> None:
    sock = socket.socket(socket.AF_UNIX)
    try:
        sock.bind(str(project / "specs" / "s.yaml"))
        result = lint_paths([project], base=project)
    finally:
        sock.close()
    assert found(result) == [("specs/s.yaml", 1, 1, "SPEC001")]
    assert "socket" in result.diagnostics[0].message


@pytest.mark.skipif(os.geteuid() != 0, reason="mknod of a device needs root")
def test_device_node_is_spec001_and_never_opened(project: Path, alarm: None,
                                                 opened: list[str]) -> None:
    dev = project / "specs" / "zero.yaml"
    os.mknod(dev, stat.S_IFCHR | 0o600, os.makedev(1, 5))  # /dev/zero: endless bytes
    result = lint_paths([project], base=project)
    assert found(result) == [("specs/zero.yaml", 1, 1, "SPEC001")]
    assert "character device" in result.diagnostics[0].message
    assert str(dev) not in opened


def test_links_inside_the_project_keep_working(project: Path) -> None:
    shared = project / "shared"
    shared.mkdir()
    (project / "specs" / "gate.yaml").rename(shared / "gate.yaml")
    (project / "specs" / "gate.yaml").symlink_to("../shared/gate.yaml")
    (project / "specs" / "more").symlink_to("../shared", target_is_directory=True)
    (project / "specs" / "loop").symlink_to(".", target_is_directory=True)  # a cycle
    result = lint_paths([project], base=project)
    assert found(result) == []
    assert [s.name for s in result.project.specs if s.kind == "gate"] == ["quality"]


def test_hidden_folders_are_not_walked(project: Path, opened: list[str]) -> None:
    (project / "specs" / ".venv").mkdir()
    (project / "specs" / ".venv" / "bad.yaml").write_text("a: [\n")
    assert found(lint_paths([project], base=project)) == []
    assert not [p for p in opened if ".venv" in p]


def _git(cwd: Path, *args: str) -> None:
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.com"}
    subprocess.run(["git", *args], cwd=cwd, env=env, check=True, capture_output=True)


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
def test_git_ref_with_a_link_out_is_refused_in_one_line(tmp_path: Path, outside: Path) -> None:
    repo = tmp_path / "repo"
    shutil.copytree(MINIMAL, repo)
    (repo / "specs" / "leak.yaml").symlink_to(outside / "credentials.yaml")
    _git(repo, "init", "-q")
    _git(repo, "add", ".")
    _git(repo, "commit", "-q", "-m", "pr")
    with pytest.raises(GitRefError) as err, project_at_ref("HEAD", repo):
        pass
    assert "specs/leak.yaml" in str(err.value) and "\n" not in str(err.value)


def test_compile_checks_a_folder_link_as_lint_does(project: Path, outside: Path,
                                                  opened: list[str]) -> None:
    # `specops compile specs/evil` used to resolve the link first and compile whatever it
    # pointed at; it must refuse the link in place and read nothing outside
    from specops.compiler import compile_project

    (outside / "specops.yaml").write_text("name: other\nspecs: ['*.yaml']\n")
    evil = project / "specs" / "evil"
    evil.symlink_to(outside, target_is_directory=True)
    result = compile_project(evil, base=project)
    assert ("SPEC007", "specs/evil") in {(d.code, d.file) for d in result.diagnostics}
    assert result.plan is None
    assert not [p for p in opened if p.startswith(str(outside.parent))]
