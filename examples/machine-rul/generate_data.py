"""Generate the machine-rul example's data (deterministic, seeded numpy).

    python examples/machine-rul/generate_data.py               # data/ for `specops run`
    python examples/machine-rul/generate_data.py --next --drift  # the fortnight after, shifted

Why synthetic: the example must run anywhere with no download and in well under a minute
on two cores, and its shape is the one a regression on sensor data has: a sensor table
keyed by unit and time (one reading an hour, with dropouts), a snapshot table that is the
spine (a unit at a time, its operating hours and type), and a label known only after the
fact, the remaining useful life (RUL) in hours at that snapshot. Features are windowed
aggregates of the readings, point-in-time correct (specs/features.yaml).

Degradation: each unit has a lifetime drawn by type (A ~ 420 h, B ~ 560 h, C ~ 320 h);
wear w = (age / lifetime)^2 raises temperature and vibration (and its spread), and lowers
pressure and speed, with noise, so a model must read the last day and the last week of
readings, not the age alone, to tell a unit that wears fast from one that wears slowly.

Files (columns exactly as declared in specs/sources.yaml), from one fleet in steady state
(three units installed a day on average, from 25 days before the first snapshot, each run
to failure: about 50 in service at any time), cut 30 days after the first snapshot:
- sensors/base.parquet: the hourly readings before the cut, from a week before the first
  snapshot (~46,000), 2% of values missing (sensor dropouts);
- snapshots.parquet: a snapshot every 12 h of each unit from its 24th hour, before the cut
  (~3,000 rows), with `rul_hours`, the label (for units still running at the cut, the
  label as it becomes known after their failure).
Why steady state: windows of a fleet that all started on one day would drift by
themselves (young units first, old ones last), and the time split's test set would hold
only units near failure.
`--next` writes the fortnight after the cut, of the same fleet (sensors/next.parquet,
next_snapshots.parquet), for `specops monitor --current data/next_snapshots.parquet`.
`--drift` makes the site run hotter and rougher from the cut (temperature +9 degrees,
vibration x1.6): the windowed temperature and vibration features then drift beyond the
alert threshold, and nothing else does.
"""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import polars as pl

HERE = Path(__file__).resolve().parent
START = datetime(2025, 1, 1, tzinfo=UTC)
HOUR_US = 3_600_000_000
TS = pl.Datetime("us", "UTC")
TYPES = np.array(["A", "B", "C"])
TYPE_P = np.array([0.4, 0.35, 0.25])
LIFE = np.array([420.0, 560.0, 320.0])     # mean lifetime in hours, by type
TEMP0 = np.array([61.0, 58.0, 66.0])
SNAPSHOT_EVERY_H = 12
INSTALL_EVERY_H = 8       # three units installed a day on average: a fleet in steady state
PRE_DAYS = 25             # installations before the first snapshot: every age in service


def _start_us() -> int:
    return int(START.timestamp() * 1_000_000)


def units(rng: np.random.Generator, n: int, first_id: int, t0_us: int, spread_h: float
          ) -> pl.DataFrame:
    """Per unit: type, install time, lifetime (Weibull around the type's mean)."""
    kind = rng.choice(3, n, p=TYPE_P)
    life = np.maximum(120.0, LIFE[kind] * rng.weibull(3.0, n) / 0.893)
    start = t0_us + rng.integers(0, int(spread_h * 3600) + 1, n) * 1_000_000  # whole seconds
    return pl.DataFrame({"unit_id": np.arange(first_id, first_id + n, dtype=np.int64),
                         "kind": kind, "life": np.round(life), "start": start})


def readings(rng: np.random.Generator, fleet: pl.DataFrame) -> pl.DataFrame:
    """One reading an hour per unit until it fails; 2% of each sensor value missing."""
    ids, kinds, lives, starts = (fleet[c].to_numpy() for c in ("unit_id", "kind", "life",
                                                               "start"))
    hours = [np.arange(int(life)) for life in lives]
    unit = np.concatenate([np.full(len(h), i) for i, h in zip(ids, hours, strict=True)])
    kind = np.concatenate([np.full(len(h), k) for k, h in zip(kinds, hours, strict=True)])
    age = np.concatenate(hours).astype(np.float64)
    life = np.concatenate([np.full(len(h), v) for v, h in zip(lives, hours, strict=True)])
    t = np.concatenate([s + h * HOUR_US for s, h in zip(starts, hours, strict=True)])
    n = len(age)
    w = (age / life) ** 2
    temp = TEMP0[kind] + 24.0 * w + rng.normal(0, 1.5, n)
    vib = 2.0 + 6.5 * w ** 1.5 + rng.normal(0, 0.35, n) * (1 + 2 * w)
    pressure = 101.0 - 11.0 * w + rng.normal(0, 1.8, n) * (1 + w)
    rpm = 1500.0 - 180.0 * w + rng.normal(0, 15.0, n)
    cols = {"temperature": temp, "vibration": vib, "pressure": pressure, "rpm": rpm}
    df = pl.DataFrame({"unit_id": unit.astype(np.int64),
                       "read_at": pl.Series(t).cast(TS),
                       **{k: np.round(v, 3) for k, v in cols.items()}})
    return df.with_columns(
        pl.when(pl.Series(rng.random(n) < 0.02)).then(None).otherwise(pl.col(c)).alias(c)
        for c in cols).sort("unit_id", "read_at")


