"""Plain YAML data to typed spec models, with pydantic errors mapped back to positions.

Why a mapping layer: pydantic reports `loc` tuples that include union branch names and
aliases; users need the line of the offending key or value, one message per mistake, and
a suggestion for typos. This module turns one into the other.
"""

from __future__ import annotations

import copy
import types
import typing
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ValidationError

from specops.compiler.diagnostics.diagnostic import Diagnostic, Span
from specops.compiler.diagnostics.suggest import closest, did_you_mean
from specops.compiler.frontend.loader import Document, Path_
from specops.compiler.kinds import KINDS, ProjectSpec
from specops.compiler.kinds.common import DURATION_PATTERN, NAME_PATTERN

__all__ = ["LoadedSpec", "allowed_keys", "validate_document", "validate_project_config"]


@dataclass(frozen=True, slots=True)
class LoadedSpec:
    """A validated spec together with the document it came from (for positions).

    `pruned` lists the paths that failed validation and were dropped so the rest of the
    spec could still be checked (references, expressions). Passes that would only repeat
    the mistake (e.g. "no gate" when `gates` was pruned) can consult it.
    """

    spec: Any
    doc: Document
    pruned: frozenset[Path_] = frozenset()

    @property
    def partial(self) -> bool:
        return bool(self.pruned)

    def was_pruned(self, *path: str | int) -> bool:
        """Whether the value at `path` (or an ancestor) failed validation and was dropped."""
        return any(path[: len(p)] == p for p in self.pruned)

    def reported(self, *path: str | int) -> bool:
        """Whether the value at `path` (or an ancestor) already has a diagnostic: it failed
        validation, or the loader or a template refused it (a failed template leaves its
        source text in place, e.g. a gate check that still reads `x >= {{ v }}`). A pass
        should not analyse such a value again."""
        return self.was_pruned(*path) or any(path[: len(p)] == p for p in self.doc.flagged)

    @property
    def kind(self) -> str:
        return str(self.spec.kind)

    @property
    def name(self) -> str:
        return str(self.spec.name)

    @property
    def file(self) -> str:
        return self.doc.file

    def span(self, *path: str | int) -> Span:
        return self.doc.value_span(tuple(path))

    def key_span(self, *path: str | int) -> Span:
        return self.doc.key_span(tuple(path))


_TYPE_WORDS = {
    "string_type": "a string", "int_type": "an integer", "float_type": "a number",
    "bool_type": "true or false", "dict_type": "a mapping", "list_type": "a list",
    "model_type": "a mapping", "int_from_float": "an integer", "none_required": "null",
    "literal_error": "one of the allowed values",
}


