"""The Fleet view's detail pane: the highlighted host's report and VMs, wrapped to its width."""

from __future__ import annotations

from typing import Optional

from rich.console import RenderableType
from rich.text import Text
from textual.geometry import Size
from textual.widget import Widget

from kvmq.host.fleet import HostRow
from kvmq.render.fleet import host_detail_lines


class FleetHostDetail(Widget):
    """One host in full (:func:`~kvmq.render.fleet.host_detail_lines`), laid out for the width
    this widget really has: the lines are built when Textual asks for the height at a width,
    so the hanging indents of findings and hints line up at any terminal size."""

    DEFAULT_CSS = """
    FleetHostDetail {
        width: 1fr;
        height: auto;
        min-width: 4;
    }
    """

    def __init__(self, *, id: Optional[str] = None) -> None:
        super().__init__(id=id)
        self._row: Optional[HostRow] = None
        self._now = 0.0
        self._message: Text = Text("")
        self._cache: tuple[Optional[HostRow], int, Text] = (None, -1, Text(""))

    @property
    def row(self) -> Optional[HostRow]:
        return self._row

    def show(self, row: HostRow, now: float) -> None:
        self._row, self._now = row, now
        self.refresh(layout=True)

    def show_message(self, message: Text) -> None:
        self._row, self._message = None, message
        self.refresh(layout=True)

    def _text(self, width: int) -> Text:
        if self._row is None:
            return self._message
        row, cached_width, text = self._cache
        if row is not self._row or cached_width != width:
            text = Text("\n").join(host_detail_lines(self._row, self._now, width))
            self._cache = (self._row, width, text)
        return text

    def get_content_width(self, container: Size, viewport: Size) -> int:
        return container.width

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        return len(self._text(max(1, width)).split("\n"))

    def render(self) -> RenderableType:
        return self._text(max(1, self.size.width))
