"""Experts: retrieval with citations and health, git, memory and the rolling summary."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
from pathlib import Path
from typing import Any

from sage_tui.config import Settings, default_models
from sage_tui.core.agent.experts import SUMMARY_AFTER, Experts
from sage_tui.core.agent.memory import MemoryStore
from sage_tui.core.llm.client import LLMClient
from sage_tui.core.llm.scripted import Scenario, ScriptedBackend
from sage_tui.core.log.events import Event
from sage_tui.core.workspace.retrieval import RetrievalIndex, terms
from sage_tui.core.workspace.state import SageFolder
from sage_tui.core.workspace.workspace import Workspace
from sage_tui.factory import model_router
from tests.conftest import git_repo

FILES = {
    "src/app/cli.py": "import click\n\n@click.command()\ndef main(verbose: bool) -> None:\n"
                      "    \"\"\"Run the app.\"\"\"\n    run_server(port=8080)\n",
    "src/app/server.py": "def run_server(port: int) -> None:\n    bind(port)\n    serve_forever()\n",
    "README.md": "# App\nStart it with `app --verbose`.\n",
    "notes/todo.txt": "nothing about servers here\n",
    ".gitignore": "secret_build/\n*.log\n",
}


def experts_for(root: Path, scenario: dict[str, Any] | None = None,
                events: list[Event] | None = None) -> Experts:
    sink = (events if events is not None else []).append
    backend = ScriptedBackend(Scenario.load(scenario or {"rules": [{"when": {}, "reply": "x"}]}))
    llm = LLMClient(model_router(default_models(), Settings()), lambda host: backend, sink,
                    max_prompt_chars=60_000)
    return Experts(root, llm, sink, MemoryStore(root.parent / "state-memory.json",
                                                root.parent / "user-memory.json"))


def test_terms_split_identifiers() -> None:
    assert terms("runServer(port) my_value HTTPClient") == [
        "runserver", "run", "server", "port", "my_value", "my", "value", "httpclient", "http",
        "client"]


def test_retrieval_ranks_and_cites_file_and_line(tmp_path: Path) -> None:
    root = git_repo(tmp_path / "repo", FILES)
    hits, health = RetrievalIndex(Workspace([root])).search("where is run_server called with the port?")
    assert hits[0].path in ("src/app/server.py", "src/app/cli.py")
    cited = {h.citation for h in hits}
    assert "src/app/cli.py:6" in cited and "src/app/server.py:1" in cited
    assert health.files == 5 and health.skipped == 0


def test_retrieval_respects_gitignore_and_skips_binaries(tmp_path: Path) -> None:
    root = git_repo(tmp_path / "repo", FILES)
    (root / "secret_build").mkdir()
    (root / "secret_build" / "server_dump.py").write_text("run_server run_server run_server\n")
    (root / "debug.log").write_text("run_server failed\n")
    (root / "image.bin").write_bytes(b"\0\1run_server")
    index = RetrievalIndex(Workspace([root]))
    hits, health = index.search("run_server")
    paths = {h.path for h in hits}
    assert "secret_build/server_dump.py" not in paths and "debug.log" not in paths
    assert health.skipped == 1  # image.bin: untracked, not ignored, binary


def test_retrieval_reports_stale_files_and_picks_up_changes(tmp_path: Path) -> None:
    root = git_repo(tmp_path / "repo", FILES)
    index = RetrievalIndex(Workspace([root]))
    index.search("server")
    server = root / "src/app/server.py"
    server.write_text("def run_server(port: int) -> None:\n    open_gateway(port)\n")
    os.utime(server, ns=(1, 1))  # a changed mtime, whatever the clock's resolution
    hits, health = index.search("open_gateway")
    assert health.stale == 1 and hits[0].citation == "src/app/server.py:2"
    (root / "src/app/server.py").unlink()
    _, health = index.search("gateway")
    assert health.stale == 1 and health.files == 4


def test_retrieval_without_evidence_says_so(tmp_path: Path) -> None:
    root = git_repo(tmp_path / "repo", FILES)
    events: list[Event] = []
    [packet] = asyncio.run(experts_for(root, events=events).gather(["retrieval"],
                                                                   "quantum entanglement"))
    assert packet.evidence is False and packet.text.startswith("No evidence")
    [event] = events
    assert event.data["evidence"] is False and event.data["citations"] == []
    assert event.data["health"]["files"] == 5


def test_retrieval_outside_git_walks_the_folder(tmp_path: Path) -> None:
    root = tmp_path / "plain"
    (root / "node_modules" / "x").mkdir(parents=True)
    (root / "node_modules" / "x" / "index.js").write_text("run_server()\n")
    (root / "main.py").write_text("run_server()\n")
    hits, _ = RetrievalIndex(Workspace([root])).search("run_server")
    assert [h.path for h in hits] == ["main.py"]


def test_git_packet(tmp_path: Path) -> None:
    root = git_repo(tmp_path / "repo", FILES)
    (root / "README.md").write_text("changed\n")
    [packet] = asyncio.run(experts_for(root).gather(["git"], "status?"))
    assert packet.evidence and packet.text.startswith("Branch main")
    assert "M README.md" in packet.text and "initial" in packet.text
    [plain] = asyncio.run(experts_for(tmp_path).gather(["git"], "status?"))
    assert plain.evidence is False and "not a git repository" in plain.text


def test_memory_update_stores_facts_and_preferences(tmp_path: Path) -> None:
    root = git_repo(tmp_path / "repo", FILES)
    scenario = {"rules": [{"when": {"role": "summarizer"}, "reply": {"json": {
        "project_facts": ["The server listens on port 8080", "Tests use pytest"],
        "user_preferences": ["Prefers type hints everywhere"]}}}]}
    experts = experts_for(root, scenario)
    exchange = [{"role": "user", "content": "what port?"},
                {"role": "assistant", "content": "8080"}]
    asyncio.run(experts.update_memory(exchange))
    asyncio.run(experts.update_memory(exchange))  # the same facts are not stored twice
    memory = experts.memory
    assert memory.facts() == ["The server listens on port 8080", "Tests use pytest"]
    assert memory.preferences() == ["Prefers type hints everywhere"]
    memory.add_lesson("Do not rename public functions (hunk rejected)")
    packet = memory.packet()
    assert packet.evidence and "Lessons from rejected changes" in packet.text
    assert "project memory" in packet.citations
    stored = json.loads((root.parent / "state-memory.json").read_text())
    assert stored["lessons"] == ["Do not rename public functions (hunk rejected)"]


def test_sage_dir_is_excluded_from_git_not_gitignored(tmp_path: Path) -> None:
    root = git_repo(tmp_path / "repo", FILES)
    for _ in range(2):
        with SageFolder(root).open("staging"):
            pass
    exclude = (root / ".git" / "info" / "exclude").read_text()
    assert exclude.count("/.sage/") == 1
    (root / ".sage" / "last_plan.json").write_text("{}")
    status = subprocess.run(["git", "-C", str(root), "status", "--porcelain"],
                            capture_output=True, text=True).stdout
    assert ".sage" not in status
    assert ".sage" not in (root / ".gitignore").read_text()


def test_rolling_summary_folds_older_messages(tmp_path: Path) -> None:
    scenario = {"rules": [{"when": {"role": "summarizer"}, "reply": "User is adding a CLI flag."}]}
    experts = experts_for(tmp_path, scenario)
    transcript = [{"role": "user", "content": f"m{i}"} for i in range(SUMMARY_AFTER)]
    asyncio.run(experts.update_summary(transcript))
    assert experts.summary.text == ""  # not long enough yet
    transcript.append({"role": "assistant", "content": "more"})
    asyncio.run(experts.update_summary(transcript))
    assert experts.summary.text == "User is adding a CLI flag."
    assert experts.summary.absorbed == len(transcript) - 6
    assert experts.summary.packet().evidence
