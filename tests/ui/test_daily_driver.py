"""Living in the workbench: the conversation follows the newest answer at 80×24, `?` on an empty
prompt shows the keys, `/` commands never reach the model, input history survives a restart."""

from __future__ import annotations

from pathlib import Path

import pytest

from sage_tui.core.log.sessionlog import read_session
from sage_tui.ui.screens.help import HelpScreen
from sage_tui.ui.widgets.conversation import Conversation
from sage_tui.ui.widgets.prompt import PromptInput
from tests.helpers import sessions_dir
from tests.ui.harness import make_app, workspace
from tests.ui.test_workbench_pilot import QA, send, texts, until

pytestmark = pytest.mark.anyio


async def test_the_newest_answer_is_visible_after_every_turn_at_80x24(tmp_path: Path) -> None:
    app = make_app(workspace(tmp_path / "repo"), QA)
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: app.session is not None, "the session")
        conversation = app.workbench.query_one(Conversation)
        for n in range(6):
            await send(pilot, f"question {n}: where is word_count?")
            await until(pilot, lambda: not app._turn_running, "the turn")
            await app.workers.wait_for_complete()
            await pilot.pause(0.05)
            newest = conversation.children[-1]
            assert newest.region.bottom <= conversation.content_region.bottom + 1, n
            assert newest.region.y >= conversation.content_region.y, n
        assert conversation.max_scroll_y > 0  # it did overflow: following was needed
        conversation.scroll_home(animate=False)  # scrolled up, it stays put ...
        await pilot.pause(0.05)
        await send(pilot, "one more")
        await until(pilot, lambda: not app._turn_running, "the turn")
        await pilot.pause(0.05)
        assert conversation.scroll_y == 0
        await pilot.press("f4", "end")  # ... until End follows again
        await pilot.pause(0.05)
        assert conversation.scroll_y == conversation.max_scroll_y


async def test_question_mark_on_an_empty_prompt_shows_every_key(tmp_path: Path) -> None:
    app = make_app(workspace(tmp_path / "repo"), QA)
    async with app.run_test(size=(140, 45)) as pilot:
        await until(pilot, lambda: app.session is not None, "the session")
        await pilot.press("?")
        await until(pilot, lambda: isinstance(app.screen, HelpScreen), "help")
        await pilot.press("escape")
        await pilot.press(*"why?")  # inside a message it is a question mark
        assert app.workbench.query_one(PromptInput).text == "why?"


async def test_slash_commands_are_for_sage_not_the_model(tmp_path: Path) -> None:
    app = make_app(workspace(tmp_path / "repo"), QA)
    async with app.run_test(size=(140, 45)) as pilot:
        await until(pilot, lambda: app.session is not None, "the session")
        prompt = app.workbench.query_one(PromptInput)
        prompt.focus()
        await pilot.press(*"/tok", "tab")
        assert prompt.text == "/tokens "
        await pilot.press("enter")
        await until(pilot, lambda: "This session:" in texts(app), "the token counts")
        await send(pilot, "/undoo everything")
        await until(pilot, lambda: "/undoo is not a command" in texts(app), "the refusal")
        await send(pilot, "/mode auto")
        assert app.session is not None
        await until(pilot, lambda: app.session.orchestrator.mode == "auto", "auto mode")
    events = [r["event"] for r in read_session("ui-test-session", sessions_dir())]
    assert "USER_MESSAGE" not in events  # not one of them went to the model
    assert events.count("MODE_CHANGED") == 1


async def test_input_history_survives_a_restart(tmp_path: Path) -> None:
    root = workspace(tmp_path / "repo")
    for round_ in range(2):
        app = make_app(root, QA)
        async with app.run_test(size=(140, 45)) as pilot:
            await until(pilot, lambda a=app: a.session is not None, "the session")  # type: ignore[misc]
            prompt = app.workbench.query_one(PromptInput)
            if round_ == 0:
                await send(pilot, "where is word_count?")
                await until(pilot, lambda a=app: not a._turn_running, "the turn")  # type: ignore[misc]
            else:  # the same session id: it continues, and takes input once redrawn
                await until(pilot, lambda p=prompt: not p.disabled, "the continued session")  # type: ignore[misc]
                prompt.focus()
                await pilot.press("up")
                assert prompt.text == "where is word_count?"


