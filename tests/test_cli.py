"""The `sage` command line: version, trace and doctor, as a user runs them."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import pytest

from sage_tui import __version__
from sage_tui.core.log.sessionlog import SessionLog
from tests.helpers import sessions_dir
from tests.test_sessions import record_session

ANSI = re.compile(r"\x1b\[[0-9;]*m")


def sage(*args: str, env: dict[str, str] | None = None,
         timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """Run the real console entry point in a subprocess, as a user would."""
    return subprocess.run([sys.executable, "-m", "sage_tui", *args], capture_output=True,
                          text=True, timeout=timeout, env={**os.environ, **(env or {})},
                          stdin=subprocess.DEVNULL)


def test_version() -> None:
    out = sage("--version")
    assert out.returncode == 0 and out.stdout.strip() == f"sage {__version__}"


def test_unknown_command_is_a_usage_error() -> None:
    out = sage("frobnicate")
    assert out.returncode == 2 and "No such command" in out.stderr
    assert "Traceback" not in out.stderr


def test_trace_lists_sessions(sage_home: Path) -> None:
    record_session("first-session", turns=2)
    out = sage("trace")
    assert out.returncode == 0
    header, row = out.stdout.splitlines()[:2]
    assert header.split()[:3] == ["SESSION", "STARTED", "TURNS"]
    assert row.split()[0] == "first-session" and "200/20" in row and "ok" in row


def test_trace_with_no_sessions_says_so(sage_home: Path) -> None:
    out = sage("trace")
    assert out.returncode == 0 and "No sessions recorded yet" in out.stdout


def test_trace_shows_one_line_per_event_in_order(sage_home: Path) -> None:
    with SessionLog.open(sessions_dir(), session_id="show", max_mb=0.001) as log:
        log.emit("SESSION_STARTED", {"workspace": "/w", "mode": "auto", "profile": None,
                                     "version": "0.1.0"})
        for i in range(12):
            log.emit("ROUTE_DECISION", {"route": "qa", "experts": ["memory"], "reasoning": f"r{i}",
                                        "source": "fail_safe", "latency_ms": 3}, turn=i + 1)
    assert len(list(log.directory.glob("show.*.jsonl"))) >= 2  # rotated parts + the live one
    out = sage("trace", "show")
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert len(lines) == 13
    assert "SESSION_STARTED" in lines[0] and "auto mode in w " in lines[0] + " "
    reasons = [re.search(r"r\d+$", line).group() for line in lines[1:]]  # type: ignore[union-attr]
    assert reasons == [f"r{i}" for i in range(12)]
    assert re.match(r"\d\d:\d\d:\d\d\.\d{3} t12 +ROUTE_DECISION +→ qa via fail_safe", lines[-1])


def test_trace_event_filter_and_json(sage_home: Path) -> None:
    record_session("filt", turns=3)
    out = sage("trace", "filt", "--event", "token_usage", "-e", "SESSION_*", "--json")
    assert out.returncode == 0
    events = [json.loads(line)["event"] for line in out.stdout.splitlines()]
    assert events == ["SESSION_STARTED", *["TOKEN_USAGE"] * 3, "SESSION_ENDED"]
    bad = sage("trace", "filt", "--event", "NOPE")
    assert bad.returncode == 2 and "matches no event" in bad.stderr


def test_trace_by_trace_id_shows_both_sessions(sage_home: Path) -> None:
    record_session("pane-1", trace_id="tr-42", turns=1)
    record_session("pane-2", trace_id="tr-42", turns=1)
    out = sage("trace", "tr-42")
    assert out.returncode == 0
    assert "2 session(s)" in out.stderr
    body = out.stdout
    assert "pane-1"[-6:] in body and "pane-2"[-6:] in body
    assert body.count("SESSION_STARTED") == 2


def test_trace_reports_a_torn_tail_and_goes_on(sage_home: Path) -> None:
    log = record_session("tornt", turns=1)
    with log.path.open("ab") as handle:
        handle.write(b'{"v":1,"seq":99,"ts":"2026')
    out = sage("trace", "tornt")
    assert out.returncode == 0
    assert "SESSION_ENDED" in out.stdout
    assert "torn line" in out.stderr and "Traceback" not in out.stderr


def test_trace_of_a_corrupt_log_is_one_sentence(sage_home: Path) -> None:
    log = record_session("broken", turns=1)
    data = log.path.read_bytes().split(b"\n")
    data[1] = b"garbage"
    log.path.write_bytes(b"\n".join(data))
    out = sage("trace", "broken")
    assert out.returncode == 1
    assert "broken.jsonl, line 2" in out.stderr and "Traceback" not in out.stderr


def test_trace_unknown_ref(sage_home: Path) -> None:
    out = sage("trace", "nope")
    assert out.returncode == 2
    assert out.stderr.startswith("Error: No session") and len(out.stderr.splitlines()) == 1


def test_trace_follow_prints_new_events(sage_home: Path) -> None:
    log = SessionLog.open(sessions_dir(), session_id="tail")
    log.emit("ERROR", {"where": "w", "kind": "k", "message": "first"})
    proc = subprocess.Popen([sys.executable, "-m", "sage_tui", "trace", "tail", "--follow"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=dict(os.environ), stdin=subprocess.DEVNULL)
    try:
        assert proc.stdout is not None
        assert "first" in proc.stdout.readline()
        log.emit("ERROR", {"where": "w", "kind": "k", "message": "second"})
        assert "second" in proc.stdout.readline()
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        log.close()


class _FakeOllama(BaseHTTPRequestHandler):
    models: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        if self.path == "/api/version":
            body = {"version": "0.12.0"}
        elif self.path == "/api/tags":
            body = {"models": [{"name": m, "model": m} for m in self.models]}
        else:
            self.send_error(404)
            return
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def tiny_ollama() -> Iterator[tuple[str, type[_FakeOllama]]]:
    handler = type("Handler", (_FakeOllama,), {"models": []})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"127.0.0.1:{server.server_address[1]}", handler
    server.shutdown()
    server.server_close()


def test_doctor_reports_missing_ollama_in_one_sentence(sage_home: Path, dead_host: str) -> None:
    out = sage("doctor", env={"OLLAMA_HOST": dead_host})
    assert out.returncode == 1
    text = ANSI.sub("", out.stdout)
    line = next(li for li in text.splitlines() if "ollama" in li and "✗" in li)
    assert f"Cannot reach Ollama at http://{dead_host}; start it with `ollama serve`" in line
    assert "✓ python" in text and "✓ git" in text and "✓ folders" in text
    assert "✓ tokenizer" in text and "calibrated estimate" in text  # no problem to fix
    assert "1 problem(s) to fix" in text


def test_doctor_passes_on_a_clean_machine_with_ollama_and_its_models(
        sage_home: Path, tiny_ollama: tuple[str, type[_FakeOllama]]) -> None:
    """No tokenizer files, no TIKTOKEN_CACHE_DIR, nothing downloaded: nothing to warn about."""
    host, handler = tiny_ollama
    from sage_tui.config import default_models

    handler.models = sorted({m.model for m in default_models().roles.values()})
    out = sage("doctor", env={"OLLAMA_HOST": host})
    text = ANSI.sub("", out.stdout)
    assert out.returncode == 0, text
    assert f"Ollama at http://{host} with {len(handler.models)} models" in text
    assert "✓ tokenizer" in text and "All checks passed." in text
    assert not [line for line in text.splitlines() if line.lstrip().startswith("!")], text


def test_doctor_names_models_to_pull(sage_home: Path,
                                     tiny_ollama: tuple[str, type[_FakeOllama]]) -> None:
    host, handler = tiny_ollama
    handler.models = ["qwen2.5:1.5b"]
    out = sage("doctor", "--json", env={"OLLAMA_HOST": host})
    checks = {c["name"]: c for c in json.loads(out.stdout)["checks"]}
    assert out.returncode == 0  # warnings only
    assert checks["ollama"]["status"] == "warn"
    assert "`ollama pull qwen2.5-coder:7b`" in checks["ollama"]["message"]


def test_doctor_reports_a_broken_models_file(sage_home: Path, dead_host: str) -> None:
    (sage_home / "config").mkdir(exist_ok=True)
    (sage_home / "config" / "models.yaml").write_text("roles:\n  codr: {model: x}\n")
    out = sage("doctor", "--json", env={"OLLAMA_HOST": dead_host})
    checks = {c["name"]: c for c in json.loads(out.stdout)["checks"]}
    assert out.returncode == 1
    assert checks["config"]["status"] == "fail" and "roles.codr" in checks["config"]["message"]


def test_doctor_reports_an_unwritable_home(tmp_path: Path, dead_host: str) -> None:
    if os.geteuid() == 0:
        home = Path("/proc/sage-cannot-write")  # even root cannot create folders in /proc
    else:
        home = tmp_path / "ro"
        home.mkdir()
        home.chmod(0o500)
    out = sage("doctor", "--json", env={"SAGE_HOME": str(home),
                                        "OLLAMA_HOST": dead_host})
    checks = {c["name"]: c for c in json.loads(out.stdout)["checks"]}
    assert checks["folders"]["status"] == "fail"
    assert "set SAGE_HOME to a writable folder" in checks["folders"]["message"]


def test_doctor_is_quick_when_ollama_is_down(sage_home: Path, dead_host: str) -> None:
    # Not a speed target: a refused connection must not wait for a long timeout.
    start = time.monotonic()
    sage("doctor", env={"OLLAMA_HOST": dead_host})
    assert time.monotonic() - start < 30


def test_workbench_outside_a_git_repository_says_what_to_do(tmp_path: Path) -> None:
    out = subprocess.run([sys.executable, "-m", "sage_tui"], cwd=tmp_path, capture_output=True,
                         text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert out.returncode == 2
    assert out.stderr == (f"Error: {tmp_path.resolve()} is not inside a git repository; cd into "
                          "one, pass --workspace, or try `sage demo`.\n")


@pytest.mark.parametrize("command", [[], ["demo"]])
def test_the_workbench_refuses_a_pipe_in_one_sentence(tmp_path: Path, command: list[str]) -> None:
    from tests.conftest import git_repo

    repo = git_repo(tmp_path / "repo", {"a.txt": "a\n"})
    out = subprocess.run([sys.executable, "-m", "sage_tui", *command], capture_output=True,
                         text=True, timeout=60, cwd=repo, stdin=subprocess.DEVNULL)
    assert out.returncode == 2 and out.stdout == ""  # no escape codes drawn into a file
    assert out.stderr.count("\n") == 1 and "sage run" in out.stderr and "terminal" in out.stderr
