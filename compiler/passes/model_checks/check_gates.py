"""Compile every gate check for every model that uses the gate, in that model's terms:
its task's metrics, its slice columns, its protected attributes; then refuse fairness that
cannot be evaluated as written (SPEC510, SPEC411).

Why fairness is checked here and not at run time: a continuous attribute without bands
makes every distinct age its own group, a regression has no "selection" until a direction
and threshold say what is favourable, and equalized odds needs true classes. Each of those
used to lint clean and fail (or, worse, pass on nonsense) after training.

A gate shared by a classifier and a regressor is checked twice; a metric that fits one
but not the other is reported once per offending model (SPEC411 at the exact column).
"""

from __future__ import annotations

import itertools
from dataclasses import replace
from typing import Any

from specops.compiler.diagnostics.diagnostic import Severity
from specops.compiler.diagnostics.suggest import did_you_mean
from specops.compiler.expr import check_spec_expression, gate_env, metrics_for_task
from specops.compiler.facts.model_facts import check_categories
from specops.compiler.frontend.validate_specs import LoadedSpec
from specops.compiler.kinds import GateSpec, ModelSpec, SourceSpec
from specops.compiler.passes.context import Context

__all__ = ["check_gates"]


def _name_the_model(ctx: Context, start: int, model: str) -> None:
    """A gate shared by several models: say which one a model-specific finding (its task,
    slices, protected attributes) is about, instead of "this model"."""
    for i in range(start, len(ctx.diagnostics)):
        d = ctx.diagnostics[i]
        if "this model" in d.message:
            message = d.message.replace("this model's task", f"the task of model `{model}`")
            ctx.diagnostics[i] = replace(d, message=message.replace("this model",
                                                                    f"model `{model}`"))


_NUMERIC = {"int64", "int32", "float64", "float32"}
_SELECTION = {"selection_rate_ratio", "demographic_parity_difference",
              "demographic_parity_ratio", "disparate_impact"}
_DIRECTIONS = ("higher_score", "lower_score")


def _fairness_calls(tree: Any) -> list[tuple[str, str]]:
    """(function, attribute) of every fairness call in a compiled check."""
    out: list[tuple[str, str]] = []
    stack = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            if node.get("op") == "fairness":
                out.append((str(node.get("fn")), str(node.get("attribute"))))
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return out


def _protected_types(ctx: Context, model: ModelSpec
                     ) -> dict[str, tuple[str, bool, int]]:
    """Protected column -> (type, declares its values with `in:`, index in the list)."""
    out: dict[str, tuple[str, bool, int]] = {}
    for ref in ctx.protected.get(model.name, []):
        for col in ref.columns:
            if ref.kind == "column" and ref.name in ctx.index.sources:
                src: SourceSpec = ctx.index.sources[ref.name].spec
                if col in src.columns:
                    c = src.columns[col]
                    out[col] = (c.type, c.in_ is not None, ref.index)
            elif ref.version is not None:
                t = ctx.feature_types.get((ref.name, ref.version), {}).get(col)
                if t is not None:
                    out[col] = (t, False, ref.index)
    return out


