"""`specops evidence export MODEL@V -o FILE` and `specops evidence verify FILE`.

Why two commands and no store for the second: export runs where the store is (the
team's CI or a governance host); verify runs where the auditor is, with the bundle and
the keys or trust root the auditor pinned (`--trust`, repeatable), nothing else.
Exit codes: 0 every check holds; 1 a check fails (one line: the cause), or no pin was
given without --allow-unpinned (the result would only prove internal consistency);
2 a usage mistake (unreadable file, bad reference, missing key). Never a traceback.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from specops.runtime.cli.support import project_config, refused, usage_error

__all__ = ["register"]

CHECKPOINT_KEY_ENV = "SPECOPS_AUDIT_KEY"   # the key `audit checkpoint` signs with


def _ref(text: str) -> tuple[str, int]:
    name, sep, tag = text.partition("@")
    if not name or not sep or not tag.isdigit():
        raise usage_error(f"bad reference {text!r}: use MODEL@VERSION (a version number)")
    return name, int(tag)


def cmd_export(args: argparse.Namespace) -> int:
    import sqlalchemy as sa

    from specops.runtime.cli.audit_commands import default_origin
    from specops.runtime.governance import Governance
    from specops.runtime.governance.ledger.checkpoint import CheckpointError, load_signer
    from specops.runtime.trust.evidence_export import export_bundle
    from specops.runtime.trust.evidence_format import BundleError

    model, version = _ref(args.ref)
    root = Path(args.project or ".").resolve()
    if not root.is_dir():
        raise usage_error(f"no such project folder: {args.project}")
    cfg = project_config(root)
    origin = args.origin or default_origin(root)
    note = signer = None
    if args.checkpoint:
        try:
            note = Path(args.checkpoint).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise usage_error(f"cannot read checkpoint {args.checkpoint}: "
                              f"{getattr(exc, 'strerror', None) or exc}") from None
    else:
        key = args.checkpoint_key or os.environ.get(CHECKPOINT_KEY_ENV)
        if not key:
            raise usage_error("give a checkpoint: --checkpoint FILE (signed earlier with "
                              "`specops audit checkpoint`) or --checkpoint-key FILE (or "
                              f"${CHECKPOINT_KEY_ENV}) to sign a fresh one")
        try:
            signer = load_signer(key, args.key_name or origin)
        except CheckpointError as exc:
            raise usage_error(str(exc)) from None
    url = args.store or os.environ.get("SPECOPS_STORE_URL") or cfg.get("store")
    try:
        gov = Governance.open(root, url if isinstance(url, str) else None,
                              artifacts=args.artifacts or cfg.get("artifacts"))
    except (sa.exc.SQLAlchemyError, ValueError) as exc:
        raise usage_error(f"cannot open the store: {str(exc).splitlines()[0]}") from None
    try:
        data = export_bundle(gov.engine, gov.registry, model, version, note=note,
                             signer=signer, origin=origin)
    except BundleError as exc:
        return refused(str(exc))
    except (LookupError, RuntimeError) as exc:   # RegistryError: no such version
        return refused(str(exc).splitlines()[0])
    finally:
        gov.close()
    out = Path(args.output)
    if out.is_dir():
        raise usage_error(f"{out} is a folder; give a file name")
    tmp = out.with_name(f".{out.name}.tmp")
    tmp.write_bytes(data)
    tmp.replace(out)
    print(f"wrote the evidence bundle of {model}@{version} to {out} ({len(data)} bytes)",
          file=sys.stderr)
    return 0


def cmd_verify(args: argparse.Namespace) -> int:
    from specops.runtime.trust.evidence_format import BundleError
    from specops.runtime.trust.evidence_verify import load_pins, verify_bundle

    try:
        data = Path(args.bundle).read_bytes()
    except OSError as exc:
        raise usage_error(f"cannot read {args.bundle}: {exc.strerror}") from None
    try:
        pins = load_pins(list(args.trust or []))
    except BundleError as exc:
        raise usage_error(str(exc)) from None
    result = verify_bundle(data, pins)
    for src in pins.sources:
        print(f"pinned {src}")
    for line in result.lines:
        print(line)
    if not result.ok:
        print("FAILED")
        return refused(str(result.cause))
    if result.unpinned:
        print("CONSISTENT ONLY: no --trust given, so this proves internal consistency, not "
              "who signed (anyone can build a consistent bundle with keys of their own)")
        if not args.allow_unpinned:
            return refused("nothing pinned: give --trust FILE (a trust root, trust.lock.json "
                           "or a public key), or --allow-unpinned")
        return 0
    print("VERIFIED")
    return 0


def register(sub: Any, add_common: Callable[[argparse.ArgumentParser], None]) -> None:
    """Add `specops evidence` (imports nothing heavy: the parser is built for every
    command)."""
    p = sub.add_parser("evidence", help="export or verify an auditor's evidence bundle")
    ev = p.add_subparsers(dest="evidence_command", metavar="{export,verify}", required=True)
    q = ev.add_parser("export", help="write one version's signed evidence to one file")
    q.add_argument("ref", metavar="MODEL@VERSION")
    q.add_argument("--output", "-o", required=True, metavar="FILE")
    q.add_argument("--checkpoint", metavar="FILE",
                   help="a signed checkpoint the proofs are made against")
    q.add_argument("--checkpoint-key", metavar="FILE",
                   help=f"Ed25519 key to sign a fresh checkpoint (default "
                        f"${CHECKPOINT_KEY_ENV})")
    q.add_argument("--key-name", help="the checkpoint signature's name (default: origin)")
    q.add_argument("--origin", help="the log's origin (default: specops/<project>/audit)")
    q.add_argument("--project", help="project folder with specops.yaml (default: .)")
    q.add_argument("--store", help="store URL (default: the project's)")
    q.add_argument("--artifacts", help="artifact folder (default: the project's)")
    q.set_defaults(func=cmd_export)
    q = ev.add_parser("verify", help="check a bundle offline against pinned keys")
    q.add_argument("bundle", metavar="FILE")
    q.add_argument("--trust", action="append", metavar="FILE",
                   help="a pinned trust root / trust.lock.json or public key file "
                        "(repeatable)")
    q.add_argument("--allow-unpinned", action="store_true",
                   help="exit 0 on a bundle that is only internally consistent")
    q.set_defaults(func=cmd_verify)
