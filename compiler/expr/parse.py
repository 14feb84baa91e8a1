"""Expression text -> `ir` tree, through Python's own parser and a whitelist.

Why `ast` in eval mode: the grammar is Python's (users already know its precedence), and
the parser is a C tokenizer we do not have to maintain. Nothing is ever evaluated: the
Python tree is walked against a whitelist and every node not on it is refused (SPEC402)
at its exact column. Bounds come first (SPEC407): the text length and bracket depth are
checked by a linear scan *before* `ast.parse`, and the tree depth is measured without
recursion, so hostile input (`((((...))))`, `1+1+...+1`, `--...-1`) fails fast and never
raises RecursionError.

The gate syntax `min(roc_auc by region)` is not Python. Before parsing, the word `by`
between brackets is replaced by the same-length operator `>>` (columns stay exact); a
literal `>>` in user text is refused first, so every `>>` the parser sees came from `by`.
"""

from __future__ import annotations

import ast
import functools
from dataclasses import dataclass

from specops.compiler.expr.ir import (
    Attr,
    Binary,
    Call,
    Compare,
    ExprNode,
    InList,
    Lit,
    Logical,
    Name,
    SliceOf,
    Unary,
)
from specops.compiler.expr.issues import ExprIssue

__all__ = ["MAX_DEPTH", "MAX_LENGTH", "ParseResult", "parse"]

MAX_LENGTH = 2000
MAX_DEPTH = 50

_BINOPS: dict[type[ast.operator], str] = {
    ast.Add: "add", ast.Sub: "sub", ast.Mult: "mul", ast.Div: "div",
    ast.FloorDiv: "floordiv", ast.Mod: "mod", ast.Pow: "pow",
}
_CMPOPS: dict[type[ast.cmpop], str] = {
    ast.Eq: "eq", ast.NotEq: "ne", ast.Lt: "lt", ast.LtE: "le", ast.Gt: "gt", ast.GtE: "ge",
}
_LITERAL_WORDS: dict[str, bool | None] = {"true": True, "false": False, "null": None}
_INT64 = (-(2**63), 2**63 - 1)

# Friendly names for refused constructs; anything else is named by its class.
_FORBIDDEN: dict[type[ast.AST], tuple[str, str | None]] = {
    ast.Lambda: ("lambda", None),
    ast.ListComp: ("a comprehension", None),
    ast.SetComp: ("a comprehension", None),
    ast.DictComp: ("a comprehension", None),
    ast.GeneratorExp: ("a generator expression", None),
    ast.Subscript: ("subscript `x[...]`", None),
    ast.Starred: ("`*` unpacking", None),
    ast.IfExp: ("`a if cond else b`", "write if_else(cond, a, b)"),
    ast.NamedExpr: ("assignment `:=`", None),
    ast.JoinedStr: ("an f-string", "use a plain string literal"),
    ast.FormattedValue: ("an f-string", "use a plain string literal"),
    ast.Dict: ("a dict literal", None),
    ast.Set: ("a set literal", "write `x in [a, b]`"),
    ast.List: ("a list outside `in [...]`", None),
    ast.Tuple: ("a tuple outside `in (...)`", None),
    ast.Await: ("await", None),
    ast.Yield: ("yield", None),
    ast.YieldFrom: ("yield", None),
    ast.Slice: ("a slice", None),
}
_BAD_BINOP_HELP: dict[type[ast.operator], str] = {
    ast.BitAnd: "use `and`", ast.BitOr: "use `or`", ast.BitXor: "use `!=` on booleans",
}


@dataclass(frozen=True, slots=True)
class ParseResult:
    tree: ExprNode | None       # None when any issue was found
    issues: tuple[ExprIssue, ...]


class _Offsets:
    """Python's col_offset is a UTF-8 byte offset; diagnostics need characters."""

    def __init__(self, text: str) -> None:
        data = text.encode("utf-8")
        self._ascii = len(data) == len(text)
        self._char_at_byte: list[int] = []
        if not self._ascii:
            for i, ch in enumerate(text):
                self._char_at_byte.extend([i] * len(ch.encode("utf-8")))
            self._char_at_byte.append(len(text))

    def char(self, byte_offset: int | None) -> int:
        if byte_offset is None:
            return 0
        if self._ascii:
            return byte_offset
        return self._char_at_byte[min(byte_offset, len(self._char_at_byte) - 1)]


