"""The layout rules of docs/architecture.md, checked on the tree (nothing imported).

Why a test: a newcomer finds behaviour from folder names alone only while every file name
means one thing and every folder stays small enough to read at a glance; both erode one
convenient commit at a time.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("compiler", "contract", "runtime")
# conventions, not concepts: these names may repeat
CONVENTIONS = {"__init__.py", "base.py", "conftest.py", "py.typed"}
MAX_ENTRIES = 14  # "about a dozen" entries a folder, counting __init__.py and py.typed


def _files() -> list[Path]:
    return [p for top in PACKAGES for p in (ROOT / top).rglob("*")
            if p.is_file() and "__pycache__" not in p.parts]


def test_no_basename_is_reused_for_another_module() -> None:
    seen: dict[str, list[str]] = defaultdict(list)
    for path in _files():
        if path.name not in CONVENTIONS:
            seen[path.name].append(path.relative_to(ROOT).as_posix())
    assert {name: paths for name, paths in seen.items() if len(paths) > 1} == {}


def test_folders_stay_small() -> None:
    big = {}
    for top in PACKAGES:
        for folder in [ROOT / top, *(p for p in (ROOT / top).rglob("*") if p.is_dir())]:
            if folder.name == "__pycache__":
                continue
            entries = [e for e in folder.iterdir() if e.name != "__pycache__"]
            if len(entries) > MAX_ENTRIES:
                big[folder.relative_to(ROOT).as_posix()] = len(entries)
    assert big == {}


def test_no_cli_modules_at_the_top_of_a_half() -> None:
    loose = [p.name for top in PACKAGES for p in (ROOT / top).glob("cli*.py")]
    assert loose == []
    assert (ROOT / "compiler" / "cli" / "__init__.py").is_file()
    assert (ROOT / "runtime" / "cli" / "__init__.py").is_file()
