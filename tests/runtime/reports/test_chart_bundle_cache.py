"""The Vega bundle's disk cache: built once per vl-convert version, reused by later
processes, and never inlined when it could end the report's <script> early."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from specops.runtime.reports import chart_kit


@pytest.fixture
def cache_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    chart_kit._bundle.cache_clear()
    yield tmp_path
    chart_kit._bundle.cache_clear()


def test_a_cached_bundle_is_reused_without_rebuilding(cache_home: Path) -> None:
    path = chart_kit._bundle_cache_path()
    assert path.is_relative_to(cache_home)
    path.parent.mkdir(parents=True)
    path.write_text("/* cached */ window.vegaEmbed = 1;", encoding="utf-8")
    assert chart_kit._bundle() == "/* cached */ window.vegaEmbed = 1;"


def test_a_bundle_that_would_close_the_script_is_refused(cache_home: Path) -> None:
    path = chart_kit._bundle_cache_path()
    path.parent.mkdir(parents=True)
    path.write_text("window.vegaEmbed = 1;</script><script>alert(1)", encoding="utf-8")
    with pytest.raises(RuntimeError, match="unusable; delete it to rebuild"):
        chart_kit._bundle()


def test_the_key_follows_the_vl_convert_version(cache_home: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    first = chart_kit._bundle_cache_path()
    monkeypatch.setattr(chart_kit.metadata, "version", lambda name: "0.0.0-other")
    assert chart_kit._bundle_cache_path() != first
