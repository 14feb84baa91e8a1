"""Serving: registry versions behind the Open Inference Protocol, batch scoring, staging.

Submodules are imported on use (Ray and uvicorn are heavy): `model` loads a verified
version, `protocol` is the pure wire format, `asgi` the one HTTP application both servers
run, `lean` the uvicorn server, `ray_serve` the Ray Serve deployment, `batch` offline
scoring, `staging` the contract tests that gate promotion (docs/serving.md).
"""

__all__: list[str] = []
