"""The text of the project `specops init --from FILE` writes, from a `TableGuess`.

Why text rendered here rather than YAML dumped from dicts: the files are for people to
read and edit on day one, so they carry comments saying what was guessed and what to
review (the favourable outcome, the placeholders for people, the fairness thresholds), in
the layout the docs use. Values that come from the data (column names, category values)
are emitted as JSON scalars, which YAML reads back exactly (a value `yes` or `1e3` stays
a string), so no cell of a file can inject YAML.

Choices, and why:
- task: a string or boolean label, or a number label with at most 10 values, is a
  classification (binary with 2 values); any other number label is a regression;
- features: every column but the label, the protected attributes, the key, dates, and
  free-text columns (strings with more than 50 values, over half of them distinct:
  names, ids, comments), which a baseline cannot use and which leak identities;
- split: stratified (random within each label class, label deciles for a regression):
  most tabular data has no event time, and a datetime column is declared but not assumed
  to be the event time;
- estimator: histogram gradient boosting, which takes missing values and mixed scales
  as they come, 3-fold CV, no search (a baseline to beat, not a tuned model);
- quality gate: a bar the data itself sets, beating the trivial model (roc_auc above 0.6;
  multiclass accuracy above one over the number of classes; R2 above 0);
- fairness: the model's `fairness:` block is written out, not left to defaults, so the
  reader sees what is measured: the favourable outcome (the larger label value, or the
  other one when the label's name says it is adverse: `bad`, `default`, `churn`, ...;
  for a regression a prediction at or above the median label), threshold 0.5, and
  quartile bands for a numeric protected attribute (numbers with at most 20 values are
  listed with `in:` instead). The gate checks the four-fifths rule (and equalized odds
  for a classifier) per protected attribute as warnings: which outcome is favourable is a
  judgement the generated project cannot make for the user, and a blocking check on the
  wrong outcome would be wrong evidence (the comment says how to make it blocking).
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from specops.runtime.data.sniff import ColumnGuess, TableGuess, identifier

__all__ = ["InitChoices", "InitError", "choose", "render_project"]

_MAX_CLASSES_NUMERIC = 10
_MAX_CLASSES = 50
_FREE_TEXT = 50
PEOPLE = ("pipeline", "author", "reviewer", "deployer")


class InitError(ValueError):
    """The file and options cannot make a project; the message is one line."""


@dataclass(frozen=True)
class InitChoices:
    """What the project will say: names, task, which columns play which role."""

    project: str
    source: str
    model: str
    data_path: str                  # relative to the project root, posix
    label: ColumnGuess
    task: str
    protected: list[ColumnGuess]
    entity: ColumnGuess | None
    timestamp: ColumnGuess | None
    features: list[ColumnGuess]
    skipped: dict[str, str]         # column -> why it is not a feature


def _q(value: Any) -> str:
    """A YAML flow scalar that reads back as exactly `value` (JSON is YAML)."""
    return json.dumps(value, ensure_ascii=False)


def _v(value: Any) -> str:
    """`_q` of a value taken from the file. Spec strings are Jinja templates, so a value
    that holds a template marker is refused rather than written to be rendered."""
    if isinstance(value, str) and any(m in value for m in ("{{", "{%", "{#")):
        raise InitError(f"the value {value!r} holds a template marker; a spec would render "
                        "it (map it to another value first)")
    return _q(value)


def _inline(text: str) -> str:
    """`text` on one line inside a YAML comment (a file name may hold a line break)."""
    return json.dumps(text, ensure_ascii=False)[1:-1]


def _task(label: ColumnGuess, forced: str | None) -> str:
    if forced:
        return forced
    if label.type in ("string", "bool", "category"):
        if label.distinct > _MAX_CLASSES:
            raise InitError(f"label {label.name} is text with {label.distinct} distinct "
                            f"values; a classification needs at most {_MAX_CLASSES} "
                            "(pass --task if this is intended)")
        return "binary_classification" if label.distinct <= 2 else \
            "multiclass_classification"
    if label.numeric and label.distinct <= _MAX_CLASSES_NUMERIC:
        return "binary_classification" if label.distinct <= 2 else \
            "multiclass_classification"
    if label.numeric:
        return "regression"
    raise InitError(f"label {label.name} is a {label.type} column: not something a model "
                    "predicts")


def _entity(guess: TableGuess, taken: set[str]) -> ColumnGuess | None:
    for c in guess.columns:
        if c.name not in taken and c.unique and c.type in ("int64", "string") and (
                c.name == "id" or c.name.endswith("_id") or c.original.endswith(("ID", "Id"))):
            return c
    return None


def _why_not_feature(c: ColumnGuess) -> str | None:
    if c.nulls == c.rows:
        return "always missing"
    if c.type in ("date", "datetime"):
        return "a date (declared; derive features from it in a feature view)"
    if c.distinct <= 1:
        return "a single value"
    if c.type == "string" and c.distinct > _FREE_TEXT and c.distinct > c.rows / 2:
        return f"free text or an identifier ({c.distinct} distinct values)"
    return None


def choose(guess: TableGuess, label_ref: str, protected_refs: Sequence[str],
           data_path: str, project: str, task: str | None = None,
           timestamp_ref: str | None = None) -> InitChoices:
    """Decide every role from the guess; `InitError` names a bad `--label`,
    `--protected` or `--timestamp`."""
    label = guess.column(label_ref)
    if label is None:
        raise InitError(f"no column {label_ref!r} for --label; the file's columns are "
                        f"{', '.join(c.name for c in guess.columns)}")
    protected: list[ColumnGuess] = []
    for ref in protected_refs:
        c = guess.column(ref)
        if c is None:
            raise InitError(f"no column {ref!r} for --protected; the file's columns are "
                            f"{', '.join(x.name for x in guess.columns)}")
        if c.name == label.name:
            raise InitError(f"{c.name} is the label; it cannot also be protected")
        if c not in protected:
            protected.append(c)
    if label.nulls == label.rows:
        raise InitError(f"label {label.name} is always missing")
    resolved = _task(label, task)
    timestamp = None
    if timestamp_ref is not None:
        timestamp = guess.column(timestamp_ref)
        if timestamp is None or timestamp.type not in ("date", "datetime") or \
                timestamp.nulls:
            what = "no such column" if timestamp is None else (
                f"{timestamp.nulls} rows have no value"
                if timestamp.type in ("date", "datetime") else
                f"{timestamp.type}, not a date or datetime")
            raise InitError(f"--timestamp {timestamp_ref}: {what}; the event time is a "
                            "date or datetime column present in every row")
    taken = {label.name, *(c.name for c in protected),
             *([timestamp.name] if timestamp else [])}
    entity = _entity(guess, taken)
    if entity is not None:
        taken.add(entity.name)
    features, skipped = [], {}
    for c in guess.columns:
        if c.name in taken:
            continue
        why = _why_not_feature(c)
        if why is None:
            features.append(c)
        else:
            skipped[c.name] = why
    if not features:
        raise InitError("no column is usable as a feature (" + "; ".join(
            f"{k}: {v}" for k, v in skipped.items()) + ")" if skipped else
            "the file has no column besides the label and the protected attributes")
    source = identifier(project)
    return InitChoices(project=source, source=source, model=f"{label.name}_model",
                       data_path=data_path, label=label, task=resolved, protected=protected,
                       entity=entity, timestamp=timestamp, features=features,
                       skipped=skipped)


def _text_label(c: ColumnGuess, ch: InitChoices) -> bool:
    """A true/false label is declared as its text (`in: [false, true]` lists no booleans,
    and its classes are then the file's own spellings)."""
    return c is ch.label and c.type == "bool" and c.texts is not None


def _column_line(c: ColumnGuess, ch: InitChoices) -> str:
    if _text_label(c, ch):
        c = replace(c, type="string", values=c.texts)
    parts = [f"type: {c.type}"]
    if c is ch.entity:
        parts += ["unique: true", "nullable: false"]
    elif c is ch.timestamp:
        parts.append("nullable: false")
    elif c.nulls == 0 and c.name == ch.label.name:
        parts.append("nullable: false")
    listed = (c.name == ch.label.name and ch.task != "regression") or \
        (c in ch.protected and c.numeric)
    if listed and c.values is not None and c.type != "bool":   # `in` lists no booleans
        parts.append(f"in: [{', '.join(_v(v) for v in c.values)}]")
    if c in ch.protected:
        parts.append("protected: true")
    note = ""
    if c.name in ch.skipped:
        note = f"   # not a feature: {ch.skipped[c.name]}"
    elif c.nulls:
        note = f"   # {c.nulls} of {c.rows} missing"
    return f"  {c.name}: {{{', '.join(parts)}}}{note}"


def _source_yaml(guess: TableGuess, ch: InitChoices) -> str:
    lines = [
        "# yaml-language-server: $schema=https://raw.githubusercontent.com/specops/specops/"
        "main/schemas/specops.schema.json",
        f"# Guessed by `specops init` from {_inline(guess.path.name)} ({guess.rows} rows): "
        "check the "
        "types, the reading options and the missing-value markers.",
        "kind: source",
        f"name: {ch.source}",
        f"description: {_q(f'The rows of {guess.path.name}, one example each.')}",
        "owner: team:data_science",
        f"path: {_q(ch.data_path)}",
    ]
    if guess.format == "csv":
        if guess.csv:
            lines.append("csv:")
            for key, value in guess.csv.items():
                if key == "columns":
                    value_text = "[" + ", ".join(value) + "]"
                elif isinstance(value, list):
                    value_text = "[" + ", ".join(_q(v) for v in value) + "]"
                elif isinstance(value, bool):
                    value_text = "true" if value else "false"
                else:
                    value_text = _q(value)
                lines.append(f"  {key}: {value_text}")
        else:
            lines.append("format: csv")
    if ch.entity is not None:
        lines.append(f"entity: {ch.entity.name}")
    if ch.timestamp is not None:
        lines.append(f"timestamp: {ch.timestamp.name}")
    lines.append("columns:")
    lines += [_column_line(c, ch) for c in guess.columns]
    lines += ["checks:", f"  row_count: {{min: {max(1, guess.rows // 2)}}}"]
    return "\n".join(lines) + "\n"


def _quality_check(ch: InitChoices) -> tuple[str, str, float]:
    """(var name, check text, threshold)."""
    if ch.task == "binary_classification":
        return "min_roc_auc", "roc_auc >= {{ min_roc_auc }}", 0.6
    if ch.task == "multiclass_classification":
        share = 1.0 / max(ch.label.distinct, 1)
        return "min_accuracy", "accuracy >= {{ min_accuracy }}", round(share, 2)
    return "min_r2", "r2 >= {{ min_r2 }}", 0.0


def _banded(c: ColumnGuess) -> bool:
    """A numeric protected attribute whose values are not listed (`in:`) needs bands."""
    return c.numeric and c.values is None


def _fair_attrs(ch: InitChoices) -> list[ColumnGuess]:
    """Protected attributes a group check can be decided on: a few listed values, or
    numbers cut into quartile bands (text with more than 20 values is left to the user)."""
    return [c for c in ch.protected
            if _banded(c) or (c.values is not None and c.distinct >= 2)]


_ADVERSE = re.compile(r"bad|default|fraud|churn|fail|delinq|late|risk|claim|arrears",
                      re.IGNORECASE)


def _favourable(ch: InitChoices) -> tuple[Any, float, str]:
    """(favorable, threshold, why) written into the model's `fairness:` block."""
    label = ch.label
    if ch.task == "regression":
        median = label.median if label.median is not None else 0.0
        return ("higher_score", round(median, 6),
                "a prediction at or above the median label is the favourable decision")
    values = list((label.texts if _text_label(label, ch) else label.values) or ())
    if ch.task == "binary_classification" and len(values) == 2 and \
            _ADVERSE.search(label.name):
        return (values[0], 0.5, f"`{label.name}` names an adverse outcome, so its other "
                                "value is the favourable one")
    return (values[-1], 0.5, "the larger label value (the default)")


def _gates_yaml(ch: InitChoices) -> str:
    _, check, _ = _quality_check(ch)
    out = [
        "# yaml-language-server: $schema=https://raw.githubusercontent.com/specops/specops/"
        "main/schemas/specops.schema.json",
        "kind: gate",
        "name: quality",
        "description: The baseline must beat a trivial model on the held-out split.",
        "checks:",
        f"  - {_q(check)}",
        "  - check: \"onnx_max_abs_diff <= 1e-4\"",
        "    id: onnx_parity",
    ]
    fair = _fair_attrs(ch)
    if fair:
        out += [
            "---",
            "# Warnings until someone has confirmed the model's `fairness:` block (which",
            "# outcome is favourable, at which threshold): then drop `severity: warning`.",
            "kind: gate",
            "name: fairness",
            "description: Four-fifths rule"
            + ("" if ch.task == "regression" else " and equalized odds")
            + " per protected attribute.",
            "min_group_size: 30",
            "checks:",
        ]
        for c in fair:
            out += [f"  - check: {_q(f'disparate_impact({c.name}) >= 0.8')}",
                    f"    id: four_fifths_{c.name}", "    severity: warning"]
            if ch.task != "regression":
                out += [f"  - check: {_q(f'equalized_odds_difference({c.name}) <= 0.1')}",
                        f"    id: equalized_odds_{c.name}", "    severity: warning"]
    return "\n".join(out) + "\n"


def _fairness_block(ch: InitChoices) -> list[str]:
    fair = _fair_attrs(ch)
    if not fair:
        return []
    favorable, threshold, why = _favourable(ch)
    lines = ["fairness:                 # what the fairness checks measure: confirm it",
             f"  favorable: {_v(favorable)}   # {why}",
             f"  threshold: {threshold}"]
    bands = [c.name for c in fair if _banded(c)]
    if bands:
        lines.append("  bands: {" + ", ".join(f"{b}: {{quantiles: 4}}" for b in bands)
                     + "}   # or edges, e.g. [25, 40, 60]")
    return lines


def _model_yaml(ch: InitChoices) -> str:
    regression = ch.task == "regression"
    est = "HistGradientBoostingRegressor" if regression else "HistGradientBoostingClassifier"
    gates = ["quality"] + (["fairness"] if _fair_attrs(ch) else [])
    feats = ", ".join(f"{ch.source}.{c.name}" for c in ch.features)
    lines = [
        "# yaml-language-server: $schema=https://raw.githubusercontent.com/specops/specops/"
        "main/schemas/specops.schema.json",
        "kind: model",
        f"name: {ch.model}",
        f"description: {_q(f'Predicts {ch.label.name} from the other columns (a baseline).')}",
        "owner: team:data_science",
        "authors: [author]",
        "validator: reviewer",
        "risk_tier: medium",
        f"task: {ch.task}",
        "intended_use: TODO who uses the predictions, for what decision.",
        "limitations: TODO the populations and periods the data does not cover.",
        "training:",
        f"  spine: {ch.source}",
        f"  label: {{source: {ch.source}, column: {ch.label.name}}}",
        f"  features: [{feats}]",
    ]
    if ch.protected:
        lines.append("  protected: [" + ", ".join(f"{ch.source}.{c.name}"
                                                   for c in ch.protected) + "]")
    skipped = [c.name for c in ch.protected if c not in _fair_attrs(ch)]
    if skipped:
        lines.append(f"  # {', '.join(skipped)}: too many groups for a fairness check; "
                     "map them to fewer values first")
    lines += [
        "  split: {by: time, test_fraction: 0.2}   # the latest rows are the test set"
        if ch.timestamp is not None else
        "  split: {by: stratified, test_fraction: 0.2, seed: 0}   # no event time assumed",
        "estimator:",
        f"  class: {est}",
        "  params: {max_iter: 100, random_state: 0}",
        "  cv: 3",
        *_fairness_block(ch),
        f"gates: [{', '.join(gates)}]",
        "approval: review",
        "serving: {format: onnx}",
        "monitoring:",
        "  drift: {method: psi, warn: 0.1, alert: 0.25}",
    ]
    return "\n".join(lines) + "\n"


_GOVERNANCE = """\
# yaml-language-server: $schema=https://raw.githubusercontent.com/specops/specops/main/schemas/specops.schema.json
# One independent reviewer approves each version before production (docs/governance.md).
kind: approval
name: review
description: A model risk officer who neither owns nor wrote the model approves it.
rules:
  - require: {model_risk_officer: 1}
    separation_of_duties: true
    expires: 365d
"""


def _project_yaml(ch: InitChoices, origin: str, var: str, threshold: float,
                  keys: bool) -> str:
    roles = (("pipeline", "ml_engineer", "ml_platform"),
             ("author", "ml_engineer", "data_science"),
             ("reviewer", "model_risk_officer", "model_validation"),
             ("deployer", "platform_engineer", "platform"))
    people = "\n".join(
        f"  {name}: {{roles: [{role}], teams: [{team}]"
        + (f", keys: [.keys/{name}.pub]}}" if keys else "}")
        for name, role, team in roles)
    if keys:
        trust = ("# The trust root: people, their public keys and roles. These four are "
                 "placeholders\n# with keys made in .keys/ (gitignored): replace them with "
                 "your team and their own\n# keys (`specops keys new NAME`, or "
                 "~/.ssh/id_ed25519.pub), then `specops policy accept`.")
        registry = ("registry:\n  key: .keys/pipeline     # signs registered versions; "
                    "$SPECOPS_REGISTRY_KEY overrides (CI, KMS)\n"
                    "  pinned: [.keys/pipeline.pub]\n")
    else:
        trust = ("# Placeholders: replace them with your team. Without `keys` identities are "
                 "claimed,\n# not signed; registering needs a key: SPECOPS_REGISTRY_KEY or "
                 "`registry: {key: PATH}`\n# (docs/governance.md).")
        registry = ""
    return f"""\
# yaml-language-server: $schema=https://raw.githubusercontent.com/specops/specops/main/schemas/project.schema.json
# Written by `specops init --from {_inline(origin)}`. Then: specops lint, specops run.
name: {ch.project}
description: {_q(f"A governed baseline model of {ch.label.name}.")}
specs: ["specs/**/*.yaml"]
vars:
  {var}: {threshold}
run_as: pipeline          # runs started without --as / SPECOPS_USER act as the pipeline
{trust}
people:
{people}
{registry}"""


def render_project(ch: InitChoices, guess: TableGuess, origin: str, *,
                   keys: bool = True) -> dict[str, str]:
    """Relative path -> file text of the project."""
    var, _, threshold = _quality_check(ch)
    return {
        "specops.yaml": _project_yaml(ch, origin, var, threshold, keys),
        "specs/source.yaml": _source_yaml(guess, ch),
        "specs/gates.yaml": _gates_yaml(ch),
        "specs/model.yaml": _model_yaml(ch),
        "specs/governance.yaml": _GOVERNANCE,
        ".gitignore": "# private keys are never committed; data and run state stay local\n"
                      ".keys/\n.specops/\ndata/\n",
    }
