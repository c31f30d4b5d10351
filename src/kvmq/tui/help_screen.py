"""The help screen (``?``): every key, generated from the bindings that define them."""

from __future__ import annotations

from typing import ClassVar, Sequence

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Grid, VerticalScroll
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Static

# (heading, bindings): one row per action, its keys side by side.
HelpSections = Sequence[tuple[str, Sequence[Binding]]]


class HelpScreen(ModalScreen[None]):
    """A modal table of keys; Escape, ``?`` or ``q`` closes it."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "dismiss", "Close help"),
        Binding("question_mark", "dismiss", "Close help", show=False),
        Binding("q", "dismiss", "Close help", show=False),
    ]
    DEFAULT_CSS = """
    HelpScreen {
        align: center middle;
        & > VerticalScroll {
            width: 80%;
            max-width: 90;
            min-width: 16;
            height: 80%;
            border: round $accent;
            background: $surface;
            padding: 0 1;
        }
        .help-screen--title {
            width: 1fr; min-width: 4; height: 1; margin-bottom: 1;
            text-style: bold; text-wrap: nowrap; text-overflow: ellipsis;
        }
        .help-screen--heading { color: $accent; text-style: bold underline; margin-top: 1; }
        .help-screen--hint { color: $text-muted; margin-top: 1; }
        Grid { grid-size: 2; grid-columns: auto 1fr; grid-gutter: 0 2; height: auto; }
        Grid > Static { height: auto; min-width: 4; }
        .help-screen--keys { text-style: bold; }
    }
    HelpScreen.-narrow > VerticalScroll { width: 100%; height: 100%; }
    """

    def __init__(self, title: str, sections: HelpSections) -> None:
        super().__init__()
        self._title = title
        self._sections = sections

    def compose(self) -> ComposeResult:
        with VerticalScroll():
            yield Static(Content(self._title), classes="help-screen--title")
            for heading, bindings in self._sections:
                yield Static(Content(heading), classes="help-screen--heading")
                with Grid():
                    for keys, description in self._rows(bindings):
                        yield Static(Content(keys), classes="help-screen--keys")
                        yield Static(Content(description))
            yield Static(Content("Escape closes this screen"), classes="help-screen--hint")

    def _rows(self, bindings: Sequence[Binding]) -> list[tuple[str, str]]:
        """One row per description, with every key that does it."""
        rows: dict[str, list[str]] = {}
        for binding in bindings:
            description = binding.tooltip or binding.description
            keys = rows.setdefault(description, [])
            display = self.app.get_key_display(binding)
            if display not in keys:
                keys.append(display)
        return [("  ".join(keys), description) for description, keys in rows.items()]

    async def action_dismiss(self, result: None = None) -> None:
        self.dismiss(result)
