"""Type-check every feature expression against its source's declared columns, check
windowed aggregates, and record each feature's type and the columns it reads.

Why record columns: a feature computed from a protected attribute (`sex == 'F'`) is the
protected attribute by another name; models may not use it as an input.
"""

from __future__ import annotations

from typing import Any

from specops.compiler.expr import Env, ExprType, check_spec_expression, column_type
from specops.compiler.expr.api import Memo
from specops.compiler.frontend.validate_specs import LoadedSpec
from specops.compiler.kinds import FeatureDef, FeatureSpec, SourceSpec
from specops.compiler.passes.context import Context

__all__ = ["check_features"]

_NUMERIC = {"int64", "float64", "null"}
_AGG_RESULT = {"count": "int64", "mean": "float64", "std": "float64"}

Key = tuple[str, int]


def _columns_read(tree: Any) -> set[str]:
    out: set[str] = set()
    stack = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            if node.get("op") == "col":
                out.add(str(node["name"]))
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return out


def _view_columns(ctx: Context, key: Key, seen: set[Key], memo: Memo
                  ) -> tuple[dict[str, str], str | None]:
    """Columns (name -> type) a view's expressions can read, and its timestamp column."""
    cols: dict[str, str]
    origin = ctx.view_sources.get(key)
    view: FeatureSpec = ctx.index.features[key[0]][key[1]].spec
    if origin is None:
        return {}, view.timestamp
    kind, name, version = origin
    if kind == "source":
        src_loaded = ctx.index.sources[name]
        src: SourceSpec = src_loaded.spec
        if src_loaded.was_pruned("columns"):
            return {}, None   # no columns to check against: already reported
        cols = {c: col.type for c, col in src.columns.items()}
        # a column whose declaration failed validation exists, of unknown type: reading it
        # is not an unknown name (the declaration's error is the one to fix)
        for path in src_loaded.pruned:
            if len(path) >= 2 and path[0] == "columns" and isinstance(path[1], str):
                cols.setdefault(path[1], "null")
        return cols, view.timestamp or src.timestamp
    up = (name, version or 0)
    if up in seen or up[1] not in ctx.index.features.get(name, {}):
        return {}, view.timestamp   # cycle (reported elsewhere) or unresolved
    _check_view(ctx, up, seen | {key}, memo)
    up_view: FeatureSpec = ctx.index.features[name][up[1]].spec
    up_cols, up_ts = _view_columns(ctx, up, seen | {key}, memo)
    cols = dict(ctx.feature_types.get(up, {}))
    up_src = ctx.index.sources.get(up_view.source)
    entity = up_view.entity or (up_src.spec.entity if up_src is not None else None)
    for extra in (entity, up_ts):
        if extra and extra in up_cols:
            cols[extra] = up_cols[extra]
    return cols, view.timestamp or up_ts


def _check_view(ctx: Context, key: Key, seen: set[Key], memo: Memo) -> None:
    if key in ctx.feature_trees:
        return
    ctx.feature_trees[key] = {}
    loaded: LoadedSpec = ctx.index.features[key[0]][key[1]]
    view: FeatureSpec = loaded.spec
    columns, timestamp = _view_columns(ctx, key, seen, memo)
    if not columns:
        return
    # the environment is exactly this mapping: views over one source share their checks
    env_key = ("feature", tuple(columns.items()))
    # "null": a column of unknown type, or an upstream feature that is always null
    env = Env("feature", columns={c: ExprType.NULL if t == "null" else column_type(t)
                                  for c, t in columns.items()})
    trees: dict[str, Any] = {}
    types: dict[str, str] = {}
    reads: dict[str, list[str]] = {}
    for fname, definition in view.features.items():
        is_def = isinstance(definition, FeatureDef)
        text = definition.expr if isinstance(definition, FeatureDef) else definition
        path: tuple[str | int, ...] = ("features", fname, "expr") if is_def else \
            ("features", fname)
        if loaded.reported(*path):   # a failed template: already reported
            continue
        tree = check_spec_expression(ctx, loaded, text, env, *path, memo=memo,
                                     env_key=env_key)
        if tree is None:
            continue
        ftype = str(tree.get("type", "null"))
        if isinstance(definition, FeatureDef):
            ftype = _check_aggregate(ctx, loaded, fname, definition, ftype, timestamp)
        trees[fname] = tree
        types[fname] = ftype
        reads[fname] = sorted(_columns_read(tree))
    ctx.feature_trees[key] = trees
    ctx.feature_types[key] = types
    ctx.feature_columns[key] = reads


