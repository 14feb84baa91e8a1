"""The execution plan: golden fixture, schema, determinism and fingerprint semantics."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from pathlib import Path

import jsonschema
import networkx as nx
import pytest
from compile_helpers import EXAMPLE, REPO, compiled, copy_example, edit, fingerprints, plan_of

from specops.compiler.plan import canonical_json
from specops.compiler.plan.dag import build_graph
from specops.contract.plan_pack import packed_text, unpack

GOLDEN_DIR = REPO / "tests" / "fixtures" / "plans"
GOLDEN = GOLDEN_DIR / "credit-risk.plan.json"
SCHEMA = json.loads((REPO / "schemas" / "plan.schema.json").read_text(encoding="utf-8"))


def _validator() -> jsonschema.Draft202012Validator:
    jsonschema.Draft202012Validator.check_schema(SCHEMA)
    return jsonschema.Draft202012Validator(SCHEMA)


GOLDEN_PROJECTS = {"credit-risk": EXAMPLE, "minimal": REPO / "tests" / "fixtures" / "projects" /
                   "minimal"}


@pytest.mark.parametrize("name", sorted(GOLDEN_PROJECTS))
def test_golden_plans(name: str) -> None:
    """Two goldens a project: the plan as read (every shared structure resolved, the form
    the runtime and the schema see) and the file as written (packed, docs/plan.md).
    Set SPECOPS_UPDATE_GOLDEN=1 to regenerate, then review the fixture diff."""
    golden_path = GOLDEN_DIR / f"{name}.plan.json"
    packed_path = GOLDEN_DIR / "packed" / f"{name}.plan.json"
    plan = compiled(GOLDEN_PROJECTS[name]).plan
    assert plan is not None
    text, packed = canonical_json(plan.data), plan.text()
    if os.environ.get("SPECOPS_UPDATE_GOLDEN") == "1":
        golden_path.write_text(text, encoding="utf-8")
        packed_path.parent.mkdir(exist_ok=True)
        packed_path.write_text(packed, encoding="utf-8")
    release = json.loads(text)["specops_version"]   # a release is not a plan change
    for path, current in ((golden_path, text), (packed_path, packed)):
        golden = json.loads(path.read_text(encoding="utf-8"))
        golden["specops_version"] = release
        written = canonical_json(golden) if path == golden_path else packed_text(golden)
        assert written == current, (
            f"plan differs from {path.relative_to(REPO)}; if intended, rerun with "
            "SPECOPS_UPDATE_GOLDEN=1 and review the diff")
    # the file as written reads back as exactly the plan
    assert unpack(json.loads(packed)) == json.loads(text)


@pytest.mark.parametrize("path", sorted(GOLDEN_DIR.glob("*.json")), ids=lambda p: p.name)
def test_every_golden_plan_validates_against_the_schema(path: Path) -> None:
    errors = list(_validator().iter_errors(json.loads(path.read_text(encoding="utf-8"))))
    assert not errors, [f"{e.json_path}: {e.message}" for e in errors[:5]]


def test_schema_rejects_a_broken_plan() -> None:
    plan = json.loads(GOLDEN.read_text(encoding="utf-8"))
    train = next(n for n in plan["nodes"] if n["op"] == "train")
    train["params"]["task"] = "clustering"
    del plan["nodes"][0]["fingerprint"]
    paths = {e.json_path for e in _validator().iter_errors(plan)}
    assert any("nodes" in p for p in paths)


def test_plan_text_is_canonical_json() -> None:
    """The file: canonical JSON (sorted keys, UTF-8, trailing newline), one entry of each
    top-level table a line; the plan as read is the canonical JSON of the plan's data."""
    plan = compiled(EXAMPLE).plan
    assert plan is not None
    text = plan.text()
    data = json.loads(text)
    assert text == packed_text(data)
    assert text.splitlines()[1:3] == ['  "format_version": 3,', '  "models": {']
    assert unpack(data) == json.loads(canonical_json(plan.data))
    full = canonical_json(plan.data)
    assert full == json.dumps(plan.data, sort_keys=True, indent=2, ensure_ascii=False) + "\n"
    assert [n["id"] for n in data["nodes"]] == sorted(n["id"] for n in data["nodes"])
    assert str(EXAMPLE) not in text and str(REPO) not in text


