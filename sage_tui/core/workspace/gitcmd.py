"""Running git for SAGE without letting a repository run commands through it.

A cloned or unpacked repository controls `.git/config` and `.gitattributes`; git
honours settings there that run programs (`core.fsmonitor`, filters, hooks). Every
git command SAGE runs goes through `git_argv`, which turns those off, and
`git_env`, which drops inherited `GIT_*` variables. The patch engine's scratch
`git apply` also reads no user or system configuration, so settings such as
`core.autocrlf` cannot change bytes a person approved.
"""

from __future__ import annotations

import os
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
)


def git_argv(*args: str, workspace: Path | None = None) -> list[str]:
    """`git <safe settings> [-C workspace] args...`."""
    where = ["-C", str(workspace)] if workspace is not None else []
    return ["git", *SAFE_CONFIG, *where, *args]


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
