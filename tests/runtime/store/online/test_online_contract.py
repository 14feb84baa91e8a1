"""The OnlineStore contract, on the embedded SQLite store and on a real Redis.

Each case would fail on a plausible bug: a write that keeps the older row, a tie broken
the wrong way, a float rounded through text, an int turned into a float, lookups returned
out of order, one view's keys answered from another, a Redis read split into one round
trip per key or per view.
"""

from __future__ import annotations

import math
import struct
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from online_store_helpers import redis_url_or_skip

from specops.compiler.cli.main import main
from specops.runtime.store.online import (
    OnlineStoreError,
    OnlineValue,
    open_online_store,
    resolve_online_url,
)
from specops.runtime.store.online.codec import decode_value, encode_value

V = "bureau_history@2"


def _bits(x: float) -> bytes:
    return struct.pack("<d", x)


def test_values_round_trip_exactly(online_store) -> None:
    tricky = {"third": 1 / 3, "tiny": 5e-324, "neg_zero": -0.0, "big": 1.7976931348623157e308,
              "nan": math.nan, "inf": -math.inf, "int": 3, "huge_int": 2 ** 62 + 1,
              "float_whole": 2.0, "none": None, "text": "naïve \"q\"", "flag": True,
              "when": datetime(2025, 3, 1, 12, 30, 0, 7, tzinfo=UTC), "day": date(2024, 2, 29)}
    assert online_store.write(V, [((7,), OnlineValue(tricky, 10, 20))]) == 1
    got = online_store.read_many({V: [(7,)]})[V][0]
    assert got is not None and (got.event_ts_us, got.created_ts_us) == (10, 20)
    for name, want in tricky.items():
        have = got.values[name]
        assert type(have) is type(want), name
        if isinstance(want, float):
            assert _bits(have) == _bits(want), name
        else:
            assert have == want, name


def test_read_many_keeps_order_and_separates_views(online_store) -> None:
    online_store.write(V, [((k,), OnlineValue({"x": k * 1.5}, 100 + k, None))
                           for k in (1, 2, 3)])
    online_store.write("other@1", [((2,), OnlineValue({"y": "b"}, 5, None)),
                                   (("2",), OnlineValue({"y": "string key"}, 5, None))])
    got = online_store.read_many({V: [(3,), (9,), (1,), (3,)], "other@1": [(2,), ("2",), (1,)],
                                  "missing@1": [(1,)]})
    assert [g.values["x"] if g else None for g in got[V]] == [4.5, None, 1.5, 4.5]
    assert [g.values["y"] if g else None for g in got["other@1"]] == ["b", "string key", None]
    assert got["missing@1"] == [None]
    assert online_store.read_many({}) == {}


def test_upsert_keeps_the_newer_event_then_created_time(online_store) -> None:
    k = (42,)

    def put(v: float, ev: int, cr: int | None) -> int:
        return online_store.write(V, [(k, OnlineValue({"v": v}, ev, cr))])

    def now() -> float:
        got = online_store.read_many({V: [k]})[V][0]
        assert got is not None
        return float(got.values["v"])

    assert put(1.0, 100, 50) == 1
    assert put(2.0, 99, 500) == 0 and now() == 1.0      # late row: older event time loses
    assert put(3.0, 100, 40) == 0 and now() == 1.0      # same event, older created: loses
    assert put(4.0, 100, None) == 0 and now() == 1.0    # a null created time loses
    assert put(5.0, 100, 60) == 1 and now() == 5.0      # same event, newer created: wins
    assert put(6.0, 100, 60) == 1 and now() == 6.0      # an equal pair rewrites (idempotent)
    assert put(7.0, 101, None) == 1 and now() == 7.0    # newer event wins whatever created
    assert put(8.0, 101, 1) == 1 and now() == 8.0       # non-null created beats null
    # several rows in one write, each key on its own
    n = online_store.write(V, [((1,), OnlineValue({"v": 1.0}, 5, None)),
                               (k, OnlineValue({"v": 0.0}, 1, None))])
    assert n == 1 and now() == 8.0


def test_watermark(online_store) -> None:
    assert online_store.watermark(V) is None
    online_store.set_watermark(V, 1_700_000_000_000_000)
    online_store.set_watermark("other@1", 5)
    assert online_store.watermark(V) == 1_700_000_000_000_000
    online_store.set_watermark(V, 1_800_000_000_000_000)
    assert online_store.watermark(V) == 1_800_000_000_000_000
    assert online_store.watermark("other@1") == 5


def test_many_keys_in_one_call(online_store) -> None:
    rows = [((k,), OnlineValue({"v": k}, k, None)) for k in range(1200)]
    assert online_store.write(V, rows) == 1200
    keys = [(k,) for k in range(1199, -1, -3)]
    got = online_store.read_many({V: keys})[V]
    assert [g.values["v"] if g else None for g in got] == [k for (k,) in keys]


