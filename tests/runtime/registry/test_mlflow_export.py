"""`specops export mlflow` against a real `mlflow server` on 127.0.0.1, read back over
MLflow's REST API: runs, parameters, metrics, registered versions with their ONNX file
and signature, aliases; a second export creates nothing.

The server runs from its own environment, `~/.cache/specops-peers/mlflow-3.17.2`, made
here with `uv venv` + `uv pip install mlflow==3.17.2` when missing (about 600 MB, seconds
with a warm uv cache; mlflow is never a specops dependency). Starting the server (its
SQLite migrations, importing its app) takes 30-110 s on the shared 2-core machines, so
it boots while the project runs; `slow`.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

from specops.runtime.registry.mlflow_export import mlflow_key

pytestmark = pytest.mark.slow

MLFLOW = "3.17.2"
PEERS = Path.home() / ".cache" / "specops-peers" / f"mlflow-{MLFLOW}"
FIXTURE = Path(__file__).resolve().parents[2] / "fixtures" / "projects" / "no_timestamp"
EXPERIMENT = f"specops-test/{uuid.uuid4().hex[:12]}"   # fresh even on a reused server


def _mlflow_bin() -> Path:
    exe = PEERS / "bin" / "mlflow"
    if exe.is_file():
        return exe
    uv = shutil.which("uv")
    if uv is None:
        pytest.skip("uv is not installed: cannot make the mlflow environment")
    PEERS.parent.mkdir(parents=True, exist_ok=True)
    made = subprocess.run([uv, "venv", "-q", "--python", sys.executable, str(PEERS)],
                          capture_output=True, text=True)
    if made.returncode == 0:
        made = subprocess.run([uv, "pip", "install", "-q", "--python",
                               str(PEERS / "bin" / "python"), f"mlflow=={MLFLOW}"],
                              capture_output=True, text=True, timeout=900)
    if made.returncode != 0:
        shutil.rmtree(PEERS, ignore_errors=True)
        why = f"cannot install mlflow=={MLFLOW}: {made.stderr.strip()[-300:]}"
        if os.environ.get("CI"):
            pytest.fail(why)
        pytest.skip(why)
    return exe


@pytest.fixture(scope="module")
def mlflow_started(tmp_path_factory: pytest.TempPathFactory
                   ) -> Iterator[tuple[str, subprocess.Popen[bytes] | None, Path]]:
    """A fresh server, started and not yet waited for (it boots while the project runs),
    or the one at SPECOPS_TEST_MLFLOW_URL (for quicker local runs)."""
    given = os.environ.get("SPECOPS_TEST_MLFLOW_URL")
    if given:   # registered models are server-wide: drop the one an earlier session made
        httpx.request("DELETE", f"{given}/api/2.0/mlflow/registered-models/delete",
                      json={"name": "income"}, timeout=30)
        yield given, None, Path()
        return
    exe = _mlflow_bin()
    home = tmp_path_factory.mktemp("mlflow")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    log = (home / "server.log").open("w")
    proc = subprocess.Popen(
        [str(exe), "server", "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
         "--backend-store-uri", f"sqlite:///{home / 'mlflow.db'}",
         "--artifacts-destination", str(home / "artifacts")],
        cwd=home, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        yield f"http://127.0.0.1:{port}", proc, home / "server.log"
    finally:
        os.killpg(proc.pid, signal.SIGTERM)   # the server and the workers it started
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        log.close()


@pytest.fixture(scope="module")
def mlflow_server(mlflow_started: tuple[str, subprocess.Popen[bytes] | None, Path]) -> str:
    """The server's URL once it answers /health."""
    url, proc, log = mlflow_started
    deadline = time.monotonic() + 300
    while True:
        try:
            if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                return url
        except httpx.HTTPError:
            pass
        if (proc is not None and proc.poll() is not None) or time.monotonic() > deadline:
            pytest.fail("mlflow server did not start: " + (
                log.read_text()[-2000:] if proc is not None else url))
        time.sleep(1)


