"""The `sage` console script: runs the command line of `sage_tui.cli` and turns every way a
command can fail into one sentence and an exit code (DESIGN.md §8).

Every `SageError` becomes one sentence on stderr and its exit code (1 task failed, 2 usage
or configuration error); `SAGE_DEBUG=1` shows the traceback of an unexpected failure.

Two kinds of command line run without importing click or building the command tree, which
cost about a tenth of the workbench's first frame (bench/ui.py) and about a quarter of a
read-only check's whole run (bench/cli.py): `sage` and `sage demo` typed bare, and the
read-only checks `sage apply PATCHFILE --check`, `sage undo --check` and `sage redo --check`
with nothing beside them but `--json`, `--workspace/-w DIR` and (apply) `--hunks LIST`, each
once. Anything else (another option, a repeated one, `--opt=value`, help, a mistake) and
shell completion (`_SAGE_COMPLETE`) go through click, which runs the same functions with
the same values (tests/test_launcher.py holds the two parsers to that).
"""

from __future__ import annotations

import gc
import os
import stat
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import NoReturn


def no_colour(environ: Mapping[str, str]) -> bool:
    """NO_COLOR set to anything but the empty string turns colour off (no-color.org)."""
    return bool(environ.get("NO_COLOR"))


def _wants_json(argv: list[str]) -> bool:
    """Whether the command line asks for `--json` (before any `--`): then a failure is a JSON
    document on stdout too, whichever step failed."""
    return "--json" in (argv[:argv.index("--")] if "--" in argv else argv)


def _fail(sentence: str, exit_code: int, as_json: bool) -> NoReturn:
    """One sentence on stderr (and the failure document on stdout with `--json`); exit."""
    from sage_tui.commands.output import echo, failure_json
    from sage_tui.core.log.safetext import shown

    if as_json:
        echo(failure_json(shown(sentence), exit_code))
    echo(f"Error: {shown(sentence)}", err=True)
    raise SystemExit(exit_code)


def _open_workbench() -> int:
    from sage_tui.commands.ui import run_workbench

    return run_workbench(None, None, latest=False)


def _open_demo() -> int:
    from sage_tui.commands.ui import run_demo

    return run_demo(False)


# What `sage` and `sage demo` do through click when given nothing else (cli.py).
BARE_COMMANDS: dict[tuple[str, ...], Callable[[], int]] = {
    (): _open_workbench,
    ("demo",): _open_demo,
}


# The read-only checks' parameters as click's `apply`, `undo` and `redo` declare them:
# flags, options that take a value (by every name), and the positional arguments.
_FLAGS = {"--check": "check", "--json": "as_json"}
_VALUED = {"--workspace": "workspace", "-w": "workspace", "--hunks": "hunks"}
CHECKS: dict[str, tuple[frozenset[str], tuple[str, ...]]] = {
    "apply": (frozenset({"check", "as_json", "workspace", "hunks"}), ("patchfile",)),
    "undo": (frozenset({"check", "as_json", "workspace"}), ()),
    "redo": (frozenset({"check", "as_json", "workspace"}), ()),
}


def read_only_params(args: list[str]) -> tuple[str, dict[str, object]] | None:
    """The command and its parameters when `args` is a read-only check in the plain form
    described above (the values click would pass it), else None: click parses it."""
    if not args or args[0] not in CHECKS:
        return None
    known, positional = CHECKS[args[0]]
    params: dict[str, object] = {}
    values: list[str] = []
    rest = iter(args[1:])
    for token in rest:
        name = _FLAGS.get(token) or _VALUED.get(token)
        if name is None:
            if token.startswith("-") and token != "-":
                return None  # help, `--opt=value`, `--`, a mistake: click's to say
            values.append(token)
        elif name not in known or name in params:
            return None
        elif token in _FLAGS:
            params[name] = True
        else:
            value = next(rest, None)
            if value is None or value == "" or value.startswith("-"):
                return None
            params[name] = value
    if not params.get("check") or len(values) != len(positional):
        return None
    workspace = params.get("workspace")
    if isinstance(workspace, str):
        if not _folder_click_takes(workspace):
            return None  # click's sentence: "Directory … is a file." or "… is not readable."
        params["workspace"] = Path(workspace)
    defaults = {name: None for name in known} | {"check": False, "as_json": False}
    return args[0], defaults | params | dict(zip(positional, values, strict=True))


def _folder_click_takes(value: str) -> bool:
    """What `click.Path(file_okay=False)` accepts: a missing path, or one that is no regular
    file and is readable."""
    try:
        mode = os.stat(value).st_mode
    except OSError:
        return True
    except ValueError:  # a NUL in the name: click's to refuse
        return False
    return not stat.S_ISREG(mode) and os.access(value, os.R_OK)


