"""What every `sage` command shares about its output: how much it says (`-v`/`-q`), and the
JSON envelope of `--json` (docs/cli.md).

The global options are kept in the root click context's `meta`, so a command reads them
wherever it runs and a test's `CliRunner` starts from the defaults. Colour needs nothing
here: click's `ctx.color` (set from `--color/--no-color` and `NO_COLOR`) strips styles.
"""

from __future__ import annotations

import json
from typing import Any

import click

SCHEMA = 1  # of every `--json` document; raised only when a key changes meaning or goes
VERBOSITY = "sage.verbosity"  # -1 quiet, 0 normal, 1 verbose


def verbosity() -> int:
    """-1 with `-q`, 1 with `-v`, else 0 (also outside a command)."""
    ctx = click.get_current_context(silent=True)
    return int(ctx.find_root().meta.get(VERBOSITY, 0)) if ctx is not None else 0


def note(message: str, **style: Any) -> None:
    """An informational line on stderr, which `-q` silences (errors are never notes)."""
    if verbosity() >= 0:
        click.echo(click.style(message, **style) if style else message, err=True)


def envelope(ok: bool, **fields: Any) -> dict[str, Any]:
    """A `--json` document: the schema number, `ok`, then the command's stable keys."""
    return {"schema": SCHEMA, "ok": ok, **fields}


def print_json(ok: bool, **fields: Any) -> None:
    """Print one `--json` document on stdout (one line; UTF-8 as it is)."""
    click.echo(json.dumps(envelope(ok, **fields), ensure_ascii=False))


def failure_json(error: str, exit_code: int) -> str:
    """The document every `--json` prints when the command fails before its own result."""
    return json.dumps(envelope(False, error=error, exit_code=exit_code), ensure_ascii=False)
