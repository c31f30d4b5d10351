"""Command palette provider: "Go to <dimension>" for every dimension, and the tabs."""

from __future__ import annotations

from functools import partial
from typing import Callable, Iterator, Optional, Protocol, Sequence, cast

from textual.command import DiscoveryHit, Hit, Hits, Provider
from textual.content import Content

from kvmq.dataset.model import Dataset


class Navigable(Protocol):
    """What the palette needs of the app (so this module never imports the app)."""

    dataset: Optional[Dataset]

    def tab_specs(self) -> Sequence[tuple[str, str, str]]: ...

    def show_tab(self, tab_id: str) -> None: ...

    def go_to_dimension(self, dimension_id: str) -> None: ...


def _highlight(text: str, offsets: Sequence[int]) -> Content:
    # Matcher.highlight() parses its argument as markup; dataset text must stay literal.
    content = Content(text)
    for offset in offsets:
        if 0 <= offset < len(text):
            content = content.stylize("bold $accent underline", offset, offset + 1)
    return content


class ExplorerCommands(Provider):
    """Jumps to any dimension or tab from the palette (Ctrl+P)."""

    @property
    def explorer(self) -> Navigable:
        return cast(Navigable, self.app)

    def _entries(self) -> Iterator[tuple[str, Callable[[], object], str]]:
        app = self.explorer
        if app.dataset is None:  # still loading: nothing to go to yet
            return
        for tab_id, label, key in app.tab_specs():
            yield f"Show the {label} tab", partial(app.show_tab, tab_id), f"key {key}"
        for dimension in app.dataset.dimensions:
            yield (f"Go to {dimension.title}", partial(app.go_to_dimension, dimension.id),
                   dimension.verdict or "Show this dimension in the Compare tab")

    async def discover(self) -> Hits:
        for text, command, help_text in self._entries():
            yield DiscoveryHit(Content(text), command, text=text, help=_escape(help_text))

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for text, command, help_text in self._entries():
            score, offsets = matcher.fuzzy_search.match(matcher.query, text)
            if score > 0:
                yield Hit(score, _highlight(text, offsets), command, text=text,
                          help=_escape(help_text))


def _escape(text: str) -> str:
    # The palette renders help text as markup.
    from textual.markup import escape

    return escape(text)
