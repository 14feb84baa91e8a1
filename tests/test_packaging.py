"""Every package folder is listed in pyproject's explicit package list.

Why: setuptools maps `specops.compiler`/`specops.runtime` onto the `compiler/` and
`runtime/` folders; editable installs find subpackages anyway, but a wheel ships only the
listed ones, so a forgotten entry breaks `pip install specops` and nothing else.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MAPPING = {"compiler": "specops.compiler", "runtime": "specops.runtime"}


def test_every_package_folder_is_listed() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    listed = set(config["tool"]["setuptools"]["packages"])
    found = set()
    for folder, name in MAPPING.items():
        for init in (ROOT / folder).rglob("__init__.py"):
            rel = init.parent.relative_to(ROOT / folder)
            found.add(".".join([name, *rel.parts]))
    missing = sorted(found - listed)
    assert not missing, f"add to [tool.setuptools] packages: {missing}"
    assert {"specops.specs", "specops.schemas"} <= listed
