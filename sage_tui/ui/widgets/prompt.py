"""The message input: Enter sends, Ctrl+J adds a line, Up/Down walk the history."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import ClassVar

from textual import events
from textual.binding import BindingType
from textual.message import Message
from textual.widgets import TextArea

from sage_tui.ui.actions import bindings, keys_of

HISTORY = 1000  # lines of input history kept per workspace


class PromptInput(TextArea):
    """A multi-line input with shell-like history."""

    BINDINGS: ClassVar[list[BindingType]] = bindings("prompt")
    DEFAULT_CSS = """
    PromptInput { height: auto; max-height: 8; min-height: 3; border: tall $primary; }
    PromptInput:disabled { border: tall $panel; }
    """

    class Submitted(Message):
        """The user sent a message."""

        def __init__(self, text: str) -> None:
            super().__init__()
            self.text = text

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, soft_wrap=True, show_line_numbers=False, tab_behavior="focus")
        self.sent: list[str] = []
        self._position: int | None = None
        self._draft = ""
        self.file_names: Callable[[], list[str]] | None = None  # the workspace's, for @path
        self._cycle: tuple[str, list[str], int] | None = None  # Tab again: the next match

    async def _on_key(self, event: events.Key) -> None:
        if event.key in keys_of(self.app).keys("prompt.newline").split(","):
            event.prevent_default()  # here, not through the binding: in order with typed text
            event.stop()
            self.insert("\n")
            return
        if event.key == "tab" and self._mention() is not None:
            event.prevent_default()  # Tab completes @path (or /add's path) from the files
            event.stop()
            self._complete_file()
            return
        if event.key == "tab" and self.text.startswith("/") and "\n" not in self.text:
            event.prevent_default()  # Tab completes a command (it moves focus elsewhere)
            event.stop()
            self._complete()
            return
        if event.key != "tab":
            self._cycle = None
        if event.character == "?" and not self.text:  # as the welcome text says: every key
            event.prevent_default()
            event.stop()
            await self.app.run_action("help")
            return
        if event.key == "enter":
            event.prevent_default()
            event.stop()
            text = self.text.strip()
            if text:
                self.sent.append(text)
                self._position = None
                self.clear()
                self._remember(text)
                self.post_message(self.Submitted(text))
            return
        if event.key == "up" and self.cursor_location[0] == 0 and self.sent:
            event.prevent_default()
            event.stop()
            self._walk(-1)
            return
        if event.key == "down" and self.cursor_location[0] == self.document.line_count - 1 \
                and self._position is not None:
            event.prevent_default()
            event.stop()
            self._walk(1)
            return
        await super()._on_key(event)

    def _complete(self) -> None:
        from sage_tui.ui.slash import candidates, complete

        done = complete(self.text)
        if done is not None:
            self.text = done
            self.move_cursor(self.document.end)
        else:
            options = candidates(self.text)
            self.notify("  ".join(options) if options else f"No command starts with {self.text}",
                        timeout=4)

    def _mention(self) -> str | None:
        """The `@fragment` being typed at the end of the input, if any."""
        if self.cursor_location != self.document.end or self.file_names is None \
                or not self.text.strip() or self.text[-1].isspace():
            return None
        word = self.text.rsplit(None, 1)[-1]
        path_command = self.text.startswith(("/add ", "/drop ")) and not word.startswith("/")
        return word if word.startswith("@") or path_command else None

    def _complete_file(self) -> None:
        """Complete `@frag` to the best-ranked file; Tab again cycles through the others."""
        from sage_tui.core.workspace.fuzzy import rank

        if self._cycle is not None:
            before, matches, index = self._cycle
            index = (index + 1) % len(matches)
        else:
            word = self.text.rsplit(None, 1)[-1]
            before = self.text[:len(self.text) - len(word)]
            assert self.file_names is not None
            at = "@" if word.startswith("@") else ""  # /add takes bare paths
            matches = [f"{at}{name}" for name in rank(word[len(at):], self.file_names(),
                                                      limit=12)]
            if not matches:
                self.notify(f"No file in this workspace matches {word}.", timeout=3)
                return
            index = 0
            if len(matches) > 1:
                self.notify("  ".join(matches[:8]) + ("  …" if len(matches) > 8 else "")
                            + "  (Tab: next)", timeout=5)
        self._cycle = (before, matches, index)
        self.text = before + matches[index]
        self.move_cursor(self.document.end)

    def keep_history(self, path: Path) -> None:
        """Recall (up/down) what was sent in earlier sessions in this workspace, and keep
        what is sent now: `path` is in SAGE's state folder (0600, the last HISTORY lines)."""
        self.history_file = path
        try:
            lines = path.read_text(encoding="utf-8").splitlines()[-HISTORY:]
        except OSError:
            lines = []
        earlier = []
        for line in lines:
            try:
                earlier.append(str(json.loads(line)))
            except ValueError:
                continue  # a torn line: skip it, keep the rest
        self.sent[:0] = earlier

    def _remember(self, text: str) -> None:
        path = getattr(self, "history_file", None)
        if path is None:
            return
        try:
            fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW, 0o600)
            with os.fdopen(fd, "a", encoding="utf-8") as handle:
                handle.write(json.dumps(text, ensure_ascii=False) + "\n")
        except OSError:
            pass  # history is a convenience: a full disk never costs a message

    def _walk(self, step: int) -> None:
        if self._position is None:
            self._draft = self.text
            self._position = len(self.sent)
        self._position = max(0, min(len(self.sent), self._position + step))
        self.text = self.sent[self._position] if self._position < len(self.sent) \
            else self._draft
        if self._position == len(self.sent):
            self._position = None
        self.move_cursor(self.document.end)

    def action_newline(self) -> None:
        self.insert("\n")

    def freeze(self, why: str) -> None:
        """Take no input; show `why` instead (a replay is read-only)."""
        self.disabled = True
        self.text = why

    def restore(self, text: str) -> None:
        """Put a message back (after a failed turn) so nothing typed is lost: into the empty
        input, or, when you have typed since, in front of what you typed."""
        typed = self.text
        self.text = text if not typed.strip() or typed == text else f"{text}\n{typed}"
        self.move_cursor(self.document.end)
