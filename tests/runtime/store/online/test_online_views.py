"""Which views go online, on a small project that has every kind: a request view (on the
spine), an entity view with time, a static entity table (no timestamp), and raw columns
of a non-spine source. Each is materialized as the offline join would see it at T."""

from __future__ import annotations

from pathlib import Path

import pytest
from online_store_helpers import plan_of, us

from specops.compiler.cli.main import main
from specops.runtime.store.online import OnlineValue, open_online_store
from specops.runtime.store.online.materialize import materialize, online_views, request_views

SPECS = {
    "sources.yaml": """\
kind: source
name: apps
path: data/apps.csv
entity: cust_id
timestamp: at
columns:
  app_id: {type: int64, unique: true, nullable: false}
  cust_id: {type: int64, nullable: false}
  at: {type: datetime, nullable: false}
  amount: {type: float64}
  label: {type: int64, in: [0, 1], nullable: false}
---
kind: source
name: accounts
path: data/accounts.csv
entity: cust_id
timestamp: at
columns:
  cust_id: {type: int64, nullable: false}
  at: {type: datetime, nullable: false}
  balance: {type: float64}
---
kind: source
name: profiles
path: data/profiles.csv
entity: cust_id
columns:
  cust_id: {type: int64, nullable: false}
  segment: {type: string}
""",
    "features.yaml": """\
kind: feature
name: app_view
version: 1
source: apps
features:
  log_amount: "log1p(amount)"
---
kind: feature
name: acct
version: 1
source: accounts
ttl: 10d
features:
  bal2: "balance * 2"
---
kind: feature
name: prof
version: 1
source: profiles
features:
  seg: "segment"
""",
    "model.yaml": """\
kind: model
name: m
owner: team:risk
risk_tier: low
task: binary_classification
training:
  spine: apps
  label: {source: apps, column: label}
  features: [app_view@1, acct@1, prof@1, accounts.balance]
  split: {by: random, test_fraction: 0.25, seed: 1}
estimator:
  class: LogisticRegression
  params: {max_iter: 50}
gates: [quality]
approval: standard
""",
    "gov.yaml": """\
kind: gate
name: quality
checks:
  - "roc_auc >= 0.5"
---
kind: approval
name: standard
rules:
  - require: {model_risk_officer: 1}
""",
}


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("views")
    (root / "specs").mkdir()
    (root / "data").mkdir()
    (root / "specops.yaml").write_text(
        "name: views\npeople:\n  alice: {roles: [ml_engineer], teams: [risk]}\n"
        "  bob: {roles: [model_risk_officer], teams: [validation]}\n")
    for name, text in SPECS.items():
        (root / "specs" / name).write_text(text)
    apps = "\n".join(f"{i},{i % 3},2025-01-{1 + i % 20:02d}T00:00:00,{i * 10.0},{i % 2}"
                     for i in range(40))
    (root / "data" / "apps.csv").write_text("app_id,cust_id,at,amount,label\n" + apps + "\n")
    (root / "data" / "accounts.csv").write_text(
        "cust_id,at,balance\n0,2025-01-01,1.5\n0,2025-01-08,2.5\n0,2025-02-01,9\n"
        "1,2025-01-02,7\n2,2025-03-01,4\n")
    (root / "data" / "profiles.csv").write_text(
        "cust_id,segment\n0,gold\n1,silver\n1,bronze\n")
    return root


def test_views_are_classified(project: Path) -> None:
    plan = plan_of(project)
    assert request_views(plan) == {"features:app_view@1"}
    got = {v.name: (v.node, v.timestamp, v.ttl_s, v.features) for v in online_views(plan)}
    assert got == {"acct@1": ("features:acct@1", "at", 864000, ("bal2",)),
                   "prof@1": ("features:prof@1", None, None, ("seg",)),
                   "accounts": ("source:accounts", "at", None, ("balance",))}


def test_each_kind_materializes_as_of_t(project: Path, tmp_path: Path) -> None:
    plan = plan_of(project)
    store = open_online_store(f"sqlite:///{tmp_path / 'o.sqlite'}", project)
    t = us(2025, 1, 20)
    reps = {r.view: r for r in materialize(plan, project, store, until_us=t)}
    assert set(reps) == {"acct@1", "prof@1", "accounts"}
    keys = [(0,), (1,), (2,)]
    got = store.read_many({"acct@1": keys, "prof@1": keys, "accounts": keys})
    assert got["acct@1"] == [OnlineValue({"bal2": 5.0}, us(2025, 1, 8), None),
                             OnlineValue({"bal2": 14.0}, us(2025, 1, 2), None), None]
    assert got["accounts"][0] == OnlineValue({"balance": 2.5}, us(2025, 1, 8), None)
    # a static table: the last row per key, stamped with T (the offline equality join)
    assert got["prof@1"] == [OnlineValue({"seg": "gold"}, t, None),
                             OnlineValue({"seg": "bronze"}, t, None), None]
    # cust 1's account row is 18 days old at T: stored, and past acct's 10-day TTL for
    # the reader (event < T - ttl), exactly where the offline join returns null
    assert got["acct@1"][1] is not None and got["acct@1"][1].event_ts_us < t - 864000 * 10**6


def test_nothing_to_materialize_says_so(tmp_path: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    root = Path(__file__).resolve().parents[3] / "fixtures" / "projects" / "minimal"
    url = f"sqlite:///{tmp_path / 'o.sqlite'}"
    assert main(["materialize", str(root), "--online-store", url]) == 0
    assert "no entity views" in capsys.readouterr().out
