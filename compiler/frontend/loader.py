"""YAML text to plain Python values plus a position for every key and value.

Why not `yaml.safe_load`: it forgets positions, keeps the last of duplicate keys, turns
`no` into False and expands aliases without limit. We let libyaml (C) compose the node
graph, which is fast and never constructs objects, then build plain values ourselves in
one walk that records spans, refuses tags, duplicates and YAML 1.1 booleans, and stops
expanding after a node budget (alias bombs) or a depth limit (recursive aliases).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import yaml
from yaml.constructor import SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode
from yaml.reader import ReaderError

from specops.compiler.diagnostics.diagnostic import Diagnostic, Severity, Span

__all__ = [
    "MAX_ALIAS_NODES",
    "MAX_DEPTH",
    "MAX_DOCUMENTS",
    "MAX_FILE_BYTES",
    "MAX_NODES",
    "Document",
    "Path_",
    "RawSpan",
    "load_text",
]

MAX_FILE_BYTES = 8 * 1024 * 1024
MAX_NODES = 1_000_000
# Nodes reached a second time through an alias. Real specs reuse a few anchors; the
# billion-laughs document re-expands the same nodes exponentially. A separate, lower
# budget refuses it in a fraction of a second instead of after a million nodes.
MAX_ALIAS_NODES = 100_000
MAX_DEPTH = 64
# Documents per file: composing is the slow part (PyYAML resolves every scalar in Python),
# so a file of a million tiny documents is refused after this many, not after a minute.
MAX_DOCUMENTS = 10_000

Path_ = tuple[str | int, ...]
RawSpan = tuple[int, int, int, int]

try:  # libyaml when available; the pure-Python loader gives the same nodes.
    _Base: type = yaml.CSafeLoader
except AttributeError:  # pragma: no cover - wheels ship libyaml
    _Base = yaml.SafeLoader

# The tag of a node is a pure function of (kind, value, implicit) for the safe loader (its
# implicit resolvers are fixed and it has no path resolvers), but PyYAML works it out in
# Python with a regex scan for every scalar even under libyaml. Spec files repeat most
# values (keys, column names, ops), so a C-level memo answers most of the 125,000 scalars
# of the 1,000-model project without entering Python at all.
_RESOLVER = yaml.resolver.Resolver()
_resolve = functools.lru_cache(maxsize=1 << 16)(_RESOLVER.resolve)


class _Loader(_Base):  # type: ignore[misc]
    resolve = staticmethod(_resolve)

_STR = "tag:yaml.org,2002:str"
_INT = "tag:yaml.org,2002:int"
_FLOAT = "tag:yaml.org,2002:float"
_BOOL = "tag:yaml.org,2002:bool"
_NULL = "tag:yaml.org,2002:null"
_TIMESTAMP = "tag:yaml.org,2002:timestamp"
_MAP = "tag:yaml.org,2002:map"
_SEQ = "tag:yaml.org,2002:seq"
_MERGE = "tag:yaml.org,2002:merge"
_TRUE_FALSE = {"true": True, "false": False}
# PyYAML resolves yes/no/on/off but not the single letters, which YAML 1.1 also lists
# and other parsers (Go yaml.v2, some editors) read as booleans.
_YES_NO_LETTERS = frozenset({"y", "Y", "n", "N"})
# YAML 1.2 core floats. PyYAML (YAML 1.1) reads `1e-4` and `1.0e3` as strings because
# 1.1 wants a dot and a signed exponent; every spec author means a number.
_FLOAT_12 = re.compile(r"^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$")
_SCALARS = {_STR, _INT, _FLOAT, _BOOL, _NULL, _TIMESTAMP}
_NUMBER_START = frozenset("+-.0123456789")   # every `_FLOAT_12` match starts with one
_NUMBERS = SafeConstructor()


@dataclass(slots=True)
class Document:
    """One YAML document: plain data plus spans keyed by path from the document root."""

    file: str
    index: int
    data: Any
    span: Span
    # Positions as raw 0-based (line, col, end_line, end_col) marks, turned into Spans only
    # when asked for. Why: a large project has ~100k nodes; tuples of ints are untracked
    # by the cyclic GC, while 100k Span objects made each collection rescan them
    # (bench/lint_scale.py). Read them through value_span/key_span.
    values: dict[Path_, RawSpan] = field(default_factory=dict)
    keys: dict[Path_, RawSpan] = field(default_factory=dict)
    # Literal block scalars (`key: |`): path -> 1-based line of the first content line,
    # so a template error on the n-th line of the value points at the right file line.
    literal_lines: dict[Path_, int] = field(default_factory=dict)
    # Values already reported (a refused tag, a YAML 1.1 boolean, a failed template):
    # schema errors at or below these paths would only repeat the same mistake.
    flagged: set[Path_] = field(default_factory=set)

    def value_span(self, path: Path_) -> Span:
        """The span of the value at `path`, or of its nearest existing ancestor."""
        p = tuple(path)
        while p:
            raw = self.values.get(p)
            if raw is not None:
                return _to_span(raw)
            p = p[:-1]
        return self.span

    def key_span(self, path: Path_) -> Span:
        """The span of the key that introduces `path` (falls back to the value)."""
        p = tuple(path)
        while p:
            raw = self.keys.get(p)
            if raw is not None:
                return _to_span(raw)
            p = p[:-1]
        return self.span


def _raw(node: Node) -> RawSpan:
    s, e = node.start_mark, node.end_mark
    return (s.line, s.column, e.line, e.column)


def _to_span(raw: RawSpan) -> Span:
    line, col, end_line, end_col = raw
    if end_line == line and end_col <= col:
        return Span(line + 1, col + 1, line + 1, col + 2)
    return Span(line + 1, col + 1, end_line + 1, end_col + 1)


def _span(node: Node) -> Span:
    return _to_span(_raw(node))


class _Budget(Exception):
    def __init__(self, node: Node, code: str, message: str) -> None:
        super().__init__(message)
        self.node, self.code, self.message = node, code, message


class _Builder:
    """Walks composed nodes into plain values, collecting diagnostics."""

    def __init__(self, file: str, doc: Document, diagnostics: list[Diagnostic]) -> None:
        self.file = file
        self.doc = doc
        self.diagnostics = diagnostics
        self.nodes = 0
        self.path: Path_ = ()
        self.aliased = 0
        self.seen: set[int] = set()

    def error(self, code: str, node: Node, message: str, help: str | None = None,
              severity: Severity = Severity.ERROR, span: Span | None = None) -> None:
        self.diagnostics.append(Diagnostic(code, message, self.file, span or _span(node),
                                           severity, help=help))

    def build(self, node: Node, path: Path_, depth: int) -> Any:
        self.nodes += 1
        if self.nodes > MAX_NODES:
            raise _Budget(node, "SPEC105",
                          f"document holds more than {MAX_NODES:,} values")
        if depth > MAX_DEPTH:
            raise _Budget(node, "SPEC106", f"document nests deeper than {MAX_DEPTH} levels")
        if id(node) in self.seen:
            self.aliased += 1
            if self.aliased > MAX_ALIAS_NODES:
                raise _Budget(node, "SPEC105", f"aliases expand to more than "
                              f"{MAX_ALIAS_NODES:,} nodes (alias bomb?)")
        else:
            self.seen.add(id(node))
        start, end = node.start_mark, node.end_mark   # `_raw`, inlined: once per value
        self.doc.values[path] = (start.line, start.column, end.line, end.column)
        self.path = path
        if isinstance(node, ScalarNode):
            style = node.style
            if style == "|" and "\n" in node.value:
                self.doc.literal_lines[path] = start.line + 2
            if node.tag == _STR:   # most values: `scalar`'s string case, without the call
                text = node.value
                if not style:
                    if text[:1] in _NUMBER_START and _FLOAT_12.match(text):
                        return float(text)
                    if text in _YES_NO_LETTERS:
                        self.implicit_boolean(node)
                return text
            return self.scalar(node)
        if isinstance(node, SequenceNode):
            if node.tag != _SEQ:
                self.bad_tag(node)
            return [self.build(child, (*path, i), depth + 1) for i, child in enumerate(node.value)]
        if isinstance(node, MappingNode):
            if node.tag != _MAP:
                self.bad_tag(node)
            return self.mapping(node, path, depth)
        raise AssertionError(f"unexpected node {node!r}")  # pragma: no cover

    def bad_tag(self, node: Node) -> None:
        self.doc.flagged.add(self.path)
        self.error("SPEC104", node, f"tag {node.tag!r} is not allowed in specs",
                   help="remove the tag; specs hold only plain YAML values")

    def scalar(self, node: ScalarNode) -> Any:
        tag, text = node.tag, node.value
        if tag not in _SCALARS:
            self.bad_tag(node)
            return text
        if tag == _STR and not node.style and _FLOAT_12.match(text):
            return float(text)
        if tag in (_STR, _TIMESTAMP):
            if text in _YES_NO_LETTERS and not node.style:
                self.implicit_boolean(node)
            return text
        if tag == _NULL:
            return None
        if tag == _BOOL:
            if text.lower() in _TRUE_FALSE:
                return _TRUE_FALSE[text.lower()]
            if not node.style:
                self.implicit_boolean(node)
            return text
        if tag == _INT:
            try:
                return _NUMBERS.construct_yaml_int(node)
            except ValueError:
                self.doc.flagged.add(self.path)
                self.error("SPEC203", node, f"`{text}` is not a valid integer")
                return text
        try:
            return _NUMBERS.construct_yaml_float(node)
        except ValueError:
            self.doc.flagged.add(self.path)
            self.error("SPEC203", node, f"`{text}` is not a valid number")
            return text

    def implicit_boolean(self, node: ScalarNode) -> None:
        self.doc.flagged.add(self.path)
        text = node.value
        self.diagnostics.append(Diagnostic(
            "SPEC103", f"`{text}` is a boolean in YAML 1.1 (and a string in YAML 1.2)",
            self.file, _span(node),
            help="write true or false for a boolean, or quote it for a string",
            suggestion=f'"{text}"'))

    def mapping(self, node: MappingNode, path: Path_, depth: int) -> dict[str, Any]:
        out: dict[str, Any] = {}
        merged: dict[str, Any] = {}
        keys = self.doc.keys
        for key_node, value_node in node.value:
            tag = key_node.tag
            if tag == _MERGE:
                merged.update(self.merge(value_node, path, depth))
                continue
            if tag == _STR and isinstance(key_node, ScalarNode):   # `key`'s common case
                key: str = key_node.value
            else:
                maybe = self.key(key_node)
                if maybe is None:
                    continue
                key = maybe
            child = (*path, key)
            if key in out:
                self.error("SPEC102", key_node, f"duplicate key `{key}`",
                           help=f"`{key}` is already defined at line "
                                f"{keys[child][0] + 1}; YAML would silently keep "
                                "only the last one")
                continue
            start, end = key_node.start_mark, key_node.end_mark
            keys[child] = (start.line, start.column, end.line, end.column)
            out[key] = self.build(value_node, child, depth + 1)
        for key, value in merged.items():
            out.setdefault(key, value)
        return out

    def merge(self, node: Node, path: Path_, depth: int) -> dict[str, Any]:
        sources = node.value if isinstance(node, SequenceNode) else [node]
        result: dict[str, Any] = {}
        for source in sources:
            if not isinstance(source, MappingNode):
                self.error("SPEC108", source, "a merge key `<<` needs a mapping or a list of "
                           "mappings")
                continue
            for k, v in self.mapping(source, path, depth + 1).items():
                result.setdefault(k, v)
        return result

    def key(self, node: Node) -> str | None:
        if isinstance(node, ScalarNode) and node.tag in (_STR, _TIMESTAMP):
            return str(node.value)
        if isinstance(node, ScalarNode) and node.tag in (_INT, _FLOAT):
            return str(node.value)
        if isinstance(node, ScalarNode) and node.tag == _BOOL:
            self.error("SPEC107", node,
                       f"key `{node.value}` is read as a boolean by YAML 1.1",
                       help=f'quote the key: "{node.value}":')
            return str(node.value)
        kind = {ScalarNode: "null", SequenceNode: "a sequence", MappingNode: "a mapping"}
        self.error("SPEC107", node, f"mapping keys must be strings, not {kind[type(node)]}")
        return None


def _position(text: str, exc: yaml.YAMLError) -> tuple[int, int]:
    """1-based line and column of a parse error, always inside the file.

    Why not just `problem_mark`: for an unclosed quote or bracket libyaml reports the end
    of the stream (one line past the last), while `context_mark` is where the quote or
    bracket opened, which is what the user has to fix.
    """
    if isinstance(exc, ReaderError):
        before = text[: exc.position]
        line, col = before.count("\n") + 1, exc.position - (before.rfind("\n") + 1) + 1
    else:
        problem = getattr(exc, "problem_mark", None)
        context = getattr(exc, "context_mark", None)
        mark = problem or context
        beyond = problem is not None and problem.line >= len(text.splitlines())
        if context is not None and beyond:
            mark = context  # the stream ended: point where the open construct began
        if context is not None and "end of stream" in str(getattr(exc, "problem", "")):
            mark = context
        line, col = (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)
    lines = text.splitlines() or [""]
    if line > len(lines):
        line, col = len(lines), len(lines[-1]) + 1
    return line, max(1, min(col, len(lines[line - 1]) + 1))


def _syntax_diagnostic(file: str, text: str, exc: yaml.YAMLError) -> Diagnostic:
    line, col = _position(text, exc)
    if isinstance(exc, ReaderError):
        return Diagnostic("SPEC002", f"control character #x{exc.character:02x} is not "
                          f"allowed in YAML ({exc.reason})", file, Span.point(line, col))
    problem = getattr(exc, "problem", None) or str(exc)
    context = getattr(exc, "context", None)
    message = f"{problem}" + (f" ({context})" if context else "")
    if "maximum nesting depth" in message:
        return Diagnostic("SPEC106", "document nests too deeply to parse", file,
                          Span.point(line, col))
    return Diagnostic("SPEC101", f"invalid YAML: {message}", file, Span.point(line, col))


_DOC_START = re.compile(r"---(?:[ \t]|$)")


def _documents(text: str) -> Iterator[Node]:
    loader = _Loader(text)
    try:
        while loader.check_node():
            node = loader.get_node()
            if node is None:
                continue
            if isinstance(node, ScalarNode) and node.tag == _NULL and node.value == "":
                continue  # an empty document, e.g. after a trailing `---`
            yield node
    finally:
        loader.dispose()


def _parse(file: str, text: str, diagnostics: list[Diagnostic]) -> list[Document]:
    """Every document of the file; after a syntax error, go on at the next `---` line.

    Why resume: one broken document should not hide the errors in the others. Earlier
    lines are replaced by empty lines so that marks keep their file positions.
    """
    documents: list[Document] = []
    lines = text.splitlines(keepends=True)
    start = 0
    while True:
        chunk = text if start == 0 else "\n" * start + "".join(lines[start:])
        try:
            for node in _documents(chunk):
                if len(documents) >= MAX_DOCUMENTS:
                    diagnostics.append(Diagnostic(
                        "SPEC105", f"file holds more than {MAX_DOCUMENTS:,} documents; the "
                        "rest are not read", file, _span(node)))
                    return documents
                doc = Document(file, len(documents), None, _span(node))
                builder = _Builder(file, doc, diagnostics)
                try:
                    doc.data = builder.build(node, (), 0)
                except _Budget as exc:
                    diagnostics.append(Diagnostic(exc.code, exc.message, file,
                                                  _span(exc.node)))
                    continue
                documents.append(doc)
            return documents
        except yaml.YAMLError as exc:
            diag = _syntax_diagnostic(file, text, exc)
            diagnostics.append(diag)
            first = max(start + 1, diag.span.line - 1)
            start = next((i for i in range(first, len(lines)) if _DOC_START.match(lines[i])),
                         -1)
            if start < 0:
                return documents


def load_text(file: str, raw: bytes | str) -> tuple[list[Document], list[Diagnostic]]:
    """Parse one file into documents; never raises for bad input."""
    diagnostics: list[Diagnostic] = []
    size = len(raw)
    if size > MAX_FILE_BYTES:
        return [], [Diagnostic("SPEC003", f"file is {size:,} bytes; the limit is "
                               f"{MAX_FILE_BYTES:,}", file, Span.point(1, 1))]
    if isinstance(raw, bytes):
        if b"\x00" in raw:
            return [], [Diagnostic("SPEC002", "file contains NUL bytes; it is not YAML text",
                                   file, Span.point(1, 1))]
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            line = raw[: exc.start].count(b"\n") + 1
            return [], [Diagnostic("SPEC002", f"file is not valid UTF-8 (byte {exc.start})",
                                   file, Span.point(line, 1))]
    else:
        text = raw
    try:
        documents = _parse(file, text, diagnostics)
    except RecursionError:
        documents = []
        diagnostics.append(Diagnostic("SPEC106", "document nests too deeply to parse", file,
                                      Span.point(1, 1)))
    if not documents and not diagnostics:
        diagnostics.append(Diagnostic("SPEC004", "file holds no YAML document", file,
                                      Span.point(1, 1), Severity.WARNING))
    return documents, diagnostics
