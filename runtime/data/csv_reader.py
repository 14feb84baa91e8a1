"""Reading CSV files as they come: the `csv:` options of a source, applied with polars.

Why this is more than `pl.scan_csv`: public data sets are headerless (`columns` names
them), separated by `, ` (a one-character delimiter plus `trim`), mark missing values with
`?` (null markers compared after trimming, so ` ?` is missing too), start with preamble
lines (`skip_rows`, skipped as raw lines, so a stray quote in them cannot swallow the
file), end with a blank line, or are Latin-1 (decoded by Python's codec, then read by
polars as UTF-8, because polars itself reads only UTF-8).

Every cell stays text here; `load_source` casts to the declared types and names the column
and values that do not convert. Every problem is an OpError in one line naming the file.
"""

from __future__ import annotations

import mmap
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from specops.contract.op_params import CsvParams
from specops.runtime.engine.op_interface import OpError

__all__ = ["CsvScan", "decimal_comma", "scan_csv_files"]

_UTF8 = "utf-8"


def _one_line(e: BaseException) -> str:
    text = str(e).strip()
    return text.splitlines()[0] if text else type(e).__name__


def _decode_problem(data: bytes, encoding: str, e: UnicodeDecodeError) -> str:
    line = data.count(b"\n", 0, e.start) + 1
    bad = data[e.start:e.start + 4].hex(" ")
    hint = ("; Latin-1 or Windows files: set `csv.encoding` (latin1, cp1252)"
            if encoding == _UTF8 else "")
    return f"not valid {encoding} at line {line} (bytes {bad}){hint}"


def _source(path: Path, opts: CsvParams) -> Path | bytes:
    """What polars reads: the file itself when it is UTF-8, else its text re-encoded."""
    if opts.encoding == _UTF8:
        return path
    data = path.read_bytes()
    try:
        text = data.decode(opts.encoding)
    except UnicodeDecodeError as e:
        raise OpError(_decode_problem(data, opts.encoding, e)) from None
    return text.encode(_UTF8)


def _utf8_problem(path: Path) -> str | None:
    """Why polars refused a file as UTF-8, in the user's terms (line and bytes)."""
    data = path.read_bytes()
    try:
        data.decode(_UTF8)
    except UnicodeDecodeError as e:
        return _decode_problem(data, _UTF8, e)
    return None


