"""`sage setup suggest` and `sage setup apply`."""

from __future__ import annotations

from pathlib import Path

import click

from sage_tui.paths import sage_paths
from sage_tui.setup.modelsyaml import apply, suggest
from sage_tui.setup.prep import load_hardware, probe, recommend


def _colour(diff: str) -> None:
    for line in diff.splitlines():
        colour = "green" if line.startswith("+") and not line.startswith("+++") else \
            "red" if line.startswith("-") and not line.startswith("---") else None
        click.echo(click.style(line, fg=colour))


def run_setup(action: str, hardware: Path | None) -> int:
    """Implement `sage setup suggest|apply`; return the exit code."""
    from sage_tui.config import load_models, load_settings
    from sage_tui.factory import model_router
    from sage_tui.setup.servers import openai_roles

    # Roles on an OpenAI-compatible server keep their model: nothing is pulled for them.
    elsewhere = frozenset(openai_roles(model_router(load_models(), load_settings())))
    plan = recommend(load_hardware(hardware) if hardware else probe(), elsewhere)
    change = suggest(plan, sage_paths().models_file)
    if not change.diff and not change.exists:
        click.echo(f"There is no {change.path}, and SAGE's built-in models are already the "
                   "recommended ones; nothing to change.")
        return 0
    if not change.diff:
        click.echo(f"{change.path} already has the recommended models; nothing to change.")
        return 0
    _colour(change.diff)
    if action == "suggest":
        click.echo("\n`sage setup apply` makes this change (your comments and settings stay; "
                   "a backup is kept).")
        return 0
    backup = apply(change)
    click.echo(f"\nWrote {change.path}" + (f"; the previous file is {backup}." if backup else "."))
    click.echo("Pull the models with `sage prep --pull` (or the `ollama pull` commands it shows).")
    return 0
