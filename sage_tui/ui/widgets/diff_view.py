"""A diff, side by side (old | new) or unified, rendered one visible line at a time.

Rows are a light model built once per patch (a 10,000-line patch is a list of small
tuples); styling happens only for the lines on screen: syntax colours from Pygments,
changed words highlighted inside changed lines, line numbers on both sides, the
current hunk marked in the gutter.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, ClassVar

from pygments.lexers import get_lexer_by_name, get_lexer_for_filename
from pygments.util import ClassNotFound
from rich.segment import Segment
from rich.style import Style
from rich.syntax import Syntax
from textual.geometry import Size
from textual.reactive import reactive
from textual.strip import Strip
from textual.worker import Worker, WorkerState

from sage_tui.core.patch.model import Hunk, Patch
from sage_tui.ui.widgets.linescroll import LineScrollView

UNIFIED_BELOW = 90  # columns of diff: narrower panes get the unified view
NUMBER = 5
THEME = Syntax.get_theme("ansi_dark")


@dataclass(frozen=True)
class Row:
    kind: str  # "file", "hunk", "line"
    hunk_id: str = ""
    text: str = ""
    old_no: int | None = None
    old: str | None = None
    new_no: int | None = None
    new: str | None = None
    change: str = " "  # " " context, "-" removed, "+" added, "~" changed pair


def build_rows(patch: Patch, unified: bool) -> tuple[list[Row], dict[str, int]]:
    """Rows for a patch, and the row index of each hunk's header."""
    rows: list[Row] = []
    starts: dict[str, int] = {}
    for file in patch.files:
        tag = " (new file)" if file.is_new else " (deleted)" if file.is_deleted else ""
        rows.append(Row("file", text=f"{file.path}{tag}"))
        for hunk in file.hunks:
            starts[hunk.hunk_id] = len(rows)
            rows.append(Row("hunk", hunk.hunk_id, hunk.header))
            rows.extend(_hunk_rows(hunk, unified))
    return rows, starts


def _hunk_rows(hunk: Hunk, unified: bool) -> list[Row]:
    out: list[Row] = []
    old_no, new_no = hunk.source_start, hunk.target_start
    removed: list[tuple[int, str]] = []
    added: list[tuple[int, str]] = []

    def flush() -> None:
        if unified:
            out.extend(Row("line", hunk.hunk_id, old_no=n, old=t, change="-") for n, t in removed)
            out.extend(Row("line", hunk.hunk_id, new_no=n, new=t, change="+") for n, t in added)
        else:
            for i in range(max(len(removed), len(added))):
                old = removed[i] if i < len(removed) else (None, None)
                new = added[i] if i < len(added) else (None, None)
                change = "~" if old[1] is not None and new[1] is not None else (
                    "-" if old[1] is not None else "+")
                out.append(Row("line", hunk.hunk_id, old_no=old[0], old=old[1], new_no=new[0],
                               new=new[1], change=change))
        removed.clear()
        added.clear()

    for line in hunk.lines:
        mark, text = line[:1], line[1:]
        if mark == "-":
            removed.append((old_no, text))
            old_no += 1
        elif mark == "+":
            added.append((new_no, text))
            new_no += 1
        elif mark == " ":
            flush()
            out.append(Row("line", hunk.hunk_id, old_no=old_no, old=text, new_no=new_no, new=text))
            old_no += 1
            new_no += 1
    flush()
    return out


# Asking Pygments by file name scans every lexer's patterns (a quarter of a second):
# the usual extensions go straight to their lexer by name.
_BY_EXTENSION = {".py": "python", ".pyi": "python", ".js": "javascript", ".mjs": "javascript",
                 ".ts": "typescript", ".tsx": "tsx", ".jsx": "jsx", ".json": "json",
                 ".md": "markdown", ".toml": "toml", ".yaml": "yaml", ".yml": "yaml",
                 ".rs": "rust", ".go": "go", ".c": "c", ".h": "c", ".cpp": "cpp", ".java": "java",
                 ".rb": "ruby", ".sh": "bash", ".html": "html", ".css": "css", ".sql": "sql"}
_LEXERS: dict[str, Any] = {}  # filled off the event loop by `warm_lexer`


def warm_lexer(path: str) -> None:
    """Find and compile the lexer for `path` (slow the first time: call it in a thread)."""
    if path in _LEXERS:
        return
    suffix = "." + path.rsplit(".", 1)[-1].lower() if "." in path.rsplit("/", 1)[-1] else ""
    try:
        if suffix in _BY_EXTENSION:
            lexer = get_lexer_by_name(_BY_EXTENSION[suffix], stripnl=False, ensurenl=False)
        else:
            lexer = get_lexer_for_filename(path, stripnl=False, ensurenl=False)
        list(lexer.get_tokens("x"))  # compiles its rules now, not on first paint
    except ClassNotFound:
        lexer = None
    _LEXERS[path] = lexer


