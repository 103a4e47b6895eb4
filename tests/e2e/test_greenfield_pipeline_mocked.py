"""Greenfield, mocked: an empty repo, one request, the full graph, new files that pass their tests."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from sage_tui.core.log.sessionlog import read_session
from tests.fake_ollama import FakeOllamaServer
from tests.helpers import sessions_dir

APP_SOURCE = '''"""A tiny command-line todo list kept in a JSON file."""

import json
import sys
from pathlib import Path

STORE = Path("todo.json")


def load(store=STORE):
    return json.loads(store.read_text()) if store.exists() else []


def add(item, store=STORE):
    items = load(store) + [item]
    store.write_text(json.dumps(items))
    return items


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["add"]:
        add(" ".join(argv[1:]))
    for number, item in enumerate(load(), start=1):
        print(f"{number}. {item}")


if __name__ == "__main__":
    main()
'''
TESTS = '''from todo import add, load


def test_add_then_load(tmp_path):
    store = tmp_path / "todo.json"
    add("buy milk", store)
    add("write tests", store)
    assert load(store) == ["buy milk", "write tests"]


def test_empty_store(tmp_path):
    assert load(tmp_path / "missing.json") == []
'''


def new_file_diff(path: str, text: str) -> str:
    lines = text.splitlines()
    return (f"--- /dev/null\n+++ b/{path}\n@@ -0,0 +1,{len(lines)} @@\n"
            + "".join(f"+{line}\n" for line in lines))


def test_greenfield_todo_app(tmp_path: Path, fake_ollama: Callable[..., FakeOllamaServer]) -> None:
    repo = tmp_path / "empty"
    repo.mkdir()
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    diff = new_file_diff("todo.py", APP_SOURCE) + new_file_diff("tests/test_todo.py", TESTS)
    server = fake_ollama({"rules": [
        {"when": {"role": "router"}, "reply": {"json": {
            "kind": "code", "reasoningText": "create a new app", "experts": ["git"]}}},
        {"when": {"role": "planner"}, "reply": {"json": {"steps": [
            "Create todo.py with add/load and a main()", "Add tests/test_todo.py",
            "Run the tests"]}}},
        {"when": {"role": "coder"}, "times": 1, "reply": {"tool_calls": [
            {"name": "list_files", "arguments": {}}]}},
        {"when": {"role": "coder"}, "times": 1, "reply": {"tool_calls": [
            {"name": "propose_patch", "arguments": {"diff": diff,
                                                    "description": "todo app with tests"}}]}},
        {"when": {"role": "coder"}, "reply": "Created todo.py and its tests."},
        {"when": {"role": "reviewer"}, "reply": "New todo app in todo.py; 2 tests pass."},
        {"when": {"role": "summarizer"}, "reply": {"json": {
            "project_facts": ["todo.py is a JSON-file todo CLI"], "user_preferences": []}}},
    ]})
    out = subprocess.run(
        [sys.executable, "-m", "sage_tui", "run", "create a small CLI todo app with tests",
         "--mode", "auto", "--workspace", str(repo)], capture_output=True, text=True,
        timeout=180, env={**os.environ, "OLLAMA_HOST": server.host, "SAGE_SESSION_ID": "green"})
    assert out.returncode == 0, out.stderr
    assert (repo / "todo.py").read_text() == APP_SOURCE
    assert (repo / "tests" / "test_todo.py").read_text() == TESTS
    records = list(read_session("green", sessions_dir()))
    names = [r["event"] for r in records]
    for step in ("ROUTE_DECISION", "PLAN_CREATED", "HUMAN_CHECKPOINT_REACHED", "TOOL_CALL",
                 "PATCH_PROPOSED", "HUNK_DECISION", "PATCH_APPLIED", "TEST_RUN",
                 "ASSISTANT_MESSAGE", "SESSION_ENDED"):
        assert step in names, step
    proposed = next(r["data"] for r in records if r["event"] == "PATCH_PROPOSED")
    assert proposed["files"] == ["todo.py", "tests/test_todo.py"]
    test_run = next(r["data"] for r in records if r["event"] == "TEST_RUN")
    assert (test_run["exit_code"], test_run["passed"], test_run["failed"]) == (0, 2, 0)
    # the created tests pass on their own too
    check = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
                           cwd=repo, capture_output=True, text=True, timeout=120)
    assert check.returncode == 0 and "2 passed" in check.stdout
    listing = json.dumps(server.chat_requests("coder")[1].body["messages"])
    assert "(no files)" in listing  # the coder saw the empty workspace
