"""The single seam between the plan builder and the expression compiler (`compiler/expr`).

Why one function: every expression in the plan (feature expressions, gate checks,
approval conditions) goes through `compile_tree`, so the tree format, and what happens when
an expression does not check, is decided in one place. Lint has normally reported every
problem already; if the checker still finds one, the diagnostics go back to `compile`,
which refuses to write the plan, and the tree falls back to `{"op": "raw"}` meanwhile.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from specops.compiler.diagnostics.diagnostic import Diagnostic, Span
from specops.compiler.expr import Env, check_expression

__all__ = ["compile_tree", "tree_type"]


def compile_tree(text: str, env: Env, *, file: str, span: Span
                 ) -> tuple[dict[str, Any], list[Diagnostic]]:
    """Compile expression `text` in `env` to the JSON tree of docs/plan.md."""
    tree, diags = check_expression(text, env, file=file, span=span, offset=None)
    if tree is None:
        return {"op": "raw", "text": text.strip()}, diags
    return dict(tree), diags


def tree_type(tree: Mapping[str, Any]) -> str | None:
    """The inferred type at the root of a tree, or None for an unchecked (raw) tree."""
    value = tree.get("type")
    return str(value) if value is not None else None
