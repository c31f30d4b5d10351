"""The list of dimensions on the left of the Compare tab, with filtering."""

from __future__ import annotations

from typing import ClassVar, Optional, Sequence

from textual import events
from textual.binding import Binding, BindingType
from textual.content import Content
from textual.reactive import reactive
from textual.widgets import OptionList
from textual.widgets.option_list import Option

from kvmq.dataset.model import Dataset, Dimension
from kvmq.dataset.search import FilterIndex, narrows

# A prompt is one line ending in an ellipsis: longer titles are cut before they are styled.
MAX_PROMPT = 300


class DimensionList(OptionList):
    """One line per dimension; :attr:`current` is the highlighted one.

    An OptionList rather than a ListView: it renders lines, not widgets, so it stays fast
    with thousands of dimensions. Its contract is OptionList's: ``OptionHighlighted`` fires
    on every move. The app also watches the ``highlighted`` reactive, so the pane follows in
    the same turn as the key rather than a message hop later. Moving down from the last
    entry wraps to the first, and up from the first to the last.
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("down,j", "cursor_down", "Down", show=False,
                tooltip="next dimension (from the last: the first)"),
        Binding("up,k", "cursor_up", "Up", show=False,
                tooltip="previous dimension (from the first: the last)"),
        Binding("home,g", "first", "First", show=False, tooltip="first dimension"),
        Binding("end,G", "last", "Last", show=False, tooltip="last dimension"),
        Binding("pagedown", "page_down", "Page down", show=False, tooltip="a page down"),
        Binding("pageup", "page_up", "Page up", show=False, tooltip="a page up"),
    ]
    DEFAULT_CSS = """
    DimensionList {
        height: 1fr;
        min-width: 8;
        border: none;
        padding: 0;
        /* One line per dimension: long titles end in an ellipsis instead of wrapping. */
        text-wrap: nowrap;
        text-overflow: ellipsis;
        &:focus { border: none; background-tint: $foreground 3%; }
    }
    """

    #: As OptionList's, but a change repaints only the two rows it concerns (see
    #: :meth:`_repaint_moved_highlight`), not every row in view: on a move that was 36
    #: rows through Textual's line pipeline, 2 ms of a 10 ms keystroke.
    highlighted: reactive[Optional[int]] = reactive(None, repaint=False)

    def __init__(self, dataset: Dataset, *, id: Optional[str] = None) -> None:
        # Prompts are built once; filtering reuses the same Option objects. Passing them to
        # the constructor (one call, before mounting) lets the first frame show the list.
        options = [Option(Content(d.title[:MAX_PROMPT]), id=d.id) for d in dataset.dimensions]
        super().__init__(*options, id=id)
        self._index = FilterIndex(dataset)
        self._shown: list[Dimension] = list(dataset.dimensions)
        self._index_by_id = {d.id: i for i, d in enumerate(dataset.dimensions)}
        self._all_options = options
        self.query_text = ""

    def on_mount(self) -> None:
        self.watch(self, "highlighted", self._repaint_moved_highlight, init=False)
        if self._all_options:
            self.highlighted = 0

    def _repaint_moved_highlight(self, old: Optional[int], new: Optional[int]) -> None:
        # Each option is one line (nowrap), so option i is line i, unless the virtual
        # height says otherwise; then, and from or to no highlight, everything is repainted.
        # A move that scrolls repaints everything anyway (the scroll offset changes).
        if old is None or new is None or self.virtual_size.height != self.option_count:
            self.refresh()
            return
        self.refresh_lines(old)
        self.refresh_lines(new)

    def on_resize(self, event: events.Resize) -> None:
        # The highlighted entry stays in view through any resize.
        self.call_after_refresh(self.scroll_to_highlight)

    def keep_highlight_in_view(self) -> None:
        """Scroll the highlighted entry into view once the next layout is done (the app calls
        it when the Compare tab shows again: a resize while another tab hid the list sends the
        list no event)."""
        self.call_after_refresh(self.scroll_to_highlight)

    @property
    def filter_ready(self) -> bool:
        """True once the filter's index is built."""
        return self._index.is_built

    def prepare_filter(self) -> None:
        """Build the filter's index now rather than at the first key typed (see
        :class:`FilterIndex`: it is left out of the start-up)."""
        self._index.prepare()

    @property
    def shown_dimensions(self) -> Sequence[Dimension]:
        """The dimensions the filter keeps, in list order."""
        return self._shown

    @property
    def current(self) -> Optional[Dimension]:
        if self.highlighted is None or not self._shown:
            return None
        return self._shown[self.highlighted]

    def neighbours(self, step: int = 0) -> list[Dimension]:
        """Where the user is likely to move next, as shown (filtered or not).

        ``step``: the move that led here (1 down, -1 up); after such a move only the next
        entry in that direction, otherwise the entries after and before. One entry rather
        than two halves the work the pane does ahead while a key repeats.
        """
        highlighted = self.highlighted
        if highlighted is None:
            return []
        candidates = (highlighted + step,) if step in (1, -1) else (highlighted + 1, highlighted - 1)
        shown = self._shown
        return [shown[i] for i in candidates if 0 <= i < len(shown)]

    @property
    def total(self) -> int:
        """Dimensions in the dataset, shown or not."""
        return len(self._all_options)

    def apply_filter(self, query: str) -> None:
        """Show only dimensions containing every word of ``query``; keep the highlight if shown.

        No message: the caller reads :attr:`shown_dimensions` and updates the count in the
        same frame.
        """
        if query == self.query_text:
            return
        previous = self.current
        # A query that narrows the last one only needs to search what that one found.
        within = self._shown if narrows(query, self.query_text) else None
        self.query_text = query
        found = self._index.filter(query, within)
        if len(found) == len(self._shown) and all(
                new is old for new, old in zip(found, self._shown)):
            # The same entries (typing on often changes nothing): rebuilding the options,
            # the costliest step with thousands of them, would change nothing.
            return
        self._shown = found
        options = self._all_options
        index_by_id = self._index_by_id
        self.set_options([options[index_by_id[d.id]] for d in found])
        if found:
            # set_options() cleared the highlight, so this always announces the entry.
            # (By identity: comparing dataclasses field by field is slow over thousands.)
            self.highlighted = next(
                (index for index, shown in enumerate(found) if shown is previous), 0)

    def select_dimension(self, dimension_id: str) -> bool:
        """Highlight a dimension by id (clearing a filter that hides it); False if unknown."""
        if dimension_id not in self._index_by_id:
            return False
        if all(d.id != dimension_id for d in self._shown):
            self.apply_filter("")
        for index, dimension in enumerate(self._shown):
            if dimension.id == dimension_id:
                self.highlighted = index
                self.scroll_to_highlight()
        return True
