"""`specops compile`'s cache (plan/compile_cache.py) never changes what compile produces:
over lint's cache corpus, a compile through the cache (stored, then replayed, then after
an edit) gives byte for byte the plan of a compile without it, and the same findings; an
edit to one file reaches the plan; a tampered or foreign entry is not believed."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest
from broken_cases import MINIMAL, Case, cases, materialise, read_case

from specops.compiler.cli.main import main
from specops.compiler.plan.compile import compile_project
from specops.compiler.plan.compile_cache import Compiled, compile_with_cache, summarise

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
CORPUS = [*cases(), *(read_case(p) for p in sorted((FIXTURES / "semantic").iterdir())
                      if (p / "expected.txt").is_file())]


@pytest.fixture(autouse=True)
def _own_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """This test's own HMAC key (the key lives under XDG_CACHE_HOME)."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))


def _seen(c: Compiled) -> tuple[str, int, int, int, list[str]]:
    diags = [f"{d.location()} {d.code} {d.severity.label} {d.message} {d.related}"
             for d in c.result.diagnostics] if c.result is not None and not c.text else []
    return c.text, c.nodes, c.models, c.warnings, diags


def _plain(root: Path, variables: dict[str, str]) -> Compiled:
    return summarise(compile_project(root, variables, base=root), "off")


def _cached(root: Path, variables: dict[str, str] | None = None) -> Compiled:
    return compile_with_cache(root, variables or {}, base=root)


@pytest.mark.parametrize("case", CORPUS, ids=lambda c: c.name)
def test_cached_compile_equals_uncached_on_the_corpus(case: Case, tmp_path: Path) -> None:
    """The minimal project is compiled through the cache (its plan stored), then the
    case's files are laid over it: the compile through the cache gives exactly what a
    compile without it gives, and so does the next one (replayed when there is a plan)."""
    if case.bare or case.remove or case.generate:
        root = materialise(case, tmp_path)
    else:
        root = tmp_path / case.name
        shutil.copytree(MINIMAL, root)
        assert _cached(root, case.variables).how == "cold"
        for src in sorted(case.folder.rglob("*")):
            if src.is_file() and src.name != "expected.txt":
                dest = root / src.relative_to(case.folder)
                dest.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(src, dest)
    plain = _plain(root, case.variables)
    first = _cached(root, case.variables)
    assert first.how != "replayed"
    assert _seen(first) == _seen(plain)
    again = _cached(root, case.variables)
    assert _seen(again) == _seen(plain)
    assert again.how == ("replayed" if plain.text and first.how == "cold" else first.how)


def _project(tmp_path: Path) -> Path:
    root = tmp_path / "p"
    shutil.copytree(MINIMAL, root)
    return root


def test_a_replayed_plan_is_the_compiled_plan(tmp_path: Path) -> None:
    root = _project(tmp_path)
    first = _cached(root)
    again = _cached(root)
    assert (first.how, again.how) == ("cold", "replayed") and again.result is None
    assert _seen(again) == _seen(first) == _seen(_plain(root, {}))
    assert _cached(root, {"x": "1"}).how == "cold"     # other --var values: another key


def test_a_change_in_one_file_reaches_the_plan_of_another(tmp_path: Path) -> None:
    """A feature view's edit changes the training set of the model (another file) that
    reads it: the compile after the edit is not a replay and equals an uncached one."""
    root = _project(tmp_path)
    before = _cached(root)
    view = root / "specs" / "feature.yaml"
    text = view.read_text()
    assert '"log1p(income)"' in text
    view.write_text(text.replace('"log1p(income)"', '"log1p(income + 1)"'))
    after = _cached(root)
    assert after.how == "cold" and after.text != before.text
    assert _seen(after) == _seen(_plain(root, {}))
    view.write_text(text)   # the edit undone: the first plan, replayed
    back = _cached(root)
    assert back.how == "replayed" and back.text == before.text


def _entry(root: Path) -> Path:
    entries = list((root / ".specops" / "cache" / "compile").glob("*.json"))
    assert len(entries) == 1
    return entries[0]


def test_a_tampered_entry_is_not_replayed(tmp_path: Path) -> None:
    root = _project(tmp_path)
    honest = _cached(root).text
    entry = _entry(root)
    head, body = entry.read_bytes().split(b"\n", 1)
    data = json.loads(body)
    assert data["plan"] == honest
    data["plan"] = honest.replace('"train"', '"train_and_exfiltrate"')
    assert data["plan"] != honest
    forged = json.dumps(data).encode()
    plain_sha = hashlib.sha256(forged).hexdigest().encode()
    for first_line in (head, head[:-64] + plain_sha):   # the old MAC, or a recomputed hash
        entry.write_bytes(first_line + b"\n" + forged)
        again = _cached(root)
        assert again.how == "cold" and again.text == honest


def test_a_foreign_cache_is_ignored(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = _project(tmp_path)
    _cached(root)
    assert _cached(root).how == "replayed"
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "someone-else"))
    assert _cached(root).how == "cold"


def test_a_compile_with_errors_is_never_stored(tmp_path: Path) -> None:
    root = _project(tmp_path)
    model = root / "specs" / "model.yaml"
    model.write_text(model.read_text().replace("gates: [quality]", "gates: [qualty]"))
    for _ in range(2):
        c = _cached(root)
        assert c.how == "cold" and c.text == "" and c.result is not None
        assert [d.code for d in c.result.errors] == ["SPEC304"]
    assert not list((root / ".specops" / "cache" / "compile").glob("*.json"))


def test_cli_no_cache_writes_nothing(tmp_path: Path) -> None:
    root = _project(tmp_path)
    out = tmp_path / "plan.json"
    assert main(["compile", "--no-cache", str(root), "-o", str(out)]) == 0
    assert not (root / ".specops").exists()
    uncached = out.read_text()
    assert main(["compile", str(root), "-o", str(out)]) == 0
    _entry(root)
    assert main(["compile", str(root), "-o", str(out)]) == 0     # replayed
    assert out.read_text() == uncached
