"""`specops monitor M --from-log --skew`: served vectors against the offline recomputation.

Two servers in online mode log predictions for the same credit-risk requests at time T:
- one reads a store materialized as of T (fresh): the served vectors equal the offline
  point-in-time recomputation exactly, so every feature has mismatch share 0, exit 0;
- one reads a store materialized 120 days before T (stale: bureau reports arrived since):
  the bureau features differ from what the offline join finds at T, the request-time
  features and `region` still do not; exit 1, the bureau features in breach.

(Here rather than in tests/runtime/monitor/ because it reuses this folder's session-trained
example; a second copy of the fixture would train the example again.)
"""

from __future__ import annotations

import http.client
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from online_helpers import as_of_T, clean, post, raw_rows

from specops.runtime.serve.asgi import Service
from specops.runtime.serve.features import enable_online
from specops.runtime.serve.lean import LeanServer
from specops.runtime.serve.prediction_log import PredictionLog
from specops.runtime.serve.served_model import load_model, resolve
from specops.runtime.store.online import open_online_store
from specops.runtime.store.online.materialize import materialize

pytestmark = pytest.mark.slow
DAY_US = 86_400 * 1_000_000
BUREAU = {"late_12m", "open_accounts", "utilization"}


def _serve_and_log(example: dict[str, Any], url: str, at_us: int, logs: Path) -> None:
    root = example["root"]
    model = load_model(resolve(root, None, "credit_default", None))
    log = PredictionLog(logs, model.name, model.version, model.model_digest, batch_rows=100)
    service = Service(model, log)
    online = enable_online(service, example["plan"], root, url, now_us=lambda: at_us)
    rows = raw_rows(example).head(400)
    with LeanServer(service) as server:
        conn = http.client.HTTPConnection(server.host, server.port, timeout=30)
        for r in rows.select(list(online.vector.fields)).iter_rows(named=True):
            status, doc = post(conn, "/v2/models/credit_default/predict",
                               {k: clean(v) for k, v in r.items()})
            assert status == 200, doc


def _skew(root: Path, logs: Path) -> tuple[int, dict[str, Any]]:
    run = subprocess.run([sys.executable, "-m", "specops.compiler.cli.main", "monitor",
                          "credit_default", "--from-log", "--skew", "--json", "--project",
                          str(root), "--log-dir", str(logs / ".specops" / "predictions")],
                         capture_output=True, text=True, timeout=300)
    assert run.stdout.strip(), run.stderr
    return run.returncode, json.loads(run.stdout)


def test_skew_is_zero_on_a_fresh_store_and_found_on_a_stale_one(
        credit_example: dict[str, Any], tmp_path: Path) -> None:
    root, plan = credit_example["root"], credit_example["plan"]
    t = as_of_T(credit_example)
    for name, until in (("fresh", t), ("stale", t - 120 * DAY_US)):
        url = f"sqlite:///{tmp_path / f'{name}.sqlite'}"
        store = open_online_store(url, root)
        materialize(plan, root, store, until_us=until)
        store.close()
        _serve_and_log(credit_example, url, t, tmp_path / name)
    code, fresh = _skew(root, tmp_path / "fresh")
    assert code == 0 and fresh["rows"] == 400 and fresh["in_breach"] == []
    assert {f["feature"]: f["mismatches"] for f in fresh["features"]} == \
        {f["feature"]: 0 for f in fresh["features"]}
    code, stale = _skew(root, tmp_path / "stale")
    by = {f["feature"]: f for f in stale["features"]}
    assert code == 1 and set(stale["in_breach"]) <= BUREAU and stale["in_breach"]
    assert by["utilization"]["mismatch_share"] > 0.05
    for name in ("log_income", "loan_to_income", "employment_years", "term_months", "region"):
        assert by[name]["mismatches"] == 0, by[name]
