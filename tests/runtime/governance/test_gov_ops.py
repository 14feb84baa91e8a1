"""The plan ops: `request_approval` (permission of the run's trigger, policy changes) and
`deploy` (promotion through governance), against a real signed registry."""

from __future__ import annotations

import copy
import json

import pytest
from report_fixture import MODEL_FACTS, build

from specops.runtime.engine.op_interface import OpContext, OpError
from specops.runtime.governance.deploy import deploy
from specops.runtime.governance.request_approval import request_approval


def _ctx(root, node_id, op, params, inputs, **extra):
    out = root / node_id.replace(":", "_").replace("@", "_")
    return OpContext(node_id=node_id, op=op, params=params, project_root=root,
                     out_dir=out, inputs=inputs, run_id="run-2",
                     fingerprint="sha256:" + "0" * 64,
                     extra={"store_url": "sqlite:///.specops/store.db", **extra})


def test_request_approval_refuses_unlisted_trigger_and_policy_change(tmp_path):
    root = tmp_path / "proj"
    gov, model, _v = build(root)
    gov.close()
    reg = {"register:credit_default": root / "register_out"}
    with pytest.raises(OpError, match="mallory may not register: not listed"):
        request_approval(_ctx(root, "approval:credit_default", "request_approval",
                              {"model": model}, reg, actor="mallory",
                              plan_models={model: MODEL_FACTS}))
    looser = copy.deepcopy(MODEL_FACTS)
    looser["approval"]["rules"][0]["require"] = {"business_owner": 1}
    with pytest.raises(OpError, match="dan may not change policy"):
        request_approval(_ctx(root, "approval:credit_default", "request_approval",
                              {"model": model}, reg, actor="dan",
                              plan_models={model: looser}))
    # a model risk officer adopts the change (`specops policy accept`), then dan's run
    # goes through: same digest and spec hash, so the existing request stands
    from specops.compiler.cli.main import main

    plan = tmp_path / "plan.json"
    plan.write_text(json.dumps({"format_version": 1, "nodes": [],
                                "models": {model: looser}}))
    assert main(["policy", "accept", "--plan", str(plan), "--project", str(root),
                 "--as", "dan"]) == 1
    assert main(["policy", "accept", "--plan", str(plan), "--project", str(root),
                 "--as", "erin", "--reason", "business owner alone suffices"]) == 0
    res = request_approval(_ctx(root, "approval:credit_default", "request_approval",
                                {"model": model}, reg, actor="dan",
                                plan_models={model: looser}))
    assert res.report["state"] == "approved"

def test_deploy_op(tmp_path):
    root = tmp_path / "proj"
    gov, model, version = build(root)
    gov.close()
    appr = root / "approval_out"
    res = deploy(_ctx(root, "deploy:credit_default:production", "deploy",
                      {"model": model, "environment": "production"},
                      {"approval:credit_default": appr}, actor="frank"))
    assert res.report["changed"] is False and res.report["version"] == version
    with pytest.raises(OpError, match="bob may not deploy"):
        deploy(_ctx(root, "deploy:credit_default:staging", "deploy",
                    {"model": model, "environment": "staging", "version": version}, {},
                    actor="bob"))
    doc = json.loads((appr / "approval.json").read_text())
    assert doc["ref"] == f"{model}@{version}"
