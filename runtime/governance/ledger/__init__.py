"""The audit ledger: the hash-chained log, its Merkle tree, signed checkpoints, proofs and
the cross-check against the governance tables (docs/governance.md, "The audit log").

Why a package of its own: the log is the evidence every other governance module writes
to, and its proofs (RFC 6962 inclusion and consistency, C2SP checkpoints) are what an
auditor checks offline; keeping them together keeps that trust boundary in one place.
Submodules are imported on use.
"""
