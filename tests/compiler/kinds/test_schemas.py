"""The checked-in JSON Schemas match the pydantic models and accept the examples.

Why both: a stale schema misleads every editor that completes from it, and a schema that
rejects a valid example means the generator lost something the models accept.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from specops.compiler.cli.main import main
from specops.compiler.kinds import KINDS
from specops.compiler.kinds.schema_gen import (
    COMBINED_NAME,
    DIALECT,
    REPORT_NAME,
    build_schemas,
    check_schemas,
    default_schema_dir,
    schema_filename,
    spec_reference,
)

REPO = Path(__file__).resolve().parents[3]
SCHEMAS = REPO / "schemas"
EXAMPLES = sorted((REPO / "examples").glob("*/specs/**/*.y*ml"))
PROJECTS = sorted((REPO / "examples").glob("*/specops.yaml"))
EXPECTED = {*(schema_filename(k) for k in KINDS), "project.schema.json", COMBINED_NAME,
            REPORT_NAME, "plan.schema.json"}


def _load(name: str) -> dict[str, Any]:
    result: dict[str, Any] = json.loads((SCHEMAS / name).read_text(encoding="utf-8"))
    return result


def _validator(name: str) -> jsonschema.Draft202012Validator:
    schema = _load(name)
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def test_checked_in_schemas_are_current() -> None:
    stale = check_schemas(SCHEMAS)
    assert not stale, f"stale schemas {stale}: run `uv run specops schema`"


def test_every_kind_has_a_schema_file() -> None:
    assert set(build_schemas()) == EXPECTED
    assert {p.name for p in SCHEMAS.glob("*.schema.json")} >= EXPECTED
    assert (SCHEMAS / "__init__.py").is_file()  # the folder is the specops.schemas package


def test_default_dir_is_the_checkout() -> None:
    assert default_schema_dir().resolve() == SCHEMAS.resolve()


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_schema_is_valid_draft_2020_12(name: str) -> None:
    schema = _load(name)
    assert schema["$schema"] == DIALECT
    jsonschema.Draft202012Validator.check_schema(schema)
    assert "markdownDescription" in schema


def test_combined_schema_discriminates_by_kind() -> None:
    schema = _load(COMBINED_NAME)
    consts = []
    for branch in schema["oneOf"]:
        target = schema["$defs"][branch["$ref"].rsplit("/", 1)[-1]]
        consts.append(target["properties"]["kind"]["const"])
        assert "kind" in target["required"]
    assert consts == list(KINDS)
    assert schema["properties"]["kind"]["enum"] == list(KINDS)


def _documents(path: Path) -> list[Any]:
    return [d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d is not None]


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: str(p.relative_to(REPO)))
def test_example_specs_validate_against_combined_schema(path: Path) -> None:
    validator = _validator(COMBINED_NAME)
    docs = _documents(path)
    assert docs
    for i, doc in enumerate(docs):
        errors = [e.message for e in validator.iter_errors(doc)]
        assert not errors, f"{path.name} document {i}: {errors}"
        per_kind = _validator(schema_filename(doc["kind"]))
        assert not list(per_kind.iter_errors(doc))


@pytest.mark.parametrize("path", PROJECTS, ids=lambda p: str(p.relative_to(REPO)))
def test_example_project_files_validate(path: Path) -> None:
    validator = _validator("project.schema.json")
    (doc,) = _documents(path)
    assert not [e.message for e in validator.iter_errors(doc)]


@pytest.mark.parametrize(("doc", "needle"), [
    ({"kind": "gate", "name": "g", "checks": ["auc > 1"], "colour": 1}, "colour"),
    ({"kind": "gate", "name": "g"}, "checks"),
    ({"kind": "gaet", "name": "g"}, "gaet"),
    ({"kind": "model", "name": "bad name", "owner": "x"}, "bad name"),
])
def test_combined_schema_rejects_mistakes(doc: dict[str, Any], needle: str) -> None:
    errors = list(_validator(COMBINED_NAME).iter_errors(doc))
    assert errors
    text = " ".join(str(e.message) for e in errors) + " ".join(
        str(c.message) for e in errors for c in (e.context or ()))
    assert needle in text


def test_modelines_in_examples_point_at_real_schemas() -> None:
    for path in [*EXAMPLES, *PROJECTS]:
        first = path.read_text(encoding="utf-8").splitlines()[0]
        if first.startswith("# yaml-language-server: $schema="):
            target = (path.parent / first.split("=", 1)[1].strip()).resolve()
            assert target.is_file(), f"{path}: modeline points at missing {target}"


def _anchor(heading: str) -> str:
    """GitHub's heading anchor: lower case, punctuation dropped, spaces to dashes."""
    return re.sub(r"[^a-z0-9 _-]", "", heading.strip().lower()).replace(" ", "-")


def test_reference_links_point_at_real_sections() -> None:
    text = (REPO / "docs" / "specs.md").read_text(encoding="utf-8")
    anchors = {_anchor(line[3:]) for line in text.splitlines() if line.startswith("## ")}
    for kind in [*KINDS, "project"]:
        assert spec_reference(kind).rsplit("#", 1)[1] in anchors, kind


def test_schema_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["schema", "--check", "--out", str(tmp_path)]) == 1
    assert main(["schema", "--out", str(tmp_path)]) == 0
    assert {p.name for p in tmp_path.iterdir()} == EXPECTED
    assert main(["schema", "--check", "--out", str(tmp_path)]) == 0
    (tmp_path / "gate.schema.json").write_text("{}", encoding="utf-8")
    assert main(["schema", "--check", "--out", str(tmp_path)]) == 1
    assert "gate.schema.json" in capsys.readouterr().err


def test_snippets_start_valid_documents() -> None:
    """Filling each snippet's tab stops with a name gives a document the schema accepts
    (the approval's empty rule aside, which needs at least one key)."""
    schema = _load(COMBINED_NAME)
    validator = _validator(COMBINED_NAME)
    labels = []
    for snippet in schema["defaultSnippets"]:
        labels.append(snippet["label"])
        text = json.dumps(snippet["body"])
        doc = json.loads(re.sub(r"\$\{\d+:[a-z_]+\}", "x", text))
        errors = [e.message for e in validator.iter_errors(doc)]
        assert not errors or snippet["label"] == "specops approval", (snippet["label"], errors)
    assert labels == [f"specops {k}" for k in KINDS]


@pytest.mark.parametrize(("doc", "ok"), [
    ({"kind": "gate", "name": "g", "checks": ["x"], "min_group_size": "{{ n }}"}, True),
    ({"kind": "gate", "name": "g", "checks": ["x"], "blocking": "{{ strict }}"}, True),
    ({"kind": "gate", "name": "g", "checks": ["x"], "min_group_size": "fifty"}, False),
    ({"kind": "gate", "name": "g", "checks": ["x"], "blocking": "yes"}, False),
    ({"kind": "feature", "name": "f", "source": "s", "features": {}, "ttl": "{{ ttl }}"},
     True),
    ({"kind": "feature", "name": "f", "source": "s", "features": {}, "ttl": "90 days"},
     False),
])
def test_whole_value_templates_are_accepted(doc: dict[str, Any], ok: bool) -> None:
    """Lint renders templates before validating, so the editor must not flag them."""
    assert (not list(_validator(COMBINED_NAME).iter_errors(doc))) is ok
