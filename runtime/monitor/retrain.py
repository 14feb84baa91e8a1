"""Drift-triggered retraining: decide, audit, run the model's pipeline, audit the outcome.

Why retraining is just a run of the model's plan: a retrained model must pass the same
gates (champion/challenger included: the gate compares against the `production` alias)
and open the same approval request as any other version. Nothing here registers, approves
or deploys anything itself; the run's `register` and `request_approval` nodes do, so a
high-risk model still waits for its four-eyes approval and only a rule with
`auto_approve` (and passed gates) approves without a person.

When it fires: a signal listed in the spec's `retrain_on` is in breach after hygiene (its
current run of breaching windows is at least `consecutive_windows` long, whether or not
the *alert* cooldown let an alert fire in this pass: paging and retraining have separate
cooldowns), and the retrain cooldown has passed since the last trigger. That cooldown is
wall-clock time read back from the audit log (the last `retrain_trigger` entry for the
model), so it holds across processes and machines that share the store, and nobody can
reset it by deleting a state file.

What it trains on: the model's sources as the spec declares them, at the time of the
retrain (new months land there). Cache keys include the sources' content hashes, so new
data always recomputes the training set.

Nothing new, nothing trained, no cooldown: before training, the retrain builds only what
`train:<model>` reads (sources, features, training set: cheap) and looks its cache key up
in the store. A hit means the model would be fitted on exactly the data and spec it was
fitted on before, so there is nothing to retrain: that is a `retrain_skipped` entry
("unchanged"), not a trigger, so it neither costs a refit (377 s on a census-sized
table) nor starts the retrain cooldown that would hold back next month's genuinely new
data. `fresh=True` skips that check and salts the `train:` fingerprint with the trigger's
run id, forcing a refit.

Every decision that fires or is held back (by the cooldown, or because nothing changed)
is an audit entry (`retrain_trigger`, `retrain_skipped`, then `retrain_result`) on target
`<model>`; the cooldown counts only triggers whose result was not `unchanged`.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from specops.runtime.monitor.alerts import Alert

__all__ = ["RetrainDecision", "audit_event", "decide", "last_trigger_at", "retrain"]


@dataclass
class RetrainDecision:
    fire: bool
    reason: str
    signals: list[str] = field(default_factory=list)
    held_by_cooldown: bool = False


def last_trigger_at(engine: sa.Engine, model: str) -> float | None:
    """Wall-clock time of the model's last `retrain_trigger` audit entry."""
    from datetime import UTC, datetime

    from specops.runtime.governance.ledger import audit

    last = None
    idle: set[str] = set()   # run ids of triggers that trained nothing new
    triggers = []
    for e in audit.entries(engine, target=model):
        if e.action == "retrain_trigger":
            triggers.append(e)
        elif e.action == "retrain_result" and (e.details or {}).get("status") == "unchanged":
            idle.add(str((e.details or {}).get("run_id")))
    for e in triggers:
        if str((e.details or {}).get("run_id")) not in idle:
            last = e
    if last is None:
        return None
    return datetime.strptime(last.at, "%Y-%m-%dT%H:%M:%S.%fZ").replace(
        tzinfo=UTC).timestamp()


def decide(in_breach: Sequence[str], retrain_on: Sequence[str], cooldown_s: float,
           last_at: float | None, now: float) -> RetrainDecision:
    """Whether the signals in breach start a retrain (see the module doc)."""
    hits = sorted(set(in_breach) & set(retrain_on))
    if not retrain_on:
        return RetrainDecision(False, "the spec has no retrain_on conditions")
    if not hits:
        return RetrainDecision(False, f"no {' or '.join(retrain_on)} breach "
                               "(after consecutive-window hygiene)")
    if last_at is not None and now - last_at < cooldown_s:
        left = (cooldown_s - (now - last_at)) / 3600
        return RetrainDecision(False, f"{', '.join(hits)} in breach but the retrain cooldown "
                               f"has {left:.1f} h left", hits, True)
    return RetrainDecision(True, f"{', '.join(hits)} in breach", hits)


def audit_event(engine: sa.Engine, *, actor: str, action: str, target: str, reason: str,
                details: dict[str, Any], at: float | None = None) -> int:
    """Append one entry to the governance audit chain; returns its sequence number."""
    from specops.runtime.governance.database import transaction
    from specops.runtime.governance.ledger import audit

    with transaction(engine) as conn:
        entry = audit.append(conn, actor=actor, action=action, target=target, reason=reason,
                             details=json.loads(json.dumps(details, default=str)),
                             at=time.time() if at is None else at)
    return int(entry.seq)


@contextlib.contextmanager
def _acting_as(actor: str) -> Iterator[None]:
    """Ops read the actor from SPECOPS_USER (request_approval): run as the trigger."""
    old = os.environ.get("SPECOPS_USER")
    os.environ["SPECOPS_USER"] = actor
    try:
        yield
    finally:
        if old is None:
            os.environ.pop("SPECOPS_USER", None)
        else:
            os.environ["SPECOPS_USER"] = old


def _salted(plan: Any, node_id: str, salt: str) -> Any:
    nodes = []
    for n in plan.nodes:
        if n.id == node_id:
            fp = "sha256:" + hashlib.sha256(f"{n.fingerprint}|retrain|{salt}".encode()
                                            ).hexdigest()
            n = replace(n, fingerprint=fp)
        nodes.append(n)
    return replace(plan, nodes=tuple(nodes))


