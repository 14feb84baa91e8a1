"""Names that would be silently changed or silently meaningless: the serving signature's
input names, and a deprecation that points at itself.

Why the signature is checked here: a model's input names are the request schema its
clients send (`specops explain` shows it). The rule is deterministic and documented in
docs/training.md: each input is named by its feature (for a view) or its column (for a
source column), exactly as written. Two inputs with one name used to be renamed
`view__feature` behind the user's back, changing the serving signature without a word;
now it is an error (SPEC524) at the later reference, the earlier one related, so the user
chooses which to keep.
"""

from __future__ import annotations

from specops.compiler.kinds import FeatureSpec
from specops.compiler.passes.context import Context, InputRef

__all__ = ["check_names", "signature_sources"]


def signature_sources(ctx: Context, model: str) -> dict[str, list[InputRef]]:
    """Input name -> the `training.features` entries that provide it, in spec order."""
    out: dict[str, list[InputRef]] = {}
    for ref in ctx.inputs.get(model, ()):
        for col in ref.columns:
            refs = out.setdefault(col, [])
            if not refs or refs[-1].index != ref.index:
                refs.append(ref)
    return out


def _check_inputs(ctx: Context) -> None:
    for loaded, model in ctx.models():
        for name, refs in signature_sources(ctx, model.name).items():
            first = refs[0]
            for ref in refs[1:]:
                ctx.error("SPEC524", f"model `{model.name}` has two inputs named `{name}`: "
                          f"from `{first.text}` and from `{ref.text}`", loaded, "training",
                          "features", ref.index,
                          related=[ctx.related(f"`{name}` first comes from `{first.text}`",
                                               loaded, "training", "features", first.index)],
                          help="keep one, or derive a view that gives the other a new name")


def _check_deprecations(ctx: Context) -> None:
    for versions in ctx.index.features.values():
        latest = max(versions)
        for version, loaded in versions.items():
            view: FeatureSpec = loaded.spec
            use = view.deprecated.use if not isinstance(view.deprecated, bool) else None
            if use is None:
                continue
            name, _, at = use.strip().partition("@")
            if not at and len(versions) > 1:
                continue   # SPEC310 already asks for a version
            same = name == view.name and (at == str(version) or (not at and version == latest))
            if same:
                ctx.error("SPEC523", f"feature view `{view.name}@{version}` is deprecated in "
                          "favour of itself", loaded, "deprecated", "use",
                          help="name the version that replaces it, e.g. "
                               f"`{view.name}@{latest + 1 if version == latest else latest}`")


def check_names(ctx: Context) -> None:
    _check_inputs(ctx)
    _check_deprecations(ctx)
