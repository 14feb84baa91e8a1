"""Sniffing a data file for `specops init` (runtime/data/sniff.py): reading options and
column types, on real files written as public data sets come.

Each case is a mistake a naive guess makes: a headerless file whose first row becomes the
header, `-` taken for missing in a text column, a Latin-1 byte deep in the file, a BOM in
the first name, a value in the last row that is not an integer.
"""

from __future__ import annotations

import codecs
from pathlib import Path

import polars as pl
import pytest

from specops.runtime.data.sniff import SniffError, identifier, sniff_table


def _types(path: Path) -> dict[str, str]:
    return {c.name: c.type for c in sniff_table(path).columns}


def test_adult_style_headerless_comma_space_question_marks(tmp_path: Path) -> None:
    f = tmp_path / "adult.data"
    f.write_text("39, State-gov, 77516, ?, >50K\n50, ?, 83311, Husband, <=50K\n"
                 "38, Private, ?, Not-in-family, <=50K\n\n", encoding="utf-8")
    g = sniff_table(f)
    assert g.csv == {"header": False, "null_values": ["?"],
                     "columns": ["column_1", "column_2", "column_3", "column_4",
                                 "column_5"]}
    assert [c.type for c in g.columns] == ["int64", "string", "int64", "string", "string"]
    assert g.rows == 3                                        # the blank line is no row
    assert g.columns[1].nulls == 1 and g.columns[4].values == ("<=50K", ">50K")


def test_all_text_file_with_a_header_is_recognised(tmp_path: Path) -> None:
    f = tmp_path / "t.csv"
    f.write_text("colour,size\nred,big\nblue,small\nred,small\n")
    g = sniff_table(f)
    assert "header" not in g.csv and [c.name for c in g.columns] == ["colour", "size"]
    f.write_text("red,big\nblue,small\nred,small\n")
    assert sniff_table(f).csv["header"] is False


def test_dash_is_missing_only_in_a_number_column(tmp_path: Path) -> None:
    f = tmp_path / "d.csv"
    rows = ["amount,grade"] + [f"{i}.5,A-" for i in range(30)] + ["-,-"]
    f.write_text("\n".join(rows) + "\n")
    g = sniff_table(f)
    assert g.csv["null_values"] == ["-"]
    # `-` as a whole cell is missing everywhere once listed (the reader's rule), but the
    # marker was chosen because of the number column; `A-` stays a value
    assert _types(f) == {"amount": "float64", "grade": "string"}
    assert g.columns[1].values == ("A-",)


def test_latin1_byte_after_the_first_mebibyte(tmp_path: Path) -> None:
    f = tmp_path / "big.csv"
    body = "".join(f"{i};Paris;{i},25\n" for i in range(80_000))
    f.write_bytes(("id;city;amount\n" + body + "80000;Besançon;1,5\n").encode("latin-1"))
    assert f.stat().st_size > 1 << 20
    g = sniff_table(f)
    assert g.csv == {"delimiter": ";", "encoding": "latin1", "decimal": ","}
    assert _types(f) == {"id": "int64", "city": "string", "amount": "float64"}
    assert g.columns[1].values == ("Besançon", "Paris")


def test_utf8_bom_and_names_that_are_not_identifiers(tmp_path: Path) -> None:
    f = tmp_path / "b.csv"
    f.write_bytes(codecs.BOM_UTF8 + b"Credit amount,2nd rate,Credit-amount\n1,2,3\n4,5,6\n")
    g = sniff_table(f)
    assert g.csv["encoding"] == "utf-8-sig"
    assert g.csv["columns"] == ["credit_amount", "c_2nd_rate", "credit_amount_2"]
    assert [c.original for c in g.columns] == ["Credit amount", "2nd rate", "Credit-amount"]
    assert g.column("Credit amount") is g.columns[0] and g.column("3") is g.columns[2]


def test_a_late_non_integer_makes_the_column_float_and_dates_are_dates(tmp_path: Path
                                                                        ) -> None:
    f = tmp_path / "late.csv"
    rows = ["n,day,at,flag"] + [f"{i},2024-01-{1 + i % 28:02d},2024-01-01T10:{i % 60:02d}:00,"
                                f"{'true' if i % 2 else 'false'}" for i in range(5000)]
    rows.append("2.5,2024-02-01,2024-02-01T00:00:00,true")
    f.write_text("\n".join(rows) + "\n")
    assert _types(f) == {"n": "float64", "day": "date", "at": "datetime", "flag": "bool"}


def test_preamble_lines_are_skipped(tmp_path: Path) -> None:
    f = tmp_path / "p.tsv"
    f.write_text("|1x3 Cross validator\n" + "a\tb\n" + "".join(f"{i}\tx{i}\n" for i in range(9)))
    g = sniff_table(f)
    assert g.csv == {"delimiter": "\t", "skip_rows": 1}
    assert [c.name for c in g.columns] == ["a", "b"] and g.rows == 9


def test_parquet_keeps_its_types(tmp_path: Path) -> None:
    f = tmp_path / "x.parquet"
    pl.DataFrame({"id": [1, 2, 3], "score": [0.5, None, 1.5], "ok": [True, False, True],
                  "kind": ["a", "b", "a"]}).write_parquet(f)
    g = sniff_table(f)
    assert g.format == "parquet" and g.csv == {}
    assert [(c.name, c.type, c.nulls) for c in g.columns] == [
        ("id", "int64", 0), ("score", "float64", 1), ("ok", "bool", 0), ("kind", "string", 0)]
    assert g.columns[0].unique and g.columns[1].median == 1.0


@pytest.mark.parametrize(("content", "why"), [
    (b"", "empty"), (b"PAR1\x00\x00\x15\x04binary", "NUL bytes"),
    (b"justone\nanother\nthird\n", "delimiter")])
def test_what_is_not_a_table_is_one_line(tmp_path: Path, content: bytes, why: str) -> None:
    f = tmp_path / "bad.csv"
    f.write_bytes(content)
    with pytest.raises(SniffError, match=why) as exc:
        sniff_table(f)
    assert "\n" not in str(exc.value)


def test_identifier() -> None:
    assert identifier(" Hours-per-week ") == "hours_per_week"
    assert identifier("2024") == "c_2024" and identifier("%%") == "column"
