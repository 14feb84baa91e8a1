"""Type checking: `ir` tree + environment -> the JSON expression tree of docs/plan.md.

Why one pass that both checks and emits: every node's type is decided exactly once, and
the tree written to the plan is the tree that was checked. Errors carry the offsets of
the offending operand or name; a subtree that already failed yields None, and its parents
stay silent about it, so one mistake gives one diagnostic rather than a cascade.

Encodings beyond the node list of docs/plan.md, chosen so the runtime needs no new ops:
`x in [a, b]` is `or(eq(x, a), eq(x, b))` (`not in`: `and` of `ne`); a policy field
`model.owner` is `col` named "model.owner"; a policy predicate `model.has_check("x")` is
`call` with fn "model.has_check"; unary `+x` is x itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypeAlias

from specops.compiler.diagnostics.suggest import did_you_mean
from specops.compiler.expr.env import Env
from specops.compiler.expr.functions import (
    FAIRNESS_FUNCTIONS,
    FUNCTIONS,
    SLICE_FUNCTIONS,
    Function,
    ParamKind,
)
from specops.compiler.expr.ir import (
    Attr,
    Binary,
    Call,
    Compare,
    ExprNode,
    InList,
    Lit,
    Logical,
    Name,
    SliceOf,
    Unary,
)
from specops.compiler.expr.issues import ExprIssue
from specops.compiler.expr.types import ExprType, is_numeric, is_temporal, unify

__all__ = ["CheckResult", "Tree", "check"]

Tree: TypeAlias = dict[str, Any]
_Typed: TypeAlias = tuple[Tree, ExprType]

_T = ExprType
_PARAM_WORDS: dict[ParamKind, str] = {
    "numeric": "a number", "int": "an integer", "bool": "a boolean", "string": "a string",
    "temporal": "a date or datetime", "datetime": "a datetime", "any": "a value",
}


@dataclass(frozen=True, slots=True)
class CheckResult:
    tree: Tree | None           # None when any issue was found
    type: ExprType | None
    issues: tuple[ExprIssue, ...]


def _fits(kind: ParamKind, t: ExprType) -> bool:
    if t == _T.NULL or kind == "any":
        return True
    return {
        "numeric": is_numeric(t), "int": t == _T.INT64, "bool": t == _T.BOOL,
        "string": t == _T.STRING, "temporal": is_temporal(t), "datetime": t == _T.DATETIME,
    }[kind]


def _lit_type(value: object) -> ExprType:
    if value is None:
        return _T.NULL
    if isinstance(value, bool):
        return _T.BOOL
    if isinstance(value, int):
        return _T.INT64
    if isinstance(value, float):
        return _T.FLOAT64
    return _T.STRING


def check(node: ExprNode, env: Env) -> CheckResult:
    """Check a parsed expression in `env`; the tree comes back only when there are no issues."""
    checker = _Checker(env)
    typed = checker.expr(node)
    if typed is not None and env.boolean and typed[1] != _T.BOOL:
        checker.issue("SPEC408", f"this {env.kind} expression is {typed[1]}, not a boolean",
                      node, help="write a comparison, e.g. `x >= 0.8`")
    if checker.issues or typed is None:
        return CheckResult(None, None, tuple(checker.issues))
    return CheckResult(typed[0], typed[1], ())


class _Checker:
    def __init__(self, env: Env) -> None:
        self.env = env
        self.issues: list[ExprIssue] = []

    def issue(self, code: str, message: str, node: ExprNode | None = None, *,
              at: tuple[int, int] | None = None, help: str | None = None) -> None:
        start, end = at if at is not None else (node.start, node.end) if node else (0, 1)
        self.issues.append(ExprIssue(code, message, start, end, help))

    # -- dispatch ---------------------------------------------------------------------
    def expr(self, node: ExprNode) -> _Typed | None:
        if isinstance(node, Lit):
            t = _lit_type(node.value)
            return {"op": "lit", "value": node.value, "type": t.value}, t
        if isinstance(node, Name):
            return self.name(node)
        if isinstance(node, Attr):
            return self.attr(node)
        if isinstance(node, Call):
            return self.call(node)
        if isinstance(node, SliceOf):
            self.issue("SPEC402", "`by` is only allowed as min/max/mean(metric by column) "
                       "in gate checks", node)
            return None
        if isinstance(node, Binary):
            return self.binary(node)
        if isinstance(node, Unary):
            return self.unary(node)
        if isinstance(node, Compare):
            return self.compare(node)
        if isinstance(node, InList):
            return self.in_list(node)
        return self.logical(node)

    # -- names ------------------------------------------------------------------------
    def name(self, node: Name) -> _Typed | None:
        env = self.env
        if node.id in env.columns:
            t = env.columns[node.id]
            return {"op": "col", "name": node.id, "type": t.value}, t
        if node.id in env.metrics:
            t = env.metrics[node.id]
            return {"op": "metric", "name": node.id, "type": t.value}, t
        if node.id in env.foreign_metrics:
            self.issue("SPEC411", f"metric `{node.id}` needs {env.foreign_metrics[node.id]}; "
                       f"this model's task is {env.task}", node,
                       help=did_you_mean(node.id, env.metrics))
            return None
        if node.id in env.objects or (node.id == "champion" and env.champion):
            self.issue("SPEC402", f"`{node.id}` is an object; use one of its fields, "
                       f"e.g. `{node.id}.{self.example_field(node.id)}`", node)
            return None
        if node.id in env.protected or node.id in env.slice_columns:
            use = "disparate_impact(...)" if node.id in env.protected else "min(metric by ...)"
            self.issue("SPEC403", f"`{node.id}` is a column, not a metric; gates use it "
                       f"through {use.replace('...', node.id)}", node)
            return None
        where = {"feature": "a column of the source", "gate": "a metric for this task",
                 "approval": "a fact about the model", "policy": "defined for policies"}
        self.issue("SPEC403", f"unknown name `{node.id}` (not {where[env.kind]})", node,
                   help=did_you_mean(node.id, env.names()))
        return None

    def example_field(self, base: str) -> str:
        if base == "champion":
            return next(iter(self.env.metrics), "roc_auc")
        return next(iter(self.env.objects[base].fields))

    def attr(self, node: Attr) -> _Typed | None:
        env, base = self.env, node.base.id
        at = (node.attr_start, node.end)
        if base == "champion" and env.champion:
            if node.attr in env.metrics:
                t = env.metrics[node.attr]
                return {"op": "champion", "metric": node.attr, "type": t.value}, t
            if node.attr in env.foreign_metrics:
                self.issue("SPEC411", f"metric `{node.attr}` needs "
                           f"{env.foreign_metrics[node.attr]}; this model's task is "
                           f"{env.task}", at=at)
                return None
            self.issue("SPEC403", f"unknown metric `{node.attr}`", at=at,
                       help=did_you_mean(node.attr, env.metrics))
            return None
        schema = env.objects.get(base)
        if schema is None:
            if env.objects:
                self.issue("SPEC403", f"unknown name `{base}`", node.base,
                           help=did_you_mean(base, env.names()))
            else:
                self.issue("SPEC402", "attribute access is not allowed here", node,
                           help="gates allow `champion.<metric>`, policies `model.<field>`")
            return None
        if node.attr in schema.fields:
            t = schema.fields[node.attr]
            return {"op": "col", "name": f"{base}.{node.attr}", "type": t.value}, t
        if node.attr in schema.predicates:
            self.issue("SPEC402", f"`{base}.{node.attr}` is a predicate; call it with a "
                       f"string, e.g. `{base}.{node.attr}(\"...\")`", at=at)
            return None
        self.issue("SPEC403", f"`{base}` has no field `{node.attr}`", at=at,
                   help=did_you_mean(node.attr, [*schema.fields, *schema.predicates]))
        return None

    # -- calls ------------------------------------------------------------------------
    def call(self, node: Call) -> _Typed | None:
        env = self.env
        fn_at = (node.fn_start, node.fn_end)
        if node.receiver is not None:
            return self.predicate(node)
        if env.kind == "gate" and node.fn in FAIRNESS_FUNCTIONS:
            return self.fairness(node)
        if node.args and any(isinstance(a, SliceOf) for a in node.args):
            return self.slice_metric(node)
        if env.kind == "gate" and node.fn in SLICE_FUNCTIONS and len(node.args) == 1:
            self.issue("SPEC406", f"`{node.fn}` of one argument needs a slice column",
                       node, help=f"write {node.fn}(metric by column), e.g. "
                       f"{node.fn}(roc_auc by region)")
            return None
        fn = FUNCTIONS.get(node.fn)
        if fn is None or env.kind not in fn.envs:
            known = [f.name for f in FUNCTIONS.values() if env.kind in f.envs]
            if env.kind == "gate":
                known += [*FAIRNESS_FUNCTIONS, "mean"]
            where = "" if fn is None else f" in {env.kind} expressions"
            self.issue("SPEC405", f"unknown function `{node.fn}`{where}", at=fn_at,
                       help=did_you_mean(node.fn, known))
            return None
        return self.plain_call(node, fn)

    def arity(self, node: Call, lo: int, hi: int | None, sig: str) -> bool:
        n = len(node.args)
        if n >= lo and (hi is None or n <= hi):
            return True
        want = f"{lo}" if lo == hi else f"{lo} or more" if hi is None else f"{lo} to {hi}"
        self.issue("SPEC406", f"`{node.fn}` takes {want} argument{'s' if want != '1' else ''}, "
                   f"got {n}", node, help=f"signature: {sig}")
        return False

    def plain_call(self, node: Call, fn: Function) -> _Typed | None:
        if not self.arity(node, fn.min_args, fn.max_args, fn.signature()):
            return None
        typed = [self.expr(a) for a in node.args]
        if any(t is None for t in typed):
            return None
        args = [t for t in typed if t is not None]
        for i, (arg, (_, t)) in enumerate(zip(node.args, args, strict=True)):
            kind = fn.param(i)
            if not _fits(kind, t):
                self.issue("SPEC404", f"argument {i + 1} of `{fn.name}` must be "
                           f"{_PARAM_WORDS[kind]}, got {t}", arg,
                           help=f"signature: {fn.signature()}")
                return None
        result = self.call_type(node, fn, [t for _, t in args])
        if result is None:
            return None
        return {"op": "call", "fn": fn.name, "args": [tree for tree, _ in args],
                "type": result.value}, result

    def call_type(self, node: Call, fn: Function, types: list[ExprType]) -> ExprType | None:
        if fn.returns in ("unify", "unify_tail"):
            first = 0 if fn.returns == "unify" else 1
            acc = types[first]
            for i in range(first + 1, len(types)):
                joined = unify(acc, types[i])
                if joined is None:
                    self.issue("SPEC404", f"`{fn.name}` mixes {acc} and {types[i]}",
                               node.args[i], help=f"signature: {fn.signature()}")
                    return None
                acc = joined
            return acc
        if fn.returns == "arg0":
            return _T.INT64 if types[0] == _T.NULL else types[0]
        return _T(fn.returns)

    def predicate(self, node: Call) -> _Typed | None:
        env = self.env
        assert node.receiver is not None
        base = node.receiver.id
        schema = env.objects.get(base)
        if schema is None:
            if env.objects:
                self.issue("SPEC403", f"unknown name `{base}`", node.receiver,
                           help=did_you_mean(base, env.names()))
            else:
                self.issue("SPEC402", "method calls are not allowed here", node,
                           help="only policies have predicates such as "
                                "model.has_check(\"fairness\")")
            return None
        fn_at = (node.fn_start, node.fn_end)
        if node.fn not in schema.predicates:
            self.issue("SPEC405", f"`{base}` has no predicate `{node.fn}`", at=fn_at,
                       help=did_you_mean(node.fn, schema.predicates))
            return None
        sig = f"{base}.{node.fn}(string) -> bool"
        if not self.arity(node, 1, 1, sig):
            return None
        arg = node.args[0]
        if not (isinstance(arg, Lit) and isinstance(arg.value, str)):
            self.issue("SPEC404", f"`{base}.{node.fn}` takes a string literal", arg,
                       help=f"signature: {sig}")
            return None
        choices = schema.predicates[node.fn]
        if choices is not None and arg.value not in choices:
            self.issue("SPEC404", f"`{base}.{node.fn}` accepts "
                       f"{', '.join(repr(c) for c in choices)}; got {arg.value!r}", arg,
                       help=did_you_mean(arg.value, choices))
            return None
        lit = {"op": "lit", "value": arg.value, "type": _T.STRING.value}
        return {"op": "call", "fn": f"{base}.{node.fn}", "args": [lit],
                "type": _T.BOOL.value}, _T.BOOL

    def fairness(self, node: Call) -> _Typed | None:
        sig = f"{node.fn}(protected_attribute) -> float64"
        if not self.arity(node, 1, 1, sig):
            return None
        arg = node.args[0]
        if not isinstance(arg, Name):
            self.issue("SPEC404", f"`{node.fn}` takes the name of a protected attribute", arg,
                       help=f"signature: {sig}")
            return None
        if arg.id not in self.env.protected:
            declared = ", ".join(sorted(self.env.protected)) or "none"
            self.issue("SPEC403", f"`{arg.id}` is not a protected attribute of this model "
                       f"(declared: {declared})", arg,
                       help=did_you_mean(arg.id, self.env.protected)
                       or "declare it in the model's training.protected")
            return None
        return {"op": "fairness", "fn": node.fn, "attribute": arg.id,
                "type": _T.FLOAT64.value}, _T.FLOAT64

    def slice_metric(self, node: Call) -> _Typed | None:
        if self.env.kind != "gate" or node.fn not in SLICE_FUNCTIONS or len(node.args) != 1:
            bad = next(a for a in node.args if isinstance(a, SliceOf))
            self.issue("SPEC402", "`by` is only allowed as min/max/mean(metric by column) "
                       "in gate checks", bad)
            return None
        arg = node.args[0]
        assert isinstance(arg, SliceOf)
        if not isinstance(arg.metric, Name):
            self.issue("SPEC404", "the left of `by` must be a metric name", arg.metric)
            return None
        metric = self.name(arg.metric)
        if metric is None:
            return None
        if metric[0]["op"] != "metric":
            self.issue("SPEC404", f"`{arg.metric.id}` is not a metric", arg.metric)
            return None
        if not isinstance(arg.by, Name):
            self.issue("SPEC404", "the right of `by` must be a slice column name", arg.by)
            return None
        if arg.by.id not in self.env.slice_columns:
            declared = ", ".join(sorted(self.env.slice_columns)) or "none"
            self.issue("SPEC403", f"`{arg.by.id}` is not a slice column of this model "
                       f"(declared: {declared})", arg.by,
                       help=did_you_mean(arg.by.id, self.env.slice_columns)
                       or "declare it in the model's `slices`")
            return None
        return {"op": "slice_metric", "fn": node.fn, "metric": arg.metric.id, "by": arg.by.id,
                "type": _T.FLOAT64.value}, _T.FLOAT64

    # -- operators --------------------------------------------------------------------
    def binary(self, node: Binary) -> _Typed | None:
        left, right = self.expr(node.left), self.expr(node.right)
        if left is None or right is None:
            return None
        (lt, ltype), (rt, rtype) = left, right
        for operand, t in ((node.left, ltype), (node.right, rtype)):
            if not is_numeric(t):
                self.issue("SPEC404", f"arithmetic `{node.op}` needs numbers, got {t}", operand,
                           help="strings, booleans and dates cannot be used in arithmetic"
                           + ("; use days_between(a, b)" if is_temporal(t) else ""))
                return None
        if node.op in ("div", "pow"):
            result = _T.FLOAT64
        else:
            result = _T.INT64 if {ltype, rtype} <= {_T.INT64, _T.NULL} else _T.FLOAT64
        return {"op": "binary", "fn": node.op, "left": lt, "right": rt,
                "type": result.value}, result

    def unary(self, node: Unary) -> _Typed | None:
        arg = self.expr(node.arg)
        if arg is None:
            return None
        tree, t = arg
        if node.op == "not":
            if t not in (_T.BOOL, _T.NULL):
                self.issue("SPEC404", f"`not` needs a boolean, got {t}", node.arg)
                return None
            return {"op": "unary", "fn": "not", "arg": tree, "type": _T.BOOL.value}, _T.BOOL
        if not is_numeric(t):
            self.issue("SPEC404", f"unary minus/plus needs a number, got {t}", node.arg)
            return None
        if node.op == "pos":
            return tree, t
        t = _T.INT64 if t == _T.NULL else t
        return {"op": "unary", "fn": "neg", "arg": tree, "type": t.value}, t

    def compare(self, node: Compare) -> _Typed | None:
        left, right = self.expr(node.left), self.expr(node.right)
        if left is None or right is None:
            return None
        if not self.comparable(node.op, node.left, left[1], node.right, right[1]):
            return None
        return {"op": "compare", "fn": node.op, "left": left[0], "right": right[0],
                "type": _T.BOOL.value}, _T.BOOL

    def comparable(self, op: str, ln: ExprNode, lt: ExprType, rn: ExprNode,
                   rt: ExprType) -> bool:
        if _T.NULL in (lt, rt):
            self.issue("SPEC404", "comparing with null is never true", rn if rt == _T.NULL
                       else ln, help="use is_null(x)")
            return False
        joined = unify(lt, rt)
        ordered = joined is not None and joined != _T.BOOL
        if joined is None or (op not in ("eq", "ne") and not ordered):
            blame = ln if isinstance(ln, Lit) and not isinstance(rn, Lit) else rn
            self.issue("SPEC404", f"cannot compare {lt} with {rt}", blame)
            return False
        return True

    def in_list(self, node: InList) -> _Typed | None:
        arg = self.expr(node.arg)
        if arg is None:
            return None
        tree, t = arg
        parts: list[Tree] = []
        for item in node.items:
            it = _lit_type(item.value)
            if not self.comparable("eq", node.arg, t, item, it):
                return None
            lit = {"op": "lit", "value": item.value, "type": it.value}
            parts.append({"op": "compare", "fn": "ne" if node.negate else "eq", "left": tree,
                          "right": lit, "type": _T.BOOL.value})
        if len(parts) == 1:
            return parts[0], _T.BOOL
        return {"op": "logical", "fn": "and" if node.negate else "or", "args": parts,
                "type": _T.BOOL.value}, _T.BOOL

    def logical(self, node: Logical) -> _Typed | None:
        typed = [self.expr(a) for a in node.args]
        ok = True
        for arg, tt in zip(node.args, typed, strict=True):
            if tt is None:
                ok = False
            elif tt[1] not in (_T.BOOL, _T.NULL):
                self.issue("SPEC404", f"`{node.op}` needs booleans, got {tt[1]}", arg)
                ok = False
        if not ok:
            return None
        args = [tt[0] for tt in typed if tt is not None]
        return {"op": "logical", "fn": node.op, "args": args, "type": _T.BOOL.value}, _T.BOOL
