"""Every serving path goes through admission: `specops serve` and `specops predict` (CLI),
batch partitions (the function a Ray task runs), the staging check, the Ray Serve
replica's constructor, and the lean server's re-check while it serves."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx
import polars as pl
import pytest
from governed import (
    RacingRegistry,
    approve_and_deploy,
    facts,
    forge_onnx,
    governed,
    version_dir,
    writable,
)
from serve_helpers import oip_body

from specops.compiler.cli.main import main
from specops.runtime.governance import Governance
from specops.runtime.governance.approvals import open_request
from specops.runtime.serve.admission import ModelRefused
from specops.runtime.serve.batch import predict_file, score_partition
from specops.runtime.serve.lean import LeanServer, build_service
from specops.runtime.serve.recheck import Recheck
from specops.runtime.serve.served_model import ModelSource, open_governance, resolve


@pytest.fixture
def root(served_project: dict[str, Any], tmp_path: Path) -> Path:
    return governed(served_project, tmp_path / "proj")


def void_approvals(root: Path) -> None:
    """A spec change re-opens the request: the approvals production relied on are void."""
    gov = Governance.open(root)
    try:
        digest = gov.version("credit", 1).model_digest
        open_request(gov, model="credit", version=1, model_digest=digest, spec_hash="s2",
                     facts=facts(), trigger="alice")
    finally:
        gov.close()


def one_line_refusal(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err.strip()
    assert err.startswith("specops: refused: ") and "\n" not in err
    assert "Traceback" not in err
    return err


def test_cli_serve_refuses_expired_approvals_and_swapped_bytes(
        root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    approve_and_deploy(root, expires_s=60, at=time.time() - 3600)
    assert main(["serve", "credit", "--env", "production", "--project", str(root)]) == 1
    assert "expired" in one_line_refusal(capsys)
    onnx = writable(version_dir(root) / "model.onnx")
    onnx.write_bytes(forge_onnx(onnx.read_bytes()))
    assert main(["serve", "credit@1", "--project", str(root)]) == 1   # no --env: still
    assert "model.onnx" in one_line_refusal(capsys)


def test_cli_predict_refuses_a_voided_production_version(
        root: Path, served_project: dict[str, Any], tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    src = tmp_path / "in.parquet"
    served_project["test"].write_parquet(src)
    approve_and_deploy(root)
    args = ["predict", "credit", "--env", "production", "--project", str(root), "-i",
            str(src), "-o", str(tmp_path / "out.parquet"), "--executor", "inline"]
    assert main(args) == 0
    capsys.readouterr()
    void_approvals(root)
    assert main(args) == 1
    assert "not approved for production" in one_line_refusal(capsys)


def test_batch_driver_and_partition_tasks_re_admit(root: Path, served_project: dict[str, Any],
                                                   tmp_path: Path) -> None:
    src = tmp_path / "in.parquet"
    served_project["test"].write_parquet(src)
    approve_and_deploy(root)
    source = resolve(root, None, "credit", "production")   # deployed, approved now
    part = served_project["test"].head(5).select("income", "age", "region")
    assert score_partition((source, part)).height == 5
    void_approvals(root)   # ...then voided before the job or a task starts
    with pytest.raises(ModelRefused, match="not approved for production"):
        predict_file(source, src, tmp_path / "out.parquet")
    with pytest.raises(ModelRefused, match="not approved for production"):
        score_partition((source, part))   # what a Ray task on another node runs
    assert not (tmp_path / "out.parquet").exists()


def test_staging_check_refuses_swapped_model_and_swapped_test_rows(root: Path) -> None:
    from specops.runtime.serve.staging import stage_and_check

    gov = Governance.open(root)
    try:
        assert stage_and_check(root, None, gov.registry, "credit", 1)["passed"]
        rows = writable(version_dir(root) / "test_rows.parquet")
        genuine = rows.read_bytes()
        forged = pl.read_parquet(rows).head(3)
        forged.write_parquet(rows)   # expected outputs a forged model would match
        with pytest.raises(ModelRefused, match=r"test_rows\.parquet: content changed"):
            stage_and_check(root, None, gov.registry, "credit", 1)
        racing = RacingRegistry(gov.registry, {"test_rows.parquet": genuine},
                                {"test_rows.parquet": rows.read_bytes()})   # after verify
        with pytest.raises(ModelRefused, match=r"test_rows\.parquet refused: the bytes"):
            stage_and_check(root, None, racing, "credit", 1)
        rows.write_bytes(genuine)
        onnx = writable(version_dir(root) / "model.onnx")
        onnx.write_bytes(forge_onnx(onnx.read_bytes()))
        with pytest.raises(ModelRefused, match=r"model\.onnx"):
            stage_and_check(root, None, gov.registry, "credit", 1)
    finally:
        gov.close()


def test_ray_serve_replica_is_built_through_admission(root: Path) -> None:
    """The replica's constructor (what Serve runs on each node) admits again: a version
    deployed when the app was built but voided since never starts a replica."""
    pytest.importorskip("ray.serve")
    from specops.runtime.serve.ray_serve import build_deployment

    approve_and_deploy(root)
    source = resolve(root, None, "credit", "production")
    app = build_deployment(source, {}, log=False)
    replica_class = app._bound_deployment.func_or_class
    replica = replica_class(source, False, 1, 0.0)
    assert replica.service.model.deploy.environment == "production"
    replica.service.close()
    void_approvals(root)
    with pytest.raises(ModelRefused, match="not approved for production"):
        replica_class(source, False, 1, 0.0)


def test_lean_server_stops_answering_when_approvals_are_voided_while_serving(
        root: Path, served_project: dict[str, Any]) -> None:
    approve_and_deploy(root)
    source = resolve(root, None, "credit", "production")
    service = build_service(source, log=False, recheck_s=0)   # rounds driven by the test
    guard = Recheck(service, lambda: open_governance(source), interval_s=0)
    body = oip_body(served_project["test"].head(2))
    with LeanServer(service) as server, httpx.Client(base_url=server.url) as c:
        assert guard.check_once() is None
        assert c.post("/v2/models/credit/infer", json=body).status_code == 200
        void_approvals(root)
        reason = guard.check_once()
        assert reason is not None and "not approved for production" in reason
        r = c.post("/v2/models/credit/infer", json=body)
        assert r.status_code == 503 and "no longer may serve" in r.json()["error"]
        assert c.get("/v2/health/ready").status_code == 503
        assert c.get("/v2/models/credit/ready").status_code == 503
        assert c.get("/v2/health/live").status_code == 200


def test_recheck_thread_runs_on_its_own_and_stops_with_the_service(root: Path) -> None:
    approve_and_deploy(root)
    service = build_service(resolve(root, None, "credit", "production"), log=False,
                            recheck_s=0.05)
    void_approvals(root)
    deadline = time.monotonic() + 20
    while service.revoked is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert service.revoked is not None and "not approved" in service.revoked
    service.close()
    unbound = build_service(ModelSource(str(root), None, "credit", 1), log=False,
                            recheck_s=0.05)
    assert unbound.on_close == []   # no environment: nothing to re-check
