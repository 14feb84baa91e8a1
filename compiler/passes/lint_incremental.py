"""`specops lint` with a cache: re-check what a change can reach, replay the rest.

Every run reads and hashes every spec file (cheap), never trusting a modification time.
The entry for this key (specops version and source, specops.yaml, `--var`s, the trust
lock and key files lint reads, the root and the folder paths are shown from) holds, per
file, its sha256 and per document its line range, kind, name, the names it mentions and
its raw diagnostics (before suppressions, which are applied afresh to the whole set).

- No file changed: the cached diagnostics are the result (nothing is parsed).
- Files changed (edited, added, removed): the documents of the changed files are
  re-checked, with every document that mentions one of their names (the models that use
  a changed feature view, the views over a changed source, a second definition of the
  same name), transitively. They are checked in a project holding them plus everything
  they mention (transitively) and every policy, parsed document by document (only those
  documents' text is parsed). Their diagnostics replace the cached ones; every other
  document keeps its own.

Where this reasoning could be wrong, the whole project is linted instead: a change to
a policy or to a kind other than source, feature, model, gate and approval (a policy
applies to every model without naming it); a cached or new diagnostic on a document
that a re-checked one mentions (a finding on an approval, say, may be about a model
that uses it), on specops.yaml or outside the spec files; a file that failed to load or
a document that failed validation anywhere in the project; a document that does not
parse alone as it did in its file; more than a quarter of the documents affected.
`tests/compiler/passes/test_lint_cache.py` checks that cached and uncached lint agree.
"""

from __future__ import annotations

import bisect
import functools
import gc
import hashlib
import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

from specops.compiler.diagnostics.diagnostic import Diagnostic
from specops.compiler.diagnostics.suppress import parse_suppressions
from specops.compiler.frontend.confine import read_inside
from specops.compiler.frontend.loader import load_text
from specops.compiler.frontend.project import (
    Loaded,
    Project,
    RawFile,
    Scan,
    SourceFile,
    add_documents,
    add_file,
    read_raw,
    scan_project,
    start_load,
)
from specops.compiler.passes import run_passes
from specops.compiler.passes.context import Context
from specops.compiler.passes.lint import LintResult, check_project, finish
from specops.compiler.passes.lint_cache import (
    CACHE_SCHEMA,
    LintStore,
    decode_diagnostic,
    encode_diagnostic,
    open_store,
)

__all__ = ["input_key", "lint_with_cache", "stamped_files"]

# kinds whose every dependency is spelled out by name in the documents that use them
_NAMED_KINDS = frozenset({"source", "feature", "model", "gate", "approval"})
_OWN = frozenset({"SPEC902", "SPEC903"})   # suppression syntax: recomputed every run
_LOST = frozenset({"SPEC002", "SPEC003", "SPEC101", "SPEC105", "SPEC106"})
_TOKEN = re.compile(r"[A-Za-z0-9_]+")
# line breaks on which Python and YAML disagree: such a file is parsed whole, not by slices
_ODD_BREAKS = re.compile("[\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029]")
_END = 1 << 40


class _Fallback(Exception):
    """The incremental path cannot vouch for its answer: lint everything."""


@dataclass(slots=True)
class _Doc:
    file: str
    index: int
    start: int
    end: int                 # exclusive line
    kind: str
    name: str
    tokens: str              # " tok tok ... " (every name-like token of the document)
    diags: list[Diagnostic] = field(default_factory=list)

    def mentions(self, name_tokens: list[str]) -> bool:
        return all(f" {t} " in self.tokens for t in name_tokens)


@dataclass(slots=True)
class _File:
    sha: str
    head: list[Diagnostic]   # diagnostics before the first document
    docs: list[_Doc]


@dataclass(slots=True)
class _State:
    files: dict[str, _File]
    other: list[Diagnostic]  # on specops.yaml or any non-spec file


def lint_with_cache(paths: list[Path], variables: dict[str, str] | None = None,
                    base: Path | None = None, cache_dir: Path | None = None) -> LintResult:
    """Lint as `lint_paths` does, reusing and refreshing the cache (lint_cache.py)."""
    enabled = gc.isenabled()
    gc.disable()   # as in load_project: a load allocates many long-lived objects
    try:
        return _lint(paths, variables or {}, base, cache_dir)
    finally:
        if enabled:
            gc.freeze()
            gc.unfreeze()
            gc.enable()