def _check_fairness(ctx: Context, loaded: LoadedSpec, model: ModelSpec) -> None:
    """SPEC510/SPEC411 for a model: bands, favourable outcome, threshold and the fairness
    checks of its gates, each at the exact place to fix."""
    types = _protected_types(ctx, model)
    fair = model.fairness
    bands = {k.rsplit(".", 1)[-1]: k for k in (fair.bands if fair else {})}
    for col, key in bands.items():
        if col not in types:
            ctx.error("SPEC510", f"bands for `{key}`, which is not a protected attribute of "
                      f"model `{model.name}`", loaded, "fairness", "bands", key, key=True,
                      help=did_you_mean(col, types) or "list it under training.protected")
        elif types[col][0] not in _NUMERIC:
            ctx.error("SPEC510", f"`{key}` is {types[col][0]}: only numeric attributes are "
                      "banded", loaded, "fairness", "bands", key, key=True)
        elif fair is not None:
            edges = fair.bands[key]
            if isinstance(edges, list) and (not edges or any(
                    b <= a for a, b in itertools.pairwise(edges))):
                ctx.error("SPEC510", f"band edges of `{key}` must be increasing numbers",
                          loaded, "fairness", "bands", key)
    for col, (ctype, listed, index) in sorted(types.items()):
        if col in bands or ctype not in _NUMERIC or listed:
            continue
        ctx.error("SPEC510", f"protected attribute `{col}` is {ctype} without bands: every "
                  "distinct value would be its own group", loaded, "training", "protected",
                  index, help=f"add `fairness: {{bands: {{{col}: [25, 40, 60]}}}}` (edges) or "
                              f"`{{{col}: {{quantiles: 4}}}}`, or declare its values with "
                              "`in:` on the source column")
    regression = model.task == "regression"
    if fair is not None and fair.favorable is not None:
        if regression and fair.favorable not in _DIRECTIONS:
            ctx.error("SPEC510", "a regression's favourable outcome is a direction: "
                      "`higher_score` or `lower_score`", loaded, "fairness", "favorable")
        elif not regression and fair.favorable not in _DIRECTIONS:
            _check_favourable_label(ctx, loaded, model, fair.favorable)
    if fair is not None and fair.threshold is not None and not regression and \
            not 0.0 < fair.threshold < 1.0:
        ctx.error("SPEC510", f"a classifier's threshold is a probability in (0, 1); got "
                  f"{fair.threshold:g}", loaded, "fairness", "threshold")
    if model.task == "binary_classification":
        return
    if regression:
        decided = fair is not None and fair.favorable in _DIRECTIONS and \
            fair.threshold is not None
        help_text = "set `fairness: {favorable: higher_score, threshold: T}` (or " \
                    "lower_score) on the model"
    else:   # multiclass: one class is favourable, the rest are not
        decided = fair is not None and fair.favorable is not None and \
            fair.favorable not in _DIRECTIONS
        help_text = "set `fairness: {favorable: <a class>}` on the model"
    for gate_name in model.gates:
        gate_loaded = ctx.index.gates.get(gate_name)
        if gate_loaded is None:
            continue
        for check in ctx.gate_trees.get((model.name, gate_name), []):
            where = _check_path(gate_loaded, str(check["text"]))
            for fn, attr in _fairness_calls(check["expr"]):
                if where is None:
                    continue
                if regression and fn not in _SELECTION:
                    ctx.error("SPEC411", f"`{fn}({attr})` compares true- or false-positive "
                              f"rates, which a regression (model `{model.name}`) does not "
                              "have", gate_loaded, *where,
                              help="use disparate_impact or demographic_parity_difference "
                                   "with fairness.favorable and threshold on the model")
                elif not decided:
                    ctx.error("SPEC510", f"`{fn}({attr})` on {model.task.replace('_', ' ')} "
                              f"model `{model.name}` needs what a favourable decision is",
                              gate_loaded, *where, help=help_text)


def _check_path(gate_loaded: LoadedSpec, text: str) -> tuple[str | int, ...] | None:
    """Where a compiled check's text is written in its gate (checks that failed to compile
    are missing from the compiled list, so positions there do not match the spec's)."""
    gate: GateSpec = gate_loaded.spec
    for i, c in enumerate(gate.checks):
        if isinstance(c, str) and c == text:
            return ("checks", i)
        if not isinstance(c, str) and c.check == text:
            return ("checks", i, "check")
    return None


def _check_favourable_label(ctx: Context, loaded: LoadedSpec, model: ModelSpec,
                            favorable: object) -> None:
    label = model.training.label
    src = ctx.index.sources.get(label.source)
    if src is None or label.column not in src.spec.columns:
        return
    col = src.spec.columns[label.column]
    values = list(col.in_) if col.in_ is not None else [False, True] \
        if col.type == "bool" else None
    if values is not None and str(favorable) not in {str(v) for v in values}:
        ctx.error("SPEC510", f"favourable outcome {favorable!r} is not a value of the label "
                  f"`{label.column}` ({', '.join(map(str, values))})", loaded, "fairness",
                  "favorable")


