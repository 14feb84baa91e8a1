"""Every test asserts something a bug would break.

A test that only runs code (or asserts `x is not None` on a value that is never None)
passes whatever the code computes. This check parses every `test_*.py` under tests/ with
`ast` and fails for a test function (module level or in a `Test*` class) whose body has
none of:
- an `assert` statement;
- `pytest.raises(...)` or `pytest.warns(...)` (as a context manager or a call), or
  `pytest.fail(...)`;
- a call to a helper whose name (leading underscores dropped, attribute or plain name)
  starts with `assert_`, `assert`, `check_` or `expect` (`np.testing.assert_array_equal`,
  `_check_roundtrip(...)`): such helpers assert on the test's behalf;
- a call to a function of the same file that itself meets this rule (`_run(url)` whose
  body asserts).
A documented smoke test is exempt: its docstring starts with "Smoke test" and says why
running without error is the point.

It also fails for `assert render(...) is not None` (or `format*`, `dumps`, `str`, `repr`):
those return a string, which is never None, so the assert checks nothing.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

TESTS = Path(__file__).resolve().parent
HELPER_PREFIXES = ("assert_", "assert", "check_", "expect")
STRING_RESULTS = ("render", "format", "dumps", "str", "repr")


def _test_functions(tree: ast.Module) -> Iterator[ast.FunctionDef | ast.AsyncFunctionDef]:
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and \
                node.name.startswith("test"):
            yield node
        elif isinstance(node, ast.ClassDef) and node.name.startswith("Test"):
            for item in node.body:
                if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef) and \
                        item.name.startswith("test"):
                    yield item


def _call_name(call: ast.Call) -> str:
    f = call.func
    if isinstance(f, ast.Attribute):
        return f.attr
    if isinstance(f, ast.Name):
        return f.id
    return ""


def _is_pytest(call: ast.Call, names: tuple[str, ...]) -> bool:
    f = call.func
    return (isinstance(f, ast.Attribute) and f.attr in names
            and isinstance(f.value, ast.Name) and f.value.id == "pytest")


Func = ast.FunctionDef | ast.AsyncFunctionDef


def checks_something(fn: Func, local: dict[str, Func] | None = None,
                     seen: frozenset[str] = frozenset()) -> bool:
    """Whether `fn` asserts, directly or through a same-file helper (`local`)."""
    doc = ast.get_docstring(fn) or ""
    if doc.startswith("Smoke test"):
        return True
    local = local or {}
    for node in ast.walk(fn):
        if isinstance(node, ast.Assert):
            return True
        if isinstance(node, ast.Call):
            if _is_pytest(node, ("raises", "warns", "fail")):
                return True
            name = _call_name(node)
            if name.lstrip("_").startswith(HELPER_PREFIXES):
                return True
            if isinstance(node.func, ast.Name) and name in local and name not in seen \
                    and checks_something(local[name], local, seen | {fn.name}):
                return True
    return False


def _local_functions(tree: ast.Module) -> dict[str, Func]:
    return {n.name: n for n in tree.body if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)}


def _weak_asserts(fn: ast.FunctionDef | ast.AsyncFunctionDef) -> Iterator[int]:
    """`assert f(...) is not None`: true for any string or container f returns."""
    for node in ast.walk(fn):
        if isinstance(node, ast.Assert) and isinstance(node.test, ast.Compare):
            t = node.test
            if (isinstance(t.left, ast.Call) and len(t.ops) == 1
                    and _call_name(t.left).lstrip("_").startswith(STRING_RESULTS)
                    and isinstance(t.ops[0], ast.IsNot)
                    and isinstance(t.comparators[0], ast.Constant)
                    and t.comparators[0].value is None):
                yield node.lineno


def _files() -> list[Path]:
    return sorted(p for p in TESTS.rglob("test_*.py") if "fixtures" not in p.parts)


def test_every_test_asserts_something() -> None:
    offenders = []
    for path in _files():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        local = _local_functions(tree)
        for fn in _test_functions(tree):
            if not checks_something(fn, local):
                offenders.append(f"{path.relative_to(TESTS.parent)}:{fn.lineno} {fn.name}")
    assert offenders == [], "tests with no assert / pytest.raises:\n" + "\n".join(offenders)


def test_no_is_not_none_assert_on_a_call() -> None:
    offenders = []
    for path in _files():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for fn in _test_functions(tree):
            offenders += [f"{path.relative_to(TESTS.parent)}:{line} {fn.name}"
                          for line in _weak_asserts(fn)]
    assert offenders == [], "`assert call(...) is not None` asserts nothing:\n" + \
        "\n".join(offenders)


def test_the_rule_itself() -> None:
    """The checker accepts each allowed form and rejects a test that only runs code."""
    def fn(src: str) -> ast.FunctionDef:
        node = ast.parse(src).body[0]
        assert isinstance(node, ast.FunctionDef)
        return node

    assert checks_something(fn("def test_a():\n    assert 1 == 1\n"))
    assert checks_something(fn("def test_a():\n    with pytest.raises(E):\n        f()\n"))
    assert checks_something(fn("def test_a():\n    np.testing.assert_allclose(a, b)\n"))
    assert checks_something(fn("def test_a():\n    _check_roundtrip(x)\n"))
    assert checks_something(fn('def test_a():\n    """Smoke test: imports."""\n    f()\n'))
    assert not checks_something(fn("def test_a():\n    f()\n"))
    assert not checks_something(fn("def test_a():\n    raises(E)\n    pytest.skip()\n"))
    helper = fn("def _run(x):\n    assert x\n")
    runner = fn("def test_a():\n    _run(1)\n")
    assert checks_something(runner, {"_run": helper})
    assert not checks_something(runner, {"_run": fn("def _run(x):\n    print(x)\n")})
    assert list(_weak_asserts(fn("def test_a():\n    assert render(x) is not None\n"))) == [2]
    assert list(_weak_asserts(fn("def test_a():\n    assert x is not None\n"))) == []
    assert list(_weak_asserts(fn("def test_a():\n    assert parse(x) is not None\n"))) == []
