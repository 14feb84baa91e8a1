"""Property: whatever tree of files, folders and links a pull request builds, spec
discovery returns only regular files inside the root, never opens or lists anything
outside it, reports every link out that a glob reaches, and always terminates.

The tree is random: nested folders, YAML files, links to files and folders inside the
root, to a secret folder outside it, to missing paths and back up the tree (cycles).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from specops.compiler.frontend.confine import Refusal, find_files, glob_problem

NAMES = ["a", "b", "specs", ".hidden", "x.yaml", "y.yml", "z.yaml"]
# link targets: relative inside, up the tree (cycle), outside the root, missing
TARGETS = ["..", ".", "../..", "../../../outside", "../../../outside/secret.yaml",
           "missing.yaml", "x.yaml", "a", "/", "../../../outside/sub"]
PATTERNS = ["**/*.yaml", "specs/**/*.y*ml", "*/*.yaml", "a/**", "**/x.yaml", ".hidden/*.yaml"]

Entry = tuple[str, str, str]  # (kind, relative path, link target)
entries = st.lists(st.tuples(
    st.sampled_from(["dir", "file", "link"]),
    st.lists(st.sampled_from(NAMES), min_size=1, max_size=4).map("/".join),
    st.sampled_from(TARGETS)), max_size=25)


@pytest.fixture
def box() -> Iterator[Path]:
    with tempfile.TemporaryDirectory() as tmp:
        yield Path(tmp).resolve()


def _build(box: Path, tree: list[Entry]) -> tuple[Path, Path]:
    if box.exists():
        shutil.rmtree(box)
    outside = box / "outside"
    (outside / "sub").mkdir(parents=True)
    (outside / "secret.yaml").write_text("secret: 1\n")
    (outside / "sub" / "deep.yaml").write_text("secret: 2\n")
    root = box / "w" / "root"
    root.mkdir(parents=True)
    for kind, rel, target in tree:
        path = root / rel
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            if kind == "dir":
                path.mkdir(exist_ok=True)
            elif kind == "file":
                path.write_text("kind: gate\n")
            else:
                path.symlink_to(target)
        except OSError:
            continue  # a name already taken by another kind, or a parent that is a file
    return root, outside


@settings(max_examples=100, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(tree=entries, patterns=st.lists(st.sampled_from(PATTERNS), min_size=1, max_size=3))
def test_discovery_stays_inside(box: Path, tree: list[Entry], patterns: list[str],
                                monkeypatch: pytest.MonkeyPatch) -> None:
    work = box / "case"
    root, outside = _build(work, tree)
    touched: list[str] = []
    real_scandir = os.scandir

    def spy(path: str | os.PathLike[str]) -> object:
        touched.append(os.path.realpath(path))
        return real_scandir(path)

    with monkeypatch.context() as m:
        m.setattr(os, "scandir", spy)
        files, refusals = find_files(root, patterns)
    for f in files:
        assert f.is_relative_to(root) and f.is_file() and not f.is_symlink(), f
    assert all(Path(p).is_relative_to(root) for p in touched), touched
    assert all(isinstance(r, Refusal) and r.code in ("SPEC001", "SPEC007") for r in refusals)
    for r in refusals:  # a refusal names the link or special file, inside the root
        assert r.path.is_relative_to(root) and os.path.lexists(r.path)
    assert not [f for f in files if f.is_relative_to(outside)]


@given(st.lists(st.sampled_from(["a", "..", ".", "*", "**", "", "/", "\\", "C:", "x.yaml"]),
                min_size=1, max_size=6).map("/".join))
def test_glob_problem_refuses_every_escape(pattern: str) -> None:
    parts = pattern.replace("\\", "/").split("/")
    escapes = pattern.replace("\\", "/").startswith("/") or ".." in parts or \
        pattern.startswith("C:")
    assert (glob_problem(pattern) is not None) == escapes
