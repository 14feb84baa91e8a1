"""`source`: a table on disk with declared columns and data checks.

Why a `csv:` block checked here rather than at run time: public CSVs come headerless,
`;`-separated, Latin-1, with `?` for missing values and preamble lines. A wrong reading
option is a spec mistake, so lint reports it at the option's line (a delimiter of two
characters, an encoding Python does not know, a headerless file with no column names, a
declared column the file will not have) before any data is read.
"""

from __future__ import annotations

import codecs
from typing import Literal

from pydantic import Field, ValidationInfo, field_validator
from pydantic.config import JsonDict
from pydantic_core import PydanticCustomError

from specops.compiler.kinds.common import ColumnType, Name, Principal, SpecModel

__all__ = ["Column", "CsvOptions", "SourceChecks", "SourceSpec", "canonical_encoding"]

_ONE_CHAR: JsonDict = {"minLength": 1, "maxLength": 1}
_ENCODING_EXAMPLES = "utf8, latin1, cp1252, iso8859_15, utf16"


def canonical_encoding(name: str) -> str | None:
    """Python's canonical name of a text encoding (`latin-1` -> `iso8859-1`), or None when
    Python knows no such text codec (`rot13` and `base64` are codecs, not encodings)."""
    try:
        info = codecs.lookup(name)
    except LookupError:
        return None
    return info.name if getattr(info, "_is_text_encoding", True) else None


def _bad(message: str) -> PydanticCustomError:
    return PydanticCustomError("csv_option", message)


class CsvOptions(SpecModel):
    """How to read a CSV as it comes. The defaults read a plain RFC 4180 file with a header.

    Field order matters: `header` is validated after `columns`, so it can say that a
    headerless file needs column names (pydantic validates fields in declaration order).
    """

    columns: list[Name] | None = Field(
        None, description="the file's column names, in order: required with `header: false`, "
                          "and with `header: true` they replace the header's names")
    header: bool = Field(True, description="whether the first row (after `skip_rows`) "
                                           "holds column names")
    delimiter: str = Field(",", description="one character; `\\t` for tab-separated files",
                           json_schema_extra=_ONE_CHAR)
    quote: str | None = Field('"', description="one character, or null for no quoting",
                              json_schema_extra=_ONE_CHAR)
    null_values: list[str] = Field(
        default_factory=list,
        description="cell values that mean missing, compared after trimming (e.g. `?`, "
                    "`NA`); empty cells are always missing")
    trim: bool = Field(True, description="strip spaces and tabs around every cell and "
                                         "header name (`a, b` reads as `a` and `b`)")
    encoding: str = Field("utf-8", description=f"a Python codec name: {_ENCODING_EXAMPLES}, "
                                               "...", examples=["utf8", "latin1", "cp1252"])
    skip_rows: int = Field(0, ge=0, description="lines to skip before the header (or the "
                                                "first row): a preamble, read as raw lines")
    decimal: Literal[".", ","] = Field(".", description="the decimal mark of float columns")

    @field_validator("columns")
    @classmethod
    def _distinct(cls, v: list[str] | None) -> list[str] | None:
        if v is not None:
            if not v:
                raise _bad("the file must have at least one column")
            dup = sorted({c for c in v if v.count(c) > 1})
            if dup:
                raise _bad(f"column name(s) {', '.join(dup)} repeated")
        return v

    @field_validator("header")
    @classmethod
    def _names_without_header(cls, v: bool, info: ValidationInfo) -> bool:
        # `columns` is absent from info.data when it failed: that error says enough.
        if not v and "columns" in info.data and info.data["columns"] is None:
            raise _bad("a file without a header needs `columns` (its column names, in "
                       "order)")
        return v

    @field_validator("delimiter")
    @classmethod
    def _one_delimiter(cls, v: str) -> str:
        if len(v) != 1:
            hint = (f"; for `{v}` use `{v.strip()}` with `trim: true`"
                    if len(v.strip()) == 1 else "")
            raise _bad(f"a delimiter is one character{hint}")
        if v in "\r\n":
            raise _bad("a delimiter cannot be a line break")
        return v

    @field_validator("quote")
    @classmethod
    def _one_quote(cls, v: str | None, info: ValidationInfo) -> str | None:
        if v is None:
            return v
        if len(v) != 1 or v in "\r\n":
            raise _bad("a quote is one character other than a line break (null: none)")
        if v == info.data.get("delimiter"):
            raise _bad("the quote cannot be the delimiter")
        return v

    @field_validator("null_values")
    @classmethod
    def _markers(cls, v: list[str]) -> list[str]:
        if any("\n" in m or "\r" in m for m in v):
            raise _bad("a null marker is one cell's text (no line break)")
        return v

    @field_validator("encoding")
    @classmethod
    def _known_encoding(cls, v: str) -> str:
        canonical = canonical_encoding(v)
        if canonical is None:
            raise _bad(f"unknown encoding; use a Python codec name such as "
                       f"{_ENCODING_EXAMPLES}")
        return canonical

    @field_validator("decimal")
    @classmethod
    def _decimal_not_delimiter(cls, v: str, info: ValidationInfo) -> str:
        if v == info.data.get("delimiter"):
            raise _bad("the decimal mark cannot be the delimiter (`;`-separated files "
                       "use `,` decimals)")
        return v


