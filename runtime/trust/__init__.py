"""Trust: per-person SSH keys, DSSE-signed action statements, the trust root in force.

Why a package of its own: identity used to be a claimed string (`--as`, `SPECOPS_USER`);
here it is the key that signed a statement, looked up in a trust root that only takes
effect after `specops policy accept` signed by the people allowed to change policy. The
registry's keyring (the public keys that verify manifests) is pinned in the same root.
See docs/governance.md ("Signed actions and the trust root").
"""
