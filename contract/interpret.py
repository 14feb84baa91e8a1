"""A pure interpreter for the JSON expression trees of docs/plan.md.

Why one interpreter, here: policies and approval rules are decided at compile time, gate
checks and undecided approval conditions at run time. If each place had its own evaluator
they would disagree (they did: a regex, a plain `bool()`, a gate-only walker), and a
condition could mean one thing in the reviewed plan and another when enforced. The
runtime never imports the compiler, so the one interpreter lives in the contract package
that both halves import, and imports only the standard library. Keep it that way: no
imports from `..` or sibling modules. The polars lowering (runtime/data/expr_polars.py)
is a second backend for data, held to this one by a property test.

Semantics (SQL-like three-valued logic): `None` is null. Arithmetic, comparisons and most
functions with a null operand give null; `and`/`or` are Kleene (`false and null` is
false, `true or null` is true); `if_else` treats a null condition as false; `coalesce`,
`min`, `max` skip nulls. Division or modulo by zero and math domain errors (log of a
non-positive number, sqrt of a negative one, overflow) give null rather than raising.
NaN is null (read from data or a metric, or made by arithmetic such as `inf - inf`), and
`//` and `%` with an infinite operand give null (Python's and IEEE's answers differ
there); `floor`/`ceil` of an infinity is that infinity.
`round` rounds half to even (Python's and polars' default); `weekday` is ISO (Monday=1);
`days_between(a, b)` is whole days from a to b, truncated toward zero.

Values: `values` maps names to Python values.
- `col` / `metric`: `values[name]` (policy fields are named "model.owner" etc.).
- `champion`: `values["champion.<metric>"]`; absent means "no champion yet" -> null.
- `slice_metric`: `values["<metric> by <column>"]`, the per-group values (a mapping of
  group -> value, or a sequence); min/max/mean over the non-null ones.
- `fairness`: `values["<fn>(<attribute>)"]`, e.g. `values["disparate_impact(sex)"]`.
- a predicate call such as `model.has_check("fairness")`: true when the string is in the
  collection `values["model.has_check"]`.
A missing value (other than a champion's) raises EvaluationError.

Hooks, so that every caller decides through this one interpreter rather than its own:
- `values` may be any Mapping. A Mapping whose `__getitem__` computes a value on demand is
  the lookup callback: the gate report (runtime/evaluation/gate_checks.py) answers a
  missing metric with null and records why, so Kleene logic still applies to the rest.
- A lookup may raise `NotYetKnown` for a value that exists but is not known yet (the
  compiler deciding an approval rule before the run). `and`/`or` still decide when another
  operand decides them; otherwise `evaluate` raises NotYetKnown: "cannot decide now" is an
  answer of its own, never folded into null.
- `trace`, when given, receives every value read, under the keys above, plus for a slice
  `"<fn>(<metric> by <column>)"` and `"<fn>(<metric> by <column>).group"` (the group that
  gave min/max, `"*"` for mean), so a report can say which value decided.
"""

from __future__ import annotations

import datetime as _dt
import math
from collections.abc import Callable, Collection, Mapping
from typing import Any

__all__ = ["MAX_TREE_DEPTH", "EvaluationError", "NotYetKnown", "evaluate"]

MAX_TREE_DEPTH = 200


class EvaluationError(Exception):
    """The tree is malformed or a value it needs was not supplied."""


class NotYetKnown(EvaluationError):
    """Raised by a lookup for a value that only a later stage knows (see the module doc)."""


def evaluate(tree: Mapping[str, Any], values: Mapping[str, Any],
             trace: dict[str, Any] | None = None) -> Any:
    """The value of `tree` given `values`; None is null. `trace` collects the values read."""
    if not isinstance(tree, Mapping):
        raise EvaluationError(f"not an expression tree: {type(tree).__name__}")
    try:
        return _Interpreter(values, trace).eval(tree, 0)
    except (TypeError, AttributeError, KeyError) as exc:  # a tree the checker never made
        raise EvaluationError(f"malformed tree or value: {exc}") from exc


