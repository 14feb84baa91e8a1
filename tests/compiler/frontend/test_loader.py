"""The positional YAML loader: safe values, exact spans, and bounded work on hostile input."""

from __future__ import annotations

import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from specops.compiler.frontend import loader
from specops.compiler.frontend.loader import MAX_DOCUMENTS, MAX_FILE_BYTES, MAX_NODES, load_text


def codes(text: str | bytes) -> list[tuple[str, int, int]]:
    _, diags = load_text("f.yaml", text)
    return [(d.code, d.span.line, d.span.col) for d in diags]


def test_values_and_spans() -> None:
    docs, diags = load_text("f.yaml", "kind: gate\nchecks:\n  - roc_auc > 0.7\n  - {check: x}\n")
    assert diags == []
    doc = docs[0]
    assert doc.data == {"kind": "gate", "checks": ["roc_auc > 0.7", {"check": "x"}]}
    assert (doc.key_span(("checks",)).line, doc.key_span(("checks",)).col) == (2, 1)
    assert (doc.value_span(("checks", 0)).line, doc.value_span(("checks", 0)).col) == (3, 5)
    assert doc.value_span(("checks", 1, "check")).col == 13
    # a path that does not exist falls back to its nearest ancestor
    assert doc.value_span(("checks", 1, "nope")) == doc.value_span(("checks", 1))


def test_duplicate_key_is_an_error_at_the_second_key() -> None:
    docs, diags = load_text("f.yaml", "a: 1\nb: 2\na: 3\n")
    assert [(d.code, d.span.line, d.span.col) for d in diags] == [("SPEC102", 3, 1)]
    assert "line 1" in (diags[0].help or "")
    assert docs[0].data == {"a": 1, "b": 2}  # the first one wins, and we said so


@pytest.mark.parametrize("word", ["yes", "no", "on", "off", "Yes", "NO", "y", "n", "Y", "N"])
def test_yaml11_booleans_are_flagged(word: str) -> None:
    docs, diags = load_text("f.yaml", f"a: {word}\n")
    assert [(d.code, d.span.line, d.span.col) for d in diags] == [("SPEC103", 1, 4)]
    assert docs[0].data == {"a": word}  # kept as the string the author wrote
    assert ("a",) in docs[0].flagged


@pytest.mark.parametrize("text", ['a: "no"\n', "a: 'yes'\n", "a: true\n", "a: false\n",
                                  "a: [\"y\", 'n']\n", "a: nope\n"])
def test_quoted_words_and_real_booleans_are_fine(text: str) -> None:
    assert codes(text) == []


def test_boolean_and_null_keys() -> None:
    assert codes("on: 1\n") == [("SPEC107", 1, 1)]
    assert codes("~: 1\n") == [("SPEC107", 1, 1)]
    assert codes("? [a]\n: 1\n") == [("SPEC107", 1, 3)]


@pytest.mark.parametrize("text", [
    "a: !!python/object/apply:os.system ['echo hi']\n",
    "a: !!python/name:os.system\n",
    "a: !!python/object:collections.OrderedDict {}\n",
    "a: !Ref b\n",
    "a: !!binary aGk=\n",
    "a: !!set {x}\n",
])
def test_tags_are_refused_and_nothing_is_constructed(text: str) -> None:
    docs, diags = load_text("f.yaml", text)
    assert [d.code for d in diags] == ["SPEC104"]
    value = docs[0].data["a"]
    assert isinstance(value, str | list | dict)
    assert ("a",) in docs[0].flagged


def test_several_documents_keep_their_lines() -> None:
    docs, diags = load_text("f.yaml", "a: 1\n---\nb: 2\n---\n---\nc: 3\n---\n")
    assert diags == []
    assert [d.data for d in docs] == [{"a": 1}, {"b": 2}, {"c": 3}]
    assert [d.span.line for d in docs] == [1, 3, 6]


@pytest.mark.parametrize("text", ["", "\n\n", "# only a comment\n", "---\n", "---\n...\n"])
def test_empty_files_warn(text: str) -> None:
    assert codes(text) == [("SPEC004", 1, 1)]


def test_alias_bomb_is_refused_quickly() -> None:
    text = 'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n'
    prev = "a"
    for name in "bcdefghi":
        text += f"{name}: &{name} [{', '.join(['*' + prev] * 9)}]\n"
        prev = name
    start = time.perf_counter()
    docs, diags = load_text("f.yaml", text)
    assert time.perf_counter() - start < 5
    assert [d.code for d in diags] == ["SPEC105"] and docs == []


def test_reasonable_anchor_reuse_is_fine() -> None:
    text = "base: &b {x: 1, y: [1, 2, 3]}\n" + "".join(f"k{i}: *b\n" for i in range(200))
    docs, diags = load_text("f.yaml", text)
    assert diags == [] and docs[0].data["k199"] == {"x": 1, "y": [1, 2, 3]}


@pytest.mark.parametrize("text", ["a: &x [*x]\n", "a: &x {b: *x}\n",
                                  "a: " + "[" * 70 + "]" * 70 + "\n",
                                  "a: " + "[" * 20000 + "]" * 20000 + "\n",
                                  "a: " + "{b: " * 5000 + "1" + "}" * 5000 + "\n"])
