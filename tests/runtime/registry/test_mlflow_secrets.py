"""A careless client's attack on `specops export mlflow`: credentials written into the
tracking URI (`https://user:token@host`, which httpx sends as basic auth) must never be
echoed into an error or the summary line (terminals, CI logs). The server side is a real
socket that refuses connections (a port bound and closed), so the client's real
connection error path runs."""

from __future__ import annotations

import socket

import pytest

from specops.runtime.registry.mlflow_export import MlflowClient, MlflowError, shown_uri

SECRET = "s3cr3t-t0ken"


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_credentials_in_the_tracking_uri_never_reach_an_error() -> None:
    uri = f"http://alice:{SECRET}@127.0.0.1:{_closed_port()}/"
    client = MlflowClient(uri, timeout_s=5)
    try:
        with pytest.raises(MlflowError) as err:
            client.call("GET", "/experiments/search")
    finally:
        client.close()
    text = str(err.value)
    assert "cannot reach the MLflow tracking server at http://***@127.0.0.1:" in text
    assert SECRET not in text and "alice" not in text
    with pytest.raises(MlflowError) as bad:
        MlflowClient(f"ftp://alice:{SECRET}@host/x")
    assert SECRET not in str(bad.value) and "ftp://***@host/x" in str(bad.value)


@pytest.mark.parametrize(("uri", "shown"), [
    ("https://u:p@mlflow.example:5000/x", "https://***@mlflow.example:5000/x"),
    ("https://token@mlflow.example", "https://***@mlflow.example"),
    ("http://127.0.0.1:5000", "http://127.0.0.1:5000"),
])
def test_shown_uri(uri: str, shown: str) -> None:
    assert shown_uri(uri) == shown
