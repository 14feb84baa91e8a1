"""The OIP binary tensor data extension (what Triton and KServe clients send by default).

Why: the official clients put tensors as raw little-endian bytes after a JSON header whose
length is the `Inference-Header-Content-Length` header; each such input carries
`parameters.binary_data_size` instead of `data`. BYTES tensors are a sequence of 4-byte
little-endian lengths, each followed by that many bytes. Responses use the same layout for
the outputs the client asked to get in binary (`parameters.binary_data_output` for all, or
`parameters.binary_data` per output).

Decoding produces numpy arrays placed in the tensors' `data`; `protocol.parse_infer` then
applies the same checks as for JSON data (datatypes, shapes, ranges, text validity), so a
binary request is answered exactly like the equal JSON one. Every malformed body is a
`ProtocolError(400)` naming the problem; nothing here allocates more than the body holds.
"""

from __future__ import annotations

import json
import math
import struct
from typing import Any

import numpy as np

from specops.runtime.serve.wire.protocol import ProtocolError, loads

__all__ = ["DTYPES", "decode_request", "decode_tensor", "encode_bytes", "encode_response"]

DTYPES: dict[str, str] = {
    "BOOL": "|b1", "UINT8": "<u1", "UINT16": "<u2", "UINT32": "<u4", "UINT64": "<u8",
    "INT8": "<i1", "INT16": "<i2", "INT32": "<i4", "INT64": "<i8", "FP16": "<f2",
    "FP32": "<f4", "FP64": "<f8"}
_LEN = struct.Struct("<I")


def _bytes_elements(chunk: bytes, count: int, where: str) -> np.ndarray:
    out: list[str] = []
    pos, size = 0, len(chunk)
    while pos < size:
        if pos + 4 > size:
            raise ProtocolError(400, f"{where}: BYTES element length is cut off")
        (n,) = _LEN.unpack_from(chunk, pos)
        pos += 4
        if pos + n > size:
            raise ProtocolError(400, f"{where}: BYTES element of {n} bytes overruns the data")
        try:
            out.append(chunk[pos:pos + n].decode("utf-8"))
        except UnicodeDecodeError:
            raise ProtocolError(400, f"{where}: BYTES element is not valid UTF-8") from None
        pos += n
        if len(out) > count:
            break
    if len(out) != count:
        raise ProtocolError(400, f"{where}: binary data holds {len(out)} BYTES element(s), "
                            f"shape needs {count}")
    return np.array(out, dtype=object)


def decode_tensor(t: dict[str, Any], chunk: bytes, where: str) -> np.ndarray:
    dtype = t.get("datatype")
    shape = t.get("shape")
    if not isinstance(shape, list) or not all(type(d) is int and d >= 0 for d in shape):
        raise ProtocolError(400, f"{where}: shape must be a list of non-negative integers")
    count = math.prod(shape)
    if dtype == "BYTES":
        return _bytes_elements(chunk, count, where)
    if dtype not in DTYPES:
        raise ProtocolError(400, f"{where}: datatype {dtype!r} has no binary form")
    np_dtype = np.dtype(DTYPES[dtype])
    if len(chunk) != count * np_dtype.itemsize:
        raise ProtocolError(400, f"{where}: binary_data_size {len(chunk)} does not match "
                            f"shape {shape} of {dtype} ({count * np_dtype.itemsize} bytes)")
    return np.frombuffer(chunk, dtype=np_dtype)


def decode_request(body: bytes, header_length: str) -> dict[str, Any]:
    """Split a binary-extension body into its JSON document, with each binary input's
    `data` replaced by the decoded flat numpy array."""
    try:
        n = int(header_length)
    except ValueError:
        raise ProtocolError(400, "Inference-Header-Content-Length must be an integer") \
            from None
    if not 0 < n <= len(body):
        raise ProtocolError(400, f"Inference-Header-Content-Length {n} is outside the body "
                            f"of {len(body)} bytes")
    doc = loads(body[:n])
    if not isinstance(doc, dict) or not isinstance(doc.get("inputs"), list):
        raise ProtocolError(400, "request header must be a JSON object with \"inputs\"")
    pos = n
    for i, t in enumerate(doc["inputs"]):
        params = t.get("parameters") if isinstance(t, dict) else None
        if not isinstance(params, dict) or "binary_data_size" not in params:
            continue
        size = params["binary_data_size"]
        where = f"input {t.get('name')!r}" if isinstance(t.get("name"), str) else f"inputs[{i}]"
        if type(size) is not int or size < 0:
            raise ProtocolError(400, f"{where}: binary_data_size must be a non-negative "
                                "integer")
        if "data" in t:
            raise ProtocolError(400, f"{where} has both data and binary_data_size")
        if pos + size > len(body):
            raise ProtocolError(400, f"{where}: binary_data_size {size} overruns the body")
        t["data"] = decode_tensor(t, body[pos:pos + size], where)
        pos += size
    if pos != len(body):
        raise ProtocolError(400, f"{len(body) - pos} byte(s) after the last binary input")
    return doc


def encode_bytes(values: np.ndarray) -> bytes:
    """BYTES tensor -> 4-byte little-endian length + UTF-8 bytes per element."""
    parts: list[bytes] = []
    for v in values.reshape(-1):
        b = v if isinstance(v, bytes) else str(v).encode("utf-8")
        parts.append(_LEN.pack(len(b)))
        parts.append(b)
    return b"".join(parts)


def encode_response(doc: dict[str, Any], result: dict[str, np.ndarray],
                    binary: frozenset[str]) -> tuple[bytes, int]:
    """(body, JSON header length) for an infer response whose outputs named in `binary`
    travel as raw bytes; the others keep their JSON `data`."""
    blobs: list[bytes] = []
    for out in doc["outputs"]:
        name = out["name"]
        if name not in binary:
            continue
        arr = result[name]
        if out["datatype"] == "BYTES":
            raw = encode_bytes(arr)
        else:
            raw = np.ascontiguousarray(arr, dtype=np.dtype(DTYPES[out["datatype"]])).tobytes()
        del out["data"]
        out["parameters"] = {"binary_data_size": len(raw)}
        blobs.append(raw)
    header = json.dumps(doc, separators=(",", ":"), allow_nan=False).encode()
    return header + b"".join(blobs), len(header)
