"""Shared pieces of the compiler tests (helper modules beside this file are importable)."""
