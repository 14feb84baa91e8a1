"""`specops compile` with a cache: a compile whose every input is unchanged is replayed.

The entry lives beside lint's (`<root>/.specops/cache/compile/`, one JSON file per key) and
is believed for the same reason: its first line is an HMAC-SHA256 of the rest under this
account's secret (passes/lint_cache.py), so a tampered, copied or foreign entry is ignored
and the project compiled afresh. The key covers everything a compile reads: lint's cache
key (specops version and sources, the built-in policy packs, specops.yaml, `--var`s, the
base and root folders, the trust lock and key files), the path and sha256 of every spec
file as read for this compile, the scan's own findings, and the key texts the trust check
reads. A hit is the plan text and its summary, nothing parsed; a miss compiles the project
from exactly the bytes that were hashed (so an edit made meanwhile cannot be filed under
the old key) and stores the result when it has no error. Compiles with errors are never
stored: they are reported in full, with their source lines, every time.

Why the whole plan and not per-file results: the plan is packed over the whole project
(contract/plan_pack.py: shared structures counted across every node), so there is no
per-file part of the plan to reuse. A cache of each file's parsed documents (values and
positions as JSON) was built and measured on the 1,000-model project: reading them back
took 0.44 s CPU against 0.51 s for parsing the YAML (same process, same load), about 2%
of the compile, so it was dropped; a one-file change is compiled whole.
`tests/compiler/plan/test_compile_cache.py` checks that cached and uncached plans agree.
"""

from __future__ import annotations

import gc
import hashlib
import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from specops.compiler.diagnostics.diagnostic import Severity
from specops.compiler.frontend.project import (
    Scan,
    add_file,
    command_line_targets,
    find_root,
    read_raw,
    scan_project,
    start_load,
)
from specops.compiler.passes.governance_checks.check_trust import LOCK_FILE, key_text
from specops.compiler.passes.lint_cache import open_store
from specops.compiler.passes.lint_incremental import input_key

if TYPE_CHECKING:   # compile.py (networkx, the plan builder) is imported on a miss only
    from specops.compiler.plan.compile import CompileResult

__all__ = ["Compiled", "compile_with_cache", "gc_paused", "summarise"]

_SCHEMA = 1
_KEEP = 4    # entries kept: a plan is megabytes, and an edit makes a new key


@dataclass(frozen=True, slots=True)
class Compiled:
    """A compile as `specops compile` reports it. `result` is the full compile when one
    ran (None when replayed); `text` is the plan file ("" when the compile has errors)."""

    result: CompileResult | None
    text: str
    nodes: int
    models: int
    warnings: int
    how: str     # "off" (no cache used), "cold" (compiled and stored), "replayed"


def summarise(result: CompileResult, how: str) -> Compiled:
    """A compile that ran, as `specops compile` reports it."""
    if result.plan is None or result.errors:
        return Compiled(result, "", 0, 0, 0, how)
    data = result.plan.data
    warnings = sum(1 for d in result.diagnostics if d.severity == Severity.WARNING)
    return Compiled(result, result.plan.text(), len(data["nodes"]), len(data["models"]),
                    warnings, how)


def _trust_inputs(scan: Scan) -> list[str]:
    """What the trust check reads besides specs, as it reads it: the lock file's bytes
    and each person's key text (lint's key hashes them as its confinement reads them)."""
    root, config = scan.root, scan.config
    if root is None or config is None:
        return []
    try:
        lock = hashlib.sha256((root / LOCK_FILE).read_bytes()).hexdigest()
    except OSError:
        lock = "-"
    keys = sorted({k for p in config.people.values() for k in p.keys})
    return [lock, *(f"{k}={key_text(k, root)}" for k in keys)]


def _key(scan: Scan, variables: dict[str, str], files: list[list[str]]) -> str:
    parts = ["compile", _SCHEMA, input_key(scan, variables), files,
             [repr(d) for d in scan.diagnostics], _trust_inputs(scan)]
    return hashlib.sha256(json.dumps(parts).encode()).hexdigest()


def _decode(data: dict[str, Any] | None) -> tuple[str, int, int, int] | None:
    if data is None:
        return None
    text, nodes, models, warnings = (data.get(k) for k in ("plan", "nodes", "models",
                                                           "warnings"))
    if not (isinstance(text, str) and text and type(nodes) is int and type(models) is int
            and type(warnings) is int):
        return None
    return text, nodes, models, warnings


def compile_with_cache(path: Path, variables: dict[str, str] | None = None,
                       base: Path | None = None, cache_dir: Path | None = None) -> Compiled:
    """Compile as `compile_project` does, replaying the plan when no input changed."""
    with gc_paused():
        return _compile(path, variables or {}, base, cache_dir)


def _uncached(path: Path, variables: dict[str, str], base: Path | None) -> Compiled:
    from specops.compiler.plan.compile import compile_project

    return summarise(compile_project(path, variables, base), "off")


@contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while compiling (compile.py and a replay here;
    defined here so that a replay does not import compile.py and networkx).

    Why: a compile allocates hundreds of thousands of long-lived containers (YAML nodes,
    spans, specs, params) and creates almost no garbage cycles, so every collection pass is
    wasted work; on the 1,000-model project it cost about a third of the compile time.
    Reference counting still frees everything as usual.

    Why freeze-then-unfreeze before re-enabling: everything allocated meanwhile is still in
    the youngest generation, so the first allocation after `gc.enable()` would scan all of
    it (about 0.4 s on the 1,000-model project) only to find it alive. `gc.unfreeze()`
    moves it straight to the oldest generation instead, where it stays collectable (no
    leak) and is scanned only by a later full collection. Skipped when the caller froze
    objects itself (unfreezing would undo that).
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            if gc.get_freeze_count() == 0:
                gc.freeze()
                gc.unfreeze()
            gc.enable()


def _compile(path: Path, variables: dict[str, str], base: Path | None,
             cache_dir: Path | None) -> Compiled:
    targets, refused = command_line_targets([path])
    target = targets[0]
    root = find_root(target)
    if refused or root is None:
        return _uncached(path, variables, base)
    scan = scan_project([root], variables, base)
    store = open_store(scan.root, cache_dir, "compile", _KEEP) \
        if scan.root is not None and scan.config is not None else None
    raws = [(p, read_raw(p, fence)) for p, fence in scan.spec_paths]
    if store is None or not all(isinstance(r, bytes) for _p, r in raws):
        return _uncached(path, variables, base)
    files = [[scan.shown(p)[0], hashlib.sha256(r).hexdigest()]
             for p, r in raws if isinstance(r, bytes)]
    key = _key(scan, variables, files)
    hit = _decode(store.read(key))
    if hit is not None:
        return Compiled(None, *hit, "replayed")
    from specops.compiler.plan.compile import compile_loaded

    loaded = start_load(scan)
    for p, raw in raws:
        add_file(loaded, p, raw)
    compiled = summarise(compile_loaded(loaded.project()), "cold")
    if compiled.text:
        store.write(key, {"plan": compiled.text, "nodes": compiled.nodes,
                          "models": compiled.models, "warnings": compiled.warnings})
    return compiled
