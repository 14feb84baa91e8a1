"""'Did you mean' suggestions, shared by every check that reports an unknown name."""

from __future__ import annotations

import difflib
from collections.abc import Iterable

__all__ = ["ALIASES", "closest", "did_you_mean"]


# Names users bring from other tools, mapped to ours. Spelling distance alone would
# suggest `pr_auc` for `auc` (closer in letters), while everyone who writes `auc` means the
# ROC AUC. Used only when the mapped name is among the candidates.
ALIASES = {"auc": "roc_auc", "auroc": "roc_auc", "roc": "roc_auc", "rocauc": "roc_auc",
           "auc_roc": "roc_auc", "auprc": "pr_auc", "aucpr": "pr_auc",
           "average_precision": "pr_auc", "acc": "accuracy", "f1_score": "f1",
           "logloss": "log_loss", "mse": "rmse", "rmse_score": "rmse",
           "r_squared": "r2", "r2_score": "r2"}


def closest(word: str, candidates: Iterable[str]) -> str | None:
    pool = sorted(set(candidates))
    alias = ALIASES.get(word.lower())
    if alias in pool:
        return alias
    matches = difflib.get_close_matches(word, pool, n=1, cutoff=0.6)
    if not matches:
        lowered = {c.lower(): c for c in pool}
        matches = difflib.get_close_matches(word.lower(), list(lowered), n=1, cutoff=0.6)
        matches = [lowered[m] for m in matches]
    return matches[0] if matches else None


def did_you_mean(word: str, candidates: Iterable[str]) -> str | None:
    """A help line such as "did you mean `income`?", or None when nothing is close."""
    match = closest(word, candidates)
    return f"did you mean `{match}`?" if match else None
