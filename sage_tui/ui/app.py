"""The SAGE workbench app: wiring only (bindings, screens, the turn worker, event dispatch).

The app gets its session from a factory (shared with the CLI and the tests). The
orchestrator runs in an async worker; its events and answer deltas arrive as
messages; approvals are futures resolved by screens.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from textual import on, work
from textual.app import App, SystemCommand
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.screen import Screen

from sage_tui.core.agent.approval import Decision
from sage_tui.core.log.clock import now_iso
from sage_tui.core.log.events import MODES, ROLES
from sage_tui.core.log.tracefmt import parse_ts, summary
from sage_tui.ui.bridge import UiBridge
from sage_tui.ui.messages import AnswerDelta, ApprovalRequested, CoreEventPosted
from sage_tui.ui.screens.workbench import WorkbenchScreen
from sage_tui.ui.widgets.banner import ErrorBanner
from sage_tui.ui.widgets.conversation import Conversation
from sage_tui.ui.widgets.event_stream import EventStream
from sage_tui.ui.widgets.patch_queue import PatchQueue
from sage_tui.ui.widgets.prompt import PromptInput
from sage_tui.ui.widgets.status_bar import StatusBar

if TYPE_CHECKING:
    from sage_tui.core.agent.orchestrator import TurnResult
    from sage_tui.factory import Session

BANNER_KINDS = {"unreachable", "model_not_found", "timeout", "protocol"}
SessionFactory = Callable[[UiBridge], "Session"]


class TurnFinished(Message):
    def __init__(self, text: str, result: TurnResult | None, error: str | None = None) -> None:
        super().__init__()
        self.text = text
        self.result = result
        self.error = error


class SageApp(App[None]):
    """The workbench."""

    CSS_PATH = Path(__file__).parent / "app.tcss"  # absolute: subclasses live elsewhere
    TITLE = "SAGE"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("shift+tab", "cycle_mode", "Mode", tooltip="Cycle research → auto → silent",
                id="app.mode", priority=True),
        Binding("escape", "stop", "Stop", tooltip="Stop the running turn", id="app.stop"),
        Binding("ctrl+c", "stop", "Stop", tooltip="Stop the running turn", id="app.stop_c",
                show=False, priority=True),
        Binding("question_mark,f1", "help", "Help", tooltip="Show every key", id="app.help"),
        Binding("ctrl+r", "review_patch", "Review patch",
                tooltip="Open the highlighted patch in the diff reviewer", id="app.review"),
        Binding("ctrl+q", "quit", "Quit", tooltip="Leave SAGE", id="app.quit", priority=True),
    ]

    def __init__(self, session_factory: SessionFactory | None = None, *,
                 intro: str | None = None, replay: list[dict[str, Any]] | None = None,
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
        self.patches: dict[str, Any] = {}
        self._approval: tuple[asyncio.Future[Decision], Screen[Any]] | None = None
        self._turn_running = False

    # -- start-up -----------------------------------------------------------------------
    def on_mount(self) -> None:
        if self.wanted_theme:
            if self.wanted_theme in self.available_themes:
                self.theme = self.wanted_theme
            else:
                self.notify(f"Theme {self.wanted_theme!r} is unknown; using the default.",
                            severity="warning")
        if self.keys:
            self.set_keymap(self.keys)
        self.call_after_refresh(self._start)

    def get_default_screen(self) -> Screen[Any]:
        return WorkbenchScreen()

    def _start(self) -> None:
        conversation = self.workbench.query_one(Conversation)
        if self.intro:
            conversation.add_note(self.intro)
        if self.replay_records is not None:
            prompt = self.workbench.query_one(PromptInput)
            prompt.disabled = True
            prompt.text = "replay: read-only"
            self._replay()
            return
        if self.session_factory is not None:
            self.session = self.session_factory(self.bridge)
            self.session.orchestrator.start()
            self._refresh_status()
            if self.session.orchestrator.backend_label == "ollama":
                self._check_ollama()

    @work(exclusive=True, group="health", exit_on_error=False)
    async def _check_ollama(self) -> None:
        """Say at once, in the banner, when Ollama is down or a model is not pulled."""
        from sage_tui.core.llm.errors import LLMError
        from sage_tui.core.llm.routing import lacks, missing_models

        assert self.session is not None
        llm = self.session.llm
        host = llm.router.default_host
        try:
            models = await llm.backend_for(host).list_models()
        except LLMError as exc:
            self.workbench.query_one(ErrorBanner).show(str(exc))
            return
        choices = [llm.router.primary(role) for role in ROLES]
        missing = missing_models({c.model for c in choices if c.host == host},
                                 (m.name for m in models))
        if missing:
            self.workbench.query_one(ErrorBanner).show(
                f"Ollama at {host} {lacks(missing)} (or pick other models in models.yaml).")

    @property
    def workbench(self) -> Screen[Any]:
        """The workbench screen, whatever screen is on top of it."""
        return self.screen_stack[0]

    def _refresh_status(self) -> None:
        if self.session is None:
            return
        orchestrator = self.session.orchestrator
        self.workbench.query_one(StatusBar).show(
            mode=orchestrator.mode, llm=self.session.llm, session_id=self.session.log.session_id,
            trace_id=self.session.log.trace_id, label=orchestrator.backend_label)

    # -- turns --------------------------------------------------------------------------
    @on(PromptInput.Submitted)
    def submit(self, message: PromptInput.Submitted) -> None:
        if self.session is None:
            return
        if self._turn_running:
            self.notify("A turn is running; escape stops it.", severity="warning")
            self.workbench.query_one(PromptInput).restore(message.text)
            return
        self.workbench.query_one(Conversation).add_user(message.text)
        self._turn_running = True
        self.run_turn(message.text)

    @work(exclusive=True, group="turn", exit_on_error=False)
    async def run_turn(self, text: str) -> None:
        assert self.session is not None
        try:
            result = await self.session.orchestrator.run_turn(text, on_delta=self.bridge.delta)
        except asyncio.CancelledError:
            self.post_message(TurnFinished(text, None, "cancelled"))
            raise
        except Exception as exc:  # never let a bug kill the workbench
            self.post_message(TurnFinished(text, None, f"{type(exc).__name__}: {exc}"))
            return
        self.post_message(TurnFinished(text, result))

    async def on_turn_finished(self, message: TurnFinished) -> None:
        self._turn_running = False
        conversation = self.workbench.query_one(Conversation)
        await conversation.end_answer()
        if message.error == "cancelled":
            conversation.add_note("Stopped. Nothing half-done was left behind.")
        elif message.error:
            conversation.add_error(f"Unexpected failure: {message.error}")
            self.workbench.query_one(PromptInput).restore(message.text)
        elif message.result is not None and message.result.status == "failed":
            self.workbench.query_one(PromptInput).restore(message.text)
        elif message.result is not None and message.result.status == "ok":
            self.workbench.query_one(ErrorBanner).hide()
        self._refresh_status()

    async def on_answer_delta(self, message: AnswerDelta) -> None:
        await self.workbench.query_one(Conversation).write_answer(message.text)

    # -- core events --------------------------------------------------------------------
    async def on_core_event_posted(self, message: CoreEventPosted) -> None:
        event = message.event
        record = {"ts": now_iso(),
                  "turn": self.session.orchestrator.turn if self.session else 0,
                  "event": str(event.name), "data": dict(event.data)}
        await self.show_record(record)

    async def show_record(self, record: dict[str, Any]) -> None:
        """Put one log record into every pane that cares (live events and replays alike)."""
        self.workbench.query_one(EventStream).add(record)
        name, data = record["event"], record.get("data") or {}
        conversation = self.workbench.query_one(Conversation)
        queue = self.workbench.query_one(PatchQueue)

        if name == "ROUTE_DECISION":
            conversation.add_note(summary(record))
        elif name in ("TOOL_RESULT", "TOOL_ERROR"):
            conversation.add_tool(f"{'✓' if name == 'TOOL_RESULT' and data.get('ok') else '✗'} "
                                  f"{summary(record)}", _detail(data))
        elif name == "PATCH_PROPOSED":
            queue.propose(str(data.get("patch_id")), list(data.get("files") or []),
                          int(data.get("hunks") or 0))
            if data.get("diff"):
                self.patches[str(data.get("patch_id"))] = data["diff"]
        elif name == "HUNK_DECISION":
            queue.decide(str(data.get("patch_id")), str(data.get("hunk_id")),
                         str(data.get("decision")))
        elif name in ("PATCH_APPLIED", "PATCH_FAILED", "PATCH_REVERTED"):
            queue.set_state(str(data.get("patch_id")), name.split("_")[1].lower())
        elif name == "TEST_RUN":
            conversation.add_note(f"tests: {summary(record)}")
        elif name == "ERROR":
            conversation.add_error(str(data.get("message", "")))
            if data.get("kind") in BANNER_KINDS:
                self.workbench.query_one(ErrorBanner).show(str(data.get("message", "")))
        elif name == "ASSISTANT_MESSAGE":
            await conversation.end_answer(str(data.get("text", "")))
        elif name == "USER_MESSAGE" and self.replay_records is not None:
            conversation.add_user(str(data.get("text", "")))
        if name in ("TOKEN_USAGE", "MODEL_ROUTING_DECISION"):
            self._refresh_status()

    # -- approvals ----------------------------------------------------------------------
    def on_approval_requested(self, message: ApprovalRequested) -> None:
        from sage_tui.ui.screens.modals import PlanModal, ToolAskModal

        request, future = message.request, message.future
        screen: Screen[Any]
        if request.checkpoint == "plan":
            screen = PlanModal(request)
        elif request.checkpoint == "tool":
            screen = ToolAskModal(request)
        else:
            from sage_tui.ui.screens.diff_review import DiffReviewScreen

            assert request.patch is not None
            self.patches[request.patch.patch_id] = request.patch.text()
            screen = DiffReviewScreen(request.patch, request.on_hunk)

        def resolve(decision: Decision | None) -> None:
            self._approval = None
            if not future.done():
                future.set_result(decision or Decision("reject", "closed"))

        self._approval = (future, screen)
        self.push_screen(screen, resolve)

    # -- actions ------------------------------------------------------------------------
    def action_stop(self) -> None:
        if not self._turn_running:
            return
        if self._approval is not None:
            future, screen = self._approval
            future.cancel()
            screen.dismiss(None)
        self.workers.cancel_group(self, "turn")

    def action_cycle_mode(self) -> None:
        if self.session is None:
            return
        orchestrator = self.session.orchestrator
        mode = MODES[(MODES.index(orchestrator.mode) + 1) % len(MODES)]
        orchestrator.set_mode(mode)
        self._refresh_status()
        self.notify(f"Mode: {mode}", timeout=2)

    def action_help(self) -> None:
        from sage_tui.ui.screens.diff_review import DiffReviewScreen
        from sage_tui.ui.screens.help import HelpScreen

        self.push_screen(HelpScreen([
            ("Workbench", [*self.BINDINGS, *WorkbenchScreen.BINDINGS]),
            ("Event stream", list(EventStream.BINDINGS)),
            ("Diff reviewer", list(DiffReviewScreen.BINDINGS)),
        ]))

    def action_review_patch(self) -> None:
        queue = self.workbench.query_one(PatchQueue)
        if not queue.patches:
            self.notify("No patch to review yet.", timeout=2)
            return
        ids = list(queue.patches)
        chosen = queue.highlighted if queue.highlighted is not None else len(ids) - 1
        self._open_patch(ids[chosen])  # the highlighted patch, else the latest

    @on(PatchQueue.OptionSelected)
    def patch_chosen(self, message: PatchQueue.OptionSelected) -> None:
        self._open_patch(str(message.option.id))

    def _open_patch(self, patch_id: str) -> None:
        text = self.patches.get(patch_id)
        if not text:
            self.notify("That patch's diff is not available here.", severity="warning")
            return
        from sage_tui.core.patch.model import parse_patch
        from sage_tui.ui.screens.diff_review import DiffReviewScreen

        self.push_screen(DiffReviewScreen(parse_patch(text, patch_id=patch_id),
                                          title=f"Patch {patch_id} (view only: decisions here "
                                          "are not applied)"))

    @on(EventStream.Selected)
    def event_chosen(self, message: EventStream.Selected) -> None:
        from sage_tui.ui.screens.modals import EventDetailModal

        self.push_screen(EventDetailModal(message.record))

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        stream = self.workbench.query_one(EventStream)
        targets: tuple[tuple[Any, Any], ...] = (
            (self.BINDINGS, self), (WorkbenchScreen.BINDINGS, screen),
            (EventStream.BINDINGS, stream))
        for bindings, target in targets:
            for binding in bindings:
                if isinstance(binding, Binding) and binding.description and binding.show:
                    yield SystemCommand(binding.description, binding.tooltip or "",
                                        _runner(target, binding.action))

    # -- replay -------------------------------------------------------------------------
    @work(exclusive=True, group="replay")
    async def _replay(self) -> None:
        assert self.replay_records is not None
        previous = None
        for record in self.replay_records:
            parsed = parse_ts(record.get("ts"))
            moment = parsed.timestamp() if parsed is not None else None
            if previous is not None and moment is not None and self.replay_speed > 0:
                await asyncio.sleep(min(2.0, max(0.0, moment - previous) / self.replay_speed))
            previous = moment if moment is not None else previous
            await self.show_record(record)
        self.workbench.query_one(Conversation).add_note(f"End of the recording "
                                              f"({len(self.replay_records)} events).")

    async def on_unmount(self) -> None:
        if self.session is not None:
            if self._turn_running:
                self.workers.cancel_group(self, "turn")
            await self.session.orchestrator.finish("ok")
            await self.session.aclose()
            self.session.close_log()


def _runner(target: Any, action: str) -> Callable[[], Any]:
    async def run() -> None:
        await target.run_action(action)

    return run


def _detail(data: dict[str, Any]) -> str:
    import json

    return json.dumps(data, indent=2, ensure_ascii=False, default=str)[:4000]
