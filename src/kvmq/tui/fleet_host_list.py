"""The Fleet view's host list: one line per host, drawn only for the lines on screen."""

from __future__ import annotations

from typing import ClassVar, Optional, Sequence

from rich.segment import Segment
from rich.text import Text
from textual import events
from textual.binding import Binding, BindingType
from textual.geometry import Size
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip

from kvmq.host.fleet import HostRow, State
from kvmq.render.fleet import STATE_STYLES

# Short state words for the list; the detail pane says it in full.
SHORT_STATE = {
    State.OK: "ok",
    State.INCOMPLETE: "no VM scan",
    State.TCG: "VMs on TCG",
    State.NO_KVM: "no KVM",
    State.NO_REPORT: "no report",
}
STATE_COLUMN = max(len(word) for word in SHORT_STATE.values()) + 1
# Below this width only the host names are shown (coloured by state).
NAMES_ONLY_BELOW = 24


class FleetHostList(ScrollView, can_focus=True):
    """A virtual list of hosts: thousands of rows cost only the lines that are visible.

    Rows come from :meth:`set_rows`; :attr:`cursor` is the index of the highlighted row in
    them (``-1`` when there are none). Whoever shows the highlighted host watches ``cursor``.
    """

    DEFAULT_CSS = """
    FleetHostList {
        height: 1fr;
        min-width: 8;
        min-height: 1;
        scrollbar-size-horizontal: 0;
    }
    FleetHostList:focus {
        background-tint: $foreground 3%;
    }
    FleetHostList > .fleet-host-list--cursor {
        background: $block-cursor-background;
        color: $block-cursor-foreground;
        text-style: bold;
    }
    FleetHostList > .fleet-host-list--cursor-blurred {
        background: $block-cursor-blurred-background;
    }
    """

    COMPONENT_CLASSES: ClassVar[set[str]] = {"fleet-host-list--cursor", "fleet-host-list--cursor-blurred"}

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up,k", "move(-1)", "Up", show=False, tooltip="highlight the previous host"),
        Binding("down,j", "move(1)", "Down", show=False, tooltip="highlight the next host"),
        Binding("pageup", "page(-1)", "Page up", show=False, tooltip="a page of hosts up"),
        Binding("pagedown", "page(1)", "Page down", show=False, tooltip="a page of hosts down"),
        Binding("home,g", "first", "First host", show=False, tooltip="the first host"),
        Binding("end,G", "last", "Last host", show=False, tooltip="the last host"),
    ]

    cursor: reactive[int] = reactive(-1, always_update=False, repaint=False)

    def __init__(self, *, id: Optional[str] = None, classes: Optional[str] = None) -> None:
        super().__init__(id=id, classes=classes)
        self._rows: Sequence[HostRow] = ()
        self._strips: dict[tuple[int, bool, int], Strip] = {}

    # ------------------------------------------------------------------ data

    @property
    def rows(self) -> Sequence[HostRow]:
        return self._rows

    @property
    def current(self) -> Optional[HostRow]:
        return self._rows[self.cursor] if 0 <= self.cursor < len(self._rows) else None

    def set_rows(self, rows: Sequence[HostRow], keep_host: Optional[str] = None) -> None:
        """Show ``rows``; the highlight stays on ``keep_host`` when it is among them."""
        self._rows = rows
        self._strips.clear()
        self.virtual_size = Size(self.size.width, len(rows))
        target = 0 if rows else -1
        if keep_host is not None:
            for index, row in enumerate(rows):
                if row.host == keep_host:
                    target = index
                    break
        if target == self.cursor:
            self.mutate_reactive(FleetHostList.cursor)  # same index, another row: announce it
        self.cursor = target
        self._scroll_to_cursor()
        self.refresh()

    # ------------------------------------------------------------------ drawing

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._strips.clear()

    def on_resize(self, event: events.Resize) -> None:
        self._strips.clear()
        self.virtual_size = Size(event.size.width, len(self._rows))
        self._scroll_to_cursor()

    def on_focus(self) -> None:
        self._strips.clear()
        self.refresh()

    def on_blur(self) -> None:
        self._strips.clear()
        self.refresh()

    def _row_text(self, row: HostRow, width: int) -> Text:
        style = STATE_STYLES[row.state]
        if width < NAMES_ONLY_BELOW:
            text = Text(row.host, style="" if row.ok else style, no_wrap=True, overflow="ellipsis")
            text.truncate(width, overflow="ellipsis")
            return text
        name_width = width - STATE_COLUMN - 1
        host = Text(row.host, no_wrap=True, overflow="ellipsis")
        host.truncate(name_width, overflow="ellipsis", pad=True)
        host.append(" ")
        host.append(SHORT_STATE[row.state].rjust(STATE_COLUMN), style=style)
        return host

    def render_line(self, y: int) -> Strip:
        index = self.scroll_offset.y + y
        width = self.scrollable_content_region.width
        if not 0 <= index < len(self._rows) or width <= 0:
            return Strip.blank(max(0, width), self.rich_style)
        selected = index == self.cursor
        key = (index, selected, width)
        strip = self._strips.get(key)
        if strip is None:
            base = self.rich_style
            if selected:
                base = base + self.get_component_rich_style(
                    "fleet-host-list--cursor" if self.has_focus else "fleet-host-list--cursor-blurred")
            text = self._row_text(self._rows[index], width)
            segments = [Segment(seg.text, base + seg.style if seg.style else base)
                        for seg in text.render(self.app.console)
                        if seg.text and "\n" not in seg.text]
            strip = Strip(segments).crop_extend(0, width, base)
            if len(self._strips) > 2000:
                self._strips.clear()
            self._strips[key] = strip
        return strip

    # ------------------------------------------------------------------ moving

    def watch_cursor(self, old: int, new: int) -> None:
        for index in (old, new):
            y = index - self.scroll_offset.y
            if 0 <= y < self.size.height:
                self.refresh_line(y)

    def _scroll_to_cursor(self) -> None:
        if self.cursor < 0:
            return
        top = self.scroll_offset.y
        height = max(1, self.scrollable_content_region.height)
        if self.cursor < top:
            self.scroll_to(y=self.cursor, animate=False, immediate=True)
        elif self.cursor >= top + height:
            self.scroll_to(y=self.cursor - height + 1, animate=False, immediate=True)

    def _go(self, index: int) -> None:
        if not self._rows:
            return
        self.cursor = max(0, min(len(self._rows) - 1, index))
        self._scroll_to_cursor()

    def action_move(self, step: int) -> None:
        self._go(self.cursor + step)

    def action_page(self, direction: int) -> None:
        self._go(self.cursor + direction * max(1, self.scrollable_content_region.height - 1))

    def action_first(self) -> None:
        self._go(0)

    def action_last(self) -> None:
        self._go(len(self._rows) - 1)

    def on_click(self, event: events.Click) -> None:
        self._go(self.scroll_offset.y + event.y)