def _scatter(project: Path, seed: int) -> None:
    """Same specs, different layout: every document in its own file, random names/order."""
    rng = random.Random(seed)
    docs: list[str] = []
    for f in sorted((project / "specs").glob("*.yaml")):
        docs += [d.strip("\n") + "\n" for d in f.read_text(encoding="utf-8").split("\n---\n")]
        f.unlink()
    rng.shuffle(docs)
    names = [f"{rng.randrange(10**6):06d}_{i}.yaml" for i in range(len(docs))]
    rng.shuffle(names)
    sub = project / "specs" / f"nested_{seed}"
    sub.mkdir()
    half = len(docs) // 2
    (sub / names[0]).write_text("---\n".join(docs[:half]), encoding="utf-8")
    for name, doc in zip(names[1:], docs[half:], strict=False):
        (project / "specs" / name).write_text(doc, encoding="utf-8")


def test_plan_is_byte_identical_for_any_file_layout_and_directory(tmp_path: Path) -> None:
    a = copy_example(tmp_path / "one" / "credit-risk")
    b = copy_example(tmp_path / "elsewhere" / "deeper" / "project")
    _scatter(a, 1)
    _scatter(b, 2)
    text_a = compiled(a).plan.text()  # type: ignore[union-attr]
    text_b = compiled(b).plan.text()  # type: ignore[union-attr]
    assert text_a == text_b
    assert text_a == compiled(EXAMPLE).plan.text()  # type: ignore[union-attr]
    assert str(tmp_path) not in text_a


def test_cli_compile_is_deterministic_across_runs(tmp_path: Path) -> None:
    outs = []
    for i in range(2):
        out = tmp_path / f"plan{i}.json"
        proc = subprocess.run([sys.executable, "-m", "specops.compiler.cli.main", "compile",
                               str(EXAMPLE), "-o", str(out)], capture_output=True, text=True,
                              cwd=tmp_path if i else REPO, check=False)
        assert proc.returncode == 0, proc.stderr
        outs.append(out.read_bytes())
    assert outs[0] == outs[1]


def test_changing_one_feature_expression_changes_exactly_its_dependents(tmp_path: Path) -> None:
    project = copy_example(tmp_path / "p")
    before = compiled(project)
    edit(project / "specs" / "features.yaml", '"log1p(income)"', '"log(income + 1)"')
    after = compiled(project)
    old, new = fingerprints(before.plan.data), fingerprints(after.plan.data)  # type: ignore[union-attr]
    assert old.keys() == new.keys()
    changed = {n for n in old if old[n] != new[n]}
    graph = build_graph(after.lint.context)
    view = "features:application_features@1"
    assert changed == {view} | nx.descendants(graph, view)
    assert {"train:credit_default", "register:credit_default",
            "deploy:credit_default:production"} <= changed
    assert "features:bureau_history@2" not in changed
    assert "source:applications" not in changed


def test_resources_locations_and_descriptions_do_not_affect_fingerprints(tmp_path: Path) -> None:
    project = copy_example(tmp_path / "p")
    before = fingerprints(plan_of(project))
    edit(project / "specs" / "model.yaml", "description: Probability",
         "description: The probability")
    edit(project / "specs" / "features.yaml", "description: Ratios",
         "description: Simple ratios")
    assert fingerprints(plan_of(project)) == before


def test_gate_threshold_change_does_not_retrain(tmp_path: Path) -> None:
    project = copy_example(tmp_path / "p")
    before = fingerprints(plan_of(project))
    edit(project / "specs" / "gates.yaml", "brier <= 0.25", "brier <= 0.2")
    after = fingerprints(plan_of(project))
    changed = {n for n in before if before[n] != after[n]}
    assert "gate:credit_default:quality" in changed
    assert "register:credit_default" in changed
    assert "train:credit_default" not in changed
    assert "evaluate:credit_default" not in changed


def test_template_variables_are_rendered_and_paths_relative() -> None:
    data = plan_of(EXAMPLE)
    nodes = {n["id"]: n for n in data["nodes"]}
    assert nodes["source:applications"]["params"]["path"] == "data/applications.parquet"
    assert nodes["source:bureau_reports"]["params"]["path"] == "data/bureau/*.parquet"
    quality = nodes["gate:credit_default:quality"]["params"]["checks"][0]
    assert quality["text"] == "roc_auc >= 0.7"
    assert quality["expr"]["op"] == "compare"


