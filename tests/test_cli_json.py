"""Every `--json` prints one JSON document on stdout, in success and in failure (docs/cli.md).

The cases are parametrized over the commands; a command that gains `--json` without a case
here fails `test_every_json_command_has_a_case`, so the contract cannot be forgotten.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import click
import pytest

from sage_tui.cli import cli
from sage_tui.config import default_models
from tests.conftest import git_repo
from tests.fake_ollama import FakeOllamaServer
from tests.test_run_cli import QA

DIFF = "--- a/a.txt\n+++ b/a.txt\n@@ -1,2 +1,2 @@\n one\n-two\n+TWO\n"
STALE = "--- a/a.txt\n+++ b/a.txt\n@@ -1,2 +1,2 @@\n one\n-zwei\n+TWO\n"
HARDWARE = Path(__file__).parent / "fixtures" / "hardware" / "laptop_8gb.json"


@dataclass
class World:
    """What a case's command lines may name: {patch}, {stale}, {hardware}, {host}, {dead},
    {last} (the newest session). Commands run in the repository."""

    repo: Path
    names: dict[str, str]

    def sage(self, *args: str) -> subprocess.CompletedProcess[str]:
        argv = [a.format(**self.names) for a in args]
        return subprocess.run([sys.executable, "-m", "sage_tui", *argv], capture_output=True,
                              text=True, timeout=120, cwd=self.repo, stdin=subprocess.DEVNULL,
                              env={**os.environ, "OLLAMA_HOST": self.names["host"]})


@dataclass
class Case:
    command: str  # the command's path, as `sage --help` names it
    success: tuple[str, ...]
    failure: tuple[str, ...]
    failure_code: int
    before: tuple[tuple[str, ...], ...] = ()  # commands that set the success up
    lines: bool = False  # JSON Lines: the log's own records (`sage trace REF --json`)
    id: str = ""


CASES = [
    Case("trace", ("trace", "--json"), ("trace", "--json", "--event", "NO_SUCH_EVENT"), 2,
         id="trace-list"),
    Case("trace", ("trace", "{last}", "--json"), ("trace", "no-such-session", "--json"), 2,
         before=(("apply", "{patch}"),), lines=True, id="trace-ref"),
    Case("run", ("run", "where does the server start?", "--json"),
         ("run", "where does the server start?", "--json", "--mode", "auto"), 1,
         id="run"),
    Case("apply", ("apply", "{patch}", "--check", "--json"), ("apply", "{stale}", "--json"), 1,
         id="apply"),
    Case("undo", ("undo", "--json"), ("undo", "--json"), 1, before=(("apply", "{patch}"),),
         id="undo"),
    Case("redo", ("redo", "--check", "--json"), ("redo", "--json"), 1,
         before=(("apply", "{patch}"), ("undo",)), id="redo"),
    Case("prep", ("prep", "--json", "--hardware", "{hardware}"),
         ("prep", "--json", "--hardware", "no-such-machine.json"), 2, id="prep"),
    Case("doctor", ("doctor", "--json"), ("doctor", "--json"), 1, id="doctor"),
]


def json_commands() -> set[str]:
    """Every command of the `sage` tree that takes `--json`, by its path."""
    found: set[str] = set()

    def walk(command: click.Command, path: str) -> None:
        if any("--json" in p.opts for p in command.params):
            found.add(path)
        if isinstance(command, click.Group):
            for name, sub in command.commands.items():
                walk(sub, f"{path} {name}".strip())

    walk(cli, "")
    return found


def test_every_json_command_has_a_case() -> None:
    assert json_commands() == {case.command for case in CASES}


def test_every_json_command_is_in_the_documentation() -> None:
    table = (Path(__file__).parent.parent / "docs" / "cli.md").read_text(encoding="utf-8")
    assert all(f"`sage {command}" in table for command in json_commands())


@pytest.fixture
def world(tmp_path: Path, fake_ollama: Callable[..., FakeOllamaServer],
          dead_host: str) -> Iterator[World]:
    repo = git_repo(tmp_path / "repo", {"a.txt": "one\ntwo\n",
                                        "cli.py": "def main():\n    start_server(port=8080)\n"})
    (tmp_path / "one.diff").write_text(DIFF)
    (tmp_path / "stale.diff").write_text(STALE)
    models = [{"name": m} for m in sorted({c.model for c in default_models().roles.values()})]
    server = fake_ollama({**QA, "models": models})
    yield World(repo, {"patch": str(tmp_path / "one.diff"), "stale": str(tmp_path / "stale.diff"),
                       "hardware": str(HARDWARE), "host": server.host, "dead": dead_host})


def _document(out: subprocess.CompletedProcess[str]) -> dict[str, object]:
    assert out.stdout.endswith("\n") and out.stdout.count("\n") == 1, out.stdout  # one line
    document = json.loads(out.stdout)
    assert isinstance(document, dict) and document["schema"] == 1, document
    return document


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_success_is_one_json_document(world: World, case: Case) -> None:
    for step in case.before:
        assert world.sage(*step).returncode == 0
    if case.lines:  # the session the set-up recorded
        world.names["last"] = json.loads(world.sage("trace", "--json").stdout)[
            "sessions"][0]["session_id"]
    out = world.sage(*case.success)
    assert out.returncode == 0, out.stderr
    if case.lines:  # the log's own records, one per line, each parseable
        records = [json.loads(line) for line in out.stdout.splitlines()]
        assert records and records[0]["event"] == "SESSION_STARTED"
        return
    document = _document(out)
    assert document["ok"] is True and document.get("error") is None


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_failure_is_one_json_document_with_one_sentence(world: World, case: Case) -> None:
    if case.command in ("run", "doctor"):  # the model server is unreachable
        world.names["host"] = world.names["dead"]
    out = world.sage(*case.failure)
    assert out.returncode == case.failure_code, (out.stdout, out.stderr)
    document = _document(out)
    assert document["ok"] is False
    error = document["error"]
    assert isinstance(error, str) and error and "\n" not in error
    assert error.endswith("."), error  # a sentence
