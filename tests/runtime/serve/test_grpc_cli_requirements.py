"""`specops serve --grpc-port` fails in one line, before serving, where gRPC cannot run:
without tritonclient's KServe stubs (not a runtime dependency) or on the Ray server."""

from __future__ import annotations

import importlib.util
from typing import Any

import pytest

from specops.runtime.cli import serve_commands


def test_grpc_port_without_the_stubs_is_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    real = importlib.util.find_spec

    def no_triton(name: str, *args: Any) -> Any:
        if name.startswith("tritonclient"):
            return None
        return real(name, *args)

    monkeypatch.setattr(importlib.util, "find_spec", no_triton)
    with pytest.raises(Exception, match=r"pip install 'tritonclient\[grpc\]'") as exc:
        serve_commands._require_grpc("lean")
    assert "\n" not in str(exc.value)


def test_grpc_port_on_ray_is_refused() -> None:
    with pytest.raises(Exception, match="lean server only"):
        serve_commands._require_grpc("ray")


def test_grpc_port_with_the_stubs_installed_passes() -> None:
    pytest.importorskip("tritonclient.grpc")
    serve_commands._require_grpc("lean")   # nothing raised: the dev environment has them
    assert importlib.util.find_spec("grpc") is not None
