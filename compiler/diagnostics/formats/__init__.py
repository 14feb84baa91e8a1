"""Diagnostic output formats: full (default), concise, json, github, sarif."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from specops.compiler.diagnostics.diagnostic import Diagnostic
from specops.compiler.diagnostics.formats.concise import render_concise
from specops.compiler.diagnostics.formats.full import render_full
from specops.compiler.diagnostics.formats.github import render_github
from specops.compiler.diagnostics.formats.json_out import render_json
from specops.compiler.diagnostics.formats.sarif import render_sarif

__all__ = ["FORMATS", "render"]

FORMATS = ("full", "concise", "json", "github", "sarif")


def render(fmt: str, diags: Sequence[Diagnostic], sources: Mapping[str, Sequence[str]],
           version: str, color: bool = False) -> str:
    if fmt == "full":
        return render_full(diags, sources, color)
    if fmt == "concise":
        return render_concise(diags)
    if fmt == "json":
        return render_json(diags)
    if fmt == "github":
        return render_github(diags)
    if fmt == "sarif":
        return render_sarif(diags, sources, version)
    raise ValueError(f"unknown format {fmt!r}")