def _describe(value: Any) -> str:
    if isinstance(value, bool):
        return f"boolean `{str(value).lower()}`"
    if value is None:
        return "null"
    if isinstance(value, str):
        short = value if len(value) <= 40 else value[:37] + "..."
        return f"string `{short}`"
    if isinstance(value, int):
        return f"integer `{value}`"
    if isinstance(value, float):
        return f"number `{value}`"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return type(value).__name__


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    """BaseModel classes reachable from an annotation (through unions, lists, dicts)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is typing.Annotated:
        return _models_in(args[0])
    if origin in (typing.Union, types.UnionType):
        return [m for a in args for m in _models_in(a)]
    return []


def _field_models(model: type[BaseModel], key: str) -> tuple[list[type[BaseModel]], bool, bool]:
    """For a key of `model`: models inside it, and whether it is a dict or list of them."""
    for name, info in model.model_fields.items():
        if key in (name, info.alias):
            ann = info.annotation
            origin = typing.get_origin(ann)
            args = typing.get_args(ann)
            if origin is dict:
                return _models_in(args[1]), True, False
            if origin is list:
                return _models_in(args[0]), False, True
            return _models_in(ann), False, False
    return [], False, False


def allowed_keys(model: type[BaseModel], path: Path_) -> list[str]:
    """The keys accepted by the mapping at `path` inside a document of `model`."""
    current = [model]
    i = 0
    while i < len(path) and current:
        key = path[i]
        if not isinstance(key, str):
            return []
        models, is_dict, is_list = _field_models(current[0], key)
        i += 1
        if (is_dict or is_list) and i < len(path):
            i += 1
        current = models
    keys: list[str] = []
    for m in current:
        keys.extend(info.alias or name for name, info in m.model_fields.items())
    return keys


def _data_path(data: Any, loc: tuple[Any, ...]) -> tuple[Path_, tuple[Any, ...]]:
    """Split a pydantic loc into the part that exists in the data and the rest."""
    path: list[str | int] = []
    cur = data
    rest: list[Any] = []
    for seg in loc:
        if isinstance(cur, dict) and isinstance(seg, str) and seg in cur:
            path.append(seg)
            cur = cur[seg]
        elif isinstance(cur, list) and isinstance(seg, int) and 0 <= seg < len(cur):
            path.append(seg)
            cur = cur[seg]
        else:
            rest.append(seg)
    return tuple(path), tuple(rest)


def _error_to_diagnostic(doc: Document, model: type[BaseModel], err: Any,
                         base: Path_) -> Diagnostic:
    loc = tuple(err["loc"])
    path, rest = _data_path(doc.data, (*base, *loc))
    etype = err["type"]
    file = doc.file
    if etype == "extra_forbidden":
        key = path[-1] if path else (rest[-1] if rest else "?")
        keys = allowed_keys(model, path[len(base):-1]) if path else []
        return Diagnostic("SPEC201", f"unknown key `{key}`", file, doc.key_span(path),
                          help=did_you_mean(str(key), keys) or
                          (f"allowed keys: {', '.join(sorted(keys))}" if keys else None),
                          suggestion=None)
    if etype == "missing":
        field = next((s for s in reversed(rest) if isinstance(s, str)), "?")
        where = f" in `{path[-1]}`" if path and isinstance(path[-1], str) else ""
        if path and isinstance(path[-1], str):
            span = doc.key_span(path)
        else:  # the document itself or a list item: point at where the mapping starts
            start = doc.value_span(path)
            span = Span(start.line, start.col, start.line, start.col + 1)
        return Diagnostic("SPEC202", f"missing required field `{field}`{where}", file, span)
    value = err.get("input")
    # "[key]" in a loc means the mapping key itself is wrong (a dict key's pattern or enum)
    span = doc.key_span(path) if "[key]" in rest and path else doc.value_span(path)
    if etype.endswith("_type") or etype in ("int_from_float", "model_attributes_type"):
        want = err.get("want") or _TYPE_WORDS.get(etype, etype.replace("_type", ""))
        return Diagnostic("SPEC203", f"expected {want}, got {_describe(value)}", file, span)
    message = err["msg"]
    help_text = None
    if etype == "literal_error":
        expected = err.get("ctx", {}).get("expected", "")
        choices = [c.strip().strip("'\"") for c in expected.replace(" or ", ",").split(",")]
        choices = [c for c in choices if c]
        help_text = did_you_mean(str(value), choices) if isinstance(value, str) else None
        message = f"{_describe(value)} is not allowed; expected {expected}"
    elif etype == "string_pattern_mismatch":
        pattern = str(err.get("ctx", {}).get("pattern", ""))
        message = f"{_describe(value)} is not valid here ({_lower_first(message)})"
        help_text = _PATTERN_HELP.get(pattern)
    elif etype in ("too_short", "too_long"):
        message = _lower_first(message).replace(" after validation", "")
    else:
        message = f"{_describe(value)} is not allowed: {_lower_first(message)}"
    return Diagnostic("SPEC204", message, file, span, help=help_text)


_PATTERN_HELP = {
    NAME_PATTERN: "names use letters, digits and _, and do not start with a digit",
    DURATION_PATTERN: "durations look like 90d, 12h, 30m, 45s or 2w",
}


def _lower_first(text: str) -> str:
    return text[:1].lower() + text[1:]


def _collapse(errors: list[Any], data: Any, base: Path_) -> list[Any]:
    """Drop union-branch noise: keep one error per position, preferring deep ones."""
    by_path: dict[Path_, list[Any]] = {}
    for err in errors:
        path, _ = _data_path(data, (*base, *tuple(err["loc"])))
        by_path.setdefault(path, []).append(err)
    kept: list[Any] = []
    paths = list(by_path)
    for path, errs in by_path.items():
        deeper = any(p != path and p[: len(path)] == path for p in paths)
        non_type = [e for e in errs if not e["type"].endswith("_type")]
        if deeper and not non_type:
            continue  # a branch mismatch above errors from the branch that fits
        if len(errs) > 1 and not non_type:
            kept.append(_merge_types(errs))
        elif non_type:
            seen: set[tuple[Any, ...]] = set()
            for e in non_type:
                key = (e["type"], tuple(e["loc"]))
                if key not in seen:
                    seen.add(key)
                    kept.append(e)
        else:
            kept.extend(errs)
    return kept


def _merge_types(errs: list[Any]) -> Any:
    words = []
    for e in errs:
        w = _TYPE_WORDS.get(e["type"], e["type"])
        if w not in words:
            words.append(w)
    merged = dict(errs[0])
    merged["type"] = "union_type"
    merged["want"] = ", ".join(words[:-1]) + " or " + words[-1] if len(words) > 1 else words[0]
    return merged


def _without_flagged(doc: Document, data: Any, base: Path_) -> tuple[Any, frozenset[Path_]]:
    """`data` minus the mapping values the loader or templates refused.

    Why: a refused `!!python/name:x` leaves an empty string and a failed template leaves
    its source text; validating either would pass garbage on to later passes. Dropped,
    the field takes its default, or is missing (and that error is filtered as flagged).
    """
    paths = sorted((p[len(base):] for p in doc.flagged if p[: len(base)] == base
                    and len(p) > len(base) and isinstance(p[-1], str)), key=len)
    if not paths:
        return data, frozenset()
    data = copy.deepcopy(data)
    removed: set[Path_] = set()
    for path in paths:
        parent: Any = data
        for seg in path[:-1]:
            if isinstance(parent, dict) and seg in parent:
                parent = parent[seg]
            elif isinstance(parent, list) and isinstance(seg, int) and seg < len(parent):
                parent = parent[seg]
            else:
                parent = None
                break
        if isinstance(parent, dict) and path[-1] in parent:
            del parent[path[-1]]
            removed.add((*base, *path))
    return data, frozenset(removed)


def _flagged(doc: Document, base: Path_, err: Any) -> bool:
    """The error sits at or below a value the loader or templates already reported."""
    path, _ = _data_path(doc.data, (*base, *tuple(err["loc"])))
    return any(path[: len(f)] == f for f in doc.flagged)


def _drop_misspelt_required(errors: list[Any], data: Any, base: Path_) -> list[Any]:
    """`ownr: x` gives both "unknown key ownr" and "missing owner": one mistake, one report.

    The unknown key's did-you-mean already names the required field, so the missing-field
    error in the same mapping is dropped when the unknown key is close to it.
    """
    unknown: dict[Path_, list[str]] = {}
    for e in errors:
        if e["type"] == "extra_forbidden":
            path, rest = _data_path(data, (*base, *tuple(e["loc"])))
            if path:
                unknown.setdefault(path[:-1], []).append(str(path[-1]))
    if not unknown:
        return errors
    kept = []
    for e in errors:
        if e["type"] == "missing":
            path, rest = _data_path(data, (*base, *tuple(e["loc"])))
            field = next((s for s in reversed(rest) if isinstance(s, str)), None)
            if field and any(closest(k, [field]) for k in unknown.get(path, [])):
                continue
        kept.append(e)
    return kept


_SALVAGE_ROUNDS = 8
_IDENTITY = {("kind",), ("name",), ("version",)}


def _choices(err: Any) -> list[str]:
    """The allowed values named by a pydantic literal_error."""
    expected = str(err.get("ctx", {}).get("expected", ""))
    return [c for c in (c.strip().strip("'\"") for c in
                        expected.replace(" or ", ",").split(",")) if c]


def _walk_to(data: Any, path: Path_) -> Any:
    for seg in path:
        data = data[seg]
    return data


@dataclass(slots=True)
class _Repairs:
    """What salvage dropped, kept so that a required field can be put back.

    Why: dropping a misspelt required key (`estimater:`) or a misspelt required value
    (`task: binary_clasification`) makes the whole document fail, which hid every other
    mistake in it (unknown columns, gate metrics for the wrong task) until the typo was
    fixed: one error per lint run. When the diagnostic already says "did you mean", the
    spec is checked as if the suggestion were taken; the typo itself stays reported.
    """

    unknown: dict[Path_, Any]           # dropped unknown key -> its value
    guesses: dict[Path_, str]           # dropped literal value -> the closest allowed one
    moved: dict[Path_, Path_]           # repaired field -> the misspelt key it came from
    done: set[Path_]

    def repair(self, current: Any, err: Any, pruned: set[Path_]) -> bool:
        """Put back the required field a "missing" error names, if a typo explains it."""
        parent_path, rest = _data_path(current, tuple(err["loc"]))
        if len(rest) != 1 or not isinstance(rest[0], str):
            return False
        field = rest[0]
        target = (*parent_path, field)
        parent = _walk_to(current, parent_path)
        if target in self.done or not isinstance(parent, dict):
            return False
        if target in self.guesses:
            parent[field] = self.guesses[target]
            pruned.discard(target)
            self.done.add(target)
            return True
        for key, value in self.unknown.items():
            if key[:-1] == parent_path and isinstance(key[-1], str) and \
                    closest(key[-1], [field]) == field:
                parent[field] = copy.deepcopy(value)
                self.moved[target] = key
                self.done.add(target)
                return True
        return False

    def remember(self, err: Any, cut: Path_, exact: bool, value: Any) -> None:
        """Keep a dropped unknown key's value, or the closest choice for a literal typo
        (`exact`: the error is about this very value, not something inside it)."""
        if err["type"] == "extra_forbidden":
            self.unknown[cut] = value
        elif err["type"] == "literal_error" and exact and isinstance(value, str):
            guess = closest(value, _choices(err))
            if guess is not None:
                self.guesses[cut] = guess


def _salvage(model: type[BaseModel], data: Any,
             errors: list[Any]) -> tuple[Any, frozenset[Path_], dict[Path_, Path_]]:
    """Drop the keys that failed validation and validate the rest again.

    Why: a typo in one key must not hide the spec from every later pass (its references
    would go unchecked, and every spec that points at it would report it as unknown).
    Only mapping keys are dropped, never list items, so list indices (and the spans
    passes compute from them) stay true. A dropped optional key takes its default; a
    dropped required key is put back when a typo explains it (see _Repairs), else its
    parent fails in the next round, up to the document, where we give up and return None.
    Also returns the repaired fields' misspelt keys, so spans can be found through them.
    """
    current = copy.deepcopy(data)
    pruned: set[Path_] = set()
    repairs = _Repairs({}, {}, {}, set())
    for _ in range(_SALVAGE_ROUNDS):
        removed = False
        # missing fields last: the misspelt key that explains one is dropped (and kept) first
        for err in sorted(errors, key=lambda e: e["type"] == "missing"):
            if err["type"] == "missing" and repairs.repair(current, err, pruned):
                removed = True
                continue
            found, rest = _data_path(current, tuple(err["loc"]))
            cut = found
            while cut and not isinstance(cut[-1], str):
                cut = cut[:-1]
            if not cut:
                return None, frozenset(), {}
            parent = _walk_to(current, cut[:-1])
            if isinstance(parent, dict) and cut[-1] in parent:
                repairs.remember(err, cut, cut == found and not rest, parent.pop(cut[-1]))
                pruned.add(cut)
                removed = True
        if not removed:
            return None, frozenset(), {}
        try:
            return model.model_validate(current), frozenset(pruned), repairs.moved
        except ValidationError as exc:
            errors = _collapse(exc.errors(include_url=False), current, ())
    return None, frozenset(), {}


def _alias_spans(doc: Document, moved: dict[Path_, Path_], base: Path_) -> None:
    """Let a repaired field's paths find the spans of the misspelt key it came from."""
    for target, source in moved.items():
        src, dst = (*base, *source), (*base, *target)
        for table in (doc.values, doc.keys):
            for path in [p for p in table if p[: len(src)] == src]:
                table.setdefault((*dst, *path[len(src):]), table[path])
        for path in [p for p in doc.literal_lines if p[: len(src)] == src]:
            doc.literal_lines.setdefault((*dst, *path[len(src):]), doc.literal_lines[path])
        for path in [p for p in doc.flagged if p[: len(src)] == src]:
            doc.flagged.add((*dst, *path[len(src):]))


