"""Find a project's files, load every document, render templates, validate each kind.

Why one loader for lint and compile: both must see exactly the same specs, or a plan could
be built from files that lint never checked. Nothing here stops at the first problem; every
file is loaded and every diagnostic kept.
"""

from __future__ import annotations

import gc
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from specops.compiler.diagnostics.diagnostic import Diagnostic, Severity, Span
from specops.compiler.diagnostics.suppress import Suppression, parse_suppressions
from specops.compiler.frontend.confine import (
    Refusal,
    check_file,
    find_files,
    glob_problem,
    inside,
    read_inside,
)
from specops.compiler.frontend.loader import MAX_FILE_BYTES, Document, load_text
from specops.compiler.frontend.templates import make_environment, render_document
from specops.compiler.frontend.validate_specs import (
    LoadedSpec,
    validate_document,
    validate_project_config,
)
from specops.compiler.kinds import KINDS, ProjectSpec

__all__ = ["CONFIG_NAME", "Loaded", "Project", "RawFile", "Scan", "SourceFile", "add_documents",
           "add_file", "find_root", "load_project", "read_raw", "scan_project", "start_load"]

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


def _read(path: Path, shown: str, rel: str, diags: list[Diagnostic],
          root: Path) -> SourceFile | None:
    """Load one file that must lie inside `root` (see confine.py for why and how)."""
    return _source_of(shown, rel, path, read_raw(path, root), diags)


_DEFAULT_SPECS = ["specs/**/*.yaml", "specs/**/*.yml"]


def _refused(refusals: list[Refusal], base: Path) -> list[Diagnostic]:
    return [Diagnostic(r.code, r.message, _display(r.path, base), Span.point(1, 1))
            for r in refusals]


def _spec_files(root: Path, config: ProjectSpec | None, config_file: SourceFile | None,
                base: Path, diags: list[Diagnostic]) -> tuple[list[Path], bool]:
    """The spec files the `specs` globs match inside the root, and whether a glob was refused.

    An absolute or `..` glob is reported at its place in specops.yaml and never walked.
    """
    patterns = config.specs if config else _DEFAULT_SPECS
    doc = config_file.documents[0] if config_file and config_file.documents else None
    usable: list[str] = []
    for i, pattern in enumerate(patterns):
        problem = glob_problem(pattern)
        if problem is None:
            usable.append(pattern)
            continue
        span = doc.value_span(("specs", i)) if doc else Span.point(1, 1)
        diags.append(Diagnostic("SPEC007", problem, config_file.path if config_file else
                                CONFIG_NAME, span, help="write a glob relative to the "
                                "project root, e.g. `specs/**/*.yaml`"))
    files, refusals = find_files(root, usable)
    diags.extend(_refused(refusals, base))
    return [f for f in files if f.name != CONFIG_NAME], len(usable) < len(patterns)


def _check_prepare(config: ProjectSpec, config_file: SourceFile,
                   diags: list[Diagnostic]) -> None:
    """`creates` globs are walked by `specops run`; an absolute or `..` one walks the disk."""
    doc = config_file.documents[0] if config_file.documents else None
    for i, step in enumerate(config.prepare):
        problem = glob_problem(step.creates)
        if problem is not None:
            span = doc.value_span(("prepare", i, "creates")) if doc else Span.point(1, 1)
            diags.append(Diagnostic("SPEC007", problem, config_file.path, span))


def command_line_targets(paths: list[Path]) -> tuple[list[Path], list[Refusal]]:
    """The command-line paths with their folders resolved but not their last part.

    Why not `resolve()`: a link named on the command line (CI passing a pull request's
    changed paths) is checked as a link, not silently followed. A file link is checked
    against the root later, like any spec. A folder link that sits inside a project must
    stay inside it; in its place its parent folder is linted (the whole project is, for a
    folder), so `specs/evil -> /` can neither walk the disk nor pick another project.
    A folder link outside any project (`~/work/current`) is the user's own and followed.
    """
    targets: list[Path] = []
    refused: list[Refusal] = []
    for p in paths:
        absolute = Path(os.path.abspath(p))
        target = Path(os.path.realpath(absolute.parent)) / absolute.name
        if target.is_symlink() and target.is_dir():
            outer = find_root(target.parent)
            real = target.resolve()
            if outer is not None and not inside(real, outer.resolve()):
                refused.append(Refusal(target, "SPEC007", "folder link leads outside the "
                                       "project root; specops does not follow it"))
                real = target.parent
            target = real
        targets.append(target)
    return targets, refused


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


