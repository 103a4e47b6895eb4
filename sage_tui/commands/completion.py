"""Shell completion: `sage completion SHELL` prints the script; session ids complete.

The script is click's own (it calls `sage` back with `_SAGE_COMPLETE` set); the session
ids come from the log folder, newest first, reading only each session's first record
and the tail of its last part.
"""

from __future__ import annotations

import click
from click.shell_completion import CompletionItem, get_completion_class

SHELLS = ("bash", "zsh", "fish")
MOST = 30  # sessions offered at once: the newest that match


def script(command: click.Command, shell: str, prog_name: str = "sage") -> str:
    """The completion script of `shell` for `command` run as `prog_name`."""
    complete_var = f"_{prog_name.replace('-', '_').upper()}_COMPLETE"
    kind = get_completion_class(shell)
    if kind is None:  # click.Choice on the argument keeps this from happening
        raise click.UsageError(f"{shell!r} is not a shell SAGE completes; use {', '.join(SHELLS)}.")
    return kind(command, {}, prog_name, complete_var).source()


def session_ids(incomplete: str) -> list[CompletionItem]:
    """Recorded session ids that start with `incomplete`, newest first, each with its start
    time, workspace and first message as help (zsh and fish show it)."""
    from pathlib import Path

    from sage_tui.core.log.safetext import one_line
    from sage_tui.core.log.sessions import list_sessions
    from sage_tui.paths import sage_paths

    try:
        found = list_sessions(sage_paths().sessions, limit=MOST, prefix=incomplete)
    except (OSError, ValueError):  # completion must never print a traceback into the prompt
        return []
    items = []
    for summary in found:
        where = Path(summary.workspace).name if summary.workspace else ""
        words = " ".join(part for part in ((summary.started or "")[:16].replace("T", " "), where,
                                           summary.command or summary.first_message[:40]) if part)
        items.append(CompletionItem(summary.session_id, help=one_line(words) or None))
    return items
