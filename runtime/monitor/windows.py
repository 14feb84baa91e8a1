"""Current data for monitoring: reading it, cutting it into windows, and what each window
measures besides drift (realised performance, fairness, operational metrics).

Where current data comes from:
- `--current PATH`: a parquet/csv file, a folder or a glob of model inputs (or raw source
  rows, turned into model inputs by `features.py` with the training feature code);
- `--from-log`: the serving prediction log (runtime/serve/prediction_log.py),
  hive-partitioned parquet under `<project>/.specops/predictions/model=<name>/date=.../`,
  one row per scored row: `request_id`, `row`, `time`, `version`, `latency_ms`, every
  model input as the model saw it, then `label` + `probabilities` (a list per row) or
  `prediction`. The log holds scored rows only, so the error rate is reported when the
  frame has an `error`/`status` column and left out otherwise. Labels join on their key
  column when the log has it, else on `request_id` (send one request per entity with
  `id` = the key, e.g. the application id).

Why windows are aligned on the newest timestamp and walk backwards: the latest window is
then always complete (a calendar-aligned one would usually be a partial week), and the
same log read twice gives the same windows as long as no newer row arrived.

Labels arrive late. A window's realised performance is computed only when the window ended
at least `label_delay` before now *and* labels for its rows can be joined (by the label
key, e.g. application_id); otherwise it is `awaiting_labels`, never a number computed on
the few labels that happened to arrive early (those are biased towards fast outcomes).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

__all__ = ["LOG_DIR", "LogColumns", "Window", "detect_log_columns", "operational_metrics",
           "parse_duration", "performance", "read_prediction_log", "read_table",
           "split_windows", "window_fairness"]

LOG_DIR = Path(".specops") / "predictions"
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_LOWER_IS_BETTER = {"brier", "log_loss", "ece", "rmse", "mae", "mse", "mape"}


def parse_duration(text: str | float | int | None) -> float | None:
    """`"7d"` -> 604800.0; numbers are seconds; `None` stays `None`."""
    if text is None or text == "":
        return None
    if isinstance(text, (int, float)):
        return float(text)
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhdw]?)\s*", str(text))
    if not m:
        raise ValueError(f"bad duration {text!r}; use e.g. 90s, 30m, 24h, 7d, 2w")
    return float(m.group(1)) * _UNITS[m.group(2) or "s"]


def read_table(path: Path | str) -> pl.DataFrame:
    """A parquet or csv file, a folder of them, or a glob."""
    p = Path(path)
    if p.is_dir():
        files = sorted(p.rglob("*.parquet")) or sorted(p.rglob("*.csv"))
        if not files:
            raise FileNotFoundError(f"{p}: no parquet or csv files")
        if files[0].suffix == ".csv":
            return pl.concat([pl.read_csv(f, try_parse_dates=True) for f in files],
                             how="diagonal_relaxed")
        return pl.read_parquet(files, hive_partitioning=True)
    if p.suffix == ".csv":
        return pl.read_csv(p, try_parse_dates=True)
    if any(ch in str(p) for ch in "*?[") or p.is_file():
        return pl.read_parquet(str(p))
    raise FileNotFoundError(f"no such file: {p}")


def read_prediction_log(project_root: Path, model: str, log_dir: Path | None = None
                        ) -> pl.DataFrame:
    """Every logged prediction of `model` (empty frame when nothing was logged yet)."""
    root = (log_dir or project_root / LOG_DIR) / f"model={model}"
    files = sorted(root.rglob("*.parquet")) if root.is_dir() else []
    if not files:
        return pl.DataFrame()
    frames = [pl.read_parquet(f, hive_partitioning=False) for f in files]
    df = pl.concat(frames, how="diagonal_relaxed")
    if "arm" in df.columns:   # a shadow re-scores requests the champion answered: not traffic
        df = df.filter(pl.col("arm").is_null() | (pl.col("arm") != "shadow"))
    return df


@dataclass(frozen=True)
class LogColumns:
    """Which columns of a current frame hold what (None: not there)."""
    time: str | None = None
    score: str | None = None          # positive-class probability, or the regression value
    prediction: str | None = None     # predicted label
    latency: str | None = None        # milliseconds
    error: str | None = None          # non-null / true / non-2xx means the request failed
    version: str | None = None


def _first(columns: Sequence[str], names: Sequence[str]) -> str | None:
    return next((n for n in names if n in columns), None)


def detect_log_columns(df: pl.DataFrame, time_column: str | None = None) -> LogColumns:
    """Find the log's columns by their usual names (the serving log and most exports)."""
    cols = df.columns
    score = _first(cols, ("probabilities", "probability", "proba", "score",
                          "prediction_score", "p1", "prediction"))
    if score is not None and not (df.schema[score].is_numeric()
                                  or isinstance(df.schema[score], (pl.List, pl.Array))):
        score = None
    return LogColumns(
        time=time_column if time_column in cols else _first(
            cols, ("time", "timestamp", "ts", "logged_at", "requested_at", "event_time")),
        score=score,
        prediction=_first(cols, ("label", "prediction", "label_pred", "predicted_label",
                                 "y_pred")),
        latency=_first(cols, ("latency_ms", "latency", "duration_ms")),
        error=_first(cols, ("error", "status_code", "status", "ok")),
        version=_first(cols, ("version", "model_version")))


