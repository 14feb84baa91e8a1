"""Target leakage: the label itself, or a feature computed from it, as a model input.

Why ahead of time: a model trained on its own label scores perfectly on every split and
every gate, so nothing at run time says anything is wrong; the plan would train, pass its
gates and register a model that cannot work on new rows (which arrive without a label).
Lint follows each input back to the source columns it reads (through views derived from
views) and reports SPEC430 at the `training.features` entry that brings the label in, with
the label as a related location.
"""

from __future__ import annotations

from specops.compiler.diagnostics.diagnostic import Related
from specops.compiler.frontend.validate_specs import LoadedSpec
from specops.compiler.kinds import ModelSpec
from specops.compiler.passes.context import Context, InputRef

__all__ = ["check_leakage", "source_columns_read"]

_CODE = "SPEC430"


def source_columns_read(ctx: Context, key: tuple[str, int],
                        features: tuple[str, ...]) -> tuple[str | None, set[str]]:
    """The root source of a view and the columns of it that `features` read, through views
    derived from views; (None, set()) for a cycle or a broken reference."""
    wanted = set(features)
    seen: set[tuple[str, int]] = set()
    while key not in seen:
        seen.add(key)
        reads = ctx.feature_columns.get(key)
        origin = ctx.view_sources.get(key)
        if reads is None or origin is None:
            return None, set()
        cols = {c for f in wanted for c in reads.get(f, [])}
        kind, name, version = origin
        if kind == "source":
            return name, cols
        wanted, key = cols, (name, version or 0)
    return None, set()


Finding = tuple[str, list[Related]]


# (view, version, feature) -> source_columns_read: the same for every model using the view
Memo = dict[tuple[str, int, str], tuple[str | None, set[str]]]


def _leaks(ctx: Context, ref: InputRef, model: ModelSpec, memo: Memo) -> Finding | None:
    label = model.training.label
    if ref.kind == "column":
        if ref.name == label.source and label.column in ref.columns:
            return (f"`{ref.text}` is the label; the model would be trained on its own "
                    "answer", [])
        return None
    if ref.kind != "view" or ref.version is None:
        return None
    key = (ref.name, ref.version)
    leaking = []
    for feature in ref.columns:
        found = memo.get((*key, feature))
        if found is None:
            found = memo[(*key, feature)] = source_columns_read(ctx, key, (feature,))
        root, cols = found
        if root == label.source and label.column in cols:
            leaking.append(feature)
    if not leaking:
        return None
    shown = ", ".join(f"`{f}`" for f in leaking)
    view = ctx.index.features[ref.name][ref.version]
    related = [ctx.related(f"`{f}` is computed here", view, "features", f) for f in leaking]
    return (f"feature view `{ref.name}@{ref.version}` computes {shown} from the label "
            f"`{label.source}.{label.column}`; the model would be trained on its own "
            "answer", related)


def _check_model(ctx: Context, loaded: LoadedSpec, model: ModelSpec, memo: Memo) -> None:
    if loaded.was_pruned("training", "label"):
        return
    for ref in ctx.inputs.get(model.name, []):
        found = _leaks(ctx, ref, model, memo)
        if found is not None:
            label_at = ctx.related("the label", loaded, "training", "label", "column")
            ctx.error(_CODE, found[0], loaded, "training", "features", ref.index,
                      help="remove it from `training.features`; inputs must be known "
                           "before the outcome is", related=[label_at, *found[1]])


def check_leakage(ctx: Context) -> None:
    memo: Memo = {}
    for loaded, model in ctx.models():
        _check_model(ctx, loaded, model, memo)
