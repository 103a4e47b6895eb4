"""Commits SAGE makes: only the files its patches changed, with a trailer back to the trace.

A commit is built with git's plumbing in a scratch index, never with `git add` or
`git commit`: the repository is untrusted, and those run its hooks and its clean filters
(programs its `.git/config` may name), and would sweep in whatever the person had staged.
Each file's bytes are read through the confined workspace (no link is followed), stored
with `hash-object --no-filters`, written into a tree next to HEAD's, committed with
`commit-tree` (unsigned: a signing program is another thing a repository's configuration
names) and moved onto the branch with `update-ref` only if HEAD is still where it was.
The person's own index then records the same content for those paths, so `git status`
shows them as committed and leaves everything else as it was.

Every message ends in a trailer naming the model and the session, so `git log` leads
back to `sage trace`::

    Co-authored-by: SAGE (qwen2.5-coder:7b) <sage@localhost.invalid>
    Sage-Session: 20261202-101500-a1b2c3
"""

from __future__ import annotations

import contextlib
import os
import stat
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from sage_tui.core.errors import SageError
from sage_tui.core.workspace.gitcmd import git_argv, git_env
from sage_tui.core.workspace.workspace import Workspace

SESSION_TRAILER = "Sage-Session"
MAX_FILE = 64 * 1024 * 1024
MAX_SUBJECT = 72


class CommitError(SageError):
    """The commit could not be made; nothing was changed."""


class NothingToCommit(CommitError):
    """The files are as the last commit has them (committed by hand, say)."""


@dataclass(frozen=True)
class Commit:
    sha: str
    message: str
    files: tuple[str, ...]


def with_trailer(message: str, session_id: str, model: str | None) -> str:
    """`message` with the SAGE trailer (replacing one it already had)."""
    lines = [line for line in message.rstrip().splitlines()
             if not line.startswith((f"{SESSION_TRAILER}:", "Co-authored-by: SAGE"))]
    body = "\n".join(lines).rstrip()
    who = f"SAGE ({model})" if model else "SAGE"
    return (f"{body}\n\nCo-authored-by: {who} <sage@localhost.invalid>\n"
            f"{SESSION_TRAILER}: {session_id}\n")


def suggested_message(task: str, summary: str) -> str:
    """A first line from the task (at most 72 characters), the reviewer's summary below."""
    first = " ".join(task.split()) or "Changes made with SAGE"
    if len(first) > MAX_SUBJECT:
        first = first[:MAX_SUBJECT - 1].rsplit(" ", 1)[0] + "…"
    body = "\n".join(line.rstrip() for line in summary.strip().splitlines()[:12])
    return f"{first}\n\n{body}" if body else first


