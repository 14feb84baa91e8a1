"""Task metrics per value of a slicing column (e.g. `min(roc_auc by region)` in a gate).

Groups with fewer than `min_group_size` rows are reported with their size and the reason,
but without metrics, so a slice minimum is never decided by a handful of rows.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

__all__ = ["slice_metrics"]


def slice_metrics(groups: np.ndarray, compute: Callable[[np.ndarray], dict[str, float]],
                  min_group_size: int) -> dict[str, dict[str, Any]]:
    keys = np.asarray(["<null>" if g is None else str(g) for g in groups.tolist()],
                      dtype=object)
    out: dict[str, dict[str, Any]] = {}
    for key in sorted(set(keys.tolist())):
        mask = keys == key
        n = int(mask.sum())
        if n < min_group_size:
            out[key] = {"n": n, "skipped": f"fewer than {min_group_size} rows"}
        else:
            out[key] = {"n": n, "metrics": compute(mask)}
    return out
