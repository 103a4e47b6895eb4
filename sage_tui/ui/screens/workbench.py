"""The workbench: conversation on the left, routing/event stream and patch queue on the right."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import Footer, Static

from sage_tui.ui.actions import bindings
from sage_tui.ui.records import Record, RecordPane, dispatch
from sage_tui.ui.widgets.banner import ErrorBanner
from sage_tui.ui.widgets.busy import BusyLine
from sage_tui.ui.widgets.conversation import Conversation
from sage_tui.ui.widgets.event_stream import EventStream
from sage_tui.ui.widgets.patch_queue import PatchQueue
from sage_tui.ui.widgets.prompt import PromptInput
from sage_tui.ui.widgets.status_bar import StatusBar

SHOWN_TURNS = 30  # turns a continued session redraws in the conversation (all are in the log)

if TYPE_CHECKING:
    from textual.widgets import Input

    from sage_tui.core.agent.resume import History
    from sage_tui.factory import Session


class WorkbenchScreen(Screen[None]):
    """Panes only; the app hands them log records, and each shows the events it cares about."""

    ACTION_OWNERS: ClassVar[tuple[str, ...]] = ("workbench", "events", "prompt", "conversation")
    BINDINGS: ClassVar[list[BindingType]] = bindings("workbench")

    def action_target(self, owner: str) -> Widget:
        """Where an owner's actions run, for the command palette."""
        widgets: dict[str, type[Widget]] = {"events": EventStream, "prompt": PromptInput,
                                             "conversation": Conversation}
        return self.query_one(widgets[owner]) if owner in widgets else self

    @property
    def panes(self) -> list[RecordPane]:
        """The panes that show records, in the order they should see each one."""
        return [self.query_one(Conversation), self.query_one(PatchQueue),
                self.query_one(ErrorBanner), self.query_one(StatusBar), self.query_one(BusyLine)]

    def compose(self) -> ComposeResult:
        yield ErrorBanner(id="banner")
        with Horizontal(id="panes"):
            yield Conversation(id="conversation")
            with Vertical(id="side"):
                yield Static("Routing & events", id="events-title")
                # The filter box (#event-filter) is mounted here when first asked for.
                yield EventStream(id="events")
                yield PatchQueue(id="patches")
                yield Static("", id="context", markup=False)
        yield BusyLine(id="busy")
        yield PromptInput(id="prompt")
        yield StatusBar(id="status")
        yield Footer()

    async def turn_over(self) -> Conversation:
        """A turn ended, however it ended: close its answer and clear the busy line."""
        self.query_one(BusyLine)._done()
        self.show_context()  # a message may have pinned @files
        conversation = self.query_one(Conversation)
        await conversation.end_answer()
        return conversation

    def begin(self, session: Session) -> None:
        """A session starts here; one continued from its log first has the log redrawn (the
        newest turns in the conversation, every kept record in the event stream and the patch
        queue). Only then does it take input, and the app calls it its session."""
        history = session.orchestrator.resumed
        if history is None:
            session.orchestrator.start()
            self._started(session)
        else:
            self.query_one(PromptInput).disabled = True  # at once: no key before the redraw
            self.run_worker(self._continue(session, history), group="resume")

    def _started(self, session: Session) -> None:
        self.app.session = session  # type: ignore[attr-defined]
        prompt = self.query_one(PromptInput)
        prompt.disabled = False
        prompt.focus()
        self.attach(session)

    async def _continue(self, session: Session, history: History) -> None:
        records = list(history.records)
        first = conversation_start(records)
        conversation, stream = self.query_one(Conversation), self.query_one(EventStream)
        if first > 0 or (records and int(records[0].get("seq") or 0) > 1):
            conversation.add_note("Earlier turns of this session are in `sage trace` and in the "
                                  "event stream.")
        side: list[RecordPane] = [self.query_one(PatchQueue), self.query_one(StatusBar)]
        conversation.hold()
        for index, record in enumerate(records):
            stream.add(record)
            await dispatch(record, [conversation, *side] if index >= first else side)
        await conversation.end_answer()
        await conversation.release()
        queue = self.query_one(PatchQueue)
        for patch_id in session.orchestrator.waiting:  # one cut off mid-review waits as well
            queue.set_state(patch_id, "waiting")
        session.orchestrator.start()  # SESSION_RESUMED
        self._started(session)

    def attach(self, session: Session) -> None:
        """A session starts here: recall what was sent in this workspace before, and check
        the model server at once (the banner says what is wrong)."""
        prompt = self.query_one(PromptInput)
        if session.state is not None:
            prompt.keep_history(session.state / "history.jsonl")
        from sage_tui.core.workspace.retrieval import list_workspace_files

        files = session.orchestrator.experts.files
        assert files is not None
        prompt.file_names = lambda: [name for name in list_workspace_files(files.root)
                                     if not files.hidden(name)]  # @path completion
        self.show_context()
        if session.live:
            self.query_one(ErrorBanner).check(session.llm)

    def on_mount(self) -> None:
        context = self.query_one("#context", Static)
        context.border_title, context.display = "Context", False
        self.query_one(PromptInput).focus()

    def show_context(self) -> None:
        """The "Context" box: what goes into every prompt besides the conversation (files
        pinned with @path or /add, the project's instruction files); hidden when empty."""
        session = getattr(self.app, "session", None)
        if session is None:
            return
        experts = session.orchestrator.experts
        lines = [f"@{path}" + (f":{lines[0]}-{lines[1]}" if lines else "")
                 for path, lines in experts.pinned.items()]
        lines += [f"{name} (instructions)" for name in experts.instruction_files
                  if experts.readable(name)]
        box = self.query_one("#context", Static)
        box.update("\n".join(lines))
        box.display = bool(lines)

    async def action_filter(self) -> None:
        from textual.widgets import Input

        boxes = self.query("#event-filter").results(Input)
        box = next(boxes, None)
        if box is None:  # first use: not built before the first frame, which never shows it
            box = Input(placeholder="filter: TOOL_* ERROR role:coder (enter applies, "
                        "empty clears)", id="event-filter")
            await self.query_one("#side").mount(box, after="#events-title")
        box.display = True
        box.value = self.query_one(EventStream).filter_text
        box.focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id == "event-filter":
            stream = self.query_one(EventStream)
            stream.set_filter(event.value)
            title = f"Routing & events — filter: {event.value}" if event.value.strip() \
                else "Routing & events"
            self.query_one("#events-title", Static).update(title)
            event.input.display = False
            stream.focus()

    def action_focus_events(self) -> None:
        self.query_one(EventStream).focus()

    def action_focus_patches(self) -> None:
        self.query_one(PatchQueue).focus()

    def action_focus_prompt(self) -> None:
        self.query_one(PromptInput).focus()

    def action_copy_answer(self) -> None:
        self._copy(self.query_one(Conversation).last_answer(), "the last answer")

    def action_copy_code(self) -> None:
        blocks = re.findall(r"```[^\n]*\n(.*?)```", self.query_one(Conversation).last_answer(),
                            re.S)
        self._copy(blocks[-1] if blocks else "", "the last code block")

    def _copy(self, text: str, what: str) -> None:
        if not text:
            self.notify(f"There is no {what.removeprefix('the ')} to copy yet.", timeout=3)
            return
        self.app.copy_to_clipboard(text)  # OSC 52: works over ssh and in tmux with it on
        self.notify(f"Copied {what} ({len(text):,} characters).", timeout=2)

    def action_focus_conversation(self) -> None:
        self.query_one(Conversation).focus()

    def action_review_patch(self) -> None:
        queue = self.query_one(PatchQueue)
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
        """A waiting patch reopens for deciding; any other shows its recorded decisions."""
        open_waiting = getattr(self.app, "open_waiting", None)
        if open_waiting is not None and open_waiting(patch_id):
            return
        queue = self.query_one(PatchQueue)
        text = queue.diff(patch_id)
        if not text:
            self.notify("That patch's diff is not available here.", severity="warning")
            return
        from sage_tui.core.patch.review import recorded_review
        from sage_tui.ui.screens.diff_review import DiffReviewScreen

        queued = queue.patches[patch_id]
        review = recorded_review(text, patch_id, queued.decided)
        self.app.push_screen(DiffReviewScreen(review.patch, review=review, view_only=True,
                                              title=f"Patch {patch_id}, {queued.state} "
                                              "(view only)"))

    @on(EventStream.Selected)
    def event_chosen(self, message: EventStream.Selected) -> None:
        from sage_tui.ui.screens.modals import EventDetailModal

        self.app.push_screen(EventDetailModal(message.record))


def conversation_start(records: list[Record]) -> int:
    """The index of the first record the conversation redraws: after the last `/clear`, and
    no more than the newest `SHOWN_TURNS` turns."""
    start = 0
    for index, record in enumerate(records):
        if record.get("event") == "CONVERSATION_CLEARED":
            start = index + 1
    turns = sorted({int(r.get("turn") or 0) for r in records[start:]})
    if len(turns) > SHOWN_TURNS:
        oldest = turns[-SHOWN_TURNS]
        start = next(i for i in range(start, len(records))
                     if int(records[i].get("turn") or 0) >= oldest)
    return start