@dataclass
class Window:
    index: int                         # 0 = oldest
    start: datetime | None
    end: datetime | None
    frame: pl.DataFrame
    meta: dict[str, Any] = field(default_factory=dict)

    def label(self) -> str:
        if self.start is None or self.end is None:
            return "current"
        return f"{self.start:%Y-%m-%d %H:%M} .. {self.end:%Y-%m-%d %H:%M}"


def _as_datetime(series: pl.Series) -> pl.Series:
    if series.dtype == pl.Date:
        return series.cast(pl.Datetime("us"))
    if series.dtype.is_temporal():
        return series
    if series.dtype == pl.Utf8:
        return series.str.to_datetime(strict=False)
    return pl.from_epoch(series.cast(pl.Int64), time_unit="s")   # numbers: epoch seconds


def split_windows(df: pl.DataFrame, time_column: str | None, window_s: float | None,
                  max_windows: int | None = None, now: float | None = None) -> list[Window]:
    """Tumbling windows of `window_s` ending at the newest row (oldest first).

    Without a time column or a window size the whole frame is one window ending now."""
    if time_column is None or window_s is None or df.height == 0:
        end = datetime.fromtimestamp(now, UTC) if now is not None else None
        return [Window(0, None, end, df)]
    ts = _as_datetime(df.get_column(time_column))
    if getattr(ts.dtype, "time_zone", None) is None:
        ts = ts.dt.replace_time_zone("UTC")
    us = ts.dt.epoch("us").to_numpy()
    df = df.with_columns(pl.Series("__t_us", us))
    hi = int(np.nanmax(us))
    step = int(window_s * 1_000_000)
    # window k (0 = newest) holds (hi - (k+1)*step, hi - k*step]
    k = ((hi - us) // step).astype(np.int64)
    n = int(k.max()) + 1
    if max_windows is not None:
        n = min(n, max_windows)
    out: list[Window] = []
    frame = df.with_columns(pl.Series("__w", k))
    for j in range(n - 1, -1, -1):
        part = frame.filter(pl.col("__w") == j).drop("__w", "__t_us")
        end_us = hi - j * step
        out.append(Window(len(out), datetime.fromtimestamp((end_us - step) / 1e6, UTC),
                          datetime.fromtimestamp(end_us / 1e6, UTC), part))
    return out


def _error_mask(series: pl.Series) -> np.ndarray:
    if series.dtype == pl.Boolean:
        if series.name == "ok":
            return ~series.fill_null(False).to_numpy()
        return np.asarray(series.fill_null(False).to_numpy(), dtype=bool)
    if series.dtype.is_numeric():
        codes = series.fill_null(200).to_numpy()
        return np.asarray((codes < 200) | (codes >= 300), dtype=bool)
    text = series.cast(pl.Utf8)
    ok = text.is_null() | text.is_in(["", "ok", "OK", "200", "success"])
    return np.asarray(~ok.to_numpy(), dtype=bool)


def operational_metrics(df: pl.DataFrame, cols: LogColumns) -> dict[str, float | None]:
    """Request count, error rate, latency p50/p99 (ms) of one window of the serving log."""
    out: dict[str, float | None] = {"requests": float(df.height)}
    if cols.error and df.height:
        out["error_rate"] = float(_error_mask(df.get_column(cols.error)).mean())
    if cols.latency and df.height:
        lat = df.get_column(cols.latency).cast(pl.Float64).drop_nulls().to_numpy()
        if len(lat):
            out["latency_p50_ms"] = float(np.percentile(lat, 50))
            out["latency_p99_ms"] = float(np.percentile(lat, 99))
    if cols.version and df.height:
        out["versions"] = float(df.get_column(cols.version).n_unique())
    return out


def performance(y_true: np.ndarray, y_pred: np.ndarray | None, score: np.ndarray | None,
                classes: list[Any], task: str) -> dict[str, float]:
    """Realised task metrics on the labelled rows of a window (runtime/metrics definitions)."""
    from specops.runtime.evaluation import classification_metrics, regression_metrics

    if "regression" in task:
        pred = score if score is not None else y_pred
        if pred is None:
            return {}
        reg: dict[str, float] = regression_metrics(np.asarray(y_true, dtype=np.float64),
                                                   np.asarray(pred, dtype=np.float64))
        return reg
    if y_pred is None and score is not None and len(classes) == 2:
        y_pred = np.where(np.asarray(score) >= 0.5, classes[1], classes[0])
    if y_pred is None:
        return {}
    yt = np.asarray(y_true)
    yp = np.asarray(y_pred)
    if len(classes) == 2 and score is not None:
        s = np.asarray(score, dtype=np.float64)
        proba = np.column_stack([1 - s, s])
        if yt.dtype.kind in "if" and yp.dtype.kind not in "if":
            yp = yp.astype(yt.dtype)
        cls: dict[str, float] = classification_metrics(yt, yp, proba, classes)
        return cls
    from sklearn.metrics import accuracy_score

    return {"accuracy": float(accuracy_score(yt.astype(str), yp.astype(str))),
            "n": float(len(yt))}


def performance_breaches(metrics: Mapping[str, float], floors: Mapping[str, float]
                         ) -> list[str]:
    """Spec `performance: {roc_auc: 0.70, brier: 0.25}`: a floor for higher-is-better
    metrics, a ceiling for error metrics (brier, log_loss, ece, rmse, mae, ...)."""
    out = []
    for name, bound in sorted(floors.items()):
        value = metrics.get(name)
        if value is None:
            continue
        worse = value > bound if name in _LOWER_IS_BETTER else value < bound
        if worse:
            out.append(f"{name}={value:.4g} {'>' if name in _LOWER_IS_BETTER else '<'} "
                       f"{bound:g}")
    return out


def window_fairness(y_true: np.ndarray | None, y_pred_pos: np.ndarray, groups: np.ndarray,
                    min_group_size: int) -> dict[str, Any]:
    """Fairness of one window for one protected attribute (fairlearn definitions).

    Without labels only selection-rate metrics exist (demographic parity, disparate
    impact); the label-based ones (equalized odds) need a labelled window."""
    from specops.runtime.evaluation import fairness_report

    truth = y_true if y_true is not None else np.zeros(len(y_pred_pos), dtype=np.int64)
    rep = fairness_report(truth, y_pred_pos, groups, min_group_size)
    keys = ["demographic_parity_difference", "disparate_impact", "selection_rate_min",
            "selection_rate_max"]
    if y_true is not None:
        keys += ["equalized_odds_difference", "equal_opportunity_difference"]
    out = {k: rep.get(k) for k in keys}
    out["groups"] = rep.get("compared_groups", [])
    out["n"] = {str(g): int(v["n"]) for g, v in (rep.get("groups") or {}).items()}
    out["labelled"] = y_true is not None
    return out
