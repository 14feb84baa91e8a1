"""Whatever needs an event time has one: a time split, a time-series CV, a TTL, a
point-in-time join, a created-time cutoff.

Why a pass of its own: most tabular data has no timestamp, and a spine without one is
valid (random split, static views joined on the key). Before this pass such a project
linted and compiled clean and then failed at run time ("the spine needs a timestamp");
now every use of time where there is none is a located error (SPEC420) before anything
runs. Windowed aggregates keep their own code (SPEC410, check_features). The timestamp a
view carries is resolved exactly as the plan resolves it (compiler/plan/params.py
`_base`): the view's own, else its upstream view's, else its root source's.
"""

from __future__ import annotations

from specops.compiler.diagnostics.diagnostic import Severity
from specops.compiler.frontend.validate_specs import LoadedSpec
from specops.compiler.kinds import FeatureSpec, ModelSpec, SourceSpec
from specops.compiler.passes.context import Context, InputRef

__all__ = ["check_time", "view_timestamp"]

_CODE = "SPEC420"
_HELP_SPLIT = ("use `split: {by: random}` (or `stratified`), or set `timestamp` on the spine "
               "source")


def view_timestamp(ctx: Context, key: tuple[str, int]) -> str | None:
    """The event-time column a view is joined by (None: a static view, joined on the key);
    None too for a cycle or a broken reference, which other passes report."""
    seen: set[tuple[str, int]] = set()
    while key not in seen and key[1] in ctx.index.features.get(key[0], {}):
        seen.add(key)
        view: FeatureSpec = ctx.index.features[key[0]][key[1]].spec
        if view.timestamp:
            return view.timestamp
        origin = ctx.view_sources.get(key)
        if origin is None:
            return None
        kind, name, version = origin
        if kind == "source":
            src = ctx.index.sources.get(name)
            return src.spec.timestamp if src is not None else None
        key = (name, version or 0)
    return None


def _check_model(ctx: Context, loaded: LoadedSpec, model: ModelSpec) -> None:
    tr = model.training
    spine_loaded = ctx.index.sources.get(tr.spine)
    if spine_loaded is None or spine_loaded.was_pruned("timestamp"):
        return   # an unknown spine or a bad timestamp value: reported already
    spine: SourceSpec = spine_loaded.spec
    if spine.timestamp is not None:
        _check_cutoff(ctx, loaded, model)
        return
    why = f"the spine `{spine.name}` has no timestamp"
    if tr.split.by == "time":
        explicit = "by" in tr.split.model_fields_set and "split" in tr.model_fields_set
        where: tuple[str, ...] = ("training", "split", "by") if explicit else \
            ("training", "spine")
        what = "a time split" if explicit else "the default split (`by: time`)"
        ctx.error(_CODE, f"{what} needs an event time, but {why}", loaded, *where,
                  help=_HELP_SPLIT)
    if model.estimator.cv_strategy == "time_series":
        ctx.error(_CODE, f"`cv_strategy: time_series` orders rows by time, but {why}",
                  loaded, "estimator", "cv_strategy", help="use `cv_strategy: kfold`")
    if tr.created_time_cutoff:
        ctx.error(_CODE, f"`created_time_cutoff` compares feature rows with the event time, "
                  f"but {why}", loaded, "training", "created_time_cutoff",
                  help="remove it, or set `timestamp` on the spine source")
    for field, refs in (("features", ctx.inputs.get(model.name, [])),
                        ("protected", ctx.protected.get(model.name, []))):
        for ref in refs:
            if ref.kind == "view" and ref.version is not None:
                ts = view_timestamp(ctx, (ref.name, ref.version))
                label = f"feature view `{ref.name}@{ref.version}`"
            elif ref.kind == "column" and ref.name != spine.name:
                src = ctx.index.sources.get(ref.name)
                ts = src.spec.timestamp if src is not None else None
                label = f"source `{ref.name}`"
            else:
                continue
            if ts is not None:
                ctx.error(_CODE, f"{label} has event times (`{ts}`) and is joined point in "
                          f"time, but {why}", loaded, "training", field, ref.index,
                          help="set `timestamp` on the spine source, or use a view without "
                               "a timestamp (joined on the key alone)")


def _root_source(ctx: Context, key: tuple[str, int]) -> SourceSpec | None:
    seen: set[tuple[str, int]] = set()
    while key not in seen:
        seen.add(key)
        origin = ctx.view_sources.get(key)
        if origin is None:
            return None
        kind, name, version = origin
        if kind == "source":
            src = ctx.index.sources.get(name)
            return src.spec if src is not None else None
        key = (name, version or 0)
    return None