@dataclass(slots=True)
class Scan:
    """What a load finds before it parses any spec file: the root, specops.yaml (loaded:
    its vars drive every template), the spec files with the folder each must stay inside,
    and the diagnostics so far. `specops lint`'s cache (passes/lint_incremental.py) hashes
    the files of a scan and parses only what changed; `load_project` parses them all."""

    root: Path | None
    base: Path
    config: ProjectSpec | None
    config_file: SourceFile | None
    files: dict[str, SourceFile]
    diagnostics: list[Diagnostic]
    env_vars: dict[str, Any]
    selected: set[str] | None
    spec_paths: list[tuple[Path, Path]]    # (file, the folder it must stay inside), sorted
    config_broken: bool

    def shown(self, path: Path) -> tuple[str, str]:
        """(path as diagnostics show it, path relative to the root as plans use it)."""
        root = self.root
        rel = path.relative_to(root).as_posix() if root and path.is_relative_to(root) else \
            path.name
        return _display(path, self.base), rel


def scan_project(paths: list[Path], variables: dict[str, str] | None = None,
                 base: Path | None = None) -> Scan:
    """Find the root, load specops.yaml and list the spec files (none of them is read)."""
    base = (base or Path.cwd()).resolve()
    diags: list[Diagnostic] = []
    targets, refused = command_line_targets(paths or [Path.cwd()])
    diags.extend(_refused(refused, base))
    root = next((r for r in (find_root(t) for t in targets) if r is not None), None)
    config: ProjectSpec | None = None
    config_file: SourceFile | None = None
    files: dict[str, SourceFile] = {}
    cli_vars: dict[str, Any] = {k: typed_var(v) if isinstance(v, str) else v
                                for k, v in (variables or {}).items()}
    selected: set[str] | None = None
    # every file to load, with the folder it must stay inside
    spec_paths: dict[Path, Path] = {}
    explicit = [t for t in targets if not t.is_dir() and os.path.lexists(t)]

    if root is not None:
        root = root.resolve()
        cfg_path = root / CONFIG_NAME
        config_file = _read(cfg_path, _display(cfg_path, base), CONFIG_NAME, diags, root)
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
            if config is not None:
                _check_prepare(config, config_file, diags)
        found, glob_refused = _spec_files(root, config, config_file, base, diags)
        spec_paths = dict.fromkeys(found, root)
        chosen: set[str] = set()
        for t in explicit:
            checked = check_file(t, root)
            if isinstance(checked, Refusal):
                diags.extend(_refused([checked], base))
                chosen.add(_display(t, base))
            elif checked is not None:
                chosen.add(_display(checked, base))
                if checked.name != CONFIG_NAME:
                    spec_paths.setdefault(checked, root)
        selected = chosen if explicit else None
        if not spec_paths and config is not None and not glob_refused:
            diags.append(Diagnostic("SPEC006", "no spec files match `specs` in specops.yaml",
                                    config_file.path if config_file else CONFIG_NAME,
                                    Span.point(1, 1), Severity.WARNING))
    else:
        for t in targets:
            if t.is_dir():
                found, refusals = find_files(t, ["**/*.yaml", "**/*.yml"])
                diags.extend(_refused(refusals, base))
                spec_paths.update(dict.fromkeys(found, t))
            elif t in explicit:
                folder = t.parent
                checked = check_file(t, folder)
                if isinstance(checked, Refusal):
                    diags.extend(_refused([checked], base))
                elif checked is not None:
                    spec_paths.setdefault(checked, folder)
        if not spec_paths and not any(d.code in ("SPEC001", "SPEC007") for d in diags):
            diags.append(Diagnostic("SPEC005", f"no {CONFIG_NAME} found at or above "
                                    f"{_display(targets[0], base)}", _display(targets[0], base),
                                    Span.point(1, 1)))

    env_vars: dict[str, Any] = dict(config.vars) if config else {}
    env_vars.update(cli_vars)
    config_broken = config_file is not None and config is None and any(
        d.file == config_file.path and d.severity == Severity.ERROR for d in diags)
    return Scan(root, base, config, config_file, files, diags, env_vars, selected,
                sorted(spec_paths.items()), config_broken)


