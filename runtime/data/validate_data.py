"""`validate_data`: data checks on a loaded source, with a readable report.

Why a separate node rather than checks inside `load_source`: the compiler gives every
consumer of a source an edge from `validate:<source>`, so a failing check stops every
feature view, training set and model downstream, while the loaded table and the report
stay inspectable. The op always writes `report.json` and `report.txt` (also on failure)
and raises OpError carrying the report when any check fails.

Checks (params from docs/plan.md): per column `nullable: false` (no nulls), `unique`
(no duplicate non-null values), `min`/`max` (inclusive bounds), `in` (allowed values;
nulls are the business of `nullable`); `row_count` {min, max}; `max_null_share` (every
column); `distribution` {reference, method: psi|ks, max, columns, bins}.

Distribution: PSI = sum over bins of (cur - ref) * ln(cur / ref). Numeric columns use
quantile bins fit on the reference (`bins`, default 10; the credit-risk convention, not
Evidently's equal-width Sturges bins over both samples): edges are the distinct
reference quantiles at 1/bins .. (bins-1)/bins, a value equal to an edge falls in the
upper bin, and nulls get a bin of their own. String/bool columns use one bin per
reference category plus one for unseen values. Empty bins are floored at 1e-4 so the
logarithm stays finite. `ks` is the two-sample Kolmogorov-Smirnov statistic (the largest
gap between the two empirical CDFs, nulls ignored) on numeric columns.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from specops.runtime.data.table_files import DATA_FILE
from specops.runtime.engine.op_interface import OpContext, OpError, OpResult

__all__ = ["ks_statistic", "psi", "render_text", "validate_data", "validate_frame"]

_EXAMPLES = 5
_EPS = 1e-4


def _examples(s: pl.Series) -> list[Any]:
    vals = s.unique(maintain_order=True).head(_EXAMPLES).to_list()
    return [v if isinstance(v, (int, float, str, bool)) or v is None else str(v) for v in vals]


def _check(kind: str, column: str | None, passed: bool, detail: str, **extra: Any
           ) -> dict[str, Any]:
    return {"check": kind, "column": column, "passed": bool(passed), "detail": detail, **extra}


def _column_checks(df: pl.DataFrame, name: str, spec: dict[str, Any]) -> list[dict[str, Any]]:
    s = df.get_column(name)
    out: list[dict[str, Any]] = []
    n_null = s.null_count()
    if spec.get("nullable") is False:
        out.append(_check("not_null", name, n_null == 0,
                          f"{n_null} null value(s)" if n_null else "no nulls", failing=n_null))
    if spec.get("unique"):
        nn = s.drop_nulls()
        dup_mask = nn.is_duplicated()
        n_dup = int(dup_mask.sum())
        out.append(_check("unique", name, n_dup == 0,
                          f"{n_dup} row(s) share a value" if n_dup else "all values distinct",
                          failing=n_dup, examples=_examples(nn.filter(dup_mask))))
    numeric = s.dtype.is_numeric() or s.dtype.is_temporal()
    for bound, op in (("min", "ge"), ("max", "le")):
        limit = spec.get(bound)
        if limit is None or not numeric:
            continue
        bad = (s < limit) if op == "ge" else (s > limit)
        bad = bad.fill_null(False)
        n_bad = int(bad.sum())
        word = "below" if op == "ge" else "above"
        out.append(_check(bound, name, n_bad == 0,
                          f"{n_bad} value(s) {word} {limit}" if n_bad else
                          f"all values {'>=' if op == 'ge' else '<='} {limit}",
                          failing=n_bad, expected=limit, examples=_examples(s.filter(bad)),
                          observed=_scalar(s.min() if op == "ge" else s.max())))
    allowed = spec.get("in")
    if allowed is not None:
        try:
            values = pl.Series(allowed).cast(s.dtype, strict=False).drop_nulls().to_list()
            bad = ~s.is_in(values).fill_null(True)
        except pl.exceptions.PolarsError:
            bad = ~s.cast(pl.String).is_in([str(a) for a in allowed]).fill_null(True)
        n_bad = int(bad.sum())
        out.append(_check("in", name, n_bad == 0,
                          f"{n_bad} value(s) outside {allowed}" if n_bad else
                          f"all values in {allowed}", failing=n_bad, expected=allowed,
                          examples=_examples(s.filter(bad))))
    return out


def _scalar(v: Any) -> Any:
    return v if isinstance(v, (int, float, str, bool)) or v is None else str(v)


def psi(ref: pl.Series, cur: pl.Series, bins: int = 10) -> float:
    """Population stability index of `cur` against `ref` (binning in the module doc)."""
    if ref.dtype.is_numeric():
        r = ref.cast(pl.Float64).to_numpy()
        c = cur.cast(pl.Float64).to_numpy()
        r_ok, c_ok = ~np.isnan(r), ~np.isnan(c)
        edges = np.unique(np.quantile(r[r_ok], np.arange(1, bins) / bins)) \
            if r_ok.any() else np.array([])
        r_bins = np.where(r_ok, np.searchsorted(edges, r, side="right"), len(edges) + 1)
        c_bins = np.where(c_ok, np.searchsorted(edges, c, side="right"), len(edges) + 1)
        k = len(edges) + 2
        rc = np.bincount(r_bins, minlength=k)[:k]
        cc = np.bincount(c_bins, minlength=k)[:k]
    else:
        cats = ref.cast(pl.String).fill_null("\0null").unique().sort().to_list()
        index = {v: i for i, v in enumerate(cats)}

        def counts(s: pl.Series) -> np.ndarray:
            vals = s.cast(pl.String).fill_null("\0null").value_counts()
            arr = np.zeros(len(cats) + 1)
            for v, n in vals.iter_rows():
                arr[index.get(v, len(cats))] += n
            return arr

        rc, cc = counts(ref), counts(cur)
    rp = np.maximum(rc / max(rc.sum(), 1), _EPS)
    cp = np.maximum(cc / max(cc.sum(), 1), _EPS)
    return float(np.sum((cp - rp) * np.log(cp / rp)))


def ks_statistic(ref: pl.Series, cur: pl.Series) -> float:
    """Two-sample KS statistic: the largest gap between the empirical CDFs (nulls dropped)."""
    r = np.sort(ref.drop_nulls().cast(pl.Float64).to_numpy())
    c = np.sort(cur.drop_nulls().cast(pl.Float64).to_numpy())
    if not len(r) or not len(c):
        return 0.0
    grid = np.concatenate([r, c])
    fr = np.searchsorted(r, grid, side="right") / len(r)
    fc = np.searchsorted(c, grid, side="right") / len(c)
    return float(np.max(np.abs(fr - fc)))


def _distribution(df: pl.DataFrame, spec: dict[str, Any], root: Path,
                  node: str) -> list[dict[str, Any]]:
    ref_path = root / spec["reference"]
    if not ref_path.is_file():
        return [_check("distribution", None, False, f"reference {spec['reference']} not found")]
    ref = (pl.read_csv(ref_path, try_parse_dates=True) if ref_path.suffix == ".csv"
           else pl.read_parquet(ref_path))
    # as the compiler decided them (contract/op_params.py `Distribution`; no defaults here)
    method = spec["method"]
    limit = float(spec["max"])
    bins = int(spec["bins"])
    cols = spec.get("columns") or [c for c in df.columns if c in ref.columns
                                   and (df.schema[c].is_numeric() or method == "psi")
                                   and not df.schema[c].is_temporal()]
    out = []
    for c in cols:
        if c not in ref.columns or c not in df.columns:
            out.append(_check("distribution", c, False, f"column {c} missing from "
                              f"{'the reference' if c not in ref.columns else 'the data'}"))
            continue
        r, s = ref.get_column(c), df.get_column(c)
        if r.dtype != s.dtype and r.dtype.is_numeric() != s.dtype.is_numeric():
            r = r.cast(s.dtype, strict=False)
        value = psi(r, s, bins) if method == "psi" else ks_statistic(r, s)
        out.append(_check("distribution", c, value <= limit,
                          f"{method} {value:.4f} {'<=' if value <= limit else '>'} {limit}",
                          method=method, observed=round(value, 6), expected=limit))
    return out


def validate_frame(df: pl.DataFrame, params: dict[str, Any], root: Path,
                   node: str = "validate") -> dict[str, Any]:
    """Run every check in `params` on `df`; the report (see `validate_data`)."""
    checks: list[dict[str, Any]] = []
    n = df.height
    rc = params.get("row_count") or {}
    if rc.get("min") is not None or rc.get("max") is not None:
        lo, hi = rc.get("min"), rc.get("max")
        ok = (lo is None or n >= lo) and (hi is None or n <= hi)
        checks.append(_check("row_count", None, ok, f"{n} rows (expected "
                             f"{'>= ' + str(lo) if lo is not None else ''}"
                             f"{' and ' if lo is not None and hi is not None else ''}"
                             f"{'<= ' + str(hi) if hi is not None else ''})",
                             observed=n, expected={"min": lo, "max": hi}))
    for name, spec in (params.get("columns") or {}).items():
        if name not in df.columns:
            checks.append(_check("exists", name, False, "column missing from the data"))
            continue
        checks.extend(_column_checks(df, name, spec or {}))
    share = params.get("max_null_share")
    if share is not None:
        for name in df.columns:
            s = df.get_column(name).null_count() / n if n else 0.0
            checks.append(_check("max_null_share", name, s <= share,
                                 f"{s:.2%} null ({'<=' if s <= share else '>'} {share:.2%})",
                                 observed=round(s, 6), expected=share))
    if params.get("distribution"):
        checks.extend(_distribution(df, params["distribution"], root, node))
    failed = [c for c in checks if not c["passed"]]
    return {"node": node, "passed": not failed, "rows": n, "checks": checks,
            "failed": len(failed), "total": len(checks)}


def render_text(report: dict[str, Any]) -> str:
    head = (f"{report['node']}: {'PASSED' if report['passed'] else 'FAILED'} - "
            f"{report['failed']} of {report['total']} checks failed, {report['rows']} rows")
    lines = [head, ""]
    for c in sorted(report["checks"], key=lambda c: c["passed"]):
        ex = c.get("examples")
        lines.append(f"  {'ok  ' if c['passed'] else 'FAIL'}  {c['check']:<15} "
                     f"{c['column'] or '-':<20} {c['detail']}"
                     + (f"  e.g. {ex}" if ex and not c["passed"] else ""))
    return "\n".join(lines) + "\n"


def validate_data(ctx: OpContext) -> OpResult:
    data = [d / DATA_FILE for d in ctx.inputs.values() if (d / DATA_FILE).is_file()]
    if len(data) != 1:
        raise OpError(f"{ctx.node_id}: expected one input with {DATA_FILE}, found {len(data)}")
    df = pl.read_parquet(data[0])
    report = validate_frame(df, ctx.params, ctx.project_root, ctx.node_id)
    ctx.out_dir.mkdir(parents=True, exist_ok=True)
    (ctx.out_dir / "report.json").write_text(json.dumps(report, indent=2, default=str) + "\n")
    text = render_text(report)
    (ctx.out_dir / "report.txt").write_text(text)
    metrics = {"rows": float(df.height), "checks_failed": float(report["failed"]),
               "checks_total": float(report["total"])}
    if not report["passed"]:
        first = [f"{c['check']}({c['column'] or '-'}): {c['detail']}"
                 for c in report["checks"] if not c["passed"]]
        more = f" (+{len(first) - 5} more)" if len(first) > 5 else ""
        raise OpError(f"{ctx.node_id}: {report['failed']} data check(s) failed: "
                      + "; ".join(first[:5]) + more
                      + f". Report: {ctx.out_dir / 'report.txt'}", report=report)
    return OpResult(metrics=metrics, report=report,
                    message=f"{report['total']} checks passed on {df.height} rows")
