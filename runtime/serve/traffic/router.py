"""Answer one request from the champion or the challenger, and log both arms.

Why the router answers the whole request (not only the challenger's share): the
comparison needs every request of both arms with the same bookkeeping, failures
included. Each answered or failed request appends one row to the outcome log
(`.specops/rollout/model=<name>/date=.../part-*.parquet`: request_id, time, arm,
version, status, latency_ms), and each scored row goes to the prediction log with its
`arm` (the champion's own log, and one log for the challenger's arm), so
`specops rollout status` reads request counts, errors, latencies and scores per arm.

Canary: the request goes to the arm its key's bucket names (sticky_split.py) and that
arm's answer is returned; a challenger failure is a 500, counted against the challenger.
Shadow: the champion answers, exactly as without a rollout (the same functions build the
same bytes), and the challenger scores the same validated feeds in a task scheduled after
the answer, so neither its latency nor its failures reach the client; its rows are
logged with arm `shadow`.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from specops.runtime.serve.asgi import INLINE_ROWS, ModelFailed, _dumps
from specops.runtime.serve.prediction_log import PredictionLog
from specops.runtime.serve.served_model import LoadedModel
from specops.runtime.serve.traffic.sticky_split import routing_key, to_challenger
from specops.runtime.serve.wire.binary_tensors import encode_response
from specops.runtime.serve.wire.protocol import Request, infer_response, predict_response

__all__ = ["OutcomeLog", "TrafficRouter", "outcome_dir"]

log = logging.getLogger(__name__)
_JSON = b"application/json"


def outcome_dir(project_root: Path, model: str) -> Path:
    return project_root / ".specops" / "rollout" / f"model={model}"


class OutcomeLog(PredictionLog):
    """One row per request and arm (status 200 or 500, latency), beside the prediction
    log (which holds scored rows only), in the same buffered parquet writer."""

    def __init__(self, root: Path, model: str, version: int, digest: str, arm: str,
                 batch_rows: int = 5000) -> None:
        super().__init__(root, model, version, digest, batch_rows=batch_rows, arm=arm)
        self.dir = outcome_dir(root, model)     # set before the first row is queued

    def outcome(self, request_id: str | None, latency_ms: float, status: int) -> None:
        self.append(request_id, time.time(), latency_ms,
                    {"status": np.asarray([status], dtype=np.int64)}, {}, 1)


@dataclass
class Arm:
    """The challenger's side of a rollout: the loaded model and its logs."""

    rollout_id: int
    mode: str                         # canary | shadow
    share: float
    sticky_key: str
    model: LoadedModel
    log: PredictionLog | None         # arm challenger (canary) or shadow
    outcomes: OutcomeLog | None
    champion_outcomes: OutcomeLog | None


class TrafficRouter:
    """Attached to `Service.traffic` while a rollout may route (rollout_follow.py)."""

    def __init__(self, arm: Arm) -> None:
        self.arm = arm
        self.routed = {"champion": 0, "challenger": 0, "shadow": 0}
        self._tasks: set[asyncio.Task[None]] = set()
        self._lock = threading.Lock()

    def pick(self, req: Request) -> str:
        a = self.arm
        if a.mode == "canary" and to_challenger(routing_key(req, a.sticky_key), a.share):
            return "challenger"
        return "champion"

    async def _run(self, model: LoadedModel, req: Request) -> dict[str, np.ndarray]:
        try:
            if req.rows <= INLINE_ROWS:
                return model.run(req.feeds)
            return await asyncio.to_thread(model.run, req.feeds)
        except Exception as exc:
            raise ModelFailed(f"{type(exc).__name__}: {exc}"[:500]) from exc

    async def answer(self, service: Any, action: str, req: Request, start: float
                     ) -> tuple[int, Any, bytes, str, int]:
        """What `Service._route` returns for an infer/predict, from the picked arm."""
        a = self.arm
        which = self.pick(req)
        outcomes = a.outcomes if which == "challenger" else a.champion_outcomes
        m: LoadedModel = a.model if which == "challenger" else service.model
        with self._lock:
            self.routed[which] += 1
        try:
            result = await (self._run(m, req) if which == "challenger"
                            else service.run_model(req))
        except ModelFailed:
            if outcomes is not None:
                outcomes.outcome(req.id, (time.perf_counter() - start) * 1000, 500)
            raise
        doc = (infer_response(m.name, m.version, result, req) if action == "infer"
               else predict_response(m.name, m.version, result, m.classes))
        payload: Any = (encode_response(doc, result, req.binary) if req.binary
                        else _dumps(doc))
        latency = (time.perf_counter() - start) * 1000
        if which == "challenger":
            if a.log is not None:
                a.log.append(req.id, time.time(), latency, req.feeds, result, req.rows)
        else:
            service.record(req, result, start)
        if outcomes is not None:
            outcomes.outcome(req.id, latency, 200)
        if a.mode == "shadow":
            task = asyncio.get_running_loop().create_task(self._shadow(req))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return 200, payload, _JSON, action, req.rows

    async def _shadow(self, req: Request) -> None:
        """Score the mirrored request with the challenger; never raises, never answers."""
        a = self.arm
        t0 = time.perf_counter()
        status = 200
        try:
            result = await self._run(a.model, req)
            if a.log is not None:
                a.log.append(req.id, time.time(), (time.perf_counter() - t0) * 1000,
                             req.feeds, result, req.rows)
        except ModelFailed as exc:
            status = 500
            log.debug("shadow %s failed: %s", a.model.ref, exc)
        with self._lock:
            self.routed["shadow"] += 1
        if a.outcomes is not None:
            a.outcomes.outcome(req.id, (time.perf_counter() - t0) * 1000, status)

    def close(self) -> None:
        """Flush the challenger's logs (pending shadow tasks are dropped with the loop)."""
        for lg in (self.arm.log, self.arm.outcomes, self.arm.champion_outcomes):
            if lg is not None:
                lg.close()