def test_redis_reads_every_view_in_one_round_trip(tmp_path: Path) -> None:
    url = redis_url_or_skip()
    sep = "&" if "?" in url else "?"
    store = open_online_store(f"{url}{sep}prefix=specops-test-rt:{tmp_path.name}:", tmp_path)
    try:
        store.write("a@1", [((1,), OnlineValue({"x": 1}, 1, None))])
        store.write("b@1", [((1,), OnlineValue({"y": 2}, 1, None))])
        sent: list[tuple[object, ...]] = []
        client = store._r   # counts the commands redis-py sends; the server is real
        original = client.execute_command

        def counting(*args: object, **kw: object) -> object:
            sent.append(args)
            return original(*args, **kw)

        client.execute_command = counting
        got = store.read_many({"a@1": [(1,), (2,)], "b@1": [(1,)], "c@1": [(3,)]})
        assert [c[0] for c in sent] == ["MGET"]
        assert got["a@1"][0] is not None and got["a@1"][0].values == {"x": 1}
        assert got["b@1"][0] is not None and got["a@1"][1] is None and got["c@1"] == [None]
    finally:
        store.clear()
        store.close()


def test_redis_down_is_one_line_naming_the_url(tmp_path: Path) -> None:
    with pytest.raises(OnlineStoreError) as err:
        open_online_store("redis://:secret@127.0.0.1:1/0", tmp_path)
    msg = str(err.value)
    assert "\n" not in msg and "redis://:***@127.0.0.1:1/0" in msg and "secret" not in msg


def test_cli_with_redis_down_exits_with_one_line(tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "specops.yaml").write_text("name: p\nonline_store: redis://127.0.0.1:1/0\n")
    assert main(["materialize", str(tmp_path)]) == 1
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and "redis://127.0.0.1:1/0" in lines[0], lines


def test_bad_url_is_refused(tmp_path: Path) -> None:
    with pytest.raises(OnlineStoreError, match="expected sqlite:///PATH or redis://"):
        open_online_store("mysql://x", tmp_path)


def test_url_precedence(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "specops.yaml").write_text("name: p\nonline_store: redis://yaml:6379/0\n")
    monkeypatch.delenv("SPECOPS_ONLINE_STORE", raising=False)
    assert resolve_online_url(None, tmp_path) == "redis://yaml:6379/0"
    monkeypatch.setenv("SPECOPS_ONLINE_STORE", "redis://env:6379/0")
    assert resolve_online_url(None, tmp_path) == "redis://env:6379/0"
    assert resolve_online_url("sqlite:///x.db", tmp_path) == "sqlite:///x.db"
    monkeypatch.delenv("SPECOPS_ONLINE_STORE")
    assert resolve_online_url(None, {"online_store": None}) is None
    store = open_online_store("sqlite:///sub/o.sqlite", tmp_path)
    store.close()
    assert (tmp_path / "sub" / "o.sqlite").is_file()


@pytest.mark.parametrize("url", ["sqlite:///../elsewhere.sqlite", "sqlite:////tmp/x.sqlite",
                                 "sqlite:///out/o.sqlite"])
def test_specops_yaml_cannot_put_the_store_outside_the_project(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, url: str) -> None:
    """The attack: a cloned project's specops.yaml aims materialize's writes at a file
    outside the project (`out` is a link to a folder outside it)."""
    project = tmp_path / "p"
    project.mkdir()
    (tmp_path / "outside").mkdir()
    (project / "out").symlink_to(tmp_path / "outside")
    (project / "specops.yaml").write_text(f"name: p\nonline_store: {url}\n")
    monkeypatch.delenv("SPECOPS_ONLINE_STORE", raising=False)
    with pytest.raises(OnlineStoreError, match="must stay inside the project root"):
        resolve_online_url(None, project)
    if not url.endswith("out/o.sqlite"):   # without the root only `..` and `/` are known
        with pytest.raises(OnlineStoreError, match="must stay inside the project root"):
            resolve_online_url(None, {"online_store": url})
    # the operator's own flag or environment may name any path
    assert resolve_online_url(url, project) == url
    monkeypatch.setenv("SPECOPS_ONLINE_STORE", url)
    assert resolve_online_url(None, project) == url
    assert not list((tmp_path / "outside").iterdir())


def test_codec_record_is_compact_json() -> None:
    text = encode_value(OnlineValue({"a": 0.1, "b": 2, "c": None}, 1, None))
    assert text == '[1,null,{"a":0.1,"b":2,"c":null}]'
    assert decode_value(text.encode()) == OnlineValue({"a": 0.1, "b": 2, "c": None}, 1, None)
