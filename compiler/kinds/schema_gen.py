"""JSON Schemas for spec files, generated from the pydantic models in `kinds/`.

Why generate instead of hand-write: the pydantic models are what lint enforces, so a
hand-written schema would drift from them. The schemas exist for editors
(yaml-language-server completion and hover through a `# yaml-language-server: $schema=`
modeline) and for other tools (check-jsonschema); lint itself never reads them.

Why the extra post-processing: pydantic emits draft 2020-12 without `$schema`, and
yaml-language-server shows `markdownDescription` in hovers in preference to
`description`, so we add both, plus `defaultSnippets` (a new document of each kind with
its required fields) for completion in an empty document.

Why one combined schema: `specops.schema.json` is a `oneOf` whose branches each pin
`kind` with `const`; generic validators and yaml-language-server both discriminate on
that (they ignore OpenAPI's `discriminator`). yaml-language-server applies a file-level
association (`yaml.schemas`) to every document of a multi-document file, and a modeline
only to the document it heads (redhat-developer/yaml-language-server#946), so one schema
covering every kind is what spec files need.
"""

from __future__ import annotations

import copy
import inspect
import json
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import GenerateJsonSchema, JsonSchemaMode, models_json_schema

from specops.compiler.diagnostics.formats.json_out import REPORT_SCHEMA
from specops.compiler.kinds import KINDS, ProjectSpec
from specops.contract.plan_schema import PLAN_SCHEMA_NAME, plan_schema

__all__ = [
    "COMBINED_NAME",
    "DIALECT",
    "REPORT_NAME",
    "build_schemas",
    "check_schemas",
    "default_schema_dir",
    "schema_filename",
    "spec_reference",
    "write_schemas",
]

DIALECT = "https://json-schema.org/draft/2020-12/schema"
COMBINED_NAME = "specops.schema.json"
REPORT_NAME = "lint-report.schema.json"
_DOCS = "https://github.com/specops/specops/blob/main/docs"
# docs/specs.md headings whose anchor is not the kind itself
_ANCHORS = {"project": "specopsyaml", "feature": "feature-feature-view"}


def schema_filename(kind: str) -> str:
    return f"{kind}.schema.json"


def default_schema_dir() -> Path:
    """The `specops.schemas` package folder: the repo's schemas/ in a checkout."""
    from specops import schemas

    return Path(inspect.getfile(schemas)).parent


def spec_reference(kind: str) -> str:
    """The docs/specs.md section for a kind (GitHub heading anchors)."""
    return f"{_DOCS}/specs.md#{_ANCHORS.get(kind, kind)}"


def _all_models() -> dict[str, type[BaseModel]]:
    models: dict[str, type[BaseModel]] = dict(KINDS)
    models["project"] = ProjectSpec
    return models


def _kind_summary(model: type[BaseModel]) -> str:
    """First paragraph of the kind's module docstring (the kind modules document the why)."""
    module = sys.modules[model.__module__]
    doc = inspect.getdoc(module) or ""
    return doc.split("\n\n", 1)[0].replace("\n", " ").strip()


def _add_markdown(node: Any) -> None:
    """Mirror every `description` as `markdownDescription` (yaml-language-server hovers)."""
    if isinstance(node, dict):
        desc = node.get("description")
        if isinstance(desc, str) and "markdownDescription" not in node:
            node["markdownDescription"] = desc
        for key, value in node.items():
            if key in ("properties", "$defs", "patternProperties"):
                for sub in value.values():
                    _add_markdown(sub)
            elif key not in ("description", "markdownDescription", "const", "default",
                             "enum", "examples", "defaultSnippets"):
                _add_markdown(value)
    elif isinstance(node, list):
        for item in node:
            _add_markdown(item)


def _resolve(node: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any]:
    ref = node.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/$defs/"):
        target: dict[str, Any] = defs[ref.rsplit("/", 1)[-1]]
        return target
    return node


