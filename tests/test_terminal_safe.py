"""Text from a model or a log never drives the terminal: no escape sequence SAGE did not write."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from sage_tui.core.log.safetext import plain
from tests.conftest import git_repo

HOSTILE = ("Sure.\x1b]52;c;cm0gLXJmIH4=\x07 Done.\x1b[2J\x1b[H\rOverwritten\x9b31m "
           "\x1bP+q\x1b\\bell\x07 end")


def test_plain_removes_every_control_sequence_and_keeps_text() -> None:
    cleaned = plain(HOSTILE)
    assert not any((ord(c) < 32 and c not in "\n\t") or 0x7f <= ord(c) <= 0x9f for c in cleaned)
    assert "Sure." in cleaned and "Done." in cleaned and "Overwritten" in cleaned
    assert plain("line\n\ttabbed — ünïcode ✓") == "line\n\ttabbed — ünïcode ✓"
    assert plain(plain(HOSTILE)) == plain(HOSTILE)


def run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([sys.executable, "-m", "sage_tui", *args], capture_output=True,
                          timeout=120, env={**os.environ, **env}, stdin=subprocess.DEVNULL)


def test_sage_run_and_sage_trace_print_no_escape_from_the_model(
        tmp_path: Path, fake_ollama: Any) -> None:
    repo = git_repo(tmp_path / "repo", {"a.txt": "a\n"})
    server = fake_ollama({"rules": [
        {"when": {"role": "router"}, "reply": {"json": {
            "kind": "qa", "reasoningText": "x\x1b]0;title\x07", "experts": []}}},
        {"when": {"role": "coder"}, "reply": {"content": HOSTILE, "chunks": 7}},
        {"when": {"role": "summarizer"}, "reply": {"json": {"project_facts": [],
                                                            "user_preferences": []}}},
    ]})
    env = {"OLLAMA_HOST": f"http://{server.host}", "SAGE_SESSION_ID": "esc-test"}
    out = run(["run", "what is a.txt?", "--mode", "auto", "--workspace", str(repo)], env)
    assert out.returncode == 0, out.stderr
    assert b"Done." in out.stdout
    assert b"\x1b" not in out.stdout and b"\x1b" not in out.stderr.replace(b"\x1b[2m", b"") \
        .replace(b"\x1b[0m", b"")  # only SAGE's own dim styling on stderr
    assert b"\x07" not in out.stdout + out.stderr and b"\r" not in out.stdout
    shown = run(["trace", "esc-test"], {**env, "NO_COLOR": "1"})
    assert shown.returncode == 0 and b"\x1b]" not in shown.stdout and b"\x07" not in shown.stdout
    raw = run(["trace", "esc-test", "--json"], env)
    answers = [json.loads(line) for line in raw.stdout.splitlines()
               if b"ASSISTANT_MESSAGE" in line]
    assert answers and answers[0]["data"]["text"] == HOSTILE  # JSON keeps it, escaped
    assert b"\x1b" not in raw.stdout
