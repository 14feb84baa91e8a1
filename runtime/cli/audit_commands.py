"""`specops audit verify | checkpoint | export`: the audit log's commands.

Why its own module: the log's proofs are what an auditor or a CI job runs against the
store, with keys and files from outside it; they share nothing with the approval and
deployment commands but the store. Exit codes as everywhere: 0 the log holds; 1 it does
not (or a checkpoint is refused), with one line naming the first bad entry when it can be
known; 2 a usage mistake (unreadable store, key or file). Never a traceback.

Keys: `checkpoint` signs with an Ed25519 private key (`--key`, else $SPECOPS_AUDIT_KEY;
OpenSSH or PKCS#8 PEM; passphrase in $SPECOPS_AUDIT_KEY_PASSPHRASE), never a generated
one. `verify` trusts a checkpoint only through a public key given to it (`--key-pub`,
repeatable, else $SPECOPS_AUDIT_KEY_PUB): a verifier key `name+id+base64`, an
`ssh-ed25519` line or a PEM public key, inline or as a file.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from specops.runtime.cli.support import project_config, usage_error

__all__ = ["register"]

KEY_ENV, PUB_ENV, PASS_ENV = ("SPECOPS_AUDIT_KEY", "SPECOPS_AUDIT_KEY_PUB",
                              "SPECOPS_AUDIT_KEY_PASSPHRASE")


def fail(message: str) -> Exception:
    """A usage mistake: one line, exit 2."""
    return usage_error(message)


def refused(message: str) -> int:
    """The log does not hold, or a checkpoint is refused: one line, exit 1."""
    print(f"specops: refused: {message}", file=sys.stderr)
    return 1


def _store(args: argparse.Namespace, root: Path) -> str | None:
    url = (args.store or os.environ.get("SPECOPS_STORE_URL")
           or project_config(root).get("store"))
    return url if isinstance(url, str) and url else None


def _root(args: argparse.Namespace) -> Path:
    root = Path(args.project or ".").resolve()
    if not root.is_dir():
        raise fail(f"no such project folder: {args.project}")
    return root


@contextmanager
def _engine(args: argparse.Namespace) -> Iterator[Any]:
    """The project's governance database (tables and triggers ensured)."""
    import sqlalchemy as sa

    from specops.runtime.governance.database import open_engine
    from specops.runtime.governance.governance_tables import ensure_schema

    root = _root(args)
    try:
        engine = open_engine(_store(args, root), root)
        ensure_schema(engine)
    except (sa.exc.SQLAlchemyError, ValueError) as exc:
        raise fail(f"cannot open the store: {str(exc).splitlines()[0]}") from None
    try:
        yield engine
    finally:
        engine.dispose()


def default_origin(root: Path) -> str:
    """The log's checkpoint origin: `specops/<project name>/audit`."""
    name = project_config(root).get("name")
    name = name if isinstance(name, str) and name.strip() else root.name
    return "specops/" + "".join(c if c.isalnum() or c in "-_." else "_" for c in name) + "/audit"


def _origin(args: argparse.Namespace) -> str:
    return str(args.origin or default_origin(_root(args)))


def _read(path: str, what: str) -> str:
    try:
        return Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise fail(f"cannot read {what} {path}: "
                   f"{getattr(exc, 'strerror', None) or exc}") from None


def cmd_audit_verify(args: argparse.Namespace) -> int:
    from specops.runtime.governance.ledger.checkpoint import CheckpointError, load_verifier
    from specops.runtime.governance.ledger.log_check import check_log

    notes = [(p, _read(p, "checkpoint")) for p in args.checkpoint or []]
    specs = list(args.key_pub or []) or ([os.environ[PUB_ENV]] if os.environ.get(PUB_ENV)
                                         else [])
    if notes and not specs:
        raise fail("a checkpoint is trusted only through its signer's public key: give "
                   f"--key-pub (or ${PUB_ENV})")
    try:
        verifiers = [load_verifier(s) for s in specs]
    except CheckpointError as exc:
        raise fail(str(exc)) from None
    with _engine(args) as engine:
        report = check_log(engine, notes, verifiers, _origin(args))
    problems = report.problems
    if problems:
        more = f" (+{len(problems) - 1} more)" if len(problems) > 1 else ""
        return refused(problems[0] + more)
    st = report.state
    print(f"audit chain ok: {st.size} entries, head {st.head_hash or '-'}")
    print(f"merkle root {report.root.hex()} (tree size {st.size})")
    for c in report.checkpoints:
        assert c.checkpoint is not None
        print(f"extends checkpoint {c.label} (size {c.checkpoint.size})")
    counts = ", ".join(f"{n} {what}s" for what, n in report.counts.items())
    print(f"cross-check ok: {counts or 'no governance tables'}")
    return 0


