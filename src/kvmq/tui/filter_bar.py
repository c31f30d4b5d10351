"""The filter input above the dimension list, opened with ``/``."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.content import Content
from textual.message import Message
from textual.widgets import Input, Static


class FilterBar(Vertical):
    """An input as wide as the list that narrows it as you type, with a match count below."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "clear", "Clear filter")]
    COMPONENT_CLASSES: ClassVar[set[str]] = {"filter-bar--count", "filter-bar--no-match"}
    DEFAULT_CSS = """
    FilterBar {
        height: auto;
        padding: 0 1;
        background: $boost;
        & > Input { width: 1fr; min-width: 4; }
        & > Static { width: 1fr; height: 1; min-width: 4; }
        & > .filter-bar--count { color: $text-muted; }
        & > .filter-bar--no-match { color: $warning; text-style: bold; }
    }
    """

    class QueryChanged(Message):
        """The text in the input changed (``query``: the new text)."""

        def __init__(self, query: str) -> None:
            super().__init__()
            self.query = query

    class Finished(Message):
        """Enter was pressed (keep the filter) or Escape (filter cleared)."""

        def __init__(self, cleared: bool) -> None:
            super().__init__()
            self.cleared = cleared

    def compose(self) -> ComposeResult:
        yield Input(placeholder="words to match", compact=True)
        yield Static(markup=False)

    @property
    def query_text(self) -> str:
        return self.query_one(Input).value

    def open(self) -> None:
        """Show the bar and put the cursor in it at once: keys typed in the same burst as
        ``/`` (a paste) land in the input."""
        self.display = True
        self.focus_input()

    def focus_input(self) -> None:
        # Synchronously (Widget.focus() is queued behind keys already waiting).
        self.screen.set_focus(self.query_one(Input))

    def show_count(self, query: str, shown: int, total: int) -> None:
        """``N of M match`` under the input, or ``no match``."""
        if not query.strip():
            text, component = f"{total} dimension{'' if total == 1 else 's'}", "filter-bar--count"
        elif shown:
            text, component = f"{shown} of {total} match", "filter-bar--count"
        else:
            text, component = "no match", "filter-bar--no-match"
        style = self.get_visual_style(component)
        self.query_one(Static).update(Content.styled(text, style), layout=False)

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
