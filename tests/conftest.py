"""Shared fixtures: an isolated SAGE_HOME, fake model servers, a git repository."""

from __future__ import annotations

import os
import socket
import subprocess
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from sage_tui.core.llm.scripted import Scenario
from tests.fake_ollama import FakeOllamaServer

_ENV_PREFIXES = ("SAGE_", "OLLAMA_")


@pytest.fixture(autouse=True)
def sage_home(tmp_path_factory: pytest.TempPathFactory,
              monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Every test gets its own SAGE_HOME and none of the developer's SAGE_* settings."""
    for name in list(os.environ):
        if name.startswith(_ENV_PREFIXES) or name == "NO_COLOR":
            monkeypatch.delenv(name, raising=False)
    home = tmp_path_factory.mktemp("sage-home")
    monkeypatch.setenv("SAGE_HOME", str(home))
    yield home


@pytest.fixture
def fake_ollama() -> Iterator[Callable[..., FakeOllamaServer]]:
    """Start fake Ollama servers playing scenarios; all are stopped after the test.

    Call it with a scenario (a mapping or a path) and optional `stall_seconds`.
    """
    servers: list[FakeOllamaServer] = []

    def start(scenario: Mapping[str, Any] | str | Path, **kwargs: Any) -> FakeOllamaServer:
        server = FakeOllamaServer(Scenario.load(scenario), **kwargs).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


@pytest.fixture
def dead_host() -> str:
    """`127.0.0.1:PORT` where nothing listens: connections are refused."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"127.0.0.1:{port}"


def git_repo(path: Path, files: Mapping[str, str] | None = None) -> Path:
    """A git repository at `path` with `files` committed."""
    path.mkdir(parents=True, exist_ok=True)
    subprocess.run(["git", "init", "-q", "-b", "main", str(path)], check=True)
    for name, text in (files or {}).items():
        target = path / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    if files:
        subprocess.run(["git", "-C", str(path), "add", "-A"], check=True)
        subprocess.run(["git", "-C", str(path), "-c", "user.name=Test", "-c",
                        "user.email=test@example.invalid", "commit", "-qm", "initial"], check=True)
    return path
