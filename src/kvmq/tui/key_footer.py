"""The footer of keys: Textual's Footer, rebuilt once per refresh however often the bindings change."""

from __future__ import annotations

from textual.screen import Screen
from textual.widgets import Footer


class KeyFooter(Footer):
    """Textual's Footer recomposes (removes and mounts every key) each time the screen's
    bindings change, and a focus change, a tab switch and ``refresh_bindings()`` each say so:
    four rebuilds while the explorer starts, two on a tab key. This one waits for the next
    refresh and rebuilds once for all the changes before it."""

    def __init__(self, *, compact: bool = False, show_command_palette: bool = True) -> None:
        super().__init__(compact=compact, show_command_palette=show_command_palette)
        self._rebuild_pending = False

    def bindings_changed(self, screen: Screen[object]) -> None:
        if not self._rebuild_pending:
            self._rebuild_pending = True
            self.call_after_refresh(self._rebuild, screen)

    def _rebuild(self, screen: Screen[object]) -> None:
        self._rebuild_pending = False
        super().bindings_changed(screen)
