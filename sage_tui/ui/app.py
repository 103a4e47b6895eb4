"""The SAGE workbench app: wiring only (bindings, screens, the turn worker, record dispatch).

The session comes from a factory (shared with the CLI and the tests); the orchestrator
runs in an async worker; events and answer deltas arrive as messages; approvals are
futures resolved by screens. Every record, live or replayed, reaches the panes through
`show_record`, and each pane shows the events it declares.
"""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Awaitable, Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from textual import on, work
from textual.app import App, SystemCommand
from textual.binding import BindingType
from textual.screen import Screen

from sage_tui.core.errors import SageError
from sage_tui.core.log.events import MODES, Mode
from sage_tui.ui.actions import Keys, bindings, palette
from sage_tui.ui.bridge import UiBridge
from sage_tui.ui.messages import AnswerDelta, ApprovalRequested, RecordPosted, TurnFinished
from sage_tui.ui.records import Record, dispatch
from sage_tui.ui.screens.workbench import WorkbenchScreen
from sage_tui.ui.widgets.banner import ErrorBanner
from sage_tui.ui.widgets.conversation import Conversation
from sage_tui.ui.widgets.event_stream import EventStream
from sage_tui.ui.widgets.prompt import PromptInput

# Only what the first screen needs is imported above: the rest (replay, slash commands,
# redaction, the session itself) loads after the first frame, when it is first used.
if TYPE_CHECKING:
    from sage_tui.core.agent.approval import Decision
    from sage_tui.core.agent.orchestrator import TurnResult
    from sage_tui.factory import Session

SessionFactory = Callable[[UiBridge], "Session"]


