"""`specops diff` output: terminal text, Markdown for a PR comment, and JSON.

Why the headline first: a reviewer needs "retrains 1 model, voids 1 approval" before any
node list; the details follow, collapsed in Markdown (`<details>`) so a large diff does not
bury the comment thread.
"""

from __future__ import annotations

from specops.compiler.plan.plan_diff import IMPACT_LABELS, NodeChange, PlanDiff
from specops.contract.canonical import canonical_json

__all__ = ["DIFF_FORMATS", "headline", "render_diff"]

DIFF_FORMATS = ("text", "markdown", "json")
_HEADLINE = (("models_retrained", "retrains", "model"),
             ("approvals_voided", "voids", "approval"),
             ("deployments_affected", "affects", "deployment"),
             ("features_recomputed", "recomputes", "feature view"),
             ("models_added", "adds", "model"),
             ("models_removed", "removes", "model"))


def _n(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def headline(diff: PlanDiff) -> str:
    if not diff.has_changes:
        extra = " (spec text changed without affecting it)" if diff.spec_hash_changed else ""
        return f"No changes to the plan{extra}."
    parts = [f"{verb} {_n(len(diff.impact[key]), noun)}" for key, verb, noun in _HEADLINE
             if diff.impact.get(key)]
    counts = (f"{len(diff.by_status('added'))} added, {len(diff.by_status('removed'))} "
              f"removed, {len(diff.by_status('changed'))} changed")
    if parts:
        text = "This change " + ", ".join(parts[:-1]) + (" and " if len(parts) > 1 else "") \
            + parts[-1]
        return f"{text} ({counts} nodes)."
    return f"This change affects the plan ({counts} nodes)."


def _ordered(changes: list[NodeChange]) -> list[NodeChange]:
    """Direct edits first (what the author changed), then additions and removals, then what
    merely reruns because something upstream changed."""
    rank = {"added": 1, "removed": 2}
    return sorted(changes, key=lambda c: (rank.get(c.status, 0 if c.direct else 3), c.id))


def _change_lines(c: NodeChange, bullet: str, indent: str, code: bool) -> list[str]:
    mark = {"added": "+", "removed": "-", "changed": "~"}[c.status]
    name = f"`{c.id}`" if code else c.id
    how = "" if c.status != "changed" else (" (direct)" if c.direct else " (upstream)")
    lines = [f"{bullet}{mark} {name}{how}"]
    lines += [f"{indent}{bullet}{('`' + r + '`') if code and c.direct else r}"
              for r in c.reasons]
    return lines


def _text(diff: PlanDiff) -> str:
    lines = [headline(diff)]
    for key, label in IMPACT_LABELS.items():
        if diff.impact.get(key):
            lines.append(f"  {label}: {', '.join(diff.impact[key])}")
    if diff.changes:
        lines.append("")
        lines.append("nodes:")
        for c in _ordered(diff.changes):
            lines += ["  " + line for line in _change_lines(c, "", "    ", False)]
    for model, reasons in diff.models_changed.items():
        lines.append(f"governance of model {model}:")
        lines += [f"    {r}" for r in reasons]
    lines += [f"project: {r}" for r in diff.project_changed]
    return "\n".join(lines) + "\n"


def _markdown(diff: PlanDiff) -> str:
    lines = ["### specops plan diff", "", f"**{headline(diff)}**", ""]
    rows = [(label, diff.impact[key]) for key, label in IMPACT_LABELS.items()
            if diff.impact.get(key)]
    if rows:
        lines += ["| impact | count | which |", "|---|---:|---|"]
        for label, items in rows:
            shown = ", ".join(f"`{i}`" for i in items[:20])
            more = f" and {len(items) - 20} more" if len(items) > 20 else ""
            lines.append(f"| {label} | {len(items)} | {shown}{more} |")
        lines.append("")
    if diff.changes:
        lines += [f"<details><summary>{len(diff.changes)} changed nodes</summary>", ""]
        for c in _ordered(diff.changes):
            lines += _change_lines(c, "- ", "  ", True)
        lines += ["", "</details>", ""]
    if diff.models_changed or diff.project_changed:
        lines += ["<details><summary>governance and project settings</summary>", ""]
        for model, reasons in diff.models_changed.items():
            lines.append(f"- model `{model}`")
            lines += [f"  - `{r}`" for r in reasons]
        lines += [f"- `{r}`" for r in diff.project_changed]
        lines += ["", "</details>", ""]
    return "\n".join(lines).rstrip("\n") + "\n"


def render_diff(fmt: str, diff: PlanDiff) -> str:
    if fmt == "text":
        return _text(diff)
    if fmt == "markdown":
        return _markdown(diff)
    if fmt == "json":
        return canonical_json(diff.to_json())
    raise ValueError(f"unknown diff format {fmt!r}")
