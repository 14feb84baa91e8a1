"""A plan file stores each repeated structure once: `shared` entries referenced by id.

Why: in a 1,000-model project most of the plan repeats. Every model's gate node holds the
same gate checks, a feature view's join entry appears in every training set that uses it,
an approval's rules with their eligible people in every model it governs, and every node
of one op carries the same resources and retry. Written out in full that was 26.7 MB;
packed it is a few MB, and still one file: one digest, one artifact to sign or diff.

The packed form is plain JSON with two reserved keys:

- `{"$ref": ID}` stands for `shared[ID]`;
- `{"$base": ID, k: v, ...}` stands for `shared[ID]` with the keys `k` set to `v`
  (a shallow merge: the values common to most members of a family, such as the nodes of
  one op or the `facts` of every model, are stored once and each member keeps what differs);
- a literal key that starts with `$` is written with one more `$` (`$$x` means `$x`), so
  no data can pass for a reference.

ID is the first 16 hex digits of the sha256 of the entry's compact canonical JSON as
stored. Reading (`unpack`) checks every id against its entry and refuses a plan with a
missing, mismatched or unused entry, so a packed plan is verifiable on its own, and
unpacking gives back exactly the plan that was packed (`tests/contract/test_plan_pack.py`).
Packing is deterministic: the same plan always packs to the same bytes.
"""

from __future__ import annotations

import functools
import gc
import hashlib
from collections import Counter
from collections.abc import Callable, Iterable
from json.encoder import encode_basestring
from typing import Any, ParamSpec, TypeVar

from specops.contract.canonical import compact_json
from specops.contract.plan_records import FINGERPRINT_VERSION

__all__ = ["BASE", "REF", "Packer", "PlanPackError", "fingerprint_of", "is_packed", "pack",
           "packed_text", "unpack"]

REF = "$ref"
BASE = "$base"
_P = ParamSpec("_P")
_T = TypeVar("_T")
_MIN_SHARED = 48        # bytes of compact JSON below which a reference saves nothing
_MAX_DEPTH = 64
_ID_HEX = 12
_ENCODE = compact_json   # the encoder built once (contract/canonical.py)


class PlanPackError(ValueError):
    """A packed plan whose references do not hold (a one-line reason)."""


def is_packed(plan: Any) -> bool:
    return isinstance(plan, dict) and "shared" in plan


def _id(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:_ID_HEX]


def fingerprint_of(op: str, params_text: str, input_fingerprints: list[str],
                   version: int) -> str:
    """A node fingerprint (docs/plan.md) from its params' compact canonical JSON: the
    sha256 of `{"format_version", "inputs", "op", "params"}` written the same way."""
    body = (f'{{"format_version":{version},"inputs":{_ENCODE(input_fingerprints)},'
            f'"op":{_ENCODE(op)},"params":{params_text}}}')
    return "sha256:" + hashlib.sha256(body.encode("utf-8")).hexdigest()


