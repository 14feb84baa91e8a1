"""Registry: signed immutable versions, tamper detection, idempotency, aliases, champion."""

from __future__ import annotations

import argparse
import json
import os
import stat
from pathlib import Path
from typing import Any

import pytest
from ml_helpers import make_ctx, make_dataset, run_pipeline

from specops.runtime.cli import model_commands as cli_models
from specops.runtime.engine.op_interface import OpError
from specops.runtime.evaluation.gate import gate
from specops.runtime.registry import Registry, RegistryError
from specops.runtime.registry.register import register
from specops.runtime.trust.ssh_keys import KeyProblem, create_keypair, load_private_key


def _register(tmp: Path, dirs: dict[str, Path], reg: Registry, name: str,
              gate_dirs: dict[str, Path] | None = None) -> Any:
    ctx = make_ctx(tmp / "reg" / name, "register:m", "register",
                   {"model": "m", "owner": "team:risk", "risk_tier": "high",
                    "task": "binary_classification"},
                   {"train:m": dirs["train"], "export_onnx:m": dirs["export"],
                    "evaluate:m": dirs["evaluate"], "benchmark:m": dirs["benchmark"],
                    **(gate_dirs or {})}, extra={"registry": reg})
    return register(ctx), ctx


def _flip(path: Path, offset: int) -> bytes:
    os.chmod(path, stat.S_IRUSR | stat.S_IWUSR)
    data = bytearray(path.read_bytes())
    original = bytes(data)
    data[offset] ^= 0x01
    path.write_bytes(bytes(data))
    return original


@pytest.fixture
def project(tmp_path: Path) -> tuple[Registry, Path]:
    return Registry.open(tmp_path / "proj"), make_dataset(tmp_path)


