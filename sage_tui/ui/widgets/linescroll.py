"""A scrolling widget drawn line by line (`render_line`) that reads its own style once a paint.

`rich_style` walks every ancestor's styles; a line widget that asked for it in every
`render_line` paid that walk once per visible line, 5–8 ms of the workbench's first frame
for the event stream alone. Textual calls `render_line` from `render_lines` for a paint,
and on its own for a mouse hit test, which then reads the style afresh.
"""

from __future__ import annotations

from rich.style import Style
from textual.geometry import Region
from textual.scroll_view import ScrollView
from textual.strip import Strip


class LineScrollView(ScrollView):
    """A `ScrollView` whose `line_style` is the widget's style, read once per paint."""

    _paint_style: Style | None = None

    def render_lines(self, crop: Region) -> list[Strip]:
        self._paint_style = self.rich_style
        try:
            return super().render_lines(crop)
        finally:
            self._paint_style = None

    @property
    def line_style(self) -> Style:
        """The widget's own style (`rich_style`), the same for every line of a paint."""
        return self.rich_style if self._paint_style is None else self._paint_style
