"""One action registry: the palette of the active screen, help, and hints that follow a remap."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from textual.app import App
from textual.widgets import Footer, Static

from sage_tui.ui.actions import ACTIONS, BY_ID, OWNERS, Keys, bindings
from sage_tui.ui.screens.diff_review import DiffReviewScreen
from sage_tui.ui.screens.help import HelpScreen, keys_markdown
from sage_tui.ui.screens.modals import PlanModal
from sage_tui.ui.widgets.prompt import PromptInput
from tests.ui.harness import make_app, workspace
from tests.ui.test_workbench_pilot import SIZE, send, texts, until

pytestmark = pytest.mark.anyio

# What the reviewer does, and nothing else of SAGE's (Textual's own entries, such as the
# theme picker or Quit, work on every screen and stay).
REVIEWER_PALETTE = {"Next hunk", "Previous hunk", "Approve", "Reject", "Approve file", "Edit",
                    "Comment", "Split", "Undo", "Side/unified", "Files", "Apply approved", "Back",
                    "Discard", "Help", "Stop"}
WORKBENCH_ONLY = {"Mode", "Review patch", "Filter events", "Events", "Patches", "Prompt",
                  "Details", "Pause/follow", "New line"}


async def _reviewer_open(app: Any, pilot: Any) -> None:
    await until(pilot, lambda: app.session is not None, "the session")
    await send(pilot, "fix word_count")
    await until(pilot, lambda: isinstance(app.screen, PlanModal), "the plan modal")
    await pilot.press("a")
    await until(pilot, lambda: isinstance(app.screen, DiffReviewScreen)
                and bool(app.screen.query("FooterKey")), "the reviewer, drawn")


def _sage_titles(app: Any) -> set[str]:
    textual_own = {c.title for c in App.get_system_commands(app, app.screen)}
    return {c.title for c in app.get_system_commands(app.screen)} - textual_own


async def test_with_the_reviewer_open_the_palette_offers_what_works_there(tmp_path: Path) -> None:
    app = make_app(workspace(tmp_path / "repo"))
    async with app.run_test(size=SIZE) as pilot:
        await _reviewer_open(app, pilot)
        titles = _sage_titles(app)
        assert {"Approve", "Reject", "Split", "Edit", "Comment", "Apply approved"} <= titles
        assert titles <= REVIEWER_PALETTE, titles - REVIEWER_PALETTE
        assert not titles & WORKBENCH_ONLY
        # And each entry works there: the palette's Approve decides the hunk.
        [approve] = [c for c in app.get_system_commands(app.screen) if c.title == "Approve"]
        await approve.callback()
        await pilot.pause()
        assert app.screen.review.approved == ["h1"]


async def test_the_workbench_palette_has_the_workbench_and_no_reviewer_actions(
        tmp_path: Path) -> None:
    app = make_app(workspace(tmp_path / "repo"))
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.session is not None, "the session")
        titles = _sage_titles(app)
        assert {"Mode", "Review patch", "Filter events", "Pause/follow", "Help"} <= titles
        assert "Apply approved" not in titles and "Approve" not in titles


async def test_a_remap_shows_in_the_footer_and_the_reviewer_help_line(tmp_path: Path) -> None:
    app = make_app(workspace(tmp_path / "repo"))
    app.keys = {"review.approve": "Y"}  # as `[keys]` in config.toml gives them
    async with app.run_test(size=SIZE) as pilot:
        await _reviewer_open(app, pilot)
        screen = app.screen

        def footer_drawn() -> bool:  # the footer lays its keys out after it mounts them
            return any(k.key_display == "Y" and k.region.right > 0  # type: ignore[attr-defined]
                       for k in screen.query_one(Footer).query("FooterKey"))

        await until(pilot, footer_drawn, "the footer, laid out")
        help_line = str(screen.query_one("#review-help", Static).render())
        assert help_line.startswith("Y approve · n reject")
        shown = {(k.action, k.key_display): k.region  # type: ignore[attr-defined]
                 for k in screen.query_one(Footer).query("FooterKey")}
        assert ("approve", "Y") in shown and ("approve", "y") not in shown
        width = app.size.width
        assert 0 < shown[("approve", "Y")].right <= width  # drawn on screen, not cut off
        line = screen.query_one("#review-help", Static)
        assert len(help_line) <= line.region.width and help_line.endswith("? help")
        await pilot.press("y")  # the old key no longer approves
        assert screen.review.approved == []
        await pilot.press("Y")
        assert screen.review.approved == ["h1"]


async def test_the_demo_welcome_names_the_keys_in_force(tmp_path: Path) -> None:
    from sage_tui.commands.ui import DEMO_INTRO

    app = make_app(workspace(tmp_path / "repo"), intro=DEMO_INTRO.format(path="demo"))
    app.keys = {"app.help": "f5", "review.approve": "Y"}
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: "Welcome" in texts(app), "the welcome text")
        shown = texts(app)
        assert "(Y approve, n reject, enter applies)" in shown
        assert "f5 shows every key" in shown and "ctrl+q quits" in shown


async def test_help_lists_every_action_with_its_id_and_the_remapped_key(tmp_path: Path) -> None:
    app = make_app(workspace(tmp_path / "repo"))
    app.keys = {"review.approve": "Y"}
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.session is not None, "the session")
        app.workbench.query_one(PromptInput).blur()
        await pilot.press("f1")
        assert isinstance(app.screen, HelpScreen)
        hint = app.screen.query(".hint").first(Static)
        assert "[keys]" in str(hint.render())  # not eaten as markup
    text = keys_markdown(Keys({"review.approve": "Y"}))
    for action in ACTIONS:
        assert f"`{action.id}`" in text
    assert "| `Y` | Approve this hunk | `review.approve` |" in text


def test_no_screen_or_widget_declares_a_binding_outside_the_registry() -> None:
    import re

    import sage_tui.ui

    ui = Path(sage_tui.ui.__file__).parent
    declared = [str(p.relative_to(ui)) for p in ui.rglob("*.py")
                if re.search(r"\bBinding\(", p.read_text(encoding="utf-8"))]
    assert declared == ["actions.py"]
    assert len(list(ui.rglob("*.py"))) > 15
    for owner in OWNERS:
        assert all(b.id in BY_ID for b in bindings(owner))  # type: ignore[union-attr]
    assert {a.owner for a in ACTIONS} == set(OWNERS)
    assert Keys({"app.quit": "ctrl+x"}).format("{app.quit} quits, {nope.x} stays") == \
        "ctrl+x quits, {nope.x} stays"


async def test_stop_with_a_comment_box_over_the_reviewer_closes_both(tmp_path: Path) -> None:
    from sage_tui.ui.screens.modals import CommentModal

    root = workspace(tmp_path / "repo")
    app = make_app(root)
    async with app.run_test(size=SIZE) as pilot:
        await _reviewer_open(app, pilot)
        await pilot.press("c")
        await until(pilot, lambda: isinstance(app.screen, CommentModal), "the comment box")
        await pilot.press("ctrl+c")
        await app.workers.wait_for_complete()
        await until(pilot, lambda: len(app.screen_stack) == 1, "the workbench alone")
        assert "Stopped" in texts(app)
    assert "return len(text)" in (root / "textstats.py").read_text()


async def test_the_mode_key_does_nothing_through_a_checkpoint_modal(tmp_path: Path) -> None:
    root = workspace(tmp_path / "repo")
    app = make_app(root)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.session is not None, "the session")
        await send(pilot, "fix word_count")
        await until(pilot, lambda: isinstance(app.screen, PlanModal), "the plan modal")
        await pilot.press("shift+tab", "shift+tab", "shift+tab", "shift+tab")
        assert app.session is not None and app.session.orchestrator.mode == "research"
        await pilot.press("a")
        await until(pilot, lambda: isinstance(app.screen, DiffReviewScreen), "the reviewer")
        await pilot.press("shift+tab")
        assert app.session.orchestrator.mode == "research"
        assert isinstance(app.screen, DiffReviewScreen)  # the patch still waits for a person
    assert "return len(text)" in (root / "textstats.py").read_text()
