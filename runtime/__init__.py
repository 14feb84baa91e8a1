
if __name__ != "specops.runtime":  # pragma: no cover - `runtime/` imported as a top-level package
    raise ImportError(f"import specops.runtime, not the folder runtime/ as {__name__!r}")