def _write_people(path: Path, n: int = 1200) -> None:
    rng = np.random.default_rng(0)
    age, hours = rng.integers(18, 80, n), rng.normal(40, 8, n).clip(1, 99).round(1)
    education = rng.choice(["school", "college", "degree"], n)
    score = 0.04 * (age - 40) + 0.08 * (hours - 40) + (education == "degree") * 1.0
    label = (score + rng.logistic(0, 1, n) > 0.5).astype(int)
    rows = [f"{i},{age[i]},{hours[i]},{education[i]},{label[i]}" for i in range(n)]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("person_id,age,hours,education,income_gt_50k\n" + "\n".join(rows) + "\n")


def _specops(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "specops.compiler.cli.main", *args],
                          capture_output=True, text=True, cwd=root, timeout=600)


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory, mlflow_started: Any) -> Path:
    """Two runs: one that registers income@1 (then aliased `staging`), one whose gate is
    out of reach (a failed run and a rejected income@2, which is not exported)."""
    root = tmp_path_factory.mktemp("mlf") / "no_timestamp"
    shutil.copytree(FIXTURE, root)
    _write_people(root / "data" / "people.csv")
    ok = _specops(root, "run", str(root), "--executor", "inline", "-q")
    assert ok.returncode == 0, ok.stderr
    alias = _specops(root, "models", "alias", "income@1", "staging", "--actor", "alice",
                     "--project", str(root))
    assert alias.returncode == 0, alias.stderr
    bad = _specops(root, "run", str(root), "--executor", "inline", "-q",
                   "--var", "min_auc=0.99")
    assert bad.returncode == 1, bad.stderr
    return root


def _api(url: str, method: str, endpoint: str, **kw: Any) -> dict[str, Any]:
    r = httpx.request(method, f"{url}/api/2.0/mlflow{endpoint}", timeout=30, **kw)
    assert r.status_code == 200, r.text
    doc: dict[str, Any] = r.json()
    return doc


def _store(root: Path) -> tuple[list[dict[str, Any]], dict[str, dict[str, dict[str, float]]]]:
    from specops.runtime.store import Store

    store = Store.from_url(None, root)
    try:
        runs = store.list_runs(100)
        return runs, {r["run_id"]: store.metrics(r["run_id"]) for r in runs}
    finally:
        store.close()


def _export(root: Path, url: str) -> dict[str, Any]:
    r = _specops(root, "export", "mlflow", "--tracking-uri", url, str(root), "--json",
                 "--experiment", EXPERIMENT)
    assert r.returncode == 0, r.stderr
    doc: dict[str, Any] = json.loads(r.stdout)
    return doc


