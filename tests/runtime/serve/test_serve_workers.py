"""`specops serve --workers N`: N lean processes on one port (SO_REUSEPORT), each with its
own prediction log, answering exactly what one process answers; and its refusals."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import polars as pl
import pytest
from serve_helpers import copy_project

from specops.compiler.cli.main import main
from specops.runtime.serve.lean import free_port
from specops.runtime.serve.prediction_log import log_dir


def _records(served_project: dict[str, Any]) -> list[dict[str, Any]]:
    rows = served_project["test"].head(40).select("id", "income", "age", "region")
    return [{k: (None if isinstance(v, float) and v != v else v) for k, v in r.items()}
            for r in rows.iter_rows(named=True)]


def test_two_workers_share_the_port_and_each_logs(served_project: dict[str, Any],
                                                  tmp_path: Path) -> None:
    root = copy_project(served_project, tmp_path / "proj")
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "specops.compiler.cli.main", "serve",
                             "credit@1", "--project", str(root), "--port", str(port),
                             "--workers", "2"], stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}/v2/models/credit"
    try:
        deadline = time.monotonic() + 120
        while True:
            assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
            try:
                if httpx.get(f"{url}/ready", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "server never became ready"
            time.sleep(0.3)
        records = _records(served_project)
        answers = []
        for rec in records:   # a new connection each: the kernel spreads them
            with httpx.Client(timeout=10) as client:
                r = client.post(f"{url}/predict", json=[rec])
                assert r.status_code == 200, r.text
                answers.append(r.json()["predictions"][0])
        with httpx.Client(timeout=10) as client:
            together = client.post(f"{url}/predict", json=records).json()["predictions"]
        assert answers == together
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
    deadline = time.monotonic() + 30   # the other worker flushes as it shuts down
    while True:
        files = list(log_dir(root, "credit").rglob("*.parquet"))
        pids = {f.name.split("-")[2] for f in files}
        rows = sum(pl.read_parquet(f).height for f in files)
        if (len(pids) == 2 and rows == 2 * len(records)) or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert len(pids) == 2, f"one worker answered everything: {files}"
    logged = pl.concat([pl.read_parquet(f) for f in files], how="vertical_relaxed")
    assert logged.height == 2 * len(records)


@pytest.mark.parametrize("extra, said", [
    (["--workers", "0"], "--workers needs at least 1"),
    (["--workers", "2", "--grpc-port", "0"], "--grpc-port is served by one process"),
    (["--workers", "2", "--server", "ray"], "--workers runs lean processes"),
])
def test_worker_refusals_are_one_line(served_project: dict[str, Any], tmp_path: Path,
                                      capsys: pytest.CaptureFixture[str], extra: list[str],
                                      said: str) -> None:
    root = copy_project(served_project, tmp_path / "proj")
    assert main(["serve", "credit@1", "--project", str(root), *extra]) != 0
    assert said in capsys.readouterr().err
