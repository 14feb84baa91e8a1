"""Property: whatever a valid spec file is mutated into, lint reports, never crashes.

Mutations are the edits people (and editors, merges and copy-paste) actually make:
deleted or inserted characters, swapped or duplicated lines (duplicate keys), changed
indentation, values replaced by odd scalars (`yes`, `~`, `.inf`, tags, aliases),
stray `{{`, random unicode and the odd invalid byte. For each mutant, lint must return
diagnostics that point inside the file, and the CLI must exit 0 or 1 (never 2, never a
traceback).
"""

from __future__ import annotations

import contextlib
import io
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from broken_cases import MINIMAL
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from specops.compiler.cli.main import main
from specops.compiler.diagnostics.diagnostic import Severity
from specops.compiler.diagnostics.formats import FORMATS, render
from specops.compiler.passes.lint import lint_paths

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "credit-risk"
SEEDS = {
    **{f"specs/{p.name}": p.read_bytes() for p in sorted((MINIMAL / "specs").glob("*.yaml"))},
    "specops.yaml": (MINIMAL / "specops.yaml").read_bytes(),
    "specs/example_model.yaml": (EXAMPLE / "specs" / "model.yaml").read_bytes(),
    "specs/example_features.yaml": (EXAMPLE / "specs" / "features.yaml").read_bytes(),
}

ODD_SCALARS = ["yes", "no", "on", "Off", "y", "~", "null", "", ".inf", "-.nan", "0x1F", "0o17",
               "1e400", "1_000", "12:30:00", "2024-01-01", "!!python/none ''", "!Ref x", "*nope",
               "&a x", "[", "]", "{", "}", "'", '"', "|", ">", "- x", "? x", "{{", "{{ x }}",
               "{% for %}", "{{ ''.__class__ }}", "\t", "#", "%", "@", "`", "---", "...",
               "é", "\u200b", "\U0001f600", "[[[[", "{a: 1, a: 2}", "<<: *x", "-1", "1.5"]
YAML_CHARS = st.sampled_from([*":{}[]-#&*!|>'\"%@`,?\t\n ", "{{", "}}", "{%", "  "])
TEXT = st.text(st.characters(blacklist_categories=("Cs",)), max_size=12)


@st.composite
def mutation(draw: st.DrawFn, text: str) -> str:
    lines = text.split("\n")
    op = draw(st.sampled_from(["delete", "insert", "swap", "value", "duplicate", "indent",
                               "braces", "unicode", "truncate"]))
    pos = draw(st.integers(0, max(len(text) - 1, 0)))
    i = draw(st.integers(0, max(len(lines) - 1, 0)))
    j = draw(st.integers(0, max(len(lines) - 1, 0)))
    if op == "delete":
        return text[:pos] + text[pos + draw(st.integers(1, 20)):]
    if op == "insert":
        return text[:pos] + "".join(draw(st.lists(YAML_CHARS, min_size=1, max_size=4))) + \
            text[pos:]
    if op == "swap":
        lines[i], lines[j] = lines[j], lines[i]
    elif op == "value" and ": " in lines[i]:
        key, _, _ = lines[i].partition(": ")
        lines[i] = f"{key}: {draw(st.sampled_from(ODD_SCALARS))}"
    elif op == "duplicate":
        lines.insert(j, lines[i])
    elif op == "indent":
        n = draw(st.integers(-4, 4))
        lines[i] = " " * n + lines[i] if n > 0 else lines[i][-n:]
    elif op == "braces":
        return text[:pos] + draw(st.sampled_from(["{{", "{%", "}}", "{#"])) + text[pos:]
    elif op == "unicode":
        return text[:pos] + draw(TEXT) + text[pos:]
    elif op == "truncate":
        return text[:pos]
    return "\n".join(lines)


@st.composite
def mutant(draw: st.DrawFn) -> tuple[str, bytes]:
    name = draw(st.sampled_from(sorted(SEEDS)))
    text = SEEDS[name].decode()
    for _ in range(draw(st.integers(1, 3))):
        text = draw(mutation(text))
    raw = text.encode()
    if draw(st.integers(0, 19)) == 0:  # now and then, bytes that are not UTF-8 text
        at = draw(st.integers(0, len(raw)))
        raw = raw[:at] + draw(st.sampled_from([b"\x00", b"\xff", b"\xc3", b"\x07"])) + raw[at:]
    return name, raw


@pytest.fixture(scope="module")
def project() -> Iterator[Path]:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "project"
        shutil.copytree(MINIMAL, root)
        yield root


def _lines(raw: bytes) -> list[str]:
    return raw.decode("utf-8", errors="replace").splitlines()


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(case=mutant())
def test_lint_never_crashes_and_points_inside_the_file(project: Path,
                                                       case: tuple[str, bytes]) -> None:
    name, raw = case
    target = project / name
    original = target.read_bytes() if target.exists() else None
    target.write_bytes(raw)
    try:
        result = lint_paths([project], {}, base=project)
        for d in result.diagnostics:
            path = project / d.file
            lines = _lines(path.read_bytes()) if path.is_file() else []
            assert 1 <= d.span.line <= max(len(lines), 1), (d.location(), d.code, len(lines))
            width = len(lines[d.span.line - 1]) if lines else 0
            assert 1 <= d.span.col <= width + 1, (d.location(), d.code, width)
        for fmt in FORMATS:
            render(fmt, result.diagnostics, result.sources(), "0", color=True)
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main(["lint", str(project), "--format", "concise", "-q"])
        assert code in (0, 1), err.getvalue()
        assert code == (1 if result.count(Severity.ERROR) else 0)
    finally:
        if original is None:
            target.unlink()
        else:
            target.write_bytes(original)