def test_export_round_trips_runs_metrics_and_versions(project: Path, mlflow_server: str
                                                      ) -> None:
    url = mlflow_server
    report = _export(project, url)
    assert (report["runs_created"], report["versions_created"], report["aliases"]) == (2, 1, 1)
    exp = _api(url, "GET", "/experiments/get-by-name",
               params={"experiment_name": EXPERIMENT})["experiment"]
    runs = _api(url, "POST", "/runs/search", json={"experiment_ids": [exp["experiment_id"]]}
                )["runs"]
    by_id = {next(t["value"] for t in r["data"]["tags"] if t["key"] == "specops.run_id"): r
             for r in runs}
    stored, metrics = _store(project)
    assert set(by_id) == {r["run_id"] for r in stored}
    for run in stored:
        got = by_id[run["run_id"]]
        assert got["info"]["status"] == {"succeeded": "FINISHED",
                                         "failed": "FAILED"}[run["status"]]
        assert got["info"]["start_time"] == int(run["started_at"] * 1000)
        logged = {m["key"]: m["value"] for m in got["data"]["metrics"]}
        expected = {mlflow_key(f"{node}/{name}"): v for node, vals in
                    metrics[run["run_id"]].items() for name, v in vals.items()}
        assert logged == pytest.approx(expected)
        assert "evaluate:income/roc_auc" in logged and "features:work_1/rows" in logged
        params = {p["key"]: p["value"] for p in got["data"]["params"]}
        assert params["income.max_iter"] == "200" and params["income.scoring"] == "roc_auc"

    from specops.runtime.registry import Registry

    reg = Registry.open(project)
    v1 = reg.get("income", 1)
    assert [v.status for v in reg.versions("income")] == ["registered", "rejected"]
    versions = _api(url, "GET", "/model-versions/search",
                    params={"filter": "name='income'"})["model_versions"]
    assert len(versions) == 1
    mv = versions[0]
    tags = {t["key"]: t["value"] for t in mv["tags"]}
    assert tags["specops.version"] == "1" and tags["specops.content_digest"] == \
        v1.content_digest
    registering_run = by_id[v1.run_id]["info"]
    assert mv["run_id"] == registering_run["run_id"]
    # the ONNX file and the signed manifest come back byte for byte; the signature tag
    # verifies the manifest with the pinned registry key
    base = f"{url}/api/2.0/mlflow-artifacts/artifacts/" + registering_run[
        "artifact_uri"].removeprefix("mlflow-artifacts:/") + "/specops-registry/income/1"
    onnx = httpx.get(f"{base}/model.onnx", timeout=30).content
    assert "sha256:" + hashlib.sha256(onnx).hexdigest() == v1.model_digest == \
        tags["specops.model_digest"]
    manifest = httpx.get(f"{base}/manifest.json", timeout=30).content
    assert manifest == (v1.path / "manifest.json").read_bytes()
    assert tags["specops.manifest_sha256"] == "sha256:" + hashlib.sha256(manifest).hexdigest()
    from specops.runtime.registry.signing import verify_manifest

    sig = {"key_id": tags["specops.signature_key_id"], "signature": tags["specops.signature"]}
    assert verify_manifest(sig, manifest, reg.keyring()) is None
    assert verify_manifest(sig, manifest + b" ", reg.keyring()) is not None
    alias = _api(url, "GET", "/registered-models/alias",
                 params={"name": "income", "alias": "staging"})["model_version"]
    assert alias["version"] == mv["version"]
    model = _api(url, "GET", "/registered-models/get", params={"name": "income"})
    owner = {t["key"]: t["value"] for t in model["registered_model"]["tags"]}
    assert owner["specops.owner"] == "team:risk"
    reg.close()


def test_second_export_duplicates_nothing(project: Path, mlflow_server: str) -> None:
    url = mlflow_server
    _export(project, url)   # idempotent whether or not the test above ran first
    again = _export(project, url)
    assert (again["runs_created"], again["versions_created"]) == (0, 0)
    assert (again["runs_existing"], again["versions_existing"]) == (2, 1)
    exp = _api(url, "GET", "/experiments/get-by-name",
               params={"experiment_name": EXPERIMENT})["experiment"]
    runs = _api(url, "POST", "/runs/search", json={"experiment_ids": [exp["experiment_id"]]}
                )["runs"]
    assert len(runs) == 2
    for run in runs:
        history = _api(url, "GET", "/metrics/get-history", params={
            "run_id": run["info"]["run_id"], "metric_key": "evaluate:income/roc_auc"})
        assert len(history["metrics"]) == 1
    versions = _api(url, "GET", "/model-versions/search",
                    params={"filter": "name='income'"})["model_versions"]
    assert len(versions) == 1


def test_unreachable_server_is_one_line(project: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    r = _specops(project, "export", "mlflow", "--tracking-uri", f"http://127.0.0.1:{port}",
                 str(project))
    assert r.returncode == 2
    assert r.stderr.strip().count("\n") == 0
    assert "cannot reach the MLflow tracking server at http://127.0.0.1:" in r.stderr
