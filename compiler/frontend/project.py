"""Find a project's files, load every document, render templates, validate each kind.

Why one loader for lint and compile: both must see exactly the same specs, or a plan could
be built from files that lint never checked. Nothing here stops at the first problem; every
file is loaded and every diagnostic kept.
"""

from __future__ import annotations

import gc
import glob
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from specops.compiler.diagnostics.diagnostic import Diagnostic, Severity, Span
from specops.compiler.diagnostics.suppress import Suppression, parse_suppressions
from specops.compiler.frontend.loader import MAX_FILE_BYTES, Document, load_text
from specops.compiler.frontend.templates import make_environment, render_document
from specops.compiler.frontend.validate_specs import (
    LoadedSpec,
    validate_document,
    validate_project_config,
)
from specops.compiler.kinds import KINDS, ProjectSpec

__all__ = ["CONFIG_NAME", "Project", "SourceFile", "find_root", "load_project"]

CONFIG_NAME = "specops.yaml"


@dataclass(slots=True)
class SourceFile:
    path: str            # as shown in diagnostics
    rel: str             # relative to the project root (posix), used in plans
    abspath: Path
    text: str
    documents: list[Document] = field(default_factory=list)
    suppressions: list[Suppression] = field(default_factory=list)
    _lines: list[str] | None = None

    def line(self, number: int) -> str | None:
        """One source line (1-based), split once per file on first use."""
        if self._lines is None:
            self._lines = self.text.splitlines()
        return self._lines[number - 1] if 0 < number <= len(self._lines) else None


@dataclass(slots=True)
class Project:
    root: Path | None
    config: ProjectSpec | None
    config_file: SourceFile | None
    files: dict[str, SourceFile]
    specs: list[LoadedSpec]
    diagnostics: list[Diagnostic]
    variables: dict[str, Any]
    selected: set[str] | None = None   # display paths the user asked about (None: all)
    # (kind, name) of documents that failed validation beyond repair, or that sit in a file
    # that failed to load (kind "*": unknown): references to them are not reported as
    # unknown, since the real mistake was already reported.
    broken: set[tuple[str, str]] = field(default_factory=set)

    @property
    def name(self) -> str:
        return self.config.name if self.config else "unnamed"


_INT = re.compile(r"^[-+]?[0-9]+$")
_FLOAT = re.compile(r"^[-+]?([0-9]+\.[0-9]*|\.[0-9]+|[0-9]+)([eE][-+]?[0-9]+)?$")


def typed_var(text: str) -> Any:
    """A `--var` value as YAML 1.2 core would read it: int, float, true/false, else str.

    Why: a whole-value template keeps its native type (`cv: "{{ folds }}"`), so
    `--var folds=3` must give the integer 3, just as `vars: {folds: 3}` does.
    """
    if _INT.match(text):
        return int(text)
    if _FLOAT.match(text):
        return float(text)
    return {"true": True, "false": False}.get(text, text)


_NAME_LINE = re.compile(r"^name:[ \t]*[\"']?([A-Za-z0-9_.@-]+)", re.MULTILINE)
# Loader codes after which documents of the file may be missing.
_LOST_DOCUMENTS = frozenset({"SPEC002", "SPEC003", "SPEC101", "SPEC105", "SPEC106"})


def _names_in_text(text: str) -> set[tuple[str, str]]:
    """Top-level `name:` values of a file we could not fully load (best effort)."""
    return {("*", m.group(1)) for m in _NAME_LINE.finditer(text)}


def _broken_name(data: Any) -> tuple[str, str] | None:
    if not isinstance(data, dict) or not isinstance(data.get("name"), str):
        return None
    kind = data.get("kind")
    return (kind if isinstance(kind, str) and kind in KINDS else "*"), data["name"]


def find_root(path: Path) -> Path | None:
    """The nearest folder at or above `path` that holds specops.yaml."""
    here = path if path.is_dir() else path.parent
    for folder in (here, *here.parents):
        if (folder / CONFIG_NAME).is_file():
            return folder
    return None


def _display(path: Path, base: Path) -> str:
    try:
        rel = os.path.relpath(path, base)
    except ValueError:  # pragma: no cover - other drive on Windows
        return path.as_posix()
    return Path(rel).as_posix() if not rel.startswith("..") else path.as_posix()


def _read(path: Path, shown: str, rel: str,
          diags: list[Diagnostic]) -> SourceFile | None:
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:  # refuse before reading: a 10 GB file must not be loaded
            diags.append(Diagnostic("SPEC003", f"file is {size:,} bytes; the limit is "
                                    f"{MAX_FILE_BYTES:,}", shown, Span.point(1, 1)))
            return SourceFile(shown, rel, path, "")
        raw = path.read_bytes()
    except OSError as exc:
        diags.append(Diagnostic("SPEC001", f"cannot read file: {exc.strerror or exc}", shown,
                                Span.point(1, 1)))
        return None
    docs, problems = load_text(shown, raw)
    diags.extend(problems)
    text = raw.decode("utf-8", errors="replace") if b"\x00" not in raw else ""
    source = SourceFile(shown, rel, path, text, docs)
    if text:
        sups, sup_diags = parse_suppressions(shown, text)
        source.suppressions = sups
        diags.extend(sup_diags)
    return source


