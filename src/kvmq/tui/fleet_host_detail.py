"""The Fleet view's detail pane: the highlighted host's report and VMs, wrapped to its width."""

from __future__ import annotations

from typing import Optional

from rich.segment import Segment
from rich.text import Text
from textual import events
from textual.geometry import Size
from textual.scroll_view import ScrollView
from textual.strip import Strip

from kvmq.host.fleet import HostRow
from kvmq.render.fleet import host_detail_lines


class FleetHostDetail(ScrollView, can_focus=True):
    """One host in full (:func:`~kvmq.render.fleet.host_detail_lines`), scrollable.

    A line view, not a tall ``Static``: showing another host sets the virtual size and repaints
    this pane only, with no layout of the screen, so moving through thousands of hosts stays
    as quick as the list itself. The lines are wrapped for the width the pane really has and
    built again when it changes.
    """

    DEFAULT_CSS = """
    FleetHostDetail {
        width: 1fr;
        height: 1fr;
        min-width: 4;
        padding: 0 1;
        scrollbar-size-horizontal: 0;
    }
    FleetHostDetail:focus {
        background-tint: $foreground 3%;
    }
    """

    def __init__(self, *, id: Optional[str] = None) -> None:
        super().__init__(id=id)
        self._row: Optional[HostRow] = None
        self._now = 0.0
        self._message = Text("")
        self._shown: list[Text] = []
        self._width = -1
        self._page = 1
        self._strips: dict[int, Strip] = {}

    @property
    def row(self) -> Optional[HostRow]:
        return self._row

    @property
    def text(self) -> str:
        """What the pane holds, as plain text (for tests and the clipboard)."""
        return "\n".join(line.plain for line in self._shown)

    def show(self, row: HostRow, now: float) -> None:
        self._row, self._now = row, now
        self.scroll_to(0, 0, animate=False, immediate=True)
        self._rebuild(force=True)

    def show_message(self, message: Text) -> None:
        self._row, self._message = None, message
        self._rebuild(force=True)
        self.scroll_to(0, 0, animate=False, immediate=True)

    def _rebuild(self, force: bool = False) -> None:
        width = self.scrollable_content_region.width
        if not force and width == self._width:
            return
        same_width = width == self._width
        self._width = width
        previous = self._shown
        if self._row is None:
            self._shown = [self._message]
        else:
            self._shown = host_detail_lines(self._row, self._now, max(20, width))
        # The virtual size is a layout reactive: a new size lays out the whole screen. Rounded
        # up to whole pages, it stays the same from one host to the next almost always.
        page = self._page = max(1, self.scrollable_content_region.height)
        height = max(1, -(-len(self._shown) // page)) * page
        size = Size(max(1, width), height)
        if not same_width or size != self.virtual_size or self.scroll_offset.y:
            self._strips.clear()
            self.virtual_size = size
            self.refresh()
            return
        # Hosts often share most lines (the same checks pass): repaint only the lines that differ.
        lines = self._shown
        for y in range(min(page, max(len(lines), len(previous)))):
            new = lines[y] if y < len(lines) else None
            old = previous[y] if y < len(previous) else None
            if new != old:
                self._strips.pop(y, None)
                self.refresh_line(y)

    def on_resize(self, event: events.Resize) -> None:
        self._rebuild(force=event.size.height != self._page)

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._strips.clear()

    def render_line(self, y: int) -> Strip:
        width = self.scrollable_content_region.width
        index = self.scroll_offset.y + y
        if not 0 <= index < len(self._shown) or width <= 0:
            return Strip.blank(max(0, width), self.rich_style)
        strip = self._strips.get(index)
        if strip is None or strip.cell_length != width:
            base = self.rich_style
            segments = [Segment(seg.text, base + seg.style if seg.style else base)
                        for seg in self._shown[index].render(self.app.console)
                        if seg.text and "\n" not in seg.text]
            strip = Strip(segments).crop_extend(0, width, base)
            self._strips[index] = strip
        return strip
