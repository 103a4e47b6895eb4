"""Modal screens: plan and tool checkpoints, hunk edit, comment, event details.

Each is a `ModalScreen[...]` whose every exit, Escape included, calls `dismiss`, so
whatever waits on it (the orchestrator, ultimately) always gets an answer.
"""

from __future__ import annotations

import json
from typing import Any, ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Markdown, Static, TextArea

from sage_tui.core.agent.approval import ApprovalRequest, Decision
from sage_tui.core.patch.model import Hunk

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

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("a", "approve", "Approve", id="plan.approve", tooltip="Approve the plan"),
        Binding("r", "reject", "Reject", id="plan.reject", tooltip="Reject the plan"),
        Binding("e", "edit", "Edit", id="plan.edit", tooltip="Edit the steps"),
        Binding("t", "respond", "Tell it", id="plan.respond",
                tooltip="Tell it what to do differently"),
        Binding("escape", "reject", "Reject", id="plan.escape", show=False),
    ]
    DEFAULT_CSS = MODAL_CSS.format(name="PlanModal")

    def __init__(self, request: ApprovalRequest) -> None:
        super().__init__()
        self.request = request

    def compose(self) -> ComposeResult:
        steps = "\n".join(f"{i}. {s}" for i, s in enumerate(self.request.steps, start=1))
        with Vertical():
            yield Label("Plan checkpoint: approve the plan?", classes="title")
            with VerticalScroll():
                yield Markdown(steps or "_(no steps)_")
            yield TextArea(id="plan-edit")
            yield Input(placeholder="Tell it what to do differently, then Enter", id="plan-say")
            with Horizontal(classes="buttons"):
                yield Button("Approve (a)", id="approve", variant="success")
                yield Button("Reject (r)", id="reject", variant="error")
                yield Button("Edit (e)", id="edit")
                yield Button("Tell it… (t)", id="respond", variant="primary")

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
        editor.text = "\n".join(self.request.steps)
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

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("o", "once", "Allow once", id="tool.once", tooltip="Allow this call"),
        Binding("s", "session", "Allow for session", id="tool.session",
                tooltip="Allow this call for the rest of the session"),
        Binding("d", "deny", "Deny", id="tool.deny", tooltip="Deny this call"),
        Binding("escape", "deny", "Deny", id="tool.escape", show=False),
    ]
    DEFAULT_CSS = MODAL_CSS.format(name="ToolAskModal")

    def __init__(self, request: ApprovalRequest) -> None:
        super().__init__()
        self.request = request

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label("Tool checkpoint: the policy asks you", classes="title")
            yield Static(f"[b]{self.request.tool}[/b] wants to run on:", markup=True)
            yield Static(str(self.request.target), markup=False, id="tool-target")
            yield Input(placeholder="Optional: what it should do instead (sent with Deny)",
                        id="tool-reason")
            with Horizontal(classes="buttons"):
                yield Button("Allow once (o)", id="once", variant="success")
                yield Button("Allow for this session (s)", id="session", variant="primary")
                yield Button("Deny (d)", id="deny", variant="error")

    def on_mount(self) -> None:
        self.query_one("#once", Button).focus()

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

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+s", "save", "Keep edit", id="edit.save", priority=True),
        Binding("escape", "cancel", "Cancel", id="edit.cancel"),
    ]
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
            yield Label("ctrl+s keeps the edit and approves the hunk · escape cancels",
                        classes="hint")

    def on_mount(self) -> None:
        self.query_one(TextArea).focus()

    def action_save(self) -> None:
        self.dismiss(self.query_one(TextArea).text)

    def action_cancel(self) -> None:
        self.dismiss(None)


class CommentModal(ModalScreen[str | None]):
    """One line of feedback for the model."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel", id="comment.cancel")]
    DEFAULT_CSS = MODAL_CSS.format(name="CommentModal")

    def __init__(self, title: str) -> None:
        super().__init__()
        self.heading = title

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(self.heading, classes="title")
            yield Input(placeholder="What should the model know? Enter sends, escape cancels")

    def on_mount(self) -> None:
        self.query_one(Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.dismiss(event.value.strip() or None)

    def action_cancel(self) -> None:
        self.dismiss(None)


class EventDetailModal(ModalScreen[None]):
    """The full JSON of one log record."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,enter,q", "close", "Close", id="detail.close")]
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
            yield Label("escape closes", classes="hint")

    def action_close(self) -> None:
        self.dismiss(None)
