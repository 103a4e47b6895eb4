"""The built-in tools: read_file, list_files, search_code, propose_patch, run_tests, run_command."""

from __future__ import annotations

import difflib
import fnmatch
import os
import re
import shlex
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from sage_tui.core.patch.check import diagnose
from sage_tui.core.patch.model import PatchError, parse_patch
from sage_tui.core.tools.registry import Tool, ToolContext, ToolFailure, ToolOutput, ToolRegistry
from sage_tui.core.workspace.retrieval import list_workspace_files
from sage_tui.core.workspace.workspace import PathDenied

READ_LIMIT_BYTES = 256 * 1024
READ_MAX_LINES = 400
LIST_MAX = 500
SEARCH_MAX = 60
OUTPUT_TAIL = 8000


def _not_found(ctx: ToolContext, path: str) -> ToolFailure:
    names = list_workspace_files(ctx.root)
    close = difflib.get_close_matches(path, names, n=3, cutoff=0.5)
    hint = f" Did you mean {', '.join(close)}?" if close else ""
    return ToolFailure("not_found", f"{path} does not exist in the workspace.",
                       f"Call list_files to see which files exist.{hint}")


def read_file(ctx: ToolContext, args: dict[str, Any]) -> ToolOutput:
    path = args["path"]
    try:
        data = ctx.workspace.read_bytes(path, READ_LIMIT_BYTES + 1)
    except FileNotFoundError:
        raise _not_found(ctx, path) from None
    except IsADirectoryError:
        raise ToolFailure("validation_error", f"{path} is a folder.",
                          "Call list_files with this path to see its files.") from None
    if b"\0" in data[:8192]:
        raise ToolFailure("execution_error", f"{path} is a binary file; read_file shows text only.",
                          "Read a text file instead, or search_code for where it is used.")
    truncated = len(data) > READ_LIMIT_BYTES
    lines = data[:READ_LIMIT_BYTES].decode("utf-8", "replace").split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    start = max(1, int(args.get("start_line", 1)))
    end = min(len(lines), int(args.get("end_line", start + READ_MAX_LINES - 1)))
    if start > max(len(lines), 1):
        raise ToolFailure("validation_error", f"{path} has {len(lines)} lines; start_line "
                          f"{start} is past the end.", f"Use a start_line from 1 to {len(lines)}.")
    end = min(end, start + READ_MAX_LINES - 1)
    body = "\n".join(f"{n:>5}  {lines[n - 1]}" for n in range(start, end + 1))
    more = ""
    if end < len(lines) or truncated:
        more = (f"\n[lines {start}-{end} of {len(lines)}{'+' if truncated else ''}; ask for "
                f"start_line={end + 1} to read on]")
    return ToolOutput(f"{path}:\n{body}{more}", f"read {path} lines {start}-{end}",
                      data={"path": path, "start": start, "end": end})


def _folder_prefix(ctx: ToolContext, folder: str) -> tuple[Path, str]:
    """The checked folder and the prefix its files' workspace names start with."""
    real = ctx.workspace.resolve(folder)
    prefix = ctx.workspace.relative(real)
    return real, "" if prefix == "." else prefix.rstrip("/") + "/"


def list_files(ctx: ToolContext, args: dict[str, Any]) -> ToolOutput:
    folder = args.get("path", ".")
    real, prefix = _folder_prefix(ctx, folder)
    pattern = args.get("pattern")
    names = [n for n in list_workspace_files(ctx.root) if n.startswith(prefix)]
    if pattern:
        names = [n for n in names if fnmatch.fnmatch(n, pattern)
                 or fnmatch.fnmatch(n.rsplit("/", 1)[-1], pattern)]
    if not names and not real.exists():
        raise _not_found(ctx, folder)
    shown = names[:LIST_MAX]
    more = f"\n[{len(names) - LIST_MAX} more not shown; narrow with path or pattern]" \
        if len(names) > LIST_MAX else ""
    return ToolOutput("\n".join(shown) + more or "(no files)",
                      f"listed {len(names)} files under {prefix or '.'}")


