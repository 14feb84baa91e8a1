"""`specops keys new|list|show`: the SSH ed25519 keys people sign governed actions with.

Why specops makes keys at all: most people already have `~/.ssh/id_ed25519` and can use
it as is (`--key ~/.ssh/id_ed25519`); `keys new` is for a separate signing key or a CI
service account. Keys go to --dir, else $SPECOPS_KEYS_DIR, else ~/.config/specops/keys;
the private key is written 0600 and never overwritten. `show` prints the public line to
paste under `people.<you>.keys` in specops.yaml and the fingerprint as `ssh-keygen -l`
prints it (the key id in every signed statement).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from specops.runtime.cli.support import usage_error

__all__ = ["register"]


def _dir(args: argparse.Namespace) -> Path:
    from specops.runtime.trust.ssh_keys import default_keys_dir

    return Path(args.dir).expanduser() if args.dir else default_keys_dir()


def cmd_keys_new(args: argparse.Namespace) -> int:
    from specops.runtime.trust.ssh_keys import KeyProblem, create_keypair

    try:
        key = create_keypair(_dir(args), args.name, args.comment)
    except KeyProblem as exc:
        raise usage_error(str(exc)) from None
    print(f"{key.path}  {key.key_id}")
    print(key.public_line(args.comment or args.name))
    return 0


def _public(path: Path) -> tuple[str, str]:
    from specops.runtime.trust.ssh_keys import fingerprint, parse_public_key

    line = path.read_text(encoding="utf-8").strip()
    return line, fingerprint(parse_public_key(line))


def cmd_keys_list(args: argparse.Namespace) -> int:
    from specops.runtime.trust.ssh_keys import KeyProblem

    folder = _dir(args)
    pubs = sorted(folder.glob("*.pub")) if folder.is_dir() else []
    if not pubs:
        print(f"no keys in {folder}", file=sys.stderr)
        return 0
    for pub in pubs:
        try:
            _line, fp = _public(pub)
        except (OSError, KeyProblem) as exc:
            fp = f"(unusable: {exc})"
        private = "private+public" if pub.with_suffix("").is_file() else "public only"
        print(f"{pub.stem:<20} {fp}  {private}")
    return 0


def cmd_keys_show(args: argparse.Namespace) -> int:
    from specops.runtime.trust.ssh_keys import KeyProblem

    ref = Path(args.name).expanduser()
    path = ref if ref.exists() or "/" in args.name else _dir(args) / args.name
    pub = path if path.suffix == ".pub" else path.with_name(path.name + ".pub")
    try:
        line, fp = _public(pub)
    except OSError:
        raise usage_error(f"no public key at {pub}") from None
    except KeyProblem as exc:
        raise usage_error(f"{pub}: {exc}") from None
    print(f"fingerprint  {fp}")
    print(f"public key   {line}")
    return 0


def register(sub: Any, add_common: Callable[[argparse.ArgumentParser], None]) -> None:
    p = sub.add_parser("keys", help="SSH ed25519 keys for signing governed actions")
    kp = p.add_subparsers(dest="keys_command", metavar="{new,list,show}", required=True)
    q = kp.add_parser("new", help="create an OpenSSH ed25519 keypair (private key 0600)")
    q.add_argument("name", help="file name of the key, e.g. your user name")
    q.add_argument("--comment", help="comment of the public key (default: NAME)")
    q.add_argument("--dir", help="folder (default: $SPECOPS_KEYS_DIR or "
                                 "~/.config/specops/keys)")
    q.set_defaults(func=cmd_keys_new)
    q = kp.add_parser("list", help="keys in the folder with their fingerprints")
    q.add_argument("--dir", help="folder (default: $SPECOPS_KEYS_DIR or "
                                 "~/.config/specops/keys)")
    q.set_defaults(func=cmd_keys_list)
    q = kp.add_parser("show", help="fingerprint and public line of one key")
    q.add_argument("name", help="key name in the folder, or a path")
    q.add_argument("--dir", help="folder (default: $SPECOPS_KEYS_DIR or "
                                 "~/.config/specops/keys)")
    q.set_defaults(func=cmd_keys_show)
