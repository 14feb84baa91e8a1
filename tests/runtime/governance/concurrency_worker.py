"""One worker process of the concurrency test: register and approve `n` versions.

Kept in its own module so `multiprocessing` (spawn) can import it in a fresh interpreter.
"""

from __future__ import annotations

from pathlib import Path


def work(url: str, schema: str | None, root: str, worker: int, n: int) -> int:
    """n registrations + n approvals (2n governed actions); returns how many succeeded."""
    from gov_helpers import directory, facts, rule

    from specops.runtime.governance import Governance
    from specops.runtime.governance.approvals import approve
    from specops.runtime.governance.registration import record_registration

    gov = Governance.open(Path(root), url, directory=directory(), schema=schema,
                          with_registry=False)
    f = facts(rule({"model_risk_officer": 1}))
    done = 0
    try:
        for i in range(1, n + 1):
            model = f"m{worker}"
            record_registration(gov, actor="dan", model=model, version=i,
                                model_digest=f"sha256:{worker}-{i}", spec_hash="sha256:s",
                                facts=f, run_id=f"run-{worker}-{i}")
            done += 1
            st = approve(gov, "bob" if i % 2 else "erin", model, i, "model_risk_officer",
                         f"ok {worker}/{i}")
            assert st.state == "approved", st.reason
            done += 1
    finally:
        gov.close()
    return done