_NUMERIC_TYPES = {"int64", "int32", "float64", "float32"}


def _fits(value: str | int | float, ctype: str) -> bool:
    """Whether an `in:` value can be a value of a column of this type."""
    if ctype in ("int64", "int32"):
        return isinstance(value, int) and not isinstance(value, bool)
    if ctype in ("float64", "float32"):
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if ctype in ("string", "category"):
        return isinstance(value, str)
    return ctype not in ("bool", "date", "datetime")   # listed values make no sense there


class Column(SpecModel):
    type: ColumnType
    nullable: bool = True
    unique: bool = False
    min: float | None = None
    max: float | None = None
    in_: list[str | int | float] | None = Field(None, alias="in")

    @field_validator("max")
    @classmethod
    def _max_not_below_min(cls, v: float | None, info: ValidationInfo) -> float | None:
        """`min` above `max` fails every row: refused at `max` before any data is read."""
        low = info.data.get("min")
        if v is not None and isinstance(low, (int, float)) and v < low:
            raise _bad(f"`max` ({v:g}) is below `min` ({low:g}); no value can pass")
        if v is not None and info.data.get("type") not in _NUMERIC_TYPES | {None}:
            raise _bad(f"`max` applies to numeric columns; this one is "
                       f"{info.data.get('type')}")
        return v

    @field_validator("min")
    @classmethod
    def _min_numeric(cls, v: float | None, info: ValidationInfo) -> float | None:
        if v is not None and info.data.get("type") not in _NUMERIC_TYPES | {None}:
            raise _bad(f"`min` applies to numeric columns; this one is "
                       f"{info.data.get('type')}")
        return v

    @field_validator("in_")
    @classmethod
    def _values_fit_type(cls, v: list[str | int | float] | None,
                         info: ValidationInfo) -> list[str | int | float] | None:
        """`in: ["0", "1"]` on an int column fails every row at run time."""
        ctype = info.data.get("type")
        if v is None or not isinstance(ctype, str):
            return v
        wrong = [x for x in v if not _fits(x, ctype)]
        if wrong:
            shown = ", ".join(repr(x) if isinstance(x, str) else str(x) for x in wrong[:3])
            raise _bad(f"`in` value(s) {shown} cannot occur in a {ctype} column")
        return v
    protected: bool = False
    pii: bool = False
    description: str | None = None


class RowCount(SpecModel):
    min: int | None = Field(None, ge=0)
    max: int | None = Field(None, ge=0)

    @field_validator("max")
    @classmethod
    def _max_not_below_min(cls, v: int | None, info: ValidationInfo) -> int | None:
        low = info.data.get("min")
        if v is not None and isinstance(low, int) and v < low:
            raise _bad(f"`row_count.max` ({v}) is below `min` ({low}); no file can pass")
        return v


class DistributionCheck(SpecModel):
    reference: str = Field(description="path of a reference file, relative to the project")
    method: Literal["psi", "ks"] = "psi"
    max: float = Field(0.25, gt=0)
    columns: list[Name] | None = None


class SourceChecks(SpecModel):
    row_count: RowCount | None = None
    max_null_share: float | None = Field(None, ge=0, le=1)
    distribution: DistributionCheck | None = None


class SourceSpec(SpecModel):
    kind: Literal["source"]
    name: Name
    description: str | None = None
    owner: Principal | None = None
    path: str = Field(description="file or glob relative to the project root")
    format: Literal["parquet", "csv"] | None = None
    entity: Name | None = None
    timestamp: Name | None = None
    created_timestamp: Name | None = None
    columns: dict[Name, Column]
    checks: SourceChecks | None = None
    tags: list[str] = Field(default_factory=list)
    # Left out of dumps when unset, so adding the option changed no spec hash or plan.
    csv: CsvOptions | None = Field(
        None, exclude_if=lambda v: v is None,
        description="how to read a CSV as it comes (header, delimiter, quote, nulls, trim, "
                    "encoding, preamble); implies `format: csv`")

    @field_validator("format")
    @classmethod
    def _format_matches_path(cls, v: str | None, info: ValidationInfo) -> str | None:
        """`format: csv` on `loans.parquet` makes the runtime parse binary as text."""
        path = info.data.get("path")
        if v is None or not isinstance(path, str):
            return v
        suffix = path.lower().rsplit(".", 1)[-1] if "." in path.rsplit("/", 1)[-1] else ""
        other = {"csv": "parquet", "parquet": "csv"}[v]
        if suffix in (other, f"{other}*") or (other == "csv" and suffix in ("tsv", "txt")):
            raise _bad(f"`format: {v}` but the path ends in `.{suffix}`")
        return v

    @field_validator("csv")
    @classmethod
    def _csv_has_declared_columns(cls, v: CsvOptions | None,
                                  info: ValidationInfo) -> CsvOptions | None:
        if v is None:
            return v
        if info.data.get("format") == "parquet":   # unset: a csv block means csv
            raise _bad("`csv` options apply only to csv sources, and this one has "
                       "`format: parquet`")
        declared = info.data.get("columns")
        if v.columns is not None and isinstance(declared, dict):
            missing = [c for c in declared if c not in v.columns]
            if missing:
                raise _bad(f"declared column(s) {', '.join(missing)} not among "
                           f"`csv.columns` ({', '.join(v.columns)})")
        return v
