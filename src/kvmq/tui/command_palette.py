"""The command palette: Textual's own, with page keys that wait for the list to be laid out."""

from __future__ import annotations

from typing import ClassVar

from textual.binding import Binding, BindingType
from textual.command import CommandList, CommandPalette


class ExplorerPalette(CommandPalette):
    """Textual 8.2's command list pages by its rendered lines. A list filled a moment ago has
    none yet, so a page key that arrives in the same burst as ctrl+p (a fast typist, a key
    held down, keys queued while the palette opens) raised ``KeyError`` and ended the app.
    Here the page waits for the next refresh, by which time the list has been drawn."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("pagedown", "page_commands(1)", "Next page", show=False),
        Binding("pageup", "page_commands(-1)", "Previous page", show=False),
    ]

    def action_page_commands(self, direction: int) -> None:
        commands = self.query_one(CommandList)
        self.call_after_refresh(commands.action_page_down if direction > 0 else commands.action_page_up)
