"""One monitoring pass over a model: reference version -> windows -> signals -> alerts.

Why this is separate from the CLI: the `monitor` command, the manual `monitor:<model>`
plan node and the tests all run the same pass; it takes data frames and open handles, and
returns the report document (report.py renders it) plus the alerts that fired.

Per window, every signal gets a level before hygiene:
- `data_drift`: alert when the dataset drifts (share of features in alert >= drift_share),
  warn when some feature is in alert but the share is below the rule, else ok;
  insufficient_data when no feature had enough values;
- `prediction_drift`: the score's own drift status (same method and thresholds);
- `performance`: alert when a realised metric breaks the spec's `performance` bounds,
  insufficient_data while labels are awaited (label delay) or too few joined;
- `fairness` and `operational` are reported per window but only alert through
  `performance`-style bounds given in the spec (`performance: {disparate_impact:sex: 0.8,
  error_rate: 0.01, latency_p99_ms: 50}` use the same floor/ceiling rule).
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

import numpy as np
import polars as pl

from specops.runtime.evaluation.banding import (
    FairnessSettings,
    band_edges,
    band_groups,
    favourable,
)
from specops.runtime.monitor.alerts import Alert, Hygiene, Signal
from specops.runtime.monitor.drift import DriftConfig, DriftReport, compute_drift
from specops.runtime.monitor.profile import ReferenceProfile, bin_counts, build_profile
from specops.runtime.monitor.reference import load_profile, profile_columns
from specops.runtime.monitor.windows import (
    LogColumns,
    Window,
    detect_log_columns,
    operational_metrics,
    performance,
    performance_breaches,
    split_windows,
    window_fairness,
)

__all__ = ["LabelSource", "ModelInfo", "MonitorSettings", "load_model_info", "run_pass"]

_CEILINGS = {"error_rate", "latency_p50_ms", "latency_p99_ms", "brier", "log_loss", "ece",
             "rmse", "mae", "demographic_parity_difference", "equalized_odds_difference"}


@dataclass(frozen=True)
class MonitorSettings:
    """The spec's `monitoring` section, as the plan's models table carries it."""
    drift: DriftConfig = field(default_factory=DriftConfig)
    bins: int = 10
    binning: str = "quantile"
    window_s: float | None = 604800.0
    label_delay_s: float | None = None
    consecutive_windows: int = 1
    retrain_on: tuple[str, ...] = ()
    cooldown_s: float = 604800.0
    performance: Mapping[str, float] = field(default_factory=dict)
    webhook: str | None = None

    @classmethod
    def from_plan(cls, doc: Mapping[str, Any] | None) -> MonitorSettings:
        d = dict(doc or {})
        drift = dict(d.get("drift") or {})
        cfg = DriftConfig(**{k: drift[k] for k in ("method", "warn", "alert", "epsilon",
                                                   "min_samples", "drift_share")
                             if k in drift})
        return cls(drift=cfg, bins=int(drift.get("bins", 10)),
                   binning=str(drift.get("binning", "quantile")),
                   window_s=d.get("window_s", 604800.0), label_delay_s=d.get("label_delay_s"),
                   consecutive_windows=int(d.get("consecutive_windows", 1)),
                   retrain_on=tuple(d.get("retrain_on") or ()),
                   cooldown_s=float(d.get("cooldown_s", 604800.0)),
                   performance=dict(d.get("performance") or {}), webhook=d.get("webhook"))

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["drift"] = {**asdict(self.drift), "bins": self.bins, "binning": self.binning}
        out["window"] = _human(self.window_s)
        out["label_delay"] = _human(self.label_delay_s)
        out["cooldown"] = _human(self.cooldown_s)
        return out


def _human(seconds: float | None) -> str:
    if seconds is None:
        return "none"
    for unit, size in (("w", 604800), ("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds:g}s"


@dataclass
class ModelInfo:
    """What monitoring needs from a registry version: inputs, task, profile, the graph."""
    ref: str
    path: Path
    inputs: list[tuple[str, str]]
    task: str
    classes: list[Any]
    label: str
    profile: ReferenceProfile
    # the version's favourable outcome, threshold and fixed band edges (evaluation.json)
    fairness: FairnessSettings = field(default_factory=FairnessSettings)


def load_model_info(version: Any) -> ModelInfo:
    """From a registry `Version` (or anything with `.ref` and `.path`)."""
    import json

    path = Path(version.path)
    profile = load_profile(path)
    if profile is None:
        raise LookupError(f"{version.ref} has no reference profile (registered before "
                          "profiles were written); retrain it to monitor it")
    params = json.loads((path / "params.json").read_text()) if (path / "params.json"
                                                                 ).is_file() else {}
    inputs = [(str(i["name"]), str(i.get("role", "numeric"))) for i in params.get("inputs", [])]
    if not inputs:
        inputs = [(n, f.kind) for n, f in profile.features.items()]
    ev = json.loads((path / "evaluation.json").read_text()) if (
        path / "evaluation.json").is_file() else {}
    return ModelInfo(version.ref, path, inputs, str(params.get("task", "")),
                     list(params.get("classes") or []), str(params.get("label", "")), profile,
                     FairnessSettings.from_json(ev.get("fairness_settings")))


@dataclass(frozen=True)
class LabelSource:
    """Where realised labels come from: a frame keyed by `key` (or a column of the data).

    `attributes` (optional) is a frame with `key` and protected attributes (e.g. the spine
    source): the serving log holds model inputs only, so fairness over time needs them
    joined back; they are known at request time, unlike the label."""
    column: str
    key: str | None = None
    frame: pl.DataFrame | None = None
    attributes: pl.DataFrame | None = None


def _join_side(frame: pl.DataFrame, side: pl.DataFrame, key: str, columns: Sequence[str]
               ) -> pl.DataFrame:
    """Left-join `columns` of `side` (keyed by `key`) onto `frame`: on `key` when the frame
    has it, else on the log's `request_id` (sent as the key). Columns already there stay."""
    want = [c for c in columns if c in side.columns and c not in frame.columns]
    on = key if key in frame.columns else ("request_id" if "request_id" in frame.columns
                                           else None)
    if not want or on is None or key not in side.columns:
        return frame
    tab = side.select(pl.col(key).alias(on), *want).unique(on, keep="last")
    if tab.schema[on] != frame.schema[on]:
        tab = tab.with_columns(pl.col(on).cast(pl.Utf8).cast(frame.schema[on], strict=False))
    return frame.join(tab, on=on, how="left", maintain_order="left")


