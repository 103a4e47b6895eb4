"""Routes keep their default experts when the router names none; the review route sees the diff."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

from sage_tui.config import Settings
from sage_tui.core.llm.scripted import Scenario, ScriptedBackend
from sage_tui.factory import build_session
from tests.conftest import git_repo
from tests.helpers import as_events


def turn(tmp_path: Path, kind: str) -> tuple[list[Any], ScriptedBackend]:
    repo = git_repo(tmp_path / "repo", {"calc.py": "def add(a, b):\n    return a - b\n"})
    (repo / "calc.py").write_text("def add(a, b):\n    return a + b  # fixed\n")
    backend = ScriptedBackend(Scenario.load({"rules": [
        {"when": {"role": "router"}, "reply": {"json": {
            "kind": kind, "reasoningText": "x", "experts": []}}},
        {"when": {}, "reply": "done"},
    ]}))
    events: list[Any] = []
    session = build_session(repo, settings=Settings(mode="auto", force_local_model="m:7b"),
                            backend_for=lambda h: backend, subscribers=(as_events(events),),
                            remember=False)
    try:
        asyncio.run(session.orchestrator.run_turn("look at my change"))
    finally:
        session.close_log()
    return events, backend


def test_the_review_route_gets_the_working_tree_diff(tmp_path: Path) -> None:
    events, backend = turn(tmp_path, "review")
    [route] = [e.data for e in events if e.name == "ROUTE_DECISION"]
    assert route["experts"] == ["git"]
    reviewer = [r for r in backend.requests if r.role == "reviewer"]
    prompt = json.dumps(reviewer[0].messages)
    assert "+    return a + b  # fixed" in prompt and "-    return a - b" in prompt


def test_summarize_and_memory_routes_keep_their_experts(tmp_path: Path) -> None:
    for kind, experts in (("summarize", ["summarizer", "memory"]), ("memory", ["memory"])):
        events, _ = turn(tmp_path / kind, kind)
        [route] = [e.data for e in events if e.name == "ROUTE_DECISION"]
        assert route["experts"] == experts
        packets = [e.data["expert"] for e in events if e.name == "EXPERT_PACKET"]
        assert packets == experts


def test_agents_md_reaches_the_planner_and_the_coder_as_repository_content(
        tmp_path: Path) -> None:
    rule = "Indent calc.py with tabs, never spaces."
    repo = git_repo(tmp_path / "repo", {"calc.py": "x = 1\n", "AGENTS.md": f"# Rules\n{rule}\n",
                                        "conv.md": "Name tests test_<what>.\n"})
    backend = ScriptedBackend(Scenario.load({"rules": [
        {"when": {"role": "router"}, "reply": {"json": {"kind": "code", "reasoningText": "x",
                                                        "experts": []}}},
        {"when": {"role": "planner"}, "reply": {"json": {"steps": ["edit calc.py"]}}},
        {"when": {}, "reply": "nothing to change"},
    ]}))
    events: list[Any] = []
    session = build_session(repo, settings=Settings(mode="auto", force_local_model="m:7b",
                                                    instructions_file="conv.md"),
                            backend_for=lambda h: backend, subscribers=(as_events(events),),
                            remember=False)
    try:
        asyncio.run(session.orchestrator.run_turn("make x two"))
    finally:
        session.close_log()
    for role in ("planner", "coder"):
        system = next(r for r in backend.requests if r.role == role).messages[0]["content"]
        assert rule in system and "Name tests test_<what>." in system, role
        block = system[system.index('source="instructions"'):]
        assert rule in block.split("</untrusted-")[0]  # inside the untrusted block
    [packet] = [e.data for e in events if e.name == "EXPERT_PACKET"
                and e.data["expert"] == "instructions"]
    assert packet["citations"] == ["AGENTS.md", "conv.md"] and rule in packet["text"]


def test_an_at_mention_pins_the_file_into_later_prompts_until_dropped(tmp_path: Path) -> None:
    body = "def word_count(text):\n    return len(text.split())  # PINNED-MARKER\n"
    repo = git_repo(tmp_path / "repo", {"textstats.py": body, "other.py": "x = 1\n"})
    backend = ScriptedBackend(Scenario.load({"rules": [
        {"when": {"role": "router"}, "reply": {"json": {"kind": "qa", "reasoningText": "x",
                                                        "experts": []}}},
        {"when": {}, "reply": "ok"}]}))
    events: list[Any] = []
    session = build_session(repo, settings=Settings(mode="auto", force_local_model="m:7b"),
                            backend_for=lambda h: backend, subscribers=(as_events(events),),
                            remember=False)
    orchestrator = session.orchestrator

    def coder_prompt() -> str:
        return json.dumps([r for r in backend.requests if r.role == "coder"][-1].messages)

    try:
        asyncio.run(orchestrator.run_turn("explain @textstats.py, and mail me@example.com."))
        assert "PINNED-MARKER" in coder_prompt()
        asyncio.run(orchestrator.run_turn("and now?"))  # still pinned on the next turn
        assert "PINNED-MARKER" in coder_prompt()
        assert orchestrator.experts.unpin("@textstats.py") == ["textstats.py"]
        asyncio.run(orchestrator.run_turn("and after dropping it?"))
        assert "PINNED-MARKER" not in coder_prompt()
        asyncio.run(orchestrator.run_turn("lines @textstats.py:2-2 and @../../etc/passwd"))
        assert list(orchestrator.experts.pinned) == ["textstats.py"]  # outside: refused
    finally:
        session.close_log()
    pinned = [e.data for e in events if e.name == "EXPERT_PACKET" and e.data["expert"] == "pinned"]
    assert len(pinned) == 3 and pinned[-1]["citations"] == ["textstats.py:2-2"]


def test_undo_acts_only_on_the_patch_that_was_shown(tmp_path: Path) -> None:
    """A preview names a patch; if another lands before the person says yes, nothing changes."""
    import pytest

    from sage_tui.core.patch.engine import UndoError
    from sage_tui.core.patch.model import parse_patch
    from sage_tui.factory import patch_engine

    repo = git_repo(tmp_path / "repo", {"a.txt": "one\n", "b.txt": "uno\n"})
    engine = patch_engine(repo)
    assert engine.apply(parse_patch("--- a/a.txt\n+++ b/a.txt\n@@ -1 +1 @@\n-one\n+two\n")).ok
    shown, _ = engine.undo(check_only=True)
    assert patch_engine(repo).apply(  # another terminal, or an auto-mode turn
        parse_patch("--- a/b.txt\n+++ b/b.txt\n@@ -1 +1 @@\n-uno\n+dos\n")).ok
    with pytest.raises(UndoError, match="The newest patch is now"):
        engine.undo(expect=shown)
    assert (repo / "a.txt").read_text() == "two\n" and (repo / "b.txt").read_text() == "dos\n"


def test_a_link_a_bad_range_or_a_huge_file_is_not_pinned_whole(tmp_path: Path) -> None:
    repo = git_repo(tmp_path / "repo", {"f.py": "x = 1\n", "big.py": "# line\n" * 20_000})
    (repo / "link.py").symlink_to(repo / "f.py")
    from sage_tui.core.agent.experts import MAX_PINNED, Experts
    from sage_tui.core.agent.memory import MemoryStore

    experts = Experts(repo, None, lambda e: None,  # type: ignore[arg-type]
                      MemoryStore(tmp_path / "m.json", tmp_path / "u.json"))
    assert experts.pin("see @link.py and @f.py:8-3 and @f.py:0-1") == []
    assert experts.pin("and @big.py") == ["big.py"]
    packet, _ = asyncio.run(experts._pinned(""))
    assert len(packet.text) < MAX_PINNED + 200  # history is not dropped for one big file