def _prescan(text: str) -> tuple[str, list[ExprIssue]]:
    """Linear scan outside string literals: bracket depth, stray `>>`, comments and
    non-ASCII characters, and the `by` -> `>>` rewrite."""
    out = list(text)
    issues: list[ExprIssue] = []
    depth = 0
    quote: str | None = None
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if quote is not None:
            if ch == "\\":
                i += 2
                continue
            if ch == quote:
                quote = None
            i += 1
            continue
        if ch in "'\"":
            quote = ch
        elif ch == "#" or not ch.isascii():
            # Outside strings: a comment would hide text from reviewers, and Python folds
            # non-ASCII identifiers (NFKC: fullwidth letters read as ASCII ones).
            what = "a comment" if ch == "#" else f"the non-ASCII character {ch!r}"
            issues.append(ExprIssue("SPEC402", f"{what} outside a string literal is not "
                                    "allowed in expressions", i, i + 1))
            return text, issues
        elif ch in "([{":
            depth += 1
            if depth > MAX_DEPTH:
                issues.append(ExprIssue("SPEC407", f"expression nests deeper than {MAX_DEPTH} "
                                        "brackets", i, i + 1))
                return text, issues
        elif ch in ")]}":
            depth = max(depth - 1, 0)
        elif text.startswith(">>", i):
            issues.append(ExprIssue("SPEC402", "`>>` is not an operator of the expression "
                                    "language", i, i + 2))
            i += 2
            continue
        elif (text.startswith("by", i) and depth > 0 and i > 0 and i + 2 < n
              and text[i - 1].isspace() and text[i + 2].isspace()):
            out[i], out[i + 1] = ">", ">"
            i += 2
            continue
        i += 1
    return "".join(out), issues


def _too_deep(tree: ast.AST) -> ast.AST | None:
    """The first node deeper than MAX_DEPTH (iterative: never recurses)."""
    stack: list[tuple[ast.AST, int]] = [(tree, 0)]
    while stack:
        node, d = stack.pop()
        if d > MAX_DEPTH:
            return node
        stack.extend((child, d + 1) for child in ast.iter_child_nodes(node))
    return None


@functools.lru_cache(maxsize=16384)
def parse(text: str) -> ParseResult:
    """Parse one expression; never raises on user input.

    Cached: a large project repeats the same check text in many specs, and results are
    immutable."""
    if len(text) > MAX_LENGTH:
        return ParseResult(None, (ExprIssue(
            "SPEC407", f"expression is {len(text)} characters long; the limit is "
            f"{MAX_LENGTH}", 0, 1),))
    if "\x00" in text:
        at = text.index("\x00")
        return ParseResult(None, (ExprIssue("SPEC401", "expression contains a NUL character",
                                            at, at + 1),))
    # Same-length normalisation: newlines (folded YAML) become spaces, so every offset is
    # a column on one line; leading blanks are skipped (eval mode rejects an indent).
    flat = text.replace("\r", " ").replace("\n", " ")
    lead = len(flat) - len(flat.lstrip(" \t"))
    if not flat.strip():
        return ParseResult(None, (ExprIssue("SPEC401", "empty expression", 0, 1),))
    source, issues = _prescan(flat)
    if issues:
        return ParseResult(None, tuple(issues))
    body = source[lead:]
    try:
        tree = ast.parse(body, mode="eval")
    except SyntaxError as exc:
        return ParseResult(None, (_syntax_issue(exc, body, lead),))
    except (RecursionError, MemoryError):
        return ParseResult(None, (ExprIssue("SPEC407", "expression is too complex to parse",
                                            0, 1),))
    deep = _too_deep(tree)
    if deep is not None:
        start = _Offsets(body).char(getattr(deep, "col_offset", 0)) + lead
        return ParseResult(None, (ExprIssue("SPEC407", f"expression nests deeper than "
                                            f"{MAX_DEPTH} levels", start, start + 1),))
    conv = _Converter(body, lead)
    node = conv.expr(tree.body)
    if conv.issues or node is None:
        return ParseResult(None, tuple(conv.issues))
    return ParseResult(node, ())


