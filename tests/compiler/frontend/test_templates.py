"""Templated values: native types, StrictUndefined, the sandbox, and error lines."""

from __future__ import annotations

import sys
import time
from typing import Any

import pytest

from specops.compiler.diagnostics.diagnostic import Diagnostic
from specops.compiler.frontend.loader import Document, load_text
from specops.compiler.frontend.templates import render_document

VARS: dict[str, Any] = {"n": 3, "f": 0.5, "b": True, "s": "data", "xs": [1, 2],
                        "data_dir": "data"}


def render(text: str, variables: dict[str, Any] | None = None) -> tuple[Document,
                                                                       list[Diagnostic]]:
    docs, diags = load_text("f.yaml", text)
    assert diags == []
    doc = docs[0]
    return doc, render_document(doc, VARS if variables is None else variables)


@pytest.mark.parametrize(("value", "expected"), [
    ('"{{ n }}"', 3), ('"{{ f }}"', 0.5), ('"{{ b }}"', True), ('"{{ xs }}"', [1, 2]),
    ('"{{ n * 2 }}"', 6), ('"{{ (1, 2) }}"', [1, 2]), ('"{{ none }}"', None),
    ('" {{ n }} "', 3),                      # surrounding spaces do not matter
    ('"{{ s }}/x.parquet"', "data/x.parquet"), ('"n={{ n }}"', "n=3"),
    ('"{{ n }}{{ n }}"', "33"),                # two expressions: a string
    ('"{% if b %}yes{% endif %}"', "yes"), ('"{{ s | upper }}"', "DATA"),
    ('"{{ x is defined }}"', False),
])
def test_rendering_and_native_types(value: str, expected: Any) -> None:
    doc, diags = render(f"a: {value}\n", {**VARS, "none": None})
    assert diags == []
    assert doc.data["a"] == expected


def test_rendering_reaches_nested_values_but_not_keys() -> None:
    doc, diags = render('"{{ s }}": {k: ["{{ n }}", {z: "{{ s }}"}]}\n')
    assert diags == []
    assert doc.data == {"{{ s }}": {"k": [3, {"z": "data"}]}}


def test_rendered_text_is_not_rendered_again() -> None:
    doc, diags = render("a: \"{{ '{{ n }}' }}\"\n")
    assert diags == [] and doc.data["a"] == "{{ n }}"


def test_strict_undefined_with_did_you_mean() -> None:
    doc, diags = render('a: 1\nb: "{{ data_dri }}/x"\n')
    assert [(d.code, d.span.line, d.span.col) for d in diags] == [("SPEC152", 2, 4)]
    assert diags[0].help == "did you mean `data_dir`?"
    assert doc.data["b"] == "{{ data_dri }}/x"   # left as written, and flagged
    assert ("b",) in doc.flagged


def test_undefined_without_a_close_name_says_how_to_define_it() -> None:
    _, diags = render('a: "{{ zzz }}"\n')
    assert "--var" in (diags[0].help or "")


def test_attribute_of_undefined_is_an_error() -> None:
    _, diags = render('a: "{{ s.nope.deeper }}"\n')
    assert [d.code for d in diags] == ["SPEC152"]


@pytest.mark.parametrize("expr", [
    "''.__class__",
    "''.__class__.__mro__",
    "''.__class__.__mro__[1].__subclasses__()",
    "cycler.__init__.__globals__",
    "cycler.__init__.__globals__.os.popen('id').read()",
    "lipsum.__globals__['os']",
    "joiner.__init__.__globals__",
    "namespace.__init__.__globals__",
    "self.__init__.__globals__",
    "s.__class__.__base__.__subclasses__()",
    "'{0.__class__}'.format(s)",
    "'{0.__class__.__mro__}'.format(1)",
    "xs.__class__",
    "range.__self__",
    "[].append(1)",
    "{}.update(a=1)",
    "xs.pop()",
    "xs.clear()",
    "{}.setdefault('a', 1)",
    "'x' * 10 ** 9",
    "[0] * 10 ** 8",
    "10 ** 100000000",
    "range(10 ** 9) | list",
])
def test_sandbox_refuses_escapes_mutation_and_bombs(expr: str) -> None:
    start = time.perf_counter()
    doc, diags = render(f'a: "{{{{ {expr} }}}}"\nb: "x {{{{ {expr} }}}} y"\n')
    assert time.perf_counter() - start < 5
    found = {d.code for d in diags}
    # refused by the sandbox, or (self, x.format_map) not there at all: never rendered
    assert found <= {"SPEC152", "SPEC153", "SPEC154"} and found, diags
    assert doc.data["a"].startswith("{{") and doc.data["b"].startswith("x {{")