def cmd_audit_checkpoint(args: argparse.Namespace) -> int:
    from specops.runtime.governance.ledger.checkpoint import (
        CheckpointError,
        load_signer,
        verifier_key,
    )
    from specops.runtime.governance.ledger.log_check import check_log, make_checkpoint

    key = args.key or os.environ.get(KEY_ENV)
    if not key:
        raise fail(f"give the checkpoint signing key: --key FILE (or ${KEY_ENV}); an "
                   "Ed25519 key, e.g. from ssh-keygen -t ed25519")
    origin = _origin(args)
    passphrase = os.environ.get(PASS_ENV)
    try:
        signer = load_signer(key, args.key_name or origin,
                             passphrase.encode() if passphrase else None)
    except CheckpointError as exc:
        raise fail(str(exc)) from None
    out = Path(args.output)
    if out.is_dir():
        raise fail(f"{out} is a folder; give a file name")
    notes = []
    if out.is_file():   # the previous checkpoint there must still hold: never roll back
        notes.append((str(out), _read(str(out), "checkpoint")))
    with _engine(args) as engine:
        if engine.dialect.name == "sqlite" and engine.url.database and \
                Path(engine.url.database).resolve().parent == out.resolve().parent:
            raise fail(f"write the checkpoint outside the store's folder "
                       f"({Path(engine.url.database).parent}): whoever can rewrite the "
                       "store can rewrite a checkpoint beside it")
        report = check_log(engine, notes, [_own(signer)], origin)
    try:
        note = make_checkpoint(report, origin, [signer])
    except CheckpointError as exc:
        return refused(str(exc))
    tmp = out.with_name(f".{out.name}.tmp")
    tmp.write_text(note, encoding="utf-8")
    tmp.replace(out)
    print(f"wrote checkpoint of {report.state.size} entries to {out}", file=sys.stderr)
    print(f"verify with --key-pub '{verifier_key(signer.name, signer.public)}'",
          file=sys.stderr)
    return 0


def _own(signer: Any) -> Any:
    from specops.runtime.governance.ledger.checkpoint import Verifier

    return Verifier(signer.public, signer.name, "the signing key")


def cmd_audit_export(args: argparse.Namespace) -> int:
    from specops.runtime.governance.ledger import audit

    with _engine(args) as engine:
        if args.output:
            n = audit.export_jsonl(engine, Path(args.output), args.target)
            print(f"wrote {n} entries to {args.output}", file=sys.stderr)
        else:
            audit.export_jsonl(engine, sys.stdout, args.target)
    return 0


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--project", help="project folder with specops.yaml (default: .)")
    p.add_argument("--store", help="store URL (default: the project's)")
    p.add_argument("--artifacts", help=argparse.SUPPRESS)   # accepted, not needed


def register(sub: Any, add_common: Callable[[argparse.ArgumentParser], None]) -> None:
    """Add `specops audit` (imports nothing heavy: the parser is built for every command)."""
    p = sub.add_parser("audit", help="verify, checkpoint or export the audit log")
    au = p.add_subparsers(dest="audit_command", metavar="{verify,checkpoint,export}",
                          required=True)
    q = au.add_parser("verify", help="recompute the chain, prove the log extends every "
                      "checkpoint given, cross-check it with the governance tables")
    q.add_argument("--checkpoint", action="append", metavar="FILE",
                   help="a signed checkpoint the log must extend (repeatable)")
    q.add_argument("--key-pub", action="append", metavar="KEY",
                   help=f"the checkpoint signer's public key or key file (repeatable; "
                        f"default ${PUB_ENV})")
    q.add_argument("--origin", help="the log's origin (default: specops/<project>/audit)")
    _common(q)
    q.set_defaults(func=cmd_audit_verify)
    q = au.add_parser("checkpoint", help="write a signed tree head (C2SP tlog-checkpoint) "
                      "to a file outside the store")
    q.add_argument("--output", "-o", required=True, metavar="FILE",
                   help="where to write it (a file it already holds must still verify)")
    q.add_argument("--key", metavar="FILE",
                   help=f"Ed25519 private key (OpenSSH or PEM; default ${KEY_ENV})")
    q.add_argument("--key-name", help="the signature's key name (default: the origin)")
    q.add_argument("--origin", help="the log's origin (default: specops/<project>/audit)")
    _common(q)
    q.set_defaults(func=cmd_audit_checkpoint)
    q = au.add_parser("export", help="write the log as JSON lines")
    q.add_argument("--output", "-o", help="file (default: stdout)")
    q.add_argument("--target", help="only entries whose target starts with this")
    _common(q)
    q.set_defaults(func=cmd_audit_export)
