"""Static import boundaries of the runtime (checked on the source, nothing imported).

- No runtime module imports `specops.compiler`, except the CLI glue (`runtime/cli/`),
  which may use only the compiler's command-line layer: the `UsageError` every command
  raises, and compiling a project before `run` (lazily, inside the command function).
- Only `engine/executors/ray_executor.py` imports `ray` at module level. Other modules that need
  Ray for something that is not running a plan (Ray Serve deployment) may import it only
  inside the function that uses it, so importing them never loads Ray.
"""

from __future__ import annotations

import ast
from pathlib import Path

RUNTIME = Path(__file__).resolve().parents[1] / "runtime"
GLUE_MAY_IMPORT = {"specops.compiler", "specops.compiler.cli", "specops.compiler.cli.main",
                   "specops.compiler.cli.plan_commands", "specops.compiler.plan.compile"}
RAY_MODULES = {"engine/executors/ray_executor.py"}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:      # relative: resolve against the runtime package
                parts = ["specops", "runtime", *path.relative_to(RUNTIME).parent.parts]
                parts = parts[:len(parts) - (node.level - 1)] if node.level > 1 else parts
                base = ".".join(parts + ([base] if base else []))
            names.add(base)
    return names


def _modules() -> list[tuple[str, set[str]]]:
    return [(p.relative_to(RUNTIME).as_posix(), _imports(p))
            for p in sorted(RUNTIME.rglob("*.py"))]


def _is_glue(rel: str) -> bool:
    return rel.startswith("cli/")


def test_runtime_never_imports_the_compiler():
    offenders = {}
    for rel, names in _modules():
        bad = {n for n in names if n.startswith("specops.compiler")}
        if _is_glue(rel):
            bad -= GLUE_MAY_IMPORT
        if bad:
            offenders[rel] = sorted(bad)
    assert offenders == {}


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


def test_the_check_sees_the_cli_glue():
    # guards against a vacuous pass (wrong folder, renamed module)
    glue = RUNTIME / "cli" / "run_commands.py"
    assert any(n.startswith("specops.compiler") for n in _imports(glue))