@lru_cache(maxsize=8192)
def _highlight(path: str, text: str) -> tuple[tuple[str, Style], ...]:
    lexer = _LEXERS.get(path)
    if lexer is None:
        return ((text, Style()),)
    return tuple((value, THEME.get_style_for_token(token)) for token, value
                 in lexer.get_tokens(text) if value and value != "\n")


Spans = tuple[tuple[int, int], ...]


@lru_cache(maxsize=4096)
def _words(old: str, new: str) -> tuple[Spans, Spans]:
    """Character spans that differ between two lines, on each side (each key press repaints)."""
    matcher = difflib.SequenceMatcher(a=old, b=new, autojunk=False)
    a, b = [], []
    for op, a1, a2, b1, b2 in matcher.get_opcodes():
        if op != "equal":
            if a2 > a1:
                a.append((a1, a2))
            if b2 > b1:
                b.append((b1, b2))
    return tuple(a), tuple(b)


class DiffView(LineScrollView, can_focus=True):
    """Shows one patch; the screen around it owns the keys and the decisions."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "diff-view--file", "diff-view--hunk", "diff-view--hunk-current", "diff-view--number",
        "diff-view--added", "diff-view--removed", "diff-view--added-word",
        "diff-view--removed-word", "diff-view--gutter-current", "diff-view--approved",
        "diff-view--rejected",
    }
    DEFAULT_CSS = """
    DiffView { background: $surface; }
    DiffView > .diff-view--file { background: $primary 30%; color: $text; text-style: bold; }
    DiffView > .diff-view--hunk { color: $text-muted; background: $boost; }
    DiffView > .diff-view--hunk-current { color: $text; background: $accent 40%; text-style: bold; }
    DiffView > .diff-view--number { color: $text-muted; }
    DiffView > .diff-view--added { background: $success 15%; }
    DiffView > .diff-view--removed { background: $error 15%; }
    DiffView > .diff-view--added-word { background: $success 45%; }
    DiffView > .diff-view--removed-word { background: $error 45%; }
    DiffView > .diff-view--gutter-current { color: $accent; }
    DiffView > .diff-view--approved { color: $success; text-style: bold; }
    DiffView > .diff-view--rejected { color: $error; text-style: bold; }
    """

    unified: reactive[bool] = reactive(False)
    current: reactive[str] = reactive("")

    def __init__(self, patch: Patch, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.patch = patch
        self.states: dict[str, str] = {}
        self.forced_unified: bool | None = None
        self.rows: list[Row] = []
        self.starts: dict[str, int] = {}
        self._hunk_position: dict[str, int] = {}  # hunk id -> 1-based place in the patch
        self._hunk_path: dict[str, str] = {}  # hunk id -> its file, for the lexer
        self._built: tuple[int, bool] | None = None

    def on_mount(self) -> None:
        self._rebuild()
        paths = [f.path for f in self.patch.files if f.path not in _LEXERS]
        if paths:
            def warm() -> None:
                for path in paths:
                    warm_lexer(path)

            self.run_worker(warm, thread=True, exit_on_error=False, group="lexers")

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.state == WorkerState.SUCCESS:
            _highlight.cache_clear()  # lines drawn plain before their lexer was ready
            self.refresh()

    def set_patch(self, patch: Patch, states: dict[str, str]) -> None:
        self.states = dict(states)
        if patch is not self.patch:
            self.patch = patch
            self._built = None
        self._rebuild()

    def _rebuild(self) -> None:
        key = (id(self.patch), self.unified)
        if key != self._built:  # rows depend only on the patch and the view
            self.rows, self.starts = build_rows(self.patch, self.unified)
            self._hunk_position = {hunk_id: n for n, hunk_id in enumerate(self.starts, start=1)}
            self._hunk_path = {hunk.hunk_id: hunk.path for hunk in self.patch.hunks}
            self._built = key
            self.virtual_size = Size(0, len(self.rows))
        self.refresh()

    def on_resize(self) -> None:
        if self.forced_unified is None:
            wanted = self.size.width < UNIFIED_BELOW
            if wanted != self.unified:
                self.unified = wanted

    def watch_unified(self) -> None:
        self._rebuild()
        if self.current:
            self.show_hunk(self.current)

    def watch_current(self) -> None:
        self.refresh()

    def toggle_unified(self) -> None:
        self.forced_unified = not self.unified
        self.unified = self.forced_unified

    def show_hunk(self, hunk_id: str) -> None:
        self.current = hunk_id
        row = self.starts.get(hunk_id, 0)
        self.scroll_to(y=max(0, row - 1), animate=False)

    # -- rendering ----------------------------------------------------------------------
    def _style(self, name: str) -> Style:
        return self.get_component_rich_style(f"diff-view--{name}")

    def render_line(self, y: int) -> Strip:
        scroll_y = self.scroll_offset.y
        width = self.scrollable_content_region.width
        index = y + scroll_y
        base = self.line_style
        if index >= len(self.rows):
            return Strip.blank(width, base)
        row = self.rows[index]
        if row.kind == "file":
            return Strip([Segment(f" {row.text}", base + self._style("file"))]).adjust_cell_length(
                width, base + self._style("file"))
        current = row.hunk_id == self.current
        gutter = Segment("▌" if current else " ", base + self._style("gutter-current"))
        if row.kind == "hunk":
            state = self.states.get(row.hunk_id, "pending")
            label = f"{row.text}  [{self._hunk_position.get(row.hunk_id, 0)}/{len(self.starts)}] {state}"
            style = base + self._style("hunk-current" if current else "hunk")
            if state in ("approve", "edit"):
                style += self._style("approved")
            elif state == "reject":
                style += self._style("rejected")
            return Strip([gutter, Segment(f" {label}", style)]).adjust_cell_length(width, style)
        path = self._hunk_path.get(row.hunk_id, "")
        if self.unified:
            side = width - 1
            if row.change == "-":
                segments = self._side(path, row.old_no, row.old, "-", side, base, None)
            elif row.change == "+":
                segments = self._side(path, row.new_no, row.new, "+", side, base, None)
            else:
                segments = self._side(path, row.new_no, row.new, " ", side, base, None)
            return Strip([gutter, *segments]).adjust_cell_length(width, base)
        half = (width - 2) // 2
        words: tuple[Spans, Spans] = ((), ())
        if row.change == "~" and row.old is not None and row.new is not None:
            words = _words(row.old, row.new)
        left_mark = "-" if row.change in ("-", "~") else " "
        right_mark = "+" if row.change in ("+", "~") else " "
        left = self._side(path, row.old_no, row.old, left_mark, half, base, words[0])
        right = self._side(path, row.new_no, row.new, right_mark, width - 2 - half, base, words[1])
        divider = Segment("│", base + self._style("number"))
        return Strip([gutter, *left, divider, *right]).adjust_cell_length(width, base)

    def _side(self, path: str, number: int | None, text: str | None, mark: str, width: int,
              base: Style, spans: Spans | None) -> list[Segment]:
        if text is None:
            return [Segment(" " * width, base)]
        background = base
        word = None
        if mark == "+":
            background = base + self._style("added")
            word = self._style("added-word")
        elif mark == "-":
            background = base + self._style("removed")
            word = self._style("removed-word")
        number_text = f"{number:>{NUMBER - 1}} " if number is not None else " " * NUMBER
        segments = [Segment(number_text, background + self._style("number")),
                    Segment(mark, background)]
        room = width - NUMBER - 1
        clipped = len(text) > room
        shown = text[: max(0, room - 1)] if clipped else text
        position = 0
        for value, style in _highlight(path, shown):
            for piece_start, piece in _spans(value, position, spans or ()):
                piece_style = background + style
                if piece_start and word is not None:
                    piece_style += word
                segments.append(Segment(piece, piece_style))
            position += len(value)
        if clipped:
            segments.append(Segment("›", background + self._style("number")))
        used = NUMBER + 1 + min(len(text), room)
        if used < width:
            segments.append(Segment(" " * (width - used), background))
        return segments


def _spans(value: str, start: int, spans: Spans) -> list[tuple[bool, str]]:
    """Cut `value` (at `start` in its line) into (highlighted?, text) pieces."""
    if not spans:
        return [(False, value)]
    out: list[tuple[bool, str]] = []
    end = start + len(value)
    cursor = start
    for a, b in spans:
        if b <= cursor or a >= end:
            continue
        if a > cursor:
            out.append((False, value[cursor - start:a - start]))
            cursor = a
        stop = min(b, end)
        out.append((True, value[cursor - start:stop - start]))
        cursor = stop
    if cursor < end:
        out.append((False, value[cursor - start:]))
    return out
