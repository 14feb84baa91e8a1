"""The Open Inference Protocol (KServe V2) wire format, as pure functions.

Why pure: both servers (lean uvicorn and Ray Serve) and the staging contract tests use
exactly these functions, so the protocol and its checks cannot drift between them, and
every malformed-request rule is unit-testable without a socket.

Rules (each failure is a `ProtocolError(400, reason)` naming the field, never a 500):
- the body is a JSON object whose `inputs` is a non-empty list of tensors; each tensor has
  a known `name` (once), a `datatype` the input accepts (numeric inputs take FP32 and, as a
  convenience, FP64/INT*/UINT* which are cast to FP32; string inputs take BYTES), a
  `shape` of `[n]` or `[n, 1]`, and `data` (flat or nested) holding exactly n values;
- every model input is present and all have the same n (1 ≤ n ≤ `MAX_ROWS`, else 413);
- numeric values are JSON numbers (booleans and strings are refused) or null, which means
  missing (NaN: the model's imputer fills it, as in training); BYTES values are strings or
  null (the missing category, as `prepare_frame` does in training);
- requested `outputs`, when given, must exist.

`/predict` (records) follows the same value rules per feature: a JSON list of objects, or
`{"records": [...]}`; keys that are not model inputs (an entity id) are ignored.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

import numpy as np

from specops.runtime.training.preprocess import MISSING_CATEGORY

__all__ = ["MAX_DEPTH", "MAX_ROWS", "ProtocolError", "Request", "check_request_id",
           "infer_response", "loads", "metadata", "parse_infer", "parse_records",
           "predict_response"]

MAX_ROWS = 100_000
_NUMERIC = {"FP32", "FP64", "FP16", "INT8", "INT16", "INT32", "INT64", "UINT8", "UINT16",
            "UINT32", "UINT64"}
_NUM_TYPES = (int, float)
_FP32_MAX = float(np.finfo(np.float32).max)
MAX_DEPTH = 32          # JSON nesting a request may use (OIP needs 4: body/inputs/tensor/data)
MAX_ID = 128            # request id length
_ID = re.compile(r"[\x20-\x7e]{1,128}")     # printable ASCII: safe in logs, headers
_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"')


class ProtocolError(Exception):
    """A request the model cannot answer: HTTP `status` with a one-line `reason`."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


@dataclass
class Request:
    feeds: dict[str, np.ndarray]
    rows: int
    id: str | None = None
    outputs: list[str] | None = None
    binary: frozenset[str] = frozenset()    # outputs to answer as binary tensor data
    log_extra: dict[str, list[Any]] | None = None   # online mode: raw fields, request time


def metadata(name: str, version: int, inputs: list[dict[str, Any]],
             outputs: list[dict[str, Any]]) -> dict[str, Any]:
    """`GET /v2/models/{name}`: names, datatypes and shapes from the signed signature."""
    def tensor(t: dict[str, Any]) -> dict[str, Any]:
        return {"name": t["name"], "datatype": t["datatype"], "shape": list(t["shape"])}

    return {"name": name, "versions": [str(version)], "platform": "onnxruntime_onnx",
            "inputs": [tensor(t) for t in inputs], "outputs": [tensor(t) for t in outputs]}


def _refuse_constant(name: str) -> Any:
    raise ProtocolError(400, f"request body is not valid JSON: {name} is not a JSON number")


# one decoder: `json.loads(..., parse_constant=...)` would build a new one per request
_DECODER = json.JSONDecoder(parse_constant=_refuse_constant)


def _depth(body: bytes) -> int:
    """Deepest `[`/`{` nesting, brackets inside strings not counted. Why before parsing:
    the C decoder recurses once per level, so 100k levels cost a RecursionError deep in
    the stack (and the memory of every level); a vectorised count is cheap and exact."""
    if body.count(b"[") + body.count(b"{") <= MAX_DEPTH:
        return 0
    bare = _STRING.sub(b"", body) if b'"' in body else body
    codes = np.frombuffer(bare, dtype=np.uint8)
    step = ((codes == 0x5B) | (codes == 0x7B)).astype(np.int32) \
        - ((codes == 0x5D) | (codes == 0x7D)).astype(np.int32)
    return int(np.cumsum(step).max()) if step.size else 0


