"""Where `specops lint` keeps its cache, and why it may believe what it reads back.

The cache lives in the project (`<root>/.specops/cache/lint/`, or `--cache-dir`), so it is
user-writable: anyone who can write there could try to drop a diagnostic from a cached
entry and get a broken spec through a pre-commit hook. So nothing in it is believed on its
own. An entry is one JSON file whose first line carries an HMAC-SHA256 of the rest, keyed
with a secret of this user account on this machine (`$XDG_CACHE_HOME/specops/lint-cache.key`,
created 0600 on first use, outside every project). An entry that fails the HMAC, names
another cache key, or does not have exactly the expected structure is ignored and the
project is linted from scratch (and the entry rewritten). A copied, restored or foreign
cache (another machine, another user, a CI cache from someone else's branch) is ignored
for the same reason. What a valid entry is trusted for is listed in docs/lint.md.

Why not pickle: loading a pickle runs code, and this file is user input.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from specops.compiler.diagnostics.diagnostic import Diagnostic, Related, Severity, Span

__all__ = ["CACHE_SCHEMA", "LintStore", "decode_diagnostic", "encode_diagnostic",
           "open_store"]

CACHE_SCHEMA = 1
_MAGIC = b"specops-lint-cache"
_KEEP = 8            # entries kept per cache folder (one per specops.yaml/vars/version)
_MAX_ENTRY = 256 * 1024 * 1024


def _secret_path() -> Path:
    home = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(home) / "specops" / "lint-cache.key"


def _secret() -> bytes | None:
    """This account's HMAC key, created on first use; None when it cannot be had (a
    read-only home): lint then runs without a cache."""
    path = _secret_path()
    try:
        data = path.read_bytes()
        if len(data) >= 32:
            return data
    except OSError:
        pass
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(os.urandom(32))
        return path.read_bytes()
    except FileExistsError:  # another lint created it meanwhile
        with contextlib.suppress(OSError):
            data = path.read_bytes()
            return data if len(data) >= 32 else None
        return None
    except OSError:
        return None


def _real_folder(root: Path, parts: tuple[str, ...]) -> Path | None:
    """`root/parts...` created as plain folders; None when any of them is a link or not a
    folder (a `.specops` link must not make lint write outside the project)."""
    here = root
    for part in parts:
        here = here / part
        try:
            here.mkdir(exist_ok=True)
        except OSError:
            return None
        if here.is_symlink() or not here.is_dir():
            return None
    return here


@dataclass(frozen=True, slots=True)
class LintStore:
    """One cache folder and this account's key."""

    folder: Path
    secret: bytes
    keep: int = _KEEP     # entries kept in the folder (oldest pruned first)

    def _path(self, key: str) -> Path:
        return self.folder / f"{key[:32]}.json"

    def read(self, key: str) -> dict[str, Any] | None:
        """The entry for `key` when it is intact and ours; None otherwise."""
        path = self._path(key)
        try:
            fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
            with os.fdopen(fd, "rb") as fh:
                raw = fh.read(_MAX_ENTRY + 1)
        except OSError:
            return None
        head, sep, body = raw.partition(b"\n")
        parts = head.split(b" ")
        if not sep or len(parts) != 3 or parts[0] != _MAGIC or parts[1] != b"%d" % CACHE_SCHEMA:
            return None
        mac = hmac.new(self.secret, body, hashlib.sha256).hexdigest().encode()
        if not hmac.compare_digest(mac, parts[2]):
            return None
        try:
            data = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            return None
        if not isinstance(data, dict) or data.get("key") != key:
            return None
        return data

    def write(self, key: str, data: dict[str, Any]) -> None:
        """Write atomically (a reader sees the old entry or the new one); errors are not
        the user's problem, so they only cost the next run its cache."""
        body = json.dumps({**data, "key": key}, separators=(",", ":"),
                          ensure_ascii=False).encode()
        mac = hmac.new(self.secret, body, hashlib.sha256).hexdigest().encode()
        try:
            fd, tmp = tempfile.mkstemp(dir=self.folder, prefix=".tmp-", suffix=".json")
            with os.fdopen(fd, "wb") as fh:
                fh.write(b"%s %d %s\n" % (_MAGIC, CACHE_SCHEMA, mac))
                fh.write(body)
            os.replace(tmp, self._path(key))
        except OSError:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            return
        self._prune()

    def _prune(self) -> None:
        with contextlib.suppress(OSError):
            entries = sorted((p for p in self.folder.glob("*.json") if p.is_file()),
                             key=lambda p: p.stat().st_mtime_ns, reverse=True)
            for old in entries[self.keep:]:
                old.unlink()


def open_store(root: Path | None, cache_dir: Path | None, kind: str = "lint",
               keep: int = _KEEP) -> LintStore | None:
    """The cache for a project: `cache_dir` when given, else `<root>/.specops/cache/<kind>`
    (`lint`; `compile` for `specops compile`, compiler/plan/compile_cache.py); None
    without a project root or when the folder or the key cannot be had."""
    if cache_dir is not None:
        try:
            cache_dir.mkdir(parents=True, exist_ok=True)
        except OSError:
            return None
        folder: Path | None = cache_dir if cache_dir.is_dir() else None
    elif root is not None:
        folder = _real_folder(root, (".specops", "cache", kind))
    else:
        folder = None
    if folder is None:
        return None
    secret = _secret()
    return LintStore(folder, secret, keep) if secret is not None else None


# -- diagnostics as JSON ------------------------------------------------------------------

def _span(s: Span) -> list[int]:
    return [s.line, s.col, s.end_line, s.end_col]


def encode_diagnostic(d: Diagnostic) -> list[Any]:
    """A diagnostic without its file (the entry it sits in names the file)."""
    return [d.code, d.message, _span(d.span), int(d.severity), d.help, d.suggestion,
            list(d.notes), [[r.file, _span(r.span), r.message] for r in d.related]]


def _int4(v: Any) -> Span:
    if not (isinstance(v, list) and len(v) == 4 and
            all(type(x) is int and x >= 0 for x in v)):
        raise ValueError("bad span")
    return Span(v[0], v[1], v[2], v[3])


def _opt_str(v: Any) -> str | None:
    if v is not None and not isinstance(v, str):
        raise ValueError("bad text")
    return v


def decode_diagnostic(file: str, v: Any) -> Diagnostic:
    """`encode_diagnostic` read back; ValueError for anything but exactly that shape."""
    if not (isinstance(v, list) and len(v) == 8 and isinstance(v[0], str) and
            isinstance(v[1], str) and type(v[3]) is int and isinstance(v[6], list) and
            isinstance(v[7], list)):
        raise ValueError("bad diagnostic")
    notes = tuple(v[6])
    if not all(isinstance(n, str) for n in notes):
        raise ValueError("bad notes")
    related = []
    for r in v[7]:
        if not (isinstance(r, list) and len(r) == 3 and isinstance(r[0], str) and
                isinstance(r[2], str)):
            raise ValueError("bad related")
        related.append(Related(r[0], _int4(r[1]), r[2]))
    return Diagnostic(v[0], v[1], file, _int4(v[2]), Severity(v[3]), help=_opt_str(v[4]),
                      suggestion=_opt_str(v[5]), notes=notes, related=tuple(related))
