"""The whole audit-log verification: chain, checkpoints, cross-check; and making a
checkpoint. What `specops audit verify` and `specops audit checkpoint` run.

Why all three: the chain finds edits made without recomputing hashes and names the entry;
a signed checkpoint kept outside the store catches a log rewritten *with* recomputed
hashes, truncated, or wiped (its first `size` entries must still hash to its root: an
RFC 6962 consistency proof from the checkpoint to today's tree); the cross-check catches
what no checkpoint covers yet (a log wiped or rewritten since the last one) as long as
the governance tables still describe the actions. Each finding is one line naming the
first bad entry when it can be known.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from dataclasses import dataclass, field

import sqlalchemy as sa

from specops.runtime.governance.ledger import audit, merkle
from specops.runtime.governance.ledger.checkpoint import (
    Checkpoint,
    CheckpointError,
    Signer,
    Verifier,
    format_body,
    open_note,
    sign_note,
)
from specops.runtime.governance.ledger.crosscheck import Mismatch, crosscheck

__all__ = ["CheckpointResult", "LogReport", "check_checkpoint", "check_log",
           "make_checkpoint"]


@dataclass(frozen=True)
class CheckpointResult:
    label: str                    # where it came from (a file name)
    checkpoint: Checkpoint | None
    problem: str | None           # None: the log extends it
    first_bad: int | None = None  # the first entry known to be bad


@dataclass
class LogReport:
    state: audit.LogState
    root: bytes
    checkpoints: list[CheckpointResult] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    mismatches: list[Mismatch] = field(default_factory=list)

    @property
    def problems(self) -> list[str]:
        """Every finding, one line each, the most telling first: the chain's first bad
        entry, then checkpoints the log does not extend, then cross-check mismatches."""
        out = [f"audit chain broken at {self.state.problem}"] if self.state.problem else []
        bad = [c for c in self.checkpoints if c.problem]
        bad.sort(key=lambda c: (c.first_bad is None, c.first_bad or 0))
        out += [f"checkpoint {c.label}: {c.problem}" for c in bad]
        out += [f"cross-check: {m}" for m in self.mismatches]
        return out

    @property
    def ok(self) -> bool:
        return not self.problems


def check_checkpoint(tree: merkle.Tree, note: str, verifiers: Sequence[Verifier],
                     origin: str, label: str) -> CheckpointResult:
    """Is the log (as `tree`) an append-only extension of the signed checkpoint `note`?"""
    try:
        cp, _names = open_note(note, verifiers)
    except CheckpointError as exc:
        return CheckpointResult(label, None, str(exc))
    if cp.origin != origin:
        return CheckpointResult(label, cp, f"it is for log {cp.origin!r}, not {origin!r}")
    n = tree.size
    if cp.size > n:
        gone = f"entry {n + 1} is" if cp.size == n + 1 else f"entries {n + 1}..{cp.size} are"
        return CheckpointResult(label, cp, f"entry {n + 1}: truncated: the checkpoint "
                                f"records {cp.size} entries, the log has {n}; {gone} gone",
                                n + 1)
    proof = tree.consistency_proof(cp.size, n)
    if merkle.verify_consistency(cp.size, n, cp.root, tree.root(), proof):
        return CheckpointResult(label, cp, None)
    return CheckpointResult(label, cp, f"rewritten: entries 1..{cp.size} no longer hash to "
                            f"the checkpoint's root {cp.root_b64} (now "
                            f"{_b64(tree.root(cp.size))}); the log is not an append-only "
                            "extension of it", None)


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def _localize(results: list[CheckpointResult]) -> list[CheckpointResult]:
    """Bound a rewrite between the largest checkpoint that still holds and the smallest
    that does not: the first bad entry lies in between (exactly known when adjacent)."""
    good = [c.checkpoint.size for c in results if c.checkpoint and c.problem is None]
    out = []
    for c in results:
        if c.problem and c.checkpoint and c.first_bad is None and "rewritten" in c.problem:
            low = max([s for s in good if s < c.checkpoint.size], default=0)
            hint = (f"entry {low + 1}" if low + 1 == c.checkpoint.size
                    else f"entries {low + 1}..{c.checkpoint.size}")
            c = CheckpointResult(c.label, c.checkpoint,
                                 f"{c.problem} (the first rewritten entry is among {hint})",
                                 low + 1 if low + 1 == c.checkpoint.size else None)
        out.append(c)
    return out


def check_log(engine: sa.Engine, notes: Sequence[tuple[str, str]] = (),
              verifiers: Sequence[Verifier] = (), origin: str = "",
              cross: bool = True) -> LogReport:
    """Verify the log: its chain, every checkpoint in `notes` ((label, text) pairs)
    against the pinned `verifiers`, and the cross-check with the governance tables."""
    state = audit.read_log(engine)
    tree = state.tree()
    report = LogReport(state, tree.root())
    report.checkpoints = _localize([check_checkpoint(tree, text, verifiers, origin, label)
                                    for label, text in notes])
    if cross:
        report.counts, report.mismatches = crosscheck(engine, state.entries)
    return report


def make_checkpoint(report: LogReport, origin: str, signers: Sequence[Signer]) -> str:
    """The signed checkpoint of a verified log (refuses to sign over a problem)."""
    if not report.ok:
        raise CheckpointError(f"refusing to sign a checkpoint: {report.problems[0]}")
    cp = Checkpoint(origin, report.state.size, report.root)
    return sign_note(format_body(cp), signers)
