"""What several built-in tools share: size limits, path checks and running a process."""

from __future__ import annotations

import difflib
import os
import shlex
import subprocess
import time
from pathlib import Path

from sage_tui.core.log.redaction import clip
from sage_tui.core.tools.registry import ToolContext, ToolFailure
from sage_tui.core.workspace.retrieval import list_workspace_files

READ_LIMIT_BYTES = 256 * 1024
READ_MAX_LINES = 400
LIST_MAX = 500
SEARCH_MAX = 60
OUTPUT_TAIL = 8000
PATH = {"type": "string", "minLength": 1, "description": "relative to the workspace"}


def not_found(ctx: ToolContext, path: str) -> ToolFailure:
    names = [n for n in list_workspace_files(ctx.root) if not ctx.workspace.hidden(n)]
    close = difflib.get_close_matches(path, names, n=3, cutoff=0.5)
    hint = f" Did you mean {', '.join(close)}?" if close else ""
    return ToolFailure("not_found", f"{path} does not exist in the workspace.",
                       f"Call list_files to see which files exist.{hint}")


def folder_prefix(ctx: ToolContext, folder: str) -> tuple[Path, str]:
    """The checked folder and the prefix its files' workspace names start with."""
    real = ctx.workspace.resolve(folder)
    prefix = ctx.workspace.relative(real)
    return real, "" if prefix == "." else prefix.rstrip("/") + "/"


def run_process(ctx: ToolContext, command: str, timeout: float) -> tuple[int, str, float]:
    """Run a command line in the workspace; (exit code, output tail, ms)."""
    try:
        argv = shlex.split(command)
    except ValueError as exc:
        raise ToolFailure("validation_error", f"The command cannot be parsed ({exc}).",
                          "Quote arguments properly.") from None
    if not argv:
        raise ToolFailure("validation_error", "The command is empty.", "Give a command line.")
    start = time.perf_counter()
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    try:
        proc = subprocess.run(argv, cwd=ctx.root, capture_output=True, timeout=timeout, env=env,
                              stdin=subprocess.DEVNULL)
    except FileNotFoundError:
        raise ToolFailure("not_found", f"The program {argv[0]!r} is not installed.",
                          "Use a program that exists on this machine.") from None
    except subprocess.TimeoutExpired:
        raise ToolFailure("timeout", f"`{command}` ran longer than {timeout:g} s and was stopped.",
                          "Run a narrower command (one test file, for instance).") from None
    output = (proc.stdout + proc.stderr).decode("utf-8", "replace")
    tail = clip(output, OUTPUT_TAIL, tail=True)
    if len(output) > OUTPUT_TAIL:
        tail = f"[... {len(output) - OUTPUT_TAIL} characters cut ...]\n" + tail
    return proc.returncode, tail, (time.perf_counter() - start) * 1000
