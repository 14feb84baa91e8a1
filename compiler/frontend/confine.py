"""Find and read spec files without ever leaving the project root.

Why: `specops lint` runs in pull-request CI on files an outsider controls. A spec that is
a symlink to `~/.aws/credentials`, a glob such as `/**/*.yaml` or `../../*`, or a folder
link out of the checkout would otherwise make lint read a file outside the project and
print its lines (a YAML error shows the source) into a public CI log; a FIFO named
`x.yaml` would hang it. So discovery walks the tree itself, one `lstat` per entry, and:

- refuses absolute and `..` globs before any walk (SPEC007, at the glob);
- follows a link (to a file or a folder) only when its real target is inside the root,
  and reports one that leads out (SPEC007) without touching the target;
- reports links to missing files, FIFOs, sockets and devices (SPEC001) without opening
  them;
- opens a file through `O_NOFOLLOW | O_NONBLOCK` and checks the open descriptor is still
  a regular file within the size limit, so a file replaced by a link or a FIFO between
  the walk and the read is not followed and does not block.

Names starting with `.` are matched by a wildcard only when the glob's own part starts
with `.`, as `glob.glob` does, so `.git` and `.venv` are never walked by `**`.
"""

from __future__ import annotations

import fnmatch
import os
import re
import stat
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Refusal", "check_file", "find_files", "glob_problem", "inside", "read_inside"]

_MAGIC = re.compile(r"[*?[]")
_DRIVE = re.compile(r"^[A-Za-z]:")
_KINDS = {
    stat.S_IFIFO: "a FIFO (named pipe)",
    stat.S_IFSOCK: "a socket",
    stat.S_IFCHR: "a character device",
    stat.S_IFBLK: "a block device",
    stat.S_IFDIR: "a folder",
}


@dataclass(frozen=True, slots=True)
class Refusal:
    """A path that was found but not read: `code` SPEC001 (unreadable) or SPEC007 (outside)."""

    path: Path      # as found (the link itself, not its target)
    code: str
    message: str


def glob_problem(pattern: str) -> str | None:
    """Why a glob of specops.yaml may not be used (absolute or climbing with `..`), or None.

    Backslashes count as separators so that a Windows spelling is refused on Linux too.
    """
    text = pattern.replace("\\", "/")
    if text.startswith("/") or _DRIVE.match(text):
        return f"glob `{pattern}` is absolute; globs are relative to the project root"
    if ".." in text.split("/"):
        return f"glob `{pattern}` leaves the project root through `..`"
    return None


def inside(path: str | Path, root: Path) -> bool:
    """Whether a real (resolved) path is `root` or below it; `root` must be resolved."""
    return Path(path).is_relative_to(root)


def _special(mode: int) -> str | None:
    return None if stat.S_ISREG(mode) else _KINDS.get(stat.S_IFMT(mode), "not a regular file")


def check_file(path: Path, root: Path) -> Path | Refusal | None:
    """The real path of `path` if it is a regular file inside `root`, else why not.

    None means "nothing to read and nothing to say": the path does not exist, or it is a
    folder (a folder named `x.yaml` matched by a glob). Only a link's target is stat'ed,
    never opened, and only after the link was found to stay inside the root.
    """
    try:
        st = os.lstat(path)
    except OSError:
        return None
    if stat.S_ISLNK(st.st_mode):
        real = Path(os.path.realpath(path))
        if not inside(real, root):
            return Refusal(path, "SPEC007", "link leads outside the project root; "
                           "specops does not read it")
        try:
            st = os.stat(real)
        except OSError:
            return Refusal(path, "SPEC001", "cannot read file: link to a missing file")
        if stat.S_ISDIR(st.st_mode):
            return None
        kind = _special(st.st_mode)
        if kind is not None:
            return Refusal(path, "SPEC001", f"cannot read file: link to {kind}, not a "
                           "regular file")
        return real
    if stat.S_ISDIR(st.st_mode):
        return None
    kind = _special(st.st_mode)
    if kind is not None:
        return Refusal(path, "SPEC001", f"cannot read file: it is {kind}, not a regular file")
    real = Path(os.path.realpath(path))
    if not inside(real, root):  # a parent folder is a link out (explicit targets)
        return Refusal(path, "SPEC007", "file lies outside the project root; specops does "
                       "not read it")
    return real


