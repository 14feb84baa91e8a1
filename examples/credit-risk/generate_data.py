"""Generate the credit-risk example's data (deterministic, seeded numpy).

    python examples/credit-risk/generate_data.py              # data/ for `specops run`
    python examples/credit-risk/generate_data.py --month next --drift   # data/next_month.parquet
    python examples/credit-risk/generate_data.py --month next --drift --append  # + outcomes

Why synthetic: the example must run anywhere with no download, and its quirks are the
ones the runtime must handle: bureau snapshots in monthly partitions (`bureau/*.parquet`),
some arriving weeks late (created_at after reported_at), a protected attribute (sex, age),
nulls in income and employment years, and several applications per applicant.

Files (columns exactly as declared in specs/sources.yaml):
- applications.parquet: ~20,000 applications over 18 months (2024-01 .. 2025-06);
- bureau/YYYY-MM.parquet: snapshots every 1-4 months per applicant from a year before
  their first application; ~15% arrive 10-90 days late;
- outcomes.parquet: `defaulted`, drawn from a logistic model of income, loan-to-income,
  bureau utilisation and late payments (as known at application time), region, and a
  mild dependence on sex (kept small so the example's fairness gates pass); default
  rate about 15%.
`--month next` writes one more month of applications to data/next_month.parquet, and
`--drift` shifts it (incomes 25% lower, loans 40% bigger and longer, a third of
applicants moved to the south: PSI above 0.25 on half the model inputs) for the
monitoring walkthrough. `--append` also appends that month to applications.parquet with its
outcomes (the labels "arrived"), which is what a drift-triggered retrain trains on.
"""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import polars as pl

HERE = Path(__file__).resolve().parent
START = datetime(2024, 1, 1, tzinfo=UTC)
MONTHS = 18
DAY_US = 86_400_000_000
REGIONS = np.array(["north", "south", "east", "west"])
REGION_P = np.array([0.3, 0.25, 0.25, 0.2])
REGION_INCOME = np.array([1.08, 0.9, 1.0, 0.97])
REGION_RISK = np.array([0.0, 0.35, -0.1, 0.2])
TERMS = np.array([12, 24, 36, 48, 60])
TS = pl.Datetime("us", "UTC")


def _start_us() -> int:
    return int(START.timestamp() * 1_000_000)


def applicants(rng: np.random.Generator, n: int) -> pl.DataFrame:
    """Stable traits per applicant: region, sex, birth age, latent credit risk."""
    region = rng.choice(4, n, p=REGION_P)
    sex = rng.choice(np.array(["F", "M"]), n)
    return pl.DataFrame({
        "applicant_id": np.arange(100_000, 100_000 + n, dtype=np.int64),
        "region_i": region, "sex": sex,
        "age0": np.clip(np.round(18 + rng.gamma(4.0, 5.5, n)), 18, 85).astype(np.int64),
        "risk": rng.standard_normal(n),
        "income0": np.exp(rng.normal(10.8, 0.45, n)) * REGION_INCOME[region]
        * np.where(sex == "F", 0.97, 1.0),
        "emp0": rng.exponential(6.0, n),
    })


def applications(rng: np.random.Generator, people: pl.DataFrame, n: int, t0_us: int,
                 span_days: float, first_id: int, drift: bool = False) -> pl.DataFrame:
    idx = rng.integers(0, people.height, n)
    p = people[idx]
    when = t0_us + (rng.random(n) * span_days * DAY_US).astype(np.int64)
    income = p["income0"].to_numpy() * np.exp(rng.normal(0, 0.08, n))
    if drift:
        income *= 0.75
    loan = np.maximum(1000.0, income * np.exp(rng.normal(np.log(0.3), 0.55, n))
                      * (1.4 if drift else 1.0))
    years = (when - _start_us()) / (365.25 * DAY_US)
    age = np.clip(p["age0"].to_numpy() + np.floor(np.maximum(years, 0)), 18, 100)
    emp = np.minimum(p["emp0"].to_numpy() + np.maximum(years, 0), age - 18)
    region = p["region_i"].to_numpy()
    if drift:
        move = rng.random(n) < 0.35
        region = np.where(move, 1, region)
    df = pl.DataFrame({
        "application_id": np.arange(first_id, first_id + n, dtype=np.int64),
        "applicant_id": p["applicant_id"],
        "applied_at": pl.Series(when).cast(TS),
        "income": np.round(income, 2),
        "loan_amount": np.round(loan, 2),
        "term_months": rng.choice(TERMS, n, p=[0.05, 0.1, 0.25, 0.25, 0.35] if drift
                                  else [0.1, 0.2, 0.35, 0.2, 0.15]).astype(np.int64),
        "age": age.astype(np.int64),
        "sex": p["sex"],
        "region": REGIONS[region],
        "employment_years": np.round(emp, 1),
        "risk": p["risk"],
    })
    null_income = rng.random(n) < 0.03
    null_emp = rng.random(n) < 0.04
    return df.with_columns(
        pl.when(pl.Series(null_income)).then(None).otherwise(pl.col("income")).alias("income"),
        pl.when(pl.Series(null_emp)).then(None).otherwise(pl.col("employment_years"))
        .alias("employment_years"),
    ).sort("applied_at", "application_id")