class _Interpreter:
    def __init__(self, values: Mapping[str, Any], trace: dict[str, Any] | None) -> None:
        self.values = values
        self.trace = trace

    def note(self, key: str, value: Any) -> None:
        if self.trace is not None:
            self.trace[key] = value

    def fetch(self, key: str, *, required: bool = True) -> Any:
        try:
            return self.values[key]
        except KeyError:
            if required:
                raise EvaluationError(f"no value supplied for `{key}`") from None
            return None

    def read(self, key: str, *, required: bool = True) -> Any:
        value = _nan_to_null(self.fetch(key, required=required))
        self.note(key, value)
        return value

    def eval(self, node: Mapping[str, Any], depth: int) -> Any:
        if depth > MAX_TREE_DEPTH:
            raise EvaluationError("expression tree is too deep")
        op = node.get("op")
        d = depth + 1
        if op == "lit":
            return node["value"]
        if op in ("col", "metric"):
            return self.read(node["name"])
        if op == "champion":   # absent: no champion yet -> null
            return self.read(f"champion.{node['metric']}", required=False)
        if op == "fairness":
            return self.read(f"{node['fn']}({node['attribute']})")
        if op == "slice_metric":
            return self.slice(node)
        if op == "binary":
            return _nan_to_null(_binary(node["fn"], self.eval(node["left"], d),
                                        self.eval(node["right"], d)))
        if op == "compare":
            return _compare(node["fn"], self.eval(node["left"], d),
                            self.eval(node["right"], d))
        if op == "unary":
            arg = self.eval(node["arg"], d)
            if arg is None:
                return None
            return (not arg) if node["fn"] == "not" else -arg
        if op == "logical":
            return self.logical(node["fn"], node["args"], d)
        if op == "call":
            return _nan_to_null(self.call(node, d))
        raise EvaluationError(f"unknown tree node op {op!r}")

    def slice(self, node: Mapping[str, Any]) -> Any:
        metric, by, fn = node["metric"], node["by"], node["fn"]
        groups = self.fetch(f"{metric} by {by}")
        if isinstance(groups, Mapping):
            present = {str(g): v for g, v in groups.items() if _nan_to_null(v) is not None}
        else:
            present = {str(i): v for i, v in enumerate(groups) if _nan_to_null(v) is not None}
        key = f"{fn}({metric} by {by})"
        value: Any = None
        group: str | None = None
        if fn not in ("min", "max", "mean"):
            raise EvaluationError(f"unknown slice function {fn!r}")
        if present and fn == "mean":
            value, group = math.fsum(present.values()) / len(present), "*"
        elif present:  # ties: min takes the first group in name order, max the last
            pick = min if fn == "min" else max
            group = pick(present, key=lambda g: (present[g], g))
            value = present[group]
        self.note(key, value)
        if group is not None:
            self.note(f"{key}.group", group)
        return value

    def logical(self, fn: str, args: list[Mapping[str, Any]], depth: int) -> bool | None:
        # Kleene logic, short-circuiting only on the deciding value. An operand not known
        # yet (NotYetKnown) defers: a later deciding operand still decides.
        if fn not in ("and", "or"):
            raise EvaluationError(f"unknown logical function {fn!r}")
        decisive = fn == "or"           # `or` is decided by a true, `and` by a false
        unknown = False
        pending: NotYetKnown | None = None
        for arg in args:
            try:
                v = self.eval(arg, depth)
            except NotYetKnown as exc:
                pending = pending or exc
                continue
            if v is None:
                unknown = True
            elif bool(v) is decisive:
                return decisive
        if pending is not None:
            raise pending
        return None if unknown else not decisive

    def call(self, node: Mapping[str, Any], depth: int) -> Any:
        fn: str = node["fn"]
        args = [self.eval(a, depth) for a in node["args"]]
        if "." in fn:  # a policy predicate: model.has_check("fairness")
            members: Collection[Any] = self.read(fn)
            return args[0] in members
        if fn == "coalesce":
            return next((a for a in args if a is not None), None)
        if fn == "if_else":
            return args[1] if args[0] else args[2]
        if fn == "is_null":
            return args[0] is None
        if fn in ("min", "max"):
            present = [a for a in args if a is not None]
            if not present:
                return None
            return min(present) if fn == "min" else max(present)
        impl = _STRICT.get(fn)
        if impl is None:
            raise EvaluationError(f"unknown function {fn!r}")
        if args[0] is None or (fn == "days_between" and args[1] is None):
            return None
        try:
            return impl(*args)
        except (OverflowError, ValueError):
            return None