def _run_check(command: str, params: dict[str, object]) -> int:
    from sage_tui.commands.patching import run_apply, run_undo

    gc.enable()  # not a starting command: collection back on, as cli.py does for these
    options = {k: v for k, v in params.items() if k != "patchfile"}
    if command == "apply":
        return run_apply(str(params["patchfile"]), **options)  # type: ignore[arg-type]
    return run_undo(redo=command == "redo", **options)  # type: ignore[arg-type]


def _bare(args: list[str]) -> Callable[[], int] | None:
    """What runs `args` without click, if anything: never while a shell asks for completions."""
    if "_SAGE_COMPLETE" in os.environ:
        return None
    check = read_only_params(args)
    if check is not None:
        return lambda: _run_check(*check)
    return BARE_COMMANDS.get(tuple(args))


def _as_click_would(run: Callable[[], int], as_json: bool) -> int:
    """`run()`'s exit code; it ends as click ends a command: on Ctrl+C or end of input, a
    blank line, "Aborted." (and the failure document with `--json`), exit code 130; when
    the reader of its output went away (`sage apply … | head -1`), quietly, exit code 1."""
    try:
        return run()
    except BrokenPipeError:
        devnull = os.open(os.devnull, os.O_WRONLY)  # the exit's own flush has nowhere to go
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
        return 1
    except (KeyboardInterrupt, EOFError):
        from sage_tui.commands.output import echo, failure_json

        echo("", err=True)
        if as_json:
            echo(failure_json("Aborted.", 130))
        echo("Aborted.", err=True)
        return 130


def _through_click(args: list[str], as_json: bool) -> None:
    """Run `args` through click's command tree, its own failures reported as click does."""
    import click

    from sage_tui.cli import cli
    from sage_tui.commands.output import failure_json

    try:
        cli.main(args=args, prog_name="sage", standalone_mode=False,
                 color=False if no_colour(os.environ) else None)
    except click.exceptions.Exit as exc:
        raise SystemExit(exc.exit_code) from None
    except click.ClickException as exc:
        if as_json:
            click.echo(failure_json(exc.format_message(), exc.exit_code), color=False)
        exc.show()
        raise SystemExit(exc.exit_code) from None
    except click.Abort:
        if as_json:
            click.echo(failure_json("Aborted.", 130), color=False)
        click.echo("Aborted.", err=True)
        raise SystemExit(130) from None


def _unexpected(exc: Exception, verbose: bool, as_json: bool) -> NoReturn:
    """A failure no sentence was written for: a bug, said as one, with how to see where."""
    if os.environ.get("SAGE_DEBUG"):
        raise exc
    if verbose:  # -v: the stack first, then the sentence
        import traceback

        traceback.print_exception(exc)
    _fail(f"unexpected {type(exc).__name__}: {exc} (run with -v or set SAGE_DEBUG=1 to see "
          "where, and please report it).", 1, as_json)


def main(argv: list[str] | None = None) -> None:
    """Entry point of the `sage` console script."""
    from sage_tui.core.errors import SageError

    args = sys.argv[1:] if argv is None else list(argv)
    as_json = _wants_json(args)
    verbose = any(a in ("-v", "--verbose") for a in args)
    # Paused while the command starts (imports make many objects and little garbage, and a
    # full collection in the middle of them costs tens of milliseconds); see STARTING_COMMANDS.
    gc.disable()
    try:
        try:
            os.getcwd()
        except FileNotFoundError:
            _fail("the current folder no longer exists; cd into one that does.", 2, as_json)
        bare = _bare(args)
        if bare is not None:
            raise SystemExit(_as_click_would(bare, as_json))
        _through_click(args, as_json)
    except SageError as exc:
        _fail(str(exc), exc.exit_code, as_json)
    except KeyboardInterrupt:
        raise SystemExit(130) from None
    except BrokenPipeError:  # `sage trace | head`
        sys.stderr.close()
        raise SystemExit(0) from None
    except OSError as exc:
        if not (exc.filename and exc.strerror):
            _unexpected(exc, verbose, as_json)
        # a folder SAGE needs is a file, a disk full, a permission: the machine, not a bug
        _fail(f"{exc.filename} cannot be used: {exc.strerror[0].lower()}{exc.strerror[1:]}.", 1,
              as_json)
    except Exception as exc:
        _unexpected(exc, verbose, as_json)
    finally:
        gc.enable()  # however the command ended
