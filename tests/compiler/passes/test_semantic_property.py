"""Property: any well-formed but semantically random project lints without crashing.

The front-end property test mutates text; this one builds projects that parse and
validate, then wires them at random: column types and protected flags, views derived from
sources or from other views (cycles included), features that read columns, features or
nothing, windows with or without timestamps, tasks against metrics, estimators, approval
rules and policies. Every diagnostic must point inside its file and carry a known code;
the same project must lint to the same diagnostics twice.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from specops.compiler.diagnostics.rules import RULES
from specops.compiler.passes.lint import lint_paths

TYPES = ["int64", "int32", "float64", "float32", "bool", "string", "category", "date",
         "datetime"]
NAMES = ["a", "b", "c", "d", "income", "region", "null", "1", "'x'"]
EXPRS = ["{0}", "log1p({0})", "{0} + {1}", "{0} == 'F'", "coalesce({0}, {1})",
         "if_else({0}, {1}, 0)", "year({0})", "-{0}", "{0} / {1}", "is_null({0})"]
CHECKS = ["roc_auc >= 0.7", "rmse <= 1", "min(roc_auc by {0}) >= 0.5",
          "disparate_impact({0}) >= 0.8", "latency_p99_ms <= 5", "f1", "champion.r2 <= r2"]
WHENS = ["true", "risk_tier == 'high'", "task == 'regression'", "risk_tier"]
POLICIES = ["model.has_monitoring", "model.has_check('fairness')", "not model.uses_restricted",
            "feature.has_owner", "source.n_protected >= 0", "model.n_gates > 1"]
ESTIMATORS = ["LogisticRegression", "Ridge", "HistGradientBoostingClassifier", "SVC"]


def _json(value: Any) -> str:
    return json.dumps(value)   # JSON is YAML: quoting is never ambiguous


@st.composite
def projects(draw: st.DrawFn) -> dict[str, str]:
    columns = {name: draw(st.sampled_from(TYPES)) for name in ("a", "b", "c", "d")}
    columns["loan_id"] = "int64"
    protected = draw(st.sets(st.sampled_from(["a", "b", "c", "d"]), max_size=2))
    timestamp = draw(st.sampled_from([None, "a", "d"]))
    src: dict[str, Any] = {
        "kind": "source", "name": "loans", "path": "data/loans.parquet", "entity": "loan_id",
        "columns": {c: {"type": t, **({"protected": True} if c in protected else {})}
                    for c, t in columns.items()}}
    if timestamp is not None:
        src["timestamp"] = timestamp
    docs = [src]
    n_views = draw(st.integers(1, 4))
    for i in range(n_views):
        source = draw(st.sampled_from(["loans", *(f"v{j}@1" for j in range(n_views))]))
        feats: dict[str, Any] = {}
        for k in range(draw(st.integers(1, 3))):
            names = [draw(st.sampled_from(NAMES + [f"f{j}" for j in range(3)]))
                     for _ in range(2)]
            expr = draw(st.sampled_from(EXPRS)).format(*names)
            if draw(st.booleans()):
                feats[f"f{k}"] = expr
            else:
                feats[f"f{k}"] = {"expr": expr,
                                  **({"agg": draw(st.sampled_from(["sum", "count", "last"]))}
                                     if draw(st.booleans()) else {}),
                                  **({"window": "30d"} if draw(st.booleans()) else {})}
        view: dict[str, Any] = {"kind": "feature", "name": f"v{i}", "version": 1,
                                "source": source, "features": feats}
        if draw(st.booleans()):
            view.update(access="restricted", grants=[draw(st.sampled_from(["team:risk",
                                                                           "team:x"]))])
        if draw(st.booleans()):
            view["deprecated"] = {"use": draw(st.sampled_from(["v0@1", "v9@1"]))}
        docs.append(view)
    task = draw(st.sampled_from(["binary_classification", "multiclass_classification",
                                 "regression"]))
    inputs = draw(st.lists(st.sampled_from([f"v{i}@1" for i in range(n_views)]
                                           + ["loans.a", "loans.b", "v0@1.f0"]),
                           min_size=1, max_size=3, unique=True))
    model: dict[str, Any] = {
        "kind": "model", "name": "m", "owner": draw(st.sampled_from(["team:risk", "alice"])),
        "risk_tier": draw(st.sampled_from(["high", "medium", "low"])), "task": task,
        "training": {"spine": "loans", "label": {"source": "loans",
                                                 "column": draw(st.sampled_from("abcd"))},
                     "features": inputs,
                     "protected": [f"loans.{c}" for c in sorted(protected)]},
        "estimator": {"class": draw(st.sampled_from(ESTIMATORS)),
                      "params": draw(st.sampled_from([{}, {"max_iter": 5}, {"alpha": 1.0}])),
                      **({"scoring": draw(st.sampled_from(["roc_auc", "r2", "f1", "nope"]))}
                         if draw(st.booleans()) else {})},
        "slices": draw(st.lists(st.sampled_from("abcd"), max_size=2, unique=True)),
        "gates": draw(st.lists(st.sampled_from(["g0", "g1"]), max_size=2, unique=True)),
        "approval": "appr",
    }
    docs.append(model)
    for g in ("g0", "g1"):
        checks = [draw(st.sampled_from(CHECKS)).format(draw(st.sampled_from("abcd")))
                  for _ in range(draw(st.integers(1, 3)))]
        docs.append({"kind": "gate", "name": g, "blocking": draw(st.booleans()),
                     "checks": checks})
    rules = [{"when": draw(st.sampled_from(WHENS)),
              "require": draw(st.sampled_from([{}, {"mro": 1}, {"mro": 1, "owner": 1},
                                               {"mro": 2}])),
              "separation_of_duties": draw(st.booleans())}
             for _ in range(draw(st.integers(1, 2)))]
    docs.append({"kind": "approval", "name": "appr", "rules": rules})
    docs.append({"kind": "policy", "name": "p", "rules": [
        {"id": f"r{i}", "applies_to": draw(st.sampled_from(["model", "feature", "source"])),
         "require": draw(st.sampled_from(POLICIES)), "message": "m",
         "severity": draw(st.sampled_from(["error", "warning"]))}
        for i in range(draw(st.integers(1, 3)))]})
    config = {"name": "prop", "packs": draw(st.sampled_from([[], ["sr11-7"],
                                                             ["eu-ai-act-high-risk"]])),
              "people": {"alice": {"roles": ["mro"], "teams": ["risk"]},
                         "bob": {"roles": ["mro", "owner"], "teams": ["v"]}}}
    return {"specops.yaml": _json(config),
            "specs/all.yaml": "\n---\n".join(_json(d) for d in docs) + "\n"}


def _lint(files: dict[str, str]) -> list[tuple[str, int, int, str, str]]:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        for rel, text in files.items():
            (root / rel).parent.mkdir(parents=True, exist_ok=True)
            (root / rel).write_text(text, encoding="utf-8")
        result = lint_paths([root], {}, base=root)
        out = []
        for d in result.diagnostics:
            assert d.code in RULES, d
            if (root / d.file).is_file():
                lines = (root / d.file).read_text(encoding="utf-8").split("\n")
                assert 1 <= d.span.line <= len(lines), d.location()
                assert 1 <= d.span.col <= len(lines[d.span.line - 1]) + 1, d.location()
            out.append((d.file, d.span.line, d.span.col, d.code, d.message))
        return out


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(projects())
def test_random_projects_lint_without_crashing(files: dict[str, str]) -> None:
    first = _lint(files)
    assert sorted(first) == sorted(_lint(files))