def _rebin(profile: ReferenceProfile, bins: int, strategy: str) -> ReferenceProfile:
    """The profile re-binned from its stored sorted samples when the spec's bins differ."""
    if profile.bins == bins and profile.strategy == strategy:
        return profile
    cols: dict[str, Any] = {}
    for name, fp in profile.features.items():
        if fp.kind == "numeric" and fp.sorted_sample is not None:
            cols[name] = fp.sorted_sample
    fresh = build_profile(cols, bins=bins, strategy=strategy,
                          prediction=profile.prediction.sorted_sample
                          if profile.prediction is not None else None)
    features = {n: (fresh.features.get(n) or fp) for n, fp in profile.features.items()}
    for n, fp in features.items():   # keep the original counts and null shares
        old = profile.features[n]
        if fp is not old:
            features[n] = replace(fp, count=old.count, null_share=old.null_share)
    return ReferenceProfile(features, bins, strategy, profile.metrics,
                            fresh.prediction or profile.prediction)


def score(info: ModelInfo, frame: pl.DataFrame) -> tuple[np.ndarray | None, np.ndarray | None]:
    """(predicted label, score) from the version's ONNX graph (model.joblib is not shipped)."""
    from specops.runtime.training.export_onnx import session
    from specops.runtime.training.preprocess import Feature, onnx_feed, prepare_frame

    feats = [Feature(n, r) for n, r in info.inputs]
    if frame.height == 0 or any(n not in frame.columns for n, _ in info.inputs):
        return None, None
    sess = session((info.path / "model.onnx").read_bytes())
    outputs = sess.run(None, onnx_feed(prepare_frame(frame, feats), feats))
    if "regression" in info.task:
        pred = np.asarray(outputs[0], dtype=np.float64).reshape(-1)
        return pred, pred
    labels = np.asarray(outputs[0]).reshape(-1)
    proba = np.asarray(outputs[1], dtype=np.float64) if len(outputs) > 1 else None
    s = proba[:, -1] if proba is not None and proba.ndim == 2 and proba.shape[1] == 2 else None
    return labels, s