def _check_monitoring(ctx: Context, loaded: LoadedSpec, model: ModelSpec) -> None:
    """SPEC411 for `monitoring.performance`: a metric the task never produces would leave
    the monitor comparing against nothing (`rmse` on a classifier), found only in
    production. Reported at the metric's key."""
    if model.monitoring is None:
        return
    own, other = metrics_for_task(model.task)
    known = set(own) | set(other) | {"f1_macro"}   # f1_macro: multiclass evaluation
    for metric in model.monitoring.performance:
        if metric in own or (metric == "f1_macro" and model.task != "regression"):
            continue
        if metric in other:
            message = (f"monitoring metric `{metric}` needs {other[metric]}; model "
                       f"`{model.name}` is {model.task}")
            help_text = f"monitor one of: {', '.join(sorted(own))}"
        elif metric in known:
            continue
        else:
            message = f"unknown monitoring metric `{metric}` for model `{model.name}`"
            help_text = did_you_mean(metric, sorted(own)) or \
                f"monitor one of: {', '.join(sorted(own))}"
        ctx.error("SPEC411", message, loaded, "monitoring", "performance", metric,
                  key=True, help=help_text)


def check_gates(ctx: Context) -> None:
    users: dict[str, int] = {}
    for _loaded, m in ctx.models():
        for g in set(m.gates):
            users[g] = users.get(g, 0) + 1
    # A check that compiled cleanly in one environment compiles to the same tree in an
    # identical one: models sharing task, slices and protected attributes reuse it (a
    # 1,000-model project repeats a handful of gates). Failures recompile per model so
    # each message names its model.
    compiled_ok: dict[tuple[Any, ...], dict[str, Any]] = {}
    # categories per tree in `compiled_ok` (alive for the whole pass, so `id` is stable)
    kinds: dict[int, set[str]] = {}
    for loaded, model in ctx.models():
        protected = sorted({c for r in ctx.protected.get(model.name, []) for c in r.columns})
        env = gate_env(model.task, slices=model.slices, protected=protected, champion=True)
        env_key = (model.task, tuple(sorted(model.slices)), tuple(protected))
        categories: set[str] = set()
        broken = False   # a check that failed to compile may be the fairness check
        for gate_name in model.gates:
            gate_loaded = ctx.index.gates.get(gate_name)
            if gate_loaded is None:
                continue
            gate: GateSpec = gate_loaded.spec
            compiled: list[dict[str, Any]] = []
            for i, check in enumerate(gate.checks):
                path: tuple[str | int, ...]
                if isinstance(check, str):
                    text, path, cid, severity, message = check, ("checks", i), None, \
                        "blocking", None
                else:
                    text, path = check.check, ("checks", i, "check")
                    cid, severity, message = check.id, check.severity, check.message
                before = len(ctx.diagnostics)
                key = (gate_name, i, *env_key)
                tree = compiled_ok.get(key)
                if tree is None and not gate_loaded.reported(*path):
                    tree = check_spec_expression(ctx, gate_loaded, text, env, *path)
                    if tree is not None:
                        compiled_ok[key] = tree
                if users.get(gate_name, 0) > 1:
                    _name_the_model(ctx, before, model.name)
                if tree is None:
                    broken = True
                    continue
                tree_kinds = kinds.get(id(tree)) if compiled_ok.get(key) is tree else None
                if tree_kinds is None:
                    tree_kinds = check_categories(tree)
                    if compiled_ok.get(key) is tree:
                        kinds[id(tree)] = tree_kinds
                categories |= tree_kinds
                compiled.append({
                    "id": cid or f"{gate_name}.{i + 1}",
                    "text": text,
                    "expr": tree,
                    "severity": severity if gate.blocking else "warning",
                    "message": message,
                })
            ctx.gate_trees[(model.name, gate_name)] = compiled
        _check_fairness(ctx, loaded, model)
        _check_monitoring(ctx, loaded, model)
        if protected and "fairness" not in categories and not broken and \
                all(g in ctx.index.gates for g in model.gates):
            ctx.error("SPEC507", f"model `{model.name}` declares protected attributes "
                      f"({', '.join(protected)}) but no gate checks fairness", loaded,
                      "training", "protected", key=True, severity=Severity.WARNING,
                      help=f"add a check such as `disparate_impact({protected[0]}) >= 0.8` to a "
                           "gate")
