"""OIP over gRPC: KServe's `inference.GRPCInferenceService` on its own port.

Why the stubs generated in `tritonclient.grpc.service_pb2`: they are the KServe V2 proto
(`grpc_predict_v2.proto`, package `inference`) plus Triton's extra RPCs, generated and
versioned by the client the ecosystem uses, so the server cannot drift from what the
clients send. RPCs not implemented here answer UNIMPLEMENTED (grpcio's default).

Why requests go through `protocol.parse_infer` and `Service.run_model`/`record`: a gRPC
infer gets the same checks, the same admission state (revoked -> UNAVAILABLE), the same
prediction log and the same metrics (endpoint `grpc_infer`, with the HTTP-equivalent code)
as an HTTP one. Tensors come either as typed `contents` or as `raw_input_contents` (the
binary layout of `binary_tensors`); outputs always go back as `raw_output_contents`.

Threading: the gRPC server runs its own asyncio loop in a thread; `Service` is shared with
the HTTP server (its model session, metrics and log are thread-safe).
"""

from __future__ import annotations

import asyncio
import threading
import time
from typing import TYPE_CHECKING, Any

import numpy as np

from specops.runtime.serve.asgi import THREAD_PARSE_BYTES, ModelFailed
from specops.runtime.serve.wire.binary_tensors import DTYPES, decode_tensor, encode_bytes
from specops.runtime.serve.wire.protocol import ProtocolError, check_request_id, parse_infer

if TYPE_CHECKING:
    from specops.runtime.serve.asgi import Service

__all__ = ["GrpcServer"]

_FIELDS = {"BOOL": "bool_contents", "INT8": "int_contents", "INT16": "int_contents",
           "INT32": "int_contents", "INT64": "int64_contents", "UINT8": "uint_contents",
           "UINT16": "uint_contents", "UINT32": "uint_contents", "UINT64": "uint64_contents",
           "FP32": "fp32_contents", "FP64": "fp64_contents", "BYTES": "bytes_contents"}


def _code(status: int) -> Any:
    import grpc  # type: ignore[import-untyped]

    return {400: grpc.StatusCode.INVALID_ARGUMENT, 404: grpc.StatusCode.NOT_FOUND,
            405: grpc.StatusCode.UNIMPLEMENTED, 413: grpc.StatusCode.RESOURCE_EXHAUSTED,
            503: grpc.StatusCode.UNAVAILABLE}.get(status, grpc.StatusCode.INVALID_ARGUMENT)


def _doc(request: Any) -> dict[str, Any]:
    """A ModelInferRequest as the dict `parse_infer` checks (arrays as `data`)."""
    raw = list(request.raw_input_contents)
    if raw and len(raw) != len(request.inputs):
        raise ProtocolError(400, f"{len(raw)} raw_input_contents for "
                            f"{len(request.inputs)} inputs")
    inputs: list[dict[str, Any]] = []
    for i, t in enumerate(request.inputs):
        where = f"input {t.name!r}"
        tensor: dict[str, Any] = {"name": t.name, "datatype": t.datatype,
                                  "shape": [int(d) for d in t.shape]}
        if any(d < 0 for d in tensor["shape"]):
            raise ProtocolError(400, f"{where}: shape must be non-negative")
        if raw:
            tensor["data"] = decode_tensor(tensor, raw[i], where)
        else:
            field = _FIELDS.get(t.datatype)
            if field is None:
                raise ProtocolError(400, f"{where}: datatype {t.datatype!r} has no contents")
            values = list(getattr(t.contents, field))
            if t.datatype == "BYTES":
                try:
                    tensor["data"] = np.array([v.decode("utf-8") for v in values],
                                              dtype=object)
                except UnicodeDecodeError:
                    raise ProtocolError(400, f"{where}: BYTES element is not valid UTF-8") \
                        from None
            else:
                tensor["data"] = np.array(values, dtype=DTYPES[t.datatype])
        inputs.append(tensor)
    doc: dict[str, Any] = {"inputs": inputs,
                           "id": check_request_id(request.id or None)}
    if request.outputs:
        doc["outputs"] = [{"name": o.name} for o in request.outputs]
    return doc


