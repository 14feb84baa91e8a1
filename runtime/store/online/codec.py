"""How an online row and an entity key become bytes, and back.

Why JSON text with `repr` floats: the serving hot path decodes one record per view per
request, and CPython's `json.loads` (C accelerated) decodes a small array faster than any
pure-Python struct layout that would also need the feature names; `float.__repr__` is the
shortest string that reads back to the same float64, so floats round-trip bit for bit
(NaN, infinities and -0.0 included), ints stay ints (any size), None is null, strings and
bools are themselves. Dates and datetimes (rare as features) are tagged objects, and a
record holding any carries a fourth element so plain records skip the check.

A record is `[event_ts_us, created_ts_us|null, {name: value, ...}]` (+ `, 1` when tagged).
A key is the JSON array of its parts: `[123]`, `["a", 2]`; types matter (1 and "1" are
different entities, as in the offline join, where keys are compared by value and type).
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from typing import Any

from specops.runtime.store.online import OnlineValue

__all__ = ["decode_value", "encode_key", "encode_value"]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_DUMPS = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, allow_nan=True).encode
_LOADS = json.loads


def _plain(v: Any) -> Any:
    """numpy scalars (from a frame) become Python ones; others pass."""
    item = getattr(v, "item", None)
    return item() if item is not None and not isinstance(v, (str, bytes)) else v


def encode_key(key: tuple[Any, ...]) -> str:
    """The key's canonical text (used inside SQLite rows and Redis key names)."""
    return _DUMPS([_plain(k) for k in key])


def _tag(v: Any) -> Any:
    if isinstance(v, datetime):
        aware = v if v.tzinfo is not None else v.replace(tzinfo=UTC)
        d = aware - _EPOCH
        return {"$us": (d.days * 86_400 + d.seconds) * 1_000_000 + d.microseconds}
    if isinstance(v, date):
        return {"$date": v.toordinal()}
    return v


def _untag(v: Any) -> Any:
    if type(v) is dict:
        if "$us" in v:
            return _EPOCH + timedelta(microseconds=v["$us"])
        if "$date" in v:
            return date.fromordinal(v["$date"])
    return v


def encode_value(value: OnlineValue) -> str:
    """The record text of one stored row."""
    vals = {k: _plain(v) for k, v in value.values.items()}
    if any(isinstance(v, date) for v in vals.values()):   # datetime is a date subclass
        return _DUMPS([value.event_ts_us, value.created_ts_us,
                       {k: _tag(v) for k, v in vals.items()}, 1])
    return _DUMPS([value.event_ts_us, value.created_ts_us, vals])


def decode_value(text: str | bytes) -> OnlineValue:
    """The stored row back; exact inverse of `encode_value`."""
    rec = _LOADS(text)
    vals = rec[2]
    if len(rec) > 3:
        vals = {k: _untag(v) for k, v in vals.items()}
    return OnlineValue(vals, rec[0], rec[1])
