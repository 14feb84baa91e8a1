"""Passes over governance: approval rules and their satisfiability, deploy gates,
policy packs and user policies, and the trust root under change control."""
