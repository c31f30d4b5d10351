"""The right side of the Compare tab: one dimension, the subjects side by side.

A line-API widget in the manner of Toolong's ``LogLines``: a ``ScrollView`` whose
``render_line`` hands out strips from an LRU cache of laid-out dimensions, with
``virtual_size`` assigned and ``notify_style_update`` clearing the cache (focus, theme and
breakpoint changes). A dimension is laid out block by block, as far as the rows in view
need, so a description of megabytes or a dataset of thousands of subjects costs a screen's
worth of wrapping per frame, not the whole text's.
"""

from __future__ import annotations

from itertools import groupby
from typing import ClassVar, Iterator, Optional, Sequence

from rich.cells import cell_len
from rich.segment import Segment
from rich.style import Style as RichStyle
from textual import events
from textual.binding import Binding, BindingType
from textual.cache import LRUCache
from textual.content import Content
from textual.geometry import Region, Size
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.selection import Selection
from textual.strip import Strip
from textual.style import Style
from textual.timer import Timer

from kvmq.dataset.model import Dataset, Dimension
from kvmq.render.dataset import CAUTION_LABEL, CAVEAT_MARK, CORRECTION_MARK, NEEDS_LABEL
from kvmq.tui.line_view import CHUNK, LOOKAHEAD, OPTIONS, LazyLines, chunks

# Cells between side-by-side subject columns.
COLUMN_GAP = 2
# Narrower columns than this are unreadable: the subjects stack instead.
MIN_COLUMN_WIDTH = 16
# Side by side only while every description is shorter than this: columns are laid out
# whole, stacked text block by block.
MAX_COLUMN_TEXT = 8_000
# Laid-out dimensions kept: moving back and forth through the list re-renders nothing.
CACHE_SIZE = 64
# After a move, the virtual size (and its whole-screen layout) waits this long for the next.
VIRTUAL_SIZE_DELAY = 0.08
# After a frame, the neighbours are laid out this long later (well before a key repeats).
PREFETCH_DELAY = 0.002
NOTES_BAR = "▌ "
# The shell's line continuation: a wrapped command still runs when pasted.
CONTINUATION = " \\"
COMMAND_INDENT = "  "