def loads(body: bytes | str) -> Any:
    """JSON with every client mistake a 400: invalid UTF-8 or JSON, NaN/Infinity literals
    (not JSON), nesting deeper than `MAX_DEPTH`, integers too long to convert."""
    raw = body.encode("utf-8", "surrogatepass") if isinstance(body, str) else body
    if _depth(raw) > MAX_DEPTH:
        raise ProtocolError(400, f"request body nests JSON deeper than {MAX_DEPTH} levels")
    try:
        return _DECODER.decode(raw.decode("utf-8"))
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise ProtocolError(400, f"request body is not valid JSON: {exc}"[:300]) from None


_loads = loads


def check_request_id(rid: Any) -> str | None:
    """A request id is echoed in responses and written to the prediction log: a string
    (or integer) of 1-128 printable ASCII characters, else 400."""
    if rid is None:
        return None
    if type(rid) is int and abs(rid) < 10**18:
        rid = str(rid)
    if not isinstance(rid, str) or not _ID.fullmatch(rid):
        raise ProtocolError(400, f"\"id\" must be 1-{MAX_ID} printable ASCII characters")
    return rid


def _flatten(data: Any, where: str) -> Any:
    if isinstance(data, np.ndarray):    # decoded binary tensor data (binary_tensors.py)
        return data.reshape(-1)
    if not isinstance(data, list):
        raise ProtocolError(400, f"{where}: data must be a JSON list")
    if data and isinstance(data[0], list):
        flat: list[Any] = []
        for item in data:
            if not isinstance(item, list):
                raise ProtocolError(400, f"{where}: data mixes lists and scalars")
            flat.extend(item)
        if flat and isinstance(flat[0], list):
            raise ProtocolError(400, f"{where}: data is nested more than two levels")
        return flat
    return data


def _column(values: Any, datatype: str, where: str) -> np.ndarray:
    """Strictly typed column: FP32 numbers (null = NaN) or strings (null = missing)."""
    if isinstance(values, np.ndarray) and values.dtype != object:
        if datatype == "BYTES" or values.dtype.kind not in "iuf":
            raise ProtocolError(400, f"{where}: binary {values.dtype} data for {datatype}")
        return _finite_fp32(values.astype(np.float64), where)
    if datatype == "BYTES":
        out = []
        for v in values:
            if v is None:
                out.append(MISSING_CATEGORY)
            elif isinstance(v, str):
                if not v.isascii():
                    try:
                        v.encode("utf-8")
                    except UnicodeEncodeError:
                        raise ProtocolError(400, f"{where}: text is not valid Unicode (a "
                                            "lone surrogate)") from None
                out.append(v)
            else:
                raise ProtocolError(400, f"{where}: BYTES values must be strings, got "
                                    f"{type(v).__name__} {v!r:.40}")
        return np.array(out, dtype=object).reshape(-1, 1)
    for v in values:
        if type(v) not in _NUM_TYPES and v is not None:   # bool is not a number here
            raise ProtocolError(400, f"{where}: numeric values must be numbers or null, "
                                f"got {type(v).__name__} {v!r:.40}")
    try:
        wide = np.array(values, dtype=np.float64)   # None -> nan
    except OverflowError:   # an integer literal beyond any float, e.g. 10**400
        raise ProtocolError(400, f"{where}: value out of FP32 range") from None
    return _finite_fp32(wide, where)


def _finite_fp32(wide: np.ndarray, where: str) -> np.ndarray:
    if np.isinf(wide).any() or (np.abs(wide) > _FP32_MAX).any():
        raise ProtocolError(400, f"{where}: value out of FP32 range")
    return wide.astype(np.float32).reshape(-1, 1)


