"""`sage prep`: what this machine can run, per role, with the reasons and the pull commands.

Roles that models.yaml serves from an OpenAI-compatible server get no pick and no pull:
the server is asked what it serves, and prep says whether each role's model is there.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from sage_tui.commands.output import print_json, verbosity
from sage_tui.config import load_models, load_settings
from sage_tui.setup.prep import Plan, load_hardware, probe, recommend
from sage_tui.setup.servers import ServerReport, ask_servers, describe, openai_roles

if TYPE_CHECKING:
    from sage_tui.core.llm.routing import ModelChoice


def _describe(plan: Plan) -> None:
    hw = plan.hardware
    gpus = ", ".join(f"{g.name} ({g.vram_gb:g} GB)" for g in hw.gpus) or (
        "Apple silicon (unified memory)" if hw.apple_silicon else "no GPU")
    click.echo(click.style("Machine: ", bold=True) + f"{hw.ram_gb:g} GB RAM, {hw.cpu_cores} "
               f"cores{f' ({hw.cpu_model})' if hw.cpu_model else ''}, {gpus}; "
               f"{hw.disk_free_gb:g} GB free disk")
    click.echo(click.style("Budget:  ", bold=True) + f"{plan.budget_gb:g} GB: {plan.where}\n")
    if plan.picks:
        click.echo(click.style(f"{'ROLE':<11} {'MODEL':<20} {'DISK':>7} {'NEEDS':>8}  "
                               f"{'NUM_CTX':>7}  WHY", bold=True))
    for pick in plan.picks:
        click.echo(f"{pick.role:<11} {pick.tag:<20} {pick.size_gb:>5.1f}GB {pick.need_gb:>6.1f}GB"
                   f"  {pick.num_ctx:>7,}  {pick.why}")
    for note in plan.notes:
        click.echo(click.style(f"\nNote: {note}", fg="yellow"))
    for server in plan.servers:
        click.echo()
        for line in describe(server):
            click.echo(click.style(line, fg=None if server.ok else "red"))
    if not plan.tags:
        click.echo("\nNothing to pull with Ollama: every role is served by an OpenAI-compatible "
                   "server.")
        return
    click.echo("\nPull them with:")
    for tag in plan.tags:
        click.echo(f"  ollama pull {tag}")
    click.echo("Then `sage setup suggest` shows the change to models.yaml (`sage setup apply` "
               "makes it).")


def _pull(tags: list[str], err: bool = False) -> str | None:
    """Pull `tags`; None when every pull succeeded, else the sentence saying why not (on
    stderr already). With `err` (`--json`: stdout holds the document alone) the progress
    and the results go to stderr too."""
    import httpx
    import ollama

    from sage_tui.core.llm.errors import OllamaUnreachable

    host = load_settings().ollama_host
    client = ollama.Client(host=host)
    for tag in tags:
        try:
            status, total, layers, seconds = _pull_one(client, tag, err)
        except (ConnectionError, httpx.ConnectError):
            problem = str(OllamaUnreachable(host))
        except ollama.ResponseError as exc:
            problem = f"Ollama could not pull {tag}: {exc.error}."
        else:
            from rich.filesize import decimal

            click.echo(f"  {tag}: {status} ({decimal(total)} in {layers} layer"
                       f"{'s' if layers != 1 else ''}, {seconds:.1f} s)", err=err)
            continue
        click.echo(f"Error: {problem}", err=True)
        return problem
    return None


def _pull_one(client: Any, tag: str, err: bool = False) -> tuple[str, int, int, float]:
    """Pull `tag` with one progress bar across its layers: bytes, speed and time left.

    Ollama reports each layer (`digest`) on its own, `completed` of `total`; the bar sums
    them, so it reaches its end with the last layer, not the first.
    """
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
        TransferSpeedColumn,
    )

    layers: dict[str, tuple[int, int]] = {}  # digest → (total, completed)
    status = ""
    started = time.monotonic()
    columns = (TextColumn(f"{tag:<20}"), BarColumn(), DownloadColumn(), TransferSpeedColumn(),
               TimeRemainingColumn())
    with Progress(*columns, console=Console(highlight=False, stderr=err),
                  disable=verbosity() < 0) as bar:  # -q: no progress
        task = bar.add_task(tag, total=None)
        for part in client.pull(tag, stream=True):
            status = part.status or status
            if part.digest and part.total:
                layers[part.digest] = (part.total, part.completed or 0)
                bar.update(task, total=sum(t for t, _ in layers.values()),
                           completed=sum(min(c, t) for t, c in layers.values()))
    total = sum(t for t, _ in layers.values())
    return status, total, len(layers), time.monotonic() - started


async def _ask(choices: Mapping[str, ModelChoice]) -> list[ServerReport]:
    from sage_tui.factory import ollama_backends

    backend_for = ollama_backends()
    try:
        return await ask_servers(choices, backend_for)
    finally:
        for backend in getattr(backend_for, "cache", {}).values():
            await backend.aclose()


def run_prep(as_json: bool, hardware: Path | None, pull: bool) -> int:
    """Implement `sage prep`; return the exit code (1 when an OpenAI-compatible server
    cannot be asked or lacks a role's model, or a pull fails)."""
    from sage_tui.factory import model_router

    choices = openai_roles(model_router(load_models(), load_settings()))
    machine = load_hardware(hardware) if hardware else probe()
    plan = recommend(machine, elsewhere=frozenset(choices))
    plan.servers = asyncio.run(_ask(choices)) if choices else []
    status = 0 if all(server.ok for server in plan.servers) else 1
    if not as_json:
        _describe(plan)
    pulled: str | None = None  # why a pull failed
    if pull:
        if not plan.tags:
            click.echo("Nothing to pull: every role's model must be loaded on its "
                       "OpenAI-compatible server.", err=as_json)
        else:
            pulled = _pull(plan.tags, err=as_json)
    if as_json:  # after the pull: stdout holds this document alone, and it tells the pull too
        failing = [server.host for server in plan.servers if not server.ok]
        error = {"error": f"The OpenAI-compatible server at {', '.join(failing)} cannot be asked "
                          "or lacks a role's model; see servers."} if failing else {}
        if pulled is not None:
            error = {"error": pulled}
        print_json(not status and pulled is None, **plan.to_json(), **error)
    return 1 if pulled is not None else status