def _score_column(frame: pl.DataFrame, cols: LogColumns) -> np.ndarray | None:
    if cols.score is None:
        return None
    s = frame.get_column(cols.score)
    if isinstance(s.dtype, (pl.List, pl.Array)):
        s = s.list.last() if isinstance(s.dtype, pl.List) else s.arr.last()
    return s.cast(pl.Float64).to_numpy()


def _histograms(profile: ReferenceProfile, cols: Mapping[str, np.ndarray]
                ) -> dict[str, dict[str, list[Any]]]:
    out: dict[str, dict[str, list[Any]]] = {}
    for name, fp in profile.features.items():
        values = cols.get(name)
        if values is None:
            continue
        if fp.kind == "numeric":
            arr = np.asarray(values, dtype=np.float64)
            cur = np.sort(arr[~np.isnan(arr)])
            if not len(cur):
                continue
            edges = np.asarray(fp.edges, dtype=np.float64)
            counts = bin_counts(cur, edges)
            labels = [f"<{edges[0]:.3g}"] if len(edges) else ["all"]
            labels += [f"{a:.3g}..{b:.3g}" for a, b in itertools.pairwise(edges)]
            if len(edges):
                labels.append(f">={edges[-1]:.3g}")
            out[name] = {"labels": labels, "reference": [float(s) for s in fp.shares],
                         "current": [float(c) / len(cur) for c in counts]}
        else:
            items = [str(v) for v in values if v is not None]
            if not items:
                continue
            cats, counts = np.unique(np.asarray(items), return_counts=True)
            seen = dict(zip(cats.tolist(), counts.tolist(), strict=True))
            universe = sorted(set(fp.categories) | set(seen),
                              key=lambda c: -(fp.categories.get(c, 0) + seen.get(c, 0)))[:12]
            out[name] = {"labels": universe,
                         "reference": [float(fp.categories.get(c, 0.0)) for c in universe],
                         "current": [seen.get(c, 0) / len(items) for c in universe]}
    return out


def _quality(profile: ReferenceProfile, cols: Mapping[str, np.ndarray], rows: int
             ) -> list[dict[str, Any]]:
    """Data quality per model input for the report: missing share against the reference,
    values outside the reference's observed range (numeric) and categories the reference
    never had (categorical). Why beside drift: a broken upstream join shows as nulls or
    an unseen code long before it moves a drift statistic."""
    out: list[dict[str, Any]] = []
    for name, fp in profile.features.items():
        row: dict[str, Any] = {"feature": name, "kind": fp.kind,
                               "missing_reference": float(fp.null_share)}
        values = cols.get(name)
        if values is None:       # the column is not in the current data at all
            out.append({**row, "absent": True, "missing_current": 1.0 if rows else 0.0})
            continue
        if fp.kind == "numeric":
            arr = np.asarray(values, dtype=np.float64)
            ok = arr[~np.isnan(arr)]
            row["missing_current"] = 1.0 - len(ok) / len(arr) if len(arr) else 0.0
            sample = fp.sorted_sample
            if sample is not None and len(sample):
                lo, hi = float(sample[0]), float(sample[-1])
                below, above = int((ok < lo).sum()), int((ok > hi).sum())
                row.update(reference_min=lo, reference_max=hi, below=below, above=above,
                           out_of_range=(below + above) / len(ok) if len(ok) else 0.0)
        else:
            arr = np.asarray(values, dtype=object)
            items = arr[np.not_equal(arr, cast(Any, None))].astype(str)   # vectorised
            row["missing_current"] = 1.0 - len(items) / len(arr) if len(arr) else 0.0
            cats, counts = np.unique(items, return_counts=True)
            unseen = sorted(((str(c), int(n)) for c, n in zip(cats, counts, strict=True)
                             if str(c) not in fp.categories), key=lambda cn: (-cn[1], cn[0]))
            total = max(len(items), 1)
            row["unseen_share"] = sum(n for _, n in unseen) / total
            row["unseen"] = [{"category": c, "share": n / total} for c, n in unseen[:10]]
        out.append(row)
    return out


