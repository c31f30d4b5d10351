"""The right side of the Compare tab: one dimension, the subjects side by side.

A line-based widget (like ``OptionList``): the dimension is rendered to strips once per
(dimension, width, layout, theme) and ``render_line`` hands them out. Showing another dimension
swaps the strips and repaints this widget's region only; a tree of Statics with ``height: auto``
reflowed the whole screen on every highlight move.
"""

from __future__ import annotations

from itertools import groupby
from typing import ClassVar, NamedTuple, Optional, Sequence, Union

from rich.cells import cell_len
from rich.segment import Segment
from rich.style import Style as RichStyle
from textual.cache import LRUCache
from textual.content import Content
from textual.geometry import Region, Size
from textual.scroll_view import ScrollView
from textual.selection import Selection
from textual.strip import Strip
from textual.style import Style
from textual.visual import RenderOptions

from kvmq.dataset.model import Dataset, Dimension
from kvmq.render.dataset import CAVEAT_MARK, CORRECTION_MARK

# Cells between side-by-side subject columns.
COLUMN_GAP = 2
# Narrower columns than this are unreadable: the subjects stack instead.
MIN_COLUMN_WIDTH = 16
# Rendered dimensions kept: moving back and forth through the list re-renders nothing.
CACHE_SIZE = 64
NOTES_BAR = "▌ "
# render_line outside render_lines: look the selection up itself.
_NOT_IN_FRAME = object()


class _Key(NamedTuple):
    """Everything a dimension's strips depend on: the theme and the pane's own style (focus
    tint) for the colours, the width and the screen's width class for the layout."""

    dimension_id: str
    width: int
    side_by_side: bool
    theme: str
    style: Style