def _nan_to_null(v: Any) -> Any:
    return None if isinstance(v, float) and math.isnan(v) else v


def _infinite(v: Any) -> bool:
    return isinstance(v, float) and math.isinf(v)


def _binary(fn: str, a: Any, b: Any) -> Any:
    if a is None or b is None:
        return None
    if fn in ("floordiv", "mod") and (_infinite(a) or _infinite(b)):
        return None
    try:
        if fn == "add":
            return a + b
        if fn == "sub":
            return a - b
        if fn == "mul":
            return a * b
        if fn == "div":
            return a / b
        if fn == "floordiv":
            return a // b
        if fn == "mod":
            return a % b
        if fn == "pow":
            result = float(a) ** b
            return None if isinstance(result, complex) else result
    except (ZeroDivisionError, OverflowError, ValueError):
        return None
    raise EvaluationError(f"unknown binary function {fn!r}")


_COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "eq": lambda a, b: bool(a == b), "ne": lambda a, b: bool(a != b),
    "lt": lambda a, b: bool(a < b), "le": lambda a, b: bool(a <= b),
    "gt": lambda a, b: bool(a > b), "ge": lambda a, b: bool(a >= b),
}


def _compare(fn: str, a: Any, b: Any) -> bool | None:
    if a is None or b is None:
        return None
    if fn not in _COMPARE:
        raise EvaluationError(f"unknown comparison {fn!r}")
    return _COMPARE[fn](a, b)


def _as_datetime(v: _dt.date) -> _dt.datetime:
    return v if isinstance(v, _dt.datetime) else _dt.datetime(v.year, v.month, v.day)


def _days_between(a: _dt.date, b: _dt.date) -> int:
    delta = _as_datetime(b) - _as_datetime(a)
    whole = abs(delta) // _dt.timedelta(days=1)
    return whole if delta >= _dt.timedelta(0) else -whole


def _clip(x: Any, lo: Any, hi: Any) -> Any:
    if lo is not None and x < lo:
        x = lo
    if hi is not None and x > hi:
        x = hi
    return x


def _floor_ceil(f: Callable[[float], int]) -> Callable[[Any], Any]:
    return lambda x: x if isinstance(x, int) or not math.isfinite(x) else float(f(x))


def _domain(f: Callable[[float], float], ok: Callable[[float], bool]) -> Callable[[Any], Any]:
    return lambda x: f(x) if ok(x) else None


# Functions whose null argument (the first) makes the result null.
_STRICT: dict[str, Callable[..., Any]] = {
    "log": _domain(math.log, lambda x: x > 0),
    "log1p": _domain(math.log1p, lambda x: x > -1),
    "exp": math.exp,
    "sqrt": _domain(math.sqrt, lambda x: x >= 0),
    "abs": abs,
    "clip": _clip,
    "round": lambda x, n=0: round(x, n if n is not None else 0),
    "floor": _floor_ceil(math.floor),
    "ceil": _floor_ceil(math.ceil),
    "year": lambda v: v.year,
    "month": lambda v: v.month,
    "day": lambda v: v.day,
    "weekday": lambda v: v.isoweekday(),
    "hour": lambda v: v.hour,
    "days_between": _days_between,
    "lower": str.lower,
    "upper": str.upper,
    "length": len,
}
