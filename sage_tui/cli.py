"""The `sage` command line (DESIGN.md §8).

Commands are declared here and implemented in `sage_tui/commands/`, imported only
when a command runs, so `sage --version` and start-up stay fast. The console script is
`sage_tui.launcher.main`, which runs this command line and reports its failures.
"""

from __future__ import annotations

import gc
import os
from pathlib import Path
from typing import Any

import click

from sage_tui import __version__
from sage_tui.commands.output import VERBOSITY

# Commands that resume garbage collection themselves once started: the workbench's after
# its first frame is on screen (`SageApp`), `sage run` once its session is built. Start-up
# allocates much and frees little; every other command resumes it at once.
STARTING_COMMANDS = frozenset({None, "demo", "replay", "resume", "run"})


def _session_ids(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[Any]:
    """Shell completion of a SESSION argument: recorded session ids, newest first."""
    from sage_tui.commands.completion import session_ids

    return session_ids(incomplete)


@click.group(context_settings={"help_option_names": ["-h", "--help"]},
             invoke_without_command=True)
@click.version_option(__version__, "-V", "--version", prog_name="sage",
                      message="%(prog)s %(version)s")
@click.option("--workspace", "-w", type=click.Path(path_type=Path, file_okay=False),
              help="The git repository to work in (default: the current folder).")
@click.option("--mode", type=click.Choice(["research", "auto", "silent"]),
              help="Checkpoint mode (default: SAGE_MODE or research).")
@click.option("--continue", "-c", "latest", is_flag=True,
              help="Continue this workspace's latest session (its transcript, turns, tokens, "
                   "waiting patches and mode).")
@click.option("--color/--no-color", "colour", default=None,
              help="Colour the output even when it is not a terminal, or never (default: on a "
                   "terminal, unless NO_COLOR is set).")
@click.option("--verbose", "-v", is_flag=True,
              help="Say more on stderr: every event of `sage run`, the stack of an unexpected "
                   "error.")
@click.option("--quiet", "-q", is_flag=True,
              help="Say only the result and the errors: no notes, progress or narration.")
@click.pass_context
def cli(ctx: click.Context, workspace: Path | None, mode: str | None, latest: bool,
        colour: bool | None, verbose: bool, quiet: bool) -> None:
    """SAGE: a terminal workbench for local-model coding agents.

    Without a command, opens the workbench in the current git repository.
    """
    if verbose and quiet:
        raise click.UsageError("--verbose and --quiet contradict each other; give one.")
    ctx.meta[VERBOSITY] = 1 if verbose else -1 if quiet else 0
    if colour is not None:
        ctx.color = colour
        if colour:  # Textual and rich read the environment
            os.environ.pop("NO_COLOR", None)
        else:
            os.environ["NO_COLOR"] = "1"
    if ctx.invoked_subcommand not in STARTING_COMMANDS:
        gc.enable()
    if ctx.invoked_subcommand is None:
        from sage_tui.commands.ui import run_workbench

        raise SystemExit(run_workbench(workspace, mode, latest=latest))
    if latest:
        raise click.UsageError("--continue goes with `sage` itself or `sage run --continue`.")


@cli.command()
@click.argument("session", required=False, shell_complete=_session_ids)
@click.option("--workspace", "-w", type=click.Path(path_type=Path, file_okay=False),
              help="The git repository to work in (default: the current folder).")
@click.option("--mode", type=click.Choice(["research", "auto", "silent"]),
              help="Switch to this mode after continuing (logged as MODE_CHANGED).")
def resume(session: str | None, workspace: Path | None, mode: str | None) -> None:
    """Continue SESSION (an id or unique prefix) in the workbench; without one, pick from
    this workspace's sessions (time, first message, turns, tokens)."""
    from sage_tui.commands.ui import run_resume

    raise SystemExit(run_resume(session, workspace, mode))


@cli.command()
@click.option("--keep", is_flag=True, help="Keep the scratch project afterwards.")
def demo(keep: bool) -> None:
    """Open the workbench on a scratch project with the demo model: no Ollama needed."""
    from sage_tui.commands.ui import run_demo

    raise SystemExit(run_demo(keep))


@cli.command()
@click.argument("patchfile")
@click.option("--workspace", "-w", type=click.Path(path_type=Path, file_okay=False),
              help="The project folder (default: the current one).")
def review(patchfile: str, workspace: Path | None) -> None:
    """Review PATCHFILE (or - for stdin) hunk by hunk; Enter applies the approved hunks."""
    from sage_tui.commands.ui import run_review

    raise SystemExit(run_review(patchfile, workspace))


@cli.command()
@click.argument("session", shell_complete=_session_ids)
@click.option("--speed", type=float, default=10.0, show_default=True,
              help="Playback speed (0 plays everything at once).")
def replay(session: str, speed: float) -> None:
    """Play a recorded SESSION back in the workbench, read-only."""
    from sage_tui.commands.ui import run_replay

    raise SystemExit(run_replay(session, speed))


@cli.command()
@click.argument("ref", required=False, shell_complete=_session_ids)
@click.option("--event", "-e", "events", multiple=True, metavar="NAME",
              help="Only these events (repeatable; globs such as 'TOOL_*' work).")
@click.option("--json", "as_json", is_flag=True, help="Print the raw JSON lines.")
@click.option("--follow", "-f", is_flag=True, help="Keep printing new events (Ctrl+C stops).")
@click.option("--limit", "-n", type=click.IntRange(min=1), default=20, show_default=True,
              help="How many sessions to list (without REF).")
def trace(ref: str | None, events: tuple[str, ...], as_json: bool, follow: bool,
          limit: int) -> None:
    """Show a session log: REF is a session id (or prefix), a trace id or a file.

    Without REF, list recent sessions.
    """
    from sage_tui.commands.trace import run_trace

    run_trace(ref, events, as_json=as_json, follow=follow, limit=limit)


@cli.command()
@click.argument("task")
@click.option("--mode", type=click.Choice(["research", "auto", "silent"]),
              help="Checkpoint mode (default: SAGE_MODE or research).")
@click.option("--workspace", "-w", type=click.Path(path_type=Path, file_okay=False),
              help="The project folder (default: the current one).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON result instead of streaming.")
@click.option("--continue", "-c", "latest", is_flag=True,
              help="Continue this workspace's latest session: the router and the model see "
                   "the earlier messages.")
def run(task: str, mode: str | None, workspace: Path | None, as_json: bool,
        latest: bool) -> None:
    """Run one TASK headless: the answer streams to stdout, every step goes to the log."""
    from sage_tui.commands.run import run_task

    raise SystemExit(run_task(task, mode=mode, workspace=workspace, as_json=as_json,
                              latest=latest))


@cli.command()
@click.argument("patchfile")
@click.option("--workspace", "-w", type=click.Path(path_type=Path, file_okay=False),
              help="The project folder (default: the current one).")
@click.option("--hunks", metavar="1,3", help="Only these hunks (1-based positions in the patch).")
@click.option("--check", is_flag=True, help="Report whether the hunks apply; write nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print per-hunk results as JSON.")
def apply(patchfile: str, workspace: Path | None, hunks: str | None, check: bool,
          as_json: bool) -> None:
    """Apply PATCHFILE (a unified diff, or - for stdin) atomically: every chosen hunk or none."""
    from sage_tui.commands.patching import run_apply

    raise SystemExit(run_apply(patchfile, workspace=workspace, hunks=hunks, check=check,
                               as_json=as_json))


@cli.command()
@click.option("--workspace", "-w", type=click.Path(path_type=Path, file_okay=False),
              help="The project folder (default: the current one).")
@click.option("--check", is_flag=True, help="Show what would be reverted; change nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def undo(workspace: Path | None, check: bool, as_json: bool) -> None:
    """Revert the last applied patch, if its files are unchanged since."""
    from sage_tui.commands.patching import run_undo

    raise SystemExit(run_undo(workspace=workspace, check=check, as_json=as_json))


@cli.command()
@click.option("--workspace", "-w", type=click.Path(path_type=Path, file_okay=False),
              help="The project folder (default: the current one).")
@click.option("--check", is_flag=True, help="Show what would be applied again; change nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def redo(workspace: Path | None, check: bool, as_json: bool) -> None:
    """Apply the last undone patch again, if its files are unchanged since the undo."""
    from sage_tui.commands.patching import run_undo

    raise SystemExit(run_undo(workspace=workspace, check=check, as_json=as_json, redo=True))


@cli.group(name="eval")
def eval_group() -> None:
    """Regression checks: golden traces (no model) and the smoke run (a real model)."""


@eval_group.command()
@click.argument("files", nargs=-1)
@click.option("--mode", type=click.Choice(["strict", "unordered", "subset", "superset"]),
              help="How to compare (default: the spec's `compare`, else strict).")
@click.option("--record", metavar="SPEC", help="Run SPEC (.yaml) and write its golden trace.")
def golden(files: tuple[str, ...], mode: str | None, record: str | None) -> None:
    """Check golden FILES (default: the goldens shipped with SAGE): specs are replayed and
    compared, traces checked for ordering."""
    from sage_tui.commands.evaluate import run_golden

    raise SystemExit(run_golden(files, mode, record))


@eval_group.command(name="diff")
@click.argument("session", shell_complete=_session_ids)
@click.argument("baseline", shell_complete=_session_ids)
@click.option("--mode", type=click.Choice(["strict", "unordered", "subset", "superset"]),
              default="strict", show_default=True, help="How to compare.")
def diff_sessions(session: str, baseline: str, mode: str) -> None:
    """Compare SESSION's events with BASELINE's (ids, times, token counts and texts ignored);
    print the first divergence and exit 1 when they differ."""
    from sage_tui.commands.evaluate import run_diff

    raise SystemExit(run_diff(session, baseline, mode))


@eval_group.command()
@click.option("--serve-gguf", type=click.Path(path_type=Path, dir_okay=False),
              help="Serve this GGUF through llama.cpp as an Ollama-compatible server and test it.")
@click.option("--write-model", type=click.Path(path_type=Path), metavar="PATH",
              help="Write the smoke model (Gemma 3 270M, a 253 MB GGUF) to PATH and stop.")
def smoke(serve_gguf: Path | None, write_model: Path | None) -> None:
    """Run the smoke tests against a real model (the `test` profile); exit 2 if none answers."""
    from sage_tui.commands import smoke as command

    if write_model is not None:
        if serve_gguf is not None:
            raise click.UsageError("--write-model writes the model and stops; run --serve-gguf "
                                   "after it.")
        raise SystemExit(command.write_model(write_model))
    raise SystemExit(command.run_smoke(serve_gguf))


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print the recommendation as JSON.")
@click.option("--hardware", type=click.Path(path_type=Path, dir_okay=False, exists=True),
              help="Plan for the machine described in this JSON file instead of this one.")
@click.option("--pull", is_flag=True, help="Pull the recommended models through Ollama.")
def prep(as_json: bool, hardware: Path | None, pull: bool) -> None:
    """Recommend a local model per role for this machine, and explain each choice."""
    from sage_tui.commands.prep import run_prep

    raise SystemExit(run_prep(as_json, hardware, pull))


@cli.group()
def setup() -> None:
    """Show (suggest) or make (apply) the models.yaml change `sage prep` recommends."""


_HARDWARE = click.option(
    "--hardware", type=click.Path(path_type=Path, dir_okay=False, exists=True),
    help="Plan for the machine described in this JSON file instead of this one.")


@setup.command(name="suggest")
@_HARDWARE
def setup_suggest(hardware: Path | None) -> None:
    """Show the models.yaml change `sage prep` recommends, as a diff; write nothing."""
    from sage_tui.commands.setup import run_setup

    raise SystemExit(run_setup("suggest", hardware))


@setup.command(name="apply")
@_HARDWARE
def setup_apply(hardware: Path | None) -> None:
    """Make the models.yaml change `sage prep` recommends (comments and settings stay; the
    previous file is kept as a backup)."""
    from sage_tui.commands.setup import run_setup

    raise SystemExit(run_setup("apply", hardware))


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print the results as JSON.")
def doctor(as_json: bool) -> None:
    """Check Python, git, folders, config, Ollama and tokenizer files."""
    from sage_tui.commands.doctor import run_doctor

    raise SystemExit(run_doctor(as_json=as_json))


@cli.command()
@click.argument("shell", type=click.Choice(["bash", "zsh", "fish"]))
@click.pass_context
def completion(ctx: click.Context, shell: str) -> None:
    """Print the completion script for SHELL; commands, options and session ids complete.

    \b
    bash (~/.bashrc):   eval "$(sage completion bash)"
    zsh (~/.zshrc):     eval "$(sage completion zsh)"
    fish:               sage completion fish > ~/.config/fish/completions/sage.fish
    """
    from sage_tui.commands.completion import script

    click.echo(script(ctx.find_root().command, shell))
