"""The import package `specops` is a plain src layout made of links to the top folders.

Why: the product keeps `compiler/`, `contract/`, `runtime/`, `specs/` and `schemas/` at the
top of the repository, while users import `specops.compiler`, `specops.runtime`, ... A
folder of symbolic links (`src/specops/<top> -> ../../<top>`) gives every tool a static
path (the editable install is one line in a .pth file, no import hook), and a wheel built
from it must still ship every module and data file.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TOPS = ("compiler", "contract", "runtime", "specs", "schemas")


def test_src_specops_links_every_top_folder() -> None:
    src = ROOT / "src" / "specops"
    assert sorted(p.name for p in src.iterdir()) == sorted(TOPS)
    for top in TOPS:
        link = src / top
        assert link.is_symlink(), f"src/specops/{top} must be a symbolic link"
        assert os.readlink(link) == f"../../{top}"
        assert link.resolve() == (ROOT / top).resolve()


def test_the_editable_install_is_a_plain_path() -> None:
    import specops.compiler

    # the module is found through src/, not through an import hook's finder
    assert Path(specops.compiler.__file__).parent == ROOT / "src" / "specops" / "compiler"
    assert type(specops.compiler.__spec__.loader).__name__ == "SourceFileLoader"


@pytest.mark.slow
def test_the_wheel_ships_every_module_and_data_file(tmp_path: Path) -> None:
    uv = shutil.which("uv")
    if uv is None:
        pytest.skip("uv is not on PATH (.ci/run installs it)")
    subprocess.run([uv, "build", "--wheel", "-q", "-o", str(tmp_path), str(ROOT)], check=True,
                   capture_output=True)
    (wheel,) = tmp_path.glob("*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    expected = set()
    for top in TOPS:
        for path in (ROOT / top).rglob("*"):
            if path.suffix in {".py", ".json", ".yaml", ".j2", ".typed"} \
                    and "__pycache__" not in path.parts:
                expected.add(f"specops/{top}/{path.relative_to(ROOT / top).as_posix()}")
    assert expected - names == set()