def _prediction_histogram(profile: ReferenceProfile, sc: np.ndarray | None, bins: int = 20
                          ) -> dict[str, Any] | None:
    """Reference (test-set) and current score shares on `bins` equal-width bins: the
    prediction distribution the report draws. Equal widths over [0, 1] for probabilities
    (readable edges), else over the range both share; the drift statistic itself keeps
    the reference quantile bins."""
    ref = profile.prediction.sorted_sample if profile.prediction is not None else None
    if sc is None or ref is None or not len(ref):
        return None
    cur = np.asarray(sc, dtype=np.float64)
    cur = cur[np.isfinite(cur)]
    if not len(cur):
        return None
    lo, hi = min(float(ref[0]), float(cur.min())), max(float(ref[-1]), float(cur.max()))
    if lo >= 0.0 and hi <= 1.0:
        lo, hi = 0.0, 1.0
    if hi <= lo:
        hi = lo + 1.0
    edges = np.linspace(lo, hi, bins + 1)
    r, _ = np.histogram(ref, edges)
    c, _ = np.histogram(cur, edges)
    return {"edges": [float(e) for e in edges], "reference": (r / len(ref)).tolist(),
            "current": (c / len(cur)).tolist(), "n_reference": len(ref),
            "n_current": len(cur)}


def _bands(frame: pl.DataFrame, protected: Sequence[str], settings: FairnessSettings
           ) -> dict[str, np.ndarray]:
    """Group labels per protected attribute, with the version's own band edges (fixed at
    evaluation, runtime/evaluation/banding.py), so a window's groups are the evaluation's.
    A version evaluated before bands existed: a numeric attribute with many values gets
    quartile edges fit once on all current rows (stable across windows)."""
    out: dict[str, np.ndarray] = {}
    for attr in protected:
        if attr not in frame.columns:
            continue
        col = frame.get_column(attr)
        edges = settings.bands.get(attr)
        if edges is None and col.dtype.is_numeric() and col.n_unique() > 10:
            edges = band_edges(col.cast(pl.Float64).to_numpy(), {"quantiles": 4})
        out[attr] = band_groups(col.to_numpy(), edges)
    return out


def _window_fairness(info: ModelInfo, pred: np.ndarray | None, sc: np.ndarray | None,
                     y_true: np.ndarray | None, mask: np.ndarray | None,
                     bands: Mapping[str, np.ndarray], min_group_size: int
                     ) -> dict[str, Any]:
    """Per attribute: the favourable decision's fairness in this window, with the
    version's favourable outcome and threshold (the same decision as at evaluation)."""
    if (pred is None and sc is None) or (len(info.classes) > 2 and \
            info.fairness.favorable is None):
        return {}
    try:
        _, decision = favourable(info.fairness, info.classes, None, sc, pred)
        truth = None
        if y_true is not None and mask is not None:
            truth, _ = favourable(info.fairness, info.classes, np.asarray(y_true[mask]),
                                  None, None)
    except ValueError:
        return {}
    if decision is None:
        return {}
    out: dict[str, Any] = {}
    for attr, groups in bands.items():
        if truth is not None and mask is not None:   # `mask`: the rows whose label arrived
            out[attr] = window_fairness(truth, decision[mask], groups[mask], min_group_size)
        else:
            out[attr] = window_fairness(None, decision, groups, min_group_size)
    return out


