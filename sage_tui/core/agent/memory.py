"""Memory: the project's remembered facts and lessons, in SAGE's state folder, and the
user's preferences (`<data>/memory.json`), updated after replies by the summarizer role
in the background; its packet goes into every prompt (see `experts.py`).
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from pathlib import Path

from sage_tui.core.llm.context import Packet
from sage_tui.core.workspace.state import write_json_atomic

MAX_FACTS = 40
MAX_LESSONS = 40


def _load_lists(path: Path, *keys: str) -> list[list[str]]:
    """The lists under `keys` in one JSON file (empty when missing or unreadable)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        data = None
    if not isinstance(data, dict):
        data = {}
    return [[str(i.get("text", "")) if isinstance(i, dict) else str(i)
             for i in data.get(key) or []] for key in keys]


def _merge(old: list[str], new: Sequence[str], limit: int) -> list[str]:
    seen = {item.strip().lower() for item in old}
    merged = list(old)
    for item in new:
        text = " ".join(str(item).split())
        if text and text.lower() not in seen:
            merged.append(text)
            seen.add(text.lower())
    return merged[-limit:]


class MemoryStore:
    """Facts and lessons for one workspace, plus the user's own preferences."""

    def __init__(self, project_file: Path, user_file: Path) -> None:
        """Args:
            project_file: This workspace's facts and lessons, in SAGE's state folder (a
                repository cannot plant lessons there).
            user_file: The user's preferences, across workspaces.
        """
        self.project_file = project_file
        self.user_file = user_file

    def facts(self) -> list[str]:
        return self._project()[0]

    def _project(self) -> tuple[list[str], list[str]]:
        facts, lessons = _load_lists(self.project_file, "facts", "lessons")
        return facts, lessons

    def preferences(self) -> list[str]:
        return _load_lists(self.user_file, "preferences")[0]

    def _save_project(self, facts: list[str], lessons: list[str]) -> None:
        write_json_atomic(self.project_file, {
            "version": 1, "updated": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "facts": facts, "lessons": lessons})

    def remember(self, facts: Sequence[str], preferences: Sequence[str]) -> None:
        known, lessons = self._project()
        self._save_project(_merge(known, facts, MAX_FACTS), lessons)
        if preferences:
            write_json_atomic(self.user_file, {
                "version": 1, "preferences": _merge(self.preferences(), preferences, MAX_FACTS)})

    def add_lesson(self, lesson: str) -> None:
        """A lesson learned from a rejected change, shown in every later prompt."""
        facts, lessons = self._project()
        self._save_project(facts, _merge(lessons, [lesson], MAX_LESSONS))

    def packet(self) -> Packet:
        (facts, lessons), prefs = self._project(), self.preferences()
        if not (facts or lessons or prefs):
            return Packet("memory", "Nothing remembered about this project yet.", (), False)
        lines = []
        if facts:
            lines.append("Project facts:\n" + "\n".join(f"- {f}" for f in facts))
        if lessons:
            lines.append("Lessons from rejected changes:\n" + "\n".join(f"- {x}" for x in lessons))
        if prefs:
            lines.append("User preferences:\n" + "\n".join(f"- {p}" for p in prefs))
        citations = ["project memory"] if facts or lessons else []
        if prefs:
            citations.append("user memory")
        return Packet("memory", "\n".join(lines), tuple(citations), True)
