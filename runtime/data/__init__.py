"""Data ops: load and validate sources, compute feature views, point-in-time training sets."""
