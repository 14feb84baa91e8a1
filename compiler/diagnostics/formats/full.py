"""The default terminal format: rustc/ruff style, with the source line and a caret.

Why the width arithmetic: spans count Unicode code points (libyaml's columns), but a
terminal draws tabs as jumps to the next stop and CJK characters two cells wide, so a
caret placed by code point lands in the wrong cell. We expand tabs ourselves (to a
fixed stop, so the excerpt looks the same in every terminal) and pad the caret line by
the display width of the text before the span.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping, Sequence

from specops.compiler.diagnostics.diagnostic import Diagnostic, Related, Span

__all__ = ["TAB_WIDTH", "display_width", "render_full"]

TAB_WIDTH = 4
_COLORS = {"error": "\x1b[1;31m", "warning": "\x1b[1;33m", "info": "\x1b[1;36m"}
_RESET, _BOLD, _BLUE = "\x1b[0m", "\x1b[1m", "\x1b[1;34m"


def _char_width(ch: str) -> int:
    if unicodedata.combining(ch) or unicodedata.category(ch) in ("Mn", "Me", "Cf"):
        return 0
    return 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1


def display_width(text: str) -> int:
    """Terminal cells taken by `text` (tab-free; see `_expand`)."""
    if text.isascii():
        return len(text)
    return sum(_char_width(ch) for ch in text)


def _expand(text: str) -> str:
    """Expand tabs to the next multiple of TAB_WIDTH display cells."""
    if "\t" not in text:
        return text
    out: list[str] = []
    cells = 0
    for part in text.split("\t")[:-1]:
        out.append(part)
        cells += display_width(part)
        pad = TAB_WIDTH - cells % TAB_WIDTH
        out.append(" " * pad)
        cells += pad
    out.append(text.rsplit("\t", 1)[-1])
    return "".join(out)


def _excerpt(span: Span, label: str, lines: Sequence[str] | None, color: bool,
             width: int | None = None) -> list[str]:
    if not lines or not 0 < span.line <= len(lines):
        return []
    line_no = span.line
    raw = lines[line_no - 1].rstrip("\r\n")
    width = width or len(str(line_no))
    start = min(max(span.col, 1), len(raw) + 1)
    end = span.end_col if span.end_line == span.line else len(raw) + 1
    end = max(min(end, len(raw) + 1), start + 1)
    lead = display_width(_expand(raw[: start - 1]))
    span_cells = display_width(_expand(raw[: end - 1])) - lead
    caret = " " * lead + "^" * max(span_cells, 1)
    bar = f"{_BLUE}|{_RESET}" if color else "|"
    num = str(line_no).rjust(width)
    num = f"{_BLUE}{num}{_RESET}" if color else num
    mark = (_COLORS[label] + caret + _RESET) if color else caret
    return [f"{' ' * width} {bar}", f"{num} {bar} {_expand(raw)}", f"{' ' * width} {bar} {mark}"]


def _related(rel: Related, lines: Sequence[str] | None, color: bool,
             width: int) -> list[str]:
    """A related location as rustc shows one: a `note:` with its own arrow and excerpt, so
    the other party (the person, the rule) is visible without opening another file."""
    arrow = f"{_BLUE}-->{_RESET}" if color else "-->"
    return [f"{' ' * width} = note: {rel.message}", f"{' ' * width}{arrow} {rel.location()}",
            *_excerpt(rel.span, "info", lines, color, width)]


def render_full(diags: Sequence[Diagnostic], sources: Mapping[str, Sequence[str]],
                color: bool = False) -> str:
    out: list[str] = []
    for d in diags:
        label = d.severity.label
        head = f"{label}[{d.code}]"
        if color:
            head = f"{_COLORS[label]}{head}{_RESET}{_BOLD}"
        out.append(f"{head}: {d.message}{_RESET if color else ''}")
        # one gutter for the finding and its notes, so every `|` lines up
        width = max(len(str(line)) for line in (d.span.line, *(r.span.line for r in d.related)))
        arrow = f"{_BLUE}-->{_RESET}" if color else "-->"
        out.append(f"{' ' * width}{arrow} {d.location()}")
        out.extend(_excerpt(d.span, label, sources.get(d.file), color, width))
        for rel in d.related:
            out.extend(_related(rel, sources.get(rel.file), color, width))
        for note in d.notes:
            out.append(f"{' ' * width} = note: {note}")
        if d.help:
            out.append(f"{' ' * width} = help: {d.help}")
        if d.suggestion:
            out.append(f"{' ' * width} = suggestion: {d.suggestion}")
        out.append("")
    return "\n".join(out)
