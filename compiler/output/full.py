"""The default terminal format: rustc/ruff style, with the source line and a caret."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from ..diagnostics import Diagnostic

__all__ = ["render_full"]

_COLORS = {"error": "\x1b[1;31m", "warning": "\x1b[1;33m", "info": "\x1b[1;36m"}
_RESET, _BOLD, _BLUE = "\x1b[0m", "\x1b[1m", "\x1b[1;34m"


def _excerpt(d: Diagnostic, lines: Sequence[str] | None, color: bool) -> list[str]:
    if not lines or d.span.line > len(lines):
        return []
    line_no = d.span.line
    text = lines[line_no - 1].rstrip("\n").expandtabs(1)
    width = len(str(line_no))
    start = max(d.span.col, 1)
    end = d.span.end_col if d.span.end_line == d.span.line else len(text) + 1
    end = max(min(end, len(text) + 1), start + 1)
    caret = " " * (start - 1) + "^" * (end - start)
    bar = f"{_BLUE}|{_RESET}" if color else "|"
    num = f"{_BLUE}{line_no}{_RESET}" if color else str(line_no)
    mark = (_COLORS[d.severity.label] + caret + _RESET) if color else caret
    return [f"{' ' * width} {bar}", f"{num} {bar} {text}", f"{' ' * width} {bar} {mark}"]


def render_full(diags: Sequence[Diagnostic], sources: Mapping[str, Sequence[str]],
                color: bool = False) -> str:
    out: list[str] = []
    for d in diags:
        label = d.severity.label
        head = f"{label}[{d.code}]"
        if color:
            head = f"{_COLORS[label]}{head}{_RESET}{_BOLD}"
        out.append(f"{head}: {d.message}{_RESET if color else ''}")
        width = len(str(d.span.line))
        arrow = f"{_BLUE}-->{_RESET}" if color else "-->"
        out.append(f"{' ' * width}{arrow} {d.location()}")
        out.extend(_excerpt(d, sources.get(d.file), color))
        for note in d.notes:
            out.append(f"{' ' * width} = note: {note}")
        if d.help:
            out.append(f"{' ' * width} = help: {d.help}")
        if d.suggestion:
            out.append(f"{' ' * width} = suggestion: {d.suggestion}")
        out.append("")
    return "\n".join(out)
