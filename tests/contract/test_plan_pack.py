"""Format 3 plan files (contract/plan_pack.py): packing is exact, deterministic and
verifiable; older plans are still read; the approval digest governance signs does not
depend on the file's layout, and a tampered plan is refused or changes what it binds."""

from __future__ import annotations

import copy
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from specops.contract.canonical import canonical_json
from specops.contract.plan_pack import (
    BASE,
    REF,
    PlanPackError,
    pack,
    packed_text,
    unpack,
)
from specops.contract.plan_records import FORMAT_VERSION, Plan
from specops.contract.plan_upgrade import PlanUpgradeError, upgrade
from specops.runtime.governance.approvals import approval_plan
from specops.runtime.trust.statements import plan_digest

REPO = Path(__file__).resolve().parents[2]
PLANS = REPO / "tests" / "fixtures" / "plans"
NAMES = ["credit-risk.plan.json", "minimal.plan.json"]


def _read(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


@pytest.mark.parametrize("name", NAMES)
def test_packing_is_exact_and_deterministic(name: str) -> None:
    full = _read(PLANS / name)
    before = copy.deepcopy(full)
    packed = pack(full)
    assert full == before                                  # the input is not modified
    assert packed["shared"] and all("fingerprint" not in n for n in packed["nodes"])
    text = packed_text(packed)
    assert text == packed_text(pack(json.loads(canonical_json(full))))   # same bytes
    assert unpack(json.loads(text)) == full                # every value, fingerprints too
    assert len(text) < len(canonical_json(full)) / 1.8


@pytest.mark.parametrize("name", NAMES)
def test_the_written_golden_reads_as_the_plan(name: str) -> None:
    plan = upgrade(_read(PLANS / "packed" / name))
    assert plan == _read(PLANS / name)
    Plan.model_validate(plan)


def test_a_format_2_plan_is_still_read() -> None:
    """A format-2 file is a format-3 plan that shares nothing: upgraded unchanged, its
    fingerprints kept (format 3 did not change what a node means)."""
    full = _read(PLANS / "credit-risk.plan.json")
    old = {**copy.deepcopy(full), "format_version": 2}
    new = upgrade(old)
    assert new["format_version"] == FORMAT_VERSION == 3
    assert new == full


def _forge(packed: dict[str, Any], change: Any) -> dict[str, Any]:
    """Change what a shared entry holds and re-key it everywhere (a forger who knows the
    format): the plan stays well-formed, so only its meaning can tell."""
    forged = copy.deepcopy(packed)
    old_key = next(k for k, v in forged["shared"].items() if change(v))
    value = forged["shared"].pop(old_key)
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    new_key = hashlib.sha256(text.encode()).hexdigest()[:len(old_key)]
    forged["shared"][new_key] = value
    body = json.dumps(forged).replace(f'"{old_key}"', f'"{new_key}"')
    result: dict[str, Any] = json.loads(body)
    return result


def test_the_approval_digest_is_the_same_in_any_layout_and_binds_shared_content() -> None:
    """Governance signs `plan_digest` of a model's approval snapshot: reading the packed
    file gives the same digest as the full plan, and a forged shared approval entry gives
    another one (so a signed request no longer matches it)."""
    full = _read(PLANS / "credit-risk.plan.json")
    model = next(m for m, f in full["models"].items() if f.get("approval"))
    digest = plan_digest(approval_plan(model, full["models"][model]))
    packed = pack(full)
    assert plan_digest(approval_plan(model, unpack(packed)["models"][model])) == digest

    def an_approval(v: Any) -> bool:
        if isinstance(v, dict) and isinstance(v.get("rules"), list) and "name" in v:
            for rule in v["rules"]:
                if isinstance(rule.get("require"), dict) and rule["require"]:
                    role = next(iter(rule["require"]))
                    rule["require"][role] = 0       # needs nobody: the forger's aim
                    return True
        return False

    if not any(isinstance(v, dict) and "rules" in v for v in packed["shared"].values()):
        # one model: the approval block is not shared; forge it in place instead
        packed = copy.deepcopy(packed)
        entry = packed["models"][model]
        target = entry["approval"] if REF not in entry["approval"] else None
        assert target is not None and an_approval(target)
        forged = packed
    else:
        forged = _forge(packed, an_approval)
    assert plan_digest(approval_plan(model, unpack(forged)["models"][model])) != digest


@pytest.mark.parametrize("damage", ["edit_entry", "unknown_ref", "unused_entry",
                                    "ref_with_keys", "wrong_fingerprint"])
def test_a_damaged_packed_plan_is_refused(damage: str) -> None:
    packed = pack(_read(PLANS / "credit-risk.plan.json"))
    key = sorted(packed["shared"])[0]
    node = packed["nodes"][0]
    if damage == "edit_entry":                 # content no longer matches its id
        packed["shared"][key] = {"tampered": True}
    elif damage == "unknown_ref":
        node["params"] = {REF: "0" * 12}
    elif damage == "unused_entry":
        packed["shared"]["f" * 12] = {"extra": 1}
    elif damage == "ref_with_keys":
        ref = next(n for n in packed["nodes"] if BASE in n)
        ref["params"] = {REF: key, "x": 1}
    else:                                      # a node claiming another node's results
        node["fingerprint"] = "sha256:" + "0" * 64
    with pytest.raises(PlanUpgradeError):
        upgrade(packed)
    with pytest.raises(PlanPackError):
        unpack(packed)


def test_edited_params_change_the_fingerprint_the_reader_computes() -> None:
    """Fingerprints are computed on read from the params (a file stores none), so a plan
    whose params were edited cannot reuse the cached results of the params it replaced,
    while nodes upstream keep theirs."""
    full = _read(PLANS / "minimal.plan.json")
    edited = copy.deepcopy(full)    # its fingerprints are now stale: pack leaves them out
    train = next(n for n in edited["nodes"] if n["id"].startswith("train:"))
    train["params"]["estimator"]["seed"] += 1
    read = unpack(json.loads(packed_text(pack(edited))))
    fp = {n["id"]: n["fingerprint"] for n in full["nodes"]}
    changed = {n["id"] for n in read["nodes"] if n["fingerprint"] != fp[n["id"]]}
    assert train["id"] in changed
    assert not any(i.startswith(("source:", "validate:", "features:", "training_set:"))
                   for i in changed)


def test_literal_dollar_keys_are_not_read_as_references() -> None:
    full = _read(PLANS / "minimal.plan.json")
    train = next(n for n in full["nodes"] if n["id"].startswith("train:"))
    train["params"]["estimator"]["params"] = {"$ref": "not-a-reference", "$$x": 1,
                                              "$base": [1]}
    read = unpack(json.loads(packed_text(pack(full))))

    def unkeyed(plan: dict[str, Any]) -> Any:   # the edit made the stored fingerprints stale
        return [{k: v for k, v in n.items() if k != "fingerprint"} for n in plan["nodes"]]

    assert unkeyed(read) == unkeyed(full) and read["models"] == full["models"]
    estimator = next(n for n in read["nodes"] if n["id"] == train["id"])["params"]["estimator"]
    assert estimator["params"] == {"$ref": "not-a-reference", "$$x": 1, "$base": [1]}