def test_syntax_error_on_a_later_line_of_a_literal_block() -> None:
    text = "a: 1\nb: |\n  line one {{ n }}\n  line two\n  line three {{ n + }}\n  end\n"
    _, diags = render(text)
    assert [(d.code, d.span.line) for d in diags] == [("SPEC151", 5)]


def test_syntax_error_in_a_folded_block_points_at_the_value() -> None:
    text = "a: 1\nb: >\n  line one\n  line two {{ n + }}\n"
    _, diags = render(text)
    assert [(d.code, d.span.line) for d in diags] == [("SPEC151", 2)]


def test_runtime_errors_and_non_plain_results() -> None:
    _, diags = render('a: "{{ 1 // 0 }}"\nb: "{{ cycler }}"\nc: "{{ n + \'x\' }}"\n')
    assert [(d.code, d.span.line) for d in diags] == [("SPEC154", 1), ("SPEC154", 2),
                                                       ("SPEC154", 3)]


def test_small_products_and_powers_still_work() -> None:
    doc, diags = render('a: "{{ range(3) | list }}"\nb: "{{ \'ab\' * 2 }}"\n'
                        'c: "{{ 2 ** 10 }}"\nd: "{{ \'%05d\' % n }}"\n'
                        'e: "{{ \'{}-{}\'.format(s, n) }}"\n')
    assert diags == []
    assert doc.data == {"a": [0, 1, 2], "b": "abab", "c": 1024, "d": "00003", "e": "data-3"}


@pytest.mark.parametrize("template", [
    "{% for i in range(3) %}{{ i }}{% endfor %}",
    "{% set ns = namespace(s='x') %}{{ ns.s }}",
    "{% macro m() %}x{% endmacro %}",
    "{% include 'other.yaml' %}",
    "{% with a = 1 %}{{ a }}{% endwith %}",
    "{% filter upper %}x{% endfilter %}",
])
def test_statements_other_than_if_are_refused(template: str) -> None:
    _, diags = render(f'a: "{template}"\n')
    assert [d.code for d in diags] == ["SPEC153"]
    assert "statements are not allowed" in diags[0].message


@pytest.mark.parametrize("expr", [
    "'x'.ljust(10 ** 9)", "'x' | center(1000000000)", "s | indent(100000000)",
    "'%999999999s' % 'x'", "'%*s' % (1000000000, 'x')", "'{:>999999999}'.format(1)",
    "'{:>{}}'.format(1, 1000000000)", "xs | batch(1000000000) | list",
])
def test_size_arguments_are_bounded(expr: str) -> None:
    _, diags = render(f'a: "{{{{ {expr} }}}}"\n')
    assert [d.code for d in diags] == ["SPEC153"]


@pytest.mark.skipif(sys.platform != "linux", reason="the memory cap uses RLIMIT_AS")
@pytest.mark.parametrize("expr", ["('a' * 100000) | replace('a', 'a' * 100000)",
                                  "([0] * 100000) | join('x' * 100000)"])
def test_multiplicative_string_work_hits_the_memory_cap(expr: str) -> None:
    start = time.perf_counter()
    _, diags = render(f'a: "{{{{ {expr} }}}}"\n')
    assert [d.code for d in diags] == ["SPEC154"] and "MiB" in diags[0].message
    assert time.perf_counter() - start < 5
