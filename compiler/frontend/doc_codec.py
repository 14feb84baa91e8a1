"""Parsed documents as JSON and back, for `specops compile`'s cache of parsed files.

Why: parsing YAML (libyaml composes, Python builds values and positions) is most of the
load of an unchanged file; reading the same documents back from JSON is about a third of
that (bench/compile_scale.py's one-change compile). What is stored is exactly what
`load_text` returned for a file: every document (values, positions, block-scalar lines,
flagged paths) and the file's load diagnostics. `decode` accepts only that shape
(ValueError otherwise), so a damaged entry costs a parse, never a wrong document.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from specops.compiler.diagnostics.diagnostic import Diagnostic, Span
from specops.compiler.frontend.loader import Document, Path_, RawSpan
from specops.compiler.frontend.project import Parsed

__all__ = ["decode_parsed", "encode_parsed"]


def _path(p: Any) -> Path_:
    if not (isinstance(p, list) and
            all(type(x) is int or isinstance(x, str) for x in p)):
        raise ValueError("bad path")
    return tuple(p)


def _raw(v: Any) -> RawSpan:
    if not (isinstance(v, list) and len(v) == 4 and all(type(x) is int for x in v)):
        raise ValueError("bad position")
    return (v[0], v[1], v[2], v[3])


def encode_parsed(parsed: Parsed, encode_diagnostic: Callable[[Diagnostic], Any]
                  ) -> list[Any]:
    """`load_text`'s result as plain JSON values (`encode_diagnostic` from lint_cache)."""
    docs, problems = parsed
    return [[[d.index, d.data, [d.span.line, d.span.col, d.span.end_line, d.span.end_col],
              [[list(p), list(r)] for p, r in d.values.items()],
              [[list(p), list(r)] for p, r in d.keys.items()],
              [[list(p), n] for p, n in d.literal_lines.items()],
              [list(p) for p in d.flagged]] for d in docs],
            [encode_diagnostic(x) for x in problems]]


def decode_parsed(file: str, value: Any,
                  decode_diagnostic: Callable[[str, Any], Diagnostic]) -> Parsed:
    """`encode_parsed` read back for `file`; ValueError for anything but that shape."""
    if not (isinstance(value, list) and len(value) == 2 and isinstance(value[0], list) and
            isinstance(value[1], list)):
        raise ValueError("bad entry")
    docs = []
    for d in value[0]:
        if not (isinstance(d, list) and len(d) == 7 and type(d[0]) is int and
                all(isinstance(x, list) for x in d[3:])):
            raise ValueError("bad document")
        doc = Document(file, d[0], d[1], Span(*_raw(d[2])))
        doc.values = {_path(p): _raw(r) for p, r in d[3]}
        doc.keys = {_path(p): _raw(r) for p, r in d[4]}
        for p, n in d[5]:
            if type(n) is not int:
                raise ValueError("bad line")
            doc.literal_lines[_path(p)] = n
        doc.flagged = {_path(p) for p in d[6]}
        docs.append(doc)
    return docs, [decode_diagnostic(file, x) for x in value[1]]