def _syntax_issue(exc: SyntaxError, body: str, lead: int) -> ExprIssue:
    # CPython reports 1-based character offsets; 0 or None means "at the end".
    offset = exc.offset or 0
    start = offset - 1 if 0 < offset <= len(body) else len(body)
    if exc.lineno is not None and exc.lineno > 1:
        start = len(body)
    msg = exc.msg or "invalid syntax"
    return ExprIssue("SPEC401", f"syntax error: {msg}", start + lead, start + lead + 1)


class _Converter:
    """Whitelisted Python AST -> ir. Depth is already bounded, so recursion is safe."""

    def __init__(self, body: str, lead: int) -> None:
        self.offsets = _Offsets(body)
        self.lead = lead
        self.issues: list[ExprIssue] = []

    def span(self, node: ast.AST) -> tuple[int, int]:
        start = self.offsets.char(getattr(node, "col_offset", 0)) + self.lead
        end = self.offsets.char(getattr(node, "end_col_offset", None)) + self.lead
        return start, max(end, start + 1)

    def refuse(self, node: ast.AST, what: str, help: str | None = None,
               at: tuple[int, int] | None = None) -> None:
        start, end = at or self.span(node)
        self.issues.append(ExprIssue("SPEC402", f"{what} is not allowed in expressions",
                                     start, end, help))

    def name(self, ident: str, start: int, end: int) -> bool:
        if ident.startswith("__") or ident.endswith("__"):
            self.issues.append(ExprIssue("SPEC402", f"dunder name `{ident}` is not allowed "
                                         "in expressions", start, end))
            return False
        return True

    def expr(self, node: ast.expr) -> ExprNode | None:
        start, end = self.span(node)
        if isinstance(node, ast.Constant):
            return self.constant(node, start, end)
        if isinstance(node, ast.Name):
            if not self.name(node.id, start, end):
                return None
            if node.id in _LITERAL_WORDS:
                return Lit(_LITERAL_WORDS[node.id], start, end)
            return Name(node.id, start, end)
        if isinstance(node, ast.Attribute):
            return self.attribute(node, start, end)
        if isinstance(node, ast.BinOp):
            return self.binop(node, start, end)
        if isinstance(node, ast.UnaryOp):
            return self.unary(node, start, end)
        if isinstance(node, ast.BoolOp):
            args = [self.expr(v) for v in node.values]
            if any(a is None for a in args):
                return None
            op = "and" if isinstance(node.op, ast.And) else "or"
            return Logical(op, tuple(a for a in args if a is not None), start, end)
        if isinstance(node, ast.Compare):
            return self.compare(node, start, end)
        if isinstance(node, ast.Call):
            return self.call(node, start, end)
        what, help = _FORBIDDEN.get(type(node), (f"`{type(node).__name__}`", None))
        self.refuse(node, what, help)
        return None

    def constant(self, node: ast.Constant, start: int, end: int) -> Lit | None:
        value = node.value
        if value is None or isinstance(value, bool | str):
            return Lit(value, start, end)
        if isinstance(value, int):
            if not _INT64[0] <= value <= _INT64[1]:
                self.refuse(node, "an integer outside the int64 range")
                return None
            return Lit(value, start, end)
        if isinstance(value, float):
            if value != value or value in (float("inf"), float("-inf")):
                self.refuse(node, "a number too large for float64")
                return None
            return Lit(value, start, end)
        self.refuse(node, f"a {type(value).__name__} literal")
        return None

    def attribute(self, node: ast.Attribute, start: int, end: int) -> Attr | None:
        attr_start = end - len(node.attr)
        if not self.name(node.attr, attr_start, end):
            return None
        if not isinstance(node.value, ast.Name):
            self.refuse(node, "attribute access on anything but a plain name",
                        "only `champion.<metric>` (gates) and `model.<field>` (policies) exist")
            return None
        base = self.expr(node.value)
        if not isinstance(base, Name):
            if isinstance(base, Lit):
                self.refuse(node, "attribute access on a literal")
            return None
        return Attr(base, node.attr, attr_start, start, end)

    def binop(self, node: ast.BinOp, start: int, end: int) -> ExprNode | None:
        if isinstance(node.op, ast.RShift):  # only ever produced by the `by` rewrite
            metric, by = self.expr(node.left), self.expr(node.right)
            if metric is None or by is None:
                return None
            return SliceOf(metric, by, start, end)
        op = _BINOPS.get(type(node.op))
        if op is None:
            self.refuse(node, f"operator `{type(node.op).__name__}`",
                        _BAD_BINOP_HELP.get(type(node.op)))
            return None
        left, right = self.expr(node.left), self.expr(node.right)
        if left is None or right is None:
            return None
        return Binary(op, left, right, start, end)

    def unary(self, node: ast.UnaryOp, start: int, end: int) -> ExprNode | None:
        ops: dict[type[ast.unaryop], str] = {ast.Not: "not", ast.USub: "neg", ast.UAdd: "pos"}
        op = ops.get(type(node.op))
        if op is None:
            self.refuse(node, "operator `~`", "use `not`")
            return None
        arg = self.expr(node.operand)
        if arg is None:
            return None
        if op == "neg" and isinstance(arg, Lit) and isinstance(arg.value, int | float) \
                and not isinstance(arg.value, bool):
            return Lit(-arg.value, start, end)  # `-1` is a literal, not an operation
        return Unary(op, arg, start, end)

    def compare(self, node: ast.Compare, start: int, end: int) -> ExprNode | None:
        left = self.expr(node.left)
        parts: list[ExprNode] = []
        ok = left is not None
        for op, comparator in zip(node.ops, node.comparators, strict=True):
            if isinstance(op, ast.In | ast.NotIn):
                right: ExprNode | None = None
                items = self.members(comparator)
                if items is not None and left is not None:
                    cstart = left.start
                    cend = self.span(comparator)[1]
                    right = InList(left, items, isinstance(op, ast.NotIn), cstart, cend)
                    parts.append(right)
                ok = ok and items is not None
                left = self.expr(comparator) if items is None else None
                continue
            name = _CMPOPS.get(type(op))
            right = self.expr(comparator)
            if name is None:
                self.refuse(node, "`is` / `is not`", "use is_null(x) or ==")
                return None
            if left is not None and right is not None:
                parts.append(Compare(name, left, right, left.start, right.end))
            else:
                ok = False
            left = right
        if not ok or not parts:
            return None
        if len(parts) == 1:
            return parts[0]
        return Logical("and", tuple(parts), start, end)

    def members(self, node: ast.expr) -> tuple[Lit, ...] | None:
        if not isinstance(node, ast.List | ast.Tuple):
            self.refuse(node, "`in` with anything but a literal list",
                        'write `x in ["a", "b"]`')
            return None
        items: list[Lit] = []
        for elt in node.elts:
            item = self.expr(elt)
            if not isinstance(item, Lit):
                if item is not None:
                    self.refuse(elt, "a non-literal member of an `in` list")
                return None
            items.append(item)
        if not items:
            self.refuse(node, "an empty `in` list")
            return None
        return tuple(items)

    def call(self, node: ast.Call, start: int, end: int) -> ExprNode | None:
        for kw in node.keywords:
            self.refuse(kw, "a keyword argument", "arguments are positional")
        receiver: Name | None = None
        func = node.func
        if isinstance(func, ast.Name):
            fn, (fn_start, fn_end) = func.id, self.span(func)
        elif isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name):
            fn_end = self.span(func)[1]
            fn, fn_start = func.attr, fn_end - len(func.attr)
            base = self.expr(func.value)
            if not isinstance(base, Name):
                return None
            receiver = base
        else:
            before = len(self.issues)
            if isinstance(func, ast.Attribute):
                self.attribute(func, *self.span(func))  # reports dunders and chains
            if len(self.issues) == before:
                self.refuse(func, "calling anything but a named function")
            return None
        if not self.name(fn, fn_start, fn_end):
            return None
        args = [self.expr(a) for a in node.args]
        if node.keywords or any(a is None for a in args):
            return None
        return Call(fn, fn_start, fn_end, tuple(a for a in args if a is not None), receiver,
                    start, end)
