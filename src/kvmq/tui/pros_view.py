"""The Pros tab: each subject's pros with vote counts, bars and a total."""

from __future__ import annotations

from typing import ClassVar, Iterator, Optional

from textual.content import Content
from textual.strip import Strip
from textual.style import Style

from kvmq.dataset.model import Dataset, Pro, Subject
from kvmq.render.dataset import BAR_WIDTH, bar
from kvmq.tui.line_view import Block, LineView, chunks, component_style, wrap

COLUMN_GAP = 4
# Side by side only while each column has room for a label beside its bar and count.
MIN_COLUMN_WIDTH = 36
MAX_COLUMNS = 4
# A label column narrower than this puts the bar on the line under the label.
MIN_LABEL_WIDTH = 14


class ProsView(LineView):
    """One column per subject (stacked on narrow screens), most votes first.

    Bars are scaled to the largest vote count in the whole dataset, so columns compare.
    Labels wrap only between words; the bar and count sit beside the label's first line, or
    under it when the view is too narrow for both.
    """

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "pros-view--subject", "pros-view--total", "pros-view--bar", "pros-view--votes",
        "pros-view--rule", "pros-view--empty",
    }
    DEFAULT_CSS = """
    ProsView {
        & > .pros-view--subject { color: $accent; text-style: bold; }
        & > .pros-view--total { text-style: bold; }
        & > .pros-view--bar { color: $success; }
        & > .pros-view--votes { color: $text; }
        & > .pros-view--rule { color: $accent 40%; }
        & > .pros-view--empty { color: $text-muted; }
    }
    """

    def __init__(self, dataset: Dataset, *, id: Optional[str] = None) -> None:
        super().__init__(id=id)
        self._dataset = dataset
        self._most = dataset.max_votes()

    def blocks(self, width: int) -> Iterator[Block]:
        subjects = self._dataset.subjects
        count = min(len(subjects), MAX_COLUMNS)
        column_width = (width - COLUMN_GAP * (count - 1)) // max(count, 1)
        if self.side_by_side and 1 < len(subjects) <= MAX_COLUMNS and column_width >= MIN_COLUMN_WIDTH:
            yield self._columns(width, column_width)
            return
        for index, subject in enumerate(subjects):
            if index:
                yield "", [Strip.blank(width, self.rich_style)]
            yield from self._subject(subject, width)

    def _columns(self, width: int, column_width: int) -> Block:
        columns = [[strip for _, block in self._subject(subject, column_width) for strip in block]
                   for subject in self._dataset.subjects]
        base = self.rich_style
        blank, gap = Strip.blank(column_width, base), Strip.blank(COLUMN_GAP, base)
        rows = []
        for row in range(max(len(column) for column in columns)):
            parts: list[Strip] = []
            for index, column in enumerate(columns):
                if index:
                    parts.append(gap)
                parts.append(column[row] if row < len(column) else blank)
            rows.append(Strip.join(parts).extend_cell_length(width, base))
        return "", rows

    def _subject(self, subject: Subject, width: int) -> Iterator[Block]:
        base = self.visual_style
        pros = self._dataset.pros_ranked(subject.id)
        total = sum(pro.votes for pro in pros)
        votes_width = max(len(str(total)), 1)
        yield subject.name, wrap(Content.styled(subject.name, component_style(self, "pros-view--subject")),
                                 width, base)
        yield "", wrap(Content.styled("─" * width, component_style(self, "pros-view--rule")), width, base)
        if not pros:
            yield "", wrap(Content.styled("(no pros listed)", component_style(self, "pros-view--empty")),
                           width, base)
        bar_width = min(BAR_WIDTH, max(1, width - votes_width - 1))
        label_width = width - bar_width - votes_width - 2
        beside = label_width >= MIN_LABEL_WIDTH
        bar_style = component_style(self, "pros-view--bar")
        votes_style = component_style(self, "pros-view--votes")
        for pro in pros:
            yield pro.label, self._row(pro, width, label_width if beside else 0, bar_width,
                                       votes_width, bar_style, votes_style, base)
        total_style = component_style(self, "pros-view--total")
        label = Content.styled("Total", total_style)
        right = Content.styled(f"{total:>{votes_width}}", total_style)
        yield "Total", wrap(label.pad_right(max(0, width - label.cell_length - right.cell_length))
                            + right, width, base)

    def _row(self, pro: Pro, width: int, label_width: int, bar_width: int, votes_width: int,
             bar_style: Style, votes_style: Style, base: Style) -> list[Strip]:
        right = Content.assemble((bar(pro.votes, self._most, bar_width).ljust(bar_width), bar_style),
                                 " ", (f"{pro.votes:>{votes_width}}", votes_style))
        if label_width <= 0:
            # Too narrow for both: the label's lines, then the bar and count under them.
            strips = [strip for piece in chunks(pro.label)
                      for strip in wrap(Content(piece), width, base)]
            return strips + wrap(right.pad_left(max(0, width - right.cell_length)), width, base)
        labels = [strip for piece in chunks(pro.label)
                  for strip in wrap(Content(piece), label_width, base)]
        gap = Strip.blank(width - label_width - right.cell_length, base.rich_style)
        right_strip = wrap(right, right.cell_length, base)[0]
        first = Strip.join([labels[0], gap, right_strip]) if labels else Strip.join([gap, right_strip])
        rest = [strip.extend_cell_length(width, base.rich_style) for strip in labels[1:]]
        return [first.extend_cell_length(width, base.rich_style), *rest]
