"""Helpers every runtime CLI module shares: usage errors, reading specops.yaml without the
compiler, and timestamps for tables.

Why here: each command module (run, models, governance, serve, monitor) needs the same
three things, and they must behave identically (exit 2 with one line for a usage mistake;
never a traceback for a malformed specops.yaml, which lint reports properly).
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

__all__ = ["project_config", "project_setting", "usage_error", "when"]


class _Usage(Exception):
    """Stands in for the compiler CLI's UsageError on a runtime-only install."""


def usage_error(message: str) -> Exception:
    """An exception the `specops` entry point prints as one line and exits 2 for."""
    try:
        from specops.compiler.cli.main import UsageError
    except ImportError:
        return _Usage(message)
    error: Exception = UsageError(message)
    return error


def project_config(root: Path) -> dict[str, Any]:
    """specops.yaml as plain data ({} when absent or unreadable: lint reports why)."""
    cfg = root / "specops.yaml"
    if not cfg.is_file():
        return {}
    import yaml

    try:
        data = yaml.safe_load(cfg.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError):
        return {}
    return data if isinstance(data, dict) else {}


def project_setting(root: Path, key: str) -> str | None:
    """One string setting of specops.yaml (`store`, `artifacts`, `run_as`, ...)."""
    value = project_config(root).get(key)
    return value if isinstance(value, str) and value else None


def when(ts: float | None) -> str:
    """A stored timestamp for tables, in UTC."""
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%SZ") if ts else "-"