def _spaced_quotes(source: Path | bytes, opts: CsvParams) -> bool:
    """Whether the text has whitespace then the quote anywhere (`a, "b"`). Only then does
    `_trimmed` unquote, which costs several times the trim itself. A plain byte search
    (memory-mapped for a file, ~10 ms for 16 MB; a regex took a second): it may also match
    inside a quoted cell, which only costs the slower, still exact, path."""
    if opts.quote is None:
        return False
    needles = [(w + opts.quote).encode() for w in (" ", "\t")]
    if isinstance(source, bytes):
        return any(n in source for n in needles)
    if source.stat().st_size == 0:
        return False
    with source.open("rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as m:
        return any(m.find(n) >= 0 for n in needles)


def _trimmed(name: str, quote: str | None) -> pl.Expr:
    """Cell text without surrounding whitespace.

    A cell written `, "x"` (a space before the quote) is not quoted for a CSV parser, so
    it arrives as ` "x"`: unquote it, as Python's csv module does with `skipinitialspace`.
    Only such cells: a properly quoted cell whose text is `"x"` arrives without the
    leading space and is left alone.
    """
    col = pl.col(name)
    stripped = col.str.strip_chars()
    if quote is None:
        return stripped.alias(name)
    spaced = (col.str.starts_with(" ") | col.str.starts_with("\t")) & \
        stripped.str.starts_with(quote) & stripped.str.ends_with(quote) & \
        (stripped.str.len_chars() >= 2)
    inner = stripped.str.slice(1, stripped.str.len_chars() - 2)
    return (pl.when(spaced).then(inner.str.replace_all(quote * 2, quote, literal=True))
            .otherwise(stripped).alias(name))


def _scan_one(path: Path, opts: CsvParams) -> pl.LazyFrame:
    source = _source(path, opts)
    lf = pl.scan_csv(source, has_header=opts.header, separator=opts.delimiter,
                     quote_char=opts.quote, skip_lines=opts.skip_rows, infer_schema=False,
                     raise_if_empty=False)
    names = lf.collect_schema().names()
    if opts.columns is not None:
        if len(opts.columns) != len(names):
            what = "header names" if opts.header else "fields in its first row"
            raise OpError(f"has {len(names)} {what} but `csv.columns` names "
                          f"{len(opts.columns)} ({', '.join(opts.columns)})")
        new = list(opts.columns)
    elif opts.trim:
        new = [n.strip() for n in names]
        dup = sorted({n for n in new if new.count(n) > 1})
        if dup:
            raise OpError(f"header names {', '.join(dup)} appear more than once after "
                          "trimming")
    else:
        new = names
    lf = lf.rename(dict(zip(names, new, strict=True)))
    if opts.trim:
        quote = opts.quote if _spaced_quotes(source, opts) else None
        lf = lf.select(_trimmed(n, quote) for n in new)
    # A blank line (often the last one) reads as a row of empty cells: not a row.
    lf = lf.filter(~pl.all_horizontal(pl.col(new).is_null() | (pl.col(new) == "")))
    markers = ["", *opts.null_values]
    return lf.select(pl.when(pl.col(n).is_in(markers)).then(None).otherwise(pl.col(n))
                     .alias(n) for n in new)


def _problem(path: Path, opts: CsvParams, e: Exception, shown: Callable[[Path], str]
             ) -> OpError:
    if isinstance(e, OpError):
        return OpError(f"{shown(path)}: {e}")
    if isinstance(e, OSError):
        return OpError(f"{shown(path)}: cannot read: {_one_line(e)}")
    why = _utf8_problem(path) if opts.encoding == _UTF8 else None
    return OpError(f"{shown(path)}: cannot read as csv: {why or _one_line(e)}")


@dataclass(frozen=True)
class CsvScan:
    """The files of a csv source, scanned lazily: column names now, rows on `collect`."""

    parts: list[tuple[Path, pl.LazyFrame]]
    names: list[str]
    opts: CsvParams
    shown: Callable[[Path], str]

    def collect(self, wanted: list[str]) -> pl.DataFrame:
        """The `wanted` columns of every file, one table. Polars parses rows only here, so
        a bad row (too many fields, a stray byte) is found here; it is then traced to its
        file by collecting each file alone (only on that failure path)."""
        try:
            return pl.concat([lf.select(wanted) for _, lf in self.parts],
                             how="vertical").collect()
        except (pl.exceptions.PolarsError, OSError) as first:
            for path, lf in self.parts:
                try:
                    lf.select(wanted).collect()
                except (pl.exceptions.PolarsError, OSError) as e:
                    raise _problem(path, self.opts, e, self.shown) from None
            raise OpError(f"cannot read as csv: {_one_line(first)}") from None


def scan_csv_files(files: list[Path], opts: CsvParams, shown: Callable[[Path], str]
                   ) -> CsvScan:
    """All `files` as one lazy table of text columns (the same columns in every file).

    `shown` turns a path into how errors name it (relative to the project)."""
    parts: list[tuple[Path, pl.LazyFrame]] = []
    first: list[str] | None = None
    for path in files:
        try:
            lf = _scan_one(path, opts)
            names = lf.collect_schema().names()
        except (OpError, pl.exceptions.PolarsError, OSError) as e:
            raise _problem(path, opts, e, shown) from None
        if first is None:
            first = names
        elif names != first:
            raise OpError(f"{shown(path)}: columns {', '.join(names)} differ from "
                          f"{shown(files[0])}'s ({', '.join(first)})")
        parts.append((path, lf))
    return CsvScan(parts, first or [], opts, shown)


def decimal_comma(name: str) -> pl.Expr:
    """Column `name` (text) with `,` decimals written as `.` (1,5 -> 1.5)."""
    return pl.col(name).str.replace(",", ".", literal=True)
