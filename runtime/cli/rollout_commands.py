"""`specops rollout status|evaluate|abort MODEL`: progressive delivery after the deploy.

    specops deploy credit_default@4 --env production --canary 10 --key keys/frank
    specops rollout status credit_default --env production
    specops rollout evaluate credit_default --env production     # from a schedule
    specops rollout abort credit_default --env production --key keys/frank

Why the decision runs here and not in the server: the rules compare both arms over all
replicas' logs (runtime/monitor/rollout_compare.py), and the action is a governed one
(runtime/governance/deploy.py): `evaluate` signs a promotion or a rollback with the
pipeline's registry key, the way registration is signed, and governance refuses a
promotion whose challenger is not approved now. `heal` is the monitor's self-healing
(`monitoring: {on_breach: rollback}`), called by `specops monitor` after a breach.

Exit codes: 0 done (also "wait": nothing to decide yet); 1 refused (with the cause);
2 a usage mistake (unknown model, no rollout running, no rules).
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from specops.runtime.cli.support import fail, plan_for, project_setting, refused, store_url

__all__ = ["evaluate_rollout", "heal", "register"]


def _open(root: Path, url: str | None, artifacts: str | None, pipeline: bool) -> Any:
    """Governance for the project; `pipeline`: signing as the pipeline (registry key)."""
    from specops.runtime.governance import Governance
    from specops.runtime.registry import RegistryError

    gov = Governance.open(root, url, artifacts=artifacts)
    if pipeline and gov.signed:
        try:   # no key: governance refuses the pipeline's action with the cause
            gov.signer = gov.registry.signer  # type: ignore[union-attr]
        except RegistryError:
            gov.signer = None
    return gov


def _classes(gov: Any, model: str, version: int) -> list[Any]:
    try:
        sig = json.loads((gov.version(model, version).path / "signature.json").read_bytes())
        return list(sig.get("classes") or [])
    except (OSError, ValueError, AttributeError):
        return []


def evaluate_rollout(root: Path, model: str, environment: str, rules: Mapping[str, Any], *,
                     store: str | None = None, artifacts: str | None = None,
                     now: float | None = None, labels: Any = None,
                     task: str = "binary_classification", apply: bool = True
                     ) -> dict[str, Any]:
    """Compare the arms of the running rollout, decide by `rules` (the plan's
    `models[m].rollout`) and, with `apply`, promote or roll back as the pipeline. A
    rollout that may no longer route (`rollout_problem`) is rolled back."""
    from specops.runtime.governance import GovernanceError, NotFound
    from specops.runtime.governance.deploy import (
        abort_rollout,
        promote_rollout,
        rollout_problem,
        running_rollout,
    )
    from specops.runtime.monitor.rollout_compare import compare, decide

    gov = _open(root, store, artifacts, pipeline=apply)
    try:
        r = running_rollout(gov, model, environment)
        if r is None:
            raise NotFound(f"no rollout of {model} is running in {environment}")
        problem = rollout_problem(gov, r)
        doc = compare(root, model, r.as_json(), window_s=rules.get("window_s"), now=now,
                      labels=labels, task=task, classes=_classes(gov, model, r.challenger))
        doc["problem"] = problem
        verdict = decide(doc, rules)
        if problem:
            verdict.update(decision="rollback", reason=f"the rollout may not route: {problem}")
        doc["decision"] = verdict
        summary = {"decision": verdict["decision"], "reason": verdict["reason"],
                   "arms": {k: {m: v for m, v in a.items() if m != "performance"}
                            for k, a in doc["arms"].items()},
                   "tests": {k: {"pvalue": t["pvalue"]} for k, t in doc["tests"].items()}}
        if apply and verdict["decision"] in ("promote", "rollback"):
            reason = f"rollout rules: {verdict['reason']}"[:2000]
            try:
                if verdict["decision"] == "promote":
                    d = promote_rollout(gov, model, environment, reason, decision=summary)
                    doc["action"] = {"done": "promote", "version": d.version,
                                     "actor": d.actor}
                else:
                    ended = abort_rollout(gov, model, environment, reason, None, summary)
                    doc["action"] = {"done": "rollback", "version": ended.challenger,
                                     "champion": ended.champion}
            except GovernanceError as exc:
                doc["action"] = {"refused": str(exc)}
        return doc
    finally:
        gov.close()


def heal(root: Path, model: str, in_breach: Sequence[str], monitored: str, *,
         store: str | None = None, artifacts: str | None = None,
         environment: str = "production") -> dict[str, Any]:
    """Self-healing after a monitoring breach: when `monitored` (MODEL@V) is what
    `environment` serves, roll back to the previous approved version, signed by the
    pipeline and audited; a refusal (no previous approved version) is reported (and
    audited as `auto_rollback_refused`), never raised."""
    from specops.runtime.governance import GovernanceError, NotFound
    from specops.runtime.governance.deploy import auto_rollback
    from specops.runtime.governance.promotion import current

    gov = _open(root, store, artifacts, pipeline=True)
    try:
        serving = current(gov, model, environment)
        if serving is None or f"{model}@{serving}" != monitored:
            return {"status": "not_serving", "reason": f"{monitored} is not what "
                    f"{environment} serves ({'@' + str(serving) if serving else 'nothing'})"}
        breach = {"signals": list(in_breach), "version": monitored}
        try:
            d = auto_rollback(gov, model, environment,
                              f"monitoring breach: {', '.join(in_breach)}", breach)
        except (GovernanceError, NotFound) as exc:
            return {"status": "refused", "reason": str(exc)}
        return {"status": "rolled_back", "from": d.previous_version, "to": d.version,
                "actor": d.actor, "reason": f"monitoring breach: {', '.join(in_breach)}"}
    finally:
        gov.close()


# -- commands ------------------------------------------------------------------------------
def _context(args: argparse.Namespace) -> tuple[Path, Any, str, str | None]:
    root = Path(args.project or ".").resolve()
    if not root.is_dir():
        raise fail(f"no such project folder: {args.project}")
    from specops.runtime.cli.support import NotCompiled

    try:
        plan = plan_for(root, args, "rollout", report=False)
    except NotCompiled:
        plan = None
    url = store_url(args, root, plan.project.store if plan is not None else None)
    return root, plan, url, project_setting(root, "artifacts")


def _labels(plan: Any, root: Path, model: str) -> Any:
    """The monitor's label source (spec's label source joined on its key)."""
    if plan is None:
        return None
    from specops.runtime.cli.monitor_commands import _labels as monitor_labels

    try:
        return monitor_labels(plan, root, model, None, [])
    except (OSError, ValueError, LookupError):
        return None


def _fmt(v: Any) -> str:
    return "-" if v is None else (f"{v:.4g}" if isinstance(v, float) else str(v))


def _print(doc: Mapping[str, Any]) -> None:
    r = doc["rollout"]
    how = "shadow" if r["mode"] == "shadow" else f"canary {r['share']:g}%"
    started = datetime.fromtimestamp(float(r["started_at"]), UTC).isoformat(timespec="seconds")
    print(f"{doc['model']}@{r['challenger']} {how} beside @{r['champion']} in "
          f"{r['environment']} since {started} (rollout {r['id']}, by {r['actor']})")
    if doc.get("problem"):
        print(f"  not routing: {doc['problem']}")
    cols = ("requests", "errors", "error_rate", "p50_latency_ms", "p99_latency_ms",
            "mean_score")
    print(f"  {'arm':<11} {'version':>7} " + " ".join(f"{c:>14}" for c in cols))
    for name, a in doc["arms"].items():
        print(f"  {name:<11} {a['version']:>7} " + " ".join(f"{_fmt(a[c]):>14}" for c in cols)
              + ("  " + ", ".join(f"{k}={_fmt(v)}" for k, v in a["performance"].items())
                 if a["performance"] else ""))
    for name, t in doc["tests"].items():
        print(f"  test {name}: p={t['pvalue']:.4g} ({t['test']})")
    d = doc.get("decision")
    if d:
        print(f"  rules: {d['decision']} — {d['reason']}")
    act = doc.get("action")
    if act:
        print("  " + (f"refused: {act['refused']}" if "refused" in act else
                      f"done: {act['done']} ({doc['model']}@{act['version']})"))


def _rules(plan: Any, model: str, need: bool) -> dict[str, Any]:
    rules = dict(((plan.models.get(model) or {}).get("rollout") or {}) if plan else {})
    if need and not rules:
        raise fail(f"{model} has no `rollout:` rules in its spec; promote with `specops "
                   "deploy`, or abort with `specops rollout abort`")
    return rules


def cmd_status(args: argparse.Namespace) -> int:
    return _evaluate(args, apply=False)


def cmd_evaluate(args: argparse.Namespace) -> int:
    return _evaluate(args, apply=not args.dry_run)


def _evaluate(args: argparse.Namespace, apply: bool) -> int:
    from specops.runtime.governance import NotFound

    root, plan, url, artifacts = _context(args)
    rules = _rules(plan, args.model, need=apply)
    task = str((plan.models.get(args.model) or {}).get("task") or "binary_classification") \
        if plan is not None else "binary_classification"
    now = datetime.fromisoformat(args.now).timestamp() if args.now else None
    try:
        doc = evaluate_rollout(root, args.model, args.env, rules, store=url,
                               artifacts=artifacts, now=now,
                               labels=_labels(plan, root, args.model), task=task,
                               apply=apply)
    except NotFound as exc:
        raise fail(str(exc)) from None
    if not rules:
        doc.pop("decision", None)
    if args.json:
        print(json.dumps(doc, indent=2, sort_keys=True, default=str))
    else:
        _print(doc)
    act = doc.get("action") or {}
    return refused(act["refused"]) if "refused" in act else 0


def cmd_abort(args: argparse.Namespace) -> int:
    from specops.runtime.governance import GovernanceError, NotFound
    from specops.runtime.governance.deploy import abort_rollout
    from specops.runtime.trust.signer import person_signer
    from specops.runtime.trust.ssh_keys import KeyProblem

    root, _, url, artifacts = _context(args)
    gov = _open(root, url, artifacts, pipeline=False)
    try:
        try:
            gov.signer = person_signer(args.key)
        except KeyProblem as exc:
            raise fail(str(exc)) from None
        r = abort_rollout(gov, args.model, args.env, args.reason or "", args.as_user or "")
    except NotFound as exc:
        raise fail(str(exc)) from None
    except GovernanceError as exc:
        return refused(str(exc))
    finally:
        gov.close()
    print(f"{r.ref} no longer takes traffic in {args.env}; @{r.champion} serves everything")
    return 0


def register(sub: Any, add_common: Callable[[argparse.ArgumentParser], None]) -> None:
    p = sub.add_parser("rollout", help="canary / shadow rollouts: compare the arms, apply "
                       "the spec's rules (promote or roll back), abort")
    rp = p.add_subparsers(dest="rollout_command", metavar="{status,evaluate,abort}",
                          required=True)

    def common(q: argparse.ArgumentParser) -> None:
        q.add_argument("model", metavar="MODEL")
        q.add_argument("--env", default="production", choices=["staging", "production"])
        q.add_argument("--project", help="project folder (default: .)")
        q.add_argument("--store", help="store URL (default: the project's)")
        q.add_argument("--plan", help="compiled plan.json instead of compiling the project")
        add_common(q)

    q = rp.add_parser("status", help="champion against challenger from the prediction log")
    common(q)
    q.add_argument("--json", action="store_true")
    q.add_argument("--now", help=argparse.SUPPRESS)
    q.set_defaults(func=cmd_status)
    q = rp.add_parser("evaluate", help="apply the spec's rollout rules: promote or roll back "
                      "(signed by the pipeline's registry key)")
    common(q)
    q.add_argument("--dry-run", action="store_true", help="decide, do nothing")
    q.add_argument("--json", action="store_true")
    q.add_argument("--now", help="ISO time to evaluate at (default: the clock)")
    q.set_defaults(func=cmd_evaluate)
    q = rp.add_parser("abort", help="remove the challenger by hand (needs `rollback`)")
    common(q)
    q.add_argument("--reason", help="why, kept in the audit log")
    q.add_argument("--key", metavar="PATH", help="your SSH ed25519 key (or SPECOPS_KEY)")
    q.add_argument("--as", dest="as_user", metavar="USER", help="who you claim to be")
    q.set_defaults(func=cmd_abort)