def _validate(doc: Document, model: type[BaseModel], data: Any,
              base: Path_) -> tuple[Any, list[Diagnostic], frozenset[Path_]]:
    data, removed = _without_flagged(doc, data, base)
    try:
        return model.model_validate(data), [], removed
    except ValidationError as exc:
        raw = exc.errors(include_url=False)
        shown = [e for e in raw if not _flagged(doc, base, e)]
        errors = _drop_misspelt_required(_collapse(shown, doc.data, base), doc.data, base)
        diags = [_error_to_diagnostic(doc, model, err, base) for err in errors]
        spec, pruned, moved = _salvage(model, data, _collapse(raw, data, ()))
        if spec is not None:
            _alias_spans(doc, moved, base)
        return spec, diags, (pruned | removed) if spec is not None else pruned


def validate_document(doc: Document) -> tuple[LoadedSpec | None, list[Diagnostic]]:
    data = doc.data
    if not isinstance(data, dict):
        return None, [Diagnostic("SPEC108", f"a spec document must be a mapping, not "
                                 f"{_describe(data)}", doc.file, doc.span)]
    kind = data.get("kind")
    if kind is None:
        return None, [Diagnostic("SPEC206", "document has no `kind`", doc.file,
                                 Span(doc.span.line, doc.span.col, doc.span.line,
                                      doc.span.col + 1),
                                 help="start the document with e.g. `kind: model`")]
    if not isinstance(kind, str) or kind not in KINDS:
        shown = f"`{kind}`" if isinstance(kind, str) else _describe(kind)
        return None, [Diagnostic("SPEC205", f"unknown kind {shown}", doc.file,
                                 doc.value_span(("kind",)),
                                 help=did_you_mean(str(kind), KINDS) or
                                 f"kinds are: {', '.join(KINDS)}")]
    spec, diags, pruned = _validate(doc, KINDS[kind], data, ())
    if any(p[:1] in _IDENTITY for p in pruned):
        # a default name or version would stand in for the one written: no salvage
        return None, diags
    return (LoadedSpec(spec, doc, pruned) if spec is not None else None), diags


def validate_project_config(doc: Document) -> tuple[ProjectSpec | None, list[Diagnostic]]:
    if not isinstance(doc.data, dict):
        return None, [Diagnostic("SPEC108", "specops.yaml must be a mapping", doc.file,
                                 doc.span)]
    spec, diags, _ = _validate(doc, ProjectSpec, doc.data, ())
    return spec, diags