def test_deep_and_recursive_documents_are_refused(text: str) -> None:
    found = codes(text)
    assert [c for c, *_ in found] == ["SPEC106"]
    assert found[0][1] == 1


def test_huge_file_is_refused_before_parsing() -> None:
    raw = b"a: 1\n" + b"#" * MAX_FILE_BYTES
    assert codes(raw) == [("SPEC003", 1, 1)]


def test_binary_and_bad_encodings() -> None:
    assert codes(b"a: 1\x00\n") == [("SPEC002", 1, 1)]
    assert codes(b"a: 1\nb: caf\xe9\n") == [("SPEC002", 2, 1)]
    assert codes("a: 1\nb: x\x07\n") == [("SPEC002", 2, 5)]
    docs, diags = load_text("f.yaml", b"\xef\xbb\xbfa: 1\n")  # a UTF-8 BOM is fine
    assert diags == [] and docs[0].data == {"a": 1}


@pytest.mark.parametrize(("text", "where"), [
    ('a: 1\nb: "abc\nc: 2\n', (2, 4)),          # unclosed quote: where it opens
    ("a: [1, 2\nb: 3\n", (2, 2)),
    ("a:\n\tb: 1\n", (2, 1)),
    ("a: b: c\n", (1, 5)),
    ("a:\n  b: 1\n c: 2\n", (3, 2)),
    ("a: *nope\n", (1, 4)),
    ("a: [\n", (1, 5)),
])
def test_syntax_errors_point_inside_the_file(text: str, where: tuple[int, int]) -> None:
    found = codes(text)
    assert found == [("SPEC101", *where)]
    assert found[0][1] <= len(text.splitlines())


def test_parsing_resumes_after_a_syntax_error_at_the_next_document() -> None:
    text = "a: [\n---\nb: 1\nb: 2\n---\nc: {\n---\nd: 4\n"
    docs, diags = load_text("f.yaml", text)
    assert [(d.code, d.span.line) for d in diags] == [("SPEC101", 2), ("SPEC102", 4),
                                                       ("SPEC101", 7)]
    assert [d.data for d in docs] == [{"b": 1}, {"d": 4}]
    assert docs[1].span.line == 8


def test_merge_keys() -> None:
    docs, diags = load_text("f.yaml", "base: &b {x: 1, y: 2}\nc:\n  <<: *b\n  y: 3\n")
    assert diags == []
    assert docs[0].data["c"] == {"x": 1, "y": 3}
    assert codes("c:\n  <<: 5\n") == [("SPEC108", 2, 7)]


def test_numbers() -> None:
    text = "a: 0x1F\nb: 1.5\nc: 1e3\nd: .inf\ne: ~\nf: 007\ng: 1e-4\nh: '1e3'\n"
    docs, diags = load_text("f.yaml", text)
    assert diags == []
    assert docs[0].data == {"a": 31, "b": 1.5, "c": 1000.0, "d": float("inf"), "e": None,
                            "f": 7, "g": 1e-4, "h": "1e3"}


def test_literal_block_scalars_remember_their_first_content_line() -> None:
    docs, _ = load_text("f.yaml", "a: 1\nb: |\n  one\n  two\nc: >\n  x\n  y\n")
    assert docs[0].literal_lines == {("b",): 3}
    assert docs[0].data["b"] == "one\ntwo\n"


def test_non_mapping_documents_load_as_they_are() -> None:
    docs, diags = load_text("f.yaml", "- a\n- b\n---\ntext\n")
    assert diags == [] and [d.data for d in docs] == [["a", "b"], "text"]


def test_too_many_documents_are_refused() -> None:
    docs, diags = load_text("f.yaml", "a: 1\n---\n" * (MAX_DOCUMENTS + 5))
    assert len(docs) == MAX_DOCUMENTS
    assert [(d.code, d.span.line) for d in diags] == [("SPEC105", 2 * MAX_DOCUMENTS + 1)]


def test_too_many_values_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    assert MAX_NODES >= 100_000  # real specs never come close
    monkeypatch.setattr(loader, "MAX_NODES", 1000)
    docs, diags = load_text("f.yaml", "a: [" + "1," * 1000 + "1]\n")
    assert docs == [] and [d.code for d in diags] == ["SPEC105"]


YAMLISH = st.lists(st.sampled_from([*"ab:-[]{},&*!|>'\"#%@`? \t\n\r", "~", "no", "1e3",
                                    "---", "<<", "é", "\x85", "\u2028", "\ufeff", "\x00", "{{"]),
                   max_size=40).map("".join)


@settings(max_examples=300, deadline=None)
@given(raw=st.one_of(YAMLISH, st.binary(max_size=80)))
def test_load_text_never_raises_and_points_inside(raw: str | bytes) -> None:
    docs, diags = load_text("f.yaml", raw)
    text = raw.decode("utf-8", errors="replace") if isinstance(raw, bytes) else raw
    lines = text.splitlines() or [""]
    for d in diags:
        assert 1 <= d.span.line <= len(lines), (d, lines)
        assert 1 <= d.span.col <= len(lines[d.span.line - 1]) + 1, (d, lines)
    for doc in docs:
        assert doc.span.line >= 1