def search_code(ctx: ToolContext, args: dict[str, Any]) -> ToolOutput:
    query = args["query"]
    _, prefix = _folder_prefix(ctx, args.get("path", "."))
    try:
        pattern = re.compile(query if args.get("regex") else re.escape(query), re.IGNORECASE)
    except re.error as exc:
        raise ToolFailure("validation_error", f"query is not a valid regular expression ({exc}).",
                          "Escape special characters or call with regex false.") from None
    hits: list[str] = []
    total = 0
    for name in list_workspace_files(ctx.root):
        if not name.startswith(prefix):
            continue
        try:  # through the workspace: a symlink that leads out is refused, not followed
            data = ctx.workspace.read_bytes(name, READ_LIMIT_BYTES + 1)
        except OSError:
            continue
        if b"\0" in data[:8192] or len(data) > READ_LIMIT_BYTES:
            continue
        for number, line in enumerate(data.decode("utf-8", "replace").split("\n"), start=1):
            if pattern.search(line):
                total += 1
                if len(hits) < SEARCH_MAX:
                    hits.append(f"{name}:{number}: {line.strip()[:160]}")
    if not hits:
        return ToolOutput(f"No matches for {query!r}.", f"no matches for {query!r}")
    more = f"\n[{total - SEARCH_MAX} more matches]" if total > SEARCH_MAX else ""
    return ToolOutput("\n".join(hits) + more, f"{total} matches for {query!r}")


def propose_patch(ctx: ToolContext, args: dict[str, Any]) -> ToolOutput:
    try:
        patch = parse_patch(args["diff"], description=str(args.get("description", "")))
    except PatchError as exc:
        raise ToolFailure("validation_error", str(exc),
                          "Send a unified diff: '--- a/path', '+++ b/path', then '@@ -l,n +l,n @@' "
                          "hunks whose counts match their lines; new files use '--- /dev/null'.") \
            from None
    for path in patch.paths:
        try:
            ctx.workspace.resolve(path, write=True)
        except PathDenied as exc:
            raise ToolFailure("permission_denied", str(exc),
                              "Change only files inside the workspace, by relative path.") from None

    def read(path: str) -> str | None:
        try:
            return ctx.workspace.read_bytes(path).decode("utf-8", "surrogateescape")
        except FileNotFoundError:
            return None

    problems = diagnose(patch, read)
    if problems:
        raise ToolFailure("validation_error", "; ".join(p.message for p in problems) + ".",
                          "Call read_file on the file and rebuild the hunk from its exact current "
                          "lines.")
    ctx.proposed.append(patch)
    hunks = len(patch.hunks)
    return ToolOutput(
        f"Queued patch {patch.patch_id}: {hunks} hunk{'s' if hunks != 1 else ''} in "
        f"{', '.join(patch.paths)}. It is applied after review; do not propose it again.",
        f"queued {patch.patch_id} ({hunks} hunks in {len(patch.paths)} files)",
        data={"patch_id": patch.patch_id})


_COUNTS = re.compile(r"(\d+) (passed|failed|errors?|skipped)")
_UNITTEST_RAN = re.compile(r"^Ran (\d+) tests? in", re.MULTILINE)
_UNITTEST_BAD = re.compile(r"(?:failures|errors)=(\d+)")


def detect_test_command(root: Path) -> str | None:
    """A sensible test command for the project, if one is evident."""
    if (root / "pytest.ini").exists() or (root / "tests").is_dir() or (root / "test").is_dir() \
            or any(root.glob("test_*.py")) or "pytest" in _text(root / "pyproject.toml"):
        return f"{shlex.quote(sys.executable)} -m pytest -q"
    if '"test"' in _text(root / "package.json"):
        return "npm test --silent"
    return None


def _text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""


def run_process(ctx: ToolContext, command: str, timeout: float) -> tuple[int, str, float]:
    """Run a command line in the workspace; (exit code, output tail, ms)."""
    try:
        argv = shlex.split(command)
    except ValueError as exc:
        raise ToolFailure("validation_error", f"The command cannot be parsed ({exc}).",
                          "Quote arguments properly.") from None
    if not argv:
        raise ToolFailure("validation_error", "The command is empty.", "Give a command line.")
    start = time.perf_counter()
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    try:
        proc = subprocess.run(argv, cwd=ctx.root, capture_output=True, timeout=timeout, env=env,
                              stdin=subprocess.DEVNULL)
    except FileNotFoundError:
        raise ToolFailure("not_found", f"The program {argv[0]!r} is not installed.",
                          "Use a program that exists on this machine.") from None
    except subprocess.TimeoutExpired:
        raise ToolFailure("timeout", f"`{command}` ran longer than {timeout:g} s and was stopped.",
                          "Run a narrower command (one test file, for instance).") from None
    output = (proc.stdout + proc.stderr).decode("utf-8", "replace")
    tail = output[-OUTPUT_TAIL:]
    if len(output) > OUTPUT_TAIL:
        tail = f"[... {len(output) - OUTPUT_TAIL} characters cut ...]\n" + tail
    return proc.returncode, tail, (time.perf_counter() - start) * 1000