def _data_signal(rep: DriftReport) -> Signal:
    decided = [f for f in rep.features if f.status in ("ok", "warn", "alert")]
    if not decided:
        return Signal("data_drift", "insufficient_data", "no feature had enough values")
    drifted = sorted(f.feature for f in rep.features if f.status == "alert")
    share = f"{len(drifted)}/{len(decided)} features in alert"
    if rep.dataset_drift:
        return Signal("data_drift", "alert", f"dataset drift: {share} ({', '.join(drifted)})",
                      {"drift_share": rep.drift_share, "features": drifted})
    if drifted:
        return Signal("data_drift", "warn", f"{share} (below the share rule)",
                      {"drift_share": rep.drift_share, "features": drifted})
    return Signal("data_drift", "ok", share, {"drift_share": rep.drift_share})


def _bound_signal(name: str, values: Mapping[str, Any], bounds: Mapping[str, float],
                  have_data: bool, why_not: str) -> Signal:
    if not have_data:
        return Signal(name, "insufficient_data", why_not)
    mine = {k: v for k, v in bounds.items() if k in values}
    bad = []
    for k, bound in sorted(mine.items()):
        v = values[k]
        if v is None:
            continue
        if (v > bound) if k.split(":")[0] in _CEILINGS else (v < bound):
            bad.append(f"{k}={v:.4g} (bound {bound:g})")
    if bad:
        return Signal(name, "alert", "; ".join(bad), {"breaches": bad})
    return Signal(name, "ok", "within bounds" if mine else "no bounds in the spec")


def run_pass(info: ModelInfo, frame: pl.DataFrame, settings: MonitorSettings, *,
             hygiene: Hygiene | None = None, labels: LabelSource | None = None,
             protected: Sequence[str] = (), time_column: str | None = None,
             max_windows: int | None = None, source: Mapping[str, Any] | None = None,
             from_log: bool = False, now: float | None = None,
             min_group_size: int = 30) -> tuple[dict[str, Any], list[Alert]]:
    """Monitor `frame` against `info`'s reference; returns (report document, fired alerts)."""
    now = time.time() if now is None else now
    profile = _rebin(info.profile, settings.bins, settings.binning)
    cols = detect_log_columns(frame, time_column)
    if cols.score is None and cols.prediction is None:
        pred, sc = score(info, frame)
        if sc is not None or pred is not None:
            frame = frame.with_columns(
                *([pl.Series("__score", sc)] if sc is not None else []),
                *([pl.Series("__pred", pred)] if pred is not None else []))
            cols = replace(cols, score="__score" if sc is not None else None,
                           prediction="__pred" if pred is not None else None)
    if labels is not None and labels.key:
        if labels.attributes is not None:
            frame = _join_side(frame, labels.attributes, labels.key, protected)
        if labels.frame is not None:
            frame = _join_side(frame, labels.frame, labels.key, [labels.column])
    label_col = labels.column if labels is not None and labels.column in frame.columns else None
    # groups per protected attribute, fit once on all rows: stable bands across windows
    groups = _bands(frame, protected, info.fairness)
    frame = frame.with_columns([pl.Series(f"__group_{a}", g.tolist(), dtype=pl.Utf8)
                                for a, g in groups.items()])
    windows = split_windows(frame, cols.time, settings.window_s, max_windows, now)
    doc_windows: list[dict[str, Any]] = []
    fired: list[Alert] = []
    for w in windows:
        bands = {a: np.asarray(w.frame.get_column(f"__group_{a}").to_list(), dtype=object)
                 for a in groups}
        doc_windows.append(_one_window(info, profile, w, cols, settings, label_col, bands,
                                       from_log, now, min_group_size))
        signals = [Signal(**s) for s in doc_windows[-1]["signals"]]
        if hygiene is not None:
            end = w.end.timestamp() if w.end is not None else now
            fired += hygiene.observe(signals, w.label(), end, info.ref)
    doc = {"model": info.ref.split("@")[0], "version": info.ref,
           "generated_at": datetime.fromtimestamp(now, UTC).isoformat(timespec="seconds"),
           "source": {"kind": "log" if from_log else "current", "rows": frame.height,
                      **dict(source or {})},
           "config": settings.to_json(), "reference": {"metrics": profile.metrics,
                                                       "bins": profile.bins,
                                                       "strategy": profile.strategy},
           "columns": asdict(cols), "windows": doc_windows,
           "alerts": [a.to_json() for a in fired],
           "in_breach": hygiene.active() if hygiene is not None else []}
    return doc, fired