class ComparisonPane(ScrollView, can_focus=True):
    """Title and verdict, a column per subject, then notes, commands and sources.

    Scrolls with the ScrollableContainer bindings (↑ ↓ PgUp PgDn Home End) and the wheel.
    """

    # "$text-muted" is "auto 60%": inside a Content style the 60% is lost (full-strength
    # text), so the muted colour comes from CSS, which resolves "auto" against the background.
    COMPONENT_CLASSES: ClassVar[set[str]] = {"comparison-pane--muted"}
    # The scrollbar is always there: one that comes and goes with the dimension's length
    # makes Textual lay out the whole screen on the move. Its track is transparent, so when
    # everything fits (no thumb) it looks as if there were none; when the text is longer,
    # the thumb shows where in it you are.
    DEFAULT_CSS = """
    ComparisonPane {
        overflow-y: scroll;
        scrollbar-background: transparent;
        scrollbar-background-hover: transparent;
        scrollbar-background-active: transparent;
    }
    ComparisonPane > .comparison-pane--muted {
        color: $text-muted;
    }
    """

    def __init__(self, dataset: Dataset, *, id: Optional[str] = None) -> None:
        super().__init__(id=id)
        self._dataset = dataset
        self.dimension: Optional[Dimension] = None
        # key -> (strips, plain text of every block rendered)
        self._cache: LRUCache[_Key, tuple[list[Strip], list[str]]] = LRUCache(CACHE_SIZE)
        self._lines: list[Strip] = []
        self._texts: list[str] = []
        self._lines_key: Optional[_Key] = None
        self._prefetch_pending = False
        self._filler = Strip.blank(0)
        self._filler_style: Optional[RichStyle] = None
        self._neighbours: Optional[Sequence[Dimension]] = None
        self._frame_selection: Union[Selection, object, None] = _NOT_IN_FRAME

    def on_mount(self) -> None:
        # Fill in the first dimension now rather than when the list's first highlight message
        # arrives: the first frame is then complete.
        if self.dimension is None and self._dataset.dimensions:
            self.show_dimension(self._dataset.dimensions[0])

    # ------------------------------------------------------------------ public

    def show_dimension(self, dimension: Dimension,
                       neighbours: Optional[Sequence[Dimension]] = None) -> None:
        """Show ``dimension``; ``neighbours``: where the user may move next (rendered ahead
        of time once this frame is painted), by default its neighbours in the dataset."""
        self._neighbours = neighbours
        if dimension is self.dimension:
            return
        self.dimension = dimension
        scrolled = bool(self.scroll_offset.y or self.scroll_offset.x)
        shown_before = self._rows_on_screen()
        self._lines_key = None
        self._update_lines()
        if scrolled:
            self.scroll_home(animate=False, immediate=True)
            self.refresh()
        else:
            self._refresh_changed_rows(shown_before)
        self._prefetch_pending = True

    def _rows_on_screen(self) -> list[Strip]:
        """The strips of the rows in view (without the selection's highlight)."""
        top = self.scroll_offset.y
        height = self.scrollable_content_region.height
        rows = self._lines[top:top + height]
        return rows + [self._filler] * (height - len(rows))

    def _refresh_changed_rows(self, shown_before: list[Strip]) -> None:
        """Repaint only the rows that differ from what was on screen (blank rows, the
        subjects' headings and rules are often the same from one dimension to the next)."""
        shown_now = self._rows_on_screen()
        if len(shown_now) != len(shown_before):
            self.refresh()
            return
        changed = [now is not before and now != before
                   for now, before in zip(shown_now, shown_before)]
        y = 0
        for is_changed, run in groupby(changed):
            count = len(list(run))
            if is_changed:
                self.refresh_lines(y, count)
            y += count

    def plain_lines(self) -> list[str]:
        """Every rendered line of the dimension (not only those on screen), as plain text."""
        self._update_lines()
        return [strip.text.rstrip() for strip in self._lines]

    def plain_text(self) -> str:
        """The text of every block rendered (title, headings, descriptions, ...) before
        wrapping, one block per line: side-by-side columns interleave in ``plain_lines``."""
        self._update_lines()
        return "\n".join(self._texts)

    # ------------------------------------------------------------------ line API

    def _on_resize(self) -> None:
        self._update_lines()
        self._sync_virtual_size()  # a new height alone leaves the strips as they are

    def _size_updated(self, size: Size, virtual_size: Size, container_size: Size,
                      layout: bool = True) -> bool:
        # The compositor passes the content region as the virtual size; this pane sets its
        # own (_sync_virtual_size). Passing that on means a layout of the screen that leaves
        # the pane as it was (every filter keystroke) does not repaint its scrollbar.
        return super()._size_updated(size, self.virtual_size, container_size, layout)

    def notify_style_update(self) -> None:
        # Focus, theme and breakpoint classes all arrive here; the cache key tells
        # whether the strips really need rebuilding.
        super().notify_style_update()
        self.refresh()

    def render_lines(self, crop: Region) -> list[Strip]:
        self._update_lines()
        # Below the content: one strip, kept while the width and style stay the same.
        width = max(0, self.scrollable_content_region.width)
        style = self.visual_style.rich_style
        if self._filler.cell_length != width or self._filler_style != style:
            self._filler = Strip.blank(width, style)
            self._filler_style = style
        if self._prefetch_pending:
            # Queued from inside the frame being composed, so it runs once that frame is
            # on screen. (call_after_refresh can run before the frame: the screen may go
            # idle before this widget's repaint request has reached it.)
            self._prefetch_pending = False
            self.call_later(self._prefetch_neighbours)
        # Looked up once per frame rather than once per row (it goes through the screen).
        self._frame_selection = self.text_selection
        try:
            return super().render_lines(crop)
        finally:
            self._frame_selection = _NOT_IN_FRAME

    def render_line(self, y: int) -> Strip:
        line = self.scroll_offset.y + y
        if 0 <= line < len(self._lines):
            strip = self._lines[line]
            selection = self._frame_selection
            if selection is _NOT_IN_FRAME:  # called on its own, not from render_lines
                selection = self.text_selection
            if isinstance(selection, Selection):
                strip = self._with_selection(strip, line, selection)
            return strip
        return self._filler

    # ------------------------------------------------------------------ mouse selection

    def get_selection(self, selection: Selection) -> Optional[tuple[str, str]]:
        """The selected text, row by row as on screen (what a terminal's own selection gives)."""
        self._update_lines()
        return selection.extract("\n".join(strip.text.rstrip() for strip in self._lines)), "\n"

    def _with_selection(self, strip: Strip, line: int, selection: Selection) -> Strip:
        span = selection.get_span(line)
        if span is None:
            return strip
        # The offsets baked into the strips (_render_dimension) count characters; cuts are in cells.
        text = strip.text
        start, end = span
        end = len(text) if end == -1 else min(end, len(text))
        if start >= end:
            return strip
        cut_start, cut_end = cell_len(text[:start]), cell_len(text[:end])
        before, chosen, after = strip.divide([cut_start, cut_end, strip.cell_length])
        style = self.screen.get_component_rich_style("screen--selection")
        chosen = Strip([Segment(part, part_style + style if part_style else style, control)
                        for part, part_style, control in chosen], chosen.cell_length)
        return Strip.join([before, chosen, after])

    def _update_lines(self) -> None:
        """Point ``_lines`` at the strips for the current state, rendering them on a miss."""
        width = self.scrollable_content_region.width
        dimension = self.dimension
        if dimension is None or width <= 0 or not self.is_attached:
            if self._lines:
                self._lines, self._texts = [], []
                self._lines_key = None
                self._set_virtual_size(Size(0, 0))
            return
        key = self._key(dimension, width)
        if key == self._lines_key:
            return
        self._lines, self._texts = self._render_dimension(dimension, key)
        self._lines_key = key
        self._sync_virtual_size()

    def _sync_virtual_size(self) -> None:
        # Never shorter than the viewport: every dimension that fits then has the same
        # virtual size, so moving between them leaves the scrollbar (a costly widget to
        # repaint) untouched.
        region = self.scrollable_content_region
        if self._lines:
            self._set_virtual_size(Size(region.width, max(len(self._lines), region.height)))

    def _key(self, dimension: Dimension, width: int) -> _Key:
        return _Key(dimension.id, width, self.screen.has_class("-wide"), self.app.theme,
                    self.visual_style)

    def _render_dimension(self, dimension: Dimension, key: _Key) -> tuple[list[Strip], list[str]]:
        cached = self._cache.get(key)
        if cached is None:
            renderer = _Renderer(self, key.style, key.width)
            strips = renderer.dimension(self._dataset, dimension, key.side_by_side)
            # (column, line) of each character, for Textual's mouse selection; added here
            # so that it costs nothing when the strips are shown again.
            cached = ([strip.apply_offsets(0, line) for line, strip in enumerate(strips)],
                      renderer.texts)
            self._cache.set(key, cached)
        return cached

    def _set_virtual_size(self, size: Size) -> None:
        if size != self.virtual_size:
            # Not ``self.virtual_size = size``: that reactive asks for a layout of the whole
            # screen. The pane's own size does not change and its scrollbar is always there
            # (DEFAULT_CSS), so updating the scrollbar is enough.
            self.set_reactive(ComparisonPane.virtual_size, size)
            self._scroll_update(size)

    def _prefetch_neighbours(self) -> None:
        """Render the dimensions next to the shown one, once the frame is painted.

        Moving through the list one entry at a time then finds its strips ready: the few
        milliseconds of wrapping happen while the user reads, not between key and frame.
        The neighbours are those given to :meth:`show_dimension` (the list as shown,
        filtered or not), else the ones before and after in the dataset.
        """
        dimension = self.dimension
        width = self.scrollable_content_region.width
        if dimension is None or width <= 0 or not self.is_attached:
            return
        neighbours = self._neighbours
        if neighbours is None:
            dimensions = self._dataset.dimensions
            index = next((i for i, d in enumerate(dimensions) if d is dimension), None)
            if index is None:
                return
            neighbours = [dimensions[i] for i in (index + 1, index - 1) if 0 <= i < len(dimensions)]
        for other in neighbours:
            self._render_dimension(other, self._key(other, width))


