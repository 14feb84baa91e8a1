"""load_source on CSV files as they come (the source's `csv:` options).

Each test writes a file in the shape public data sets arrive in (a headerless `, `
separated census extract with `?` and a preamble line, a `;`-separated Latin-1 file with
decimal commas, a tab-separated file without quoting) and checks the typed table, or the
one-line error naming the file, column and values.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import polars as pl
import pytest
from data_helpers import run_op

from specops.runtime.data.load_source import load_source
from specops.runtime.engine.op_interface import OpError

CENSUS = (
    "|1x3 Cross validator\n"                       # preamble line (adult.test has one)
    "25, Private, 226802, 11th, ?, <=50K.\n"
    "38, ?, 89814, HS-grad, 50, >50K.\n"
    "28, Local-gov, 336951, Assoc-acdm, 40, >50K.\n"
    "\n"                                           # trailing blank line
)
CENSUS_COLS = {"age": {"type": "int64", "nullable": False},
               "workclass": {"type": "category"}, "fnlwgt": {"type": "int64"},
               "education": {"type": "string"}, "hours": {"type": "float64"},
               "income": {"type": "string"}}
CENSUS_CSV = {"header": False, "delimiter": ",", "null_values": ["?"], "trim": True,
              "skip_rows": 1,
              "columns": ["age", "workclass", "fnlwgt", "education", "hours", "income"]}


def _load(tmp: Path, name: str, columns: dict[str, Any], csv: dict[str, Any] | None = None,
          fmt: str = "csv") -> pl.DataFrame:
    params: dict[str, Any] = {"path": name, "format": fmt, "columns": columns,
                              "entity": None, "timestamp": None, "created_timestamp": None}
    if csv is not None:
        params["csv"] = csv
    _, out = run_op(load_source, tmp, "source:s", params)
    return pl.read_parquet(out / "data.parquet")


def _error(tmp: Path, name: str, columns: dict[str, Any], csv: dict[str, Any] | None = None
           ) -> str:
    with pytest.raises(OpError) as e:
        _load(tmp, name, columns, csv)
    msg = str(e.value)
    assert "\n" not in msg and "Traceback" not in msg
    return msg


def test_headerless_comma_space_file_with_question_marks_and_preamble(tmp_path: Path) -> None:
    (tmp_path / "adult.test").write_text(CENSUS, encoding="utf-8")
    df = _load(tmp_path, "adult.test", CENSUS_COLS, CENSUS_CSV)
    assert df.height == 3                                   # preamble and blank line gone
    assert df["age"].to_list() == [25, 38, 28] and df.schema["age"] == pl.Int64
    assert df["workclass"].to_list() == ["Private", None, "Local-gov"]   # " ?" is missing
    assert df["hours"].to_list() == [None, 50.0, 40.0]
    assert df["income"].to_list() == ["<=50K.", ">50K.", ">50K."]       # trimmed, not edited


def test_question_marks_without_null_values_name_column_values_and_the_fix(
        tmp_path: Path) -> None:
    (tmp_path / "adult.test").write_text(CENSUS, encoding="utf-8")
    msg = _error(tmp_path, "adult.test", CENSUS_COLS, {**CENSUS_CSV, "null_values": []})
    assert "column hours (float64): 1 value(s)" in msg and "'?'" in msg
    assert "csv.null_values" in msg                          # the hint: they mean missing


def test_without_trim_spaces_stay_and_numbers_still_parse(tmp_path: Path) -> None:
    (tmp_path / "adult.test").write_text(CENSUS, encoding="utf-8")
    df = _load(tmp_path, "adult.test", CENSUS_COLS,
               {**CENSUS_CSV, "trim": False, "null_values": [" ?"]})
    assert df["workclass"].to_list() == [" Private", None, " Local-gov"]
    assert df["fnlwgt"].to_list() == [226802, 89814, 336951]


def test_semicolon_latin1_with_decimal_commas_and_quoted_delimiter(tmp_path: Path) -> None:
    text = ("Name;Stadt;Betrag;Datum\n"
            "José;Köln;1,5;2024-01-02\n"
            "\"Müller; Sohn\";Düsseldorf;-2.000,25;2024-02-03\n"
            "Ørsted;Århus;NA;2024-03-04\n")
    (tmp_path / "kunden.csv").write_bytes(text.replace("-2.000,25", "-2000,25")
                                          .encode("latin-1"))
    cols = {"Name": {"type": "string"}, "Stadt": {"type": "string"},
            "Betrag": {"type": "float64"}, "Datum": {"type": "date"}}
    df = _load(tmp_path, "kunden.csv", cols,
               {"delimiter": ";", "encoding": "iso8859-1", "decimal": ",",
                "null_values": ["NA"]})
    assert df["Name"].to_list() == ["José", "Müller; Sohn", "Ørsted"]
    assert df["Stadt"].to_list() == ["Köln", "Düsseldorf", "Århus"]
    assert df["Betrag"].to_list() == [1.5, -2000.25, None]
    assert df.schema["Datum"] == pl.Date


def test_latin1_read_as_utf8_names_file_line_and_the_option(tmp_path: Path) -> None:
    (tmp_path / "kunden.csv").write_bytes("name;n\nabc;1\nJosé;2\n".encode("latin-1"))
    msg = _error(tmp_path, "kunden.csv", {"name": {"type": "string"}},
                 {"delimiter": ";"})
    assert "kunden.csv" in msg and "not valid utf-8 at line 3" in msg
    assert "csv.encoding" in msg and "latin1" in msg


def test_cp1252_bytes_decode_with_their_codec(tmp_path: Path) -> None:
    (tmp_path / "w.csv").write_bytes("k,v\n€uro,1\n“q”,2\n".encode("cp1252"))
    df = _load(tmp_path, "w.csv", {"k": {"type": "string"}, "v": {"type": "int64"}},
               {"encoding": "cp1252"})
    assert df["k"].to_list() == ["€uro", "“q”"]


def test_preamble_lines_are_raw_even_with_a_stray_quote(tmp_path: Path) -> None:
    (tmp_path / "p.csv").write_text('Exported by "Tool\nrows: 2\n\nid,v\n1,a\n2,b\n')
    df = _load(tmp_path, "p.csv", {"id": {"type": "int64"}, "v": {"type": "string"}},
               {"skip_rows": 3})
    assert df["id"].to_list() == [1, 2] and df["v"].to_list() == ["a", "b"]


def test_header_names_replaced_by_columns(tmp_path: Path) -> None:
    (tmp_path / "g.csv").write_text("Credit amount,Duration in month\n1169,6\n5951,48\n")
    df = _load(tmp_path, "g.csv", {"amount": {"type": "int64"}, "months": {"type": "int32"}},
               {"columns": ["amount", "months"]})
    assert df.columns == ["amount", "months"] and df["months"].to_list() == [6, 48]


def test_header_names_are_trimmed(tmp_path: Path) -> None:
    (tmp_path / "h.csv").write_text("id, score ,label\n1, 0.5 , yes\n")
    df = _load(tmp_path, "h.csv", {"id": {"type": "int64"}, "score": {"type": "float64"},
                                   "label": {"type": "bool"}})
    assert df.row(0) == (1, 0.5, True)


def test_tab_separated_without_quoting(tmp_path: Path) -> None:
    (tmp_path / "t.tsv").write_text('id\tnote\n1\tsays "hi\n2\t5" screen\n')
    df = _load(tmp_path, "t.tsv", {"id": {"type": "int64"}, "note": {"type": "string"}},
               {"delimiter": "\t", "quote": None})
    assert df["note"].to_list() == ['says "hi', '5" screen']


def test_too_few_names_for_a_headerless_file(tmp_path: Path) -> None:
    (tmp_path / "adult.test").write_text(CENSUS, encoding="utf-8")
    msg = _error(tmp_path, "adult.test", {"age": {"type": "int64"}},
                 {**CENSUS_CSV, "columns": ["age", "workclass"]})
    assert "adult.test: has 6 fields in its first row but `csv.columns` names 2" in msg


def test_a_ragged_row_names_the_file(tmp_path: Path) -> None:
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "a.csv").write_text("id,v\n1,2\n")
    (tmp_path / "d" / "b.csv").write_text("id,v\n1,2\n3,4,5,6\n")
    msg = _error(tmp_path, "d/*.csv", {"id": {"type": "int64"}})
    assert "d/b.csv: cannot read as csv" in msg


def test_partitions_with_different_columns_are_refused(tmp_path: Path) -> None:
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "a.csv").write_text("id,v\n1,2\n")
    (tmp_path / "d" / "b.csv").write_text("id,w\n1,2\n")
    msg = _error(tmp_path, "d/*.csv", {"id": {"type": "int64"}})
    assert "d/b.csv: columns id, w differ from d/a.csv's (id, v)" in msg


def test_cast_failure_names_column_and_at_most_five_values(tmp_path: Path) -> None:
    rows = "\n".join(f"{i},v{i}" for i in range(8))
    (tmp_path / "c.csv").write_text("id,n\n" + rows + "\n8,3\n")
    msg = _error(tmp_path, "c.csv", {"id": {"type": "int64"}, "n": {"type": "int64"}})
    assert "column n (int64): 8 value(s) of type String cannot be read as int64" in msg
    assert "'v0', 'v1', 'v2', 'v3', 'v4'" in msg and "'v5'" not in msg
    assert "null_values" not in msg                  # not markers: no misleading hint


def test_defaults_without_a_csv_block(tmp_path: Path) -> None:
    """No `csv:` in the spec: header, comma, double quote, utf-8, trimmed cells."""
    (tmp_path / "a.csv").write_text('id,name\n1,"Smith, J"\n2,\n3, "Doe ""JD"""\n'
                                    '4,"""x"""\n5, \n\n', encoding="utf-8")
    df = _load(tmp_path, "a.csv", {"id": {"type": "int64"}, "name": {"type": "string"}})
    assert df["name"].to_list() == ["Smith, J", None, 'Doe "JD"', '"x"', None]


