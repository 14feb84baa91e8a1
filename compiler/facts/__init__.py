"""Domain tables the passes and the plan builder consult: the estimator allowlist, the facts
about a model that policies see, and who is eligible to approve."""
