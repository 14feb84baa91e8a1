"""Start and stop local Ray nodes for tests with `ray start --block`.

Why `--block`: the test then owns one process per Ray node and stops exactly what it
started (SIGTERM to that process, then its own session), never `ray stop`, which would kill
every Ray on a machine shared with other jobs.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

__all__ = ["COMMON", "node_ports", "start_node", "stop_node"]

RAY = str(Path(sys.executable).with_name("ray"))
COMMON = ["--num-cpus=1", "--node-ip-address=127.0.0.1", "--disable-usage-stats",
          "--object-store-memory=80000000"]


def _free_ports(n: int) -> list[int]:
    socks = [socket.socket() for _ in range(n)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


def start_node(args: list[str], log: Path, deadline: float) -> subprocess.Popen[bytes]:
    fh = open(log, "wb")  # noqa: SIM115 - closed with the process
    proc = subprocess.Popen([RAY, "start", "--block", *args], stdout=fh,
                            stderr=subprocess.STDOUT, start_new_session=True,
                            env={**os.environ, "RAY_USAGE_STATS_ENABLED": "0"})
    while time.monotonic() < deadline:
        text = log.read_text(errors="replace")
        if "Ray runtime started" in text:
            return proc
        if proc.poll() is not None:
            raise RuntimeError(f"ray start failed:\n{text[-2000:]}")
        time.sleep(0.3)
    proc.terminate()
    raise TimeoutError(f"ray start did not finish in time:\n{log.read_text()[-2000:]}")


def stop_node(proc: subprocess.Popen[bytes]) -> None:
    """Stop one `ray start --block` and the processes it started (its session)."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)   # leftovers of that session only



def node_ports() -> list[str]:
    """Per-node agent ports, so two nodes on one machine never collide."""
    p = _free_ports(4)
    return [f"--dashboard-agent-listen-port={p[0]}", f"--dashboard-agent-grpc-port={p[1]}",
            f"--metrics-export-port={p[2]}", f"--runtime-env-agent-port={p[3]}"]
