"""`sage doctor`: print each check as it completes; exit 1 when any fails."""

from __future__ import annotations

from dataclasses import asdict

import click

from sage_tui.commands.output import print_json
from sage_tui.core.log.redaction import redact_value
from sage_tui.core.log.safetext import shown
from sage_tui.setup.doctor import Check, run_checks, session_dir

MARKS = {"ok": ("✓", "green"), "warn": ("!", "yellow"), "fail": ("✗", "red")}


def _show(check: Check) -> None:
    mark, colour = MARKS[check.status]
    click.echo(f"  {click.style(mark, fg=colour, bold=True)} {check.name:<10} {shown(check.message)}")
    for line in check.details:
        click.echo(f"      {click.style(shown(line), dim=True)}")


def run_doctor(as_json: bool = False) -> int:
    """Run the checks and print them; return the exit code."""
    from sage_tui.ui.actions import ui_names  # `[keys]` ids and themes are the workbench's

    names = ui_names()
    if as_json:  # docs/cli.md: {"schema", "ok", "checks": [...], "error" when one fails}
        checks = run_checks(names=names)
        failed = [c.name for c in checks if c.status == "fail"]
        error = {"error": f"{len(failed)} check(s) failed: {', '.join(failed)}."} if failed else {}
        print_json(not failed, checks=redact_value([asdict(c) for c in checks]), **error)
        return 1 if failed else 0
    else:
        click.echo(click.style("sage doctor", bold=True))
        checks = run_checks(progress=_show, names=names)
        click.echo(f"  session logs: {session_dir()}")
    failures = [c for c in checks if c.status == "fail"]
    warnings_ = [c for c in checks if c.status == "warn"]
    if not as_json:
        if failures:
            click.echo(click.style(f"{len(failures)} problem(s) to fix"
                                   + (f", {len(warnings_)} warning(s)." if warnings_ else "."),
                                   fg="red", bold=True))
        elif warnings_:
            click.echo(click.style(f"Ready, with {len(warnings_)} warning(s).", fg="yellow"))
        else:
            click.echo(click.style("All checks passed.", fg="green"))
    return 1 if failures else 0
