"""Passes over models: the estimator allowlist and parameters, and gate checks compiled
in each model's terms."""
