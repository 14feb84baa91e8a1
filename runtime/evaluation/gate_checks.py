"""Evaluating compiled gate checks against a run's results: the reporting layer.

Why no evaluator here: a gate must mean at run time what the compiler checked, so the
value of a check comes from the one interpreter, `specops.contract.interpret.evaluate`
(SQL-like nulls, Kleene `and`/`or`). This module only turns a run's results into the
interpreter's values and its answer into a report. `_Results` is the lookup: a value the
check needs and cannot find is answered with null *and recorded*, so Kleene logic still
applies to the rest of the check (`missing >= 1 or roc_auc >= 0.5` passes on roc_auc) and
a check is never just "false" without saying why.

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
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from specops.contract.interpret import EvaluationError, evaluate

__all__ = ["CheckResult", "GateError", "evaluate_check", "evaluate_gate", "render_tree"]

_SYMBOL = {"eq": "==", "ne": "!=", "lt": "<", "le": "<=", "gt": ">", "ge": ">=",
           "add": "+", "sub": "-", "mul": "*", "div": "/", "floordiv": "//", "mod": "%",
           "pow": "**"}


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


def _usable(value: Any) -> bool:
    return value is not None and not (isinstance(value, float) and math.isnan(value))


class _Results(Mapping[str, Any]):
    """A run's results as the interpreter's values (keys as in contract/interpret.py).

    A key that has no usable value reads as null and its reason is recorded in `missing`
    (or `no_champion` is set); NaN counts as missing."""

    def __init__(self, results: Mapping[str, Any]) -> None:
        self.r = results
        self.missing: list[str] = []
        self.no_champion = False
        self.flat: dict[str, Any] = {}
        for name, value in (results.get("metrics") or {}).items():
            if _usable(value):
                self.flat[str(name)] = value
        champion = results.get("champion")
        for name, value in (champion or {}).items():
            if _usable(value):
                self.flat[f"champion.{name}"] = value
        for attr, report in (results.get("fairness") or {}).items():
            for fn, value in (report or {}).items():
                if fn != "note" and _usable(value):
                    self.flat[f"{fn}({attr})"] = value
        for by, groups in (results.get("slices") or {}).items():
            per_metric: dict[str, dict[str, Any]] = {}
            for group, info in groups.items():
                for metric, value in (info.get("metrics") or {}).items():
                    if value is not None:
                        per_metric.setdefault(metric, {})[str(group)] = value
            for metric, values in per_metric.items():
                self.flat[f"{metric} by {by}"] = values

    def __getitem__(self, key: str) -> Any:
        if key in self.flat:
            return self.flat[key]
        if key.startswith("champion."):
            metric = key.removeprefix("champion.")
            if self.r.get("champion") is None:
                self.no_champion = True
            else:
                self.missing.append(f"the production version has no {metric}")
            return None
        if " by " in key:
            metric, by = key.split(" by ", 1)
            if by not in (self.r.get("slices") or {}):
                self.missing.append(f"no slice metrics by {by}")
            else:
                self.missing.append(f"no group of {by} has {metric} (groups below the "
                                    "minimum size or with one class only)")
            return {}
        if key.endswith(")") and "(" in key:
            fn, attr = key[:-1].split("(", 1)
            report = (self.r.get("fairness") or {}).get(attr)
            self.missing.append(f"no fairness report for {attr}" if report is None
                                else report.get("note") or f"{fn} is undefined for {attr}")
            return None
        self.missing.append(f"metric {key} was not computed")
        return None

    def __iter__(self) -> Iterator[str]:
        return iter(self.flat)

    def __len__(self) -> int:
        return len(self.flat)


def _evaluate(tree: Mapping[str, Any], values: _Results,
              trace: dict[str, Any] | None = None) -> Any:
    try:
        return evaluate(tree, values, trace)
    except EvaluationError as exc:
        raise GateError(f"malformed check tree: {exc}") from exc


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
    ev = _Results(results)
    trace: dict[str, Any] = {}
    result = _evaluate(tree, ev, trace)
    out = CheckResult(id=str(check.get("id") or "check"),
                      text=str(check.get("text") or render_tree(tree)),
                      severity=str(check.get("severity") or "blocking"), status="fail",
                      message=check.get("message"), values=trace)
    if tree.get("op") == "compare":   # the operands, for the report (same interpreter)
        out.comparator = _SYMBOL.get(tree["fn"], tree["fn"])
        out.value = _evaluate(tree["left"], _Results(results))
        out.threshold = _evaluate(tree["right"], _Results(results))
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


def evaluate_gate(checks: list[Mapping[str, Any]], results: Mapping[str, Any],
                  require_champion: bool = False) -> dict[str, Any]:
    """Every check's outcome plus the gate's verdict (passed unless a blocking check fails)."""
    rows = [evaluate_check(c, results, require_champion) for c in checks]
    failed = [r.id for r in rows if r.blocking_failure]
    warnings = [r.id for r in rows if r.severity == "warning" and r.status in ("fail", "error")]
    return {"passed": not failed, "failed": failed, "warnings": warnings,
            "no_champion": [r.id for r in rows if r.status == "no_champion"],
            "checks": [r.as_dict() for r in rows]}