def _as_int_shape(shape: Any, where: str) -> list[int]:
    if not isinstance(shape, list) or not shape or \
            any(type(d) is not int or d < 0 for d in shape):
        raise ProtocolError(400, f"{where}: shape must be a list of non-negative integers")
    if len(shape) > 2 or (len(shape) == 2 and shape[1] != 1):
        raise ProtocolError(400, f"{where}: shape {shape} does not fit the model's [-1, 1]")
    return shape


def parse_infer(body: bytes | str | dict[str, Any], inputs: list[dict[str, Any]],
                outputs: list[dict[str, Any]]) -> Request:
    """An OIP infer request -> validated feeds (see the module rules)."""
    doc = body if isinstance(body, dict) else _loads(body)
    if not isinstance(doc, dict):
        raise ProtocolError(400, "request body must be a JSON object with \"inputs\"")
    tensors = doc.get("inputs")
    if not isinstance(tensors, list) or not tensors:
        raise ProtocolError(400, "\"inputs\" must be a non-empty list of tensors")
    expected = {t["name"]: t["datatype"] for t in inputs}
    feeds: dict[str, np.ndarray] = {}
    rows: int | None = None
    for i, t in enumerate(tensors):
        if not isinstance(t, dict):
            raise ProtocolError(400, f"inputs[{i}] must be an object")
        name = t.get("name")
        if not isinstance(name, str):
            raise ProtocolError(400, f"inputs[{i}]: \"name\" must be a string")
        where = f"input {name!r}"
        if name not in expected:
            raise ProtocolError(400, f"unknown {where}; the model takes "
                                f"{', '.join(expected)}")
        if name in feeds:
            raise ProtocolError(400, f"{where} given twice")
        dtype = t.get("datatype")
        want = expected[name]
        ok = dtype == want or (want == "FP32" and dtype in _NUMERIC)
        if not ok:
            raise ProtocolError(400, f"{where} has datatype {dtype!r}; the model takes {want}")
        shape = _as_int_shape(t.get("shape"), where)
        values = _flatten(t.get("data"), where)
        n = shape[0]
        if len(values) != n:
            raise ProtocolError(400, f"{where}: shape {shape} needs {n} value(s), data has "
                                f"{len(values)}")
        if rows is None:
            rows = n
        elif n != rows:
            raise ProtocolError(400, f"{where} has {n} row(s), other inputs have {rows}")
        feeds[name] = _column(values, want, where)
    missing = [n for n in expected if n not in feeds]
    if missing:
        raise ProtocolError(400, f"missing input(s): {', '.join(missing)}")
    assert rows is not None
    if rows == 0:
        raise ProtocolError(400, "inputs have zero rows")
    if rows > MAX_ROWS:
        raise ProtocolError(413, f"{rows} rows exceed the limit of {MAX_ROWS} per request")
    wanted = None
    if doc.get("outputs") is not None:
        req = doc["outputs"]
        known = [o["name"] for o in outputs]
        if not isinstance(req, list) or not all(isinstance(o, dict) for o in req):
            raise ProtocolError(400, "\"outputs\" must be a list of {\"name\": ...} objects")
        wanted = [o.get("name") for o in req]
        bad = [str(w) for w in wanted if w not in known]
        if bad:
            raise ProtocolError(400, f"unknown output(s) {', '.join(bad)}; the model has "
                                f"{', '.join(known)}")
    binary = (_binary_outputs(doc, [o["name"] for o in outputs])
              if "parameters" in doc or wanted else frozenset[str]())
    rid = doc.get("id")
    return Request(feeds, rows, None if rid is None else check_request_id(rid), wanted,
                   binary)


