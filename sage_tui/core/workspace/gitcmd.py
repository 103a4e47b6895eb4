"""Running git for SAGE without letting a repository run commands through it.

A cloned or unpacked repository controls `.git/config` and `.gitattributes`; git
honours settings there that run programs (`core.fsmonitor`, filters, hooks, signature
checks). Every git command SAGE runs goes through `git_argv`, which turns those off
(each filter driver the repository configures is named and emptied: `-c` takes no
wildcard), and `git_env`, which drops inherited `GIT_*` variables. Diffs SAGE reads also
pass `--no-ext-diff --no-textconv`. The patch engine's scratch
`git apply` also reads no user or system configuration, so settings such as
`core.autocrlf` cannot change bytes a person approved.
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Mapping
from pathlib import Path

SAFE_CONFIG = (
    "-c", "core.fsmonitor=false",
    "-c", "core.hooksPath=/dev/null",
    "-c", "core.autocrlf=false",
    "-c", "core.safecrlf=false",
    "-c", "core.eol=lf",
    "-c", "core.attributesFile=/dev/null",
    "-c", "core.untrackedCache=false",
    "-c", "log.showSignature=false",  # no signature check: it runs gpg.program
    "-c", "diff.ignoreSubmodules=all",  # a submodule's own configuration is not read
)
# Commands that never read or write a working-tree file's content, so never run a filter:
# they need not ask which filters the repository configures (one git process fewer each).
_NO_CONTENT = frozenset({"rev-parse", "symbolic-ref", "update-ref", "commit-tree", "write-tree"})
_FILTER_KEY = re.compile(r"^filter\.(?P<name>.+)\.(?:clean|smudge|process|required)$", re.I)


class GitRefused(OSError):
    """git will not be run in this repository as it stands; the message says why."""


def _filter_overrides(workspace: Path) -> list[str]:
    """`-c` settings that switch off every filter driver the repository's configuration
    names (a clean or process filter runs on `status` and `diff` alone).

    Raises:
        GitRefused: a driver name that `-c` cannot address (it holds `=` or a line break).
    """
    try:
        out = subprocess.run(["git", *SAFE_CONFIG, "-C", str(workspace), "config", "--null",
                              "--get-regexp", r"^filter\."], capture_output=True, timeout=15,
                             env=git_env(), check=False)
    except subprocess.TimeoutExpired:
        raise GitRefused("git did not say which filters the repository configures") from None
    names = set()
    for entry in out.stdout.split(b"\0"):
        match = _FILTER_KEY.match(entry.split(b"\n", 1)[0].decode("utf-8", "replace"))
        if match:
            names.add(match["name"])
    if any("=" in name or "\n" in name for name in names):
        raise GitRefused(f"the repository's git configuration names a filter SAGE cannot switch "
                         f"off ({sorted(names)[0]!r}); remove it from .git/config")
    return [arg for name in sorted(names) for arg in (
        "-c", f"filter.{name}.clean=", "-c", f"filter.{name}.smudge=",
        "-c", f"filter.{name}.process=", "-c", f"filter.{name}.required=false")]


def git_argv(*args: str, workspace: Path | None = None) -> list[str]:
    """`git <safe settings> [-C workspace] args...`.

    Raises:
        GitRefused: (an `OSError`) the repository names a filter that cannot be switched off.
    """
    if workspace is None:
        return ["git", *SAFE_CONFIG, *args]
    overrides = [] if args and args[0] in _NO_CONTENT else _filter_overrides(workspace)
    return ["git", *SAFE_CONFIG, *overrides, "-C", str(workspace), *args]


def git_env(isolated_home: Path | None = None,
            extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment for a git SAGE runs: no inherited `GIT_*`; with `isolated_home`, no
    user or system configuration either."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env["GIT_TERMINAL_PROMPT"] = "0"
    env["GIT_OPTIONAL_LOCKS"] = "0"
    if isolated_home is not None:
        env.update({"GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": os.devnull,
                    "HOME": str(isolated_home), "XDG_CONFIG_HOME": str(isolated_home)})
    env.update(extra or {})
    return env
