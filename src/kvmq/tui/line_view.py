"""Line-API building blocks: text laid out lazily, block by block, and a scrolling view of it.

A tab that shows a dataset (Pros, Summary) can be asked to show ten thousand subjects or a
description of megabytes. Laying all of it out before the first frame froze the explorer;
here a view lays out only as many blocks as the rows in view (plus a margin) need, and more
as it scrolls, in the manner of Toolong's ``LogLines`` (a ``ScrollView`` with
``render_line``, ``virtual_size`` assigned, ``notify_style_update`` dropping what was laid
out).
"""

from __future__ import annotations

from typing import ClassVar, Iterator, Optional

from textual import events
from textual.binding import Binding, BindingType
from textual.content import Content
from textual.geometry import Size
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip
from textual.style import Style
from textual.visual import RenderOptions

# Longer paragraphs are laid out in pieces of about this many characters, cut at a space.
CHUNK = 4_000
# Rows laid out beyond the bottom of the view, so that a page down finds them ready.
LOOKAHEAD = 64

# (text of the block before wrapping, or "" for none; its strips)
Block = tuple[str, list[Strip]]


class LazyLines:
    """The strips of a document at one width, laid out on demand block by block."""

    def __init__(self, blocks: Iterator[Block]) -> None:
        self._blocks = blocks
        self.strips: list[Strip] = []
        self.texts: list[str] = []
        self.complete = False

    def ensure(self, rows: Optional[int]) -> bool:
        """Lay out until there are ``rows`` strips (None: all); True if any were added."""
        before = len(self.strips)
        strips = self.strips
        while not self.complete and (rows is None or len(strips) < rows):
            try:
                text, block = next(self._blocks)
            except StopIteration:
                self.complete = True
                break
            if text:
                self.texts.append(text)
            start = len(strips)
            # (column, line) of each character, for Textual's mouse selection.
            strips.extend(strip.apply_offsets(0, start + index) for index, strip in enumerate(block))
        return len(strips) != before


def chunks(text: str) -> Iterator[str]:
    """``text`` in paragraphs, each cut at spaces into pieces of about CHUNK characters."""
    for paragraph in text.split("\n"):
        while len(paragraph) > CHUNK:
            cut = paragraph.rfind(" ", CHUNK // 2, CHUNK)
            cut = CHUNK if cut < 0 else cut + 1
            yield paragraph[:cut]
            paragraph = paragraph[cut:]
        yield paragraph


def literal_style(style: object) -> Style:
    """Content's style lookup: the styles used here are Style objects, never CSS strings."""
    return style if isinstance(style, Style) else Style.parse(str(style))


OPTIONS = RenderOptions(literal_style, {})


def wrap(content: Content, width: int, base: Style) -> list[Strip]:
    """``content`` wrapped to ``width`` cells, each strip padded to exactly that width."""
    if width <= 0:
        return []
    pad = base.rich_style
    return [strip.extend_cell_length(width, pad)
            for strip in content.render_strips(width, None, base, OPTIONS)]


def component_style(widget: ScrollView, name: str) -> Style:
    """A component class's colour and text style, without a background of its own."""
    full = widget.get_visual_style(name)
    return Style(foreground=full.foreground, bold=full.bold, italic=full.italic,
                 underline=full.underline, dim=full.dim)


class LineView(ScrollView, can_focus=True):
    """A scrolling view of blocks of strips from :meth:`blocks`, laid out as far as shown.

    Subclasses implement ``blocks(width)``. ``side_by_side`` is set by the app from the
    terminal's width; views that have a column layout read it.
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("j", "scroll_down", "Scroll down", show=False),
        Binding("k", "scroll_up", "Scroll up", show=False),
        Binding("g", "scroll_home", "Top", show=False),
        Binding("G", "scroll_end", "Bottom", show=False),
    ]
    DEFAULT_CSS = """
    LineView {
        overflow-x: hidden;
        overflow-y: auto;
        height: 1fr;
        min-width: 8;
        padding: 1 2;
        &:focus { background-tint: $foreground 3%; }
    }
    """

    side_by_side: reactive[bool] = reactive(True)
    """Columns when there is room for them (the app sets it by terminal width)."""

    def __init__(self, *, id: Optional[str] = None, classes: Optional[str] = None) -> None:
        super().__init__(id=id, classes=classes)
        self._laid_out: Optional[LazyLines] = None
        self._laid_out_width = -1

    def blocks(self, width: int) -> Iterator[Block]:
        """The document at ``width`` cells, block by block."""
        raise NotImplementedError

    def plain_lines(self) -> list[str]:
        """Every line of the document, laid out in full, as plain text."""
        lines = self._document()
        if lines is None:
            return []
        lines.ensure(None)
        return [strip.text.rstrip() for strip in lines.strips]

    def reset(self) -> None:
        """Lay the document out again (its data or styles changed)."""
        self._laid_out = None
        self._sync()
        self.refresh()

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self.reset()

    def watch_side_by_side(self) -> None:
        self.reset()

    def on_resize(self, event: events.Resize) -> None:
        self._sync()

    def watch_scroll_y(self, old_value: float, new_value: float) -> None:
        super().watch_scroll_y(old_value, new_value)
        self._sync()

    def _document(self) -> Optional[LazyLines]:
        width = self.scrollable_content_region.width
        if width <= 0 or not self.is_attached:
            return None
        if self._laid_out is None or self._laid_out_width != width:
            self._laid_out = LazyLines(self.blocks(width))
            self._laid_out_width = width
        return self._laid_out

    def _sync(self) -> None:
        lines = self._document()
        if lines is None:
            return
        height = self.scrollable_content_region.height
        lines.ensure(int(self.scroll_offset.y) + height + LOOKAHEAD)
        rows = len(lines.strips) + (0 if lines.complete else height)
        self.virtual_size = Size(self.scrollable_content_region.width, rows)

    def render_line(self, y: int) -> Strip:
        lines = self._document()
        width = max(0, self.scrollable_content_region.width)
        line = int(self.scroll_offset.y) + y
        if lines is not None:
            lines.ensure(line + 1)
            if line < len(lines.strips):
                return lines.strips[line]
        return Strip.blank(width, self.rich_style)