def test_the_docs_table_of_keys_and_commands_matches_the_registries() -> None:
    from sage_tui.ui.screens.help import docs_tables

    docs = (Path(__file__).resolve().parents[2] / "docs" / "workbench.md").read_text()
    assert docs_tables() in docs, ("docs/workbench.md has drifted from the registries; paste "
                                   "the output of `python -m sage_tui.ui.screens.help` over its "
                                   "generated block")


async def test_undo_in_the_workbench_previews_then_restores_and_refuses_by_name(
        tmp_path: Path) -> None:
    from sage_tui.ui.screens.diff_review import DiffReviewScreen
    from sage_tui.ui.screens.modals import ConfirmModal, PlanModal

    root = workspace(tmp_path / "repo")
    original = {name: (root / name).read_text() for name in ("textstats.py", "README.md")}
    app = make_app(root)
    async with app.run_test(size=(140, 45)) as pilot:
        await until(pilot, lambda: app.session is not None, "the session")
        await send(pilot, "fix it")
        await until(pilot, lambda: isinstance(app.screen, PlanModal), "the plan")
        await pilot.press("a")
        await until(pilot, lambda: isinstance(app.screen, DiffReviewScreen), "the reviewer")
        await pilot.press("y", "y", "enter")
        await until(pilot, lambda: not app._turn_running, "the turn")
        assert "counts words" in (root / "README.md").read_text()
        await send(pilot, "/undo")
        await until(pilot, lambda: isinstance(app.screen, ConfirmModal), "are you sure")
        assert "would apply this reverse diff" in texts(app) and "-`word_count` counts" in texts(app)
        await pilot.press("y")
        await until(pilot, lambda: "undone: textstats.py, README.md restored" in texts(app),
                    "the undo")
        assert {n: (root / n).read_text() for n in original} == original  # both files back
        await send(pilot, "/redo")
        await until(pilot, lambda: isinstance(app.screen, ConfirmModal), "redo: are you sure")
        await pilot.press("y")
        await until(pilot, lambda: "applied again: textstats.py, README.md" in texts(app),
                    "the redo")
        assert "counts words" in (root / "README.md").read_text()
        await send(pilot, "/redo")
        await until(pilot, lambda: "Nothing to redo" in texts(app), "nothing to redo")
        await send(pilot, "/undo")
        await until(pilot, lambda: isinstance(app.screen, ConfirmModal), "undo again")
        await pilot.press("y")
        await until(pilot, lambda: texts(app).count("restored") >= 2, "the second undo")
        await send(pilot, "/undo")
        await until(pilot, lambda: "Nothing to undo" in texts(app), "nothing left")
    reverted = [r["data"] for r in read_session("ui-test-session", sessions_dir())
                if r["event"] == "PATCH_REVERTED"]
    assert len(reverted) == 2 and reverted[0]["files"] == ["textstats.py", "README.md"]
    redone = [r["data"] for r in read_session("ui-test-session", sessions_dir())
              if r["event"] == "PATCH_APPLIED" and r["data"].get("redone")]
    assert len(redone) == 1


async def test_copy_the_last_answer_a_code_block_or_a_selection(tmp_path: Path) -> None:
    answer = "Use this:\n\n```python\nprint(word_count('a b'))\n```\n\nIt prints 2."
    scenario = {"label": "scripted model", "rules": [
        QA["rules"][0], {"when": {"role": "coder"}, "reply": {"content": answer, "chunks": 3}}]}
    app = make_app(workspace(tmp_path / "repo"), scenario)
    async with app.run_test(size=(140, 45)) as pilot:
        await until(pilot, lambda: app.session is not None, "the session")
        await pilot.press("ctrl+c")  # idle: nothing to stop, and it says how to quit
        await send(pilot, "how do I count words?")
        await until(pilot, lambda: not app._turn_running and "It prints 2." in texts(app),
                    "the answer")
        await pilot.press("f8")  # with the cursor in the input: f6/f7 are the input's own
        assert app.clipboard == answer
        await pilot.press("f9")
        assert app.clipboard == "print(word_count('a b'))\n"
    assert app.session is not None  # ctrl+c while idle did not quit or break anything