class SageApp(App[None]):
    """The workbench."""

    CSS_PATH = Path(__file__).parent / "app.tcss"  # absolute: subclasses live elsewhere
    TITLE = "SAGE"
    BINDINGS: ClassVar[list[BindingType]] = bindings("app")

    def __init__(self, session_factory: SessionFactory | None = None, *,
                 intro: str | None = None, replay: list[Record] | None = None,
                 replay_speed: float = 10.0, theme: str | None = None,
                 keys: dict[str, str] | None = None) -> None:
        super().__init__()
        self.session_factory = session_factory
        self.session: Session | None = None
        self.bridge = UiBridge(self)
        self.intro = intro
        self.replay_records = replay
        self.replay_speed = replay_speed
        self.keys = keys or {}
        self.wanted_theme = theme
        self._approval: tuple[asyncio.Future[Decision], Screen[Any]] | None = None
        self._turn_running = False
        self.next_session: str | None = None  # /resume: the session to open after this one
        self.opening: Session | None = None  # built; `session` once it has started

    @property
    def action_keys(self) -> Keys:
        """The keys in force: defaults with the `[keys]` remaps."""
        return Keys(self.keys)

    # -- start-up -----------------------------------------------------------------------
    def on_mount(self) -> None:
        if self.wanted_theme in self.available_themes:
            self.theme = str(self.wanted_theme)
        elif self.wanted_theme:
            self.notify(f"Theme {self.wanted_theme!r} is unknown; using the default.",
                        severity="warning")
        if self.keys:
            self.set_keymap(self.keys)
        self.call_after_refresh(self._start)

    def get_default_screen(self) -> Screen[Any]:
        return WorkbenchScreen()

    def _start(self) -> None:
        gc.enable()  # `sage` paused it for start-up (cli.py); the first frame is on screen
        if self.intro:
            self.workbench.query_one(Conversation).add_note(self.action_keys.format(self.intro))
        if self.replay_records is not None:
            self.workbench.query_one(PromptInput).freeze("replay: read-only")
            from sage_tui.ui.replay import replay_into

            self.run_worker(replay_into(self), group="replay", exclusive=True)
            return
        if self.session_factory is not None:
            try:
                self.opening = self.session_factory(self.bridge)
            except SageError as exc:  # a damaged log, another workspace's session: one sentence
                self.exit(return_code=exc.exit_code or 1, message=f"Error: {exc}")
                return
            self.workbench.begin(self.opening)  # sets .session once it takes input

    @property
    def workbench(self) -> WorkbenchScreen:
        """The workbench screen, whatever screen is on top of it."""
        screen = self.screen_stack[0]
        assert isinstance(screen, WorkbenchScreen)
        return screen

    # -- turns --------------------------------------------------------------------------
    @on(PromptInput.Submitted)
    def submit(self, message: PromptInput.Submitted) -> None:
        if self.session is None:
            return
        from sage_tui.ui.slash import is_command
        from sage_tui.ui.slash import run as run_command

        if is_command(message.text):  # for SAGE itself: never a question for the model
            self.run_worker(run_command(self, message.text), group="slash")
            return
        if self._turn_running:
            self.notify(f"A turn is running; {self.action_keys.key('app.stop')} stops it.",
                        severity="warning")
            self.workbench.query_one(PromptInput).restore(message.text)
            return
        orchestrator = self.session.orchestrator
        self._run(message.text, lambda: orchestrator.run_turn(message.text, self.bridge.delta))

    def open_waiting(self, patch_id: str) -> bool:
        """Reopen `patch_id` if it waits in the queue (to decide the rest and apply it)."""
        if self.session is None or patch_id not in self.session.orchestrator.waiting:
            return False
        if self._turn_running:
            self.notify("A turn is running; open the waiting patch when it ends.", timeout=3)
        else:
            orchestrator = self.session.orchestrator
            self._run("", lambda: orchestrator.review_waiting(patch_id))
        return True

    def _run(self, text: str, job: Callable[[], Awaitable[TurnResult]]) -> None:
        self._turn_running = True
        self.refresh_bindings()  # Stop is offered while a turn runs
        self.run_turn(text, job)

    @work(exclusive=True, group="turn", exit_on_error=False)
    async def run_turn(self, text: str, job: Callable[[], Awaitable[TurnResult]]) -> None:
        result, error = None, None
        try:
            result = await job()
        except asyncio.CancelledError:
            error = "cancelled"
            raise
        except Exception as exc:  # never let a bug kill the workbench
            error = f"{type(exc).__name__}: {exc}"
        finally:
            self.bridge.flush(final=True)  # the last streamed text lands before the turn ends
            self.post_message(TurnFinished(text, result, error))

    async def on_turn_finished(self, message: TurnFinished) -> None:
        self._turn_running = False
        if not self.screen_stack:  # the app is closing
            return
        self.refresh_bindings()
        conversation = await self.workbench.turn_over()  # however it ended
        status = message.result.status if message.result is not None else None
        if message.error and message.error != "cancelled":  # a stop is a TURN_CANCELLED record
            from sage_tui.core.log.redaction import redact

            conversation.add_error(f"Unexpected failure: {redact(message.error)}")
        elif status == "ok":
            from sage_tui.ui.slash_actions import offer_commit

            self.workbench.query_one(ErrorBanner).hide()
            offer_commit(self)  # the `commit` setting: ask after changes landed, tests green
        if message.text and ((message.error and message.error != "cancelled")
                             or status == "failed"):
            self.workbench.query_one(PromptInput).restore(message.text)

    async def on_answer_delta(self, message: AnswerDelta) -> None:
        await self.workbench.query_one(Conversation).write_answer(message.text)

    async def on_record_posted(self, message: RecordPosted) -> None:
        if self.screen_stack:  # records of the session's end can outlive the screens
            await self.show_record(message.record)

    async def show_record(self, record: Record) -> None:
        """Put one log record into every pane that shows its event (live and replay alike)."""
        self.workbench.query_one(EventStream).add(record)
        await dispatch(record, self.workbench.panes)

    def on_approval_requested(self, message: ApprovalRequested) -> None:
        from sage_tui.ui.screens.checkpoints import open_checkpoint

        screen = open_checkpoint(self, message.request, message.future,
                                 lambda: setattr(self, "_approval", None))
        self._approval = (message.future, screen) if screen is not None else None

    # -- actions ------------------------------------------------------------------------
    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        return self._turn_running if action == "stop" else True  # Stop: only while a turn runs

    def action_interrupt(self) -> None:
        """ctrl+c: copy the selection if there is one, else stop the turn, else say how to quit."""
        selected = self.screen.get_selected_text()
        if selected:
            self.copy_to_clipboard(selected)
            self.notify(f"Copied {len(selected):,} characters.", timeout=2)
        elif self._turn_running:
            self.action_stop()
        else:
            self.notify(f"Nothing to stop; {self.action_keys.key('app.quit')} quits.", timeout=3)

    def action_stop(self) -> None:
        if not self._turn_running:
            return
        if self._approval is not None:
            from sage_tui.ui.screens.checkpoints import close_checkpoint

            future, screen = self._approval
            future.cancel()
            close_checkpoint(self, screen)
        self.workers.cancel_group(self, "turn")

    def action_cycle_mode(self) -> None:
        if self.session is not None:
            current = self.session.orchestrator.mode
            self.switch_mode_to(MODES[(MODES.index(current) + 1) % len(MODES)])

    def switch_mode_to(self, mode: Mode) -> None:
        """Switch the mode (MODE_CHANGED); to auto or silent with a patch waiting, ask first."""
        if self.session is None or mode == self.session.orchestrator.mode:
            return
        orchestrator = self.session.orchestrator

        def switch(yes: bool | None = True) -> None:
            if yes and self.session is not None:
                orchestrator.set_mode(mode)  # MODE_CHANGED: the status line follows it
                self.notify(f"Mode: {mode}", timeout=2)

        if orchestrator.mode != "research" or not orchestrator.waiting or mode == "research":
            return switch()
        from sage_tui.ui.screens.modals import mode_question

        self.push_screen(mode_question(mode, orchestrator.waiting), switch)

    def action_help(self) -> None:
        from sage_tui.ui.screens.help import toggle_help

        toggle_help(self)

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        yield from palette(self, screen)

    async def on_unmount(self) -> None:
        session = self.session or self.opening  # quit while a continued one was redrawn: too
        if session is not None:
            if self._turn_running:
                self.workers.cancel_group(self, "turn")
            await session.orchestrator.finish("ok")
            await session.aclose()
            session.close_log()