def _spec_files(root: Path, config: ProjectSpec | None) -> list[Path]:
    patterns = config.specs if config else ["specs/**/*.yaml", "specs/**/*.yml"]
    found: set[Path] = set()
    for pattern in patterns:
        for hit in glob.glob(str(root / pattern), recursive=True):
            p = Path(hit)
            if p.is_file() and p.name != CONFIG_NAME:
                found.add(p.resolve())
    return sorted(found)


def _may_template(text: str) -> bool:
    """False when no value of the file can hold a template, so the walk can be skipped.

    A value contains `{{`, `{%` or `{#` only if the text does, or if a double-quoted
    escape (which needs a backslash) spells it; line folding always inserts a space.
    """
    return "{{" in text or "{%" in text or "{#" in text or "\\" in text


def load_project(paths: list[Path], variables: dict[str, str] | None = None,
                 base: Path | None = None) -> Project:
    """Load the project containing `paths` (a folder or spec files) with all diagnostics.

    Why the cyclic garbage collector is paused: loading allocates about a million small,
    long-lived objects (values, spans, nodes) and creates no garbage cycles worth
    reclaiming mid-load; CPython re-scanned them on every collection, which was ~40% of
    lint time on bench/lint_scale.py's 1,000-model project. Reference counting still frees
    everything as usual, and the collector is restored even on error.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        return _load_project(paths, variables, base)
    finally:
        if enabled:
            # freeze + unfreeze moves every surviving object straight into the oldest
            # generation, so the young collections that follow do not rescan them.
            gc.freeze()
            gc.unfreeze()
            gc.enable()


def _load_project(paths: list[Path], variables: dict[str, str] | None,
                  base: Path | None) -> Project:
    base = (base or Path.cwd()).resolve()
    diags: list[Diagnostic] = []
    targets = [p.resolve() for p in (paths or [Path.cwd()])]
    root = next((r for r in (find_root(t) for t in targets) if r is not None), None)
    config: ProjectSpec | None = None
    config_file: SourceFile | None = None
    files: dict[str, SourceFile] = {}
    cli_vars: dict[str, Any] = {k: typed_var(v) if isinstance(v, str) else v
                                for k, v in (variables or {}).items()}
    selected: set[str] | None = None

    if root is not None:
        cfg_path = root / CONFIG_NAME
        config_file = _read(cfg_path, _display(cfg_path, base), CONFIG_NAME, diags)
        if config_file is not None:
            docs = config_file.documents
            for d in docs:
                diags.extend(render_document(d, cli_vars))
            if docs:
                config, problems = validate_project_config(docs[0])
                diags.extend(problems)
                for extra in docs[1:]:
                    diags.append(Diagnostic("SPEC108", "specops.yaml holds one document",
                                            config_file.path, extra.span))
            files[config_file.path] = config_file
        spec_paths = _spec_files(root, config)
        explicit = [t for t in targets if t.is_file()]
        if explicit:
            selected = {_display(t, base) for t in explicit}
        for t in explicit:
            if t not in spec_paths and t.name != CONFIG_NAME:
                spec_paths.append(t)
        if not spec_paths and config is not None:
            diags.append(Diagnostic("SPEC006", "no spec files match `specs` in specops.yaml",
                                    config_file.path if config_file else CONFIG_NAME,
                                    Span.point(1, 1), Severity.WARNING))
    else:
        spec_paths = []
        for t in targets:
            if t.is_dir():
                spec_paths.extend(sorted(p.resolve() for p in t.rglob("*.y*ml")
                                         if p.suffix in (".yaml", ".yml")))
            else:
                spec_paths.append(t)
        if not spec_paths:
            diags.append(Diagnostic("SPEC005", f"no {CONFIG_NAME} found at or above "
                                    f"{_display(targets[0], base)}", _display(targets[0], base),
                                    Span.point(1, 1)))

    env_vars: dict[str, Any] = dict(config.vars) if config else {}
    env_vars.update(cli_vars)
    env = make_environment()
    specs: list[LoadedSpec] = []
    broken: set[tuple[str, str]] = set()
    config_broken = config_file is not None and config is None and any(
        d.file == config_file.path and d.severity == Severity.ERROR for d in diags)
    for path in sorted(set(spec_paths)):
        rel = path.relative_to(root).as_posix() if root and path.is_relative_to(root) else \
            path.name
        before = len(diags)
        source = _read(path, _display(path, base), rel, diags)
        if source is None:
            continue
        files[source.path] = source
        if any(d.code in _LOST_DOCUMENTS for d in diags[before:]):
            broken |= _names_in_text(source.text)
        templated = _may_template(source.text)
        for doc in source.documents:
            template_diags = render_document(doc, env_vars, env) if templated else []
            if config_broken:  # its vars are unknown; undefined names are not news
                template_diags = [d for d in template_diags if d.code != "SPEC152"]
            diags.extend(template_diags)
            loaded, problems = validate_document(doc)
            diags.extend(problems)
            if loaded is not None:
                specs.append(loaded)
            elif (name := _broken_name(doc.data)) is not None:
                broken.add(name)
    return Project(root, config, config_file, files, specs, diags, env_vars, selected,
                   broken)
