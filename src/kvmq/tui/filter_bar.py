"""The filter input above the dimension list, opened with ``/``."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.content import Content
from textual.message import Message
from textual.widgets import Input, Static


class FilterBar(Horizontal):
    """An input that narrows the dimension list as you type, and a match count."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "clear", "Clear filter")]

    class QueryChanged(Message):
        def __init__(self, query: str) -> None:
            super().__init__()
            self.query = query

    class Finished(Message):
        """Enter was pressed (keep the filter) or Escape (filter cleared)."""

        def __init__(self, cleared: bool) -> None:
            super().__init__()
            self.cleared = cleared

    def compose(self) -> ComposeResult:
        yield Input(placeholder="words to match", id="filter-input", compact=True)
        yield Static(id="filter-count", markup=False)

    @property
    def query_text(self) -> str:
        return self.query_one(Input).value

    def open(self) -> None:
        self.display = True
        # A widget hidden until now can only take focus once it has been laid out.
        self.call_after_refresh(self.query_one(Input).focus)

    def show_count(self, query: str, shown: int, total: int) -> None:
        count = self.query_one("#filter-count", Static)
        # As wide as the longest text it can show for this total: a fixed width lets the
        # count change on every keystroke without a layout of the whole screen.
        longest = max(len(f"{total} of {total} match"), len(f"{total} dimensions"), len("no match"))
        width = longest + count.styles.gutter.width
        if count.styles.width is None or count.styles.width.value != width:
            count.styles.width = width
        if not query.strip():
            text = Content.styled(f"{total} dimensions", "dim")
        elif shown:
            text = Content.styled(f"{shown} of {total} match", "dim")
        else:
            text = Content.styled("no match", "bold $warning")
        count.update(text, layout=False)

    def clear_input(self) -> None:
        """Empty the input without announcing a new query."""
        field = self.query_one(Input)
        with field.prevent(Input.Changed):
            field.value = ""

    def on_input_changed(self, event: Input.Changed) -> None:
        event.stop()
        self.post_message(self.QueryChanged(event.value))

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if not event.value.strip():
            self.display = False
        self.post_message(self.Finished(cleared=False))

    def action_clear(self) -> None:
        self.clear_input()
        self.display = False
        self.post_message(self.QueryChanged(""))
        self.post_message(self.Finished(cleared=True))