class _Servicer:
    """The RPCs, bound to one `Service` (created lazily: grpcio is imported on use)."""

    def __init__(self, service: Service) -> None:
        from tritonclient.grpc import service_pb2 as pb  # type: ignore[import-untyped]

        self.service, self.pb = service, pb

    async def ServerLive(self, request: Any, context: Any) -> Any:
        return self.pb.ServerLiveResponse(live=True)

    async def ServerReady(self, request: Any, context: Any) -> Any:
        return self.pb.ServerReadyResponse(ready=self.service.ready)

    def _check_model(self, name: str, version: str) -> None:
        m = self.service.model
        if name != m.name or version not in ("", str(m.version)):
            raise ProtocolError(404, f"model {name!r} version {version!r} is not served "
                                f"here (this server serves {m.ref})")

    async def ModelReady(self, request: Any, context: Any) -> Any:
        try:
            self._check_model(request.name, request.version)
        except ProtocolError:
            return self.pb.ModelReadyResponse(ready=False)
        return self.pb.ModelReadyResponse(ready=self.service.revoked is None)

    async def ServerMetadata(self, request: Any, context: Any) -> Any:
        return self.pb.ServerMetadataResponse(name="specops", version="2",
                                              extensions=["binary_tensor_data"])

    async def ModelMetadata(self, request: Any, context: Any) -> Any:
        try:
            self._check_model(request.name, request.version)
        except ProtocolError as exc:
            await context.abort(_code(exc.status), exc.reason)
        m = self.service.model
        tensor = self.pb.ModelMetadataResponse.TensorMetadata
        return self.pb.ModelMetadataResponse(
            name=m.name, versions=[str(m.version)], platform="onnxruntime_onnx",
            inputs=[tensor(name=t["name"], datatype=t["datatype"], shape=t["shape"])
                    for t in (m.inputs if self.service.features is None   # online: raw
                              else self.service.features.metadata["inputs"])],
            outputs=[tensor(name=t["name"], datatype=t["datatype"], shape=t["shape"])
                     for t in m.outputs])

    async def ModelInfer(self, request: Any, context: Any) -> Any:
        service, start = self.service, time.perf_counter()
        status, rows = 200, 0
        try:
            self._check_model(request.model_name, request.model_version)
            if service.revoked is not None:
                raise ProtocolError(503, f"{service.model.ref} no longer may serve: "
                                    f"{service.revoked}")
            m = service.model
            size = request.ByteSize()
            if service.features is not None:    # online mode: raw fields + entity keys
                req = await service.features.vector.request(_doc(request), "infer",
                                                            m.outputs)
            elif size > THREAD_PARSE_BYTES:
                req = await asyncio.to_thread(
                    lambda: parse_infer(_doc(request), m.inputs, m.outputs))
            else:
                req = parse_infer(_doc(request), m.inputs, m.outputs)
            result = await service.run_model(req)
            rows = req.rows
            reply = self._response(req.outputs or list(result), result, req.id)
            service.record(req, result, start)
            return reply
        except ProtocolError as exc:
            status = exc.status
            await context.abort(_code(exc.status), exc.reason)
        except ModelFailed as exc:
            import grpc

            status = 500
            service.metrics.model_failed("grpc_infer")
            await context.abort(grpc.StatusCode.INTERNAL, f"model failed: {exc}")
        except Exception:
            if status == 200:
                status = 500
            raise
        finally:
            service.metrics.observe("grpc_infer", status, time.perf_counter() - start, rows)

    def _response(self, names: list[str], result: dict[str, np.ndarray],
                  rid: str | None) -> Any:
        m = self.service.model
        out = self.pb.ModelInferResponse(model_name=m.name, model_version=str(m.version),
                                         id=rid or "")
        for name in names:
            arr = result[name]
            if arr.dtype == object or arr.dtype.kind in "US":
                datatype, raw = "BYTES", encode_bytes(arr)
            else:
                datatype = {"f4": "FP32", "f8": "FP64", "i4": "INT32", "i8": "INT64",
                            "b1": "BOOL"}.get(arr.dtype.str[1:], "FP32")
                raw = np.ascontiguousarray(arr, dtype=np.dtype(DTYPES[datatype])).tobytes()
            out.outputs.add(name=name, datatype=datatype, shape=list(arr.shape))
            out.raw_output_contents.append(raw)
        return out


class GrpcServer:
    """The gRPC endpoint in a background thread: `start()`, `stop()`, `with`."""

    def __init__(self, service: Service, host: str = "127.0.0.1", port: int = 8001) -> None:
        self.service, self.host, self.port = service, host, port
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: Any = None
        self._stopping: asyncio.Event | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="grpc-server", daemon=True)

    def _run(self) -> None:
        try:
            asyncio.run(self._serve())
        except BaseException as exc:   # reported by start()
            self._error = exc
            self._ready.set()

    async def _serve(self) -> None:
        import grpc
        from tritonclient.grpc import service_pb2_grpc

        limit = self.service.max_body
        self._server = grpc.aio.server(options=[("grpc.max_receive_message_length", limit),
                                                ("grpc.max_send_message_length", limit)])
        class Servicer(_Servicer, service_pb2_grpc.GRPCInferenceServiceServicer):  # type: ignore[misc]
            """The RPCs above; the rest answer UNIMPLEMENTED from the generated base."""

        service_pb2_grpc.add_GRPCInferenceServiceServicer_to_server(
            Servicer(self.service), self._server)
        bound = self._server.add_insecure_port(f"{self.host}:{self.port}")
        if bound == 0:
            raise RuntimeError(f"cannot listen on {self.host}:{self.port}")
        self.port = bound
        await self._server.start()
        self._stopping = asyncio.Event()
        self._loop = asyncio.get_running_loop()
        self._ready.set()
        await self._stopping.wait()
        await self._server.stop(1.0)

    def start(self, timeout: float = 20.0) -> GrpcServer:
        self._thread.start()
        self._ready.wait(timeout)
        if self._error is not None or self._loop is None:
            raise RuntimeError(f"gRPC server did not start on {self.host}:{self.port}: "
                               f"{self._error}")
        return self

    def stop(self) -> None:
        if self._loop is not None and self._stopping is not None and self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._stopping.set)
        self._thread.join(timeout=10)

    def __enter__(self) -> GrpcServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