def test_training_inputs_have_types_and_roles() -> None:
    nodes = {n["id"]: n for n in plan_of(EXAMPLE)["nodes"]}
    inputs = {i["name"]: i for i in nodes["train:credit_default"]["params"]["inputs"]}
    assert inputs["region"] == {"name": "region", "type": "string", "role": "categorical"}
    assert inputs["late_12m"]["type"] == "int64"
    assert inputs["log_income"]["role"] == "numeric"
    assert "sex" not in inputs and "age" not in inputs   # protected: never an input
    ts = nodes["training_set:credit_default"]["params"]
    assert ts["label"] == {"source": "outcomes", "column": "defaulted", "key": "application_id"}
    assert "application_id" in ts["spine"]["columns"]
    assert nodes["evaluate:credit_default"]["params"]["protected"] == ["age", "sex"]


def test_governance_is_decided_at_compile_time() -> None:
    data = plan_of(EXAMPLE)
    rules = data["models"]["credit_default"]["approval"]["rules"]
    assert [r["index"] for r in rules] == [0]            # only the high-risk rule applies
    assert rules[0]["applies"] is True
    assert rules[0]["eligible"] == {"business_owner": ["carol"],
                                    "model_risk_officer": ["bob", "erin"]}
    nodes = {n["id"]: n for n in data["nodes"]}
    assert nodes["deploy:credit_default:production"]["inputs"] == ["approval:credit_default"]
    assert nodes["deploy:credit_default:staging"]["inputs"] == ["register:credit_default"]
    assert nodes["monitor:credit_default"]["manual"] is True


def test_compile_refuses_a_project_with_errors(tmp_path: Path) -> None:
    project = copy_example(tmp_path / "p")
    edit(project / "specs" / "features.yaml", "source: applications", "source: aplications")
    out = tmp_path / "plan.json"
    proc = subprocess.run([sys.executable, "-m", "specops.compiler.cli.main", "compile",
                           str(project), "-o", str(out)], capture_output=True, text=True,
                          check=False)
    assert proc.returncode == 1
    assert "SPEC301" in proc.stderr and "refused" in proc.stderr
    assert not out.exists()
    assert "Traceback" not in proc.stderr


def test_derived_feature_view_reads_its_upstream_view(tmp_path: Path) -> None:
    project = copy_example(tmp_path / "p")
    with (project / "specs" / "features.yaml").open("a", encoding="utf-8") as f:
        f.write("---\nkind: feature\nname: derived\nversion: 1\nsource: bureau_history@2\n"
                "owner: team:risk_data\naccess: restricted\ngrants: [team:credit_risk]\n"
                "features:\n  util_sq: \"utilization * utilization\"\n"
                "  accounts: \"open_accounts\"\n")
    edit(project / "specs" / "model.yaml", "    - applications.region",
         "    - applications.region\n    - derived@1")
    result = compiled(project)
    nodes = {n["id"]: n for n in result.plan.data["nodes"]}  # type: ignore[union-attr]
    derived = nodes["features:derived@1"]
    assert derived["inputs"] == ["features:bureau_history@2"]
    assert derived["params"]["source"] == "features:bureau_history@2"
    assert derived["params"]["entity"] == "applicant_id"
    assert derived["params"]["timestamp"] == "reported_at"
    types = {f["name"]: f["type"] for f in derived["params"]["features"]}
    assert types == {"util_sq": "float64", "accounts": "int64"}
    assert "features:derived@1" in nodes["training_set:credit_default"]["inputs"]


def test_slice_columns_are_read_but_are_not_model_inputs(tmp_path: Path) -> None:
    project = copy_example(tmp_path / "p")
    edit(project / "specs" / "model.yaml", "slices: [region]", "slices: [region, term_months]")
    edit(project / "specs" / "model.yaml", "    - applications.region\n", "")
    nodes = {n["id"]: n for n in plan_of(project)["nodes"]}
    inputs = {i["name"] for i in nodes["train:credit_default"]["params"]["inputs"]}
    assert "region" not in inputs
    spine = nodes["training_set:credit_default"]["params"]["spine"]["columns"]
    assert {"region", "term_months", "application_id"} <= set(spine)
    assert nodes["evaluate:credit_default"]["params"]["slices"] == ["region", "term_months"]
