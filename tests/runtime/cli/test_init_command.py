"""`specops init --from FILE --label COL`: data files of several shapes become projects
that lint clean and compile; one runs end to end (inline executor) with its own keys.

Real files written here as they come (`?` nulls, no header, `;` delimiter with `,`
decimals, Latin-1, a preamble line), the real CLI, a real store and real keys.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from specops.compiler.cli.main import main

N = 900


def _table(n: int = N, seed: int = 0) -> dict[str, list[str]]:
    """A credit-like table with a learnable label and two protected attributes."""
    rng = np.random.default_rng(seed)
    age = rng.integers(18, 80, n)
    income = rng.lognormal(10.3, 0.5, n)
    sex = rng.choice(["F", "M"], n)
    region = rng.choice(["Nord", "Süd", "Ost"], n)
    debt = rng.uniform(0, 1, n)
    score = 2.5 * debt - 0.8 * (np.log(income) - 10.3) + rng.logistic(0, 0.5, n)
    bad = (score > 1.2).astype(int)
    amount = (income * rng.uniform(0.1, 0.6, n)).round(2)
    return {
        "client_id": [str(i) for i in range(n)],
        "age": [str(a) for a in age],
        "income": ["?" if i % 41 == 0 else f"{v:.2f}" for i, v in enumerate(income)],
        "sex": list(sex), "region": list(region),
        "debt_ratio": [f"{v:.4f}" for v in debt],
        "amount": [f"{v:.2f}" for v in amount],
        "bad": [str(b) for b in bad],
    }


def _write(path: Path, cols: dict[str, list[str]], *, delimiter: str = ",",
           header: bool = True, encoding: str = "utf-8", preamble: str = "",
           comma_decimals: bool = False) -> Path:
    names = list(cols)
    rows = list(zip(*cols.values(), strict=True))
    lines = [preamble] if preamble else []
    if header:
        lines.append(delimiter.join(names))
    for r in rows:
        cells = [c.replace(".", ",") if comma_decimals else c for c in r]
        lines.append(delimiter.join(cells))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(("\n".join(lines) + "\n").encode(encoding))
    return path


def _init(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["init", *args])
    out = capsys.readouterr()
    return code, out.out, out.err


def _lint_and_compile(root: Path, capsys: pytest.CaptureFixture[str]) -> dict[str, object]:
    assert main(["lint", str(root)]) == 0
    assert "0 errors, 0 warnings; all clean" in capsys.readouterr().err
    plan = root / "plan.json"
    assert main(["compile", str(root), "-o", str(plan)]) == 0
    capsys.readouterr()
    data: dict[str, object] = json.loads(plan.read_text())
    return data


def _specs(root: Path) -> dict[str, dict[str, object]]:
    out: dict[str, dict[str, object]] = {}
    for f in sorted((root / "specs").glob("*.yaml")):
        for doc in yaml.safe_load_all(f.read_text(encoding="utf-8")):
            out[f"{doc['kind']}:{doc['name']}"] = doc
    return out


SHAPES = {
    "question_mark_nulls": dict(delimiter=",", preamble=""),
    "no_header_semicolon": dict(delimiter=";", header=False),
    "latin1_semicolon_comma_decimals": dict(delimiter=";", encoding="latin-1",
                                           comma_decimals=True),
    "tab_with_preamble": dict(delimiter="\t", preamble="exported 2026-12-01 by the bank"),
}


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_shapes_give_projects_that_lint_clean_and_compile(
        shape: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    opts = SHAPES[shape]
    src = _write(tmp_path / "in" / f"{shape}.csv", _table(), **opts)  # type: ignore[arg-type]
    headerless = opts.get("header") is False
    label, protected = ("8", "4,column_5") if headerless else ("bad", "sex,region")
    code, _, err = _init(capsys, "--from", str(src), "--label", label, "--protected",
                           protected, "-o", str(tmp_path / "p"), "--no-keys")
    assert code == 0, err
    root = tmp_path / "p"
    specs = _specs(root)
    source = specs[f"source:{shape}"]
    csv_opts = source.get("csv") or {}
    assert isinstance(csv_opts, dict)
    assert csv_opts.get("null_values") == ["?"]
    assert csv_opts.get("delimiter", ",") == opts["delimiter"]
    assert csv_opts.get("header", True) is not headerless
    assert csv_opts.get("encoding", "utf-8") == ("latin1" if "latin1" in shape else "utf-8")
    assert csv_opts.get("skip_rows", 0) == (1 if opts.get("preamble") else 0)
    assert csv_opts.get("decimal", ".") == ("," if opts.get("comma_decimals") else ".")
    cols = source["columns"]
    assert isinstance(cols, dict)
    lab = "column_8" if headerless else "bad"
    income = "column_3" if headerless else "income"
    assert cols[income]["type"] == "float64" and cols[lab]["in"] == [0, 1]
    model = next(v for k, v in specs.items() if k.startswith("model:"))
    assert model["task"] == "binary_classification"
    training = model["training"]
    assert isinstance(training, dict)
    assert f"{shape}.{income}" in training["features"]
    sex = "column_4" if headerless else "sex"
    assert f"{shape}.{sex}" in training["protected"]
    assert all(sex not in f for f in training["features"])     # protected: never an input
    # `bad` names an adverse outcome: approvals (0) are the favourable decisions; a
    # headerless file's `column_8` says nothing, so the default (the larger value) is written
    assert model["fairness"] == {"favorable": 1 if headerless else 0, "threshold": 0.5}
    plan = _lint_and_compile(root, capsys)
    nodes = [n["id"] for n in plan["nodes"]]  # type: ignore[index, union-attr]
    assert any(n.startswith("gate:") and n.endswith(":fairness") for n in nodes)
    assert (root / "data" / f"{shape}.csv").read_bytes() == src.read_bytes()


def test_numbers_with_many_values_make_a_regression(tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]
                                                    ) -> None:
    """A regression with protected attributes: a direction and threshold (the median
    label) so the selection-rate check can be evaluated, age in quartile bands, and no
    classification-only check (lint would refuse equalized odds on a regression)."""
    cols = _table()
    src = _write(tmp_path / "loans.csv", cols)
    code, _, err = _init(capsys, "--from", str(src), "--label", "amount", "--protected",
                         "sex,age", "-o", str(tmp_path / "p"), "--no-keys")
    assert code == 0, err
    specs = _specs(tmp_path / "p")
    model = specs["model:amount_model"]
    assert model["task"] == "regression"
    assert model["estimator"]["class"] == "HistGradientBoostingRegressor"  # type: ignore[index]
    median = float(np.median([float(v) for v in cols["amount"]]))
    assert model["fairness"] == {"favorable": "higher_score",
                                 "threshold": pytest.approx(median),
                                 "bands": {"age": {"quantiles": 4}}}
    assert specs["gate:quality"]["checks"][0] == "r2 >= {{ min_r2 }}"  # type: ignore[index]
    checks = [c["check"] for c in specs["gate:fairness"]["checks"]]  # type: ignore[union-attr]
    assert checks == ["disparate_impact(sex) >= 0.8", "disparate_impact(age) >= 0.8"]
    _lint_and_compile(tmp_path / "p", capsys)


def test_text_label_with_three_values_is_multiclass(tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]
                                                    ) -> None:
    src = _write(tmp_path / "t.csv", _table())
    assert _init(capsys, "--from", str(src), "--label", "region", "-o",
                 str(tmp_path / "p"), "--no-keys")[0] == 0
    model = _specs(tmp_path / "p")["model:region_model"]
    assert model["task"] == "multiclass_classification"
    _lint_and_compile(tmp_path / "p", capsys)


def test_values_from_the_file_cannot_inject_yaml(tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    """Header cells and category values are data: a cell that looks like YAML stays a
    string, and a header that is not an identifier becomes one."""
    cols = _table()
    evil = '"]}\nkind: policy #'
    cols["bad"] = [evil if b == "1" else "no: x" for b in cols["bad"]]
    cols = {("Debt ratio: yes" if k == "debt_ratio" else k): v for k, v in cols.items()}
    src = tmp_path / "e.csv"
    import csv as pycsv
    with src.open("w", newline="", encoding="utf-8") as f:
        w = pycsv.writer(f)
        w.writerow(cols)
        w.writerows(zip(*cols.values(), strict=True))
    assert _init(capsys, "--from", str(src), "--label", "bad", "-o", str(tmp_path / "p"),
                 "--no-keys")[0] == 0
    specs = _specs(tmp_path / "p")
    assert set(specs) == {"source:e", "model:bad_model", "gate:quality",
                          "approval:review"}
    src_spec = specs["source:e"]
    assert src_spec["columns"]["bad"]["in"] == sorted([evil, "no: x"])  # type: ignore[index]
    assert "debt_ratio_yes" in src_spec["columns"]  # type: ignore[operator]
    _lint_and_compile(tmp_path / "p", capsys)


def test_refuses_to_overwrite_a_project(tmp_path: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    src = _write(tmp_path / "d.csv", _table(50))
    root = tmp_path / "p"
    root.mkdir()
    (root / "specops.yaml").write_text("name: mine\n")
    code, _, err = _init(capsys, "--from", str(src), "--label", "bad", "-o", str(root))
    assert code == 2 and "never overwrites" in err and len(err.strip().splitlines()) == 1
    assert (root / "specops.yaml").read_text() == "name: mine\n"
    assert sorted(p.name for p in root.iterdir()) == ["specops.yaml"]


def test_bad_label_is_one_line_naming_the_columns_and_writes_nothing(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = _write(tmp_path / "d.csv", _table(50))
    code, _, err = _init(capsys, "--from", str(src), "--label", "defaulted", "-o",
                         str(tmp_path / "p"))
    assert code == 2 and "no column 'defaulted'" in err and "client_id" in err
    assert len(err.strip().splitlines()) == 1
    assert not (tmp_path / "p").exists()


def test_reads_only_the_given_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]
                                   ) -> None:
    """A glob is not a file, and a neighbour of the file is neither read nor copied."""
    _write(tmp_path / "in" / "a.csv", _table(60))
    (tmp_path / "in" / "secret.csv").write_text("password\nhunter2\n")
    code, _, err = _init(capsys, "--from", str(tmp_path / "in" / "*.csv"), "--label",
                         "bad", "-o", str(tmp_path / "g"))
    assert code == 2 and "no such file" in err
    code, _, err = _init(capsys, "--from", str(tmp_path / "in" / "a.csv"), "--label",
                         "bad", "-o", str(tmp_path / "p"), "--no-keys")
    assert code == 0, err
    copied = sorted(p.name for p in (tmp_path / "p" / "data").iterdir())
    assert copied == ["a.csv"]
    written = "".join(p.read_text() for p in (tmp_path / "p").rglob("*.yaml"))
    assert "secret" not in written and "hunter2" not in written


def _specops(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("SPECOPS_REGISTRY_KEY", "SPECOPS_REGISTRY_PUBKEYS")}
    return subprocess.run([sys.executable, "-m", "specops.compiler.cli.main", *args],
                          capture_output=True, text=True, cwd=root, env=env, timeout=600)


@pytest.mark.slow
def test_init_then_run_registers_a_governed_version(tmp_path: Path) -> None:
    """End to end, as a new user: init (keys made, trust root accepted), lint clean, run
    (inline): trained, gated, signed with the project's own registry key and verified
    against its pinned key, an approval request that the placeholder reviewer signs."""
    src = _write(tmp_path / "credit.csv", _table(1500, seed=3))
    root = tmp_path / "credit"
    r = _specops(tmp_path, "init", "--from", str(src), "--label", "bad", "--protected",
                 "sex,age")
    assert r.returncode == 0, r.stderr
    assert "in force" in r.stdout + r.stderr
    model = _specs(root)["model:bad_model"]
    assert model["fairness"] == {"favorable": 0, "threshold": 0.5,
                                 "bands": {"age": {"quantiles": 4}}}
    assert oct((root / ".keys" / "pipeline").stat().st_mode & 0o777) == "0o600"
    assert ".keys/" in (root / ".gitignore").read_text()
    lint = _specops(root, "lint")
    assert lint.returncode == 0 and "0 warnings; all clean" in lint.stderr, lint.stderr
    run = _specops(root, "run", "--executor", "inline")
    assert run.returncode == 0, run.stdout + run.stderr
    for step in ("train:bad_model", "evaluate:bad_model", "gate:bad_model:quality",
                 "gate:bad_model:fairness", "register:bad_model"):
        assert f"done {step}" in run.stderr, run.stderr
    verify = _specops(root, "models", "verify", "bad_model@1")
    assert verify.returncode == 0, verify.stdout + verify.stderr
    approve = _specops(root, "approve", "bad_model@1", "--role", "model_risk_officer",
                       "--as", "reviewer", "--key", str(root / ".keys" / "reviewer"),
                       "--comment", "baseline reviewed")
    assert approve.returncode == 0, approve.stdout + approve.stderr
    listed = _specops(root, "approvals", "list", "--json")
    assert json.loads(listed.stdout)[0]["state"] == "approved", listed.stdout


def test_columns_name_a_headerless_file(tmp_path: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    """adult.data style: no header, `, ` separated, `?` missing, a text label; `--columns`
    names the columns, and a wrong count is one line."""
    cols = _table()
    src = tmp_path / "adult.data"
    src.write_text("\n".join(", ".join(r) for r in zip(*cols.values(), strict=True))
                   + "\n\n", encoding="utf-8")
    names = "id,Age,income,sex,region,debt,amount,bad"
    code, _, err = _init(capsys, "--from", str(src), "--columns", "id,age", "--label", "bad",
                         "-o", str(tmp_path / "x"))
    assert code == 2 and "2 column names given, but the file has 8 columns" in err
    code, _, err = _init(capsys, "--from", str(src), "--columns", names, "--label", "bad",
                         "--protected", "sex,Age", "-o", str(tmp_path / "p"), "--no-keys")
    assert code == 0, err
    source = _specs(tmp_path / "p")["source:adult"]
    assert source["csv"] == {"header": False, "null_values": ["?"],
                             "columns": ["id", "age", "income", "sex", "region", "debt",
                                         "amount", "bad"]}
    assert source["entity"] == "id"
    _lint_and_compile(tmp_path / "p", capsys)


def test_a_file_inside_the_project_is_used_in_place(tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]
                                                    ) -> None:
    root = tmp_path / "p"
    src = _write(root / "raw" / "CustomerData.csv",
                 {("CustomerID" if k == "client_id" else k): v for k, v in _table(80).items()})
    (root / ".gitignore").write_text("*.pyc\n.specops/\n")
    code, _, err = _init(capsys, "--from", str(src), "--label", "bad", "-o", str(root),
                         "--no-keys")
    assert code == 0, err
    ignored = (root / ".gitignore").read_text().splitlines()
    assert ignored[:2] == ["*.pyc", ".specops/"] and ignored.count(".specops/") == 1
    assert ".keys/" in ignored and "data/" in ignored
    source = _specs(root)["source:customerdata"]
    assert source["path"] == "raw/CustomerData.csv" and not (root / "data").exists()
    assert source["entity"] == "customerid"
    model = _specs(root)["model:bad_model"]
    assert "customerdata.customerid" not in model["training"]["features"]  # type: ignore[index]
    _lint_and_compile(root, capsys)


def test_a_true_false_label_is_declared_as_its_text(tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]
                                                   ) -> None:
    """`in:` lists no booleans, and ONNX classes are the file's spellings: a True/False
    label (e.g. `Churn`) is a string label with the favourable side named by its name."""
    cols = _table()
    cols["churned"] = ["True" if b == "1" else "False" for b in cols.pop("bad")]
    src = _write(tmp_path / "telco.csv", cols)
    assert _init(capsys, "--from", str(src), "--label", "churned", "--protected", "sex",
                 "-o", str(tmp_path / "p"), "--no-keys")[0] == 0
    specs = _specs(tmp_path / "p")
    label = specs["source:telco"]["columns"]["churned"]  # type: ignore[index]
    assert label == {"type": "string", "nullable": False, "in": ["False", "True"]}
    assert specs["model:churned_model"]["fairness"] == {"favorable": "False",
                                                        "threshold": 0.5}
    _lint_and_compile(tmp_path / "p", capsys)


def test_timestamp_makes_a_time_split(tmp_path: Path,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    cols = _table(300)
    cols["applied"] = [f"2024-{1 + i % 12:02d}-{1 + i % 28:02d} 10:00:00" for i in range(300)]
    src = _write(tmp_path / "apps.csv", cols)
    code, _, err = _init(capsys, "--from", str(src), "--label", "bad", "--timestamp",
                         "income", "-o", str(tmp_path / "x"), "--no-keys")
    assert code == 2 and "--timestamp income: float64, not a date or datetime" in err
    assert _init(capsys, "--from", str(src), "--label", "bad", "--timestamp", "applied",
                 "-o", str(tmp_path / "p"), "--no-keys")[0] == 0
    specs = _specs(tmp_path / "p")
    assert specs["source:apps"]["timestamp"] == "applied"
    assert specs["source:apps"]["columns"]["applied"] == {  # type: ignore[index]
        "type": "datetime", "nullable": False}
    assert specs["model:bad_model"]["training"]["split"] == {  # type: ignore[index]
        "by": "time", "test_fraction": 0.2}
    _lint_and_compile(tmp_path / "p", capsys)


def test_file_names_and_values_cannot_inject_comments_or_templates(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = _write(tmp_path / "a\nkind: policy.csv", _table(60))
    assert _init(capsys, "--from", str(src), "--label", "bad", "-o", str(tmp_path / "p"),
                 "--no-keys")[0] == 0
    specs = _specs(tmp_path / "p")
    assert set(specs) == {"source:a_kind_policy", "model:bad_model", "gate:quality",
                          "approval:review"}
    assert specs["source:a_kind_policy"]["path"] == "data/a\nkind: policy.csv"
    assert "a\\nkind: policy.csv" in (tmp_path / "p" / "specops.yaml").read_text()
    templ = _write(tmp_path / "{{ 7 * 7 }}.csv", _table(60))
    code, _, err = _init(capsys, "--from", str(templ), "--label", "bad", "-o",
                         str(tmp_path / "q"))
    assert code == 2 and "rename the file" in err and not (tmp_path / "q").exists()
    cols = _table(60)
    cols["bad"] = ["{{ lipsum }}" if b == "1" else "ok" for b in cols["bad"]]
    code, _, err = _init(capsys, "--from", str(_write(tmp_path / "t.csv", cols)), "--label",
                         "bad", "-o", str(tmp_path / "r"))
    assert code == 2 and "template marker" in err and not (tmp_path / "r").exists()
