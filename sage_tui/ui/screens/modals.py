"""Modal screens: plan and tool checkpoints, hunk edit, comment, event details.

Each is a `ModalScreen[...]` whose every exit, Escape included, calls `dismiss`, so
whatever waits on it (the orchestrator, ultimately) always gets an answer.
"""

from __future__ import annotations

import json
from typing import Any, ClassVar

from textual.app import ComposeResult
from textual.binding import BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Footer, Input, Label, Markdown, Static, TextArea

from sage_tui.core.agent.approval import ApprovalRequest, Decision
from sage_tui.core.log.safetext import shown
from sage_tui.core.patch.model import Hunk
from sage_tui.ui.actions import bindings, keys_of

MODAL_CSS = """
{name} {{ align: center middle; }}
{name} > Vertical {{ width: 90; max-width: 95%; height: auto; max-height: 90%;
                   border: thick $primary; background: $surface; padding: 1 2; }}
{name} .title {{ text-style: bold; color: $primary; margin-bottom: 1; }}
{name} .buttons {{ height: auto; margin-top: 1; }}
{name} Button {{ margin-right: 1; }}
{name} .hint {{ color: $text-muted; }}
{name} VerticalScroll {{ height: auto; max-height: 20; }}
"""


class PlanModal(ModalScreen[Decision]):
    """Approve / Reject / Edit / "Tell it what to do differently"."""

    ACTION_OWNERS: ClassVar[tuple[str, ...]] = ("plan",)
    BINDINGS: ClassVar[list[BindingType]] = bindings("plan")
    DEFAULT_CSS = MODAL_CSS.format(name="PlanModal")

    def __init__(self, request: ApprovalRequest) -> None:
        super().__init__()
        self.request = request

    def compose(self) -> ComposeResult:
        steps = "\n".join(f"{i}. {shown(s)}" for i, s in enumerate(self.request.steps, start=1))
        keys = keys_of(self.app)
        with Vertical():
            yield Label("Plan checkpoint: approve the plan?", classes="title")
            with VerticalScroll():
                yield Markdown(steps or "_(no steps)_")
            yield TextArea(id="plan-edit")
            yield Input(placeholder="Tell it what to do differently, then Enter", id="plan-say")
            with Horizontal(classes="buttons"):
                yield Button(f"Approve ({keys.key('plan.approve')})", id="approve", variant="success")
                yield Button(f"Reject ({keys.key('plan.reject')})", id="reject", variant="error")
                yield Button(f"Edit ({keys.key('plan.edit')})", id="edit")
                yield Button(f"Tell it… ({keys.key('plan.respond')})", id="respond", variant="primary")
        yield Footer()  # this checkpoint's keys, not the workbench's underneath

    def on_mount(self) -> None:
        self.query_one("#plan-edit").display = False
        self.query_one("#plan-say").display = False
        self.query_one("#approve", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        action = {"approve": self.action_approve, "reject": self.action_reject,
                  "edit": self.action_edit, "respond": self.action_respond}.get(event.button.id
                                                                                or "")
        if action is not None:
            action()

    def action_approve(self) -> None:
        editor = self.query_one("#plan-edit", TextArea)
        if editor.display:
            steps = [line.strip(" -0123456789.") for line in editor.text.splitlines()]
            self.dismiss(Decision("edit", steps=[s for s in steps if s]))
        else:
            self.dismiss(Decision("approve"))

    def action_reject(self) -> None:
        self.dismiss(Decision("reject", "rejected in the workbench"))

    def action_edit(self) -> None:
        editor = self.query_one("#plan-edit", TextArea)
        editor.text = "\n".join(shown(s) for s in self.request.steps)  # as the log shows them
        editor.display = True
        editor.focus()
        self.notify("Edit the steps, one per line; then press Approve.", timeout=3)

    def action_respond(self) -> None:
        box = self.query_one("#plan-say", Input)
        box.display = True
        box.focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.value.strip():
            self.dismiss(Decision("respond", event.value.strip()))


class ToolAskModal(ModalScreen[Decision]):
    """A policy `ask`: Allow once / Allow for this session / Deny."""

    ACTION_OWNERS: ClassVar[tuple[str, ...]] = ("tool",)
    BINDINGS: ClassVar[list[BindingType]] = bindings("tool")
    DEFAULT_CSS = MODAL_CSS.format(name="ToolAskModal")

    def __init__(self, request: ApprovalRequest) -> None:
        super().__init__()
        self.request = request

    def compose(self) -> ComposeResult:
        keys = keys_of(self.app)
        with Vertical():
            yield Label("Tool checkpoint: the policy asks you", classes="title")
            yield Static(f"[b]{self.request.tool}[/b] wants to run on:", markup=True)
            yield Static(shown(str(self.request.target)), markup=False, id="tool-target")
            yield Input(placeholder="Say what to do instead, Enter denies; Tab for the buttons",
                        id="tool-reason")
            with Horizontal(classes="buttons"):
                yield Button(f"Allow once ({keys.key('tool.once')})", id="once", variant="success")
                yield Button(f"Allow for this session ({keys.key('tool.session')})",
                             id="session", variant="primary")
                yield Button(f"Deny ({keys.key('tool.deny')})", id="deny", variant="error")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#tool-reason", Input).focus()  # typing goes here, never to a shortcut

    def on_button_pressed(self, event: Button.Pressed) -> None:
        {"once": self.action_once, "session": self.action_session,
         "deny": self.action_deny}[event.button.id or "deny"]()

    def action_once(self) -> None:
        self.dismiss(Decision("approve"))

    def action_session(self) -> None:
        self.dismiss(Decision("approve_session"))

    def action_deny(self) -> None:
        reason = self.query_one("#tool-reason", Input).value.strip()
        self.dismiss(Decision("reject", reason or None))

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.action_deny()


class EditHunkModal(ModalScreen[str | None]):
    """Edit a hunk's new side; Ctrl+S keeps it, Escape drops the edit."""

    ACTION_OWNERS: ClassVar[tuple[str, ...]] = ("edit",)
    BINDINGS: ClassVar[list[BindingType]] = bindings("edit")
    DEFAULT_CSS = MODAL_CSS.format(name="EditHunkModal") + \
        "EditHunkModal TextArea { height: 20; }"

    def __init__(self, hunk: Hunk) -> None:
        super().__init__()
        self.hunk = hunk

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(f"Edit the new side of {self.hunk.path} {self.hunk.header}",
                        classes="title")
            yield TextArea("\n".join(self.hunk.new_lines), id="edit-text", show_line_numbers=True)
            yield Label(keys_of(self.app).hint(("edit.save", "keeps the edit and approves the hunk"),
                                             ("edit.cancel", "cancels")), classes="hint",
                        markup=False)

    def on_mount(self) -> None:
        self.query_one(TextArea).focus()

    def action_save(self) -> None:
        self.dismiss(self.query_one(TextArea).text)

    def action_cancel(self) -> None:
        self.dismiss(None)


class CommitModal(ModalScreen[str | None]):
    """The commit message SAGE suggests, editable; Ctrl+S commits, Escape does not."""

    ACTION_OWNERS: ClassVar[tuple[str, ...]] = ("commit",)
    BINDINGS: ClassVar[list[BindingType]] = bindings("commit")
    DEFAULT_CSS = MODAL_CSS.format(name="CommitModal") + "CommitModal TextArea { height: 12; }"

    def __init__(self, files: list[str], message: str) -> None:
        super().__init__()
        self.files, self.message = files, message

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(f"Commit these changes? {len(self.files)} file(s): "
                        f"{shown(', '.join(self.files))}", classes="title", markup=False)
            yield TextArea(shown(self.message), id="commit-message")
            yield Label(keys_of(self.app).hint(("commit.save", "commits (the trailer naming the "
                                                "model and session is added)"),
                                               ("commit.cancel", "does not")),
                        classes="hint", markup=False)

    def on_mount(self) -> None:
        self.query_one(TextArea).focus()

    def action_save(self) -> None:
        text = self.query_one(TextArea).text
        if not text.strip():
            self.notify("A commit needs a message.", severity="warning")
            return
        self.dismiss(text)

    def action_cancel(self) -> None:
        self.dismiss(None)


class CommentModal(ModalScreen[str | None]):
    """One line of feedback for the model."""

    ACTION_OWNERS: ClassVar[tuple[str, ...]] = ("comment",)
    BINDINGS: ClassVar[list[BindingType]] = bindings("comment")
    DEFAULT_CSS = MODAL_CSS.format(name="CommentModal")

    def __init__(self, title: str) -> None:
        super().__init__()
        self.heading = title

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(self.heading, classes="title")
            yield Input(placeholder="What should the model know? Enter sends, "
                        f"{keys_of(self.app).key('comment.cancel')} cancels")

    def on_mount(self) -> None:
        self.query_one(Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.dismiss(event.value.strip() or None)

    def action_cancel(self) -> None:
        self.dismiss(None)


class EventDetailModal(ModalScreen[None]):
    """The full JSON of one log record."""

    ACTION_OWNERS: ClassVar[tuple[str, ...]] = ("detail",)
    BINDINGS: ClassVar[list[BindingType]] = bindings("detail")
    DEFAULT_CSS = MODAL_CSS.format(name="EventDetailModal") + \
        "EventDetailModal VerticalScroll { height: auto; max-height: 30; }"

    def __init__(self, record: dict[str, Any]) -> None:
        super().__init__()
        self.record = record

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(f"{self.record.get('event')} · seq {self.record.get('seq', '?')} · "
                        f"turn {self.record.get('turn', '?')}", classes="title")
            with VerticalScroll():
                yield Static(json.dumps(self.record, indent=2, ensure_ascii=False), markup=False)
            yield Label(keys_of(self.app).hint(("detail.close", "closes")), classes="hint",
                        markup=False)

    def action_close(self) -> None:
        self.dismiss(None)


class ConfirmModal(ModalScreen[bool]):
    """A yes/no question; "no" is focused, and Escape answers no."""

    ACTION_OWNERS: ClassVar[tuple[str, ...]] = ("confirm",)
    BINDINGS: ClassVar[list[BindingType]] = bindings("confirm")
    DEFAULT_CSS = MODAL_CSS.format(name="ConfirmModal")

    def __init__(self, question: str, yes: str, no: str) -> None:
        super().__init__()
        self.question, self.yes, self.no = question, yes, no

    def compose(self) -> ComposeResult:
        keys = keys_of(self.app)
        with Vertical():
            yield Label(self.question, classes="title", markup=False)
            with Horizontal(classes="buttons"):
                yield Button(f"{self.yes} ({keys.key('confirm.yes')})", id="yes",
                             variant="warning")
                yield Button(f"{self.no} ({keys.key('confirm.no')})", id="no", variant="primary")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#no", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")

    def action_yes(self) -> None:
        self.dismiss(True)

    def action_no(self) -> None:
        self.dismiss(False)


def mode_question(mode: str, waiting: list[str]) -> ConfirmModal:
    """Switching to auto or silent while a patch waits: the person says so first."""
    return ConfirmModal(
        f"Switch to {mode}? Patch {', '.join(waiting)} waits for your review. In {mode} mode "
        "new plans and patches are approved without asking; the waiting patch stays in the "
        "queue for you to decide.", f"Switch to {mode}", "Stay in research")
