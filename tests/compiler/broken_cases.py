"""Reading and materialising the broken-spec fixture corpus (tests/fixtures/broken/).

Why a layout of plain files: tests are data (sqlglot's habit). Each case is a folder of
files laid over a copy of the minimal valid project (tests/fixtures/projects/minimal/),
plus `expected.txt`, which lists every diagnostic lint must report as `file:line:col CODE`,
one a line, exactly. Lines starting with `#` are comments; lines starting with `@` are
directives:

- `@bare`: do not copy the minimal project (the case brings everything, or nothing).
- `@remove PATH`: delete a file of the minimal project.
- `@var NAME=VALUE`: pass a template variable, like `specops lint --var`.
- `@generate PATH KIND`: write a file too big or too odd to commit (KIND: huge, deep).
- `@all-codes`: compare every code. By default only the front end's codes are compared
  (SPEC0xx files, 1xx YAML, 15x templates, 2xx schema, 3xx references, 9xx
  suppressions): this corpus pins the front end, and later passes (expressions,
  governance, graph) keep their own fixtures, so a new pass does not rewrite 100 files.

Set SPECOPS_UPDATE_FIXTURES=1 to rewrite the expectation lines from what lint reports
(comments and directives are kept); review the diff before committing it.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from specops.compiler.frontend.loader import MAX_FILE_BYTES

__all__ = ["BROKEN", "MINIMAL", "Case", "Expected", "cases", "is_front_end", "materialise"]

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
BROKEN = FIXTURES / "broken"
MINIMAL = FIXTURES / "projects" / "minimal"
UPDATE = os.environ.get("SPECOPS_UPDATE_FIXTURES") == "1"

Expected = tuple[str, int, int, str]


@dataclass(slots=True)
class Case:
    name: str
    folder: Path
    header: list[str] = field(default_factory=list)
    expected: set[Expected] = field(default_factory=set)
    bare: bool = False
    remove: list[str] = field(default_factory=list)
    variables: dict[str, str] = field(default_factory=dict)
    generate: list[tuple[str, str]] = field(default_factory=list)
    all_codes: bool = False

    def compared(self, code: str) -> bool:
        return self.all_codes or is_front_end(code)


def is_front_end(code: str) -> bool:
    """SPEC0xx, 1xx (15x included), 2xx, 3xx and 9xx: what loading and resolving emit."""
    return code[4:5] in ("0", "1", "2", "3", "9")


def _parse_expected(line: str) -> Expected:
    location, code = line.rsplit(" ", 1)
    file, row, col = location.rsplit(":", 2)
    return file, int(row), int(col), code


def read_case(folder: Path) -> Case:
    case = Case(folder.name, folder)
    for raw in (folder / "expected.txt").read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line:
            continue
        if line.startswith("#"):
            case.header.append(raw)
            continue
        if line.startswith("@"):
            case.header.append(raw)
            word, _, rest = line[1:].partition(" ")
            if word == "bare":
                case.bare = True
            elif word == "remove":
                case.remove.append(rest.strip())
            elif word == "var":
                k, _, v = rest.strip().partition("=")
                case.variables[k] = v
            elif word == "all-codes":
                case.all_codes = True
            elif word == "generate":
                path, kind = rest.split()
                case.generate.append((path, kind))
            else:
                raise ValueError(f"{folder}: unknown directive {line!r}")
            continue
        case.expected.add(_parse_expected(line))
    return case


def cases() -> list[Case]:
    return [read_case(p) for p in sorted(BROKEN.iterdir()) if (p / "expected.txt").is_file()]


def _generated(kind: str) -> bytes:
    if kind == "huge":  # one byte over the limit, valid YAML all the way
        line = b"# " + b"x" * 97 + b"\n"
        body = line * (MAX_FILE_BYTES // len(line) + 1)
        return b"kind: gate\nname: huge\nchecks: [roc_auc > 0.5]\n" + body
    if kind == "deep":  # deeper than libyaml's own limit: must not crash or recurse
        return b"kind: gate\nname: deep\nchecks: " + b"[" * 20_000 + b"]" * 20_000 + b"\n"
    raise ValueError(f"unknown generator {kind!r}")


def materialise(case: Case, into: Path) -> Path:
    """Build the case's project under `into` and return its root."""
    root = into / case.name
    if case.bare:
        root.mkdir(parents=True)
    else:
        shutil.copytree(MINIMAL, root)
    for rel in case.remove:
        (root / rel).unlink()
    for src in sorted(case.folder.rglob("*")):
        if src.is_file() and src.name != "expected.txt":
            dest = root / src.relative_to(case.folder)
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src, dest)
    for rel, kind in case.generate:
        dest = root / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_bytes(_generated(kind))
    return root


def rewrite(case: Case, actual: set[Expected]) -> None:
    lines = [*case.header, *(f"{f}:{r}:{c} {code}" for f, r, c, code in sorted(actual))]
    (case.folder / "expected.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
