"""The list of dimensions on the left of the Compare tab, with filtering."""

from __future__ import annotations

from typing import ClassVar, Optional, Sequence

from textual.binding import Binding, BindingType
from textual.content import Content
from textual.widgets import OptionList
from textual.widgets.option_list import Option

from kvmq.dataset.model import Dataset, Dimension
from kvmq.dataset.search import FilterIndex, narrows


class DimensionList(OptionList):
    """One line per dimension; :attr:`current` is the highlighted one.

    An OptionList rather than a ListView: it renders lines, not widgets, so it stays fast
    with thousands of dimensions. Whoever shows the current dimension watches the
    ``highlighted`` reactive (``App.watch``): a watcher runs in the same turn as the move,
    where a message would bubble through every container up to the app, one queue hop each,
    and the pane would catch up a frame later.
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("j", "cursor_down", "Down", show=False),
        Binding("k", "cursor_up", "Up", show=False),
        Binding("g", "first", "First", show=False),
        Binding("G", "last", "Last", show=False),
    ]

    def __init__(self, dataset: Dataset, *, id: Optional[str] = None) -> None:
        # Prompts are built once; filtering reuses the same Option objects. Passing them to
        # the constructor (one call, before mounting) lets the first frame show the list.
        options = [Option(Content(d.title), id=d.id) for d in dataset.dimensions]
        super().__init__(*options, id=id)
        self._index = FilterIndex(dataset)
        self._visible: list[Dimension] = list(dataset.dimensions)
        self._index_by_id = {d.id: i for i, d in enumerate(dataset.dimensions)}
        self._all_options = options
        self.query_text = ""

    def on_mount(self) -> None:
        if self._all_options:
            self.highlighted = 0

    @property
    def shown_dimensions(self) -> Sequence[Dimension]:
        """The dimensions the filter keeps, in list order."""
        return self._visible

    @property
    def current(self) -> Optional[Dimension]:
        if self.highlighted is None or not self._visible:
            return None
        return self._visible[self.highlighted]

    def neighbours(self) -> list[Dimension]:
        """The entries after and before the highlighted one, as shown (filtered or not)."""
        highlighted = self.highlighted
        if highlighted is None:
            return []
        visible = self._visible
        return [visible[i] for i in (highlighted + 1, highlighted - 1) if 0 <= i < len(visible)]

    @property
    def total(self) -> int:
        """Dimensions in the dataset, shown or not."""
        return len(self._all_options)

    def apply_filter(self, query: str) -> None:
        """Show only dimensions containing every word of ``query``; keep the highlight if shown.

        No message: the caller reads :attr:`shown_dimensions` and updates the count in the same frame.
        """
        if query == self.query_text:
            return
        previous = self.current
        # A query that narrows the last one only needs to search what that one found.
        within = self._visible if narrows(query, self.query_text) else None
        self.query_text = query
        found = self._index.filter(query, within)
        if len(found) == len(self._visible) and all(
                new is old for new, old in zip(found, self._visible)):
            # The same entries (typing on often changes nothing): rebuilding the options,
            # the costliest step with thousands of them, would change nothing.
            return
        self._visible = found
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
        if all(d.id != dimension_id for d in self._visible):
            self.apply_filter("")
        for index, dimension in enumerate(self._visible):
            if dimension.id == dimension_id:
                self.highlighted = index
                self.scroll_to_highlight()
        return True