def _check_aggregate(ctx: Context, loaded: LoadedSpec, fname: str, d: FeatureDef,
                     ftype: str, timestamp: str | None) -> str:
    where = ("features", fname)
    if d.window is not None and d.agg is None:
        ctx.error("SPEC412", f"feature `{fname}` has a window but no `agg`", loaded, *where,
                  "window", help="add agg: sum|mean|min|max|count|last|std")
    if d.agg is not None:
        if timestamp is None:
            ctx.error("SPEC410", f"feature `{fname}` aggregates over time but the view has "
                      "no timestamp", loaded, *where, "agg",
                      help="set `timestamp` on the view or on its source")
        if d.agg in ("sum", "mean", "std") and ftype not in _NUMERIC:
            ctx.error("SPEC412", f"`{d.agg}` needs a numeric input; `{fname}` is {ftype}",
                      loaded, *where, "agg")
        ftype = _AGG_RESULT.get(d.agg, ftype)
    if d.type is not None:
        declared = {"int32": "int64", "float32": "float64", "category": "string"}.get(
            d.type, d.type)
        widening = declared == "float64" and ftype == "int64"
        if declared != ftype and ftype != "null" and not widening:
            ctx.error("SPEC404", f"feature `{fname}` is declared {d.type} but computes "
                      f"{ftype}", loaded, *where, "type")
        ftype = declared
    return ftype


def _source_columns_behind(ctx: Context, key: Key, col: str, seen: frozenset[Key]
                           ) -> set[tuple[str, str]]:
    """The (source, column) pairs that column `col` of view `key`'s input stands for,
    following views derived from views (an upstream feature stands for what it reads)."""
    origin = ctx.view_sources.get(key)
    if origin is None or key in seen:
        return set()
    kind, name, version = origin
    if kind == "source":
        return {(name, col)}
    up = (name, version or 0)
    reads = ctx.feature_columns.get(up, {})
    if col not in reads:   # the upstream view's entity or timestamp, passed through
        return _source_columns_behind(ctx, up, col, seen | {key})
    out: set[tuple[str, str]] = set()
    for c in reads[col]:
        out |= _source_columns_behind(ctx, up, c, seen | {key})
    return out


def _protected_proxies(ctx: Context) -> None:
    """Models may not use features computed from protected columns, directly or through
    views derived from views."""
    flagged = {(name, c) for name, loaded in ctx.index.sources.items()
               for c, col in loaded.spec.columns.items() if col.protected}
    # (view, column) -> what it stands for: the same for every model reading the view
    memo: dict[tuple[Key, str], set[tuple[str, str]]] = {}
    for loaded, model in ctx.models():
        protected = flagged | {(r.name, c) for r in ctx.protected.get(model.name, [])
                               if r.kind == "column" for c in r.columns}
        for ref in ctx.inputs.get(model.name, []):
            if ref.kind != "view" or ref.version is None:
                continue
            key = (ref.name, ref.version)
            reads = ctx.feature_columns.get(key, {})
            for feature in ref.columns:
                behind: set[tuple[str, str]] = set()
                for c in reads.get(feature, ()):
                    found = memo.get((key, c))
                    if found is None:
                        found = memo[(key, c)] = _source_columns_behind(ctx, key, c,
                                                                        frozenset())
                    behind |= found
                hits = sorted(protected & behind)
                if hits:
                    ctx.error("SPEC501", f"feature `{ref.name}@{ref.version}.{feature}` is "
                              f"computed from protected attribute `{hits[0][1]}`", loaded,
                              "training", "features", ref.index,
                              help="a feature derived from a protected attribute is a proxy "
                                   "for it; drop the feature or list only the others "
                                   f"(`{ref.name}@{ref.version}.<feature>`)")


def check_features(ctx: Context) -> None:
    memo: Memo = {}   # each (expression, columns) checked once (check_spec_expression)
    for name, versions in ctx.index.features.items():
        for version in versions:
            _check_view(ctx, (name, version), set(), memo)
    _protected_proxies(ctx)