def _git(root: Path, *args: str, env: dict[str, str] | None = None,
         data: bytes | None = None) -> str:
    try:
        done = subprocess.run(git_argv(*args, workspace=root), input=data,
                              capture_output=True, env=env or git_env(), timeout=60,
                              check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise CommitError(f"git could not run ({exc}); nothing was committed.") from None
    if done.returncode != 0:
        why = done.stderr.decode("utf-8", "replace").strip().splitlines()
        if args[0] == "commit-tree" and any("identity" in w or "email" in w for w in why):
            raise CommitError("git does not know who you are, so nothing was committed: set "
                              "it with git config --global user.name \"Your Name\" and "
                              "git config --global user.email you@example.com.")
        raise CommitError(f"git {args[0]} failed ({why[-1] if why else 'no reason given'}); "
                          "nothing was committed.")
    return done.stdout.decode("utf-8", "replace").strip()


IDENTITY = tuple(f"GIT_{who}_{what}" for who in ("AUTHOR", "COMMITTER")
                 for what in ("NAME", "EMAIL", "DATE"))


def _identity() -> dict[str, str]:
    """The person's `GIT_AUTHOR_*`/`GIT_COMMITTER_*` (git_env drops every `GIT_*` else)."""
    return {name: os.environ[name] for name in IDENTITY if name in os.environ}


def _head(root: Path) -> str | None:
    try:
        return _git(root, "rev-parse", "--verify", "-q", "HEAD^{commit}")
    except CommitError:
        return None  # a repository without a first commit yet


def _entry(workspace: Workspace, root: Path, path: str) -> tuple[str, str] | None:
    """(mode, blob) for the file as it is now, stored in the object database; None when it
    is gone (the commit deletes it)."""
    try:
        data = workspace.read_bytes(path, MAX_FILE + 1, honour_hidden=False)
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise CommitError(f"{path} cannot be committed ({exc}); nothing was committed.") from None
    if len(data) > MAX_FILE:
        raise CommitError(f"{path} is larger than {MAX_FILE // (1024 * 1024)} MiB; commit it "
                          "with git yourself. Nothing was committed.")
    info = workspace.lstat(path)
    mode = "100755" if info is not None and info.st_mode & stat.S_IXUSR else "100644"
    return mode, _git(root, "hash-object", "-w", "--no-filters", "--stdin", data=data)


def commit_files(workspace: Workspace, files: Sequence[str], message: str) -> Commit:
    """Commit exactly `files` as they are in the working tree, on top of HEAD.

    Raises:
        CommitError: nothing to commit, no identity, HEAD moved meanwhile, or git failed.
    """
    root = workspace.root
    paths = sorted({workspace.normalize(f) for f in files})
    if not paths:
        raise CommitError("SAGE applied nothing since the last commit, so there is nothing "
                          "to commit.")
    _check_repository(root)
    prefix = _git(root, "rev-parse", "--show-prefix")  # the workspace may be a folder of it
    head = _head(root)
    entries = {path: _entry(workspace, root, path) for path in paths}
    with tempfile.TemporaryDirectory(prefix="sage-commit-") as scratch:
        env = git_env(extra={"GIT_INDEX_FILE": os.path.join(scratch, "index")})
        if head is not None:
            _git(root, "read-tree", head, env=env)
        for path, entry in entries.items():
            _stage(root, prefix, path, entry, env)
        tree = _git(root, "write-tree", env=env)
    if head is not None and tree == _git(root, "rev-parse", f"{head}^{{tree}}"):
        raise NothingToCommit(f"{', '.join(paths)} are as the last commit has them; there "
                              "is nothing to commit.")
    parents = ["-p", head] if head is not None else []
    sha = _git(root, "commit-tree", "--no-gpg-sign", *parents, "-F", "-", tree,
               data=message.encode("utf-8"), env=git_env(extra=_identity()))
    subject = message.splitlines()[0] if message.strip() else "SAGE"
    _git(root, "update-ref", "-m", f"commit (sage): {subject}", "HEAD", sha,
         head or "0" * 40)  # refused if HEAD moved since we read it
    for path, entry in entries.items():  # the person's index agrees with the new commit
        with contextlib.suppress(CommitError):  # the commit stands either way
            _stage(root, prefix, path, entry, git_env())
    return Commit(sha, message, tuple(paths))


def _stage(root: Path, prefix: str, path: str, entry: tuple[str, str] | None,
           env: dict[str, str]) -> None:
    if entry is None:  # a path argument: relative to the workspace, as git takes it
        _git(root, "update-index", "--force-remove", "--", path, env=env)
    else:  # --cacheinfo names the path from the top of the repository
        _git(root, "update-index", "--add", "--cacheinfo",
             f"{entry[0]},{entry[1]},{prefix}{path}", env=env)


def _check_repository(root: Path) -> None:
    """Refuse a repository whose git folder is not this checkout's: a `.git` file (or
    `core.worktree`) a folder planted to send SAGE's commit into another repository. A
    `.git` folder, a linked worktree (its git folder names this checkout back) and a
    submodule (its git folder's `core.worktree` names it) are this checkout's."""
    top = Path(_git(root, "rev-parse", "--show-toplevel")).resolve()
    git_dir = Path(_git(root, "rev-parse", "--absolute-git-dir")).resolve()
    if git_dir == top / ".git":
        return
    back = git_dir / "gitdir"  # git worktree add
    with contextlib.suppress(OSError):
        if back.is_file() and Path(back.read_text().strip()).resolve() == top / ".git":
            return
    with contextlib.suppress(CommitError):  # a submodule's module folder
        named = _git(root, "config", "--get", "core.worktree")
        if named and (git_dir / named).resolve() == top:
            return
    raise CommitError(f"{root}'s git folder is {git_dir}, which is not this checkout's (a "
                      "`.git` file points there); SAGE commits only into the checkout's own "
                      "repository. Nothing was committed.")
