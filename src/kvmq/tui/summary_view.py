"""The Summary tab: the comparison's conclusion, the subjects and the attribution."""

from __future__ import annotations

from typing import Optional

from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.content import Content
from textual.widgets import Static

from kvmq.dataset.model import Dataset


class SummaryView(VerticalScroll, can_focus=True):
    def __init__(self, dataset: Dataset, *, id: Optional[str] = None) -> None:
        super().__init__(id=id)
        self._dataset = dataset

    def compose(self) -> ComposeResult:
        dataset = self._dataset
        yield Static(Content.styled(dataset.title, "bold"), classes="summary-title")
        yield Static(Content(dataset.summary), classes="summary-text")
        for subject in dataset.subjects:
            yield Static(
                Content.assemble(
                    (subject.name, "bold $accent"), "\n",
                    subject.tagline, "\n",
                    (subject.homepage, "$text-muted"),
                ),
                classes="summary-subject",
            )
        source = dataset.source
        attribution = Content.assemble(
            ("Based on ", "$text-muted"), (source.title, "italic"),
            ("  by ", "$text-muted"), source.publisher,
            ((f"\n{source.url}", "$text-muted") if source.url else ""),
        )
        yield Static(attribution, classes="summary-source")
