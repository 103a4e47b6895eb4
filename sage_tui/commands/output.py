"""What every `sage` command shares about its output: how much it says (`-v`/`-q`), and the
JSON envelope of `--json` (docs/cli.md).

The global options are kept in the root click context's `meta`, so a command reads them
wherever it runs and a test's `CliRunner` starts from the defaults.

`echo` and `style` are click's, minus the import: the read-only checks `sage apply --check`,
`sage undo --check` and `sage redo --check` run without click (launcher.py), so nothing
they print may need it. Colour follows click's rule: the running click context's colour
(`--color/--no-color`, `NO_COLOR`) when there is one, else `NO_COLOR`, else whether the
stream is a terminal; styles are stripped otherwise.
"""

from __future__ import annotations

import os
import re
import sys
from typing import Any, TextIO

SCHEMA = 1  # of every `--json` document; raised only when a key changes meaning or goes
VERBOSITY = "sage.verbosity"  # -1 quiet, 0 normal, 1 verbose


_COLOURS = {"red": 31, "green": 32, "yellow": 33}  # what SAGE's output uses, as click's codes
_BOLD = "\033[1m"
_ANSI = re.compile(r"\033\[[0-?]*[ -/]*[@-~]")  # click's own pattern for a style sequence


def _click_context() -> Any:
    """click's current context when click is running a command (never imported here)."""
    click = sys.modules.get("click")
    return click.get_current_context(silent=True) if click is not None else None


def verbosity() -> int:
    """-1 with `-q`, 1 with `-v`, else 0 (also outside a command)."""
    ctx = _click_context()
    return int(ctx.find_root().meta.get(VERBOSITY, 0)) if ctx is not None else 0


def style(text: str, fg: str | None = None, bold: bool = False) -> str:
    """`text` in colour `fg` (red, green or yellow), bold, ended by a reset: `click.style`'s
    sequences."""
    colour = f"\033[{_COLOURS[fg]}m" if fg is not None else ""
    return f"{colour}{_BOLD if bold else ''}{text}\033[0m"


def _coloured(stream: TextIO) -> bool:
    ctx = _click_context()
    if ctx is not None and ctx.color is not None:
        return bool(ctx.color)
    if os.environ.get("NO_COLOR"):
        return False
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


def echo(message: str = "", err: bool = False) -> None:
    """One line on stdout (stderr with `err`), styles stripped unless colour is on.

    As click's echo: nothing when the stream is closed; on a stream whose encoding cannot
    hold the text (ASCII, or a lone surrogate from a file name that is not UTF-8, which the
    patch's own bytes may carry) the line goes out as UTF-8, what cannot be encoded written
    as an escape (`\\udcff`)."""
    stream = sys.stderr if err else sys.stdout
    if stream is None:
        return
    if not _coloured(stream):
        message = _ANSI.sub("", message)
    line = message + "\n"
    try:
        stream.write(line)
    except UnicodeEncodeError:
        data = line.encode("utf-8", "backslashreplace")
        buffer = getattr(stream, "buffer", None)
        if buffer is None:
            stream.write(data.decode("ascii", "backslashreplace"))
        else:
            stream.flush()
            buffer.write(data)
    stream.flush()


def note(message: str, fg: str | None = None, bold: bool = False) -> None:
    """An informational line on stderr, which `-q` silences (errors are never notes)."""
    if verbosity() >= 0:
        echo(style(message, fg, bold) if fg or bold else message, err=True)


def envelope(ok: bool, **fields: Any) -> dict[str, Any]:
    """A `--json` document: the schema number, `ok`, then the command's stable keys."""
    return {"schema": SCHEMA, "ok": ok, **fields}


def print_json(ok: bool, **fields: Any) -> None:
    """Print one `--json` document on stdout (one line; UTF-8 as it is)."""
    import json  # only `--json` needs it

    echo(json.dumps(envelope(ok, **fields), ensure_ascii=False))


def failure_json(error: str, exit_code: int) -> str:
    """The document every `--json` prints when the command fails before its own result."""
    import json
    return json.dumps(envelope(False, error=error, exit_code=exit_code), ensure_ascii=False)
