"""Passes over data: feature expressions against declared columns, model inputs and
protected attributes, and what needs a timestamp."""
