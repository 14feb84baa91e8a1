"""Run a project's `prepare` steps (specops.yaml) before a run, when their outputs are missing.

Why: examples and demos generate their data instead of committing it, and the documented
`specops run examples/credit-risk` must work on a fresh clone. The steps live in the
project's own specops.yaml and are reviewed like a Makefile; they run as an argument list
without a shell, in the project root, only from `specops run` (never from lint, compile or
a pre-commit hook), and each is printed before it runs.
"""

from __future__ import annotations

import glob
import subprocess
import sys
from pathlib import Path
from typing import Any

__all__ = ["PrepareError", "pending_steps", "run_prepare"]


class PrepareError(Exception):
    """A prepare step failed; the message is one line for the CLI."""


def _missing(root: Path, pattern: str) -> bool:
    target = root / pattern
    if glob.has_magic(pattern):
        return not glob.glob(str(target), recursive=True)
    return not target.exists()


def pending_steps(root: Path, config: dict[str, Any]) -> list[dict[str, Any]]:
    steps = config.get("prepare") or []
    return [s for s in steps if isinstance(s, dict) and isinstance(s.get("run"), list)
            and s["run"] and isinstance(s.get("creates"), str) and _missing(root, s["creates"])]


def run_prepare(root: Path, config: dict[str, Any], notice: Any = print) -> int:
    """Run every pending step; return how many ran. Raises PrepareError on failure."""
    ran = 0
    for step in pending_steps(root, config):
        argv = [str(a) for a in step["run"]]
        if argv[0] in ("python", "python3"):
            argv[0] = sys.executable
        shown = " ".join(step["run"])
        notice(f"prepare: {shown}  ({step['creates']} is missing)")
        try:
            done = subprocess.run(argv, cwd=root, capture_output=True, text=True,
                                  timeout=int(step.get("timeout_s", 600)), check=False)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise PrepareError(f"prepare step `{shown}` could not run: {exc}") from None
        if done.returncode != 0:
            tail = (done.stderr or done.stdout).strip().splitlines()[-1:] or [""]
            raise PrepareError(f"prepare step `{shown}` exited {done.returncode}: {tail[0]}")
        if _missing(root, step["creates"]):
            raise PrepareError(f"prepare step `{shown}` did not create {step['creates']}")
        ran += 1
    return ran
