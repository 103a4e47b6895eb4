"""Golden specs: a scripted session to replay, and the trace it should produce.

A spec (YAML) sits beside its golden trace (`name.yaml` → `name.jsonl`)::

    task: "fix add and bump the version"
    mode: auto                      # research, auto or silent
    compare: strict                 # strict, unordered, subset or superset
    workspace:                      # files committed in a fresh git repository
      calc.py: "def add(a, b):\\n    return a - b\\n"
    answers: [approve, "y", "n: keep the version"]   # research mode, in order
    scenario: {rules: [...]}        # the scripted model (sage_tui/core/llm/scripted.py)

Answers: `approve`, `reject[: why]`, `respond: text` for a plan; `y`, `n[: why]`,
`c: comment` (then a decision) per hunk; `allow`, `session`, `deny[: why]` for a
tool ask. Runs use the built-in models.yaml and default settings, so the user's own
configuration never changes a golden.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sage_tui.core.agent.approval import ApprovalRequest, Decision
from sage_tui.core.errors import ConfigError
from sage_tui.core.llm.scripted import Scenario, ScriptedBackend
from sage_tui.core.log import events
from sage_tui.core.yamltext import YAMLSyntaxError, safe_load
from sage_tui.eval.golden import MODES
from sage_tui.paths import sage_paths


class ScriptedApprover:
    """Answers checkpoints from a list, as a person would in research mode."""

    def __init__(self, answers: list[str]) -> None:
        self.answers = list(answers)

    def _next(self, what: str) -> tuple[str, str | None]:
        if not self.answers:
            raise ConfigError(f"The spec ran out of answers at a {what} checkpoint; add one.")
        word, _, comment = str(self.answers.pop(0)).partition(":")
        return word.strip().lower(), comment.strip() or None

    async def decide(self, request: ApprovalRequest) -> Decision:
        if request.checkpoint == "plan":
            word, comment = self._next("plan")
            return Decision({"approve": "approve", "reject": "reject",
                             "respond": "respond"}.get(word, "approve"), comment)
        if request.checkpoint == "tool":
            word, comment = self._next("tool")
            return Decision({"allow": "approve", "session": "approve_session"}.get(word,
                                                                                  "reject"),
                            comment)
        from sage_tui.core.patch.review import HunkReview

        assert request.patch is not None
        review = HunkReview(request.patch)
        for hunk in request.patch.hunks:
            word, comment = self._next("hunk")
            while word == "c":
                request.record(review, hunk, "comment", comment)
                word, comment = self._next("hunk")
            request.record(review, hunk, "approve" if word == "y" else "reject", comment)
        return Decision("approve", review=review)


def load_spec(path: Path) -> dict[str, Any]:
    """Read and check a spec.

    Raises:
        ConfigError: naming the file and what is wrong.
    """
    try:
        data = safe_load(path.read_text(encoding="utf-8"))
    except (OSError, YAMLSyntaxError) as exc:
        raise ConfigError(f"Cannot read the golden spec {path} ({exc}).") from exc
    if not isinstance(data, dict) or not isinstance(data.get("task"), str):
        raise ConfigError(f"{path}: a golden spec needs a 'task' and a 'scenario'.")
    if data.get("mode", "auto") not in events.MODES:
        raise ConfigError(f"{path}: mode must be one of {', '.join(events.MODES)}.")
    if data.get("compare", "strict") not in MODES:
        raise ConfigError(f"{path}: compare must be one of {', '.join(MODES)}.")
    Scenario.load(data.get("scenario") or {})  # fails early, naming the rule
    return data


@contextlib.contextmanager
def _isolated_home() -> Iterator[Path]:
    """A private SAGE_HOME for the run, so a golden never lands in the user's logs."""
    previous = os.environ.get("SAGE_HOME")
    with tempfile.TemporaryDirectory(prefix="sage-golden-") as home:
        os.environ["SAGE_HOME"] = home
        try:
            yield Path(home)
        finally:
            if previous is None:
                os.environ.pop("SAGE_HOME", None)
            else:
                os.environ["SAGE_HOME"] = previous


def _make_workspace(root: Path, files: dict[str, str]) -> None:
    root.mkdir(parents=True)
    env = {**os.environ, "GIT_AUTHOR_DATE": "2026-11-01T10:00:00Z",
           "GIT_COMMITTER_DATE": "2026-11-01T10:00:00Z"}
    run = {"cwd": root, "check": True, "capture_output": True, "env": env}
    subprocess.run(["git", "init", "-q"], **run)  # type: ignore[call-overload]
    for name, text in files.items():
        target = root / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    if files:
        subprocess.run(["git", "add", "-A"], **run)  # type: ignore[call-overload]
        subprocess.run(["git", "-c", "user.name=golden", "-c", "user.email=golden@sage.invalid",
                        "commit", "-qm", "golden"], **run)  # type: ignore[call-overload]


def run_spec(spec: dict[str, Any]) -> list[dict[str, Any]]:
    """Play a spec through the real orchestrator; return the session log's records."""
    from sage_tui.config import Settings, default_models
    from sage_tui.core.log.sessionlog import read_session
    from sage_tui.factory import build_session

    scenario = Scenario.load(spec["scenario"])
    backend = ScriptedBackend(scenario, host="golden")
    with _isolated_home(), tempfile.TemporaryDirectory(prefix="sage-golden-ws-") as folder:
        root = Path(folder) / "workspace"
        _make_workspace(root, dict(spec.get("workspace") or {}))
        settings = Settings(mode=spec.get("mode", "auto"), session_id="golden",
                            test_command=spec.get("test_command"))
        approver = ScriptedApprover(list(spec.get("answers") or []))
        session = build_session(root, settings=settings, models=default_models(),
                                backend_for=lambda host: backend, backend_label=scenario.label,
                                approver=approver, remember=bool(spec.get("remember", True)))

        async def play() -> None:
            orchestrator = session.orchestrator
            orchestrator.start()
            result = await orchestrator.run_turn(spec["task"])
            await orchestrator.finish({"ok": "ok", "rejected": "cancelled"}.get(result.status,
                                                                               "failed"))
            await session.aclose()

        try:
            asyncio.run(play())
        finally:
            session.close_log()
        return list(read_session("golden", sage_paths().sessions))
