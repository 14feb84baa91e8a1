"""Guess how to read a data file and what its columns are, for `specops init --from FILE`.

Why guess at all: a new user has a file, not a spec. Writing the `csv:` block and the
column types by hand is where the first hour goes (a `;` file read as one column, `?` in
a numeric column, a Latin-1 byte, a headerless file whose first row became the header).

Why the guess is checked with the runtime's own reader: the dialect is sniffed from the
first MiB with Python's csv module, but the column types are decided by reading the
*whole* file with `csv_reader` (the code `load_source` runs) and casting with
`load_source.cast_column` (the cast `load_source` applies). A column is typed `int64`
only when every non-missing cell converts, so the project init writes loads without a
type error, and a value that only appears in row 90,000 is seen.

Only the given file is read (opened by its path, no glob, no neighbouring files).
"""

from __future__ import annotations

import codecs
import csv
import io
import re
from collections import Counter
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import polars as pl

from specops.contract.op_params import CsvParams
from specops.runtime.data.load_source import cast_column

__all__ = ["ColumnGuess", "SniffError", "TableGuess", "identifier", "sniff_table"]

_HEAD_BYTES = 1 << 20
_CHUNK = 8 << 20
_DELIMITERS = (",", ";", "\t", "|")
# Cells that mean "missing" wherever they appear, and two that do only in number columns.
_STRONG_NULLS = ("?", "NA", "N/A", "n/a", "na", "NaN", "nan", "NULL", "null", "None",
                 "#N/A", "missing")
_WEAK_NULLS = ("-", ".")
_NUMBER = re.compile(r"^[+-]?(\d+([.,]\d*)?|[.,]\d+)([eE][+-]?\d+)?$")
_MAX_PREAMBLE = 5
_FEW = 20          # distinct values listed in a guess (labels, categories)


class SniffError(ValueError):
    """The file cannot be read as a table; the message is one line for the user."""


@dataclass(frozen=True)
class ColumnGuess:
    """One column: its spec name (an identifier), its name in the file, type and counts."""

    name: str
    original: str
    type: str                   # a ColumnType of the spec language
    rows: int
    nulls: int
    distinct: int
    values: tuple[Any, ...] | None = None   # sorted distinct values when at most _FEW
    median: float | None = None             # numbers only
    texts: tuple[str, ...] | None = None    # a csv's distinct cell texts when at most _FEW

    @property
    def unique(self) -> bool:
        return self.nulls == 0 and self.distinct == self.rows and self.rows > 0

    @property
    def numeric(self) -> bool:
        return self.type in ("int64", "float64")


@dataclass(frozen=True)
class TableGuess:
    """How to read the file (`csv`: the non-default options of a source's `csv:` block,
    empty for parquet) and its columns, in file order."""

    path: Path
    format: str
    rows: int
    columns: list[ColumnGuess]
    csv: dict[str, Any] = field(default_factory=dict)

    def column(self, ref: str) -> ColumnGuess | None:
        """A column by spec name, name in the file, or 1-based position (`3`)."""
        for c in self.columns:
            if ref in (c.name, c.original):
                return c
        if ref.isdigit() and 1 <= int(ref) <= len(self.columns):
            return self.columns[int(ref) - 1]
        low = identifier(ref)
        return next((c for c in self.columns if c.name == low), None)


def identifier(text: str) -> str:
    """A spec name for a header cell: `Credit amount` -> `credit_amount`, `2nd` -> `c_2nd`."""
    out = re.sub(r"[^0-9A-Za-z_]+", "_", text.strip()).strip("_").lower()
    if not out:
        return "column"
    return f"c_{out}" if out[0].isdigit() else out


def _distinct_names(names: list[str]) -> list[str]:
    seen: Counter[str] = Counter()
    out = []
    for n in names:
        seen[n] += 1
        out.append(n if seen[n] == 1 else f"{n}_{seen[n]}")
    while len(set(out)) != len(out):      # `a_2` was also a real name
        out = [n if out.count(n) == 1 or i == out.index(n) else f"{n}_x"
               for i, n in enumerate(out)]
    return out


def _encoding(path: Path, head: bytes) -> str:
    """utf-8 (the whole file decodes), utf-8-sig / utf-16 (a BOM), else latin-1."""
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        with path.open("rb") as f:
            while chunk := f.read(_CHUNK):
                decoder.decode(chunk)
            decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return "latin1"
    return "utf-8"


def _head_lines(path: Path, encoding: str) -> list[str]:
    with path.open("rb") as f:
        head = f.read(_HEAD_BYTES)
        truncated = bool(f.read(1))
    text = codecs.getincrementaldecoder(encoding)(errors="replace").decode(head)
    lines = text.splitlines()
    if truncated and lines:
        lines.pop()                     # the last line may be cut in the middle
    return [ln for ln in lines if ln.strip()]


