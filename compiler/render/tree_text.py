"""Expression trees back to readable text, for `specops diff` and `specops explain`.

Why not keep the source text in the plan: whitespace or quoting edits would then change a
fingerprint. The tree is the meaning; this prints it in the spec language's own syntax
(fully parenthesised where precedence could be unclear).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

__all__ = ["tree_text"]

_BINARY = {"add": "+", "sub": "-", "mul": "*", "div": "/", "floordiv": "//", "mod": "%",
           "pow": "**"}
_COMPARE = {"eq": "==", "ne": "!=", "lt": "<", "le": "<=", "gt": ">", "ge": ">="}


def _lit(value: Any) -> str:
    if value is None:
        return "None"
    if isinstance(value, bool):
        return "True" if value else "False"
    if isinstance(value, str):
        return repr(value)
    return json.dumps(value)


def _wrap(tree: Any) -> str:
    text = tree_text(tree)
    if isinstance(tree, Mapping) and tree.get("op") in ("binary", "compare", "logical"):
        return f"({text})"
    return text


def tree_text(tree: Any) -> str:
    """`log1p(income)` for {"op": "call", "fn": "log1p", ...}; JSON for unknown shapes."""
    if not isinstance(tree, Mapping):
        return json.dumps(tree, sort_keys=True)
    op = tree.get("op")
    if op == "raw":
        return str(tree.get("text", ""))
    if op in ("col", "metric"):
        return str(tree.get("name"))
    if op == "lit":
        return _lit(tree.get("value"))
    if op == "call":
        return f"{tree.get('fn')}({', '.join(tree_text(a) for a in tree.get('args', []))})"
    if op == "binary":
        sym = _BINARY.get(str(tree.get("fn")), str(tree.get("fn")))
        return f"{_wrap(tree.get('left'))} {sym} {_wrap(tree.get('right'))}"
    if op == "compare":
        sym = _COMPARE.get(str(tree.get("fn")), str(tree.get("fn")))
        return f"{_wrap(tree.get('left'))} {sym} {_wrap(tree.get('right'))}"
    if op == "logical":
        return f" {tree.get('fn')} ".join(_wrap(a) for a in tree.get("args", []))
    if op == "unary":
        inner = _wrap(tree.get("arg"))
        return f"not {inner}" if tree.get("fn") == "not" else f"-{inner}"
    if op == "slice_metric":
        return f"{tree.get('fn')}({tree.get('metric')} by {tree.get('by')})"
    if op == "fairness":
        return f"{tree.get('fn')}({tree.get('attribute')})"
    if op == "champion":
        return f"champion.{tree.get('metric')}"
    return json.dumps(tree, sort_keys=True)
