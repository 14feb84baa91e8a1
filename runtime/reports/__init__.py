"""Rendered documents: the model report (SR 11-7 style) and the drift report."""
