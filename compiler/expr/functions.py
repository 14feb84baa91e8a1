"""The signature table: every function the language has, in one place.

Why a table: the checker, `docs/expressions.md`, did-you-mean suggestions and the
evaluator all read the same entries, so a function cannot exist without a type rule and
a list of the environments that may call it. Parameter kinds are checked per argument so
a type error points at the offending argument's column.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = [
    "ALL_ENVS",
    "FAIRNESS_FUNCTIONS",
    "FUNCTIONS",
    "SLICE_FUNCTIONS",
    "EnvKind",
    "Function",
    "ParamKind",
    "ReturnRule",
]

EnvKind = Literal["feature", "gate", "approval", "policy"]
ParamKind = Literal["numeric", "int", "bool", "string", "temporal", "datetime", "any"]
# A fixed type name, or: "unify" (common type of all arguments), "unify_tail" (of all but
# the first: if_else), "arg0" (the first argument's type).
ReturnRule = Literal["int64", "float64", "bool", "string", "unify", "unify_tail", "arg0"]

ALL_ENVS: frozenset[EnvKind] = frozenset({"feature", "gate", "approval", "policy"})
_FEATURE: frozenset[EnvKind] = frozenset({"feature"})
_TEXT: frozenset[EnvKind] = frozenset({"feature", "approval", "policy"})


@dataclass(frozen=True, slots=True)
class Function:
    name: str
    params: tuple[ParamKind, ...]
    returns: ReturnRule
    min_args: int
    variadic: bool            # the last parameter kind repeats
    envs: frozenset[EnvKind]
    doc: str
    example: str

    @property
    def max_args(self) -> int | None:
        return None if self.variadic else len(self.params)

    def param(self, i: int) -> ParamKind:
        return self.params[min(i, len(self.params) - 1)]

    def signature(self) -> str:
        """Human form for help lines and docs, e.g. `clip(number, number, number) -> number`."""
        generic = "number" if "numeric" in self.params else "T"
        words = {"numeric": "number", "any": "T", "temporal": "date/datetime"}
        names = [words.get(p, p) for p in self.params]
        if self.variadic:
            names.append("...")
        if self.min_args < len(self.params):
            names[self.min_args:] = [f"[{n}]" for n in names[self.min_args:]]
        ret = {"unify": generic, "unify_tail": "T", "arg0": names[0]}.get(
            self.returns, self.returns)
        return f"{self.name}({', '.join(names)}) -> {ret}"


def _f(name: str, params: tuple[ParamKind, ...], returns: ReturnRule, envs: frozenset[EnvKind],
       doc: str, example: str, *, min_args: int | None = None,
       variadic: bool = False) -> Function:
    return Function(name, params, returns, len(params) if min_args is None else min_args,
                    variadic, envs, doc, example)


FUNCTIONS: dict[str, Function] = {f.name: f for f in (
    _f("log", ("numeric",), "float64", ALL_ENVS, "natural logarithm", "log(income)"),
    _f("log1p", ("numeric",), "float64", ALL_ENVS, "log(1 + x), safe at 0", "log1p(income)"),
    _f("exp", ("numeric",), "float64", ALL_ENVS, "e to the power x", "exp(score)"),
    _f("sqrt", ("numeric",), "float64", ALL_ENVS, "square root", "sqrt(balance)"),
    _f("abs", ("numeric",), "arg0", ALL_ENVS, "absolute value", "abs(delta)"),
    _f("clip", ("numeric", "numeric", "numeric"), "unify", ALL_ENVS,
       "x limited to [lo, hi]", "clip(utilization, 0, 1)"),
    _f("coalesce", ("any", "any"), "unify", ALL_ENVS,
       "the first argument that is not null", "coalesce(income, 0)", variadic=True),
    _f("if_else", ("bool", "any", "any"), "unify_tail", ALL_ENVS,
       "a if cond else b", "if_else(age >= 18, 1, 0)"),
    _f("is_null", ("any",), "bool", ALL_ENVS, "true when x is null", "is_null(income)"),
    _f("round", ("numeric", "int"), "arg0", ALL_ENVS,
       "x rounded to n decimals (default 0), half to even", "round(ratio, 2)", min_args=1),
    _f("floor", ("numeric",), "arg0", ALL_ENVS, "largest integer <= x", "floor(age)"),
    _f("ceil", ("numeric",), "arg0", ALL_ENVS, "smallest integer >= x", "ceil(age)"),
    _f("min", ("numeric", "numeric"), "unify", ALL_ENVS,
       "the smaller of a and b (null ignored); in gates also min(metric by column)",
       "min(balance, credit_limit)"),
    _f("max", ("numeric", "numeric"), "unify", ALL_ENVS,
       "the larger of a and b (null ignored); in gates also max(metric by column)",
       "max(balance, 0)"),
    _f("year", ("temporal",), "int64", _FEATURE, "calendar year", "year(applied_at)"),
    _f("month", ("temporal",), "int64", _FEATURE, "month, 1-12", "month(applied_at)"),
    _f("day", ("temporal",), "int64", _FEATURE, "day of month, 1-31", "day(applied_at)"),
    _f("weekday", ("temporal",), "int64", _FEATURE, "ISO weekday, Monday=1 .. Sunday=7",
       "weekday(applied_at)"),
    _f("hour", ("datetime",), "int64", _FEATURE, "hour of day, 0-23", "hour(applied_at)"),
    _f("days_between", ("temporal", "temporal"), "int64", _FEATURE,
       "whole days from a to b (b - a, truncated toward zero)",
       "days_between(opened_at, applied_at)"),
    _f("lower", ("string",), "string", _TEXT, "lower-case", "lower(region)"),
    _f("upper", ("string",), "string", _TEXT, "upper-case", "upper(region)"),
    _f("length", ("string",), "int64", _TEXT, "number of characters", "length(name)"),
)}

# Gate-only forms with their own tree nodes (`slice_metric`, `fairness`).
SLICE_FUNCTIONS: frozenset[str] = frozenset({"min", "max", "mean"})
FAIRNESS_FUNCTIONS: dict[str, str] = {
    "selection_rate_ratio": "lowest group selection rate / highest",
    "demographic_parity_difference": "highest minus lowest group selection rate",
    "demographic_parity_ratio": "lowest group selection rate / highest",
    "disparate_impact": "lowest group selection rate / highest (the four-fifths rule)",
    "equalized_odds_difference": "largest gap in true- or false-positive rate between groups",
    "equal_opportunity_difference": "largest gap in true-positive rate between groups",
}