def _skeleton(node: dict[str, Any], defs: dict[str, Any], name: str,
              counter: list[int]) -> Any:
    """A snippet body holding only the required fields, with tab stops for the values."""
    node = _resolve(node, defs)
    if "const" in node:
        return node["const"]
    branches = node.get("anyOf") or node.get("oneOf")
    if branches:
        usable = [b for b in branches if b.get("type") != "null"]
        return _skeleton(usable[0], defs, name, counter) if usable else None
    kind = node.get("type")
    if kind == "object" and "properties" in node:
        props = node["properties"]
        return {key: _skeleton(props[key], defs, key, counter)
                for key in node.get("required", []) if key in props}
    if kind == "object":
        return {}
    if kind == "array":
        if node.get("minItems", 0) >= 1 and isinstance(node.get("items"), dict):
            return [_skeleton(node["items"], defs, name, counter)]
        return []
    if "enum" in node:
        return node["enum"][0]
    counter[0] += 1
    return f"${{{counter[0]}:{name}}}"


def _snippet(kind: str, schema: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any]:
    """A yaml-language-server `defaultSnippets` entry: a new document of this kind."""
    return {"label": f"specops {kind}", "description": f"a new `{kind}` with its required "
            "fields", "body": _skeleton(schema, defs, kind, [0])}


def _describe_kind(schema: dict[str, Any], kind: str, model: type[BaseModel]) -> None:
    summary = _kind_summary(model) or f"A `{kind}` spec."
    schema["description"] = summary
    schema["markdownDescription"] = (f"{summary}\n\n[Reference]({spec_reference(kind)}) · "
                                     f"[Diagnostics]({_DOCS}/rules.md)")


TEMPLATE: dict[str, Any] = {
    "type": "string",
    "pattern": r"^\s*\{\{[\s\S]*\}\}\s*$",
    "description": "a template such as \"{{ min_auc }}\", rendered (with `vars` from "
                   "specops.yaml or --var) before the value is checked",
}
_TEMPLATE_REF = {"$ref": "#/$defs/Template"}
_OUTER = ("title", "description", "markdownDescription", "default")


def _constrained(node: Any) -> bool:
    """A scalar whose template text (a string) the plain schema would refuse."""
    if not isinstance(node, dict) or "const" in node:
        return False
    kind = node.get("type")
    return kind in ("integer", "number", "boolean") or (
        kind == "string" and ("enum" in node or "pattern" in node))


def _allow_templates(node: Any) -> None:
    """Let constrained scalars also be a whole-value template, as lint accepts them.

    Why: lint renders `{{ ... }}` values before validating, so `min_group_size:
    "{{ n }}"` is valid; without this the editor would flag every templated number.
    """
    if isinstance(node, list):
        for item in node:
            _allow_templates(item)
        return
    if not isinstance(node, dict):
        return
    if _constrained(node):
        inner = {k: v for k, v in node.items() if k not in _OUTER}
        for key in inner:
            del node[key]
        node["anyOf"] = [inner, dict(_TEMPLATE_REF)]
        return
    branches = node.get("anyOf")
    if isinstance(branches, list):
        if any(_constrained(b) for b in branches) and _TEMPLATE_REF not in branches:
            branches.append(dict(_TEMPLATE_REF))
        for b in branches:
            if not _constrained(b):
                _allow_templates(b)
    for key, value in node.items():
        if key in ("properties", "$defs", "patternProperties"):
            for sub in value.values():
                _allow_templates(sub)
        elif key in ("items", "additionalProperties", "prefixItems", "oneOf", "allOf"):
            _allow_templates(value)


def _with_templates(schema: dict[str, Any], defs: dict[str, Any]) -> None:
    _allow_templates(schema)
    defs["Template"] = copy.deepcopy(TEMPLATE)