def _escape(value: Any) -> Any:
    """Literal keys starting with `$` get one more `$`."""
    if isinstance(value, dict):
        return {(f"${k}" if k.startswith("$") else k): _escape(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_escape(v) for v in value]
    return value


def _scalar(v: Any) -> str:
    """A JSON scalar's compact text, as the encoder writes it, without its per-call cost."""
    t = type(v)
    if t is str:
        return encode_basestring(v)
    if t is int:
        return int.__repr__(v)
    if v is None:
        return "null"
    if t is bool:
        return "true" if v else "false"
    return _ENCODE(v)    # floats (NaN refused) and anything unexpected


_SCALARS = (str, int, float, bool, type(None))
_ABSENT = object()
_FLAT = frozenset(_SCALARS)
_STR = frozenset((str,))


class Packer:
    """Texts are computed once per object (`text`); equality of values is decided on a
    cheap signature where one exists (`sig`), so packing costs about one serialisation."""

    def __init__(self) -> None:
        self.shared: dict[str, Any] = {}
        self.counts: Counter[str] = Counter()
        self.texts: dict[int, str] = {}
        self.keep: list[Any] = []       # objects whose id() is a key of `texts`
        self.ids: dict[str, str] = {}   # text -> its shared id
        self.found: dict[int, list[str]] = {}   # id(params) -> texts worth counting

    def text(self, v: Any) -> str:
        t = self.texts.get(id(v))
        if t is None:
            t = _ENCODE(v)
            self.texts[id(v)] = t
            self.keep.append(v)
        return t

    def assemble(self, params: dict[str, Any]) -> str:
        """The compact text of a node's params, built from the texts of its values (and of
        the items of its lists), each serialised once; those long enough to share are
        kept per params for `pack` to count."""
        parts = []
        found: list[str] = []
        for k in sorted(params):
            v = params[k]
            if type(v) is list and v and all(type(x) is dict or type(x) is list for x in v):
                items = [self.text(x) for x in v]
                found.extend(i for i in items if len(i) >= _MIN_SHARED)
                t = "[" + ",".join(items) + "]"
                self.texts[id(v)] = t
                self.keep.append(v)
            elif type(v) is dict or type(v) is list:
                t = self.text(v)
            else:
                t = _scalar(v)
            if len(t) >= _MIN_SHARED and (type(v) is dict or type(v) is list):
                found.append(t)
            parts.append(f"{encode_basestring(k)}:{t}")
        text = "{" + ",".join(parts) + "}"
        if len(text) >= _MIN_SHARED:
            found.append(text)
        self.texts[id(params)] = text
        self.found[id(params)] = found
        self.keep.append(params)
        return text

    def alias(self, params: dict[str, Any]) -> dict[str, Any]:
        """A shallow copy of `params` (assembled already) with the same text: a node whose
        params equal an earlier node's shares their values but keeps its own dict."""
        copy = dict(params)
        self.texts[id(copy)] = self.texts[id(params)]
        self.found[id(copy)] = self.found[id(params)]
        self.keep.append(copy)
        return copy

    def sig(self, v: Any) -> Any:
        t = type(v)
        if t is dict:
            if len(v) == 1 and REF in v:
                return ("r", v[REF])
            if len(v) <= 4 and set(map(type, v.values())) <= _FLAT:
                return ("d", tuple(sorted((k, type(x), x) for k, x in v.items())))
        elif t is list:
            if set(map(type, v)) <= _STR:
                return ("ls", tuple(v))
        elif t in _FLAT:
            return (t, v)
        return ("t", self.text(v))

    # -- whole values -----------------------------------------------------------------
    def count(self, values: Iterable[Any]) -> None:
        for v in values:
            if isinstance(v, (dict, list)) and v:
                text = self.text(v)
                if len(text) >= _MIN_SHARED:
                    self.counts[text] += 1

    def ref(self, value: Any) -> Any:
        """`value`, or a reference to it when it occurs more than once."""
        if not isinstance(value, (dict, list)) or not value:
            return value
        text = self.texts.get(id(value))
        if text is None or self.counts.get(text, 0) < 2:
            return value
        key = self.ids.get(text)
        if key is None:
            key = self.ids[text] = _id(text)
        if self.shared.setdefault(key, value) is not value and \
                self.text(self.shared[key]) != text:   # a prefix collision: keep it inline
            return value
        return {REF: key}

    # -- families: members share a base ---------------------------------------------------
    def based(self, members: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Each member as `{$base: id, differing keys...}` where a base pays off: the base
        holds, for each key, the value most members have (when at least half have it)."""
        if len(members) < 2:
            return members
        sample = members[:: max(1, len(members) // 64)]
        common: Counter[tuple[str, Any]] = Counter(
            (k, self.sig(v)) for m in sample for k, v in m.items())
        keys = {k for (k, _sg), n in common.items() if n >= 2 and n * 2 >= len(sample)}
        if not keys:
            return members
        seen: Counter[tuple[str, Any]] = Counter()
        sigs: list[dict[str, Any]] = []
        sig, flat = self.sig, _FLAT
        for m in members:
            # `sig` inlined for scalars (most values of a family): one call less each
            sg = {k: (type(v), v) if type(v) in flat else sig(v)
                  for k in keys if (v := m.get(k, _ABSENT)) is not _ABSENT}
            sigs.append(sg)
            seen.update(sg.items())
        best: dict[str, tuple[int, Any]] = {}
        for (k, sg), n in seen.items():
            if n >= 2 and n * 2 >= len(members) and (k not in best or n > best[k][0]):
                best[k] = (n, sg)
        if not best:
            return members
        base: dict[str, Any] = {}
        for k, (_n, sg) in sorted(best.items()):
            base[k] = next(m[k] for m, s in zip(members, sigs, strict=True) if s.get(k) == sg)
        base_text = _ENCODE(base)
        if len(base_text) < _MIN_SHARED // 2:
            return members
        key = _id(base_text)
        if key in self.shared and _ENCODE(self.shared[key]) != base_text:
            return members
        self.shared[key] = base
        out: list[dict[str, Any]] = []
        for m, s in zip(members, sigs, strict=True):
            if not all(k in m for k in base):
                out.append(m)
                continue
            out.append({BASE: key, **{k: v for k, v in m.items()
                                      if k not in best or s[k] != best[k][1]}})
        return out

    def based_items(self, lists: list[list[Any]]) -> None:
        """`based` over the object items of several lists (in place); shared items stay."""
        where = [(li, i) for li, items in enumerate(lists) for i, x in enumerate(items)
                 if type(x) is dict and REF not in x and BASE not in x]
        done = self.based([lists[li][i] for li, i in where])
        for (li, i), item in zip(where, done, strict=True):
            lists[li][i] = item


def _pack_params(p: Packer, params: dict[str, Any]) -> Any:
    whole = p.ref(params)
    if whole is not params:
        return whole
    out: dict[str, Any] = {}
    for k, v in params.items():
        r = p.ref(v)
        out[k] = [p.ref(x) for x in v] if isinstance(v, list) and r is v else r
    return out


def _gc_paused(fn: Callable[_P, _T]) -> Callable[_P, _T]:
    """Pause the cyclic collector around `fn`: packing and unpacking a large plan make
    hundreds of thousands of long-lived containers and no garbage cycles, and every
    collection meanwhile rescans them all (as in the plan reader and compile). What was
    made meanwhile goes straight to the oldest generation (freeze, then unfreeze: still
    collectable, but not rescanned by the next young collection), unless the caller froze
    objects itself."""
    @functools.wraps(fn)
    def run(*args: _P.args, **kwargs: _P.kwargs) -> _T:
        enabled = gc.isenabled()
        gc.disable()
        try:
            return fn(*args, **kwargs)
        finally:
            if enabled:
                if gc.get_freeze_count() == 0:
                    gc.freeze()
                    gc.unfreeze()
                gc.enable()
    return run


@_gc_paused
def pack(plan: dict[str, Any], packer: Packer | None = None) -> dict[str, Any]:
    """The packed form of a plan as `build_plan` makes it (format 3): shared structures
    stored once, node fingerprints left out (the reader recomputes them from the params,
    so a plan cannot claim a cached result its params do not produce). `packer`: the
    one whose `assemble` gave each node's params text while the plan was built (its
    fingerprint input), so no params are serialised twice; the plan must not have
    changed since."""
    if "shared" in plan:
        raise PlanPackError("plan is packed already")
    p = packer or Packer()
    nodes: list[dict[str, Any]] = plan["nodes"]
    models: dict[str, dict[str, Any]] = plan["models"]
    rest_text = _ENCODE({k: v for k, v in plan.items() if k not in ("nodes", "models")})
    if '"$' in rest_text or any('"$' in (p.texts.get(id(n["params"])) or
                                        p.assemble(n["params"])) for n in nodes) or \
            any('"$' in _ENCODE(m) for m in models.values()):
        plan = _escape(plan)     # a key (or a value) starting with `$`: escape the keys
        p = Packer()
        nodes, models = plan["nodes"], plan["models"]
        for n in nodes:
            p.assemble(n["params"])
    p.counts = Counter()
    for n in nodes:
        found = p.found.get(id(n["params"]))
        if found is None:
            p.assemble(n["params"])
            found = p.found[id(n["params"])]
        p.counts.update(found)
    for m in models.values():
        p.count(m.values())
        if isinstance(m.get("facts"), dict):
            p.count(m["facts"].values())
    packed_nodes = [{k: v for k, v in n.items() if k not in ("params", "fingerprint")}
                    | {"params": _pack_params(p, n["params"])} for n in nodes]
    by_op: dict[str, list[int]] = {}
    for i, n in enumerate(packed_nodes):
        by_op.setdefault(n["op"], []).append(i)
    for idx in by_op.values():
        params = [packed_nodes[i]["params"] for i in idx]
        if all(isinstance(x, dict) and REF not in x for x in params):
            for key in sorted({k for x in params for k, v in x.items() if type(v) is list}):
                lists = [x[key] for x in params if type(x.get(key)) is list]
                copies = [list(v) for v in lists]
                p.based_items(copies)
                for x, v in zip([x for x in params if type(x.get(key)) is list], copies,
                                strict=True):
                    x[key] = v
            for i, based in zip(idx, p.based(params), strict=True):
                packed_nodes[i]["params"] = based
        for i, based in zip(idx, p.based([packed_nodes[i] for i in idx]), strict=True):
            packed_nodes[i] = based
    names = sorted(models)
    entries = []
    for name in names:
        m = {k: p.ref(v) for k, v in models[name].items()}
        if isinstance(m.get("facts"), dict):
            m["facts"] = {k: p.ref(v) for k, v in m["facts"].items()}
        entries.append(m)
    facts = [i for i, m in enumerate(entries) if isinstance(m.get("facts"), dict)]
    for i, based in zip(facts, p.based([entries[i]["facts"] for i in facts]), strict=True):
        entries[i]["facts"] = based
    entries = p.based(entries)
    return {**plan, "models": dict(zip(names, entries, strict=True)), "nodes": packed_nodes,
            "shared": dict(sorted(p.shared.items()))}


class _Unpacker:
    def __init__(self, shared: Any) -> None:
        if not isinstance(shared, dict):
            raise PlanPackError("plan 'shared' must be an object")
        for key, value in shared.items():
            if _id(_ENCODE(value)) != key:
                raise PlanPackError(f"plan shared entry {key} does not match its content "
                                    "(the plan was edited or damaged; recompile it)")
        self.shared = shared
        self.used: set[str] = set()
        self.done: dict[str, Any] = {}

    def entry(self, key: Any, depth: int) -> Any:
        if not isinstance(key, str) or key not in self.shared:
            raise PlanPackError(f"plan refers to shared entry {key!r}, which it does not "
                                "hold; recompile it")
        self.used.add(key)
        if key not in self.done:
            self.done[key] = self.value(self.shared[key], depth + 1)
        return self.done[key]

    def value(self, v: Any, depth: int = 0) -> Any:
        if depth > _MAX_DEPTH:
            raise PlanPackError("plan shared entries nest too deeply")
        if isinstance(v, list):
            return [self.value(x, depth + 1) for x in v]
        if not isinstance(v, dict):
            return v
        if REF in v:
            if len(v) != 1:
                raise PlanPackError(f"plan reference {v.get(REF)!r} has other keys")
            return _copy(self.entry(v[REF], depth))
        out: dict[str, Any] = {}
        if BASE in v:
            base = self.entry(v[BASE], depth)
            if not isinstance(base, dict):
                raise PlanPackError(f"plan base {v[BASE]!r} is not an object")
            out.update(_copy(base))
        for k, x in v.items():
            if k != BASE:
                out[k[1:] if k.startswith("$$") else k] = self.value(x, depth + 1)
        return out


def _copy(v: Any) -> Any:
    """A fresh copy, so no two places of an unpacked plan share a mutable object."""
    if isinstance(v, dict):
        return {k: _copy(x) for k, x in v.items()}
    if isinstance(v, list):
        return [_copy(x) for x in v]
    return v


def _fingerprints(nodes: list[Any], version: int) -> None:
    """Fill in every node's fingerprint, inputs first (docs/plan.md)."""
    by_id: dict[str, dict[str, Any]] = {}
    for n in nodes:
        if not (isinstance(n, dict) and isinstance(n.get("id"), str) and
                isinstance(n.get("op"), str) and isinstance(n.get("params"), dict) and
                isinstance(n.get("inputs"), list) and
                all(isinstance(i, str) for i in n["inputs"])):
            raise PlanPackError("plan node without id, op, params or inputs")
        by_id[n["id"]] = n
    done: dict[str, str] = {}
    for n in nodes:
        stack = [n]
        while stack:
            top = stack[-1]
            if top["id"] in done:
                stack.pop()
                continue
            missing = [by_id[i] for i in top["inputs"] if i in by_id and i not in done]
            if any(i not in by_id for i in top["inputs"]):
                raise PlanPackError(f"plan node {top['id']}: an input is not a node of the "
                                    "plan")
            if missing:
                if len(stack) > len(nodes):
                    raise PlanPackError(f"plan has a cycle through {top['id']}")
                stack.extend(missing)
                continue
            fp = fingerprint_of(top["op"], _ENCODE(top["params"]),
                                [done[i] for i in sorted(top["inputs"])], version)
            if top.get("fingerprint", fp) != fp:
                raise PlanPackError(f"plan node {top['id']}: its fingerprint does not match "
                                    "its params (the plan was edited; recompile it)")
            top["fingerprint"] = done[top["id"]] = fp
            stack.pop()


@_gc_paused
def unpack(plan: dict[str, Any]) -> dict[str, Any]:
    """The plan with every reference resolved and every node's fingerprint computed
    (`PlanPackError` when a reference does not hold); a plan without `shared` is
    returned as it is."""
    if "shared" not in plan:
        return plan
    u = _Unpacker(plan["shared"])
    out = {k: u.value(v) for k, v in plan.items() if k != "shared"}
    unused = sorted(set(u.shared) - u.used)
    if unused:
        raise PlanPackError(f"plan shared entry {unused[0]} is not used by the plan "
                            "(it was edited; recompile it)")
    if not isinstance(out.get("nodes"), list):
        raise PlanPackError("plan has no 'nodes' list")
    _fingerprints(out["nodes"], FINGERPRINT_VERSION)
    return out


_compact = compact_json


def packed_text(plan: dict[str, Any]) -> str:
    """The on-disk text of a (packed) plan: canonical JSON (sorted keys, UTF-8, no NaN,
    trailing newline) indented two spaces for the top level and the entries of each
    top-level table, each entry (a node, a model, a shared value) on one compact line.

    Why one line an entry: a change to one node is a one-line diff, and the text is a
    third of the indented form's size and written by the C encoder (the indented form
    needs the pure-Python one).
    """
    out = ["{"]
    keys = sorted(plan)
    for i, key in enumerate(keys):
        value = plan[key]
        comma = "," if i + 1 < len(keys) else ""
        name = _compact(key)
        if isinstance(value, dict) and value:
            items = sorted(value.items())
            out.append(f"  {name}: {{")
            out.extend(f"    {_compact(k)}: {_compact(v)}{',' if j + 1 < len(items) else ''}"
                       for j, (k, v) in enumerate(items))
            out.append(f"  }}{comma}")
        elif isinstance(value, list) and value:
            out.append(f"  {name}: [")
            out.extend(f"    {_compact(v)}{',' if j + 1 < len(value) else ''}"
                       for j, v in enumerate(value))
            out.append(f"  ]{comma}")
        else:
            out.append(f"  {name}: {_compact(value)}{comma}")
    out.append("}")
    return "\n".join(out) + "\n"
