"""Estimators: only allowlisted classes, only parameters they accept, the right family for
the task, and search spaces that are not empty."""

from __future__ import annotations

from ..context import Context
from ..estimators import ESTIMATORS
from ..suggest import did_you_mean

__all__ = ["check_estimator"]


def check_estimator(ctx: Context) -> None:
    for loaded, model in ctx.models():
        est = model.estimator
        info = ESTIMATORS.get(est.class_)
        if info is None:
            ctx.error("SPEC415", f"estimator `{est.class_}` is not on the allowlist", loaded,
                      "estimator", "class",
                      help=did_you_mean(est.class_, ESTIMATORS) or
                      f"allowed: {', '.join(sorted(ESTIMATORS))}")
            continue
        wanted = "regressor" if model.task == "regression" else "classifier"
        if info.family != wanted:
            ctx.error("SPEC415", f"`{est.class_}` is a {info.family}, but the task is "
                      f"{model.task}", loaded, "estimator", "class")
        for section in ("params", "search"):
            for name, values in getattr(est, section).items():
                if name not in info.params:
                    ctx.error("SPEC416", f"`{est.class_}` has no parameter `{name}`", loaded,
                              "estimator", section, name, key=True,
                              help=did_you_mean(name, info.params))
                elif section == "search" and not values:
                    ctx.error("SPEC416", f"search space for `{name}` is empty", loaded,
                              "estimator", section, name)
        overlap = set(est.params) & set(est.search)
        for name in sorted(overlap):
            ctx.error("SPEC416", f"`{name}` is both fixed in params and searched", loaded,
                      "estimator", "search", name, key=True,
                      help="remove it from params or from search")