def _finish(schema: dict[str, Any], title: str) -> dict[str, Any]:
    """Put `$schema` and `title` first (humans read the top of the file)."""
    _add_markdown(schema)
    out: dict[str, Any] = {"$schema": DIALECT, "title": title}
    out.update((k, v) for k, v in schema.items() if k not in ("$schema", "title"))
    return out


def _kind_schema(kind: str, model: type[BaseModel]) -> dict[str, Any]:
    schema = model.model_json_schema(mode="validation", by_alias=True,
                                     schema_generator=GenerateJsonSchema)
    _with_templates(schema, schema.setdefault("$defs", {}))
    _describe_kind(schema, kind, model)
    schema["defaultSnippets"] = [_snippet(kind, schema, schema["$defs"])]
    title = "specops.yaml" if kind == "project" else f"specops {kind} spec"
    return _finish(schema, title)


def _combined_schema() -> dict[str, Any]:
    """Every spec kind (not the project file) in one schema, discriminated by `kind`."""
    pairs: list[tuple[type[BaseModel], JsonSchemaMode]] = [
        (m, "validation") for m in KINDS.values()]
    refs, top = models_json_schema(pairs, by_alias=True, schema_generator=GenerateJsonSchema)
    defs: dict[str, Any] = top.get("$defs", {})
    _with_templates(top, defs)
    branches = []
    for kind, model in KINDS.items():
        ref = refs[(model, "validation")]["$ref"]
        name = ref.rsplit("/", 1)[-1]
        _describe_kind(defs[name], kind, model)
        branches.append({"$ref": ref})
    kinds = list(KINDS)
    schema: dict[str, Any] = {
        "description": "Any specops spec document (source, feature, model, gate, approval, "
                       "policy), chosen by its `kind`. Several documents per file are "
                       "allowed; each is checked on its own.",
        "markdownDescription": (
            "Any specops spec document, chosen by its `kind`: "
            + ", ".join(f"`{k}`" for k in kinds)
            + f".\n\n[Reference]({_DOCS}/specs.md) · [Diagnostics]({_DOCS}/rules.md) · "
            f"[Linting]({_DOCS}/lint.md)"),
        "type": "object",
        "required": ["kind", "name"],
        "properties": {
            "kind": {"enum": kinds, "description": "what this document defines"},
        },
        "oneOf": branches,
        "defaultSnippets": [_snippet(kind, defs[ref["$ref"].rsplit("/", 1)[-1]], defs)
                            for kind, ref in zip(kinds, branches, strict=True)],
        "$defs": defs,
    }
    return _finish(schema, "specops spec document")


def build_schemas() -> dict[str, dict[str, Any]]:
    """File name -> schema: every kind, the project file, all kinds combined, and the
    `lint --format json` report."""
    out = {schema_filename(kind): _kind_schema(kind, model)
           for kind, model in _all_models().items()}
    out[COMBINED_NAME] = _combined_schema()
    report = copy.deepcopy(REPORT_SCHEMA)
    out[REPORT_NAME] = _finish(report, str(report["title"]))
    out[PLAN_SCHEMA_NAME] = plan_schema()   # generated from the plan records (contract/)
    return out


def _dump(schema: Mapping[str, Any]) -> str:
    return json.dumps(schema, indent=2, ensure_ascii=False) + "\n"


def check_schemas(out_dir: Path) -> list[str]:
    """Names of schema files in `out_dir` that are missing or differ from the models."""
    stale = []
    for name, schema in build_schemas().items():
        path = out_dir / name
        try:
            current = path.read_text(encoding="utf-8")
        except OSError:
            stale.append(name)
            continue
        if current != _dump(schema):
            stale.append(name)
    return stale


def write_schemas(out_dir: Path) -> list[Path]:
    """Write every schema into `out_dir`; only files whose content changed are touched."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, schema in build_schemas().items():
        path = out_dir / name
        text = _dump(schema)
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
            written.append(path)
    return written
