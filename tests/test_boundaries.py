"""Static import boundaries between the halves (checked on the source, nothing imported).

- The runtime uses the compiler only through its public API: `from specops.compiler import
  NAME` with NAME in `specops.compiler.__all__` (the runtime's command line compiles a
  project before running it). No runtime module imports a compiler submodule, CLI glue
  included; both halves share the plan format through `specops.contract`.
- The compiler imports nothing of the runtime: it finds the runtime's commands through the
  `specops.commands` entry points, never by module name.
- Only `engine/executors/ray_executor.py` imports `ray` at module level. Other modules that need
  Ray for something that is not running a plan (Ray Serve deployment) may import it only
  inside the function that uses it, so importing them never loads Ray.
"""

from __future__ import annotations

import ast
from pathlib import Path

import specops.compiler

ROOT = Path(__file__).resolve().parents[1]
RUNTIME = ROOT / "runtime"
COMPILER = ROOT / "compiler"
RAY_MODULES = {"engine/executors/ray_executor.py"}


def _import_pairs(path: Path, top: Path, package: str) -> set[tuple[str, str]]:
    """(module, name) for every import in the file, anywhere in it; `import a.b` gives
    ("a.b", ""). Relative imports are resolved against `package` (the folder `top`)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    pairs: set[tuple[str, str]] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            pairs.update((a.name, "") for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:      # relative: resolve against the package folder
                parts = [*package.split("."), *path.relative_to(top).parent.parts]
                parts = parts[:len(parts) - (node.level - 1)] if node.level > 1 else parts
                base = ".".join(parts + ([base] if base else []))
            pairs.update((base, a.name) for a in node.names)
    return pairs


def _imports(path: Path) -> set[str]:
    return {module for module, _ in _import_pairs(path, RUNTIME, "specops.runtime")}


def _modules() -> list[tuple[str, set[str]]]:
    return [(p.relative_to(RUNTIME).as_posix(), _imports(p))
            for p in sorted(RUNTIME.rglob("*.py"))]


def _compiler_uses(module: str, name: str) -> str | None:
    """What a runtime import takes from the compiler beyond its public API (None: fine)."""
    if module == "specops" and name == "compiler":
        return "specops.compiler (as a module object)"
    if module != "specops.compiler" and not module.startswith("specops.compiler."):
        return None
    if module == "specops.compiler" and name in specops.compiler.__all__:
        return None
    return f"{module}:{name}" if name else module


def test_runtime_uses_only_the_compilers_public_api() -> None:
    offenders: dict[str, list[str]] = {}
    for path in sorted(RUNTIME.rglob("*.py")):
        bad = sorted(filter(None, (_compiler_uses(m, n) for m, n in
                                   _import_pairs(path, RUNTIME, "specops.runtime"))))
        if bad:
            offenders[path.relative_to(RUNTIME).as_posix()] = bad
    assert offenders == {}


def test_compiler_never_imports_the_runtime() -> None:
    offenders: dict[str, list[str]] = {}
    for path in sorted(COMPILER.rglob("*.py")):
        pairs = _import_pairs(path, COMPILER, "specops.compiler")
        bad = sorted({m for m, n in pairs if m == "specops.runtime"
                      or m.startswith("specops.runtime.") or (m, n) == ("specops", "runtime")})
        if bad:
            offenders[path.relative_to(COMPILER).as_posix()] = bad
    assert offenders == {}


def test_the_checks_see_imports_of_the_other_half() -> None:
    """Guards against a vacuous pass (wrong folder, renamed module, a parser that drops
    imports): the runtime's CLI support does import the compiler's root, the compiler's
    own modules import each other, and a private import would be caught."""
    support = _import_pairs(RUNTIME / "cli" / "support.py", RUNTIME, "specops.runtime")
    assert ("specops.compiler", "UsageError") in support
    assert any(m.startswith("specops.compiler.")
               for p in COMPILER.rglob("*.py")
               for m, _ in _import_pairs(p, COMPILER, "specops.compiler"))
    assert _compiler_uses("specops.compiler.cli.main", "UsageError") is not None
    assert _compiler_uses("specops.compiler", "_HOMES") is not None
    assert _compiler_uses("specops.compiler", "compile_project") is None


def _is_ray(name: str) -> bool:
    return name == "ray" or name.startswith("ray.")


def _module_level_imports(path: Path) -> set[str]:
    """Imports executed when the module is imported (not those inside functions)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    names: set[str] = set()
    stack: list[ast.AST] = list(tree.body)
    while stack:
        node = stack.pop()
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module)
        elif isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            stack.extend(node.orelse)
        elif isinstance(node, (ast.If, ast.Try, ast.With)):
            stack.extend(ast.iter_child_nodes(node))
        elif isinstance(node, ast.ClassDef):
            stack.extend(node.body)
    return names


def test_only_the_ray_executor_imports_ray_at_module_level():
    users = {rel for rel, _ in _modules()
             if any(_is_ray(n) for n in _module_level_imports(RUNTIME / rel))}
    assert users == RAY_MODULES, users
    executors = {rel for rel, names in _modules()
                 if rel.startswith("engine/executors/") and any(_is_ray(n) for n in names)}
    assert executors == RAY_MODULES, executors
