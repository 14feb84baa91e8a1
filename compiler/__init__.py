
if __name__ != "specops.compiler":  # pragma: no cover - `compiler/` imported as a top-level package
    raise ImportError(f"import specops.compiler, not the folder compiler/ as {__name__!r}")
