"""Evaluating compiled gate checks against a run's results.

Why a runtime interpreter: gate checks arrive as the JSON trees of docs/plan.md and the
runtime never imports the compiler. The semantics mirror `specops.contract.interpret`
(SQL-like nulls, Kleene `and`/`or`), with one difference that matters for a gate report:
every value a check needed and could not find is *recorded*, so a check is never just
"false" without saying why.

Outcomes per check:
- `pass` / `fail`: the check evaluated to true / false.
- `error`: a value it needs is missing (a metric not computed, a slice with no group large
  enough, a fairness metric undefined for lack of comparable groups). Counts as failed.
- `no_champion`: the check compares against `champion.<metric>` and no version of the
  model is in production. This is the first-model case: it is reported explicitly in the
  gate report and by the CLI ("skipped: no champion in production"), never folded into a
  silent pass. It does not block by default (a first model could otherwise never be
  registered); a gate with `require_champion: true` turns it into a failure.

Severity: `blocking` (default) or `warning`; a failed warning is reported but does not fail
the gate.

The `results` mapping: `metrics` {name: value}, `slices` {column: {group: {n, metrics}}},
`fairness` {attribute: {metric: value}}, `champion` {metric: value} or None.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["CheckResult", "GateError", "evaluate_check", "evaluate_gate", "render_tree"]

_SYMBOL = {"eq": "==", "ne": "!=", "lt": "<", "le": "<=", "gt": ">", "ge": ">=",
           "add": "+", "sub": "-", "mul": "*", "div": "/", "floordiv": "//", "mod": "%",
           "pow": "**"}
_MAX_DEPTH = 200


class GateError(Exception):
    """A malformed check tree (a compiler/runtime version mismatch, not a failed check)."""


@dataclass
class CheckResult:
    id: str
    text: str
    severity: str
    status: str                          # pass | fail | error | no_champion
    value: Any = None
    threshold: Any = None
    comparator: str | None = None
    detail: str = ""
    message: str | None = None
    values: dict[str, Any] = field(default_factory=dict)

    @property
    def blocking_failure(self) -> bool:
        return self.severity != "warning" and self.status in ("fail", "error")

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "text": self.text, "severity": self.severity,
                "status": self.status, "passed": self.status in ("pass", "no_champion"),
                "value": self.value, "threshold": self.threshold,
                "comparator": self.comparator, "detail": self.detail,
                "message": self.message, "values": self.values}


class _Eval:
    def __init__(self, results: Mapping[str, Any]) -> None:
        self.r = results
        self.missing: list[str] = []
        self.no_champion = False
        self.values: dict[str, Any] = {}

    def run(self, node: Mapping[str, Any], depth: int = 0) -> Any:
        if depth > _MAX_DEPTH:
            raise GateError("check tree is too deep")
        op = node.get("op")
        d = depth + 1
        if op == "lit":
            return node["value"]
        if op == "metric":
            return self._lookup(node["name"], (self.r.get("metrics") or {}).get(node["name"]),
                                f"metric {node['name']} was not computed")
        if op == "champion":
            key = f"champion.{node['metric']}"
            champ = self.r.get("champion")
            if champ is None:
                self.no_champion = True
                self.values[key] = None
                return None
            return self._lookup(key, champ.get(node["metric"]),
                                f"the production version has no {node['metric']}")
        if op == "fairness":
            return self._fairness(node)
        if op == "slice_metric":
            return self._slice(node)
        if op == "binary":
            return _binary(node["fn"], self.run(node["left"], d), self.run(node["right"], d))
        if op == "compare":
            return _compare(node["fn"], self.run(node["left"], d), self.run(node["right"], d))
        if op == "unary":
            arg = self.run(node["arg"], d)
            if arg is None:
                return None
            return (not arg) if node["fn"] == "not" else -arg
        if op == "logical":
            decisive = node["fn"] == "or"
            unknown = False
            for arg in node["args"]:
                v = self.run(arg, d)
                if v is None:
                    unknown = True
                elif bool(v) is decisive:
                    return decisive
            return None if unknown else not decisive
        if op == "call":
            return _call(node["fn"], [self.run(a, d) for a in node["args"]])
        raise GateError(f"unknown check tree node {op!r}")

    def _lookup(self, key: str, value: Any, why: str) -> Any:
        if value is None or (isinstance(value, float) and math.isnan(value)):
            self.missing.append(why)
            value = None
        self.values[key] = value
        return value

    def _fairness(self, node: Mapping[str, Any]) -> Any:
        attr, fn = node["attribute"], node["fn"]
        report = (self.r.get("fairness") or {}).get(attr)
        key = f"{fn}({attr})"
        if report is None:
            return self._lookup(key, None, f"no fairness report for {attr}")
        why = report.get("note") or f"{fn} is undefined for {attr}"
        return self._lookup(key, report.get(fn), why)

    def _slice(self, node: Mapping[str, Any]) -> Any:
        metric, by, fn = node["metric"], node["by"], node["fn"]
        key = f"{fn}({metric} by {by})"
        groups = (self.r.get("slices") or {}).get(by)
        if groups is None:
            return self._lookup(key, None, f"no slice metrics by {by}")
        vals = {g: (info.get("metrics") or {}).get(metric) for g, info in groups.items()
                if "metrics" in info}
        present = {g: v for g, v in vals.items() if v is not None}
        if not present:
            return self._lookup(key, None, f"no group of {by} has {metric} (groups below "
                                "the minimum size or with one class only)")
        if fn == "min":
            group = min(present, key=lambda g: (present[g], g))
            value = present[group]
        elif fn == "max":
            group = max(present, key=lambda g: (present[g], g))
            value = present[group]
        elif fn == "mean":
            group, value = "*", math.fsum(present.values()) / len(present)
        else:
            raise GateError(f"unknown slice function {fn!r}")
        self.values[key] = value
        self.values[f"{key}.group"] = group
        return value


def _binary(fn: str, a: Any, b: Any) -> Any:
    if a is None or b is None:
        return None
    try:
        ops = {"add": lambda: a + b, "sub": lambda: a - b, "mul": lambda: a * b,
               "div": lambda: a / b, "floordiv": lambda: a // b, "mod": lambda: a % b,
               "pow": lambda: float(a) ** b}
        if fn not in ops:
            raise GateError(f"unknown binary function {fn!r}")
        result = ops[fn]()
        return None if isinstance(result, complex) else result
    except (ZeroDivisionError, OverflowError, ValueError):
        return None


def _compare(fn: str, a: Any, b: Any) -> bool | None:
    if a is None or b is None:
        return None
    ops = {"eq": a == b, "ne": a != b, "lt": a < b, "le": a <= b, "gt": a > b, "ge": a >= b}
    if fn not in ops:
        raise GateError(f"unknown comparison {fn!r}")
    return bool(ops[fn])


def _call(fn: str, args: list[Any]) -> Any:
    if fn == "coalesce":
        return next((a for a in args if a is not None), None)
    if fn in ("min", "max"):
        present = [a for a in args if a is not None]
        return (min(present) if fn == "min" else max(present)) if present else None
    if fn == "is_null":
        return args[0] is None
    if fn == "if_else":
        return args[1] if args[0] else args[2]
    if not args or args[0] is None:
        return None
    simple: dict[str, Any] = {"abs": abs, "sqrt": lambda x: math.sqrt(x) if x >= 0 else None,
              "log": lambda x: math.log(x) if x > 0 else None,
              "log1p": lambda x: math.log1p(x) if x > -1 else None, "exp": math.exp,
              "round": lambda x, n=0: round(x, n or 0), "floor": math.floor,
              "ceil": math.ceil}
    if fn not in simple:
        raise GateError(f"function {fn!r} is not available in gate checks")
    try:
        return simple[fn](*args)
    except (OverflowError, ValueError):
        return None


def render_tree(node: Mapping[str, Any]) -> str:
    """A readable form of a tree, for checks given without their source text."""
    op = node.get("op")
    if op == "lit":
        return repr(node["value"])
    if op == "metric":
        return str(node["name"])
    if op == "champion":
        return f"champion.{node['metric']}"
    if op == "fairness":
        return f"{node['fn']}({node['attribute']})"
    if op == "slice_metric":
        return f"{node['fn']}({node['metric']} by {node['by']})"
    if op in ("binary", "compare"):
        return f"{render_tree(node['left'])} {_SYMBOL.get(node['fn'], node['fn'])} " \
               f"{render_tree(node['right'])}"
    if op == "logical":
        return f" {node['fn']} ".join(f"({render_tree(a)})" for a in node["args"])
    if op == "unary":
        return f"{'not ' if node['fn'] == 'not' else '-'}{render_tree(node['arg'])}"
    if op == "call":
        return f"{node['fn']}({', '.join(render_tree(a) for a in node['args'])})"
    return str(op)


def evaluate_check(check: Mapping[str, Any], results: Mapping[str, Any],
                   require_champion: bool = False) -> CheckResult:
    tree = check["expr"]
    ev = _Eval(results)
    result = ev.run(tree)
    out = CheckResult(id=str(check.get("id") or "check"),
                      text=str(check.get("text") or render_tree(tree)),
                      severity=str(check.get("severity") or "blocking"), status="fail",
                      message=check.get("message"), values=ev.values)
    if tree.get("op") == "compare":
        out.comparator = _SYMBOL.get(tree["fn"], tree["fn"])
        out.value = Evaluated(results).value(tree["left"])
        out.threshold = Evaluated(results).value(tree["right"])
    else:
        out.value = result
    if result is True:
        out.status = "pass"
    elif result is False:
        out.status = "fail"
        out.detail = f"{out.value!r} {out.comparator} {out.threshold!r} is false" \
            if out.comparator else "check is false"
    elif ev.no_champion:
        out.status = "fail" if require_champion else "no_champion"
        out.detail = "skipped: no champion in production" + (
            " (this gate requires one)" if require_champion else " (first model)")
    elif ev.missing:
        out.status = "error"
        out.detail = "; ".join(dict.fromkeys(ev.missing))
    else:
        out.status = "fail"
        out.detail = "check is undefined (null arithmetic, e.g. division by zero)"
    return out


class Evaluated:
    """Side-effect-free evaluation of a sub-tree, for the report's value/threshold."""

    def __init__(self, results: Mapping[str, Any]) -> None:
        self.results = results

    def value(self, tree: Mapping[str, Any]) -> Any:
        return _Eval(self.results).run(tree)


def evaluate_gate(checks: list[Mapping[str, Any]], results: Mapping[str, Any],
                  require_champion: bool = False) -> dict[str, Any]:
    """Every check's outcome plus the gate's verdict (passed unless a blocking check fails)."""
    rows = [evaluate_check(c, results, require_champion) for c in checks]
    failed = [r.id for r in rows if r.blocking_failure]
    warnings = [r.id for r in rows if r.severity == "warning" and r.status in ("fail", "error")]
    return {"passed": not failed, "failed": failed, "warnings": warnings,
            "no_champion": [r.id for r in rows if r.status == "no_champion"],
            "checks": [r.as_dict() for r in rows]}
