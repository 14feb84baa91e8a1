"""Each defect of the ahead-of-time categories, seeded by one edit into the credit-risk
example, is reported on the line that must change.

Why against the example and not only the fixture corpora: the example is what users copy
and what the outside corpus edits; a check that works on the minimal project but misses
(or mislocates) a defect in a realistic, multi-document project would go unnoticed. Each
row is (what, file edited, old text, new text, file, line, code) and lint must report
`code` at exactly that file and line; SPEC508 (trust root not accepted in a copy) is
ignored. The unedited example lints clean (no false positive).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from specops.compiler.passes.lint import lint_paths

EX = Path(__file__).resolve().parents[3] / "examples" / "credit-risk"
M, S, F, C = "specs/model.yaml", "specs/sources.yaml", "specs/features.yaml", "specops.yaml"
_OUTCOME_VIEW = (
    "---\nkind: feature\nname: outcome_view\nsource: outcomes\n"
    'entity: application_id\nfeatures:\n  past_default: "defaulted * 1"\n'
)

EDITS: list[tuple[str, str, str, str, str, int, str]] = [
    (
        "label as input",
        M,
        "    - applications.region\n",
        "    - applications.region\n    - outcomes.defaulted\n",
        M,
        20,
        "SPEC430",
    ),
    ("view from label", F, '0.0)"\n', '0.0)"\n' + _OUTCOME_VIEW, M, 20, "SPEC430"),
    ("validator unknown", M, "validator: bob", "validator: zoe", M, 7, "SPEC307"),
    ("author unknown", M, "authors: [alice]", "authors: [alice, zed]", M, 6, "SPEC307"),
    (
        "owner team unknown",
        M,
        "owner: team:credit_risk",
        "owner: team:credit_riks",
        M,
        5,
        "SPEC307",
    ),
    (
        "permissions role",
        C,
        "  approve: [model_risk_officer, business_owner]",
        "  approve: [model_risk_officer, business_owner, risk_committee]",
        C,
        38,
        "SPEC307",
    ),
    ("spine no timestamp", S, "timestamp: applied_at\n", "", M, 21, "SPEC420"),
    (
        "timestamp string",
        S,
        "  applied_at: {type: datetime, nullable: false}",
        "  applied_at: {type: string, nullable: false}",
        S,
        8,
        "SPEC431",
    ),
    (
        "timestamp non-datetime col",
        S,
        "timestamp: applied_at",
        "timestamp: income",
        S,
        8,
        "SPEC431",
    ),
    (
        "restricted no ttl",
        F,
        "ttl: 365d\naccess: restricted\ngrants: [team:credit_risk]\nfeatures:\n"
        '  utilization: "clip',
        'access: restricted\ngrants: [team:credit_risk]\nfeatures:\n  utilization: "clip',
        F,
        20,
        "SPEC432",
    ),
    ("window 0d", M, "  window: 7d", "  window: 0d", M, 38, "SPEC204"),
    ("feature window 0d", F, "agg: sum, window: 365d", "agg: sum, window: 0d", F, 26, "SPEC204"),
    ("warn above alert", M, "warn: 0.1, alert: 0.25", "warn: 0.3, alert: 0.25", M, 37, "SPEC204"),
    ("warn above default", M, "warn: 0.1, alert: 0.25,", "warn: 0.3,", M, 37, "SPEC204"),
    (
        "js above max",
        M,
        "method: psi, warn: 0.1, alert: 0.25",
        "method: jensenshannon, warn: 0.1, alert: 0.9",
        M,
        37,
        "SPEC204",
    ),
    (
        "row_count",
        S,
        "  row_count: {min: 1000}\n  max_null_share",
        "  row_count: {min: 1000, max: 10}\n  max_null_share",
        S,
        21,
        "SPEC204",
    ),
    (
        "col min>max",
        S,
        "age: {type: int64, min: 18, max: 100",
        "age: {type: int64, min: 100, max: 18",
        S,
        16,
        "SPEC204",
    ),
    (
        "in wrong type",
        S,
        "term_months: {type: int64, in: [12, 24, 36, 48, 60]}",
        'term_months: {type: int64, in: ["12", "24"]}',
        S,
        15,
        "SPEC204",
    ),
    (
        "in wrong type 2",
        S,
        "region: {type: string, in: [north, south, east, west]}",
        "region: {type: int64, in: [north, south, east, west]}",
        S,
        18,
        "SPEC204",
    ),
    (
        "csv on parquet",
        S,
        'path: "{{ data_dir }}/applications.parquet"\n',
        'path: "{{ data_dir }}/applications.parquet"\nformat: csv\n',
        S,
        7,
        "SPEC204",
    ),
    (
        "webhook",
        M,
        "  cooldown: 7d\n",
        "  cooldown: 7d\n  webhook: slack-alerts\n",
        M,
        43,
        "SPEC204",
    ),
    ("max_depth 0", M, "max_depth: [3, 5]", "max_depth: [0, 5]", M, 25, "SPEC416"),
    (
        "max_depth 0 params",
        M,
        "params: {max_iter: 100, random_state: 0}",
        "params: {max_iter: 100, random_state: 0, max_depth: 0}",
        M,
        24,
        "SPEC416",
    ),
    (
        "warm_start",
        M,
        "params: {max_iter: 100, random_state: 0}",
        "params: {max_iter: 100, random_state: 0, warm_start: true}",
        M,
        24,
        "SPEC416",
    ),
    (
        "learning rate neg",
        M,
        "learning_rate: [0.05, 0.1]",
        "learning_rate: [0.05, -0.1]",
        M,
        25,
        "SPEC416",
    ),
    ("cadence 0", M, "review_cadence: 52w", "review_cadence: 0w", M, 43, "SPEC204"),
]


def _lint(root: Path) -> list[tuple[str, int, str]]:
    result = lint_paths([root], {}, base=root)
    return [(d.file, d.span.line, d.code) for d in result.diagnostics if d.code != "SPEC508"]


def test_the_example_is_clean(tmp_path: Path) -> None:
    root = tmp_path / "p"
    shutil.copytree(EX, root, ignore=shutil.ignore_patterns("data", ".specops"))
    assert _lint(root) == []


@pytest.mark.parametrize("edit", EDITS, ids=[e[0] for e in EDITS])
def test_seeded_defect_is_located(
    edit: tuple[str, str, str, str, str, int, str], tmp_path: Path
) -> None:
    name, rel, old, new, file, line, code = edit
    root = tmp_path / "p"
    shutil.copytree(EX, root, ignore=shutil.ignore_patterns("data", ".specops"))
    path = root / rel
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{name}: the example changed; update the edit"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    if name == "view from label":
        model = root / M
        model.write_text(
            model.read_text(encoding="utf-8").replace(
                "    - applications.region\n", "    - applications.region\n    - outcome_view@1\n"
            ),
            encoding="utf-8",
        )
    assert (file, line, code) in _lint(root)