class ComparisonPane(ScrollView, can_focus=True):
    """Title and verdict, a column per subject, then notes, commands and sources.

    Scrolls with ↑ ↓ PgUp PgDn Home End, ``j`` ``k`` ``g`` ``G`` and the wheel. A source
    URL is a link: clicking it opens it.
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("down,j", "scroll_down", "Scroll down", show=False, tooltip="scroll down a line"),
        Binding("up,k", "scroll_up", "Scroll up", show=False, tooltip="scroll up a line"),
        Binding("home,g", "scroll_home", "Top", show=False, tooltip="to the top"),
        Binding("end,G", "scroll_end", "Bottom", show=False, tooltip="to the bottom"),
        Binding("pagedown", "page_down", "Page down", show=False, tooltip="a page down"),
        Binding("pageup", "page_up", "Page up", show=False, tooltip="a page up"),
    ]
    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "comparison-pane--title",
        "comparison-pane--verdict",
        "comparison-pane--subject",
        "comparison-pane--tagline",
        "comparison-pane--rule",
        "comparison-pane--muted",
        "comparison-pane--correction",
        "comparison-pane--note",
        "comparison-pane--commands",
        "comparison-pane--command",
        "comparison-pane--link",
        "comparison-pane--notice",
        "comparison-pane--caution",
        "comparison-pane--needs",
    }
    # The scrollbar is always there: one that comes and goes with the dimension's length
    # makes Textual lay out the whole screen on the move. Its track is transparent, so when
    # everything fits (no thumb) it looks as if there were none.
    DEFAULT_CSS = """
    ComparisonPane {
        overflow-y: scroll;
        overflow-x: hidden;
        min-width: 16;
        padding: 0 1 0 2;
        scrollbar-background: transparent;
        scrollbar-background-hover: transparent;
        scrollbar-background-active: transparent;
        &:focus { background-tint: $foreground 3%; }
        & > .comparison-pane--title { text-style: bold; }
        & > .comparison-pane--verdict { color: $text-muted; text-style: italic; }
        & > .comparison-pane--subject { color: $accent; text-style: bold; }
        & > .comparison-pane--tagline { color: $text-muted; text-style: italic; }
        & > .comparison-pane--rule { color: $accent 40%; }
        & > .comparison-pane--muted { color: $text-muted; }
        & > .comparison-pane--correction { color: $warning; text-style: bold; }
        & > .comparison-pane--note { text-style: bold; }
        & > .comparison-pane--commands { background: $boost; }
        & > .comparison-pane--command { text-style: bold; }
        & > .comparison-pane--link { color: $text-muted; text-style: underline; }
        & > .comparison-pane--notice { color: $warning; }
        & > .comparison-pane--caution { color: $warning; text-style: bold; }
        & > .comparison-pane--needs { color: $text-muted; text-style: italic; }
    }
    """

    side_by_side: reactive[bool] = reactive(True)
    """Subjects in columns when there is room for them (the app sets it by terminal width)."""

    def __init__(self, dataset: Dataset, *, id: Optional[str] = None) -> None:
        super().__init__(id=id)
        self._dataset = dataset
        self.dimension: Optional[Dimension] = None
        self._notice: Optional[str] = None
        self._documents: LRUCache[tuple[str, int, bool], LazyLines] = LRUCache(CACHE_SIZE)
        self._document: Optional[LazyLines] = None
        self._filler = Strip.blank(0)
        self._neighbours: Optional[Sequence[Dimension]] = None
        self._prefetch_pending = False
        self._prefetch_timer: Optional[Timer] = None
        self._virtual_size_timer: Optional[Timer] = None
        self._selection_now: Optional[Selection] = None
        self._in_frame = False
        self._frame_document: Optional[LazyLines] = None
        self._frame_top = 0
        self._document_width = 0
        self._filler_style: Optional[RichStyle] = None
        #: The styles of the blocks at one width, kept until the width or the styles change.
        self._renderer: Optional[_Renderer] = None

    def on_mount(self) -> None:
        # The first dimension now, rather than when the list's first highlight arrives: the
        # first frame is then complete.
        if self.dimension is None and self._notice is None and self._dataset.dimensions:
            self.show_dimension(self._dataset.dimensions[0])

    # ------------------------------------------------------------------ public

    def show_dimension(self, dimension: Dimension,
                       neighbours: Optional[Sequence[Dimension]] = None) -> None:
        """Show ``dimension``; ``neighbours``: where the user may move next (laid out ahead
        of time once this frame is painted), by default its neighbours in the dataset."""
        self._neighbours = neighbours
        if dimension is self.dimension and self._notice is None:
            return
        self._show(dimension, None)

    def show_notice(self, text: str) -> None:
        """Show ``text`` (literally) instead of a dimension, e.g. when a filter matches none."""
        if self.dimension is None and self._notice == text:
            return
        self._show(None, text)

    def _show(self, dimension: Optional[Dimension], notice: Optional[str]) -> None:
        scrolled = bool(self.scroll_offset.y)
        before = self._rows_in_view()
        self.dimension, self._notice = dimension, notice
        self._document = None
        self._sync(on_move=not scrolled)
        if scrolled:
            self.scroll_home(animate=False, immediate=True)
            self.refresh()
        else:
            self._refresh_changed_rows(before)
        self._prefetch_pending = dimension is not None

    def plain_lines(self) -> list[str]:
        """Every rendered line of what is shown (laid out in full), as plain text."""
        document = self._current_document()
        if document is None:
            return []
        document.ensure(None)
        return [strip.text.rstrip() for strip in document.strips]

    def plain_text(self) -> str:
        """The text of every block before wrapping (title, headings, descriptions, ...), one
        block per line: side-by-side columns interleave in ``plain_lines``."""
        document = self._current_document()
        if document is None:
            return ""
        document.ensure(None)
        return "\n".join(document.texts)

    # ------------------------------------------------------------------ layout

    def watch_side_by_side(self) -> None:
        self._sync()
        self.refresh()

    def on_resize(self, event: events.Resize) -> None:
        self._sync()

    def watch_scroll_y(self, old_value: float, new_value: float) -> None:
        super().watch_scroll_y(old_value, new_value)
        self._sync()

    def notify_style_update(self) -> None:
        # Focus, theme and breakpoints change the colours baked into the strips.
        super().notify_style_update()
        self._documents.clear()
        self._document = None
        self._renderer = None
        self.refresh()

    def _current_document(self) -> Optional[LazyLines]:
        width = self.scrollable_content_region.width
        if width <= 0 or not self.is_attached or (self.dimension is None and self._notice is None):
            return None
        if self._document is not None and self._document_width == width:
            return self._document
        self._document_width = width
        if self.dimension is None:
            document = LazyLines(self._renderer_at(width).notice(self._notice or ""))
        else:
            side_by_side = self.side_by_side and fits_columns(self._dataset, self.dimension, width)
            key = (self.dimension.id, width, side_by_side)
            cached = self._documents.get(key)
            if cached is None:
                renderer = self._renderer_at(width)
                cached = LazyLines(renderer.dimension(self._dataset, self.dimension, side_by_side))
                self._documents.set(key, cached)
            document = cached
        self._document = document
        return document

    def _renderer_at(self, width: int) -> _Renderer:
        renderer = self._renderer
        if renderer is None or renderer._width != width:
            renderer = self._renderer = _Renderer(self, width)
        return renderer

    def _sync(self, on_move: bool = False) -> None:
        """Lay out what the view needs and keep the virtual size in step.

        ``on_move``: a new dimension at the top of the view. Its rows are drawn by
        ``render_line`` whatever the virtual size says, and a new virtual size costs a layout
        of the whole screen; so that layout waits until the moves stop (key repeat), outside
        the keystroke's frame. Only the scrollbar is a moment late.
        """
        document = self._current_document()
        outer = self.outer_size
        if document is None:
            self._set_virtual_size(outer, on_move)
            return
        document.ensure(int(self.scroll_offset.y) + self.scrollable_content_region.height + LOOKAHEAD)
        rows = len(document.strips)
        if not document.complete:
            rows += self.scrollable_content_region.height  # room to scroll on into the rest
        # Never shorter than the widget: every dimension that fits then has the same virtual
        # size (the compositor's own), so neither a move nor a layout repaints the scrollbar.
        self._set_virtual_size(Size(outer.width, max(rows, outer.height)), on_move)

    def _set_virtual_size(self, size: Size, later: bool) -> None:
        if self._virtual_size_timer is not None:
            self._virtual_size_timer.stop()
            self._virtual_size_timer = None
        if size == self.virtual_size:
            return
        if not later:
            self.virtual_size = size
            return

        def assign() -> None:
            self._virtual_size_timer = None
            self.virtual_size = size

        self._virtual_size_timer = self.set_timer(VIRTUAL_SIZE_DELAY, assign)

    def _rows_in_view(self) -> list[Strip]:
        document = self._document
        strips = document.strips if document is not None else []
        top = int(self.scroll_offset.y)
        height = self.scrollable_content_region.height
        rows = strips[top:top + height]
        return rows + [self._filler] * (height - len(rows))

    def _refresh_changed_rows(self, before: list[Strip]) -> None:
        """Repaint only the rows that differ from what was on screen (blank rows, the
        subjects' headings and rules are often the same from one dimension to the next)."""
        now = self._rows_in_view()
        if len(now) != len(before):
            self.refresh()
            return
        y = int(self.scroll_offset.y)
        for changed, run in groupby(new is not old and new != old for new, old in zip(now, before)):
            count = len(list(run))
            if changed:
                self.refresh_lines(y, count)
            y += count

    # ------------------------------------------------------------------ line API

    def render_lines(self, crop: Region) -> list[Strip]:
        width = max(0, self.scrollable_content_region.width)
        style = self.rich_style
        if self._filler.cell_length != width or self._filler_style != style:
            self._filler = Strip.blank(width, style)
            self._filler_style = style
        if self._prefetch_pending:
            # Started from inside the frame being composed, so it runs once that frame is on
            # screen (call_after_refresh may run before it); the short delay lets keys that
            # are already waiting be handled first, and a move in the meantime replaces it.
            self._prefetch_pending = False
            if self._prefetch_timer is not None:
                self._prefetch_timer.stop()
            self._prefetch_timer = self.set_timer(PREFETCH_DELAY, self._prefetch_neighbours)
        # Looked up once per frame rather than once per row (each lookup of the content
        # region recomputes it from the styles).
        self._selection_now = self.text_selection
        self._frame_document = self._current_document()
        self._frame_top = int(self.scroll_offset.y)
        self._in_frame = True
        try:
            return super().render_lines(crop)
        finally:
            self._in_frame = False
            self._frame_document = None

    def render_line(self, y: int) -> Strip:
        if self._in_frame:
            document, line = self._frame_document, self._frame_top + y
            selection = self._selection_now
        else:
            document, line = self._current_document(), int(self.scroll_offset.y) + y
            selection = self.text_selection
        if document is None:
            return self._filler
        document.ensure(line + 1)
        if line >= len(document.strips):
            return self._filler
        strip = document.strips[line]
        if selection is not None:
            strip = self._with_selection(strip, line, selection)
        return strip

    # ------------------------------------------------------------------ mouse

    def on_click(self, event: events.Click) -> None:
        link = self.get_style_at(event.x, event.y).link
        if link:
            self.app.open_url(link)

    def get_selection(self, selection: Selection) -> Optional[tuple[str, str]]:
        """The selected text, row by row as on screen (what a terminal's selection gives)."""
        document = self._current_document()
        if document is None:
            return None
        return selection.extract("\n".join(strip.text.rstrip() for strip in document.strips)), "\n"

    def selection_updated(self, selection: Optional[Selection]) -> None:
        self.refresh()

    def _with_selection(self, strip: Strip, line: int, selection: Selection) -> Strip:
        span = selection.get_span(line)
        if span is None:
            return strip
        text = strip.text
        start, end = span
        end = len(text) if end == -1 else min(end, len(text))
        if start >= end:
            return strip
        # Offsets count characters; cuts are in cells.
        cut_start, cut_end = cell_len(text[:start]), cell_len(text[:end])
        before, chosen, after = strip.divide([cut_start, cut_end, strip.cell_length])
        style = self.screen.get_component_rich_style("screen--selection")
        chosen = Strip([Segment(part, part_style + style if part_style else style, control)
                        for part, part_style, control in chosen], chosen.cell_length)
        return Strip.join([before, chosen, after])

    # ------------------------------------------------------------------ ahead of time

    def _prefetch_neighbours(self) -> None:
        """Lay out the first screen of the dimensions next to the shown one, once the frame
        is painted: moving through the list then finds their strips ready."""
        self._prefetch_timer = None
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
        rows = self.scrollable_content_region.height
        for other in neighbours:
            side_by_side = self.side_by_side and fits_columns(self._dataset, other, width)
            key = (other.id, width, side_by_side)
            if key not in self._documents:
                renderer = self._renderer_at(width)
                document = LazyLines(renderer.dimension(self._dataset, other, side_by_side))
                document.ensure(rows)
                self._documents.set(key, document)


def fits_columns(dataset: Dataset, dimension: Dimension, width: int) -> bool:
    """Whether the subjects' descriptions of ``dimension`` go side by side at ``width``."""
    count = len(dataset.subjects)
    column_width = (width - COLUMN_GAP * (count - 1)) // max(count, 1)
    if count < 2 or column_width < MIN_COLUMN_WIDTH:
        return False
    descriptions = dimension.descriptions  # read back from the packed form once
    return all(len(descriptions.get(s.id, "")) <= MAX_COLUMN_TEXT for s in dataset.subjects)


class _Renderer:
    """Builds the blocks of dimensions at one width, in the pane's styles of the moment
    (nothing else is kept between renders)."""

    def __init__(self, pane: ComparisonPane, width: int) -> None:
        self._width = width
        base = pane.visual_style
        self._base = base
        self._blank_style = base.rich_style

        def span(name: str) -> Style:
            # Only the component's colour and attributes: the background stays the pane's.
            full = pane.get_visual_style(f"comparison-pane--{name}")
            return Style(foreground=full.foreground, bold=full.bold, italic=full.italic,
                         underline=full.underline, dim=full.dim)

        self.title, self.verdict, self.subject = span("title"), span("verdict"), span("subject")
        self.tagline, self.rule, self.muted = span("tagline"), span("rule"), span("muted")
        self.correction, self.note = span("correction"), span("note")
        self.command, self.link, self.notice_style = span("command"), span("link"), span("notice")
        # A command's caution: the label bold, the text in the same colour; then what it needs.
        self.caution, self.needs = span("caution"), span("needs")
        self.caution_text = Style(foreground=self.caution.foreground)
        self.commands_base = base + Style(background=pane.get_visual_style(
            "comparison-pane--commands").background)

    # ------------------------------------------------------------------ pieces

    def _strips(self, content: Content, width: int, base: Optional[Style] = None) -> list[Strip]:
        """``content`` wrapped to ``width`` cells, each strip padded to exactly that width."""
        if width <= 0:
            return []
        base = base or self._base
        strips = content.render_strips(width, None, base, OPTIONS)
        pad = base.rich_style
        return [strip.extend_cell_length(width, pad) for strip in strips]

    def _text(self, text: str, style: Style, width: Optional[int] = None,
              base: Optional[Style] = None) -> Iterator[tuple[str, list[Strip]]]:
        """A text of any length, laid out one piece at a time."""
        width = self._width if width is None else width
        first = True
        for piece in chunks(text):
            yield (text if first else ""), self._strips(Content.styled(piece, style), width, base)
            first = False

    def _blank(self, width: Optional[int] = None, style: Optional[RichStyle] = None) -> Strip:
        return Strip.blank(self._width if width is None else width, style or self._blank_style)

    def _gap(self) -> tuple[str, list[Strip]]:
        return "", [self._blank()]

    def notice(self, text: str) -> Iterator[tuple[str, list[Strip]]]:
        yield from self._text(text, self.notice_style)
        yield "", self._strips(Content.styled("Escape clears the filter", self.muted), self._width)

    # ------------------------------------------------------------------ the dimension

    def dimension(self, dataset: Dataset, dimension: Dimension,
                  side_by_side: bool) -> Iterator[tuple[str, list[Strip]]]:
        # The title first, on the first row: on a tiny pane it is what is left.
        yield from self._text(dimension.title, self.title)
        if dimension.verdict:
            yield from self._text(dimension.verdict, self.verdict)
        yield self._gap()
        if side_by_side:
            yield self._columns(dataset, dimension)
            yield self._gap()
        else:
            descriptions = dimension.descriptions
            for subject in dataset.subjects:
                yield from self._stacked_subject(subject.name, subject.tagline,
                                                 descriptions.get(subject.id, ""))
                yield self._gap()
        for section in (self._notes(dimension), self._commands(dataset, dimension),
                        self._sources(dimension)):
            empty = True
            for block in section:
                empty = False
                yield block
            if not empty:
                yield self._gap()

    def _heading(self, name: str, tagline: str) -> Content:
        return Content.assemble((name, self.subject), "  ", (tagline[:CHUNK], self.tagline))

    def _rule(self, width: int) -> list[Strip]:
        return self._strips(Content.styled("─" * width, self.rule), width)

    def _stacked_subject(self, name: str, tagline: str,
                         description: str) -> Iterator[tuple[str, list[Strip]]]:
        heading = self._heading(name, tagline)
        yield heading.plain, self._strips(heading, self._width) + self._rule(self._width)
        yield from self._text(description, Style())

    def _columns(self, dataset: Dataset, dimension: Dimension) -> tuple[str, list[Strip]]:
        subjects = dataset.subjects
        descriptions = dimension.descriptions
        count = len(subjects)
        column_width = (self._width - COLUMN_GAP * (count - 1)) // count
        headings = [self._strips(self._heading(s.name, s.tagline), column_width) for s in subjects]
        # Headings padded to the tallest one, so that the rules line up across columns.
        heading_height = max(len(strips) for strips in headings)
        columns = [
            heading + [self._blank(column_width)] * (heading_height - len(heading))
            + self._rule(column_width)
            + self._strips(Content(descriptions.get(s.id, "")), column_width)
            for s, heading in zip(subjects, headings)
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
        texts = [text for s in subjects
                 for text in (self._heading(s.name, s.tagline).plain,
                              descriptions.get(s.id, ""))]
        return "\n".join(texts), lines

    def _notes(self, dimension: Dimension) -> Iterator[tuple[str, list[Strip]]]:
        bar_width = len(NOTES_BAR)
        inner = self._width - bar_width
        if inner <= 0:
            inner, bar_width = self._width, 0
        bar = Strip([Segment(NOTES_BAR[:bar_width], (self._base + self.correction).rich_style)],
                    bar_width)

        def with_bar(strips: list[Strip]) -> list[Strip]:
            return [Strip.join([bar, strip]) for strip in strips] if bar_width else strips

        for note in dimension.notes:
            if note.is_correction:
                head = Content.styled(f"{CORRECTION_MARK} Correction: ", self.correction)
            else:
                head = Content.styled(f"{CAVEAT_MARK} Note: ", self.note)
            first = True
            for piece in chunks(note.text):
                content = head + Content(piece) if first else Content(piece)
                yield (head.plain + note.text if first else ""), with_bar(self._strips(content, inner))
                first = False
            if note.source:
                yield note.source, with_bar(self._link(note.source, inner, "  "))

    def _link(self, url: str, width: int, indent: str = "") -> list[Strip]:
        """A URL on its own line, never broken: cut with an ellipsis if wider than the pane
        (the link still holds all of it), and clickable."""
        if width <= 0:
            return []
        style = self.link + Style(link=url)
        content = Content.assemble(indent, (url, style))
        if content.cell_length > width:
            content = content.truncate(width, ellipsis=True)
        return self._strips(content, width)

    def _commands(self, dataset: Dataset, dimension: Dimension) -> Iterator[tuple[str, list[Strip]]]:
        base = self.commands_base
        pad = 1 if self._width > 2 else 0
        inner = self._width - 2 * pad
        does_indent = 4 if inner > 8 else 0
        padding = Strip.blank(pad, base.rich_style)

        def framed(strips: list[Strip]) -> list[Strip]:
            if pad:
                strips = [Strip.join([padding, strip]) for strip in strips]
            return [strip.extend_cell_length(self._width, base.rich_style) for strip in strips]

        commands = dimension.commands
        for subject in dataset.subjects:
            entries = commands.get(subject.id, ())
            if not entries:
                continue
            heading = f"{subject.name} commands"
            yield heading, framed(self._strips(Content.styled(heading, self.subject), inner, base))
            for command in entries:
                yield command.run, framed(self._command_lines(command.run, inner))
                does = self._strips(Content.styled(command.does, self.muted),
                                    inner - does_indent, base)
                if does_indent:
                    indent = Strip.blank(does_indent, base.rich_style)
                    does = [Strip.join([indent, line]) for line in does]
                yield command.does, framed(does)
                if command.caution:
                    label = Content.assemble((CAUTION_LABEL, self.caution),
                                             (command.caution, self.caution_text))
                    yield label.plain, framed(self._indented(label, inner, does_indent))
                if command.needs:
                    needs = Content.styled(NEEDS_LABEL + command.needs, self.needs)
                    yield needs.plain, framed(self._indented(needs, inner, does_indent))

    def _indented(self, content: Content, inner: int, indent: int) -> list[Strip]:
        """``content`` wrapped under a command, ``indent`` cells in, on the block's background."""
        base = self.commands_base
        strips = self._strips(content, inner - indent, base)
        if indent:
            blank = Strip.blank(indent, base.rich_style)
            strips = [Strip.join([blank, line]) for line in strips]
        return strips

    def _command_lines(self, run: str, width: int) -> list[Strip]:
        """``$ command`` wrapped only at spaces, each broken line ending in `` \\`` (the
        shell's continuation, so a copy still runs); a word wider than the pane is cut with
        a ``\\`` too."""
        base = self.commands_base
        if width <= 0:
            return []
        room = width - len(CONTINUATION)
        mark = Content.styled(CONTINUATION, self.muted)
        cut_mark = Content.styled("\\", self.muted)
        lines: list[Content] = []
        current = Content.styled("$ ", self.muted)
        has_word = False
        words = run.split(" ")
        for index, word in enumerate(words):
            limit = width if index == len(words) - 1 else room
            piece = Content.styled(word, self.command)
            candidate = current + Content(" ") + piece if has_word else current + piece
            if candidate.cell_length <= limit:
                current, has_word = candidate, True
                continue
            if has_word:
                lines.append(current + mark)
                current = Content(COMMAND_INDENT) + piece
            else:
                current = candidate
            has_word = True
            while current.cell_length > limit and room > len(COMMAND_INDENT) + 1:
                lines.append(current[:room] + cut_mark)
                current = Content(COMMAND_INDENT) + current[room:]
        lines.append(current)
        strips: list[Strip] = []
        for line in lines:
            strips += self._strips(line, width, base)
        return strips

    def _sources(self, dimension: Dimension) -> Iterator[tuple[str, list[Strip]]]:
        if not dimension.sources:
            return
        heading = Content.styled("Sources", self.muted + Style(bold=True))
        yield "Sources", self._strips(heading, self._width)
        for url in dimension.sources:
            yield url, self._link(url, self._width)
