"""One ONNX run for every online-mode request the event loop has in hand.

Why: in online mode the requests of one event-loop pass come back from the store lookup
together (lookup_batcher.py answers them in one round trip), so they reach the model in
the same pass too. Their feeds are concatenated and scored in one `session.run`, then
split back: N single-row requests cost one model call instead of N (the per-call
overhead, not the rows, dominates a small tabular model). Rows are independent in these
models, so each request's outputs equal those of its own call (the parity tests score
single-row requests, 200-row requests and one request of every row: all equal).

A batch above `INLINE_ROWS` rows runs in a worker thread (onnxruntime releases the GIL),
as `asgi.Service` does for one large request.
"""

from __future__ import annotations

import asyncio
from typing import Any

import numpy as np

__all__ = ["ScoreBatcher"]

INLINE_ROWS = 64


class ScoreBatcher:
    def __init__(self, model: Any) -> None:
        self.model = model
        self._pending: list[tuple[dict[str, np.ndarray], int,
                                  asyncio.Future[dict[str, np.ndarray]]]] = []
        self._scheduled = False
        self.runs = 0       # model calls (tests and the bench read it)

    async def score(self, feeds: dict[str, np.ndarray], rows: int) -> dict[str, np.ndarray]:
        """The `asgi.Scorer` signature: outputs of the model for these feeds."""
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[dict[str, np.ndarray]] = loop.create_future()
        self._pending.append((feeds, rows, fut))
        if not self._scheduled:
            self._scheduled = True
            loop.call_soon(lambda: asyncio.ensure_future(self._flush()))
        return await fut

    async def _flush(self) -> None:
        batch, self._pending, self._scheduled = self._pending, [], False
        total = sum(rows for _, rows, _ in batch)
        try:
            if len(batch) == 1:
                feeds = batch[0][0]
            else:
                feeds = {k: np.concatenate([f[k] for f, _, _ in batch]) for k in batch[0][0]}
            self.runs += 1
            if total <= INLINE_ROWS:
                out: dict[str, np.ndarray] = self.model.run(feeds)
            else:
                out = await asyncio.to_thread(self.model.run, feeds)
        except Exception as exc:
            for _, _, fut in batch:
                if not fut.done():
                    fut.set_exception(exc)
            return
        start = 0
        for _, rows, fut in batch:
            if not fut.done():
                fut.set_result(out if len(batch) == 1 else
                               {k: v[start:start + rows] for k, v in out.items()})
            start += rows