RawFile = bytes | Refusal | int | OSError
"""A spec file as read: its bytes, a refusal (confine.py), its size when over the limit,
or the error that kept it from being read."""


def read_raw(path: Path, fence: Path) -> RawFile:
    """The bytes of one spec file that must lie inside `fence` (see confine.py)."""
    try:
        return read_inside(path, fence, MAX_FILE_BYTES)
    except OSError as exc:
        return exc


def _source_of(shown: str, rel: str, path: Path, raw: RawFile,
               diags: list[Diagnostic]) -> SourceFile | None:
    """`_read` for bytes already read."""
    if isinstance(raw, OSError):
        diags.append(Diagnostic("SPEC001", f"cannot read file: {raw.strerror or raw}", shown,
                                Span.point(1, 1)))
        return None
    if isinstance(raw, Refusal):
        diags.append(Diagnostic(raw.code, raw.message, shown, Span.point(1, 1)))
        return None
    if isinstance(raw, int):  # refused before reading: a 10 GB file must not be loaded
        diags.append(Diagnostic("SPEC003", f"file is {raw:,} bytes; the limit is "
                                f"{MAX_FILE_BYTES:,}", shown, Span.point(1, 1)))
        return SourceFile(shown, rel, path, "")
    docs, problems = load_text(shown, raw)
    diags.extend(problems)
    text = raw.decode("utf-8", errors="replace") if b"\x00" not in raw else ""
    source = SourceFile(shown, rel, path, text, docs)
    if text:
        sups, sup_diags = parse_suppressions(shown, text)
        source.suppressions = sups
        diags.extend(sup_diags)
    return source


@dataclass(slots=True)
class Loaded:
    """Files parsed into a project under construction (see `add_file`)."""

    scan: Scan
    files: dict[str, SourceFile]
    specs: list[LoadedSpec]
    diagnostics: list[Diagnostic]
    broken: set[tuple[str, str]]
    env: Any

    def project(self) -> Project:
        s = self.scan
        return Project(s.root, s.config, s.config_file, self.files, self.specs,
                       self.diagnostics, s.env_vars, s.selected, self.broken)


def start_load(scan: Scan) -> Loaded:
    return Loaded(scan, dict(scan.files), [], list(scan.diagnostics), set(),
                  make_environment())


def add_documents(loaded: Loaded, source: SourceFile, documents: list[Document]) -> None:
    """Render and validate `documents` of `source` into the project."""
    templated = _may_template(source.text)
    diags = loaded.diagnostics
    for doc in documents:
        template_diags = render_document(doc, loaded.scan.env_vars, loaded.env) \
            if templated else []
        if loaded.scan.config_broken:  # its vars are unknown; undefined names are not news
            template_diags = [d for d in template_diags if d.code != "SPEC152"]
        diags.extend(template_diags)
        spec, problems = validate_document(doc)
        diags.extend(problems)
        if spec is not None:
            loaded.specs.append(spec)
        elif (name := _broken_name(doc.data)) is not None:
            loaded.broken.add(name)


def add_file(loaded: Loaded, path: Path, raw: RawFile) -> SourceFile | None:
    """Parse one whole spec file into the project."""
    shown, rel = loaded.scan.shown(path)
    diags = loaded.diagnostics
    before = len(diags)
    source = _source_of(shown, rel, path, raw, diags)
    if source is None:
        return None
    loaded.files[source.path] = source
    if any(d.code in _LOST_DOCUMENTS for d in diags[before:]):
        loaded.broken |= _names_in_text(source.text)
    add_documents(loaded, source, source.documents)
    return source


def _load_project(paths: list[Path], variables: dict[str, str] | None,
                  base: Path | None) -> Project:
    scan = scan_project(paths, variables, base)
    loaded = start_load(scan)
    for path, fence in scan.spec_paths:
        add_file(loaded, path, read_raw(path, fence))
    return loaded.project()
