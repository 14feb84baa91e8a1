"""`specops lint`'s cache (passes/lint_incremental.py, lint_cache.py) never changes what
lint reports: cached, replayed and incremental runs give exactly the uncached diagnostics,
a change reaches the documents that use what changed, and a tampered or foreign cache is
not believed."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest
from broken_cases import MINIMAL, Case, cases, materialise, read_case

from specops.compiler.cli.main import main
from specops.compiler.passes.lint import LintResult, lint_paths

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
CORPUS = [*cases(), *(read_case(p) for p in sorted((FIXTURES / "semantic").iterdir())
                      if (p / "expected.txt").is_file())]


@pytest.fixture(autouse=True)
def _own_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """This test's own HMAC key (the cache key lives under XDG_CACHE_HOME)."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))


def _shown(r: LintResult) -> list[str]:
    return [f"{d.location()} {d.code} {d.severity.label} {d.message} {d.related}"
            for d in r.diagnostics]


def _both(root: Path, variables: dict[str, str]) -> tuple[LintResult, LintResult]:
    return (lint_paths([root], variables, base=root, cache=True),
            lint_paths([root], variables, base=root))


@pytest.mark.parametrize("case", CORPUS, ids=lambda c: c.name)
def test_cached_lint_equals_uncached_on_the_corpus(case: Case, tmp_path: Path) -> None:
    """The valid minimal project is linted (cache written), then the case's files are laid
    over it as an edit: the run that re-checks from the cache reports exactly what a lint
    without cache reports; so does the replay that follows."""
    if case.bare or case.remove or case.generate:
        root = materialise(case, tmp_path)
        first, plain = _both(root, case.variables)
        assert first.how in ("cold", "off") and _shown(first) == _shown(plain)  # off: no root
    else:
        root = tmp_path / case.name
        shutil.copytree(MINIMAL, root)
        assert lint_paths([root], case.variables, base=root, cache=True).how == "cold"
        for src in sorted(case.folder.rglob("*")):
            if src.is_file() and src.name != "expected.txt":
                dest = root / src.relative_to(case.folder)
                dest.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(src, dest)
        first, plain = _both(root, case.variables)
        # a new specops.yaml (or trust lock) is another cache key: linted from scratch
        outside_specs = any(f.relative_to(case.folder).parts[0] != "specs"
                            for f in case.folder.rglob("*") if f.is_file()
                            and f.name != "expected.txt")
        assert first.how in (("incremental", "full", "cold") if outside_specs
                             else ("incremental", "full"))
        assert _shown(first) == _shown(plain)
    again, plain = _both(root, case.variables)
    assert _shown(again) == _shown(plain)
    if first.how == "incremental":   # (a project where a file fails to load is not cached)
        assert again.how == "replayed"


def _project(tmp_path: Path) -> Path:
    root = tmp_path / "p"
    shutil.copytree(MINIMAL, root)
    return root


def test_a_view_change_reaches_the_model_that_uses_it(tmp_path: Path) -> None:
    root = _project(tmp_path)
    first = lint_paths([root], {}, base=root, cache=True)
    assert first.how == "cold" and first.diagnostics == []
    view = root / "specs" / "feature.yaml"
    view.write_text(view.read_text().replace("version: 1", "version: 2"))
    after = lint_paths([root], {}, base=root, cache=True)
    assert after.how == "incremental"        # re-checked from the cache, not whole
    in_model = [d for d in after.diagnostics if d.file == "specs/model.yaml"]
    assert [d.code for d in in_model] == ["SPEC303"], "the model uses loan_features@1"
    assert _shown(after) == _shown(lint_paths([root], {}, base=root))
    view.write_text(view.read_text().replace("version: 2", "version: 1"))
    back = lint_paths([root], {}, base=root, cache=True)
    assert back.how == "incremental" and _shown(back) == _shown(first)


