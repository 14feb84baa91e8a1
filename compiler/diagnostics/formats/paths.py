"""Paths as GitHub wants them: relative to the repository root, with `/`.

Why: annotations and code-scanning alerts attach to a file only when its path is relative
to the checkout. Diagnostics name files relative to the current folder, which is the
checkout root in the usual workflow but not when a step sets `working-directory`; inside
GitHub Actions `GITHUB_WORKSPACE` says where the checkout is, so we rebase onto it.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["repo_relative"]


def repo_relative(file: str, workspace: str | None = None, cwd: Path | None = None) -> str:
    """`file` relative to the workspace (GITHUB_WORKSPACE) when it lies inside it."""
    root = workspace if workspace is not None else os.environ.get("GITHUB_WORKSPACE")
    path = Path(file)
    if not root:
        return path.as_posix()
    absolute = path if path.is_absolute() else (cwd or Path.cwd()) / path
    try:
        return Path(os.path.normpath(absolute)).relative_to(
            os.path.normpath(Path(root).absolute())).as_posix()
    except ValueError:  # outside the checkout: leave it as it is
        return path.as_posix()