async def test_a_slow_model_call_shows_what_sage_waits_on(tmp_path: Path) -> None:
    from sage_tui.ui.widgets.busy import BusyLine

    slow = {"label": "scripted model", "rules": [
        QA["rules"][0], {"when": {"role": "coder"}, "reply": {
            "content": "word_count is in textstats.py:11.", "chunks": 4, "delay_ms": 250}}]}
    app = make_app(workspace(tmp_path / "repo"), slow)
    async with app.run_test(size=(140, 45)) as pilot:
        await until(pilot, lambda: app.session is not None, "the session")
        busy = app.workbench.query_one(BusyLine)
        assert not busy.has_class("busy")  # idle: no line
        await send(pilot, "where is word_count?")
        await until(pilot, lambda: busy.has_class("busy") and "coder" in str(busy.render()),
                    "the coder's call on the busy line")
        assert "demo-model" in str(busy.render()) and " s" in str(busy.render())
        await until(pilot, lambda: not app._turn_running, "the turn")
        await until(pilot, lambda: not busy.has_class("busy"), "an idle line again")


async def test_the_busy_line_clears_after_an_unexpected_failure(tmp_path: Path) -> None:
    from sage_tui.ui.widgets.busy import BusyLine

    retrieval = {"label": "scripted model", "rules": [
        {"when": {"role": "router"}, "reply": {"json": {"kind": "qa", "reasoningText": "x",
                                                        "experts": ["retrieval"]}}},
        {"when": {}, "reply": "never reached"}]}
    app = make_app(workspace(tmp_path / "repo"), retrieval)
    async with app.run_test(size=(140, 45)) as pilot:
        await until(pilot, lambda: app.session is not None, "the session")

        async def broken(*args: object, **kwargs: object) -> None:
            raise RuntimeError("a bug in an expert")

        app.session.orchestrator.experts.gather = broken  # type: ignore[method-assign]
        await send(pilot, "where is word_count?")
        await until(pilot, lambda: "Unexpected failure" in texts(app), "the failure")
        busy = app.workbench.query_one(BusyLine)
        await until(pilot, lambda: not busy.has_class("busy"), "the busy line cleared")


async def test_the_busy_line_counts_files_while_the_index_builds(tmp_path: Path) -> None:
    import threading

    from sage_tui.ui.widgets.busy import BusyLine

    root = workspace(tmp_path / "repo")
    for i in range(150):  # a workspace big enough that its first index build is reported
        (root / f"gen_{i:03}.py").write_text(f"def word_count_{i}():\n    return {i}\n")
    retrieval = {"label": "scripted model", "rules": [
        {"when": {"role": "router"}, "reply": {"json": {"kind": "qa", "reasoningText": "x",
                                                        "experts": ["retrieval"]}}},
        {"when": {}, "reply": "word_count is in gen_001.py."}]}
    app = make_app(root, retrieval)
    async with app.run_test(size=(140, 45)) as pilot:
        await until(pilot, lambda: app.session is not None, "the session")
        index = app.session.orchestrator.experts.index
        held, reading = threading.Event(), index._body

        def slow(name: str) -> str | None:  # the build stops half-way until the test looks
            if name == "gen_075.py":
                held.wait(30)
            return reading(name)

        index._body = slow  # type: ignore[method-assign]
        busy = app.workbench.query_one(BusyLine)
        await send(pilot, "where is word_count?")
        await until(pilot, lambda: "indexing the workspace:" in str(busy.render()),
                    "the index's progress on the busy line")
        shown = str(busy.render())
        held.set()
        assert "/1" in shown and " files" in shown, shown
        await until(pilot, lambda: not app._turn_running, "the turn")
        assert "word_count is in gen_001.py." in texts(app)


async def test_slash_diff_shows_only_what_landed(tmp_path: Path) -> None:
    from sage_tui.ui.screens.diff_review import DiffReviewScreen
    from sage_tui.ui.screens.modals import PlanModal

    app = make_app(workspace(tmp_path / "repo"))
    async with app.run_test(size=(140, 45)) as pilot:
        await until(pilot, lambda: app.session is not None, "the session")
        await send(pilot, "/diff")
        await until(pilot, lambda: "Nothing was applied in this session yet." in texts(app),
                    "nothing yet")
        await send(pilot, "fix it")
        await until(pilot, lambda: isinstance(app.screen, PlanModal), "the plan")
        await pilot.press("a")
        await until(pilot, lambda: isinstance(app.screen, DiffReviewScreen), "the reviewer")
        await pilot.press("y", "n", "enter")  # the fix lands, the README line does not
        await until(pilot, lambda: not app._turn_running, "the turn")
        await send(pilot, "/diff")
        await until(pilot, lambda: "1 hunk(s) approved" in texts(app), "the diff")
        shown = texts(app).split("1 hunk(s) approved")[-1]
        assert "+    return len(words(text))" in shown and "counts words" not in shown