class _Renderer:
    """Builds the strips of one dimension at one width (no state kept between renders)."""

    def __init__(self, widget: ComparisonPane, style: Style, width: int) -> None:
        self._widget = widget
        self._style = style
        self._width = width
        self._blank_style = style.rich_style
        self.texts: list[str] = []
        # Styles are resolved as in a Static (``Visual.to_strips``): through the widget, so
        # ``$accent`` and the other theme variables follow the current theme. Empty rules:
        # the defaults (wrap, fold, left), whatever CSS the pane itself is given. Skipping
        # to_strips' selection and link handling halves the cost (dataset text has no links).
        self._options = RenderOptions(widget._get_style, {})
        muted = widget.get_visual_style("comparison-pane--muted").foreground
        self._muted = Style(foreground=muted)
        self._muted_italic = Style(foreground=muted, italic=True)

    def _strips(self, content: Content, width: int, style: Optional[Style] = None,
                record: bool = True) -> list[Strip]:
        """``content`` wrapped to ``width`` cells, each strip padded to exactly that width."""
        if record:
            self.texts.append(content.plain)
        if width <= 0:
            return []
        base = style or self._style
        strips = content.render_strips(width, None, base, self._options)
        pad_style = base.rich_style
        return [strip.extend_cell_length(width, pad_style) for strip in strips]

    def _blank(self, width: Optional[int] = None) -> Strip:
        return Strip.blank(self._width if width is None else width, self._blank_style)

    def dimension(self, dataset: Dataset, dimension: Dimension, side_by_side: bool) -> list[Strip]:
        width = self._width
        lines: list[Strip] = [self._blank()]
        lines += self._strips(Content.styled(dimension.title, "bold"), width)
        if dimension.verdict:
            lines += self._strips(Content.styled(dimension.verdict, self._muted_italic), width)
        lines.append(self._blank())
        for section in (self._subjects(dataset, dimension, side_by_side),
                        self._notes(dimension), self._commands(dataset, dimension),
                        self._sources(dimension)):
            if section:
                lines += section
                lines.append(self._blank())
        return lines

    # ------------------------------------------------------------------ sections

    def _subjects(self, dataset: Dataset, dimension: Dimension, side_by_side: bool) -> list[Strip]:
        subjects = dataset.subjects
        if not subjects:
            return []
        headings = [Content.assemble((subject.name, "bold $accent"), "  ",
                                     (subject.tagline, self._muted_italic))
                    for subject in subjects]
        descriptions = [Content(dimension.descriptions.get(subject.id, ""))
                        for subject in subjects]
        count = len(subjects)
        column_width = (self._width - COLUMN_GAP * (count - 1)) // count
        if side_by_side and count > 1 and column_width >= MIN_COLUMN_WIDTH:
            return self._columns(headings, descriptions, column_width)
        lines: list[Strip] = []
        for index, (heading, description) in enumerate(zip(headings, descriptions)):
            if index:
                lines.append(self._blank())
            lines += self._strips(heading, self._width)
            lines += self._rule(self._width)
            lines += self._strips(description, self._width)
        return lines

    def _rule(self, width: int) -> list[Strip]:
        return self._strips(Content.styled("─" * width, "$accent 40%"), width, record=False)

    def _columns(self, headings: list[Content], descriptions: list[Content],
                 column_width: int) -> list[Strip]:
        rendered_headings = [self._strips(heading, column_width) for heading in headings]
        # Headings padded to the tallest one, so that the rules line up across columns.
        heading_height = max(len(strips) for strips in rendered_headings)
        columns = [
            heading + [self._blank(column_width)] * (heading_height - len(heading))
            + self._rule(column_width) + self._strips(description, column_width)
            for heading, description in zip(rendered_headings, descriptions)
        ]
        height = max(len(column) for column in columns)
        blank_column = self._blank(column_width)
        gap = self._blank(COLUMN_GAP)
        lines: list[Strip] = []
        for row in range(height):
            parts: list[Strip] = []
            for index, column in enumerate(columns):
                if index:
                    parts.append(gap)
                parts.append(column[row] if row < len(column) else blank_column)
            lines.append(Strip.join(parts).extend_cell_length(self._width, self._blank_style))
        return lines

    def _notes(self, dimension: Dimension) -> list[Strip]:
        if not dimension.notes:
            return []
        bar_width = len(NOTES_BAR)
        inner = self._width - bar_width
        if inner <= 0:
            inner, bar_width = self._width, 0
        bar_style = (self._style + Style.parse("$warning")).rich_style
        bar = Strip([Segment(NOTES_BAR[:bar_width], bar_style)], bar_width)
        lines: list[Strip] = []
        for note in dimension.notes:
            if note.is_correction:
                head = Content.styled(f"{CORRECTION_MARK} Correction: ", "bold $warning")
            else:
                head = Content.styled(f"{CAVEAT_MARK} Note: ", "bold")
            lines += self._strips(head + Content(note.text), inner)
            if note.source:
                lines += self._strips(Content.styled(f"  {note.source}", self._muted), inner)
        return [Strip.join([bar, line]) if bar_width else line for line in lines]

    def _commands(self, dataset: Dataset, dimension: Dimension) -> list[Strip]:
        blocks = [(subject, dimension.commands.get(subject.id, ()))
                  for subject in dataset.subjects]
        blocks = [(subject, entries) for subject, entries in blocks if entries]
        if not blocks:
            return []
        # The block sits on a $boost background, padded by one cell on each side.
        style = self._style + Style.parse("on $boost")
        pad = 1 if self._width > 2 else 0
        inner = self._width - 2 * pad
        indent = 4 if inner > 8 else 0
        lines: list[Strip] = []
        for subject, entries in blocks:
            lines += self._strips(Content.styled(f"{subject.name} commands", "bold $accent"),
                                  inner, style)
            for command in entries:
                lines += self._strips(Content.assemble(("$ ", self._muted),
                                                       (command.run, "bold")), inner, style)
                does = self._strips(Content.styled(command.does, self._muted),
                                    inner - indent, style)
                lines += [self._indent(line, indent, style) for line in does]
        return [self._indent(line, pad, style).extend_cell_length(self._width, style.rich_style)
                for line in lines]

    @staticmethod
    def _indent(line: Strip, cells: int, style: Style) -> Strip:
        if cells <= 0:
            return line
        return Strip.join([Strip.blank(cells, style.rich_style), line])

    def _sources(self, dimension: Dimension) -> list[Strip]:
        if not dimension.sources:
            return []
        heading = Content.styled("Sources", self._muted + Style(bold=True))
        lines = self._strips(heading, self._width)
        for url in dimension.sources:
            lines += self._strips(Content.styled(url, self._muted), self._width)
        return lines