def _binary_outputs(doc: dict[str, Any], known: list[str]) -> frozenset[str]:
    """Which outputs go back as binary data: all with `parameters.binary_data_output`,
    else those whose requested output sets `parameters.binary_data`."""
    params = doc.get("parameters")
    if params is not None and not isinstance(params, dict):
        raise ProtocolError(400, "\"parameters\" must be an object")
    everything = bool(params and params.get("binary_data_output") is True)
    chosen: set[str] = set()
    for o in doc.get("outputs") or []:
        p = o.get("parameters")
        if p is not None and not isinstance(p, dict):
            raise ProtocolError(400, f"output {o.get('name')!r}: parameters must be an object")
        flag = p.get("binary_data") if p else None
        if flag is True or (flag is None and everything):
            chosen.add(o["name"])
    if everything and not doc.get("outputs"):
        chosen.update(known)
    return frozenset(chosen)


def parse_records(body: bytes | str | Any, inputs: list[dict[str, Any]]) -> Request:
    """`/predict`: a list of feature records (or {"records": [...]}) -> validated feeds."""
    doc = _loads(body) if isinstance(body, (bytes, str)) else body
    if isinstance(doc, dict) and "records" in doc:
        doc = doc["records"]
    if not isinstance(doc, list) or not doc:
        raise ProtocolError(400, "body must be a non-empty JSON list of feature records")
    if len(doc) > MAX_ROWS:
        raise ProtocolError(413, f"{len(doc)} rows exceed the limit of {MAX_ROWS} per request")
    for i, rec in enumerate(doc):
        if not isinstance(rec, dict):
            raise ProtocolError(400, f"record {i} is not a JSON object")
    feeds: dict[str, np.ndarray] = {}
    for t in inputs:
        name = t["name"]
        lacking = [i for i, rec in enumerate(doc) if name not in rec]
        if lacking:
            raise ProtocolError(400, f"record {lacking[0]} lacks feature {name!r}"
                                + (f" ({len(lacking)} records do)" if len(lacking) > 1 else ""))
        feeds[name] = _column([rec[name] for rec in doc], t["datatype"], f"feature {name!r}")
    return Request(feeds, len(doc))


def _tensor(name: str, arr: np.ndarray) -> dict[str, Any]:
    if arr.dtype == object or arr.dtype.kind in "US":
        datatype, data = "BYTES", [str(x) for x in arr.reshape(-1)]
    elif arr.dtype.kind == "f":
        datatype = "FP64" if arr.dtype == np.float64 else "FP32"
        data = arr.reshape(-1).tolist()
    elif arr.dtype.kind in "iu":
        datatype, data = "INT64" if arr.dtype.itemsize == 8 else "INT32", arr.reshape(-1).tolist()
    else:
        datatype, data = "BOOL", arr.reshape(-1).tolist()
    return {"name": name, "datatype": datatype, "shape": list(arr.shape), "data": data}


def infer_response(name: str, version: int, result: dict[str, np.ndarray],
                   request: Request) -> dict[str, Any]:
    names = request.outputs or list(result)
    doc: dict[str, Any] = {"model_name": name, "model_version": str(version),
                           "outputs": [_tensor(n, result[n]) for n in names]}
    if request.id is not None:
        doc["id"] = request.id
    return doc


def predict_response(name: str, version: int, result: dict[str, np.ndarray],
                     classes: list[Any]) -> dict[str, Any]:
    """Per-record predictions: label (or prediction) and class probabilities by class."""
    arrays = list(result.values())
    first = arrays[0].reshape(-1).tolist()
    preds: list[dict[str, Any]] = []
    if len(arrays) > 1 and classes:
        proba = np.asarray(arrays[1]).tolist()
        keys = [str(c) for c in classes]
        for label, row in zip(first, proba, strict=True):
            preds.append({"label": label, "probabilities": dict(zip(keys, row, strict=True))})
    else:
        preds = [{"prediction": v} for v in first]
    return {"model_name": name, "model_version": str(version), "predictions": preds}
