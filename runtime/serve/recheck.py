"""Re-admission while serving: a version voided, rejected or expired after start stops.

Why: admission at start proves the deploy and its approvals were valid *then*; approvals
expire, requests get voided and environments move on while a server runs for weeks.
Every `interval_s` (default 60, `SPECOPS_SERVE_RECHECK_S`; 0 switches it off) a daemon
thread re-runs `admission.check_deployment` for the served bytes' digest against the
governance store. On a refusal the service is revoked (`Service.revoke`): readiness and
scoring answer 503 with the cause, so a load balancer takes the replica out. Revocation is
final for the process: serving again takes a restart, which re-admits from scratch.

Why the bytes are not re-hashed: the session was built from bytes already in memory; what
is on disk no longer matters to what this process answers. Why a database error does not
revoke: an unreachable store is not a governance decision (the next round retries), and
taking production down on a network blip would turn the guard into an outage generator.
Only a genuine connectivity failure counts as that (SQLAlchemy's OperationalError or
InterfaceError, or an OSError): any other exception (a hostile row that fails to parse, a
bug) fails closed and revokes, or a forged row would keep a rejected model serving forever.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from typing import Any

from sqlalchemy import exc as sa_exc

from specops.runtime.serve.admission import ModelRefused, check_deployment

__all__ = ["DEFAULT_INTERVAL_S", "Recheck", "interval_from_env"]

DEFAULT_INTERVAL_S = 60.0
log = logging.getLogger(__name__)


def interval_from_env() -> float:
    """`SPECOPS_SERVE_RECHECK_S` (seconds; 0 = off), else the default."""
    raw = os.environ.get("SPECOPS_SERVE_RECHECK_S", "")
    try:
        return max(0.0, float(raw)) if raw.strip() else DEFAULT_INTERVAL_S
    except ValueError:
        return DEFAULT_INTERVAL_S


class Recheck:
    """Re-run the deployment check of `service.model` every `interval_s` seconds.

    `open_governance()` returns a fresh governance context per round (closed after it),
    so a long-running server never holds a database connection between checks."""

    def __init__(self, service: Any, open_governance: Callable[[], Any],
                 interval_s: float = DEFAULT_INTERVAL_S) -> None:
        self.service = service
        self.open_governance = open_governance
        self.interval_s = interval_s
        self.rounds = 0
        # run first in each round with its governance context, e.g. the rollout follower
        # (serve/traffic): a promotion swaps the model before the champion is checked
        self.before: list[Callable[[Any], None]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="specops-recheck",
                                        daemon=True)

    def check_once(self) -> str | None:
        """One round: None when the version still may serve, else the refusal (which
        also revokes the service)."""
        m = self.service.model
        env = m.deploy.environment if m.deploy is not None else None
        revoked: str | None = self.service.revoked
        if env is None or revoked is not None:
            return revoked
        self.rounds += 1
        try:
            gov = self.open_governance()
            try:
                for hook in self.before:
                    hook(gov)
                m = self.service.model
                check_deployment(gov, m.name, m.version, m.model_digest, env)
            finally:
                gov.close()
        except ModelRefused as exc:
            self.service.revoke(str(exc))
            log.error("specops: revoked %s: %s", m.ref, exc)
            return str(exc)
        except (sa_exc.OperationalError, sa_exc.InterfaceError, OSError) as exc:
            # the store is unreachable: not a decision, retry later
            log.warning("specops: re-check of %s could not run: %s", m.ref, exc)
        except Exception as exc:   # anything else fails closed
            cause = f"re-check of {m.ref} failed: {type(exc).__name__}: {exc}".splitlines()[0]
            self.service.revoke(cause)
            log.error("specops: revoked %s: %s", m.ref, cause)
            return cause
        return None

    def _loop(self) -> None:
        while not self._stop.wait(self.interval_s):
            if self.check_once() is not None:
                return

    def start(self) -> Recheck:
        if self.interval_s > 0:
            self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout=10)
