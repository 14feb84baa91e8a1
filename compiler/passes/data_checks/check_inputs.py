"""Model inputs: protected attributes never used, restricted views only with a grant,
entities that can actually join (protected attributes included), labels that fit the
task."""

from __future__ import annotations

from specops.compiler.diagnostics.diagnostic import Related
from specops.compiler.frontend.validate_specs import LoadedSpec
from specops.compiler.kinds import FeatureSpec, ModelSpec, SourceSpec
from specops.compiler.passes.context import Context, InputRef

__all__ = ["check_inputs"]

_INT_TYPES = {"int64", "int32"}
_NUMERIC = {"int64", "int32", "float64", "float32"}


def _owner_principals(model: ModelSpec) -> set[str]:
    """The ways a grant can name the model's owner: a bare name is a person, so `alice`
    and `person:alice` are the same principal, but `team:alice` is another one."""
    owner = model.owner
    if owner.startswith(("team:", "role:")):
        return {owner}
    bare = owner.removeprefix("person:")
    return {bare, f"person:{bare}"}


def _protected_columns(ctx: Context, model: ModelSpec,
                       in_sources: set[tuple[str, str]] | None = None
                       ) -> set[tuple[str, str]]:
    """`in_sources`: `_source_protected(ctx)`, when the caller computed it once for every
    model (it does not depend on the model)."""
    cols = {(r.name, c) for r in ctx.protected.get(model.name, []) if r.kind == "column"
            for c in r.columns}
    cols.update(_source_protected(ctx) if in_sources is None else in_sources)
    return cols


def _source_protected(ctx: Context) -> set[tuple[str, str]]:
    """Every (source, column) a source declares protected."""
    cols: set[tuple[str, str]] = set()
    for name, loaded in ctx.index.sources.items():
        src: SourceSpec = loaded.spec
        cols.update((name, c) for c, col in src.columns.items() if col.protected)
    return cols


def _joinable(left: str, right: str) -> bool:
    """Key types that join: any two integer widths, otherwise the same type."""
    if left in _INT_TYPES or right in _INT_TYPES:
        return left in _INT_TYPES and right in _INT_TYPES
    return left == right


def _upstream_views(ctx: Context, key: tuple[str, int]) -> list[tuple[str, int]]:
    """The view and every view it is derived from (`source: other_view@1`), in order."""
    chain: list[tuple[str, int]] = []
    while key not in chain and key[1] in ctx.index.features.get(key[0], {}):
        chain.append(key)
        origin = ctx.view_sources.get(key)
        if origin is None or origin[0] != "view":
            break
        key = (origin[1], origin[2] or 0)
    return chain


def _join_key(ctx: Context, key: tuple[str, int]) -> tuple[str | None, LoadedSpec | None]:
    """The entity a view joins on and the source its rows come from, following views
    derived from views (`source: other_view@1`); (None, None) for a cycle or a broken
    reference, which are reported elsewhere."""
    entity: str | None = None
    seen: set[tuple[str, int]] = set()
    while key not in seen and key[1] in ctx.index.features.get(key[0], {}):
        seen.add(key)
        view: FeatureSpec = ctx.index.features[key[0]][key[1]].spec
        entity = entity or view.entity
        origin = ctx.view_sources.get(key)
        if origin is None:
            return None, None
        kind, name, version = origin
        if kind == "source":
            src = ctx.index.sources[name]
            return entity or src.spec.entity, src
        key = (name, version or 0)
    return None, None


def _check_ref(ctx: Context, loaded: LoadedSpec, model: ModelSpec, ref: InputRef,
               protected: set[tuple[str, str]]) -> None:
    where = ("training", "features", ref.index)
    if ref.kind == "column":
        for col in ref.columns:
            if (ref.name, col) in protected:
                ctx.error("SPEC501", f"protected attribute `{ref.name}.{col}` is used as a "
                          "model input", loaded, *where,
                          help="protected attributes are for fairness checks only; list it "
                               "under training.protected and remove it from features")
        return
    assert ref.version is not None
    owners = _owner_principals(model)
    for key in _upstream_views(ctx, (ref.name, ref.version)):
        view: FeatureSpec = ctx.index.features[key[0]][key[1]].spec
        if view.access != "restricted" or owners & set(view.grants):
            continue
        granted = ", ".join(view.grants) or "nobody"
        through = "" if key == (ref.name, ref.version) else \
            f" (read through `{ref.name}@{ref.version}`)"
        ctx.error("SPEC502", f"feature view `{key[0]}@{key[1]}`{through} is restricted and "
                  f"does not grant `{model.owner}`", loaded, *where,
                  help=f"ask the view's owner ({view.owner or 'unset'}) to add "
                       f"`{model.owner}` to its grants (granted: {granted})")
    spine = ctx.index.sources.get(model.training.spine)
    entity, src = _join_key(ctx, (ref.name, ref.version))
    if spine is None or src is None:
        return
    spine_spec: SourceSpec = spine.spec
    if entity is None:
        ctx.error("SPEC414", f"feature view `{ref.name}@{ref.version}` has no entity to join "
                  "on", loaded, *where, help=f"set `entity` on the view or on source "
                  f"`{src.spec.name}`")
        return
    if entity not in spine_spec.columns:
        ctx.error("SPEC414", f"feature view `{ref.name}@{ref.version}` joins on `{entity}`, "
                  f"which the spine `{spine_spec.name}` does not have", loaded, *where)
        return
    left = spine_spec.columns[entity].type
    right = src.spec.columns[entity].type if entity in src.spec.columns else left
    if not _joinable(left, right):
        _type_mismatch(ctx, entity, spine, src, ctx.related("joined here", loaded, *where))


