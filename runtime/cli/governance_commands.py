"""`specops approvals list`, `approve`, `reject`, `deploy`, `rollback`, `deployments`,
`policy accept`, `report`: the governance commands.

Why the CLI is thin: permissions, separation of duties, quorum, binding and history are
enforced in `specops.runtime.governance`; this module only resolves the acting user
(`--as`, else SPECOPS_USER, else the OS user), opens the project's store and registry, and
turns outcomes into exit codes: 0 done; 1 the action was refused (permission, separation
of duties, missing approvals, failed signature, broken audit chain) with one line saying
why; 2 a usage mistake (unknown model, version or environment, bad reference, unreadable
store). Never a traceback for either.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from specops.runtime.cli.support import fail as _fail
from specops.runtime.cli.support import project_config, when
from specops.runtime.cli.support import refused as _refused

__all__ = ["register"]

ENVIRONMENTS = ("staging", "production")   # governance.deploy.ENVIRONMENTS, kept light


@contextmanager
def _governance(args: argparse.Namespace) -> Iterator[Any]:
    """The project's governance context; maps setup failures to usage errors."""
    import sqlalchemy as sa

    from specops.runtime.governance import Governance
    from specops.runtime.governance.identity import IdentityError

    root = Path(args.project or ".").resolve()
    if not root.is_dir():
        raise _fail(f"no such project folder: {args.project}")
    cfg = project_config(root)
    url = args.store or os.environ.get("SPECOPS_STORE_URL") or cfg.get("store")
    try:
        gov = Governance.open(root, url if isinstance(url, str) else None,
                              artifacts=args.artifacts or cfg.get("artifacts"))
    except IdentityError as exc:
        raise _fail(str(exc)) from None
    except (sa.exc.SQLAlchemyError, ValueError) as exc:
        raise _fail(f"cannot open the store: {str(exc).splitlines()[0]}") from None
    try:
        gov.signer = _signer(args)
    except BaseException:
        gov.close()
        raise
    try:
        yield gov
    finally:
        gov.close()


def _signer(args: argparse.Namespace) -> Any:
    """`--key PATH`, else $SPECOPS_KEY (None when neither); a bad key file exits 2."""
    from specops.runtime.trust.signer import person_signer
    from specops.runtime.trust.ssh_keys import KeyProblem

    try:
        return person_signer(getattr(args, "key", None))
    except KeyProblem as exc:
        raise _fail(str(exc)) from None


def _actor(args: argparse.Namespace) -> str:
    """The claimed name (`--as`, else SPECOPS_USER, else the OS user). With a key and no
    claim, "" lets the key say who acts (runtime/trust/acting.py)."""
    from specops.runtime.governance import resolve_actor
    from specops.runtime.governance.identity import IdentityError

    claimed = getattr(args, "as_user", None) or os.environ.get("SPECOPS_USER")
    if not claimed and (getattr(args, "key", None) or os.environ.get("SPECOPS_KEY")):
        return ""
    try:
        return resolve_actor(claimed)
    except IdentityError as exc:
        raise _fail(str(exc)) from None


def _person(gov: Any, actor: str) -> str:
    from specops.runtime.trust.acting import acting_person

    return acting_person(gov, actor)


def _ref(text: str, need_version: bool = True) -> tuple[str, int | None]:
    name, _, tag = text.partition("@")
    if not name or (need_version and not tag.isdigit()):
        raise _fail(f"bad reference {text!r}: use MODEL@VERSION (e.g. credit_default@3)")
    return name, int(tag) if tag.isdigit() else None


