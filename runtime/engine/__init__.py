"""The engine: read a plan, schedule its nodes, run each op through an executor, cache and
record the results."""