def test_a_model_change_rechecks_only_from_the_cache(tmp_path: Path) -> None:
    root = _project(tmp_path)
    lint_paths([root], {}, base=root, cache=True)
    model = root / "specs" / "model.yaml"
    model.write_text(model.read_text().replace("gates: [quality]", "gates: [qualty]"))
    after = lint_paths([root], {}, base=root, cache=True)
    assert after.how == "incremental"
    assert [d.code for d in after.diagnostics if d.file == "specs/model.yaml"] == ["SPEC304"]
    assert _shown(after) == _shown(lint_paths([root], {}, base=root))


def _entry(root: Path) -> Path:
    entries = list((root / ".specops" / "cache" / "lint").glob("*.json"))
    assert len(entries) == 1
    return entries[0]


def test_a_tampered_entry_cannot_hide_a_diagnostic(tmp_path: Path) -> None:
    root = _project(tmp_path)
    model = root / "specs" / "model.yaml"
    model.write_text(model.read_text().replace("gates: [quality]", "gates: [qualty]"))
    assert [d.code for d in lint_paths([root], {}, base=root, cache=True).diagnostics] == \
        ["SPEC304"]
    entry = _entry(root)
    head, body = entry.read_bytes().split(b"\n", 1)
    assert b"SPEC304" in body
    # drop the finding, keeping the entry well-formed JSON of the right shape
    data = json.loads(body)
    for f in data["files"].values():
        for doc in f["docs"]:
            doc[6] = [x for x in doc[6] if x[0] != "SPEC304"]
    forged = json.dumps(data).encode()
    plain_sha = hashlib.sha256(forged).hexdigest().encode()
    for first_line in (head, head[:-64] + plain_sha):  # the old MAC, or a recomputed hash
        entry.write_bytes(first_line + b"\n" + forged)
        again = lint_paths([root], {}, base=root, cache=True)
        assert again.how == "cold"            # not believed: linted from scratch
        assert [d.code for d in again.diagnostics] == ["SPEC304"]


def test_a_foreign_cache_is_ignored(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An entry written under another account's key (a restored CI cache) is not used."""
    root = _project(tmp_path)
    lint_paths([root], {}, base=root, cache=True)
    assert lint_paths([root], {}, base=root, cache=True).how == "replayed"
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "someone-else"))
    assert lint_paths([root], {}, base=root, cache=True).how == "cold"


def test_no_cache_writes_nothing_and_cache_dir_moves_it(tmp_path: Path) -> None:
    root = _project(tmp_path)
    assert main(["lint", "-q", "--no-cache", str(root)]) == 0
    assert not (root / ".specops").exists()
    assert main(["lint", "-q", "--cache-dir", str(tmp_path / "elsewhere"), str(root)]) == 0
    assert not (root / ".specops").exists()
    assert len(list((tmp_path / "elsewhere").glob("*.json"))) == 1
    assert main(["lint", "-q", str(root)]) == 0
    assert len(list((root / ".specops" / "cache" / "lint").glob("*.json"))) == 1


def test_a_linked_specops_folder_is_not_written_through(tmp_path: Path) -> None:
    root = _project(tmp_path)
    outside = tmp_path / "outside"
    outside.mkdir()
    (root / ".specops").symlink_to(outside, target_is_directory=True)
    result = lint_paths([root], {}, base=root, cache=True)
    assert result.how == "off" and list(outside.iterdir()) == []


def test_a_changed_policy_pack_voids_every_entry() -> None:
    """Built-in packs are policies lint applies to every model: an edited pack (an
    editable install, a patched site-packages) must not replay the old diagnostics, so
    every pack file is part of the code stamp of each entry's key."""
    from importlib import resources

    from specops.compiler.frontend.packs import available_packs
    from specops.compiler.passes.lint_incremental import stamped_files

    _, files = stamped_files()
    stamped = {p.resolve() for p in files}
    packs = resources.files("specops.specs").joinpath("packs")
    names = available_packs()
    assert names, "no built-in packs found"
    for name in names:
        assert Path(str(packs.joinpath(f"{name}.yaml"))).resolve() in stamped, name
