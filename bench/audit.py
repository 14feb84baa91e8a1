"""Audit-log benchmark: append 100k entries, checkpoint, verify; and one signed action.

    uv run python bench/audit.py [--entries 100000] [--store URL] [-o FILE]

Prints one JSON object: entries, append_seconds (all appends, 1,000 per transaction),
checkpoint_seconds (read + chain + Merkle root + cross-check + sign), verify_seconds
(`specops audit verify --checkpoint` minus process start: read the whole log, recompute
the chain, build the tree, prove consistency with the checkpoint, cross-check the
governance tables; wall clock, and verify_cpu_seconds: this process's CPU time, the
number to trust on a shared machine), and the parts of verify (read, tree, proof, cross-check);
inclusion_proof_ms (prove and verify one entry at the full size); signed_action_ms
(median of 200: an in-toto statement signed with an Ed25519 SSH key in a DSSE envelope,
then appended to the audit log in its own committed write transaction, on the full log).
Targets (issue 12): verify <= 2 s on 2 cores, one signed action <= 20 ms.

The default store is a fresh SQLite file in a temporary folder; --store takes a
Postgres URL (a fresh schema is created and dropped). Keys are generated in the
temporary folder and deleted with it.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from cryptography.hazmat.primitives.asymmetric import ed25519

from specops.runtime.governance.database import open_engine, transaction
from specops.runtime.governance.governance_tables import ensure_schema
from specops.runtime.governance.ledger import audit, merkle
from specops.runtime.governance.ledger.checkpoint import Signer, Verifier
from specops.runtime.governance.ledger.crosscheck import crosscheck
from specops.runtime.governance.ledger.log_check import check_log, make_checkpoint

ORIGIN = "specops/bench/audit"


def _fill(engine: sa.Engine, n: int, batch: int = 1000) -> float:
    t0 = time.perf_counter()
    at = 1_800_000_000.0
    for start in range(0, n, batch):
        with transaction(engine) as conn:
            for i in range(start, min(n, start + batch)):
                audit.append(conn, actor=f"user{i % 17}", action="note",
                             target=f"model@{i % 500}", reason=f"bench entry {i}",
                             details={"i": i, "role": "model_risk_officer",
                                      "model_digest": "sha256:" + f"{i:064x}"}, at=at + i)
    return time.perf_counter() - t0


def _signed_action(engine: sa.Engine, tmp: Path, runs: int = 200) -> tuple[float, str]:
    """Median ms of sign + append + commit; says which signer it used."""
    try:
        from specops.runtime.trust.ssh_keys import create_keypair, load_private_key
        from specops.runtime.trust.statements import sign_action
    except ImportError:   # pragma: no cover - runtime/trust not present
        return float("nan"), "runtime.trust not available"
    made = create_keypair(tmp / "keys", "bench")
    signer = made if not isinstance(made, (str, Path, tuple)) else load_private_key(
        made[0] if isinstance(made, tuple) else made)
    times = []
    for i in range(runs):
        t0 = time.perf_counter()
        env = sign_action(signer, action="approve", person="bob", subject=f"model@{i}",
                          digest="sha256:" + "ab" * 32, spec_hash="sha256:" + "cd" * 32,
                          role="model_risk_officer", comment="reviewed", at=time.time())
        with transaction(engine) as conn:
            audit.append(conn, actor="bob", action="note", target=f"model@{i}",
                         reason="signed action", details={"envelope": env}, at=time.time())
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times), "runtime.trust in-toto/DSSE, SSH ed25519 key"


def run(entries: int, store: str | None) -> dict[str, Any]:
    tmp_dir = tempfile.TemporaryDirectory(prefix="specops-bench-audit-")
    tmp = Path(tmp_dir.name)
    schema = None if store is None else f"bench_audit_{uuid.uuid4().hex[:8]}"
    engine = open_engine(store or f"sqlite:///{tmp / 'store.db'}", tmp, schema=schema)
    try:
        ensure_schema(engine)
        out: dict[str, Any] = {"entries": entries, "store": engine.dialect.name,
                               "cpus": os.cpu_count()}
        out["append_seconds"] = round(_fill(engine, entries), 3)
        key = Signer(ORIGIN, ed25519.Ed25519PrivateKey.generate())
        t0 = time.perf_counter()
        note = make_checkpoint(check_log(engine, origin=ORIGIN), ORIGIN, [key])
        out["checkpoint_seconds"] = round(time.perf_counter() - t0, 3)
        pinned = [Verifier(key.public, ORIGIN)]
        t0, c0 = time.perf_counter(), time.process_time()
        report = check_log(engine, [("bench", note)], pinned, ORIGIN)
        out["verify_seconds"] = round(time.perf_counter() - t0, 3)
        out["verify_cpu_seconds"] = round(time.process_time() - c0, 3)
        assert report.ok, report.problems
        t0 = time.perf_counter()
        state = audit.read_log(engine)
        t1 = time.perf_counter()
        tree = state.tree()
        root = tree.root()
        t2 = time.perf_counter()
        proof = tree.consistency_proof(entries // 2)
        assert merkle.verify_consistency(entries // 2, entries, tree.root(entries // 2),
                                         root, proof)
        t3 = time.perf_counter()
        crosscheck(engine, state.entries)
        t4 = time.perf_counter()
        out["verify_parts_seconds"] = {"read_and_chain": round(t1 - t0, 3),
                                       "merkle_tree": round(t2 - t1, 3),
                                       "consistency_proof": round(t3 - t2, 5),
                                       "crosscheck": round(t4 - t3, 3)}
        t0 = time.perf_counter()
        idx = entries // 3
        inc = tree.inclusion_proof(idx)
        assert merkle.verify_inclusion(state.leaves[idx], idx, entries, inc, root)
        out["inclusion_proof_ms"] = round((time.perf_counter() - t0) * 1000, 3)
        ms, how = _signed_action(engine, tmp)
        out["signed_action_ms"] = round(ms, 3)
        out["signed_action"] = how
        out["targets"] = {"verify_seconds": 2.0, "signed_action_ms": 20.0}
        return out
    finally:
        engine.dispose()
        if schema:
            eng = sa.create_engine(store or "")
            with eng.begin() as conn:
                conn.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
            eng.dispose()
        tmp_dir.cleanup()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--entries", type=int, default=100_000)
    ap.add_argument("--store", help="a Postgres URL (default: a temporary SQLite file)")
    ap.add_argument("-o", "--output", help="also write the JSON here")
    args = ap.parse_args()
    result = run(args.entries, args.store)
    text = json.dumps(result, indent=2, sort_keys=True)
    print(text)
    if args.output:
        Path(args.output).write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