def bureau(rng: np.random.Generator, people: pl.DataFrame, apps: pl.DataFrame,
           end_us: int) -> pl.DataFrame:
    """Snapshots every 30-120 days from a year before each applicant's first application."""
    first = apps.group_by("applicant_id").agg(pl.col("applied_at").min().dt.epoch("us")
                                              .alias("first"))
    p = people.join(first, on="applicant_id", how="inner").sort("applicant_id")
    ids, risk = p["applicant_id"].to_numpy(), p["risk"].to_numpy()
    limit0 = np.exp(rng.normal(8.6, 0.6, len(ids)))
    starts = p["first"].to_numpy() - 365 * DAY_US + (rng.random(len(ids)) * 60 * DAY_US
                                                     ).astype(np.int64)
    rows_id, rows_t, rows_r, rows_l = [], [], [], []
    t = starts.copy()
    alive = np.ones(len(ids), dtype=bool)
    while alive.any():
        rows_id.append(ids[alive])
        rows_t.append(t[alive])
        rows_r.append(risk[alive])
        rows_l.append(limit0[alive])
        t = t + rng.integers(30, 121, len(ids)) * DAY_US
        alive &= t < end_us
    aid = np.concatenate(rows_id)
    rep = np.concatenate(rows_t)
    r = np.concatenate(rows_r)
    lim = np.concatenate(rows_l) * np.exp(rng.normal(0, 0.1, len(aid)))
    n = len(aid)
    util = 1 / (1 + np.exp(-(0.9 * r - 0.6 + rng.normal(0, 0.6, n))))
    late = rng.poisson(np.exp(-1.6 + 0.8 * r))
    delay = np.where(rng.random(n) < 0.15, rng.integers(10, 91, n) * DAY_US,
                     rng.integers(0, 3 * DAY_US, n))
    return pl.DataFrame({
        "applicant_id": aid,
        "reported_at": pl.Series(rep).cast(TS),
        "created_at": pl.Series(rep + delay).cast(TS),
        "balance": np.round(util * lim, 2),
        "credit_limit": np.round(lim, 2),
        "late_payments": late.astype(np.int64),
        "open_accounts": (rng.poisson(3, n) + 1).astype(np.int64),
    }).sort("applicant_id", "reported_at")


def outcomes(rng: np.random.Generator, apps: pl.DataFrame, bur: pl.DataFrame) -> pl.DataFrame:
    """Default drawn from a logistic model of what was true at application time."""
    b = bur.sort("applicant_id", "reported_at").with_columns(
        util=pl.col("balance") / (pl.col("credit_limit") + 1),
        late_12m=pl.col("late_payments").rolling_sum_by("reported_at", "365d")
        .over("applicant_id"))
    a = apps.sort("applicant_id", "applied_at").join_asof(
        b.select("applicant_id", "reported_at", "util", "late_12m"), left_on="applied_at",
        right_on="reported_at", by="applicant_id", strategy="backward",
        check_sortedness=False).sort("application_id")
    income = a["income"].fill_null(a["income"].median()).to_numpy()
    lti = a["loan_amount"].to_numpy() / (income + 1)
    util = a["util"].fill_null(0.35).to_numpy()
    late = a["late_12m"].fill_null(0).to_numpy()
    region = np.searchsorted(np.sort(REGIONS), a["region"].to_numpy())
    region_risk = dict(zip(REGIONS, REGION_RISK, strict=True))
    rr = np.array([region_risk[r] for r in np.sort(REGIONS)])[region]
    z = (-2.8 + 1.6 * (lti - 0.35) + 2.2 * (util - 0.4) + 0.35 * late
         - 0.55 * (np.log(income) - 10.8) + rr + 0.06 * (a["sex"].to_numpy() == "M")
         + 0.35 * a["risk"].to_numpy() + 0.01 * (a["term_months"].to_numpy() - 36))
    p = 1 / (1 + np.exp(-z))
    return pl.DataFrame({"application_id": a["application_id"],
                         "defaulted": (rng.random(len(p)) < p).astype(np.int64)})