def _guarded(fn: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    """Run a command: refusals exit 1, unknown things exit 2, both one line."""
    def run(args: argparse.Namespace) -> int:
        from specops.runtime.governance import GovernanceError, NotFound

        try:
            return fn(args)
        except GovernanceError as exc:
            return _refused(str(exc))
        except NotFound as exc:
            raise _fail(str(exc).strip("'\"")) from None
    run.__name__ = fn.__name__
    run.__doc__ = fn.__doc__
    return run


def _print_status(st: Any) -> None:
    roles = "; ".join(f"{r.role} {len(r.approvers)}/{r.need}"
                      + (f" ({', '.join(r.approvers)})" if r.approvers else "")
                      for r in st.roles) or "-"
    print(f"{st.ref:<28} {st.state:<9} {roles}")
    print(f"{'':<4}{st.reason}")


# -- commands ------------------------------------------------------------------------------
@_guarded
def cmd_approvals_list(args: argparse.Namespace) -> int:
    from specops.runtime.governance.approvals import list_status

    with _governance(args) as gov:
        rows = list_status(gov, args.model, args.state)
    if args.json:
        print(json.dumps([s.as_json() for s in rows], indent=2, sort_keys=True, default=str))
        return 0
    if not rows:
        print("no approval requests" + (f" in state {args.state}" if args.state else ""),
              file=sys.stderr)
        return 0
    print(f"{'VERSION':<28} {'STATE':<9} ROLES (signed/needed)")
    for st in rows:
        _print_status(st)
    return 0


@_guarded
def cmd_approve(args: argparse.Namespace) -> int:
    from specops.runtime.governance.approvals import approve

    model, version = _ref(args.ref)
    assert version is not None
    actor = _actor(args)
    with _governance(args) as gov:
        actor = _person(gov, actor)
        st = approve(gov, actor, model, version, args.role, args.comment or "")
    print(f"{actor} approved {st.ref} as {args.role}; now {st.state}: {st.reason}")
    return 0


@_guarded
def cmd_reject(args: argparse.Namespace) -> int:
    from specops.runtime.governance.approvals import reject

    model, version = _ref(args.ref)
    assert version is not None
    actor = _actor(args)
    with _governance(args) as gov:
        actor = _person(gov, actor)
        st = reject(gov, actor, model, version, args.role, args.comment or "")
    print(f"{actor} rejected {st.ref}")
    return 0


@_guarded
def cmd_deploy(args: argparse.Namespace) -> int:
    from specops.runtime.governance.promotion import deploy

    model, version = _ref(args.ref)
    assert version is not None
    actor = _actor(args)
    if args.canary is not None or args.shadow:   # progressive delivery (deploy.py)
        return _start_rollout(args, model, version, actor)
    with _governance(args) as gov:
        d = deploy(gov, actor, model, version, args.env, args.reason or "")
    tail = f" (was @{d.previous_version})" if d.previous_version else ""
    print(f"{d.ref} serves {args.env}{tail}" if d.changed
          else f"{d.ref} already serves {args.env}")
    return 0


def _start_rollout(args: argparse.Namespace, model: str, version: int, actor: str) -> int:
    """`deploy --canary PCT | --shadow`: the same checks as a full deploy, then a signed
    `rollout` beside the champion (runtime/governance/deploy.py)."""
    from specops.runtime.governance.deploy import start_rollout

    if args.canary is not None and args.shadow:
        raise _fail("--canary and --shadow exclude each other")
    with _governance(args) as gov:
        r = start_rollout(gov, actor, model, version, args.env, share=args.canary,
                          shadow=args.shadow, sticky_key=args.sticky_key or "",
                          reason=args.reason or "")
    how = "shadow (scores mirrored traffic, never answers)" if r.mode == "shadow" else \
        f"canary {r.share:g}% of requests, sticky by {r.sticky_key or 'request id'}"
    print(f"{r.ref} rolls out in {args.env} beside @{r.champion}: {how} (rollout {r.id})")
    return 0


@_guarded
def cmd_rollback(args: argparse.Namespace) -> int:
    from specops.runtime.governance.promotion import rollback

    if "@" in args.model:
        raise _fail("rollback takes a model name: it returns to the previous version")
    actor = _actor(args)
    with _governance(args) as gov:
        d = rollback(gov, actor, args.model, args.env, args.reason or "")
    print(f"{args.env}: {d.model}@{d.previous_version} -> {d.ref} (rolled back)")
    return 0


@_guarded
def cmd_deployments(args: argparse.Namespace) -> int:
    from specops.runtime.governance.promotion import history

    with _governance(args) as gov:
        rows = history(gov, args.model, args.env)
    if args.json:
        print(json.dumps(rows, indent=2, sort_keys=True, default=str))
        return 0
    if not rows:
        print(f"{args.model} was never deployed", file=sys.stderr)
        return 0
    print(f"{'ENV':<11} {'VERSION':>7} {'ACTION':<9} {'FROM':<21} {'UNTIL':<21} ACTOR")
    for r in rows:
        print(f"{r['environment']:<11} {r['version']:>7} {r['action']:<9} "
              f"{when(r['at']):<21} {when(r['until']):<21} {r['actor']}"
              + (f"  ({r['reason']})" if r["reason"] else ""))
    return 0


def _accept_trust_root(gov: Any, reason: str) -> None:
    """Sign the working copy's trust root; it is in force once the quorum has signed."""
    from specops.runtime.governance import GovernanceError
    from specops.runtime.governance.database import transaction
    from specops.runtime.trust.trust_root import TrustError, load_working_root
    from specops.runtime.trust.trust_store import accept

    if gov.signer is None:
        raise GovernanceError("policy accept must be signed: pass --key PATH or set "
                              "SPECOPS_KEY")
    try:
        proposal = load_working_root(gov.project_root)
        with transaction(gov.engine) as conn:
            res = accept(conn, proposal, gov.signer, at=gov.now(), comment=reason)
    except TrustError as exc:
        raise GovernanceError(str(exc)) from None
    short = res.digest[:19] + "…"
    if not res.changed:
        print(f"the trust root in force is already {short}")
    elif res.in_force:
        print(f"trust root {short} is in force (accepted by {', '.join(res.signed_by)})")
        _write_lock(gov)
    else:
        print(f"{res.person} signed trust root {short}: {len(res.signed_by)} of {res.needed}"
              f" acceptances ({', '.join(res.signed_by)}); not in force yet")


def _write_lock(gov: Any) -> None:
    """trust.lock.json beside specops.yaml: what lint compares the working copy with."""
    from specops.runtime.trust.trust_store import LOCK_FILE, lock_document

    with gov.engine.connect() as conn:
        doc = lock_document(conn)
    if doc is not None:
        path = gov.project_root / LOCK_FILE
        path.write_text(json.dumps(doc, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        print(f"wrote {path.name}: commit it with the change", file=sys.stderr)


@_guarded
def cmd_policy_accept(args: argparse.Namespace) -> int:
    from specops.runtime.engine.plan_reader import PlanError, load_plan
    from specops.runtime.governance.policy_changes import record_config
    from specops.runtime.trust.trust_root import keys_configured, read_config

    plan = None
    if args.plan:
        try:
            plan = load_plan(args.plan)
        except PlanError as exc:
            raise _fail(str(exc)) from None
    actor = _actor(args)
    with _governance(args) as gov:
        signed = gov.signed or keys_configured(read_config(gov.project_root))
        if not signed and plan is None:
            raise _fail("nothing to accept: list people's `keys` in specops.yaml (a trust "
                        "root), or pass --plan PLAN")
        if signed:
            _accept_trust_root(gov, args.reason or "")
            gov.load_trust(True)
            gov.signer = _signer(args)
        if plan is not None:
            actor = _person(gov, actor)
            changed = record_config(gov, actor, dict(plan.models), args.reason or "")
            print(f"{actor} adopted the governance configuration of {args.plan}" if changed
                  else "the governance configuration is unchanged")
    return 0


@_guarded
def cmd_policy_status(args: argparse.Namespace) -> int:
    from specops.runtime.trust.trust_root import TrustError, load_working_root
    from specops.runtime.trust.trust_store import pending

    with _governance(args) as gov:
        try:
            working = load_working_root(gov.project_root)
        except TrustError as exc:
            raise _fail(str(exc)) from None
        if gov.trust_problem:
            return _refused(gov.trust_problem)
        current = gov.trust
        with gov.engine.connect() as conn:
            signed_by = pending(conn, working)
    print(f"in force:     {current.digest if current else '(none accepted)'}")
    print(f"working copy: {working.digest}")
    if current is not None and current.digest == working.digest:
        print("the working copy is in force")
        return 0
    for line in _people_changes(current, working):
        print(f"  {line}")
    print("not in force until `specops policy accept` (signed so far: "
          f"{', '.join(signed_by) or 'nobody'})")
    return 0


def _people_changes(current: Any, working: Any) -> list[str]:
    old = dict((current.document if current else {}).get("people") or {})
    new = dict(working.document.get("people") or {})
    out = [f"+ {n} ({', '.join(new[n]['roles'])})" for n in sorted(set(new) - set(old))]
    out += [f"- {n}" for n in sorted(set(old) - set(new))]
    out += [f"~ {n}" for n in sorted(set(old) & set(new)) if old[n] != new[n]]
    if current and current.document.get("permissions") != working.document.get("permissions"):
        out.append("~ permissions")
    return out


@_guarded
def cmd_report(args: argparse.Namespace) -> int:
    from specops.runtime.reports.model_report import render_pdf, render_report

    model, version = _ref(args.ref)
    assert version is not None
    pdf = args.pdf or (args.output if args.format == "pdf" else None)
    if args.format == "pdf" and pdf is None:
        pdf = f"{model}-{version}.report.pdf"
    for target in (pdf, args.output):
        if target and not Path(target).resolve().parent.is_dir():
            raise _fail(f"cannot write {target}: no such folder")
    with _governance(args) as gov:
        if pdf is not None:
            pages = render_pdf(gov, model, version, Path(pdf))
            print(f"wrote {pdf} ({pages} pages)", file=sys.stderr)
        if args.format == "html" and (args.output or not args.pdf):
            html = render_report(gov, model, version)
            out = Path(args.output or f"{model}-{version}.report.html")
            out.write_text(html, encoding="utf-8")
            print(f"wrote {out}", file=sys.stderr)
    return 0


# -- wiring --------------------------------------------------------------------------------
def _common(p: argparse.ArgumentParser, actor: bool = True) -> None:
    if actor:
        p.add_argument("--as", dest="as_user", metavar="USER",
                       help="who you claim to be (default: $SPECOPS_USER, else the OS "
                            "user); with a key it must be the key's person")
        p.add_argument("--key", metavar="PATH",
                       help="your SSH ed25519 private key, which signs the action "
                            "(default: $SPECOPS_KEY)")
    p.add_argument("--project", help="project folder with specops.yaml (default: .)")
    p.add_argument("--store", help="store URL (default: the project's)")
    p.add_argument("--artifacts", help="artifact folder (default: the project's)")


def register(sub: Any, add_common: Callable[[argparse.ArgumentParser], None]) -> None:
    """Add the governance commands to the `specops` parser (imports nothing heavy: the
    parser is built for every command, `specops lint` included)."""
    p = sub.add_parser("approvals", help="approval requests and their state")
    ap = p.add_subparsers(dest="approvals_command", metavar="{list}", required=True)
    q = ap.add_parser("list", help="the latest request of every version, recomputed now")
    q.add_argument("--model", help="only this model")
    q.add_argument("--state", choices=["open", "approved", "rejected", "voided", "expired"])
    q.add_argument("--json", action="store_true", help="machine-readable output")
    _common(q)
    q.set_defaults(func=cmd_approvals_list)

    p = sub.add_parser("approve", help="sign MODEL@VERSION in one role")
    p.add_argument("ref", metavar="MODEL@VERSION")
    p.add_argument("--role", required=True, help="the role you sign as")
    p.add_argument("--comment", "-m", help="rationale, kept with the approval")
    _common(p)
    p.set_defaults(func=cmd_approve)

    p = sub.add_parser("reject", help="reject MODEL@VERSION (closes its request)")
    p.add_argument("ref", metavar="MODEL@VERSION")
    p.add_argument("--role", help="the role you reject as (default: any allowed one)")
    p.add_argument("--comment", "-m", help="why")
    _common(p)
    p.set_defaults(func=cmd_reject)

    p = sub.add_parser("deploy", help="serve MODEL@VERSION in an environment (checks "
                       "approvals and the signature)")
    p.add_argument("ref", metavar="MODEL@VERSION")
    p.add_argument("--env", required=True, choices=ENVIRONMENTS)
    p.add_argument("--reason", help="why, kept in the history and the audit log")
    p.add_argument("--canary", type=float, metavar="PCT", help="progressive delivery: "
                   "send PCT%% of requests to this version beside the current one")
    p.add_argument("--shadow", action="store_true", help="progressive delivery: this "
                   "version scores mirrored requests; its answers are never returned")
    p.add_argument("--sticky-key", metavar="INPUT", help="canary routing key: this model "
                   "input's value (default: the request id)")
    _common(p)
    p.set_defaults(func=cmd_deploy)

    p = sub.add_parser("rollback", help="return an environment to its previous version")
    p.add_argument("model", metavar="MODEL")
    p.add_argument("--env", required=True, choices=ENVIRONMENTS)
    p.add_argument("--reason", help="why")
    _common(p)
    p.set_defaults(func=cmd_rollback)

    p = sub.add_parser("deployments", help="which version served each environment when")
    p.add_argument("model", metavar="MODEL")
    p.add_argument("--env", choices=ENVIRONMENTS)
    p.add_argument("--json", action="store_true")
    _common(p, actor=False)
    p.set_defaults(func=cmd_deployments)

    p = sub.add_parser("policy", help="adopt changed approval rules, permissions or roles")
    po = p.add_subparsers(dest="policy_command", metavar="{accept,status}", required=True)
    q = po.add_parser("accept", help="sign the working copy's trust root (people, keys, "
                      "roles, permissions) and/or a plan's approval rules (needs "
                      "change_policy); nothing takes effect before")
    q.add_argument("--plan", help="plan.json from `specops compile -o` (approval rules)")
    q.add_argument("--reason", help="why, kept in the audit log")
    _common(q)
    q.set_defaults(func=cmd_policy_accept)
    q = po.add_parser("status", help="the trust root in force vs the working copy")
    _common(q, actor=False)
    q.set_defaults(func=cmd_policy_status)

    p = sub.add_parser("report", help="SR 11-7 / EU AI Act Annex IV model documentation "
                                      "(HTML, PDF)")
    p.add_argument("ref", metavar="MODEL@VERSION")
    p.add_argument("--output", "-o", help="output file (default: MODEL-VERSION.report.html, "
                                         "or .pdf with --format pdf)")
    p.add_argument("--format", choices=("html", "pdf"), default="html",
                   help="html (interactive, self-contained) or pdf (print layout)")
    p.add_argument("--pdf", metavar="FILE", help="also write the PDF to FILE")
    _common(p, actor=False)
    p.set_defaults(func=cmd_report)
