"""The `sage` console script: runs the command line of `sage_tui.cli` and turns every way a
command can fail into one sentence and an exit code (DESIGN.md §8).

Every `SageError` becomes one sentence on stderr and its exit code (1 task failed, 2 usage
or configuration error); `SAGE_DEBUG=1` shows the traceback of an unexpected failure.

`sage` and `sage demo` typed bare (no option, no argument) open the workbench without
importing click or building the command tree first: both are read before the first frame
and cost about a tenth of it (bench/ui.py). Anything else on the command line, and shell
completion (`_SAGE_COMPLETE`), goes through click, which runs the same functions.
"""

from __future__ import annotations

import gc
import os
import sys
from collections.abc import Callable, Mapping
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
    import click

    from sage_tui.commands.output import failure_json
    from sage_tui.core.log.safetext import shown

    if as_json:
        click.echo(failure_json(shown(sentence), exit_code), color=False)
    click.echo(f"Error: {shown(sentence)}", err=True)
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


def _bare(args: list[str]) -> Callable[[], int] | None:
    """The workbench command `args` names bare, unless a shell is asking for completions."""
    if "_SAGE_COMPLETE" in os.environ:
        return None
    return BARE_COMMANDS.get(tuple(args))


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
        bare = _bare(args)
        if bare is not None:
            raise SystemExit(bare())
        _through_click(args, as_json)
    except SageError as exc:
        _fail(str(exc), exc.exit_code, as_json)
    except KeyboardInterrupt:
        raise SystemExit(130) from None
    except BrokenPipeError:  # `sage trace | head`
        sys.stderr.close()
        raise SystemExit(0) from None
    except Exception as exc:
        if os.environ.get("SAGE_DEBUG"):
            raise
        if verbose:  # -v: the stack first, then the sentence
            import traceback

            traceback.print_exc()
        _fail(f"unexpected {type(exc).__name__}: {exc} (run with -v or set SAGE_DEBUG=1 to see "
              "where, and please report it).", 1, as_json)
    finally:
        gc.enable()  # however the command ended
