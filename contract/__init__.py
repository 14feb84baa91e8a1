"""The contract between compiler and runtime: the plan format, its canonical JSON, the op
catalog and the one interpreter of compiled expression trees. Both halves import it;
neither owns it."""

if __name__ != "specops.contract":  # pragma: no cover - `contract/` imported as a top-level package
    raise ImportError(f"import specops.contract, not the folder contract/ as {__name__!r}")
