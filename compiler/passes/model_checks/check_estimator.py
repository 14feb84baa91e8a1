"""Estimators: only allowlisted classes, only parameters they accept, the right family for
the task, and search spaces that are not empty."""

from __future__ import annotations

from specops.compiler.diagnostics.suggest import did_you_mean
from specops.compiler.facts.estimator_allowlist import ESTIMATORS
from specops.compiler.facts.estimator_domains import RESERVED_PARAMS, Value, domain_error
from specops.compiler.frontend.validate_specs import LoadedSpec
from specops.compiler.kinds import ModelSpec
from specops.compiler.passes.context import Context

__all__ = ["BINARY_ONLY_SCORERS", "CLASSIFICATION_SCORERS", "REGRESSION_SCORERS",
           "check_estimator"]

# scikit-learn scorer names (`estimator.scoring`) by task; tests/compiler/passes/test_estimators.py
# checks them against the installed sklearn.metrics.get_scorer_names(). Clustering and
# multilabel (`*_samples`) scorers are left out: no task here can use them.
CLASSIFICATION_SCORERS = frozenset({
    "accuracy", "average_precision", "balanced_accuracy", "d2_log_loss_score", "f1",
    "f1_macro", "f1_micro", "f1_weighted", "jaccard", "jaccard_macro", "jaccard_micro",
    "jaccard_weighted", "matthews_corrcoef", "neg_log_loss", "precision", "precision_macro",
    "precision_micro", "precision_weighted", "recall", "recall_macro", "recall_micro",
    "recall_weighted", "roc_auc", "roc_auc_ovo", "roc_auc_ovo_weighted", "roc_auc_ovr",
    "roc_auc_ovr_weighted", "top_k_accuracy", "neg_brier_score", "d2_brier_score",
    "positive_likelihood_ratio", "neg_negative_likelihood_ratio"})
BINARY_ONLY_SCORERS = frozenset({
    "f1", "jaccard", "precision", "recall", "roc_auc",
    "positive_likelihood_ratio", "neg_negative_likelihood_ratio"})
REGRESSION_SCORERS = frozenset({
    "d2_absolute_error_score", "explained_variance", "neg_max_error",
    "neg_mean_absolute_error", "neg_mean_absolute_percentage_error",
    "neg_mean_gamma_deviance", "neg_mean_poisson_deviance", "neg_mean_squared_error",
    "neg_mean_squared_log_error", "neg_median_absolute_error",
    "neg_root_mean_squared_error", "neg_root_mean_squared_log_error", "r2"})


def _check_scoring(ctx: Context, loaded: LoadedSpec, model: ModelSpec) -> None:
    scoring = model.estimator.scoring
    if scoring is None:
        return
    regression = model.task == "regression"
    own, other = ((REGRESSION_SCORERS, CLASSIFICATION_SCORERS) if regression else
                  (CLASSIFICATION_SCORERS, REGRESSION_SCORERS))
    if scoring in other:
        ctx.error("SPEC411", f"scorer `{scoring}` needs a "
                  f"{'classifier' if regression else 'regressor'}; the task is {model.task}",
                  loaded, "estimator", "scoring", help=did_you_mean(scoring, own))
    elif scoring not in own:
        ctx.error("SPEC416", f"`{scoring}` is not a scikit-learn scorer", loaded, "estimator",
                  "scoring", help=did_you_mean(scoring, own) or
                  f"for {model.task}: {', '.join(sorted(own))}")
    elif model.task == "multiclass_classification" and scoring in BINARY_ONLY_SCORERS:
        ctx.error("SPEC411", f"scorer `{scoring}` is for binary classification; the task is "
                  "multiclass_classification", loaded, "estimator", "scoring",
                  help=f"use a multiclass variant, e.g. `{scoring}_macro`"
                  if f"{scoring}_macro" in own else "use e.g. `roc_auc_ovr` or `f1_macro`")


def _check_domain(ctx: Context, loaded: LoadedSpec, cls: str, section: str, name: str,
                  values: Value | list[Value]) -> None:
    """A value outside the parameter's domain fails in `fit` (or drops a search candidate):
    reported at the value itself (SPEC416)."""
    listed = values if isinstance(values, list) else [values]
    for i, value in enumerate(listed):
        why = domain_error(cls, name, value)
        if why is not None:
            where: tuple[str | int, ...] = (name, i) if isinstance(values, list) else (name,)
            ctx.error("SPEC416", why, loaded, "estimator", section, *where)


def check_estimator(ctx: Context) -> None:
    for loaded, model in ctx.models():
        _check_scoring(ctx, loaded, model)
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
                if name in RESERVED_PARAMS:
                    ctx.error("SPEC416", f"`{name}` is set by the runtime, not by a spec: it "
                              "changes where training runs or carries state between fits",
                              loaded, "estimator", section, name, key=True,
                              help=f"remove `{name}`")
                elif name not in info.params:
                    ctx.error("SPEC416", f"`{est.class_}` has no parameter `{name}`", loaded,
                              "estimator", section, name, key=True,
                              help=did_you_mean(name, info.params))
                elif section == "search" and not values:
                    ctx.error("SPEC416", f"search space for `{name}` is empty", loaded,
                              "estimator", section, name)
                else:
                    _check_domain(ctx, loaded, est.class_, section, name, values)
        overlap = set(est.params) & set(est.search)
        for name in sorted(overlap):
            ctx.error("SPEC416", f"`{name}` is both fixed in params and searched", loaded,
                      "estimator", "search", name, key=True,
                      help="remove it from params or from search")
