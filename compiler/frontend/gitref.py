"""The project as it was at a git ref, exported to a temporary folder.

Why `git archive` and not `git worktree add`: archive only reads the object database, so
it never touches the user's worktree list, index or locks, and it works in a shallow CI
clone as long as the ref was fetched. Only the project's folder is exported.
"""

from __future__ import annotations

import io
import subprocess
import tarfile
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = ["GitRefError", "NotAtRef", "project_at_ref"]


class GitRefError(ValueError):
    """The ref or the repository cannot be used (one-line user error)."""


class NotAtRef(GitRefError):
    """The project folder did not exist at the ref (a pull request adding a project)."""


def _git(args: list[str], cwd: Path) -> subprocess.CompletedProcess[bytes]:
    try:
        return subprocess.run(["git", *args], cwd=cwd, capture_output=True, check=False)
    except FileNotFoundError:
        raise GitRefError("git is not installed or not on PATH") from None


@contextmanager
def project_at_ref(ref: str, path: Path) -> Iterator[Path]:
    """Yield the folder matching `path` (a project folder) as of `ref`."""
    folder = path.resolve()
    if not folder.is_dir():
        folder = folder.parent
    top_proc = _git(["rev-parse", "--show-toplevel"], folder)
    if top_proc.returncode != 0:
        raise GitRefError(f"{path} is not inside a git repository")
    top = Path(top_proc.stdout.decode().strip()).resolve()
    rel = folder.relative_to(top).as_posix()
    if ref.startswith("-") or _git(["rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}"],
                                   top).returncode != 0:
        raise GitRefError(f"unknown git ref {ref!r}")
    args = ["archive", "--format=tar", ref]
    if rel != ".":
        args += ["--", rel]
    archive = _git(args, top)
    if archive.returncode != 0:
        raise NotAtRef(f"{rel} does not exist at {ref}")
    with tempfile.TemporaryDirectory(prefix="specops-ref-") as tmp:
        # The "data" filter refuses absolute names, links out of the folder and special
        # files; a ref holding one (a link to ~/.ssh in a pull request) is refused whole,
        # with a one-line cause, rather than exported with the link dropped.
        try:
            with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
                tar.extractall(tmp, filter="data")
        except tarfile.FilterError as exc:
            raise GitRefError(f"{ref}: refusing to export `{exc.tarinfo.name}`: it leads "
                              "outside the project or is not a regular file") from None
        except tarfile.TarError as exc:
            raise GitRefError(f"{ref}: cannot export the project: {exc}") from None
        yield Path(tmp) / rel