def _type_mismatch(ctx: Context, key: str, spine: LoadedSpec, src: LoadedSpec,
                   use: Related, what: str = "entity") -> None:
    """SPEC414 for a join key typed differently on the two sides, located at the joined
    source's column type (the field to change), with the spine's type and the use that
    joins them as related locations."""
    left, right = spine.spec.columns[key].type, src.spec.columns[key].type
    ctx.error("SPEC414", f"{what} `{key}` is {right} in `{src.spec.name}` but {left} in the "
              f"spine `{spine.spec.name}`", src, "columns", key, "type",
              help=f"declare `{key}` as {left} in `{src.spec.name}` (or cast it in a view)",
              related=[ctx.related(f"{left} in the spine", spine, "columns", key, "type"), use])


def _check_label(ctx: Context, loaded: LoadedSpec, model: ModelSpec) -> None:
    label = model.training.label
    src = ctx.index.sources.get(label.source)
    if src is None or label.column not in src.spec.columns:
        return
    ctype = src.spec.columns[label.column].type
    if model.task == "regression" and ctype not in _NUMERIC:
        ctx.error("SPEC413", f"regression needs a numeric label; `{label.column}` is {ctype}",
                  loaded, "training", "label", "column")
    if model.task != "regression" and ctype in ("float64", "float32", "datetime", "date"):
        ctx.error("SPEC413", f"classification needs an integer, boolean or string label; "
                  f"`{label.column}` is {ctype}", loaded, "training", "label", "column",
                  help="use task: regression, or declare the label as int64/bool/string")
    spine = ctx.index.sources.get(model.training.spine)
    if spine is not None and label.source != model.training.spine:
        key = src.spec.entity
        if key is None or key not in spine.spec.columns:
            ctx.error("SPEC414", f"label source `{label.source}` has no key shared with the "
                      f"spine `{model.training.spine}`", loaded, "training", "label", "source",
                      help=f"set `entity` on `{label.source}` to a column the spine also has")
        elif key in src.spec.columns and not _joinable(spine.spec.columns[key].type,
                                                       src.spec.columns[key].type):
            _type_mismatch(ctx, key, spine, src, ctx.related(
                "the label is joined here", loaded, "training", "label", "source"), "label key")


def _check_protected_join(ctx: Context, loaded: LoadedSpec, model: ModelSpec,
                          ref: InputRef) -> None:
    """A protected attribute outside the spine must join to it like a feature would, or
    the fairness check has no attribute in the data to group by (found only at run time
    before)."""
    spine = ctx.index.sources.get(model.training.spine)
    if spine is None or (ref.kind == "column" and ref.name == spine.spec.name):
        return
    if ref.kind == "column":
        src = ctx.index.sources.get(ref.name)
        entity = src.spec.entity if src is not None else None
    else:
        if ref.version is None:
            return
        entity, src = _join_key(ctx, (ref.name, ref.version))
    if src is None:
        return
    where = ("training", "protected", ref.index)
    if entity is None or entity not in spine.spec.columns:
        ctx.error("SPEC414", f"protected attribute `{ref.text}` cannot be joined to the spine "
                  f"`{spine.spec.name}`" + (f" (no column `{entity}` there)" if entity
                                            else f" (`{src.spec.name}` has no entity)"),
                  loaded, *where, help="fairness groups rows of the test split by this "
                                       "attribute: it must be on the spine or keyed by the "
                                       "spine's entity")
    elif entity in src.spec.columns and not _joinable(spine.spec.columns[entity].type,
                                                      src.spec.columns[entity].type):
        _type_mismatch(ctx, entity, spine, src, ctx.related("joined here", loaded, *where))


def check_inputs(ctx: Context) -> None:
    in_sources = _source_protected(ctx)    # once, not once per model
    for loaded, model in ctx.models():
        protected = _protected_columns(ctx, model, in_sources)
        for ref in ctx.inputs.get(model.name, []):
            _check_ref(ctx, loaded, model, ref, protected)
        for ref in ctx.protected.get(model.name, []):
            _check_protected_join(ctx, loaded, model, ref)
        _check_label(ctx, loaded, model)
