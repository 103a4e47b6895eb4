"""`sage eval golden` (traces against the ordering rules and their expectations) and
`sage eval diff` (a whole session log against a baseline session)."""

from __future__ import annotations

import warnings
from pathlib import Path

import click

from sage_tui.core.errors import UsageError
from sage_tui.core.log.logfiles import encode_record
from sage_tui.core.log.safetext import plain
from sage_tui.core.log.sessionlog import TornTailWarning, read_session
from sage_tui.eval.golden import SESSION_VOLATILE, check_order, compare, shipped
from sage_tui.eval.specs import load_spec, run_spec
from sage_tui.paths import sage_paths


def _records(path: Path) -> list[dict[str, object]]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", TornTailWarning)
        return list(read_session(path, sage_paths().sessions))


def _check(target: Path, mode: str | None) -> tuple[bool, str]:
    """(passed, report) for one golden: a spec (.yaml) or a trace (.jsonl)."""
    spec_path = target if target.suffix in (".yaml", ".yml") else target.with_suffix(".yaml")
    trace_path = target.with_suffix(".jsonl")
    if not trace_path.exists():
        return False, f"{trace_path} does not exist; record it with `sage eval golden --record " \
                      f"{spec_path}`."
    expected = _records(trace_path)
    lines = []
    problems = check_order(expected)
    if problems:
        lines += [f"  ordering: {p.describe(expected)}" for p in problems[:5]]
    if not spec_path.exists():
        detail = f"{len(expected)} events, ordering rules only (no {spec_path.name})"
        return not problems, "\n".join([detail, *lines])
    spec = load_spec(spec_path)
    how = mode or spec.get("compare", "strict")
    actual = run_spec(spec)
    for problem in check_order(actual):
        lines.append(f"  ordering (replayed): {problem.describe(actual)}")
    divergence = compare(expected, actual, how)
    if divergence is not None:
        lines.append("  " + divergence.describe().replace("\n", "\n  "))
    summary = f"{len(expected)} events, replayed and compared ({how})"
    return not lines, "\n".join([summary, *lines])


def run_golden(files: tuple[str, ...], mode: str | None, record: str | None) -> int:
    """Implement `sage eval golden`; return the exit code."""
    if record:
        spec_path = Path(record)
        spec = load_spec(spec_path)
        records = run_spec(spec)
        out = spec_path.with_suffix(".jsonl")
        out.write_bytes(b"".join(map(encode_record, records)))
        problems = check_order(records)
        click.echo(f"Recorded {len(records)} events to {out}"
                   + ("; ordering rules hold." if not problems else ":"))
        for problem in problems:
            click.echo(f"  ordering: {problem.describe(records)}", err=True)
        return 1 if problems else 0
    names = list(files) or [str(path) for path in shipped()]  # bare: the shipped goldens
    failed = 0
    for name in names:
        target = Path(name)
        if not target.exists():
            raise UsageError(f"{name} does not exist.")
        passed, report = _check(target, mode)
        failed += not passed
        mark = click.style("PASS", fg="green") if passed else click.style("FAIL", fg="red")
        click.echo(f"{mark} {target.stem}: {report}")
    click.echo(f"{len(names) - failed} passed, {failed} failed")
    return 1 if failed else 0


def run_diff(session: str, baseline: str, mode: str) -> int:
    """Implement `sage eval diff`: 0 when SESSION matches BASELINE as a sequence of events."""
    from sage_tui.core.log.sessions import resolve

    logs = []
    for ref in (session, baseline):
        target = resolve(ref, sage_paths().sessions)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", TornTailWarning)
            logs.append(list(target.reader()))
        if any(issubclass(w.category, TornTailWarning) for w in caught):
            click.echo(f"Note: {plain(ref)} ends with a torn line (a crash while writing); "
                       "it was left out.", err=True)
    actual, expected = logs
    divergence = compare(expected, actual, mode, SESSION_VOLATILE)
    if divergence is None:
        click.echo(f"Same: {len(actual)} events match the baseline's {len(expected)} ({mode}).")
        return 0
    click.echo(plain(divergence.describe()))
    return 1
