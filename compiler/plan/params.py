"""Op params for every plan node, and what each param was computed from.

Why params and provenance together: the fingerprint of a node is a hash of its params, and
`specops explain` must say exactly which spec values feed it. Recording the spec location
next to each value as it is read keeps the two from drifting apart.

What is deliberately left out of params (so it never triggers recomputation): descriptions,
owners of sources and views, tags, spec file names and lines, and declared but unused
columns of a spine.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from specops.compiler.diagnostics.diagnostic import Diagnostic
from specops.compiler.expr import Env, approval_env, feature_env, gate_env
from specops.compiler.frontend.validate_specs import LoadedSpec
from specops.compiler.kinds import (
    ApprovalSpec,
    Check,
    FeatureDef,
    FeatureSpec,
    GateSpec,
    ModelSpec,
    SourceSpec,
)
from specops.compiler.kinds.common import duration_seconds
from specops.compiler.passes.context import Context, InputRef
from specops.compiler.plan.governance_facts import approval_rules, monitoring_params, serving_params
from specops.compiler.plan.trees import compile_tree, tree_type

__all__ = ["TASK_METRICS", "Dep", "ParamBuilder", "fairness_params"]

TASK_METRICS: dict[str, tuple[str, ...]] = {
    "binary_classification": ("accuracy", "brier", "f1", "log_loss", "pr_auc", "precision",
                              "recall", "roc_auc"),
    "multiclass_classification": ("accuracy", "f1_macro", "log_loss"),
    "regression": ("mae", "r2", "rmse"),
}
# Measured by `benchmark`, not `evaluate`.
BENCHMARK_METRICS = ("latency_p50_ms", "latency_p99_ms", "model_size_mb", "throughput_rps",
                     "onnx_max_abs_diff", "onnx_label_mismatch")
# Settings no spec sets (yet): decided here, once, and carried by the plan (format 2), so
# the runtime never picks its own.
ONNX_TARGET_OPSET = 17
ONNX_TOLERANCE = 1e-4          # largest ONNX-vs-native difference the parity check accepts
BENCHMARK_ROWS = 1000
BENCHMARK_REPEATS = 3
PARITY_TEST_ROWS = 100         # test rows export and benchmark keep for the parity check
DISTRIBUTION_BINS = 10         # bins of a source's distribution check
REQUIRE_CHAMPION = False       # a gate check that reads the champion passes without one
_WIDEN = {"int32": "int64", "float32": "float64", "category": "string"}
_CATEGORICAL = {"string", "category"}
_IDENT = re.compile(r"^[A-Za-z_]\w*$")
_APPROVAL_ENV = approval_env()


@dataclass(frozen=True, slots=True)
class Dep:
    """One thing a node's fingerprint depends on: a spec value (with its location)."""

    what: str
    spec: LoadedSpec | None = None
    path: tuple[str | int, ...] = ()


Params = tuple[dict[str, Any], list[Dep]]


@dataclass(frozen=True, slots=True)
class _Base:
    node: str                  # the node a view reads: source:x or features:v@n
    columns: dict[str, str]    # name -> type of everything in scope
    entity: str | None
    timestamp: str | None
    created_timestamp: str | None


@dataclass(frozen=True, slots=True)
class _Columns:
    spine: dict[str, Any]
    inputs: list[dict[str, str]]
    protected: list[str]
    groups: dict[str, dict[str, str]]      # joined node id -> {feature: type}
    renames: dict[str, dict[str, str]]     # joined node id -> {feature: output column}


def _secs(text: str | None) -> int | None:
    return duration_seconds(text) if text else None


def _widen(t: str) -> str:
    return _WIDEN.get(t, t)


def relative_path(text: str, root: Path | None) -> str:
    """A source path as the plan stores it: relative to the project root, posix."""
    p = Path(text)
    if p.is_absolute() and root is not None:
        try:
            return p.relative_to(root).as_posix()
        except ValueError:
            return p.as_posix()
    out = PurePosixPath(text.replace("\\", "/")).as_posix()
    return out[2:] if out.startswith("./") else out