def read_inside(path: Path, root: Path, limit: int) -> bytes | int | Refusal:
    """The bytes of a regular file inside `root`; its size when over `limit`; or why not.

    Raises OSError for an ordinary read failure (permissions), which callers report as
    SPEC001 with the system's reason.
    """
    checked = check_file(path, root)
    if checked is None:
        return Refusal(path, "SPEC001", "cannot read file: no such file")
    if isinstance(checked, Refusal):
        return checked
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0) | \
        getattr(os, "O_CLOEXEC", 0)
    fd = os.open(checked, flags)
    try:
        st = os.fstat(fd)
        kind = _special(st.st_mode)
        if kind is not None:
            return Refusal(path, "SPEC001", f"cannot read file: it is {kind}, not a regular "
                           "file")
        if st.st_size > limit:
            return st.st_size
        chunks: list[bytes] = []
        left = limit + 1  # a file that grows past the limit while read is still refused
        while left > 0:
            chunk = os.read(fd, min(left, 1 << 20))
            if not chunk:
                break
            chunks.append(chunk)
            left -= len(chunk)
        data = b"".join(chunks)
        return len(data) if len(data) > limit else data
    finally:
        os.close(fd)


def _parts(pattern: str) -> list[str]:
    return [p for p in pattern.replace("\\", "/").split("/") if p not in ("", ".")]


def _hidden_ok(name: str, part: str) -> bool:
    return not name.startswith(".") or part.startswith(".")


class _Walk:
    """One walk over the root for a list of globs, following only in-root folder links."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.files: dict[Path, None] = {}
        self.refused: dict[Path, Refusal] = {}

    def folder(self, path: Path) -> Path | None:
        """The real folder to descend into for `path`, or None (reported when a link out)."""
        try:
            st = os.lstat(path)
        except OSError:
            return None
        if stat.S_ISDIR(st.st_mode):
            return path
        if not stat.S_ISLNK(st.st_mode):
            return None
        real = Path(os.path.realpath(path))
        if not inside(real, self.root):
            if real.is_dir():  # a stat of the target, never a read; file links: `leaf`
                self.refused.setdefault(path, Refusal(
                    path, "SPEC007", "folder link leads outside the project root; specops "
                    "does not follow it"))
            return None
        return real if real.is_dir() else None

    def entries(self, folder: Path) -> Iterator[str]:
        try:
            with os.scandir(folder) as it:
                names = sorted(e.name for e in it)
        except OSError:
            return
        yield from names

    def leaf(self, path: Path) -> None:
        found = check_file(path, self.root)
        if isinstance(found, Refusal):
            self.refused.setdefault(path, found)
        elif found is not None:
            self.files[found] = None

    def match(self, folder: Path, parts: Sequence[str], seen: frozenset[Path]) -> None:
        """Match `parts` below `folder`; `seen` holds the real folders on this branch."""
        part, rest = parts[0], parts[1:]
        if part == "**":
            if rest:
                self.match(folder, rest, seen)
            for name in self.entries(folder):
                if name.startswith("."):
                    continue
                path = folder / name
                sub = self.folder(path)
                if sub is None:
                    if not rest:
                        self.leaf(path)
                    continue
                real = Path(os.path.realpath(sub))
                if real not in seen:  # a link back up the tree would loop forever
                    self.match(path, parts, seen | {real})
            return
        if _MAGIC.search(part):
            names = [n for n in self.entries(folder)
                     if _hidden_ok(n, part) and fnmatch.fnmatch(n, part)]
        else:
            names = [part]
        for name in names:
            path = folder / name
            if not rest:
                self.leaf(path)
                continue
            sub = self.folder(path)
            if sub is not None:
                real = Path(os.path.realpath(sub))
                if real not in seen:
                    self.match(path, rest, seen | {real})


def find_files(root: Path, patterns: Sequence[str]) -> tuple[list[Path], list[Refusal]]:
    """Real paths of the regular files matching `patterns` (relative globs, `**` allowed)
    inside the resolved `root`, and the refusals met on the way (sorted by path).

    Callers check `glob_problem` first; a pattern that still climbs out matches nothing.
    """
    walk = _Walk(root)
    for pattern in patterns:
        if glob_problem(pattern) is not None:
            continue
        parts = _parts(pattern)
        if parts:
            walk.match(root, parts, frozenset({root}))
    return sorted(walk.files), [walk.refused[p] for p in sorted(walk.refused)]
