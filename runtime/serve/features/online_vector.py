"""Raw request fields + entity keys -> the model's input vector, built once per server.

What one request goes through (`OnlineVector.request`):
1. the raw fields are checked against the signature derived from the specs
   (raw_signature.py): every field present, no unknown field, each value of its declared
   type (an int64 field takes integers, a float64 field numbers, a string field strings),
   null only where the source column is nullable; every mistake is a 400 naming the field;
2. one `read_many` for every entity view and row (merged with other requests in flight:
   lookup_batcher.py); the store down is a 503 with its reason;
3. a stored value whose event time is older than the view's TTL at the request time is
   null, exactly as the offline point-in-time join nulls it at the spine time (also a value
   from the future, or with the created-time cutoff one created after the request time:
   the offline join would not see it either);
4. the request-time views run from the compiled trees: closures for up to
   `POLARS_FROM_ROWS` rows, one polars `select` over the batch above that (both the
   offline semantics; bench/online_serve.py --features-only measures the crossover);
5. the vector is cast as training prepared it (`prepare_frame`: FP32 numbers, null ->
   NaN; strings, null -> the missing category) and handed to the model unchanged.

The request time is the server's clock (`now_us`; tests pass a fixed one). The vector,
the raw fields and the request time are logged with the prediction (`log_extra`), which
is what `specops monitor --skew` recomputes offline.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any

import numpy as np

from specops.runtime.serve.features.lookup_batcher import LookupBatcher, StoreDown
from specops.runtime.serve.features.raw_signature import RawField, RawSignature
from specops.runtime.serve.features.row_closures import RowFn, compile_row
from specops.runtime.serve.wire.protocol import (
    MAX_ROWS,
    ProtocolError,
    Request,
    _as_int_shape,
    _binary_outputs,
    _flatten,
    check_request_id,
    loads,
)
from specops.runtime.training.preprocess import MISSING_CATEGORY, Feature

__all__ = ["POLARS_FROM_ROWS", "RAW_PREFIX", "TIME_COLUMN", "OnlineVector"]

POLARS_FROM_ROWS = 1024     # measured crossover (docs/serving.md, bench/online_serve.py)
RAW_PREFIX = "raw."         # prediction-log columns of the raw request fields
TIME_COLUMN = "features_at"  # prediction-log column: the request time of the features
_INT_TYPES = {"INT8", "INT16", "INT32", "INT64", "UINT8", "UINT16", "UINT32", "UINT64"}
_ACCEPT = {"int64": _INT_TYPES, "float64": _INT_TYPES | {"FP16", "FP32", "FP64"},
           "bool": {"BOOL"}, "string": {"BYTES"}, "datetime": {"BYTES"}, "date": {"BYTES"}}
_I64 = 2**63


def _now_us() -> int:
    return time.time_ns() // 1000


def _checker(f: RawField) -> Callable[[Any, str], Any]:
    """Value check and conversion of one raw field (a ProtocolError names the field)."""
    name, t, nullable = f.name, f.type, f.nullable

    def bad(v: Any, where: str, want: str) -> ProtocolError:
        return ProtocolError(400, f"{where}field {name!r} must be {want}, got "
                             f"{type(v).__name__} {v!r:.40}")

    def check(v: Any, where: str) -> Any:
        if v is None or (type(v) is float and v != v):     # NaN (binary/gRPC data): null
            v = None
            if not nullable:
                raise ProtocolError(400, f"{where}field {name!r} may not be null")
            return None
        kind = type(v)
        if t == "float64":
            if kind is float or (kind is int and abs(v) < _I64):
                return float(v)
            if isinstance(v, np.floating | np.integer):
                return float(v)
            raise bad(v, where, "a number")
        if t == "int64":
            if kind is int and -_I64 <= v < _I64:
                return v
            if kind is float and v.is_integer() and abs(v) < 2**53:
                return int(v)
            if isinstance(v, np.integer):
                return int(v)
            raise bad(v, where, "an integer")
        if t == "string":
            if kind is str:
                return v
            raise bad(v, where, "a string")
        if t == "bool":
            if kind is bool or isinstance(v, np.bool_):
                return bool(v)
            raise bad(v, where, "true or false")
        if t in ("datetime", "date"):
            if kind is not str:
                raise bad(v, where, "an ISO 8601 string")
            try:
                d = datetime.fromisoformat(v)
            except ValueError:
                raise bad(v, where, "an ISO 8601 string") from None
            if t == "date":
                return d.date()
            return d.replace(tzinfo=UTC) if d.tzinfo is None else d.astimezone(UTC)
        raise bad(v, where, t)

    # the common case of each type first (a JSON float, int or string as it comes); every
    # other value, null included, takes the full check above
    if t == "float64":
        def float_check(v: Any, where: str) -> Any:
            return v if type(v) is float and v == v else check(v, where)
        return float_check
    if t == "int64":
        def int_check(v: Any, where: str) -> Any:
            return v if type(v) is int and -_I64 <= v < _I64 else check(v, where)
        return int_check
    if t == "string":
        def str_check(v: Any, where: str) -> Any:
            return v if type(v) is str else check(v, where)
        return str_check
    return check


class OnlineVector:
    """The compiled request -> model-input function of one served model."""

    def __init__(self, signature: RawSignature, features: list[Feature], store: Any,
                 now_us: Callable[[], int] | None = None, store_url: str | None = None):
        self.sig = signature
        self.features = features
        self.store = store
        self.store_url = store_url
        self.batcher = LookupBatcher(store)
        self.now_us = now_us or _now_us
        self.fields = {f.name: f for f in signature.fields}
        self._check = {f.name: _checker(f) for f in signature.fields}
        self._request_fns: list[tuple[str, RowFn]] = [
            (name, compile_row(tree)) for v in signature.request_views
            for name, tree in v.features]
        self._trees = [(name, tree) for v in signature.request_views
                       for name, tree in v.features]
        self._exprs: list[Any] | None = None      # the polars translation, made once
        self._needs_time = any(signature.timestamp in _columns(tree)
                               for _, tree in self._trees)
        self._entity_views = signature.entity_views
        self._numeric = [f.name for f in features if f.role == "numeric"]
        self._raw_columns = [(f"{RAW_PREFIX}{k}", k) for k in self.fields]

    # -- parsing -------------------------------------------------------------------------
    def rows_from_records(self, doc: Any) -> list[dict[str, Any]]:
        """`/predict`: a JSON list of raw records (or {"records": [...]}) -> checked rows."""
        if isinstance(doc, dict) and "records" in doc:
            doc = doc["records"]
        if isinstance(doc, dict):
            doc = [doc]     # one record as an object
        if not isinstance(doc, list) or not doc:
            raise ProtocolError(400, "body must be a JSON record or a non-empty list of "
                                "records of the raw fields " + ", ".join(self.fields))
        if len(doc) > MAX_ROWS:
            raise ProtocolError(413, f"{len(doc)} rows exceed the limit of {MAX_ROWS} "
                                "per request")
        rows = []
        names = self.fields
        check = self._check
        for i, rec in enumerate(doc):
            if not isinstance(rec, dict):
                raise ProtocolError(400, f"record {i} is not a JSON object")
            where = f"record {i}: "
            if rec.keys() != names.keys():     # the same field names, as sets
                self._mismatch(rec, where)
            rows.append({k: check[k](v, where) for k, v in rec.items()})
        return rows

    def _mismatch(self, rec: dict[str, Any], where: str) -> None:
        unknown = [k for k in rec if k not in self.fields]
        if unknown:
            raise ProtocolError(400, f"{where}unknown field(s) {', '.join(map(str, unknown))};"
                                f" the raw request has {', '.join(self.fields)}")
        missing = [k for k in self.fields if k not in rec]
        raise ProtocolError(400, f"{where}missing field(s) {', '.join(missing)}")

    def rows_from_infer(self, doc: Any, outputs: list[dict[str, Any]]
                        ) -> tuple[list[dict[str, Any]], Request]:
        """An OIP infer request whose tensors are the raw fields -> checked rows (and the
        request's id, requested outputs and binary flags in an empty `Request`)."""
        if not isinstance(doc, dict):
            raise ProtocolError(400, "request body must be a JSON object with \"inputs\"")
        tensors = doc.get("inputs")
        if not isinstance(tensors, list) or not tensors:
            raise ProtocolError(400, "\"inputs\" must be a non-empty list of tensors")
        cols: dict[str, list[Any]] = {}
        n: int | None = None
        for i, t in enumerate(tensors):
            if not isinstance(t, dict) or not isinstance(t.get("name"), str):
                raise ProtocolError(400, f"inputs[{i}] must be an object with a \"name\"")
            name = t["name"]
            f = self.fields.get(name)
            if f is None:
                raise ProtocolError(400, f"unknown input {name!r}; the raw request has "
                                    f"{', '.join(self.fields)}")
            if name in cols:
                raise ProtocolError(400, f"input {name!r} given twice")
            if t.get("datatype") not in _ACCEPT[f.type]:
                raise ProtocolError(400, f"input {name!r} has datatype "
                                    f"{t.get('datatype')!r}; the field is {f.type} (send "
                                    f"{' or '.join(sorted(_ACCEPT[f.type]))})")
            shape = _as_int_shape(t.get("shape"), f"input {name!r}")
            values = _flatten(t.get("data"), f"input {name!r}")
            if isinstance(values, np.ndarray):
                values = values.tolist()
            if len(values) != shape[0]:
                raise ProtocolError(400, f"input {name!r}: shape {shape} needs {shape[0]} "
                                    f"value(s), data has {len(values)}")
            if n is not None and len(values) != n:
                raise ProtocolError(400, f"input {name!r} has {len(values)} row(s), other "
                                    f"inputs have {n}")
            n = len(values)
            check = self._check[name]
            cols[name] = [check(v, f"input {name!r}: ") for v in values]
        missing = [k for k in self.fields if k not in cols]
        if missing:
            raise ProtocolError(400, f"missing input(s): {', '.join(missing)}")
        assert n is not None
        if n == 0:
            raise ProtocolError(400, "inputs have zero rows")
        if n > MAX_ROWS:
            raise ProtocolError(413, f"{n} rows exceed the limit of {MAX_ROWS} per request")
        known = [o["name"] for o in outputs]
        wanted = None
        if doc.get("outputs") is not None:
            req = doc["outputs"]
            if not isinstance(req, list) or not all(isinstance(o, dict) for o in req):
                raise ProtocolError(400, "\"outputs\" must be a list of {\"name\": ...} "
                                    "objects")
            wanted = [o.get("name") for o in req]
            bad = [str(w) for w in wanted if w not in known]
            if bad:
                raise ProtocolError(400, f"unknown output(s) {', '.join(bad)}; the model "
                                    f"has {', '.join(known)}")
        binary = (_binary_outputs(doc, known) if "parameters" in doc or wanted
                  else frozenset[str]())
        rid = doc.get("id")
        rows = [dict(zip(cols, vals, strict=True)) for vals in zip(*cols.values(),
                                                                    strict=True)]
        return rows, Request({}, n, None if rid is None else check_request_id(rid), wanted,
                             binary)

    # -- the vector ----------------------------------------------------------------------
    def lookups(self, rows: list[dict[str, Any]]) -> dict[str, list[tuple[Any, ...]]]:
        return {v.key: [(r[v.entity],) for r in rows] for v in self._entity_views}

    def vector(self, rows: list[dict[str, Any]], found: dict[str, list[Any]],
               now_us: int) -> tuple[dict[str, np.ndarray], dict[str, list[Any]]]:
        """(model feeds, prediction-log extras) for checked `rows` and the store's answer.

        Every numeric input of the request is converted in one array (float64, then
        float32: the same two roundings per value as `prepare_frame` + `onnx_feed`), and
        each feed is a contiguous row of it, so the cost per request does not grow with
        one numpy call per input."""
        n = len(rows)
        cols: dict[str, list[Any]] = {}
        for v in self._entity_views:
            got = found.get(v.key) or [None] * n
            ttl, cutoff = v.ttl_us, v.created_cutoff
            dicts = [ov.values if ov is not None and ov.event_ts_us <= now_us and (
                ttl is None or now_us - ov.event_ts_us <= ttl) and (
                not cutoff or (ov.created_ts_us is not None and ov.created_ts_us <= now_us))
                else None for ov in got]
            for feat, col in zip(v.features, v.columns, strict=True):
                cols[col] = [None if d is None else d.get(feat) for d in dicts]
        if self._trees:
            if self._needs_time:
                at = datetime.fromtimestamp(now_us / 1e6, UTC)
                rows = [{**r, self.sig.timestamp: at} for r in rows]
            if n < POLARS_FROM_ROWS:
                for name, fn in self._request_fns:
                    cols[name] = [fn(r) for r in rows]
            else:
                cols.update(self._polars(rows))
        for c in self.sig.passthrough:
            cols[c] = [r[c] for r in rows]
        feeds: dict[str, np.ndarray] = {}
        numeric: dict[str, np.ndarray] = {}
        if self._numeric:
            nan = math.nan
            wide = np.array([[nan if x is None else x for x in cols[name]]
                             for name in self._numeric], dtype=np.float64)
            narrow = wide.astype(np.float32)
            numeric = {name: narrow[j].reshape(-1, 1) for j, name in enumerate(self._numeric)}
        for f in self.features:
            feeds[f.name] = numeric[f.name] if f.role == "numeric" else _feed(cols[f.name], f)
        extra: dict[str, list[Any]] = {col: [r.get(k) for r in rows]
                                       for col, k in self._raw_columns}
        extra[TIME_COLUMN] = [now_us] * n
        return feeds, extra

    def _polars(self, rows: list[dict[str, Any]]) -> dict[str, list[Any]]:
        import polars as pl

        from specops.runtime.data.expr_polars import DTYPES, to_polars

        schema = {k: DTYPES[f.type] for k, f in self.fields.items()}
        if self._needs_time:
            schema[self.sig.timestamp] = DTYPES["datetime"]
        if self._exprs is None:
            self._exprs = [to_polars(tree).alias(name) for name, tree in self._trees]
        frame = pl.DataFrame({k: [r.get(k) for r in rows] for k in schema}, schema=schema)
        out = frame.select(self._exprs)
        return {c: out.get_column(c).to_list() for c in out.columns}

    async def request(self, doc: Any, action: str, outputs: list[dict[str, Any]]
                      ) -> Request:
        """A parsed JSON body -> the `Request` the model scores (feeds = the vector)."""
        rows, req = self._rows(doc, action, outputs)
        lookups = self.lookups(rows)
        now = self.now_us()
        try:
            found = await self.batcher.read(lookups) if lookups else {}
        except StoreDown as exc:
            raise ProtocolError(503, f"online store unavailable: {exc}") from None
        req.feeds, req.log_extra = self.vector(rows, found, now)
        return req

    def request_now(self, doc: Any, action: str, outputs: list[dict[str, Any]]) -> Request:
        """`request` without an event loop (one `read_many` of its own)."""
        rows, req = self._rows(doc, action, outputs)
        lookups = self.lookups(rows)
        now = self.now_us()
        try:
            found = self.batcher.read_now(lookups) if lookups else {}
        except StoreDown as exc:
            raise ProtocolError(503, f"online store unavailable: {exc}") from None
        req.feeds, req.log_extra = self.vector(rows, found, now)
        return req

    def _rows(self, doc: Any, action: str, outputs: list[dict[str, Any]]
              ) -> tuple[list[dict[str, Any]], Request]:
        if isinstance(doc, bytes | str):
            doc = loads(doc)
        if action == "infer":
            return self.rows_from_infer(doc, outputs)
        rows = self.rows_from_records(doc)
        return rows, Request({}, len(rows))


def _columns(tree: dict[str, Any]) -> set[str]:
    from specops.runtime.data.expr_polars import tree_columns

    return tree_columns(tree)


def _feed(values: list[Any], f: Feature) -> np.ndarray:
    """One model input as `prepare_frame` + `onnx_feed` make it from a frame column."""
    if f.role == "numeric":
        wide = np.array([math.nan if v is None else v for v in values], dtype=np.float64)
        return wide.astype(np.float32).reshape(-1, 1)
    out = [MISSING_CATEGORY if v is None else _text(v) for v in values]
    return np.array(out, dtype=object).reshape(-1, 1)


def _text(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, datetime | date):
        return v.isoformat()
    return str(v)
