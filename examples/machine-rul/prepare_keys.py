"""Make SSH ed25519 keys for the example's people and pipeline, then accept the first
trust root, so the walkthrough can sign every governed action.

Why here: a real team uses the keys its people already have (listed under
`people.<name>.keys` in specops.yaml) and a registry key kept by CI or a KMS; the example
has no such people, so its prepare step makes keys into `.keys/` (gitignored: private keys
are never committed), and olaf (model_risk_officer, allowed to change policy) accepts the
first trust root. In a real project a policy holder runs `specops policy accept` after
reviewing the change.
"""

from __future__ import annotations

import sys
from pathlib import Path

from specops.compiler.cli.main import main as specops
from specops.runtime.trust.ssh_keys import create_keypair

PEOPLE = ("pipeline", "maria", "olaf", "pete")


def main() -> int:
    here = Path(__file__).resolve().parent
    keys = here / ".keys"
    for name in PEOPLE:
        if not (keys / name).exists():
            create_keypair(keys, name, f"{name}@machine-rul-example")
    return specops(["policy", "accept", "--key", str(keys / "olaf"), "--project", str(here),
                    "--reason", "the example's first trust root"])


if __name__ == "__main__":
    sys.exit(main())
