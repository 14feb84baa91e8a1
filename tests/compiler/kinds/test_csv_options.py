"""The `csv:` block of a source: strict options, located messages, carried by the plan.

The broken-fixture corpus (tests/fixtures/broken/csv_options_bad) pins where each bad
option is reported; here the messages say what to do, good options reach the load_source
params, and a source without the block compiles exactly as before the block existed.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from specops.compiler.kinds import SourceSpec
from specops.compiler.kinds.source_kind import CsvOptions, canonical_encoding
from specops.compiler.passes.lint import lint_paths
from specops.compiler.plan.compile import compile_project
from specops.contract.op_params import CsvParams

REPO = Path(__file__).resolve().parents[3]
MINIMAL = REPO / "tests" / "fixtures" / "projects" / "minimal"

GOOD = """\
kind: source
name: census
path: data/adult.data
csv:
  header: false
  columns: [age, workclass, income]
  null_values: ["?"]
  skip_rows: 1
  encoding: latin-1
columns:
  age: {type: int64}
  income: {type: string, in: [">50K", "<=50K"]}
---
kind: source
name: german
path: data/german.txt
csv: {delimiter: "\\t", quote: null, encoding: cp1252, decimal: ","}
columns:
  amount: {type: float64}
"""


def _project(tmp_path: Path, extra: str) -> Path:
    root = tmp_path / "p"
    shutil.copytree(MINIMAL, root)
    (root / "specs" / "csv_sources.yaml").write_text(extra, encoding="utf-8")
    return root


def _plan(root: Path) -> dict[str, Any]:
    result = compile_project(root, base=root)
    assert result.plan is not None, [f"{d.location()} {d.code} {d.message}"
                                     for d in result.diagnostics]
    return result.plan.data


def _node(plan: dict[str, Any], node_id: str) -> dict[str, Any]:
    return next(n for n in plan["nodes"] if n["id"] == node_id)


def _messages(tmp_path: Path, spec: str) -> list[str]:
    root = _project(tmp_path, spec)
    result = lint_paths([root], base=root)
    return [f"{d.span.line}:{d.span.col} {d.code} {d.message} {d.help or ''}"
            for d in result.diagnostics if d.file == "specs/csv_sources.yaml"]


def test_good_options_reach_the_plan(tmp_path: Path) -> None:
    plan = _plan(_project(tmp_path, GOOD))
    census = _node(plan, "source:census")["params"]
    assert census["format"] == "csv"                        # a csv block means csv
    assert census["csv"] == {
        "columns": ["age", "workclass", "income"], "header": False, "delimiter": ",",
        "quote": '"', "null_values": ["?"], "trim": True, "encoding": "iso8859-1",
        "skip_rows": 1, "decimal": "."}
    german = _node(plan, "source:german")["params"]["csv"]
    assert (german["delimiter"], german["quote"], german["encoding"], german["decimal"]) == \
        ("\t", None, "cp1252", ",")
    CsvParams.model_validate(census["csv"])                 # the runtime's record reads it


def test_a_source_without_the_block_compiles_as_before(tmp_path: Path) -> None:
    before = _plan(MINIMAL)
    after = _plan(_project(tmp_path, GOOD))
    old, new = _node(before, "source:loans"), _node(after, "source:loans")
    assert "csv" not in new["params"] and new == old        # same params, same fingerprint
    spec = SourceSpec.model_validate({"kind": "source", "name": "s", "path": "a.csv",
                                      "columns": {}})
    assert "csv" not in spec.model_dump(mode="json")        # spec hashes unchanged too


def test_encoding_spellings_are_one_option(tmp_path: Path) -> None:
    a = _plan(_project(tmp_path / "a", GOOD))
    b = _plan(_project(tmp_path / "b", GOOD.replace("latin-1", "ISO-8859-1")))
    assert _node(a, "source:census")["fingerprint"] == _node(b, "source:census")["fingerprint"]
    assert canonical_encoding("utf8") == "utf-8" and canonical_encoding("base64") is None


def test_changing_an_option_changes_the_fingerprint(tmp_path: Path) -> None:
    a = _plan(_project(tmp_path / "a", GOOD))
    b = _plan(_project(tmp_path / "b", GOOD.replace('null_values: ["?"]',
                                                    'null_values: ["?", "NA"]')))
    assert _node(a, "source:census")["fingerprint"] != _node(b, "source:census")["fingerprint"]


def test_spec_defaults_are_the_runtime_defaults() -> None:
    """A source without `csv:` is read with CsvParams(); one with `csv: {}` must read the
    same, so the two sets of defaults are one."""
    spec = CsvOptions().model_dump(mode="json")
    assert spec == {**CsvParams().model_dump(mode="json"), "null_values": [],
                    "columns": None}
    assert spec["encoding"] == CsvParams().encoding == "utf-8"


@pytest.mark.parametrize(("option", "where", "expected"), [
    ('{header: false}', "5:15", "a file without a header needs `columns`"),
    ('{delimiter: ", "}', "5:18", "for `, ` use `,` with `trim: true`"),
    ('{encoding: klingon}', "5:17", "unknown encoding; use a Python codec name"),
    ('{decimal: ","}', "5:16", "the decimal mark cannot be the delimiter"),
    ('{quote: "|", delimiter: "|"}', "5:14", "the quote cannot be the delimiter"),
    ('{columns: [a, b, a]}', "5:16", "column name(s) a repeated"),
    ('{null_values: "?"}', "5:20", "expected a list"),
    ('{delimeter: ";"}', "5:7", "did you mean `delimiter`?"),
])
def test_bad_option_message(tmp_path: Path, option: str, where: str, expected: str) -> None:
    spec = f"kind: source\nname: s\npath: d.csv\ncolumns: {{a: {{type: int64}}}}\ncsv: {option}\n"
    messages = _messages(tmp_path, spec)
    assert len(messages) == 1, messages
    assert messages[0].startswith(where) and expected in messages[0], messages


def test_declared_columns_must_be_named_by_a_headerless_file(tmp_path: Path) -> None:
    spec = ("kind: source\nname: s\npath: d.csv\ncsv: {header: false, columns: [a, b]}\n"
            "columns: {a: {type: int64}, c: {type: string}}\n")
    [message] = _messages(tmp_path, spec)
    assert "declared column(s) c not among `csv.columns` (a, b)" in message


def test_csv_options_on_a_parquet_source(tmp_path: Path) -> None:
    spec = ("kind: source\nname: s\npath: d.parquet\nformat: parquet\ncsv: {trim: false}\n"
            "columns: {a: {type: int64}}\n")
    [message] = _messages(tmp_path, spec)
    assert message.startswith("5:6 SPEC204") and "format: parquet" in message