def _lint(paths: list[Path], variables: dict[str, str], base: Path | None,
          cache_dir: Path | None) -> LintResult:
    scan = scan_project(paths, variables, base)
    store = open_store(scan.root, cache_dir) if scan.root is not None else None
    raws = {path: read_raw(path, fence) for path, fence in scan.spec_paths}
    if store is None:
        return _full(scan, raws)[0]
    key = _key(scan, variables)
    shown = {p: scan.shown(p)[0] for p in raws}
    shas = {shown[p]: hashlib.sha256(r).hexdigest() if isinstance(r, bytes) else ""
            for p, r in raws.items()}
    old = _decode(store.read(key))
    if old is not None and "" not in shas.values():
        try:
            result = _incremental(scan, raws, shown, shas, old, store, key)
            if result is not None:
                return result
        except _Fallback:
            pass
    result, state = _full(scan, raws)
    result.how = "cold" if old is None else "full"
    if state is not None:
        store.write(key, _encode(state))
    return result


# -- the key -------------------------------------------------------------------------------

def stamped_files() -> tuple[Path, list[Path]]:
    """The package folder and the files whose change voids every entry: the compiler and
    contract sources, and the built-in policy packs (`specs/packs/*.yaml`, which lint
    applies to the project's models like its own policies)."""
    here = Path(__file__).resolve().parents[2]
    files = [p for top, pattern in (("compiler", "*.py"), ("contract", "*.py"),
                                    ("specs", "*.yaml"))
             for p in sorted((here / top).rglob(pattern))]
    return here, files


@functools.lru_cache(maxsize=1)
def _code_stamp() -> str:
    """specops' version and `stamped_files` (names, sizes, mtimes): a cache from other
    code is never replayed, also in a checkout whose version is fixed."""
    try:
        ver = metadata.version("specops")
    except metadata.PackageNotFoundError:  # pragma: no cover - running from a checkout
        ver = "0"
    h = hashlib.sha256(ver.encode())
    here, files = stamped_files()
    for p in files:
        st = p.stat()
        h.update(f"{p.relative_to(here)}:{st.st_size}:{st.st_mtime_ns};".encode())
    return h.hexdigest()


def _external(scan: Scan) -> list[str]:
    """Hashes of the files besides specs that lint reads: the trust lock, key files."""
    root, config = scan.root, scan.config
    if root is None or config is None:
        return []
    from specops.compiler.passes.governance_checks.check_trust import LOCK_FILE

    keys = {k.strip() for p in config.people.values() for k in p.keys}
    names = [LOCK_FILE, *sorted(k for k in keys if not k.startswith("ssh-"))]
    out = []
    for name in names:
        raw = read_inside(root / name, root, 1 << 20) if not Path(name).is_absolute() else None
        out.append(f"{name}:{hashlib.sha256(raw).hexdigest() if isinstance(raw, bytes) else '-'}")
    return out


def input_key(scan: Scan, variables: dict[str, str]) -> str:
    """The entry key: everything but the spec files that lint's result depends on
    (`specops compile`'s cache adds the spec files' hashes to it)."""
    return _key(scan, variables)


def _key(scan: Scan, variables: dict[str, str]) -> str:
    cfg = scan.config_file.text if scan.config_file is not None else ""
    parts = [CACHE_SCHEMA, _code_stamp(), str(scan.base), str(scan.root),
             sorted((str(k), str(v)) for k, v in variables.items()),
             hashlib.sha256(cfg.encode()).hexdigest(), _external(scan)]
    return hashlib.sha256(json.dumps(parts).encode()).hexdigest()


# -- documents and their names ---------------------------------------------------------------

def _name_of(data: Any) -> tuple[str, str]:
    if not isinstance(data, dict):
        return "", ""
    kind, name = data.get("kind"), data.get("name")
    return (kind if isinstance(kind, str) else "", name if isinstance(name, str) else "")


def _walk_strings(value: Any) -> Iterator[str]:
    stack = [value]
    while stack:
        v = stack.pop()
        if isinstance(v, str):
            yield v
        elif isinstance(v, dict):
            stack.extend(str(k) for k in v)
            stack.extend(v.values())
        elif isinstance(v, list):
            stack.extend(v)


