"""check_expression: issues become Diagnostics at file columns (quoted and plain values)."""

from __future__ import annotations

from pathlib import Path

from specops.compiler.diagnostics.diagnostic import Diagnostic, Severity, Span
from specops.compiler.expr import (
    approval_env,
    check_expression,
    check_spec_expression,
    feature_env,
    gate_env,
    policy_env,
    text_offset,
)
from specops.compiler.frontend.project import Project, load_project
from specops.compiler.passes.context import Context

ENV = feature_env({"income": "float64", "region": "string"})


def test_plain_value_columns() -> None:
    line = "  log_income: log1p(region)"
    span = Span(7, 15, 7, 28)                     # value starts at column 15 (1-based)
    offset = text_offset(line, span)
    assert offset == 0
    tree, diags = check_expression("log1p(region)", ENV, file="f.yaml", span=span,
                                   offset=offset)
    assert tree is None
    [d] = diags
    assert (d.code, d.span, d.severity) == ("SPEC404", Span(7, 21, 7, 27), Severity.ERROR)
    assert line[d.span.col - 1:d.span.end_col - 1] == "region"


def test_quoted_value_columns() -> None:
    line = '  - "min(roc_auc by regoin) >= 0.70"'
    span = Span(3, 5, 3, 37)                      # starts at the opening quote
    offset = text_offset(line, span)
    assert offset == 1
    env = gate_env("binary_classification", slices=["region"])
    _, [d] = check_expression("min(roc_auc by regoin) >= 0.70", env, file="g.yaml",
                              span=span, offset=offset)
    assert d.code == "SPEC403" and line[d.span.col - 1:d.span.end_col - 1] == "regoin"
    assert d.help == "did you mean `region`?"


def test_block_scalar_falls_back_to_whole_value() -> None:
    span = Span(4, 9, 6, 1)
    assert text_offset("  expr: >", span) is None
    assert text_offset("  expr: |", Span(4, 9, 4, 10)) is None
    _, [d] = check_expression("incme", ENV, file="f.yaml", span=span, offset=None)
    assert d.span == span


def test_success_returns_tree_and_no_diagnostics() -> None:
    tree, diags = check_expression("log1p(income)", ENV, file="f.yaml",
                                   span=Span(1, 1, 1, 14))
    assert diags == [] and tree is not None and tree["type"] == "float64"


def _project(tmp_path: Path, gate_yaml: str) -> Project:
    (tmp_path / "specops.yaml").write_text("name: demo\nspecs: ['specs/*.yaml']\n")
    (tmp_path / "specs").mkdir()
    (tmp_path / "specs" / "gate.yaml").write_text(gate_yaml)
    return load_project([tmp_path])


def _gate_diagnostics(tmp_path: Path, gate_yaml: str) -> tuple[list[str], list[Diagnostic]]:
    project = _project(tmp_path, gate_yaml)
    ctx = Context(project)
    [loaded] = [s for s in project.specs if s.kind == "gate"]
    env = gate_env("binary_classification", slices=["region"], protected=["sex"])
    for i, item in enumerate(loaded.spec.checks):
        text = item if isinstance(item, str) else item.check
        path: tuple[str | int, ...] = ("checks", i) if isinstance(item, str) \
            else ("checks", i, "check")
        check_spec_expression(ctx, loaded, text, env, *path)
    lines = project.files[loaded.file].text.splitlines()
    return lines, ctx.diagnostics


def test_check_spec_expression_points_into_the_yaml(tmp_path: Path) -> None:
    lines, diags = _gate_diagnostics(tmp_path, (
        "kind: gate\n"
        "name: g\n"
        "checks:\n"
        '  - "min(roc_auc by regoin) >= 0.7"\n'
        "  - rmse <= 1\n"
        "  - check: 'disparate_impact(age) >= 0.8'\n"
        "  - check: >\n"
        "      roc_auc >=\n"
        "      __import__\n"
    ))
    found = [(d.code, d.span.line, lines[d.span.line - 1][d.span.col - 1:d.span.end_col - 1])
             for d in diags]
    assert found[:3] == [("SPEC403", 4, "regoin"), ("SPEC411", 5, "rmse"),
                         ("SPEC403", 6, "age")]
    # A folded block scalar has no single column: the whole value is reported.
    assert found[3][:2] == ("SPEC402", 7)


def test_example_project_expressions_all_compile() -> None:
    # the gate env below is credit-risk's (a classifier sliced by region); other examples
    # are compiled whole by their own end-to-end tests
    project_dir = Path(__file__).resolve().parents[3] / "examples" / "credit-risk"
    project = load_project([project_dir])
    ctx = Context(project)
    checked = 0
    sources = {s.name: s.spec for s in project.specs if s.kind == "source"}
    for loaded in project.specs:
        spec = loaded.spec
        if loaded.kind == "gate":
            env = gate_env("binary_classification", slices=["region"],
                           protected=["sex", "age"])
            for i, item in enumerate(spec.checks):
                text = item if isinstance(item, str) else item.check
                assert check_spec_expression(ctx, loaded, text, env, "checks", i) is not None
                checked += 1
        elif loaded.kind == "feature":
            cols = {n: c.type for n, c in sources[spec.source].columns.items()}
            for name, item in spec.features.items():
                text = item if isinstance(item, str) else item.expr
                assert check_spec_expression(ctx, loaded, text, feature_env(cols),
                                             "features", name) is not None
                checked += 1
        elif loaded.kind == "approval":
            for i, rule in enumerate(spec.rules):
                assert check_spec_expression(ctx, loaded, rule.when, approval_env(),
                                             "rules", i, "when") is not None
                checked += 1
        elif loaded.kind == "policy":
            for i, rule in enumerate(spec.rules):
                for key in ("when", "require"):
                    assert check_spec_expression(ctx, loaded, getattr(rule, key),
                                                 policy_env(rule.applies_to),
                                                 "rules", i, key) is not None
                    checked += 1
    assert ctx.diagnostics == [] and checked > 20


def test_rendered_or_escaped_text_falls_back_to_whole_value() -> None:
    span = Span(1, 5, 1, 22)
    assert text_offset('  - "roc_auc >= {{ x }}"', span, "roc_auc >= 0.7") is None
    assert text_offset('  - "a == \\"b\\""', span, 'a == "b"') is None
    assert text_offset('  - "roc_auc >= 0.7"', span, "roc_auc >= 0.7") == 1