def _check_cutoff(ctx: Context, loaded: LoadedSpec, model: ModelSpec) -> None:
    """`created_time_cutoff` needs a `created_timestamp` on every input joined point in
    time; the runtime refused the first such view only after the features were computed."""
    if not model.training.created_time_cutoff:
        return
    lacking: list[InputRef] = []
    for ref in ctx.inputs.get(model.name, []):
        if ref.kind == "view" and ref.version is not None:
            if view_timestamp(ctx, (ref.name, ref.version)) is None:
                continue
            src = _root_source(ctx, (ref.name, ref.version))
        elif ref.kind == "column" and ref.name != model.training.spine:
            loaded_src = ctx.index.sources.get(ref.name)
            src = loaded_src.spec if loaded_src is not None else None
            if src is None or src.timestamp is None:
                continue
        else:
            continue
        if src is not None and src.created_timestamp is None:
            lacking.append(ref)
    if lacking:
        names = ", ".join(f"`{r.text}`" for r in lacking)
        verb = "has" if len(lacking) == 1 else "have"
        ctx.error(_CODE, f"`created_time_cutoff` compares each feature row's created time, "
                  f"but {names} {verb} no `created_timestamp`", loaded, "training",
                  "created_time_cutoff",
                  help="set `created_timestamp` on the source, or remove the cutoff",
                  related=[ctx.related("joined point in time without a created time", loaded,
                                       "training", "features", r.index) for r in lacking])


def _check_ttl(ctx: Context) -> None:
    for name, versions in ctx.index.features.items():
        for version, loaded in versions.items():
            view: FeatureSpec = loaded.spec
            if view.ttl is not None and view_timestamp(ctx, (name, version)) is None \
                    and (name, version) in ctx.view_sources:
                ctx.error(_CODE, f"`ttl` limits how old a feature row may be, but feature "
                          f"view `{name}@{version}` has no timestamp", loaded, "ttl",
                          help="set `timestamp` on the view or on its source, or remove "
                               "`ttl`")


_TIME_TYPES = ("datetime", "date")


def _check_source_types(ctx: Context) -> None:
    """A `timestamp` (or `created_timestamp`) is compared with event times; an integer or
    a string column there fails the point-in-time join at run time (SPEC431)."""
    for loaded in ctx.index.sources.values():
        src: SourceSpec = loaded.spec
        for field in ("timestamp", "created_timestamp"):
            name = getattr(src, field)
            col = src.columns.get(name) if name else None
            if col is not None and col.type not in _TIME_TYPES:
                ctx.error("SPEC431", f"`{field}: {name}` is of type {col.type}; an event "
                          "time must be datetime or date", loaded, field,
                          help=f"declare `{name}` as `type: datetime`, or name a datetime "
                               "column", related=[ctx.related(f"`{name}` is declared "
                                                              f"{col.type} here", loaded,
                                                              "columns", name, "type")])


def _check_view_types(ctx: Context) -> None:
    for name, versions in ctx.index.features.items():
        for version, loaded in versions.items():
            view: FeatureSpec = loaded.spec
            if view.timestamp is None:
                continue
            origin = ctx.view_sources.get((name, version))
            src = ctx.index.sources.get(origin[1]) if origin and origin[0] == "source" \
                else None
            col = src.spec.columns.get(view.timestamp) if src is not None else None
            if col is not None and col.type not in _TIME_TYPES:   # else SPEC306 or fine
                ctx.error("SPEC431", f"`timestamp: {view.timestamp}` is of type {col.type}; "
                          "an event time must be datetime or date", loaded, "timestamp",
                          related=[ctx.related(f"`{view.timestamp}` is declared {col.type} "
                                               "here", src, "columns", view.timestamp,
                                               "type")] if src is not None else [])


def _check_restricted_ttl(ctx: Context) -> None:
    """A restricted view without `ttl` serves arbitrarily old sensitive rows: a warning,
    since some restricted data never goes stale (SPEC432)."""
    for versions in ctx.index.features.values():
        for loaded in versions.values():
            view: FeatureSpec = loaded.spec
            if view.access == "restricted" and view.ttl is None:
                ctx.error("SPEC432", f"restricted feature view `{view.name}@{view.version}` "
                          "has no `ttl`: rows of any age are joined", loaded, "access",
                          severity=Severity.WARNING,
                          help="set `ttl` (e.g. 90d) to bound how old a joined row may be")


def check_time(ctx: Context) -> None:
    for loaded, model in ctx.models():
        _check_model(ctx, loaded, model)
    _check_ttl(ctx)
    _check_source_types(ctx)
    _check_view_types(ctx)
    _check_restricted_ttl(ctx)