def _one_window(info: ModelInfo, profile: ReferenceProfile, w: Window, cols: LogColumns,
                settings: MonitorSettings, label_col: str | None,
                bands: Mapping[str, np.ndarray], from_log: bool, now: float,
                min_group_size: int) -> dict[str, Any]:
    f = w.frame
    arrays = profile_columns(f, info.inputs)
    sc = _score_column(f, cols)
    rep = compute_drift(profile, arrays, settings.drift, prediction=sc, threads=1)
    signals = [_data_signal(rep)]
    if rep.prediction is not None:
        p = rep.prediction
        signals.append(Signal("prediction_drift", p.status,
                              f"prediction {p.method}={p.value:.4g}" if p.value is not None
                              else "too few predictions"))
    pred = f.get_column(cols.prediction).to_numpy() if cols.prediction else None
    perf: dict[str, Any] = {"status": "no_labels"}
    y_true = None
    if label_col is not None:
        delay = settings.label_delay_s or 0.0
        end = w.end.timestamp() if w.end is not None else now
        lab = f.get_column(label_col)
        mask = lab.is_not_null().to_numpy()
        if end + delay > now:
            perf = {"status": "awaiting_labels", "labels_due": datetime.fromtimestamp(
                end + delay, UTC).isoformat(timespec="seconds"), "labelled": int(mask.sum())}
        elif mask.sum() < settings.drift.min_samples:
            perf = {"status": "insufficient_labels", "labelled": int(mask.sum())}
        else:
            y_true = lab.to_numpy()
            m = performance(y_true[mask], pred[mask] if pred is not None else None,
                            sc[mask] if sc is not None else None, info.classes, info.task)
            perf = {"status": "labelled", "labelled": int(mask.sum()), "metrics": m}
    fairness = _window_fairness(info, pred, sc, y_true, mask if y_true is not None else None,
                                bands, min_group_size)
    ops = operational_metrics(f, cols) if from_log else {"requests": float(f.height)}
    values: dict[str, Any] = dict(perf.get("metrics") or {})
    for attr, rep_f in fairness.items():
        values.update({f"{k}:{attr}": v for k, v in rep_f.items()
                       if isinstance(v, (int, float)) and not isinstance(v, bool)})
    perf_bounds = {k: v for k, v in settings.performance.items()
                   if k not in ops and ":" not in k}
    signals.append(_bound_signal("performance", values, perf_bounds,
                                 perf["status"] == "labelled",
                                 f"performance {perf['status'].replace('_', ' ')}"))
    fair_bounds = {k: v for k, v in settings.performance.items() if ":" in k}
    if fair_bounds and fairness:
        signals.append(_bound_signal("fairness", values, fair_bounds, True, ""))
    ops_bounds = {k: v for k, v in settings.performance.items() if k in ops}
    if ops_bounds:
        signals.append(_bound_signal("operational", ops, ops_bounds, bool(f.height), ""))
    if perf.get("metrics"):
        perf["breaches"] = performance_breaches(perf["metrics"], perf_bounds)
    return {"index": w.index, "label": w.label(),
            "start": w.start.isoformat() if w.start else None,
            "end": w.end.isoformat() if w.end else None, "rows": f.height,
            "drift": rep.to_json(), "histograms": _histograms(profile, arrays),
            "prediction_histogram": _prediction_histogram(profile, sc),
            "quality": _quality(profile, arrays, f.height),
            "performance": perf, "fairness": fairness, "operational": ops,
            "signals": [asdict(s) for s in signals]}
