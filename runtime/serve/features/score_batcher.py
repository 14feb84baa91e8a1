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
        self._pending: list[Pending] = []
        self._threaded: set[asyncio.Future[None]] = set()
        self._scheduled = False
        self.runs = 0       # model calls (tests and the bench read it)

    async def score(self, feeds: dict[str, np.ndarray], rows: int) -> dict[str, np.ndarray]:
        """The `asgi.Scorer` signature: outputs of the model for these feeds."""
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[dict[str, np.ndarray]] = loop.create_future()
        self._pending.append((feeds, rows, fut))
        if not self._scheduled:
            self._scheduled = True
            loop.call_soon(self._flush)
        return await fut

    def _flush(self) -> None:
        """A plain callback (no task per batch): small batches run right here."""
        batch, self._pending, self._scheduled = self._pending, [], False
        total = sum(rows for _, rows, _ in batch)
        if total > INLINE_ROWS:
            task = asyncio.ensure_future(self._flush_in_thread(batch))
            self._threaded.add(task)        # held until done (the loop keeps weak refs)
            task.add_done_callback(self._threaded.discard)
            return
        try:
            feeds = _concat(batch)
            self.runs += 1
            out: dict[str, np.ndarray] = self.model.run(feeds)
        except Exception as exc:
            _fail(batch, exc)
            return
        _split(batch, out)

    async def _flush_in_thread(self, batch: list[Pending]) -> None:
        try:
            feeds = _concat(batch)
            self.runs += 1
            out: dict[str, np.ndarray] = await asyncio.to_thread(self.model.run, feeds)
        except Exception as exc:
            _fail(batch, exc)
            return
        _split(batch, out)


Pending = tuple[dict[str, np.ndarray], int, "asyncio.Future[dict[str, np.ndarray]]"]


def _concat(batch: list[Pending]) -> dict[str, np.ndarray]:
    if len(batch) == 1:
        return batch[0][0]
    return {k: np.concatenate([f[k] for f, _, _ in batch]) for k in batch[0][0]}


def _fail(batch: list[Pending], exc: Exception) -> None:
    for _, _, fut in batch:
        if not fut.done():
            fut.set_exception(exc)


def _split(batch: list[Pending], out: dict[str, np.ndarray]) -> None:
    start = 0
    for _, rows, fut in batch:
        if not fut.done():
            fut.set_result(out if len(batch) == 1 else
                           {k: v[start:start + rows] for k, v in out.items()})
        start += rows