def test_run_payload(data: Mapping[str, Any]) -> dict[str, Any]:
    """The TEST_RUN event's data, from what `run_tests` returned."""
    return {k: data[k] for k in ("command", "exit_code", "passed", "failed", "ms")}


def run_tests(ctx: ToolContext, args: dict[str, Any]) -> ToolOutput:
    command = ctx.test_command or detect_test_command(ctx.root)
    if command is None:
        raise ToolFailure("not_found", "No test command is configured and none is evident here.",
                          "Set test_command in SAGE's config.toml, or add a tests/ folder.")
    code, tail, ms = run_process(ctx, command, ctx.command_timeout)
    counts: dict[str, int] = {}
    for number, word in _COUNTS.findall(tail):
        key = "failed" if word.startswith("error") else word
        counts[key] = counts.get(key, 0) + int(number)
    passed, failed = counts.get("passed", 0), counts.get("failed", 0)
    ran = _UNITTEST_RAN.search(tail)
    if ran and not counts:  # unittest: "Ran 3 tests" then "OK" or "FAILED (failures=1, errors=1)"
        bad = sum(int(n) for n in _UNITTEST_BAD.findall(tail))
        passed, failed = int(ran.group(1)) - bad, bad
    if code != 0 and failed == 0:
        failed = 1  # a crash or collection error is a failure even without a count
    verdict = "passed" if code == 0 else "failed"
    return ToolOutput(f"$ {command}\nexit code {code}: {passed} passed, {failed} failed\n{tail}",
                      f"tests {verdict}: {passed} passed, {failed} failed", ok=code == 0,
                      data={"command": command, "exit_code": code, "passed": passed,
                            "failed": failed, "ms": round(ms, 1)})


def run_command(ctx: ToolContext, args: dict[str, Any]) -> ToolOutput:
    command = args["command"]
    code, tail, ms = run_process(ctx, command, float(args.get("timeout", 120)))
    return ToolOutput(f"$ {command}\nexit code {code}\n{tail}", f"`{command}` exited {code}",
                      ok=code == 0, data={"exit_code": code, "ms": round(ms, 1)})


def builtin_tools() -> ToolRegistry:
    """The registry of built-in tools."""
    path = {"type": "string", "minLength": 1, "description": "relative to the workspace"}
    return ToolRegistry([
        Tool("read_file", "Read a text file, with line numbers (up to 400 lines at a time).",
             {"type": "object", "additionalProperties": False, "required": ["path"],
              "properties": {"path": path, "start_line": {"type": "integer", "minimum": 1},
                             "end_line": {"type": "integer", "minimum": 1}}}, read_file),
        Tool("list_files", "List files (respecting .gitignore), optionally under a folder or "
             "matching a glob.",
             {"type": "object", "additionalProperties": False,
              "properties": {"path": path, "pattern": {"type": "string"}}}, list_files),
        Tool("search_code", "Search the workspace's text files for a string (or a regex); "
             "returns path:line: text.",
             {"type": "object", "additionalProperties": False, "required": ["query"],
              "properties": {"query": {"type": "string", "minLength": 1}, "path": path,
                             "regex": {"type": "boolean"}}}, search_code),
        Tool("propose_patch", "Propose a change as a unified diff. It is queued for review and "
             "applied only when approved; it never writes by itself.",
             {"type": "object", "additionalProperties": False, "required": ["diff"],
              "properties": {"diff": {"type": "string", "minLength": 1},
                             "description": {"type": "string"}}}, propose_patch,
             target=_patch_target),
        Tool("run_tests", "Run the project's test command and report passed and failed counts.",
             {"type": "object", "additionalProperties": False, "properties": {}}, run_tests,
             target=lambda a: "tests", timeout=900),
        Tool("run_command", "Run a command line in the workspace (subject to the tool policy).",
             {"type": "object", "additionalProperties": False, "required": ["command"],
              "properties": {"command": {"type": "string", "minLength": 1},
                             "timeout": {"type": "number", "minimum": 1, "maximum": 3600}}},
             run_command, target=lambda a: str(a.get("command", "")), timeout=3700),
    ])


def _patch_target(args: dict[str, Any]) -> str:
    """The files a proposed diff touches, as the policy sees them (deletions and bare paths too)."""
    try:
        return ",".join(parse_patch(str(args.get("diff", ""))).paths) or "."
    except PatchError:
        return "."  # the call fails validation in propose_patch with the reason