def _rows(lines: list[str], delimiter: str) -> list[list[str]]:
    return [[c.strip() for c in r]
            for r in csv.reader(io.StringIO("\n".join(lines)), delimiter=delimiter)]


def _consistency(lines: list[str], d: str) -> tuple[float, int]:
    """(share of lines with the most common field count, that count), preamble aside."""
    counts = [len(r) for r in _rows(lines, d)]
    body = counts[_MAX_PREAMBLE:] or counts
    mode, n = Counter(body).most_common(1)[0]
    return n / len(body), mode


def _dialect(lines: list[str]) -> tuple[str, int]:
    """(delimiter, preamble lines): the delimiter giving the most lines with one field
    count above 1; preamble lines are leading lines with another count. A single space
    (German credit style) is tried last, and only when no other delimiter splits at
    least 90% of the lines alike: text cells hold spaces in every other kind of file."""
    best: tuple[float, int, str] | None = None
    for d in _DELIMITERS:
        share, fields = _consistency(lines, d)
        if fields >= 2 and (best is None or (share, fields) > best[:2]):
            best = (share, fields, d)
    if best is None or best[0] < 0.9:
        share, fields = _consistency(lines, " ")
        if fields >= 2 and share >= 0.9 and (best is None or share > best[0]):
            best = (share, fields, " ")
    if best is None:
        raise SniffError("cannot find a delimiter (tried , ; tab | space): is it a table "
                         "of at least two columns?")
    delimiter, fields = best[2], best[1]
    counts = [len(r) for r in _rows(lines, delimiter)]
    skip = 0
    while skip < min(_MAX_PREAMBLE, len(counts) - 1) and counts[skip] != fields:
        skip += 1
    return delimiter, skip


def _is_number(cell: str) -> bool:
    return bool(_NUMBER.match(cell))


def _null_markers(body: list[list[str]], width: int) -> list[str]:
    cells = Counter(c for r in body for c in r)
    markers = [m for m in _STRONG_NULLS if cells[m]]
    for m in _WEAK_NULLS:
        for i in range(width):
            col = [r[i] for r in body if i < len(r) and r[i] not in ("", *markers)]
            if m in col and sum(map(_is_number, col)) >= 0.9 * (len(col) - col.count(m)) > 0:
                markers.append(m)
                break
    return markers


def _has_header(first: list[str], body: list[list[str]], nulls: list[str]) -> bool:
    """A header when a column that is numeric below starts with a word, or (all-text
    files) when no first-row cell recurs in its column and all are distinct names."""
    if not body:
        return True
    for i, cell in enumerate(first):
        col = [r[i] for r in body if i < len(r) and r[i] not in ("", *nulls)]
        if col and all(map(_is_number, col)):
            if cell not in nulls and cell and not _is_number(cell):
                return True
            if _is_number(cell):
                return False
    if any(_is_number(c) or not c for c in first) or len(set(first)) != len(first):
        return False
    return all(cell not in {r[i] for r in body if i < len(r)} for i, cell in enumerate(first))


def _csv_options(path: Path) -> tuple[dict[str, Any], list[str]]:
    """The non-default `csv:` options and the column names in the file."""
    with path.open("rb") as f:
        head = f.read(_HEAD_BYTES)
    if not head.strip():
        raise SniffError("the file is empty")
    if b"\x00" in head and not head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise SniffError("the file holds NUL bytes: not a text table (a parquet file "
                         "needs the .parquet extension)")
    encoding = _encoding(path, head)
    lines = _head_lines(path, encoding)
    delimiter, skip = _dialect(lines)
    rows = _rows(lines[skip:], delimiter)
    first, body = rows[0], rows[1:]
    nulls = _null_markers(body, len(first))
    header = _has_header(first, body, nulls)
    names = first if header else [f"column_{i + 1}" for i in range(len(first))]
    opts: dict[str, Any] = {}
    if not header:
        opts["header"] = False
    if delimiter != ",":
        opts["delimiter"] = delimiter
    if nulls:
        opts["null_values"] = nulls
    if encoding != "utf-8":
        opts["encoding"] = encoding
    if skip:
        opts["skip_rows"] = skip
    return opts, names


def _text_frame(path: Path, opts: dict[str, Any], names: list[str]) -> pl.DataFrame:
    from specops.runtime.data.csv_reader import scan_csv_files
    from specops.runtime.engine.op_interface import OpError

    params = CsvParams(**{k: tuple(v) if isinstance(v, list) else v
                          for k, v in opts.items()},
                       columns=tuple(names))
    try:
        scan = scan_csv_files([path], params, lambda p: p.name)
        return scan.collect(list(names))
    except OpError as e:
        raise SniffError(str(e)) from None


