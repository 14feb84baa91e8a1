"""Find a project's files, load every document, render templates, validate each kind.

Why one loader for lint and compile: both must see exactly the same specs, or a plan could
be built from files that lint never checked. Nothing here stops at the first problem; every
file is loaded and every diagnostic kept.
"""

from __future__ import annotations

import glob
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .diagnostics import Diagnostic, Severity, Span
from .kinds import ProjectSpec
from .loader import Document, load_text
from .suppress import Suppression, parse_suppressions
from .templates import make_environment, render_document
from .validate import LoadedSpec, validate_document, validate_project_config

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
    # (kind, name) of documents that failed validation beyond repair: references to them
    # are not reported as unknown, since the real mistake was already reported.
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


def load_project(paths: list[Path], variables: dict[str, str] | None = None,
                 base: Path | None = None) -> Project:
    """Load the project containing `paths` (a folder or spec files) with all diagnostics."""
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
    for path in sorted(set(spec_paths)):
        rel = path.relative_to(root).as_posix() if root and path.is_relative_to(root) else \
            path.name
        source = _read(path, _display(path, base), rel, diags)
        if source is None:
            continue
        files[source.path] = source
        for doc in source.documents:
            template_diags = render_document(doc, env_vars, env)
            diags.extend(template_diags)
            loaded, problems = validate_document(doc)
            diags.extend(problems)
            if loaded is not None:
                specs.append(loaded)
            elif isinstance(doc.data, dict) and isinstance(doc.data.get("kind"), str) and \
                    isinstance(doc.data.get("name"), str):
                broken.add((doc.data["kind"], doc.data["name"]))
    return Project(root, config, config_file, files, specs, diags, env_vars, selected,
                   broken)