def snapshots(fleet: pl.DataFrame, first_id: int) -> pl.DataFrame:
    """Every 12 h of each unit from hour 24 until failure: operating hours and RUL."""
    rows: dict[str, list[object]] = {k: [] for k in ("unit_id", "snapshot_at", "machine_type",
                                                     "operating_hours", "rul_hours")}
    for uid, kind, life, start in fleet.select("unit_id", "kind", "life", "start").rows():
        for age in range(24, int(life), SNAPSHOT_EVERY_H):
            rows["unit_id"].append(uid)
            rows["snapshot_at"].append(start + age * HOUR_US)
            rows["machine_type"].append(str(TYPES[kind]))
            rows["operating_hours"].append(age)
            rows["rul_hours"].append(float(life - age))
    df = pl.DataFrame(rows, schema={"unit_id": pl.Int64, "snapshot_at": pl.Int64,
                                    "machine_type": pl.String, "operating_hours": pl.Int64,
                                    "rul_hours": pl.Float64})
    df = df.with_columns(pl.col("snapshot_at").cast(TS)).sort("snapshot_at", "unit_id")
    return df.with_row_index("snapshot_id", offset=first_id).with_columns(
        pl.col("snapshot_id").cast(pl.Int64))


NEXT_DAYS = 14


def fleet_history(seed: int, n_days: int) -> tuple[pl.DataFrame, pl.DataFrame, int]:
    """The whole history, deterministic in `seed`: a unit installed every 8 hours on
    average from PRE_DAYS before the start (so every age is in service from the first
    day) to NEXT_DAYS after the cut, every reading and snapshot until failure, and the
    cut (`n_days` after the start) between the training data and the next fortnight.
    Readings are kept from a week before the start, so the first 7-day windows are full."""
    rng = np.random.default_rng(seed)
    span_h = (PRE_DAYS + n_days + NEXT_DAYS) * 24
    fleet = units(rng, span_h // INSTALL_EVERY_H, 1, _start_us() - PRE_DAYS * 24 * HOUR_US,
                  span_h)
    cut = _start_us() + n_days * 24 * HOUR_US
    sensors = readings(rng, fleet).filter(
        pl.col("read_at").dt.epoch("us") >= _start_us() - 7 * 24 * HOUR_US)
    snaps = snapshots(fleet, 1).filter(pl.col("snapshot_at").dt.epoch("us") >= _start_us())
    return sensors, snaps, cut


def _before(df: pl.DataFrame, col: str, cut: int) -> pl.DataFrame:
    return df.filter(pl.col(col).dt.epoch("us") < cut)


def _next(df: pl.DataFrame, col: str, cut: int) -> pl.DataFrame:
    t = pl.col(col).dt.epoch("us")
    return df.filter((t >= cut) & (t < cut + NEXT_DAYS * 24 * HOUR_US))


def generate(out: Path, seed: int = 11, n_days: int = 30) -> dict[str, float]:
    """The training data: everything before the cut. Units still running at the cut
    carry their (simulated) RUL: in real life those labels arrive after the failure."""
    sensors, snaps, cut = fleet_history(seed, n_days)
    (out / "sensors").mkdir(parents=True, exist_ok=True)
    for old in (out / "sensors").glob("*.parquet"):
        old.unlink()
    (out / "next_snapshots.parquet").unlink(missing_ok=True)
    sensors, snaps = _before(sensors, "read_at", cut), _before(snaps, "snapshot_at", cut)
    sensors.write_parquet(out / "sensors" / "base.parquet")
    snaps.write_parquet(out / "snapshots.parquet")
    return {"units": snaps["unit_id"].n_unique(), "readings": sensors.height,
            "snapshots": snaps.height,
            "mean_rul_hours": round(float(snaps["rul_hours"].mean() or 0), 1)}


def next_fortnight(out: Path, seed: int = 11, n_days: int = 30, drift: bool = False) -> int:
    """The two weeks after the cut, of the same fleet (units in service at the cut go on,
    new ones are installed). With `drift`, the site runs hotter and rougher from the cut."""
    sensors, snaps, cut = fleet_history(seed, n_days)
    sensors = _next(sensors, "read_at", cut)
    if drift:
        sensors = sensors.with_columns(pl.col("temperature") + 9.0,
                                       pl.col("vibration") * 1.6)
    out.mkdir(parents=True, exist_ok=True)
    sensors.write_parquet(out / "sensors" / "next.parquet")
    nxt = _next(snaps, "snapshot_at", cut)
    nxt.write_parquet(out / "next_snapshots.parquet")
    return nxt.height


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Generate the machine-rul example data.")
    ap.add_argument("--out", type=Path, default=HERE / "data")
    ap.add_argument("--seed", type=int, default=11)
    ap.add_argument("--days", type=int, default=30, help="days of training history")
    ap.add_argument("--next", action="store_true", help="write the fortnight after: "
                    "sensors/next.parquet, next_snapshots.parquet")
    ap.add_argument("--drift", action="store_true",
                    help="with --next: the site runs hotter and rougher")
    a = ap.parse_args(argv)
    if a.next:
        n = next_fortnight(a.out, a.seed, a.days, a.drift)
        print(f"wrote {n} snapshots to {a.out / 'next_snapshots.parquet'}"
              f"{' (drifted)' if a.drift else ''}")
        return 0
    stats = generate(a.out, a.seed, a.days)
    print("wrote", a.out, " ".join(f"{k}={v}" for k, v in stats.items()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
