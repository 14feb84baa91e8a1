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
from collections.abc import Callable
from pathlib import Path

__all__ = ["COMMON", "node_ports", "start_node", "start_with_retry", "stop_node"]

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
            stop_node(proc)
            raise RuntimeError(f"ray start failed:\n{text[-2000:]}")
        time.sleep(0.3)
    stop_node(proc)   # the whole session it started, not just the `ray start` process
    raise TimeoutError(f"ray start did not finish in time:\n{log.read_text()[-2000:]}")


def start_with_retry(make_args: Callable[[int], list[str]], log: Path, attempts: int = 3,
                     timeout_s: float = 150.0) -> subprocess.Popen[bytes]:
    """`start_node`, tried up to `attempts` times: on a loaded machine Ray's start can miss
    its own deadlines or lose a port race, and one such miss must not error every Ray test
    of the session. `make_args(attempt)` builds fresh arguments (new ports) per attempt."""
    errors: list[str] = []
    for attempt in range(attempts):
        try:
            return start_node(make_args(attempt), log.with_suffix(f".{attempt}.log"),
                              time.monotonic() + timeout_s)
        except (RuntimeError, TimeoutError) as exc:
            errors.append(str(exc).splitlines()[0])
            time.sleep(2.0 * (attempt + 1))
    raise RuntimeError(f"ray start failed {attempts} times: {'; '.join(errors)}")


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