def _type_of(frame: pl.DataFrame, name: str, comma_ok: bool) -> tuple[str, bool]:
    """(the narrowest spec type every non-missing cell converts to, needs `,` decimals)."""
    s = frame.get_column(name)
    present = s.len() - s.null_count()
    if present == 0:
        return "string", False
    low = s.drop_nulls().str.to_lowercase().unique()
    if set(low.to_list()) <= {"true", "false"}:
        return "bool", False
    for typ, comma in (("int64", False), ("float64", False), ("float64", True),
                       ("datetime", False)):
        if comma and not comma_ok:
            continue
        try:
            cast = frame.select(cast_column(name, pl.String(), typ, comma_decimals=comma))
        except pl.exceptions.PolarsError:
            continue
        if cast.to_series().null_count() == s.null_count():
            if typ == "datetime" and _all_midnight(cast.to_series()):
                return "date", False
            return typ, comma
    return "string", False


def _all_midnight(s: pl.Series) -> bool:
    d = s.drop_nulls()
    return bool(d.len()) and bool((d.dt.hour() + d.dt.minute() + d.dt.second() == 0).all())


def _guess_column(frame: pl.DataFrame, name: str, original: str, typ: str) -> ColumnGuess:
    s = frame.get_column(name)
    distinct = s.drop_nulls().n_unique()
    values = None
    if distinct <= _FEW:
        raw = s.drop_nulls().unique().to_list()
        values = tuple(sorted(raw, key=lambda v: (str(type(v)), v)))
    median = None
    if typ in ("int64", "float64") and s.len() > s.null_count():
        m = s.cast(pl.Float64).median()
        median = float(m) if isinstance(m, (int, float)) else None
    return ColumnGuess(name, original, typ, s.len(), s.null_count(), distinct, values, median)


def _texts(frame: pl.DataFrame, name: str) -> tuple[str, ...] | None:
    s = frame.get_column(name).drop_nulls().unique()
    return tuple(sorted(s.to_list())) if s.len() <= _FEW else None


def _typed(frame: pl.DataFrame, types: dict[str, str], comma: bool) -> pl.DataFrame:
    return frame.select(cast_column(n, frame.schema[n], t, comma_decimals=comma).alias(n)
                        for n, t in types.items())


_PARQUET_TYPES = {"Int8": "int64", "Int16": "int64", "Int32": "int64", "Int64": "int64",
                  "UInt8": "int64", "UInt16": "int64", "UInt32": "int64", "Float32": "float64",
                  "Float64": "float64", "Boolean": "bool", "String": "string",
                  "Categorical": "category", "Enum": "category", "Date": "date"}


def _parquet(path: Path) -> TableGuess:
    try:
        frame = pl.read_parquet(path)
    except (pl.exceptions.PolarsError, OSError) as e:
        raise SniffError(f"cannot read as parquet: {str(e).strip().splitlines()[0]}") from None
    names = _distinct_names([identifier(n) for n in frame.columns])
    cols = []
    for original, name in zip(frame.columns, names, strict=True):
        dtype = frame.schema[original]
        typ = "datetime" if isinstance(dtype, pl.Datetime) else \
            _PARQUET_TYPES.get(type(dtype).__name__)
        if typ is None:
            raise SniffError(f"column {original}: type {dtype} is not a spec column type")
        if original != name:
            raise SniffError(f"column {original!r} is not an identifier; rename it in the "
                             "file (parquet sources are read by their own column names)")
        cols.append(_guess_column(frame, original, original, typ))
    return TableGuess(path, "parquet", frame.height, cols)


def sniff_table(path: Path, names_given: list[str] | None = None) -> TableGuess:
    """Read `path` (csv-like text, or parquet by its extension) and guess its reading
    options and column types; `names_given` names the columns of a csv (a headerless
    file's, or to replace its header's). `SniffError` (one line) when it is not a table."""
    if path.suffix.lower() in (".parquet", ".pq"):
        if names_given:
            raise SniffError("column names apply to csv files; a parquet file has its own")
        return _parquet(path)
    opts, in_file = _csv_options(path)
    if names_given is not None:
        if len(names_given) != len(in_file):
            raise SniffError(f"{len(names_given)} column names given, but the file has "
                             f"{len(in_file)} columns")
        in_file = list(names_given)
    names = _distinct_names([identifier(n) for n in in_file])
    frame = _text_frame(path, opts, names)
    if frame.height == 0:
        raise SniffError("the file has a header but no rows")
    types: dict[str, str] = {}
    comma = False
    for n in names:
        types[n], needs_comma = _type_of(frame, n, opts.get("delimiter", ",") != ",")
        comma = comma or needs_comma
    if comma:
        opts["decimal"] = ","
    if names_given is not None or opts.get("header") is False or \
            names != [n.strip() for n in in_file]:
        opts["columns"] = names
    typed = _typed(frame, types, comma)
    cols = [replace(_guess_column(typed, n, o, types[n]), texts=_texts(frame, n))
            for n, o in zip(names, in_file, strict=True)]
    return TableGuess(path, "csv", frame.height, cols, opts)
