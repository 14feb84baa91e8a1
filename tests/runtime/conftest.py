"""Shared fixtures for the runtime tests: one Ray cluster per session.

The session's Ray is a real head node (`ray start --head --block`, one CPU) that this test
process joins as a driver. Starting Ray costs ~15 s here, so every Ray test shares it, and
the two-node test only adds a second node to it instead of starting a second cluster.
"""

from __future__ import annotations

import os
import secrets
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

# Ray enables token auth for clusters it starts and keeps the token in ~/.ray/auth_token,
# which other jobs on this machine may rewrite, and a driver given an explicit address only
# sends a token when RAY_AUTH_MODE=token. So this session's cluster, its driver and the
# `specops run` subprocesses share one token through the environment. Set here, at import,
# because Ray reads its configuration once, when first imported.
os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
# The session's driver runs under `uv run pytest`: without this, Ray ships the working
# directory (.venv included) to every worker of the driver's job, and tasks submitted
# directly (the partitioned PIT join) break later ones ("No module named
# 'pydantic.plugin._loader'" in a truncated upload). The workers use this environment.
os.environ.setdefault("RAY_ENABLE_UV_RUN_RUNTIME_ENV", "0")
os.environ.setdefault("RAY_AUTH_MODE", "token")
os.environ.setdefault("RAY_AUTH_TOKEN", secrets.token_hex(32))


def _session_registry_key() -> None:
    """The registry never creates a key itself (runtime/trust/signer.py): tests that
    register versions share one session key, pinned through SPECOPS_REGISTRY_PUBKEYS, and
    `specops` subprocesses inherit both variables. Trust tests clear them."""
    if os.environ.get("SPECOPS_REGISTRY_KEY"):
        return
    from specops.runtime.trust.ssh_keys import create_keypair

    folder = Path(tempfile.mkdtemp(prefix="specops-test-keys-"))
    key = create_keypair(folder, "pipeline")
    os.environ["SPECOPS_REGISTRY_KEY"] = str(key.path)
    os.environ["SPECOPS_REGISTRY_PUBKEYS"] = str(folder / "pipeline.pub")


_session_registry_key()


@pytest.fixture(scope="session")
def ray_head(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Address (`127.0.0.1:PORT`) of a one-node Ray cluster started for this session."""
    pytest.importorskip("ray")
    from ray_helpers import COMMON, _free_ports, node_ports, start_with_retry, stop_node

    temp = tempfile.mkdtemp(prefix="rt", dir="/tmp")   # short: Ray puts sockets in it
    gcs: list[int] = []

    def head_args(_attempt: int) -> list[str]:   # fresh ports on every attempt
        gcs[:] = _free_ports(1)
        return ["--head", f"--port={gcs[0]}", "--include-dashboard=false",
                f"--temp-dir={temp}", *node_ports(), *COMMON]

    proc = start_with_retry(head_args, tmp_path_factory.mktemp("ray") / "head.log")
    try:
        yield f"127.0.0.1:{gcs[0]}"
    finally:
        stop_node(proc)
        shutil.rmtree(temp, ignore_errors=True)


@pytest.fixture(scope="session")
def ray_local(ray_head: str) -> Iterator[str]:
    """This process connected to the session's cluster (the Ray executor reuses it)."""
    import ray

    for attempt in range(3):   # joining can time out on a loaded machine: try again
        try:
            ray.init(address=ray_head, log_to_driver=False, configure_logging=False)
            break
        except Exception:
            ray.shutdown()
            if attempt == 2:
                raise
            time.sleep(3.0 * (attempt + 1))
    try:
        yield ray_head
    finally:
        ray.shutdown()


@pytest.fixture
def second_ray_node(ray_local: str, tmp_path: Path) -> Iterator[str]:
    """Join a second one-CPU node to the session's cluster for one test; returns the
    cluster address."""
    import ray
    from ray_helpers import COMMON, node_ports, start_with_retry, stop_node

    proc = start_with_retry(lambda _: [f"--address={ray_local}", *node_ports(), *COMMON],
                            tmp_path / "worker.log")
    try:
        deadline = time.monotonic() + 60
        while sum(n["Alive"] for n in ray.nodes()) < 2 and time.monotonic() < deadline:
            time.sleep(0.2)
        yield ray_local
    finally:
        stop_node(proc)
        # Wait until the cluster knows the node is gone: until then the head may still
        # hand the next test's tasks to the stopped node's workers (RaySystemError there).
        deadline = time.monotonic() + 90
        while sum(n["Alive"] for n in ray.nodes()) > 1 and time.monotonic() < deadline:
            time.sleep(0.5)
