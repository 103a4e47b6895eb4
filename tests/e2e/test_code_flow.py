"""The `code` route end to end: `sage run` against the fake Ollama in a temporary git repo."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from sage_tui.core.log.sessionlog import read_session
from tests.conftest import git_repo
from tests.fake_ollama import FakeOllamaServer
from tests.helpers import sessions_dir, state_of

Start = Callable[..., FakeOllamaServer]
GOLDEN = Path(__file__).parent / "golden" / "code_auto.json"

CALC = "def add(a, b):\n    return a - b\n\n\ndef greet(name):\n    return 'hello ' + name\n"
UTIL = 'VERSION = "0.1"\n'
TESTS = ("from calc import add\nfrom util import VERSION\n\n\ndef test_add():\n"
         "    assert add(2, 3) == 5\n\n\ndef test_version():\n    assert VERSION == \"0.2\"\n")
DIFF = ("--- a/calc.py\n+++ b/calc.py\n@@ -1,2 +1,2 @@\n def add(a, b):\n-    return a - b\n"
        "+    return a + b\n--- a/util.py\n+++ b/util.py\n@@ -1 +1 @@\n-VERSION = \"0.1\"\n"
        "+VERSION = \"0.2\"\n")


def rules(*coder: dict[str, Any]) -> dict[str, Any]:
    return {"rules": [
        {"when": {"role": "router"}, "reply": {"json": {
            "kind": "code", "reasoningText": "asks for a fix", "experts": ["retrieval"]}}},
        {"when": {"role": "planner"}, "reply": {"json": {"steps": [
            "Read calc.py", "Make add() add", "Bump VERSION in util.py to 0.2"]}}},
        *coder,
        {"when": {"role": "reviewer"}, "reply": "add() now adds; VERSION is 0.2."},
        {"when": {"role": "summarizer"}, "reply": {"json": {"project_facts": [],
                                                            "user_preferences": []}}},
    ]}


def coder_call(name: str, **arguments: Any) -> dict[str, Any]:
    return {"when": {"role": "coder"}, "times": 1,
            "reply": {"tool_calls": [{"name": name, "arguments": arguments}]}}


def coder_says(text: str) -> dict[str, Any]:
    return {"when": {"role": "coder"}, "reply": text}


def run(repo: Path, host: str, *args: str, stdin: str = "",
        env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "sage_tui", "run", *args, "--workspace", str(repo)],
        input=stdin, capture_output=True, text=True, timeout=180,
        env={**os.environ, "OLLAMA_HOST": host, "SAGE_SESSION_ID": "code-test", **(env or {})})


def events(kind: str | None = None) -> list[dict[str, Any]]:
    records = list(read_session("code-test", sessions_dir()))
    return [r for r in records if kind is None or r["event"] == kind]


def shape(record: dict[str, Any]) -> list[Any]:
    """An event as the golden trace keeps it: its name and the fields that must not drift."""
    keep = {"ROUTE_DECISION": ("route", "source"), "MODEL_ROUTING_DECISION": ("role",),
            "HUMAN_CHECKPOINT_REACHED": ("checkpoint", "skipped"),
            "CHECKPOINT_RESOLVED": ("checkpoint", "decision"), "TOOL_CALL": ("tool",),
            "POLICY_DECISION": ("tool", "verdict"), "TOOL_RESULT": ("tool", "ok"),
            "HUNK_DECISION": ("hunk_id", "decision"), "TEST_RUN": ("exit_code", "passed",
                                                                   "failed"),
            "EXPERT_PACKET": ("expert",), "TOKEN_USAGE": ("role",)}
    data = record["data"]
    fields = {k: data[k] for k in keep.get(record["event"], ()) if k in data}
    return [record["event"], fields] if fields else [record["event"]]


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return git_repo(tmp_path / "repo", {"calc.py": CALC, "util.py": UTIL,
                                         "tests/test_calc.py": TESTS})


def pytest_in(repo: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
                          cwd=repo, capture_output=True, text=True, timeout=120)


def test_auto_mode_applies_the_patch_and_the_tests_go_green(repo: Path,
                                                             fake_ollama: Start) -> None:
    server = fake_ollama(rules(coder_call("read_file", path="calc.py"),
                               coder_call("propose_patch", diff=DIFF),
                               coder_says("I fixed add() and bumped the version.")))
    assert pytest_in(repo).returncode == 1  # red before
    out = run(repo, server.host, "fix add and bump the version", "--mode", "auto")
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "add() now adds; VERSION is 0.2."
    assert "return a + b" in (repo / "calc.py").read_text()
    assert (repo / "util.py").read_text() == 'VERSION = "0.2"\n'
    assert pytest_in(repo).returncode == 0  # green after
    trace = [shape(r) for r in events()]
    if os.environ.get("GOLDEN_UPDATE"):  # only after looking at the new trace
        GOLDEN.parent.mkdir(exist_ok=True)
        GOLDEN.write_text(json.dumps(trace, indent=1) + "\n")
    assert trace == json.loads(GOLDEN.read_text())
    [test_run] = events("TEST_RUN")
    assert test_run["data"]["passed"] == 2 and test_run["data"]["failed"] == 0
    # the coder's second request carried the file it had read
    coder_requests = server.chat_requests("coder")
    assert "return a - b" in json.dumps(coder_requests[1].body["messages"])
    assert not (repo / ".sage" / "last_plan.json").exists()  # only research mode writes it


def test_research_mode_applies_exactly_the_approved_hunk(repo: Path, fake_ollama: Start) -> None:
    (repo / "tests" / "test_calc.py").write_text(TESTS.split("\n\n\ndef test_version")[0] + "\n")
    server = fake_ollama(rules(coder_call("propose_patch", diff=DIFF),
                               coder_says("Proposed the fix.")))
    answers = "\n" + "y\n" + "n\n" + "keep the version at 0.1 until the release\n"
    out = run(repo, server.host, "fix add and bump the version", "--mode", "research",
              stdin=answers)
    assert out.returncode == 0, out.stderr
    assert "return a + b" in (repo / "calc.py").read_text()
    assert (repo / "util.py").read_text() == UTIL  # hunk 2 rejected: untouched
    plan = json.loads((repo / ".sage" / "last_plan.json").read_text())
    assert plan["steps"][1] == "Make add() add"
    decisions = [(e["data"]["hunk_id"], e["data"]["decision"], e["data"]["comment"])
                 for e in events("HUNK_DECISION")]
    assert decisions == [("h1", "approve", None),
                         ("h2", "reject", "keep the version at 0.1 until the release")]
    names = [e["event"] for e in events()]
    assert names.index("PLAN_CREATED") < names.index("HUMAN_CHECKPOINT_REACHED")
    reached = events("HUMAN_CHECKPOINT_REACHED")[0]["data"]
    assert reached["blocking"] is True and reached["skipped"] is False
    applied = events("PATCH_APPLIED")[0]["data"]
    assert [(h["hunk_id"], h["status"]) for h in applied["hunks"]] == [("h1", "applied"),
                                                                       ("h2", "skipped")]
    # the next request to the model carries the comment
    after_review = server.chat_requests("coder")[-1]
    assert "keep the version at 0.1 until the release" in json.dumps(after_review.body)
    lessons = json.loads((state_of(repo) / "memory.json").read_text())["lessons"]
    assert lessons == ["A change to util.py was rejected: keep the version at 0.1 until the "
                       "release"]
    audit = [json.loads(x) for x in (state_of(repo) / "audit.jsonl").read_text().splitlines()]
    assert [(a["action"], a.get("decision"), a.get("who")) for a in audit[:2]] == [
        ("hunk_decision", "approve", "person"), ("hunk_decision", "reject", "person")]
    assert audit[0]["session_id"] == "code-test"


def test_research_mode_plan_rejection_stops_before_any_change(repo: Path,
                                                              fake_ollama: Start) -> None:
    server = fake_ollama(rules(coder_call("propose_patch", diff=DIFF), coder_says("done")))
    out = run(repo, server.host, "fix add", "--mode", "research", stdin="r\nnot now\n")
    assert out.returncode == 1
    assert (repo / "calc.py").read_text() == CALC
    resolved = events("CHECKPOINT_RESOLVED")[0]["data"]
    assert (resolved["decision"], resolved["comment"]) == ("reject", "not now")
    assert server.chat_requests("coder") == []


def test_no_terminal_in_research_mode_answers_no(repo: Path, fake_ollama: Start) -> None:
    server = fake_ollama(rules(coder_call("propose_patch", diff=DIFF), coder_says("done")))
    out = run(repo, server.host, "fix add", "--mode", "research", stdin="")
    assert out.returncode == 1 and (repo / "calc.py").read_text() == CALC
    assert "no one was at the terminal" in events("CHECKPOINT_RESOLVED")[0]["data"]["comment"]


def test_a_patch_that_goes_stale_fails_cleanly_and_the_model_hears_why(
        repo: Path, fake_ollama: Start) -> None:
    spoil = ("python3 -c \"import pathlib; p = pathlib.Path('calc.py'); "
             "p.write_text(p.read_text().replace('return a - b', 'return b - a'))\"")
    server = fake_ollama(rules(coder_call("propose_patch", diff=DIFF),
                               coder_call("run_command", command=spoil),
                               coder_says("Done.")))
    util_before = (repo / "util.py").read_bytes()
    out = run(repo, server.host, "fix add", "--mode", "auto",
              env={"SAGE_TOOL_POLICY": "allow_commands"})
    assert out.returncode == 1
    assert "did not complete" in out.stderr
    [failed] = events("PATCH_FAILED")
    assert "hunk 1" in failed["data"]["reason"] and "calc.py" in failed["data"]["reason"]
    assert (repo / "util.py").read_bytes() == util_before  # hunk 2 was fine, yet not applied
    assert "return b - a" in (repo / "calc.py").read_text()  # only the command's own change
    told = json.dumps(server.chat_requests("coder")[-1].body)
    assert "did not apply" in told and "closest match" in told
    assert events("PATCH_APPLIED") == []


def test_policy_ask_in_research_mode_and_deny_in_read_only(repo: Path, fake_ollama: Start) -> None:
    server = fake_ollama(rules(coder_call("run_command", command="git status"),
                               coder_says("Looked around.")))
    out = run(repo, server.host, "check the repo", "--mode", "research",
              stdin="\n" + "d\nuse read_file instead\n")
    decisions = [e["data"] for e in events("CHECKPOINT_RESOLVED")]
    assert decisions[1]["decision"] == "reject" and decisions[1]["comment"] == (
        "use read_file instead")
    error = events("TOOL_ERROR")[0]["data"]
    assert error["kind"] == "permission_denied" and "use read_file instead" in error["message"]
    assert out.returncode == 1  # the denied command was never recovered
    policy = events("POLICY_DECISION")[0]["data"]
    assert (policy["tool"], policy["verdict"], policy["target"]) == ("run_command", "ask",
                                                                     "git status")