def retrain(plan: Any, project_root: Path, model: str, in_breach: Sequence[str],
            alerts: Sequence[Alert] = (), *, retrain_on: Sequence[str], cooldown_s: float,
            actor: str,
            store_url: str | None = None, executor: str = "inline",
            progress: Any = None, fresh: bool = False, now: float | None = None,
            reference: str = "") -> dict[str, Any]:
    """Decide and, when it fires, run the model's pipeline up to its approval request."""
    from specops.runtime.engine.run_loop import execute_plan, new_run_id
    from specops.runtime.governance.database import open_engine

    now = time.time() if now is None else now
    root = Path(project_root).resolve()
    engine = open_engine(store_url or plan.project.store, root)
    try:
        from specops.runtime.governance.governance_tables import ensure_schema

        ensure_schema(engine)
        decision = decide(in_breach, retrain_on, cooldown_s, last_trigger_at(engine, model),
                          now)
        fired = [a.to_json() for a in alerts if a.signal in decision.signals]
        out: dict[str, Any] = {"status": "not_needed", "reason": decision.reason,
                               "signals": decision.signals}
        if decision.held_by_cooldown:
            audit_event(engine, actor=actor, action="retrain_skipped", target=model,
                        reason=decision.reason, details={"alerts": fired,
                                                         "reference": reference}, at=now)
            out["status"] = "cooldown"
        if not decision.fire:
            return out
        ids = plan.by_id
        target = next((t for t in (f"approval:{model}", f"register:{model}") if t in ids),
                      None)
        if target is None:
            raise LookupError(f"the plan has no register:{model} node to retrain")
        if not fresh:
            same = _unchanged(plan, root, model, store_url, executor, progress)
            if same is not None:
                out.update(status="unchanged", reason=same)
                audit_event(engine, actor=actor, action="retrain_skipped", target=model,
                            reason=same, details={"alerts": fired, "reference": reference,
                                                  "status": "unchanged"}, at=now)
                return out
        run_id = new_run_id()
        seq = audit_event(engine, actor=actor, action="retrain_trigger", target=model,
                          reason=decision.reason,
                          details={"run_id": run_id, "alerts": fired, "reference": reference,
                                   "select": target, "fresh": fresh,
                                   "cooldown_s": cooldown_s}, at=now)
        run_plan = _salted(plan, f"train:{model}", run_id) if fresh else plan
        with _acting_as(actor):
            result = execute_plan(run_plan, root, executor=executor, select=target,
                                  store_url=store_url, progress=progress, run_id=run_id)
        out.update(_outcome(result, model))
        out.update({"run_id": run_id, "trigger_seq": seq})
        audit_event(engine, actor=actor, action="retrain_result", target=model,
                    reason=out["reason"], details={k: v for k, v in out.items()
                                                   if k != "reason"})
        return out
    finally:
        engine.dispose()


def _unchanged(plan: Any, root: Path, model: str, store_url: str | None, executor: str,
               progress: Any) -> str | None:
    """Why there is nothing to retrain (the fit's cache key is already in the store), or
    None. Builds only what `train:<model>` reads; never fits anything."""
    from specops.runtime.engine.run_loop import cache_key, execute_plan
    from specops.runtime.store import Store

    train = plan.by_id.get(f"train:{model}")
    if train is None or not train.inputs:
        return None
    result = execute_plan(plan, root, executor="inline" if executor == "ray" else executor,
                          select=",".join(train.inputs), store_url=store_url,
                          progress=progress)
    digests: dict[str, str] = {i: str(result.nodes[i].digest) for i in train.inputs
                               if i in result.nodes and result.nodes[i].digest}
    if not result.ok or len(digests) != len(train.inputs):
        return None    # let the real run report what failed
    store = Store.from_url(store_url or plan.project.store, root)
    try:
        hit = store.cache_candidates(cache_key(train.fingerprint, digests))
    finally:
        store.close()
    if not hit:
        return None
    return (f"nothing new to train on: {model}'s training set and spec are those of an "
            "earlier fit (no refit, no cooldown)")


def _outcome(result: Any, model: str) -> dict[str, Any]:
    reg = result.nodes.get(f"register:{model}")
    appr = result.nodes.get(f"approval:{model}")
    out: dict[str, Any] = {"run_status": result.status,
                           "failed": {o.node_id: o.cause for o in result.failed}}
    if reg is not None and reg.status == "done" and reg.path is not None:
        doc = json.loads((Path(reg.path) / "registration.json").read_text())
        # a cached register node replays the first run's registration: not a new version
        out.update(version=doc["ref"], created=bool(doc.get("created")) and not reg.cache_hit)
    if appr is not None and appr.status == "done" and appr.path is not None:
        out["approval"] = json.loads((Path(appr.path) / "approval.json").read_text()
                                     ).get("state")
    if not result.ok:
        out.update(status="failed", reason="the retrain run failed: " + "; ".join(
            f"{k}: {v}" for k, v in sorted(out["failed"].items()))[:500])
    elif out.get("created"):
        out.update(status="new_version", reason=f"registered {out['version']}; approval "
                   f"{out.get('approval', 'not required')}")
    else:
        out.update(status="unchanged", reason=f"the retrained model is identical to "
                   f"{out.get('version', 'an existing version')} (no new data)")
    return out
