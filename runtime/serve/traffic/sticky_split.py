"""Which arm a request goes to: a stable hash of its key, in 10,000 buckets.

Why a keyed hash and not a random draw: a canary must be sticky (the same customer sees
the same model on every request, or the comparison mixes both models' effects on one
entity), and every replica must agree without sharing state. A request goes to the
challenger when `bucket(key) < share * 100` (share in percent: 10 -> buckets 0..999).
The key is the model input named by the rollout's `sticky_key` (its first row: routing is
per request), else the request `id` (the monitoring convention: id = the entity key); a
request with neither is routed by a fresh random id, so it is not sticky.
BLAKE2b rather than Python's `hash`: that one is salted per process.
"""

from __future__ import annotations

import hashlib
import uuid
from typing import Any

__all__ = ["BUCKETS", "bucket", "routing_key", "to_challenger"]

BUCKETS = 10_000


def bucket(key: str) -> int:
    """The key's bucket in [0, 10000), the same in every process and on every machine."""
    digest = hashlib.blake2b(key.encode("utf-8", "surrogatepass"), digest_size=8).digest()
    return int.from_bytes(digest, "big") % BUCKETS


def to_challenger(key: str, share: float) -> bool:
    """Whether a request keyed `key` goes to the challenger of a `share` percent canary."""
    return bucket(key) < share * (BUCKETS // 100)


def routing_key(req: Any, sticky_key: str) -> str:
    """The request's routing key: the `sticky_key` input's first value, else its id."""
    if sticky_key:
        values = req.feeds.get(sticky_key)
        if values is not None and values.size:
            first = values.reshape(-1)[0]
            value = first.item() if hasattr(first, "item") else first
            if isinstance(value, float) and value.is_integer():
                value = int(value)        # 42.0 (FP32 input) and 42 route alike
            return str(value)
    return str(req.id) if req.id else uuid.uuid4().hex
