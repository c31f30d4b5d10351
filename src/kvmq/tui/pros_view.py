"""The Pros tab: each subject's pros with vote counts, bars and a total."""

from __future__ import annotations

from typing import Optional

from textual.app import ComposeResult
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import Static

from kvmq.dataset.model import Dataset
from kvmq.render.dataset import pros_table


class ProsView(VerticalScroll, can_focus=True):
    """One column per subject (stacked on narrow screens), most votes first.

    Bars are scaled to the largest vote count in the whole dataset, so columns compare.
    """

    def __init__(self, dataset: Dataset, *, id: Optional[str] = None) -> None:
        super().__init__(id=id)
        self._dataset = dataset

    def compose(self) -> ComposeResult:
        dataset = self._dataset
        most = dataset.max_votes()
        with Horizontal(id="pros-columns"):
            for subject in dataset.subjects:
                yield Static(pros_table(subject, dataset.pros_ranked(subject.id), most),
                             classes="pros-column")