def test_utf8_byte_order_mark_is_not_part_of_the_first_name(tmp_path: Path) -> None:
    (tmp_path / "bom.csv").write_bytes("\ufeffid,v\n1,x\n".encode())
    df = _load(tmp_path, "bom.csv", {"id": {"type": "int64"}, "v": {"type": "string"}})
    assert df.columns == ["id", "v"] and df["id"].to_list() == [1]


def test_malformed_csv_params_are_one_line(tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_text("id\n1\n")
    msg = _error(tmp_path, "a.csv", {"id": {"type": "int64"}}, {"delimiter": ";;"})
    assert msg.startswith("source:s: params.csv:")


def test_compiled_census_source_reads_end_to_end(tmp_path: Path) -> None:
    """The plan the compiler writes for a `csv:` source is what load_source reads."""
    import shutil

    from specops.compiler.plan.compile import compile_project

    minimal = Path(__file__).resolve().parents[2] / "fixtures" / "projects" / "minimal"
    root = tmp_path / "p"
    shutil.copytree(minimal, root)
    (root / "specs" / "census.yaml").write_text(
        "kind: source\nname: census\npath: data/adult.test\n"
        "csv: {header: false, skip_rows: 1, null_values: ['?'], encoding: latin-1,\n"
        "      columns: [age, workclass, fnlwgt, education, hours, income]}\n"
        "columns:\n  age: {type: int64}\n  workclass: {type: category}\n"
        "  hours: {type: float64}\n  income: {type: string}\n", encoding="utf-8")
    (root / "data").mkdir()
    (root / "data" / "adult.test").write_bytes(CENSUS.replace("Private", "Privé")
                                               .encode("latin-1"))
    result = compile_project(root, base=root)
    assert result.plan is not None, [d.message for d in result.diagnostics]
    node = next(n for n in result.plan.data["nodes"] if n["id"] == "source:census")
    _, out = run_op(load_source, tmp_path, "source:census", node["params"], root=root)
    df = pl.read_parquet(out / "data.parquet")
    assert df.columns == ["age", "workclass", "hours", "income"]
    assert df["workclass"].to_list() == ["Privé", None, "Local-gov"]
    assert df["hours"].to_list() == [None, 50.0, 40.0]


def test_space_separated_german_credit_style(tmp_path: Path) -> None:
    (tmp_path / "german.data").write_text("A11 6 A34 1169 1\nA12 48 A32 5951 2\n")
    cols = {"status": {"type": "category"}, "months": {"type": "int64"},
            "amount": {"type": "float64"}, "risk": {"type": "int64", "in": [1, 2]}}
    df = _load(tmp_path, "german.data", cols,
               {"header": False, "delimiter": " ",
                "columns": ["status", "months", "history", "amount", "risk"]})
    assert df.rows() == [("A11", 6, 1169.0, 1), ("A12", 48, 5951.0, 2)]
