"""Diagnostics: the record every check produces, the catalog of codes, suppressions and
the output formats."""