def test_register_verify_and_detect_flipped_bytes(tmp_path: Path, project: Any) -> None:
    reg, data = project
    dirs = run_pipeline(tmp_path, data=data)
    result, _ = _register(tmp_path, dirs, reg, "r1")
    assert result.report["created"] and result.report["ref"] == "m@1"
    v = reg.get("m", 1)
    assert reg.verify("m", 1)["ok"]
    assert {"model.onnx", "signature.json", "params.json", "search.json", "evaluation.json",
            "parity.json", "benchmark.json"} <= set(v.manifest()["artifacts"])
    assert "model.joblib" not in v.manifest()["artifacts"]
    lin = v.manifest()["lineage"]
    assert lin["run_id"] == "run-test" and lin["data"]["files"]["train.parquet"]
    assert lin["parameters"]["estimator"] == "LogisticRegression"
    assert not os.access(v.path / "model.onnx", os.W_OK) or os.geteuid() == 0

    onnx_path = v.path / "model.onnx"
    original = _flip(onnx_path, len(onnx_path.read_bytes()) // 2)
    problems = reg.verify("m", 1)["problems"]
    assert any("model.onnx: content changed" in p for p in problems)
    onnx_path.write_bytes(original)
    assert reg.verify("m", 1)["ok"]

    manifest = v.path / "manifest.json"
    original = _flip(manifest, 40)
    problems = reg.verify("m", 1)["problems"]
    assert any("signature" in p for p in problems)
    assert any("manifest digest" in p for p in problems)
    manifest.write_bytes(original)
    assert reg.verify("m", 1)["ok"]

    (v.path / "extra.txt").write_text("sneaky")
    assert any("unexpected" in p for p in reg.verify("m", 1)["problems"])


def test_identical_content_is_idempotent_new_content_is_a_new_version(
        tmp_path: Path, project: Any) -> None:
    reg, data = project
    first = run_pipeline(tmp_path, data=data, run="a")
    again = run_pipeline(tmp_path, data=data, run="b")    # same spec + data: same content
    other = run_pipeline(tmp_path, data=data, run="c", params={"C": 0.05})
    assert _register(tmp_path, first, reg, "1")[0].report["version"] == 1
    r2, _ = _register(tmp_path, again, reg, "2")
    assert r2.report["version"] == 1 and not r2.report["created"]
    assert "identical content" in r2.message
    assert _register(tmp_path, other, reg, "3")[0].report["version"] == 2
    assert [v.version for v in reg.versions("m")] == [1, 2]


def test_aliases_keep_history_and_champion_is_production(tmp_path: Path,
                                                         project: Any) -> None:
    reg, data = project
    d1 = run_pipeline(tmp_path, data=data, run="a")
    d2 = run_pipeline(tmp_path, data=data, run="b", params={"C": 0.05})
    _register(tmp_path, d1, reg, "1")
    _register(tmp_path, d2, reg, "2")
    assert reg.champion("m") is None
    reg.set_alias("m", "production", 1, actor="alice", reason="first release")
    reg.set_alias("m", "production", 2, actor="bob", reason="better")
    reg.set_alias("m", "production", 1, actor="carol", reason="rollback")
    hist = reg.alias_history("m", "production")
    assert [(h["from"], h["to"], h["actor"]) for h in hist] == [
        (None, 1, "alice"), (1, 2, "bob"), (2, 1, "carol")]
    assert reg.resolve("m@production").version == 1
    assert reg.champion("m").version == 1

    # the gate reads the champion from the registry's production alias
    champion_check = {"id": "vs_champion", "text": "roc_auc >= champion.roc_auc - 0.01",
                      "severity": "blocking", "message": None, "expr": {
                          "op": "compare", "fn": "ge",
                          "left": {"op": "metric", "name": "roc_auc"},
                          "right": {"op": "binary", "fn": "sub",
                                    "left": {"op": "champion", "metric": "roc_auc"},
                                    "right": {"op": "lit", "value": 0.01}}}}
    ctx = make_ctx(tmp_path / "g", "gate:m:champ", "gate",
                   {"gate": "champ", "checks": [champion_check], "blocking": True,
                    "min_group_size": 30, "require_champion": False},
                   {"evaluate:m": d2["evaluate"], "benchmark:m": d2["benchmark"]},
                   extra={"registry": reg})
    gate(ctx)
    rep = json.loads((ctx.out_dir / "gate_report.json").read_text())
    assert rep["champion"]["ref"] == "m@1"
    [row] = rep["checks"][:1]
    assert row["status"] == "pass"
    assert row["values"]["champion.roc_auc"] == pytest.approx(reg.get("m", 1).metrics["roc_auc"])

    # a tampered champion is refused rather than trusted
    _flip(reg.get("m", 1).path / "evaluation.json", 5)
    with pytest.raises(OpError, match="verification"):
        gate(ctx)


def test_rejected_versions_cannot_carry_aliases(tmp_path: Path, project: Any) -> None:
    reg, data = project
    dirs = run_pipeline(tmp_path, data=data)
    failed = {"id": "auc", "text": "roc_auc >= 0.999", "severity": "blocking", "message": None,
              "expr": {"op": "compare", "fn": "ge", "left": {"op": "metric", "name": "roc_auc"},
                       "right": {"op": "lit", "value": 0.999}}}
    gctx = make_ctx(tmp_path / "g", "gate:m:q", "gate",
                    {"gate": "q", "checks": [failed], "blocking": True, "min_group_size": 30,
                     "require_champion": False},
                    {"evaluate:m": dirs["evaluate"], "benchmark:m": dirs["benchmark"]},
                    extra={"registry": reg})
    with pytest.raises(OpError):
        gate(gctx)
    # even if the scheduler ran register anyway, the failed report stops it
    with pytest.raises(OpError, match="not registered"):
        _register(tmp_path, dirs, reg, "x", {"gate:m:q": gctx.out_dir})
    statuses = [v.status for v in reg.versions("m")]
    assert statuses == ["rejected", "rejected"]
    with pytest.raises(RegistryError, match="rejected"):
        reg.set_alias("m", "production", 1)


def test_group_readable_registry_key_refused(tmp_path: Path) -> None:
    key = create_keypair(tmp_path / "keys", "pipeline")
    assert stat.S_IMODE(key.path.stat().st_mode) == 0o600   # type: ignore[union-attr]
    assert stat.S_IMODE((tmp_path / "keys" / "pipeline.pub").stat().st_mode) == 0o644
    os.chmod(tmp_path / "keys" / "pipeline", 0o644)
    with pytest.raises(KeyProblem, match="chmod 600"):
        load_private_key(tmp_path / "keys" / "pipeline")


def _cli(argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers()
    runs = sub.add_parser("runs")
    runs.add_subparsers().add_parser("list")
    cli_models.register(sub, lambda p: None)
    args = parser.parse_args(argv)
    return int(args.func(args))


def test_cli_list_show_verify_reproduce(tmp_path: Path, capsys: Any) -> None:
    data = make_dataset(tmp_path)
    proj = tmp_path / "proj"
    reg = Registry.open(proj)
    dirs = run_pipeline(tmp_path, data=data)
    _register(tmp_path, dirs, reg, "1")
    common = ["--project", str(proj)]
    assert _cli(["models", "list", *common]) == 0
    assert "m" in capsys.readouterr().out
    assert _cli(["models", "alias", "m@1", "production", "--actor", "alice", *common]) == 0
    assert _cli(["models", "show", "m", *common]) == 0
    out = capsys.readouterr().out
    assert "production" in out and "alias history" in out
    assert _cli(["models", "show", "m@production", *common]) == 0
    assert "verified" in capsys.readouterr().out
    assert _cli(["models", "verify", "m@1", *common]) == 0
    assert _cli(["reproduce", "m@1", "--json", *common]) == 0
    assert json.loads(capsys.readouterr().out.split("\n", 1)[1])["reproduced"] is True
    _flip(reg.get("m", 1).path / "model.onnx", 10)
    assert _cli(["models", "verify", "m@1", *common]) == 1
    assert "model.onnx" in capsys.readouterr().err


def test_orphan_directory_from_a_crash_is_replaced(tmp_path: Path, project: Any) -> None:
    reg, data = project
    dirs = run_pipeline(tmp_path, data=data)
    orphan = reg.root / "m" / "1"
    orphan.mkdir(parents=True)
    (orphan / "model.onnx").write_text("half-written")
    os.chmod(orphan / "model.onnx", 0o444)
    assert _register(tmp_path, dirs, reg, "1")[0].report["version"] == 1
    assert reg.verify("m", 1)["ok"]
    assert not list((reg.root / "m").glob(".staging-*"))


@pytest.mark.postgres
def test_registry_on_postgres(tmp_path: Path) -> None:
    import uuid

    import sqlalchemy as sa
    from postgres_helpers import require_postgres

    from specops.runtime.store import Store

    url = require_postgres()
    schema = f"specops_test_{uuid.uuid4().hex[:12]}"
    store = Store.from_url(url, schema=schema)
    try:
        reg = Registry(store.engine, tmp_path / "registry", tmp_path / "keys")
        dirs = run_pipeline(tmp_path, data=make_dataset(tmp_path))
        assert _register(tmp_path, dirs, reg, "1")[0].report["version"] == 1
        assert _register(tmp_path, dirs, reg, "2")[0].report["created"] is False
        reg.set_alias("m", "production", 1, actor="pg")
        assert reg.champion("m").version == 1
        assert reg.verify("m", 1)["ok"]
        assert reg.alias_history("m")[0]["to"] == 1
    finally:
        store.close()
        eng = sa.create_engine(url)
        with eng.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        eng.dispose()