def _may_template(text: str) -> bool:
    return "{{" in text or "{%" in text or "{#" in text or "\\" in text


def _docs_of(source: SourceFile) -> list[_Doc]:
    """Line ranges, names and mentioned tokens of every document of a parsed file."""
    lines = source.text.split("\n")
    starts = [d.span.line for d in source.documents]
    templated = _may_template(source.text)
    out = []
    for i, doc in enumerate(source.documents):
        end = starts[i + 1] if i + 1 < len(starts) else _END
        toks = set(_TOKEN.findall("\n".join(lines[starts[i] - 1:min(end, len(lines) + 1) - 1])))
        if templated:   # a rendered value may name what the text does not
            for s in _walk_strings(doc.data):
                toks.update(_TOKEN.findall(s))
        kind, name = _name_of(doc.data)
        out.append(_Doc(source.path, doc.index, starts[i], end, kind, name,
                        " " + " ".join(sorted(toks)) + " "))
    return out


def _assign(files: dict[str, _File], state_other: list[Diagnostic],
            diags: Iterable[Diagnostic]) -> None:
    starts = {f: [d.start for d in e.docs] for f, e in files.items()}
    for d in diags:
        if d.code in _OWN:
            continue
        entry = files.get(d.file)
        if entry is None:
            state_other.append(d)
            continue
        i = bisect.bisect_right(starts[d.file], d.span.line) - 1
        (entry.docs[i].diags if i >= 0 else entry.head).append(d)


# -- the full run ---------------------------------------------------------------------------

def _full(scan: Scan, raws: dict[Path, RawFile]) -> tuple[LintResult, _State | None]:
    """Lint everything; the state to cache, or None when the project cannot be cached
    incrementally (a file that failed to load, a document that failed validation)."""
    loaded = start_load(scan)
    n_scan = len(loaded.diagnostics)
    files: dict[str, _File] = {}
    cacheable = True
    for path, _fence in scan.spec_paths:
        raw = raws[path]
        before = len(loaded.diagnostics)
        source = add_file(loaded, path, raw)
        if source is None or not isinstance(raw, bytes) or \
                any(d.code in _LOST for d in loaded.diagnostics[before:]):
            cacheable = False
            continue
        files[source.path] = _File(hashlib.sha256(raw).hexdigest(), [], _docs_of(source))
    cacheable = cacheable and not loaded.broken
    project = loaded.project()
    result = check_project(project)
    if not cacheable:
        return result, None
    state = _State(files, [])
    _assign(files, state.other, result.context.diagnostics[n_scan:])
    return result, state


# -- the incremental run ---------------------------------------------------------------------

def _sliced(source: SourceFile, doc: _Doc, lines: list[str]) -> list[Any]:
    """Parse one document alone, at its own line numbers."""
    text = "\n" * (doc.start - 1) + "\n".join(lines[doc.start - 1:min(doc.end, len(lines) + 1)
                                                  - 1])
    docs, problems = load_text(source.path, text)
    if len(docs) != 1 or problems:
        raise _Fallback
    docs[0].index = doc.index
    return docs


def _bare_source(scan: Scan, path: Path, raw: bytes) -> SourceFile:
    shown, rel = scan.shown(path)
    text = raw.decode("utf-8", errors="replace")
    source = SourceFile(shown, rel, path, text)
    source.suppressions, _ = parse_suppressions(shown, text)
    return source


