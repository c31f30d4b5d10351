"""The right side of the Compare tab: one dimension, the subjects side by side."""

from __future__ import annotations

from typing import Optional

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.content import Content
from textual.widgets import Static

from kvmq.dataset import Dataset, Dimension
from kvmq.render import CAVEAT_MARK, CORRECTION_MARK


class ComparisonPane(VerticalScroll, can_focus=True):
    """Title and verdict, a column per subject, then notes, commands and sources.

    The widgets are composed once per dataset; showing another dimension only updates
    their content, so moving through the list stays cheap.
    """

    def __init__(self, dataset: Dataset, *, id: Optional[str] = None) -> None:
        super().__init__(id=id)
        self._dataset = dataset
        self.dimension: Optional[Dimension] = None

    def compose(self) -> ComposeResult:
        yield Static(id="pane-title", markup=False)
        yield Static(id="pane-verdict", markup=False)
        with Horizontal(id="subject-columns"):
            for subject in self._dataset.subjects:
                with Vertical(classes="subject-column"):
                    yield Static(
                        Content.assemble((subject.name, "bold $accent"), "  ",
                                         (subject.tagline, "italic $text-muted")),
                        classes="subject-heading",
                    )
                    yield Static(classes="subject-description", markup=False)
        yield Static(id="pane-notes", markup=False)
        yield Static(id="pane-commands", markup=False)
        yield Static(id="pane-sources", markup=False)

    def on_mount(self) -> None:
        # Fill in the first dimension now rather than when the list's first highlight message
        # arrives: the first frame is then complete (one layout instead of several).
        if self.dimension is None and self._dataset.dimensions:
            self.show_dimension(self._dataset.dimensions[0])

    def show_dimension(self, dimension: Dimension) -> None:
        if dimension is self.dimension:
            return
        self.dimension = dimension
        self.query_one("#pane-title", Static).update(Content.styled(dimension.title, "bold"))
        verdict = self.query_one("#pane-verdict", Static)
        verdict.update(Content.styled(dimension.verdict or "", "italic"))
        verdict.display = bool(dimension.verdict)
        descriptions = self.query(".subject-description").results(Static)
        for subject, widget in zip(self._dataset.subjects, descriptions):
            widget.update(Content(dimension.descriptions.get(subject.id, "")))
        self._show_notes(dimension)
        self._show_commands(dimension)
        sources = self.query_one("#pane-sources", Static)
        sources.display = bool(dimension.sources)
        sources.update(Content.assemble(("Sources", "bold"), "\n",
                                        ("\n".join(dimension.sources), "$text-muted")))
        self.scroll_home(animate=False)

    def _show_notes(self, dimension: Dimension) -> None:
        notes = self.query_one("#pane-notes", Static)
        notes.display = bool(dimension.notes)
        parts: list[Content] = []
        for note in dimension.notes:
            if note.is_correction:
                head = Content.styled(f"{CORRECTION_MARK} Correction: ", "bold $warning")
            else:
                head = Content.styled(f"{CAVEAT_MARK} Note: ", "bold")
            line = head + Content(note.text)
            if note.source:
                line += Content.styled(f"\n  {note.source}", "$text-muted")
            parts.append(line)
        notes.update(Content("\n").join(parts))

    def _show_commands(self, dimension: Dimension) -> None:
        commands = self.query_one("#pane-commands", Static)
        commands.display = bool(dimension.commands)
        parts: list[Content] = []
        for subject in self._dataset.subjects:
            entries = dimension.commands.get(subject.id, ())
            if not entries:
                continue
            parts.append(Content.styled(f"{subject.name} commands", "bold $accent"))
            for command in entries:
                parts.append(Content.assemble(("$ ", "$text-muted"), (command.run, "bold")))
                parts.append(Content.styled(f"    {command.does}", "$text-muted"))
        commands.update(Content("\n").join(parts))
