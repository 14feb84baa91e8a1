"""The reference profile of a model version: written by `evaluate`, shipped by `register`.

Why at training time, from the training frame: monitoring compares what the model sees in
production with what it was fit on, and must work when the raw training data is gone or
restricted. `evaluate` already holds the training set, the fitted pipeline and the test
predictions, so it writes `profile/` next to `evaluation.json`; `register` copies it into
the registry version, where the signed manifest covers it (it is evidence, not part of the
version's content digest, so adding it never changes which versions are "the same").

Why one column conversion for both sides (`profile_columns`): the reference and every
current window must turn a frame into arrays the same way (numeric -> float64 with NaN for
null; categorical -> strings with None for null), or drift would measure the conversion.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
from numpy.typing import NDArray

from specops.runtime.monitor.profile import ReferenceProfile, build_profile
from specops.runtime.training.preprocess import MISSING_CATEGORY

__all__ = ["PROFILE_DIR", "load_profile", "profile_columns", "profile_files",
           "write_reference_profile"]

PROFILE_DIR = "profile"


def profile_columns(df: pl.DataFrame, features: Iterable[tuple[str, str]]
                    ) -> dict[str, NDArray[Any]]:
    """`{name: array}` for the (name, role) pairs present in `df`."""
    out: dict[str, NDArray[Any]] = {}
    for name, role in features:
        if name not in df.columns:
            continue
        col = df.get_column(name)
        if role == "numeric" and (col.dtype.is_numeric() or col.dtype == pl.Boolean):
            out[name] = col.cast(pl.Float64, strict=False).to_numpy()
        else:   # the serving log writes a null category as MISSING_CATEGORY: undo that
            text = pl.col(name).cast(pl.Utf8, strict=False)
            fixed = df.select(pl.when(text == MISSING_CATEGORY).then(None).otherwise(text))
            out[name] = np.asarray(fixed.to_series().to_list(), dtype=object)
    return out


def write_reference_profile(folder: Path, train: pl.DataFrame,
                            features: Iterable[tuple[str, str]],
                            prediction: NDArray[Any] | None = None,
                            metrics: Mapping[str, float] | None = None,
                            bins: int = 10, strategy: str = "quantile") -> ReferenceProfile:
    """Profile the model inputs of `train` (+ the test-set prediction score) into `folder`."""
    cols = profile_columns(train, features)
    clean = {k: float(v) for k, v in (metrics or {}).items()
             if isinstance(v, (int, float)) and np.isfinite(v)}
    profile = build_profile(cols, bins=bins, strategy=strategy,
                            prediction=None if prediction is None
                            else np.asarray(prediction, dtype=np.float64),
                            metrics=clean)
    profile.save(folder)
    return profile


def profile_files(folder: Path, prefix: str = PROFILE_DIR) -> dict[str, Path]:
    """`{"profile/profile.json": path, "profile/samples/x.npy": path, ...}` for register."""
    if not (folder / "profile.json").is_file():
        return {}
    return {f"{prefix}/{p.relative_to(folder).as_posix()}": p
            for p in sorted(folder.rglob("*")) if p.is_file()}


def load_profile(version_dir: Path) -> ReferenceProfile | None:
    """The profile shipped with a registry version (or an evaluate output), if any."""
    folder = version_dir / PROFILE_DIR
    if not (folder / "profile.json").is_file():
        return None
    return ReferenceProfile.load(folder)