def _incremental(scan: Scan, raws: dict[Path, RawFile], shown: dict[Path, str],
                 shas: dict[str, str], old: _State, store: LintStore, key: str
                 ) -> LintResult | None:
    by_shown = {f: p for p, f in shown.items()}
    changed = {f for f, sha in shas.items() if old.files.get(f, _File("", [], [])).sha != sha}
    removed = set(old.files) - set(shas)
    if not changed and not removed:
        return _replay(scan, raws, old, "replayed")
    if old.other:
        raise _Fallback
    loaded = start_load(scan)
    n_scan = len(loaded.diagnostics)
    fresh: dict[str, _File] = {}
    for f in sorted(changed):
        raw = raws[by_shown[f]]
        before = len(loaded.diagnostics)
        source = add_file(loaded, by_shown[f], raw)
        if source is None or not isinstance(raw, bytes) or loaded.broken or \
                any(d.code in _LOST for d in loaded.diagnostics[before:]):
            raise _Fallback
        fresh[f] = _File(shas[f], [], _docs_of(source))
    gone = [d for f in changed | removed if f in old.files for d in old.files[f].docs]
    new_docs = [d for e in fresh.values() for d in e.docs]
    if any(d.kind not in _NAMED_KINDS for d in gone + new_docs):
        raise _Fallback
    kept = [d for f, e in old.files.items() if f not in changed and f not in removed
            for d in e.docs]
    affected = _reverse_closure(kept, [d.name for d in gone + new_docs])
    if len(affected) + len(new_docs) > max(8, (len(kept) + len(new_docs)) // 4):
        raise _Fallback
    pool = {id(d): d for d in kept}
    checked = list(affected.values()) + new_docs
    context = _forward_closure(checked, kept)
    policies = {id(d): d for d in kept if d.kind == "policy"}
    # a finding on a document that a re-checked (or removed) one mentions may be about it
    mentioned = (_forward_closure(checked + gone, kept, depth=1) | set(policies)) \
        - set(affected)
    if any(pool[i].diags for i in mentioned):
        raise _Fallback
    watched = {(pool[i].file, pool[i].index) for i in mentioned}
    wanted = {**{i: pool[i] for i in context}, **affected, **policies}
    _add_documents(scan, loaded, raws, by_shown, changed, wanted)
    project = loaded.project()
    ctx = Context(project, diagnostics=list(project.diagnostics))
    run_passes(ctx)
    files = {f: _File(e.sha, list(e.head), [_Doc(d.file, d.index, d.start, d.end, d.kind,
                                                 d.name, d.tokens,
                                                 d.diags if id(d) not in affected else [])
                                            for d in e.docs])
             for f, e in old.files.items() if f not in changed and f not in removed}
    files.update(fresh)
    sub = _State({f: _File("", [], [_Doc(d.file, d.index, d.start, d.end, d.kind, d.name,
                                         d.tokens) for d in e.docs]) for f, e in files.items()},
                 [])
    _assign(sub.files, sub.other, ctx.diagnostics[n_scan:])
    if sub.other:
        raise _Fallback
    keep_ids = {(d.file, d.index) for d in affected.values()}
    for f, e in files.items():
        for mine, theirs in zip(e.docs, sub.files[f].docs, strict=True):
            if f in changed or (f, mine.index) in keep_ids:
                mine.diags = theirs.diags
            elif (f, mine.index) in watched and theirs.diags:
                raise _Fallback
        if f in changed:
            e.head = sub.files[f].head
    state = _State(files, [])
    store.write(key, _encode(state))
    return _replay(scan, raws, state, "incremental")


def _reverse_closure(kept: list[_Doc], names: list[str]) -> dict[int, _Doc]:
    """Documents mentioning any of `names`, then any of theirs, and so on."""
    out: dict[int, _Doc] = {}
    frontier = [n for n in dict.fromkeys(names) if _TOKEN.search(n)]
    seen = set(frontier)
    while frontier:
        toks = [_TOKEN.findall(n) for n in frontier]
        # one scan for the first token of every name, then the exact test on the hits
        first = re.compile(" (?:" + "|".join(sorted({re.escape(t[0]) for t in toks})) + ") ")
        frontier = []
        for d in kept:
            if id(d) in out or not first.search(d.tokens):
                continue
            if any(d.mentions(t) for t in toks):
                out[id(d)] = d
                if d.name and d.name not in seen and _TOKEN.search(d.name):
                    seen.add(d.name)
                    frontier.append(d.name)
    return out


def _forward_closure(start: list[_Doc], kept: list[_Doc], depth: int = 1 << 30) -> set[int]:
    """ids of the kept documents `start` mentions by name, then what those mention, ..."""
    index: dict[str, list[tuple[list[str], _Doc]]] = {}
    for d in kept:
        toks = _TOKEN.findall(d.name)
        if toks:
            index.setdefault(toks[0], []).append((toks, d))
    out: set[int] = set()
    frontier = start
    while frontier and depth > 0:
        depth -= 1
        nxt = []
        for d in frontier:
            for tok in d.tokens.split():
                for toks, target in index.get(tok, ()):
                    if id(target) not in out and target is not d and d.mentions(toks):
                        out.add(id(target))
                        nxt.append(target)
        frontier = nxt
    return out


def _add_documents(scan: Scan, loaded: Loaded, raws: dict[Path, RawFile],
                   by_shown: dict[str, Path], changed: set[str],
                   wanted: dict[int, _Doc]) -> None:
    """Every unchanged file joins the project as text (for suppressions and snippets);
    the documents in `wanted` are parsed from their own lines."""
    per_file: dict[str, list[_Doc]] = {}
    for d in wanted.values():
        per_file.setdefault(d.file, []).append(d)
    for f, path in by_shown.items():
        if f in changed:
            continue
        raw = raws[path]
        if not isinstance(raw, bytes):
            raise _Fallback
        source = _bare_source(scan, path, raw)
        loaded.files[f] = source
        docs = sorted(per_file.get(f, []), key=lambda d: d.index)
        if not docs:
            continue
        text = source.text.removeprefix("\ufeff")
        if _ODD_BREAKS.search(text):
            raise _Fallback
        lines = text.split("\n")
        parsed = [p for d in docs for p in _sliced(source, d, lines)]
        add_documents(loaded, source, parsed)
        if loaded.broken:
            raise _Fallback


def _replay(scan: Scan, raws: dict[Path, RawFile], state: _State, how: str) -> LintResult:
    """The cached diagnostics, with suppressions applied afresh."""
    loaded = start_load(scan)
    raw_diags = list(loaded.diagnostics)
    for path, raw in raws.items():
        if not isinstance(raw, bytes):
            raise _Fallback
        source = _bare_source(scan, path, raw)
        loaded.files[source.path] = source
        entry = state.files[source.path]
        raw_diags.extend(entry.head)
        for d in entry.docs:
            raw_diags.extend(d.diags)
        _, own = parse_suppressions(source.path, source.text)
        raw_diags.extend(own)
    raw_diags.extend(state.other)
    project: Project = loaded.project()
    ctx = Context(project, diagnostics=raw_diags)
    return LintResult(project, ctx, finish(project, raw_diags), how)


# -- the entry as JSON ----------------------------------------------------------------------

def _encode(state: _State) -> dict[str, Any]:
    return {"files": {f: {"sha": e.sha, "head": [encode_diagnostic(d) for d in e.head],
                          "docs": [[d.index, d.start, d.end, d.kind, d.name, d.tokens,
                                    [encode_diagnostic(x) for x in d.diags]] for d in e.docs]}
                      for f, e in state.files.items()},
            "other": [[d.file, encode_diagnostic(d)] for d in state.other]}


def _decode(data: dict[str, Any] | None) -> _State | None:
    """The cached state, or None unless every part has exactly the written shape."""
    if data is None:
        return None
    try:
        files: dict[str, _File] = {}
        raw_files = data["files"]
        if not isinstance(raw_files, dict):
            return None
        for f, e in raw_files.items():
            if not (isinstance(e, dict) and isinstance(e.get("sha"), str) and
                    isinstance(e.get("head"), list) and isinstance(e.get("docs"), list)):
                return None
            docs = []
            for d in e["docs"]:
                if not (isinstance(d, list) and len(d) == 7 and
                        all(type(x) is int for x in d[:3]) and
                        all(isinstance(x, str) for x in d[3:6]) and isinstance(d[6], list)):
                    return None
                docs.append(_Doc(f, d[0], d[1], d[2], d[3], d[4], d[5],
                                 [decode_diagnostic(f, x) for x in d[6]]))
            if [d.start for d in docs] != sorted(d.start for d in docs):
                return None
            files[f] = _File(e["sha"], [decode_diagnostic(f, x) for x in e["head"]], docs)
        other = []
        for item in data["other"]:
            if not (isinstance(item, list) and len(item) == 2 and isinstance(item[0], str)):
                return None
            other.append(decode_diagnostic(item[0], item[1]))
        return _State(files, other)
    except (KeyError, TypeError, ValueError):
        return None
