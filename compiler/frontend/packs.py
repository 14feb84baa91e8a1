"""Built-in policy packs shipped with specops (`specs/packs/*.yaml`, package
`specops.specs`). They are ordinary `policy` specs, loaded with the same loader and
validated by the same models as user policies, so a pack can be read, copied and adapted.
"""

from __future__ import annotations

from importlib import resources
from importlib.resources.abc import Traversable

from specops.compiler.diagnostics.diagnostic import Diagnostic
from specops.compiler.frontend.loader import load_text
from specops.compiler.frontend.validate_specs import LoadedSpec, validate_document

__all__ = ["available_packs", "load_pack"]


def _packs_dir() -> Traversable:
    return resources.files("specops.specs").joinpath("packs")


def available_packs() -> list[str]:
    return sorted(p.name[: -len(".yaml")] for p in _packs_dir().iterdir()
                  if p.name.endswith(".yaml"))


def load_pack(name: str) -> tuple[list[LoadedSpec], list[Diagnostic]]:
    """The policy specs of a built-in pack (empty when the pack does not exist)."""
    if name not in available_packs():
        return [], []
    raw = _packs_dir().joinpath(f"{name}.yaml").read_bytes()
    docs, diags = load_text(f"<specops>/packs/{name}.yaml", raw)
    specs: list[LoadedSpec] = []
    for doc in docs:
        loaded, problems = validate_document(doc)
        diags.extend(problems)
        if loaded is not None:
            specs.append(loaded)
    return specs, diags