def generate(out: Path, seed: int = 7, n_apps: int = 20_000) -> dict[str, int]:
    rng = np.random.default_rng(seed)
    people = applicants(rng, int(n_apps * 0.8))
    span = MONTHS * 30.44
    apps = applications(rng, people, n_apps, _start_us(), span, 1)
    end_us = _start_us() + int(span * DAY_US)
    bur = bureau(rng, people, apps, end_us)
    outs = outcomes(rng, apps, bur)
    (out / "bureau").mkdir(parents=True, exist_ok=True)
    for old in (out / "bureau").glob("*.parquet"):
        old.unlink()
    apps.drop("risk").write_parquet(out / "applications.parquet")
    outs.write_parquet(out / "outcomes.parquet")
    parts = bur.with_columns(part=pl.col("reported_at").dt.strftime("%Y-%m"))
    for (month,), part in parts.group_by("part", maintain_order=True):
        part.drop("part").write_parquet(out / "bureau" / f"{month}.parquet")
    return {"applications": apps.height, "bureau": bur.height,
            "bureau_partitions": parts["part"].n_unique(),
            "late_bureau": int((bur["created_at"] - bur["reported_at"]).dt.total_days()
                               .gt(3).sum()),
            "default_rate_pct": round(100 * float(outs["defaulted"].mean() or 0), 2)}


def next_month(out: Path, seed: int = 7, drift: bool = False, n_apps: int = 1200,
               append: bool = False) -> int:
    rng = np.random.default_rng(seed)
    people = applicants(rng, 16_000)  # same applicant population as generate()
    rng2 = np.random.default_rng(seed + 1000 + int(drift))
    t0 = _start_us() + int(MONTHS * 30.44 * DAY_US)
    apps = applications(rng2, people, n_apps, t0, 30.44, 900_001, drift=drift)
    out.mkdir(parents=True, exist_ok=True)
    apps.drop("risk").write_parquet(out / "next_month.parquet")
    if append:
        _append(out, apps, np.random.default_rng(seed + 2000))
    return apps.height


def _append(out: Path, apps: pl.DataFrame, rng: np.random.Generator) -> None:
    """Add the month and its outcomes to the training sources (idempotent by id)."""
    bur = pl.read_parquet(out / "bureau" / "*.parquet")
    outs = outcomes(rng, apps, bur)
    old_apps = pl.read_parquet(out / "applications.parquet")
    old_outs = pl.read_parquet(out / "outcomes.parquet")
    new_ids = apps.get_column("application_id")
    pl.concat([old_apps.filter(~pl.col("application_id").is_in(new_ids.to_list())),
               apps.drop("risk")]).write_parquet(out / "applications.parquet")
    pl.concat([old_outs.filter(~pl.col("application_id").is_in(new_ids.to_list())),
               outs]).write_parquet(out / "outcomes.parquet")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Generate the credit-risk example data.")
    ap.add_argument("--out", type=Path, default=HERE / "data")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--rows", type=int, default=20_000, help="applications")
    ap.add_argument("--month", choices=["next"], help="write data/next_month.parquet only")
    ap.add_argument("--drift", action="store_true", help="with --month next: shift it")
    ap.add_argument("--append", action="store_true", help="with --month next: also append "
                    "it, with outcomes, to applications.parquet and outcomes.parquet")
    a = ap.parse_args(argv)
    if a.month == "next":
        n = next_month(a.out, a.seed, a.drift, append=a.append)
        print(f"wrote {n} applications to {a.out / 'next_month.parquet'}"
              f"{' (drifted)' if a.drift else ''}"
              f"{'; appended with outcomes to the sources' if a.append else ''}")
        return 0
    stats = generate(a.out, a.seed, a.rows)
    print("wrote", a.out, " ".join(f"{k}={v}" for k, v in stats.items()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
