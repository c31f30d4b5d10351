"""The Summary tab: the comparison's conclusion, the subjects and the attribution."""

from __future__ import annotations

from typing import ClassVar, Iterator, Optional

from textual.content import Content
from textual.strip import Strip
from textual.style import Style

from kvmq.dataset.model import Dataset
from kvmq.tui.line_view import Block, LineView, chunks, component_style, wrap

SUBJECT_BAR = "▎ "


class SummaryView(LineView):
    """The title, the summary text, each subject (name, tagline, homepage), the source."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "summary-view--title", "summary-view--subject", "summary-view--bar",
        "summary-view--muted", "summary-view--link",
    }
    DEFAULT_CSS = """
    SummaryView {
        & > .summary-view--title { text-style: bold; }
        & > .summary-view--subject { color: $accent; text-style: bold; }
        & > .summary-view--bar { color: $accent; }
        & > .summary-view--muted { color: $text-muted; }
        & > .summary-view--link { color: $text-muted; text-style: underline; }
    }
    """

    def __init__(self, dataset: Dataset, *, id: Optional[str] = None) -> None:
        super().__init__(id=id)
        self._dataset = dataset

    def _text(self, text: str, style: Style, width: int) -> Iterator[Block]:
        base = self.visual_style
        for index, piece in enumerate(chunks(text)):
            yield (text if index == 0 else ""), wrap(Content.styled(piece, style), width, base)

    def _link(self, url: str, width: int) -> list[Strip]:
        # A URL is never broken: one line, cut with an ellipsis if need be; the link holds all.
        content = Content.styled(url, component_style(self, "summary-view--link") + Style(link=url))
        if content.cell_length > width:
            content = content.truncate(width, ellipsis=True)
        return wrap(content, width, self.visual_style)

    def blocks(self, width: int) -> Iterator[Block]:
        dataset = self._dataset
        base = self.visual_style
        blank: Block = ("", [Strip.blank(width, base.rich_style)])
        yield from self._text(dataset.title, component_style(self, "summary-view--title"), width)
        yield blank
        yield from self._text(dataset.summary, Style(), width)
        bar_width = len(SUBJECT_BAR) if width > len(SUBJECT_BAR) + 4 else 0
        bar = Strip([], 0) if not bar_width else wrap(
            Content.styled(SUBJECT_BAR, component_style(self, "summary-view--bar")), bar_width, base)[0]
        inner = width - bar_width
        muted = component_style(self, "summary-view--muted")
        for subject in dataset.subjects:
            yield blank
            lines = wrap(Content.styled(subject.name, component_style(self, "summary-view--subject")),
                         inner, base)
            for piece in chunks(subject.tagline):
                lines += wrap(Content(piece), inner, base)
            if subject.homepage:
                lines += self._link(subject.homepage, inner)
            yield subject.name, [Strip.join([bar, line]) for line in lines]
        source = dataset.source
        if source is None:  # a comparison written from scratch: nothing to attribute
            return
        yield blank
        attribution = Content.assemble(("Based on ", muted), (source.title, Style(italic=True)),
                                       (" by ", muted), source.publisher)
        yield attribution.plain, wrap(attribution, width, base)
        if source.url:
            yield source.url, self._link(source.url, width)
