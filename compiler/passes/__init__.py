"""The ordered semantic passes. Each pass is one file with one function of the same name,
reading the shared Context and appending diagnostics; none stops the others."""

from __future__ import annotations

from collections.abc import Callable

from ..context import Context
from .index_specs import index_specs
from .resolve_refs import resolve_refs

__all__ = ["LINT_PASSES", "Pass", "run_passes"]

Pass = Callable[[Context], None]

LINT_PASSES: tuple[Pass, ...] = (
    index_specs,
    resolve_refs,
)


def run_passes(ctx: Context, passes: tuple[Pass, ...] = LINT_PASSES) -> Context:
    for p in passes:
        p(ctx)
    return ctx
