"""Follow the governance store's rollout while serving: attach, drop, promote.

Why in the re-check round (runtime/serve/recheck.py, every `SPECOPS_SERVE_RECHECK_S`):
a canary started, promoted or aborted while servers run must reach them without a
restart, and the champion's own re-check must see a promotion as the challenger taking
over, not as the champion losing its deploy. Each round, before the champion's check:

1. promotion: when the environment's deploy history now makes the loaded challenger
   current (same version and digest), and `admission.check_deployment` accepts it, the
   challenger becomes the service's model (prediction log arm `champion`), the router
   is dropped;
2. the running rollout, if `governance.deploy.rollout_problem` finds nothing wrong with
   it (signed, audited, not ended, champion unchanged, challenger approved now), is
   attached: its challenger is loaded through `served_model.load_model` (the same
   admission as any model: signed manifest, bytes) and must be the digest the rollout
   names and take the champion's inputs;
3. anything else (no rollout, ended, invalid, a challenger refused by admission) drops
   the router: every request goes to the champion. `status` says why.

A database that cannot be reached raises (the round is skipped, as for the champion);
a challenger problem never revokes the champion.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
from pathlib import Path
from typing import Any

from specops.runtime.serve.admission import ModelRefused, check_deployment
from specops.runtime.serve.asgi import Service, _dumps
from specops.runtime.serve.lean import build_service
from specops.runtime.serve.prediction_log import PredictionLog
from specops.runtime.serve.recheck import Recheck, interval_from_env
from specops.runtime.serve.served_model import ModelSource, load_model, open_governance
from specops.runtime.serve.traffic.router import Arm, OutcomeLog, TrafficRouter
from specops.runtime.serve.wire.protocol import metadata

__all__ = ["RolloutFollower", "build_routed_service"]

log = logging.getLogger(__name__)


def _signature(model: Any) -> list[tuple[str, str]]:
    return [(str(t["name"]), str(t["datatype"])) for t in model.inputs]


class RolloutFollower:
    """Keeps `service.traffic` in step with the store's rollout for `source`."""

    def __init__(self, service: Service, source: ModelSource, log_predictions: bool = True,
                 log_batch_rows: int = 5000) -> None:
        self.service = service
        self.source = source
        self.log_predictions = log_predictions
        self.log_batch_rows = log_batch_rows
        self.router: TrafficRouter | None = None
        self.recheck: Recheck | None = None     # the re-check loop whose round runs sync
        self.status = "no rollout"
        self._lock = threading.Lock()

    # -- one round ---------------------------------------------------------------------
    def sync(self, gov: Any) -> None:
        from specops.runtime.governance.deploy import rollout_problem, running_rollout
        from specops.runtime.governance.promotion import current_deployment

        env = self.source.environment
        if env is None:
            return
        with self._lock:
            model = self.service.model
            row = current_deployment(gov, model.name, env)
            if (self.router is not None and row is not None
                    and int(row["version"]) == self.router.arm.model.version
                    and row["model_digest"] == self.router.arm.model.model_digest):
                self._promote(gov, env)
                return
            r = running_rollout(gov, model.name, env)
            problem = "no rollout is running" if r is None else rollout_problem(gov, r)
            if r is None or problem:
                self._drop(problem or "no rollout")
                return
            if self.router is not None and self.router.arm.rollout_id == r.id:
                return
            self._drop(f"rollout {r.id} replaces the previous one")
            try:
                self._attach(r)
            except ModelRefused as exc:
                self.status = f"rollout {r.id}: challenger refused: {exc}"
                log.error("specops: %s", self.status)

    def _attach(self, r: Any) -> None:
        champion = self.service.model
        src = dataclasses.replace(self.source, version=r.challenger, environment=None)
        challenger = load_model(src)          # admission: signed manifest, exact bytes
        if challenger.model_digest != r.challenger_digest:
            raise ModelRefused(f"{challenger.ref}: its bytes are not the ones the rollout "
                               "was signed for", "deployed_digest")
        if _signature(challenger) != _signature(champion):
            raise ModelRefused(f"{challenger.ref} takes other inputs than "
                               f"{champion.ref}; a rollout needs the same request format",
                               "signature")
        root = Path(self.source.project_root)
        arm_name = "shadow" if r.mode == "shadow" else "challenger"
        plog = (PredictionLog(root, challenger.name, challenger.version,
                              challenger.model_digest, batch_rows=self.log_batch_rows,
                              arm=arm_name) if self.log_predictions else None)
        outcomes = OutcomeLog(root, challenger.name, challenger.version,
                              challenger.model_digest, arm_name, self.log_batch_rows)
        mine = OutcomeLog(root, champion.name, champion.version, champion.model_digest,
                          "champion", self.log_batch_rows)
        self.router = TrafficRouter(Arm(r.id, r.mode, r.share, r.sticky_key, challenger,
                                        plog, outcomes, mine))
        self.service.traffic = self.router
        self.status = (f"rollout {r.id}: {challenger.ref} "
                       + ("shadows" if r.mode == "shadow" else f"takes {r.share:g}% of")
                       + f" {champion.ref}'s requests")
        log.warning("specops: %s", self.status)

    def _drop(self, why: str) -> None:
        router, self.router = self.router, None
        self.service.traffic = None
        if router is not None:
            self.status = f"challenger {router.arm.model.ref} dropped: {why}"
            log.warning("specops: %s", self.status)
            threading.Thread(target=router.close, daemon=True).start()
        else:
            self.status = why

    def _promote(self, gov: Any, env: str) -> None:
        """The challenger was promoted: it answers everything from now on."""
        assert self.router is not None
        new = self.router.arm.model
        try:
            state = check_deployment(gov, new.name, new.version, new.model_digest, env)
        except ModelRefused as exc:   # the champion's own re-check decides what follows
            self._drop(f"promotion of {new.ref} does not hold: {exc}")
            return
        svc = self.service
        old_log = svc.log
        svc.model = dataclasses.replace(new, deploy=state)
        svc._meta = _dumps(metadata(new.name, new.version, new.inputs, new.outputs))
        svc.log = (PredictionLog(Path(self.source.project_root), new.name, new.version,
                                 new.model_digest, batch_rows=self.log_batch_rows)
                   if old_log is not None else None)
        self._drop(f"{new.ref} was promoted")
        self.status = f"{new.ref} was promoted and now answers every request"
        log.warning("specops: %s", self.status)
        if old_log is not None:
            threading.Thread(target=old_log.close, daemon=True).start()

    def close(self) -> None:
        with self._lock:
            router, self.router = self.router, None
            self.service.traffic = None
        if router is not None:
            router.close()


def build_routed_service(source: ModelSource, log: bool = True, log_batch_rows: int = 5000,
                         registry: Any | None = None, recheck_s: float | None = None
                         ) -> Service:
    """`lean.build_service`, and with an environment the rollout follower: synced once
    now, then on each re-check round before the champion's own check."""
    if source.environment is None:
        return build_service(source, log, log_batch_rows, registry, recheck_s)
    service = build_service(source, log, log_batch_rows, registry, recheck_s=0)
    follower = RolloutFollower(service, source, log, log_batch_rows)
    gov = open_governance(source)
    try:
        follower.sync(gov)
    finally:
        gov.close()
    interval = interval_from_env() if recheck_s is None else recheck_s
    if interval > 0:
        guard = Recheck(service, lambda: open_governance(source), interval)
        guard.before.append(follower.sync)
        follower.recheck = guard.start()
        service.on_close.append(guard.stop)
    service.on_close.append(follower.close)
    service.rollout = follower      # type: ignore[attr-defined]
    return service