class ParamBuilder:
    """Params per node id; one instance per compile (it caches feature-view types)."""

    def __init__(self, ctx: Context, root: Path | None) -> None:
        self.ctx = ctx
        self.root = root
        self._views: dict[tuple[str, int], Params] = {}
        self._gate_trees: dict[tuple[str, str], list[dict[str, Any]]] = {}
        self._cols: dict[str, _Columns] = {}
        self._bases: dict[tuple[str, int], _Base] = {}
        self.problems: list[Diagnostic] = []
        self._trees: dict[tuple[str, Hashable], dict[str, Any]] = {}
        self._envs: dict[str, Env] = {}
        self._metrics: dict[int, set[str]] = {}   # id(gate tree) -> the metrics it reads
        self._widened: dict[str, dict[str, str]] = {}   # source -> column -> plan type
        self._builders: dict[str, Callable[[str, LoadedSpec], Params]] = {
            "load_source": self.load_source, "validate_data": self.validate_data,
            "compute_features": self.compute_features,
            "build_training_set": self.build_training_set, "train": self.train,
            "evaluate": self.evaluate, "export_onnx": self.export_onnx,
            "benchmark": self.benchmark, "gate": self.gate, "register": self.register,
            "request_approval": self.request_approval, "deploy": self.deploy,
            "monitor": self.monitor,
        }

    def params(self, node_id: str, op: str, loaded: LoadedSpec) -> Params:
        return self._builders[op](node_id, loaded)

    def tree(self, text: str, env: Env, env_key: Hashable, loaded: LoadedSpec,
             *path: str | int) -> dict[str, Any]:
        """A compiled tree, shared by every use of the same text in the same environment
        (a gate's checks are compiled once per task, not once per model)."""
        key = (text, env_key)
        cached = self._trees.get(key)
        if cached is not None:
            return cached
        tree, diags = compile_tree(text, env, file=loaded.file, span=loaded.span(*path))
        if diags:
            self.problems.extend(diags)
        else:
            self._trees[key] = tree
        return tree

    def condition(self, loaded: LoadedSpec, index: int) -> dict[str, Any]:
        """The compiled `when` of rule `index` of an approval."""
        linted = self.ctx.approval_trees.get(loaded.name)
        if linted is not None and index < len(linted) and linted[index] is not None:
            return linted[index]  # type: ignore[return-value]
        approval: ApprovalSpec = loaded.spec
        return self.tree(approval.rules[index].when, _APPROVAL_ENV, "approval", loaded,
                         "rules", index, "when")

    # -- data ---------------------------------------------------------------------------

    def load_source(self, _id: str, loaded: LoadedSpec) -> Params:
        src: SourceSpec = loaded.spec
        is_csv = src.csv is not None or src.path.lower().endswith(".csv")   # a block: csv
        fmt = src.format or ("csv" if is_csv else "parquet")
        params: dict[str, Any] = {
            "path": relative_path(src.path, self.root), "format": fmt,
            "columns": {c: {"type": col.type, "nullable": col.nullable}
                        for c, col in src.columns.items()},
            "entity": src.entity, "timestamp": src.timestamp,
            "created_timestamp": src.created_timestamp,
        }
        if src.csv is not None:   # only then: sources without the block keep their plans
            params["csv"] = src.csv.model_dump(mode="json")
        n = src.name
        deps = [Dep(f"the path of source {n}", loaded, ("path",)),
                Dep(f"the column types of source {n}", loaded, ("columns",))]
        deps += [Dep(f"the {k} of source {n}", loaded, (k,))
                 for k in ("format", "entity", "timestamp", "created_timestamp")
                 if getattr(src, k) is not None]
        if src.csv is not None:
            deps.append(Dep(f"the csv reading options of source {n}", loaded, ("csv",)))
        return params, deps

    def validate_data(self, _id: str, loaded: LoadedSpec) -> Params:
        src: SourceSpec = loaded.spec
        checks = src.checks
        columns = {c: {"nullable": col.nullable, "unique": col.unique, "min": col.min,
                       "max": col.max, "in": col.in_}
                   for c, col in src.columns.items()}
        params: dict[str, Any] = {"columns": columns, "row_count": None,
                                  "max_null_share": None, "distribution": None}
        deps = [Dep(f"the column constraints of source {src.name}", loaded, ("columns",))]
        if checks is not None:
            if checks.row_count is not None:
                params["row_count"] = {"min": checks.row_count.min, "max": checks.row_count.max}
            params["max_null_share"] = checks.max_null_share
            if checks.distribution is not None:
                d = checks.distribution
                params["distribution"] = {
                    "reference": relative_path(d.reference, self.root), "method": d.method,
                    "max": d.max, "columns": sorted(d.columns) if d.columns else None,
                    "bins": DISTRIBUTION_BINS}
            deps.append(Dep(f"the data checks of source {src.name}", loaded, ("checks",)))
        return params, deps

    # -- features -----------------------------------------------------------------------

    def _feature_type(self, fdef: FeatureDef, tree: dict[str, Any],
                      columns: dict[str, str]) -> str:
        if fdef.type is not None:
            inferred: str | None = _widen(fdef.type)
        else:
            inferred = tree_type(tree)
        if inferred is None:  # unchecked tree: a bare column keeps its type
            text = fdef.expr.strip()
            inferred = _widen(columns[text]) if _IDENT.match(text) and text in columns \
                else "float64"
        if fdef.agg in ("mean", "std"):
            return "float64"
        return "int64" if fdef.agg == "count" else inferred

    def _base(self, name: str, version: int, depth: int = 0) -> _Base:
        """What a view reads: its input node, the columns in scope and the time keys."""
        key = (name, version)
        if key in self._bases:
            return self._bases[key]
        view: FeatureSpec = self.ctx.index.features[name][version].spec
        kind, up_name, up_version = self.ctx.view_sources.get(key, ("source", view.source,
                                                                     None))
        if kind == "view" and up_version is not None and depth < 64:
            up = self._base(up_name, up_version, depth + 1)
            up_params, _ = self.compute_features(
                "", self.ctx.index.features[up_name][up_version], depth + 1)
            columns = {c: t for c, t in up.columns.items()
                       if c in (up.entity, up.timestamp, up.created_timestamp)}
            columns.update({f["name"]: f["type"] for f in up_params["features"]})
            base = _Base(f"features:{up_name}@{up_version}", columns,
                         view.entity or up.entity, view.timestamp or up.timestamp,
                         up.created_timestamp)
        else:
            src: SourceSpec = self.ctx.index.sources[up_name].spec
            base = _Base(f"source:{up_name}", {c: col.type for c, col in src.columns.items()},
                         view.entity or src.entity, view.timestamp or src.timestamp,
                         src.created_timestamp)
        self._bases[key] = base
        return base

    def compute_features(self, _id: str, loaded: LoadedSpec, depth: int = 0) -> Params:
        view: FeatureSpec = loaded.spec
        key = (view.name, view.version)
        if key in self._views:
            return self._views[key]
        base = self._base(view.name, view.version, depth)
        env = self._envs.get(base.node)
        if env is None:
            env = self._envs[base.node] = feature_env(base.columns)
        features = []
        linted_trees = self.ctx.feature_trees.get(key, {})   # compiled by lint already
        linted_types = self.ctx.feature_types.get(key, {})
        label = f"{view.name}@{view.version}"
        deps = [Dep(f"the source of feature view {label}", loaded, ("source",))]
        for name in sorted(view.features):
            raw = view.features[name]
            fdef = raw if isinstance(raw, FeatureDef) else FeatureDef(expr=raw)
            path: tuple[str, ...] = ("features", name) if isinstance(raw, str) else \
                ("features", name, "expr")
            tree = linted_trees.get(name) or self.tree(fdef.expr, env, base.node, loaded,
                                                       *path)
            ftype = linted_types.get(name) or self._feature_type(fdef, tree, base.columns)
            features.append({"name": name, "expr": tree, "type": ftype,
                             "agg": fdef.agg, "window_s": _secs(fdef.window)})
            deps.append(Dep(f"the expression of feature {name}", loaded, ("features", name)))
        for k in ("entity", "timestamp", "ttl"):
            if getattr(view, k) is not None:
                deps.append(Dep(f"the {k} of feature view {label}", loaded, (k,)))
        params = {
            "source": base.node, "entity": base.entity, "timestamp": base.timestamp,
            "created_timestamp": base.created_timestamp, "ttl_s": _secs(view.ttl),
            "features": features,
        }
        self._views[key] = (params, deps)
        return params, deps

    def _view_types(self, name: str, version: int) -> dict[str, str]:
        loaded = self.ctx.index.features[name][version]
        params, _ = self.compute_features("", loaded)
        return {f["name"]: f["type"] for f in params["features"]}

    # -- training -----------------------------------------------------------------------

    def _columns(self, model: ModelSpec) -> _Columns:
        """Spine params, model inputs and protected column names for one model (cached)."""
        if model.name not in self._cols:
            self._cols[model.name] = self._compute_columns(model)
        return self._cols[model.name]

    def _compute_columns(self, model: ModelSpec) -> _Columns:
        idx = self.ctx.index
        spine_name = model.training.spine
        spine: SourceSpec = idx.sources[spine_name].spec
        groups: dict[str, dict[str, str]] = {}       # node id -> {feature: type}
        protected_groups: dict[str, set[str]] = {}
        spine_cols: dict[str, str] = {}

        def add(ref: InputRef, is_protected: bool) -> None:
            if ref.kind == "view" and ref.version is not None:
                node = f"features:{ref.name}@{ref.version}"
                types = self._view_types(ref.name, ref.version)
                cols = {c: types[c] for c in ref.columns}
            else:
                node = f"source:{ref.name}"
                widened = self._widened.get(ref.name)
                if widened is None:   # once per source, not once per model reading it
                    src: SourceSpec = idx.sources[ref.name].spec
                    widened = self._widened[ref.name] = {
                        c: _widen(col.type) for c, col in src.columns.items()}
                cols = {c: widened[c] for c in ref.columns}
            if ref.kind == "column" and ref.name == spine_name:
                spine_cols.update(cols)
                node = "spine"
            else:
                groups.setdefault(node, {}).update(cols)
            if is_protected:
                protected_groups.setdefault(node, set()).update(cols)

        for ref in self.ctx.inputs.get(model.name, ()):
            add(ref, False)
        for ref in self.ctx.protected.get(model.name, ()):
            add(ref, True)
        # slices and the label key are read from the spine but are not model inputs
        extra = {col for col in model.slices if col in spine.columns}
        label_src: SourceSpec = idx.sources[model.training.label.source].spec
        key = label_src.entity
        if key and key in spine.columns and label_src is not spine:
            extra.add(key)
        counts: dict[str, int] = {}
        for cols in (spine_cols, *groups.values()):
            for c in cols:
                counts[c] = counts.get(c, 0) + 1
        renames = {node: {c: f"{node.split(':', 1)[1].split('@')[0]}__{c}"
                          for c in cols if counts[c] > 1}
                   for node, cols in groups.items()}
        inputs: list[dict[str, str]] = []
        protected: list[str] = []
        for node, cols in (("spine", spine_cols), *sorted(groups.items())):
            rename = renames.get(node, {})
            hidden = protected_groups.get(node, set())
            for c, t in cols.items():
                out = rename.get(c, c)
                if c in hidden:
                    protected.append(out)
                else:
                    role = "categorical" if t in _CATEGORICAL else "numeric"
                    inputs.append({"name": out, "type": t, "role": role})
        spine_params = {"source": spine_name, "entity": spine.entity,
                        "timestamp": spine.timestamp,
                        "columns": sorted(set(spine_cols) | extra)}
        return _Columns(spine_params, sorted(inputs, key=lambda i: i["name"]),
                        sorted(set(protected)), groups, renames)

    def _label(self, model: ModelSpec) -> dict[str, Any]:
        label = model.training.label
        src: SourceSpec = self.ctx.index.sources[label.source].spec
        return {"name": label.column, "type": _widen(src.columns[label.column].type)}

    def build_training_set(self, _id: str, loaded: LoadedSpec) -> Params:
        model: ModelSpec = loaded.spec
        tr = model.training
        cols_info = self._columns(model)
        idx = self.ctx.index
        views = []
        for node, cols in sorted(cols_info.groups.items()):
            prefix, _, rest = node.partition(":")
            if prefix == "features":
                name, _, version = rest.partition("@")
                view: FeatureSpec = idx.features[name][int(version)].spec
                base = self._base(name, int(version))
                entity, ts = base.entity, base.timestamp
                created, ttl = base.created_timestamp, _secs(view.ttl)
            else:
                vsrc: SourceSpec = idx.sources[rest].spec
                entity, ts, created, ttl = (vsrc.entity, vsrc.timestamp,
                                            vsrc.created_timestamp, None)
            views.append({"node": node, "features": sorted(cols), "entity": entity,
                          "timestamp": ts, "created_timestamp": created, "ttl_s": ttl,
                          "rename": cols_info.renames.get(node, {})})
        label_src: SourceSpec = idx.sources[tr.label.source].spec
        key = None if tr.label.source == tr.spine else label_src.entity
        params = {
            "spine": cols_info.spine,
            "label": {"source": tr.label.source, "column": tr.label.column, "key": key},
            "views": views, "inputs": cols_info.inputs, "protected": cols_info.protected,
            "created_time_cutoff": tr.created_time_cutoff,
            "split": {"by": tr.split.by, "test_fraction": tr.split.test_fraction,
                      "seed": tr.split.seed},
        }
        n = model.name
        deps = [Dep(f"the spine of model {n}", loaded, ("training", "spine")),
                Dep(f"the label of model {n}", loaded, ("training", "label")),
                Dep(f"the feature list of model {n}", loaded, ("training", "features")),
                Dep(f"the split of model {n}", loaded, ("training", "split"))]
        if tr.protected:
            deps.append(Dep(f"the protected attributes of model {n}", loaded,
                            ("training", "protected")))
        if model.slices:
            deps.append(Dep(f"the slices of model {n}", loaded, ("slices",)))
        if tr.created_time_cutoff:
            deps.append(Dep(f"the created-time cutoff of model {n}", loaded,
                            ("training", "created_time_cutoff")))
        return params, deps

    def train(self, _id: str, loaded: LoadedSpec) -> Params:
        model: ModelSpec = loaded.spec
        est = model.estimator
        inputs = self._columns(model).inputs
        params = {
            "task": model.task,
            "estimator": {"class": est.class_, "params": dict(sorted(est.params.items())),
                          "search": dict(sorted(est.search.items())),
                          "search_strategy": est.search_strategy, "n_iter": est.n_iter,
                          "cv": est.cv, "cv_strategy": est.cv_strategy, "seed": est.seed,
                          "scoring": est.scoring},
            "inputs": inputs, "label": self._label(model),
        }
        n = model.name
        return params, [Dep(f"the task of model {n}", loaded, ("task",)),
                        Dep(f"the estimator (class, params, search space) of model {n}",
                            loaded, ("estimator",)),
                        Dep(f"the feature list of model {n} and the types of those features",
                            loaded, ("training", "features"))]

    # -- evaluation and packaging -------------------------------------------------------

    def gate_trees(self, gate: str, model: ModelSpec) -> list[dict[str, Any]]:
        """A gate's checks compiled for one model (metrics depend on its task)."""
        key = (gate, model.name)
        linted = self._linted_checks(gate, model)
        if linted is not None:
            return [c["expr"] for c in linted]
        if key not in self._gate_trees:
            loaded = self.ctx.index.gates[gate]
            spec: GateSpec = loaded.spec
            protected = self._columns(model).protected
            env_key = ("gate", model.task, tuple(sorted(model.slices)), tuple(protected))
            env = gate_env(model.task, slices=model.slices, protected=protected)
            trees = []
            for i, c in enumerate(spec.checks):
                if isinstance(c, Check):
                    trees.append(self.tree(c.check, env, env_key, loaded, "checks", i, "check"))
                else:
                    trees.append(self.tree(c, env, env_key, loaded, "checks", i))
            self._gate_trees[key] = trees
        return self._gate_trees[key]

    def evaluate(self, _id: str, loaded: LoadedSpec) -> Params:
        model: ModelSpec = loaded.spec
        protected = self._columns(model).protected
        metrics = set(TASK_METRICS.get(model.task, ()))
        packaging = set(BENCHMARK_METRICS)
        gates = [g for g in model.gates if g in self.ctx.index.gates]
        for gate in gates:
            for tree in self.gate_trees(gate, model):
                # per tree object: `_gate_trees` keeps each alive, so its id is stable
                names = self._metrics.get(id(tree))
                if names is None:
                    names = self._metrics[id(tree)] = _metric_names(tree)
                metrics |= names - packaging
        # evaluate stores every group's counts at the smallest size; each gate then
        # compares at its own (runtime/evaluation/gate.py, `at_group_size`)
        sizes = [self.ctx.index.gates[g].spec.min_group_size for g in gates]
        params: dict[str, Any] = {
            "task": model.task, "metrics": sorted(metrics),
            "slices": sorted(set(model.slices)), "protected": protected,
            "min_group_size": min(sizes) if sizes else 30, "label": self._label(model)}
        n = model.name
        deps = [Dep(f"the task of model {n}", loaded, ("task",)),
                Dep(f"the slices and protected attributes of model {n}", loaded, ("slices",)),
                Dep(f"the metrics named in the gates of model {n}", loaded, ("gates",))]
        if model.fairness is not None:
            params["fairness"] = fairness_params(model, protected)
            deps.append(Dep(f"the favourable outcome, threshold and bands of model {n}",
                            loaded, ("fairness",)))
        return params, deps

    def export_onnx(self, _id: str, loaded: LoadedSpec) -> Params:
        return ({"target_opset": ONNX_TARGET_OPSET, "float_type": "float32",
                 "tolerance": ONNX_TOLERANCE},
                [Dep(f"the ONNX export settings (target opset {ONNX_TARGET_OPSET}, float32, "
                     f"parity tolerance {ONNX_TOLERANCE})")])

    def benchmark(self, _id: str, loaded: LoadedSpec) -> Params:
        return ({"rows": BENCHMARK_ROWS, "repeats": BENCHMARK_REPEATS,
                 "test_rows": PARITY_TEST_ROWS},
                [Dep(f"the benchmark settings ({BENCHMARK_ROWS} rows, "
                     f"{BENCHMARK_REPEATS} repeats, {PARITY_TEST_ROWS} parity rows)")])

    def _linted_checks(self, gate: str, model: ModelSpec) -> list[dict[str, Any]] | None:
        """The checks lint compiled for this model and gate, when all of them compiled."""
        linted = self.ctx.gate_trees.get((model.name, gate))
        spec: GateSpec = self.ctx.index.gates[gate].spec
        return linted if linted is not None and len(linted) == len(spec.checks) else None

    def gate(self, node_id: str, loaded: LoadedSpec) -> Params:
        gate: GateSpec = loaded.spec
        model: ModelSpec = self.ctx.index.models[node_id.split(":")[1]].spec
        linted = self._linted_checks(gate.name, model)
        checks: list[dict[str, Any]] = []
        if linted is not None:
            checks = [{k: c[k] for k in ("id", "text", "expr", "severity", "message")}
                      for c in linted]
        else:
            for i, (raw, tree) in enumerate(zip(gate.checks,
                                                self.gate_trees(gate.name, model),
                                                strict=True)):
                c = raw if isinstance(raw, Check) else Check(check=raw)
                checks.append({"id": c.id or f"{gate.name}.{i + 1}", "text": c.check,
                               "expr": tree,
                               "severity": c.severity if gate.blocking else "warning",
                               "message": c.message})
        params = {"gate": gate.name, "checks": checks, "blocking": gate.blocking,
                  "min_group_size": gate.min_group_size, "require_champion": REQUIRE_CHAMPION}
        deps = [Dep(f"check {ch['id']} of gate {gate.name}", loaded, ("checks", i))
                for i, ch in enumerate(checks)]
        deps.append(Dep(f"whether gate {gate.name} blocks, and its minimum group size",
                        loaded, ("blocking",)))
        return params, deps

    # -- governance and operations ------------------------------------------------------

    def register(self, _id: str, loaded: LoadedSpec) -> Params:
        model: ModelSpec = loaded.spec
        params = {"model": model.name, "owner": model.owner, "risk_tier": model.risk_tier,
                  "task": model.task}
        n = model.name
        return params, [Dep(f"the owner of model {n}", loaded, ("owner",)),
                        Dep(f"the risk tier of model {n}", loaded, ("risk_tier",))]

    def request_approval(self, node_id: str, loaded: LoadedSpec) -> Params:
        model: ModelSpec = self.ctx.index.models[node_id.split(":", 1)[1]].spec
        rules = approval_rules(loaded, model, self.ctx, self.condition, with_people=False)
        params = {"approval": loaded.name, "model": model.name, "rules": rules}
        return params, [Dep(f"the rules of approval {loaded.name} that apply to model "
                            f"{model.name}", loaded, ("rules",))]

    def deploy(self, node_id: str, loaded: LoadedSpec) -> Params:
        model: ModelSpec = loaded.spec
        env = node_id.rsplit(":", 1)[1]
        params = {"model": model.name, "environment": env,
                  "serving": serving_params(model.serving)}
        return params, [Dep(f"the serving config of model {model.name}", loaded,
                            ("serving",))]

    def monitor(self, _id: str, loaded: LoadedSpec) -> Params:
        model: ModelSpec = loaded.spec
        params = {"model": model.name, **monitoring_params(model.monitoring)}
        return params, [Dep(f"the monitoring config of model {model.name}", loaded,
                            ("monitoring",))]


def fairness_params(model: ModelSpec, protected: list[str]) -> dict[str, Any]:
    """The model's `fairness:` block for `evaluate`, bands keyed by the protected column as
    the training set names it (`applications.age` and `age` both mean `age`; lint has
    refused a key that is no protected attribute)."""
    fair = model.fairness
    assert fair is not None
    bands: dict[str, Any] = {}
    for key, spec in sorted(fair.bands.items()):
        col = key.rsplit(".", 1)[-1]
        name = next((p for p in protected if p == col or p.endswith(f"__{col}")), col)
        bands[name] = list(spec) if isinstance(spec, list) else spec.model_dump(mode="json")
    return {"favorable": fair.favorable, "threshold": fair.threshold, "bands": bands}


def _metric_names(tree: Any) -> set[str]:
    """Metrics a compiled check reads (empty for raw trees)."""
    out: set[str] = set()
    stack = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            op = node.get("op")
            if op == "metric" and isinstance(node.get("name"), str):
                out.add(node["name"])
            elif op in ("slice_metric", "champion") and isinstance(node.get("metric"), str):
                out.add(node["metric"])
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return out
