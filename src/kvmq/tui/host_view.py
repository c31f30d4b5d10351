"""The Host tab: can this machine run KVM?  The same checks as ``kvmq check``.

The checks run subprocesses and ioctls, so they run in a thread worker and the UI stays
responsive; "Checking this host…" shows meanwhile. A run that is superseded (``r``) or
abandoned (the app quits) is cancelled: its worker's cancel event reaches every probe, which
kills its program at once, so quitting never waits for a hung binary.

Each check is one option of a list, laid out like ``kvmq check`` prints it: status, id,
finding, and the hint beneath, wrapped at spaces to the list's width (again on every resize),
so nothing is cut off and nothing scrolls sideways.
"""

from __future__ import annotations

import dataclasses
from typing import ClassVar, Optional

from rich.cells import cell_len
from rich.style import Style
from rich.text import Text
from textual import events
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.content import Content
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option
from textual.worker import Worker, WorkerState, get_current_worker

from kvmq.host.checks import run_checks
from kvmq.host.model import Check, Report, Status, clean_text
from kvmq.host.probe import Host
from kvmq.render.host import HINT_MARK, STATUS_WIDTH, summary_text, wrap

LOADING_TEXT = "Checking this host…"
#: The id column, as in the text output; narrower panes put the finding under the id.
ID_WIDTH = 18
COLUMNS_FROM = 56
#: Below this many rows the reason gives its room to the checks.
SHORT_BELOW = 14


class HostView(Vertical):
    """Verdict, reason and counts, then every check in full in a list.

    ``host`` replaces the real machine (tests pass ``tests/helpers.host_from_tree(...)``).
    """

    DEFAULT_CSS = """
    HostView {
        height: 1fr;
        padding: 0 1;
    }
    HostView > #host-verdict {
        height: auto;
        text-style: bold;
    }
    HostView > #host-verdict.-loading {
        color: $text-muted;
        text-style: italic;
    }
    HostView > #host-verdict.-ok {
        color: $success;
    }
    HostView > #host-verdict.-no {
        color: $error;
    }
    HostView > #host-reason {
        height: auto;
        color: $text-muted;
        margin-bottom: 1;
    }
    /* A short pane keeps its rows for the checks: the reason is in the Summary line of
       ``kvmq check`` and comes back when there is room. */
    HostView.-short > #host-reason {
        display: none;
    }
    HostView > #host-checks {
        height: 1fr;
        max-height: 100%;
        min-height: 3;
        border: none;
        padding: 0;
        background: $surface;
        scrollbar-gutter: stable;
        scrollbar-size-vertical: 1;
        overflow-x: hidden;
    }
    HostView > #host-checks > .option-list--option {
        padding: 0;
    }
    HostView > .host-view--pass { color: $success; text-style: bold; }
    HostView > .host-view--warn { color: $warning; text-style: bold; }
    HostView > .host-view--fail { color: $error; text-style: bold; }
    HostView > .host-view--note { color: $accent; }
    HostView > .host-view--skip { color: $text-muted; }
    HostView > .host-view--id { text-style: bold; }
    HostView > .host-view--hint { color: $text-muted; text-style: italic; }
    """

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "host-view--pass",
        "host-view--warn",
        "host-view--fail",
        "host-view--note",
        "host-view--skip",
        "host-view--id",
        "host-view--hint",
    }

    def __init__(
        self,
        host: Optional[Host] = None,
        *,
        name: Optional[str] = None,
        id: Optional[str] = None,
        classes: Optional[str] = None,
    ) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self._host = host
        self._worker: Optional[Worker[Report]] = None
        self._laid_out_width = 0
        self.report: Optional[Report] = None
        #: The check the cursor is on, kept across re-runs and resizes.
        self.highlighted_id: Optional[str] = None

    def compose(self) -> ComposeResult:
        yield Static(LOADING_TEXT, id="host-verdict", classes="-loading", markup=False)
        yield Static(id="host-reason", markup=False)
        yield OptionList(id="host-checks")

    def on_mount(self) -> None:
        self.refresh_checks()

    def focus_table(self) -> None:
        """Give the list of checks the keyboard focus."""
        self.query_one("#host-checks", OptionList).focus()

    # ------------------------------------------------------------------ running

    def refresh_checks(self) -> None:
        """(Re-)run the checks in a thread; a run still going is cancelled and its programs killed."""
        verdict = self.query_one("#host-verdict", Static)
        verdict.set_classes("-loading")
        verdict.update(LOADING_TEXT)
        self.query_one("#host-reason", Static).update("")
        if self._worker is not None:
            self._worker.cancel()  # sets its cancel event: its probes stop within a moment
        base = self._host if self._host is not None else Host()

        def work() -> Report:
            # The worker's own cancel event: set when superseded and when the app exits.
            return run_checks(dataclasses.replace(base, cancel=get_current_worker().cancelled_event))

        self._worker = self.run_worker(
            work,
            name="host-checks",
            group="host-checks",
            exclusive=True,
            thread=True,
            exit_on_error=False,
        )

    def on_unmount(self) -> None:
        if self._worker is not None:
            self._worker.cancel()

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        # A superseded run may still finish; only the latest one is shown.
        if event.worker is not self._worker:
            return
        event.stop()
        if event.state == WorkerState.SUCCESS and event.worker.result is not None:
            self._show(event.worker.result)
        elif event.state == WorkerState.ERROR:
            verdict = self.query_one("#host-verdict", Static)
            verdict.set_classes("-no")
            verdict.update("The host check failed")
            self.query_one("#host-reason", Static).update(Content(clean_text(repr(event.worker.error))))

    # ------------------------------------------------------------------ showing

    def _show(self, report: Report) -> None:
        self.report = report
        verdict = self.query_one("#host-verdict", Static)
        verdict.set_classes("-ok" if report.kvm_available else "-no")
        verdict.update(Content(clean_text(report.verdict.summary)))
        reason = f"{clean_text(report.verdict.reason)}\n{summary_text(report).plain}"
        self.query_one("#host-reason", Static).update(Content(reason))
        self._lay_out()

    def _text_width(self) -> int:
        checks = self.query_one("#host-checks", OptionList)
        return max(10, checks.scrollable_content_region.width)

    def _lay_out(self) -> None:
        """Build the options at the list's width, keeping the highlighted check."""
        if self.report is None:
            return
        checks = self.query_one("#host-checks", OptionList)
        width = self._text_width()
        self._laid_out_width = width
        keep = self.highlighted_id
        checks.set_options(
            Option(self._prompt(check, width), id=str(index))
            for index, check in enumerate(self.report.checks)
        )
        ids = [check.id for check in self.report.checks]
        target = ids.index(keep) if keep in ids else 0
        if ids:
            checks.highlighted = target
            self.highlighted_id = ids[target]

    def on_resize(self, event: events.Resize) -> None:
        self.set_class(event.size.height < SHORT_BELOW, "-short")
        self.call_after_refresh(self._relayout_if_needed)

    def _relayout_if_needed(self) -> None:
        if self.report is not None and self._text_width() != self._laid_out_width:
            self._lay_out()

    def notify_style_update(self) -> None:
        super().notify_style_update()
        # A new theme: the prompts carry the component styles, so build them again.
        if self.report is not None and self.is_mounted:
            self.call_after_refresh(self._lay_out)

    def on_option_list_option_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        event.stop()
        if self.report is None or event.option_id is None:
            return
        index = int(event.option_id)
        if 0 <= index < len(self.report.checks):
            self.highlighted_id = self.report.checks[index].id

    def _style(self, name: str) -> Style:
        return self.get_component_rich_style(f"host-view--{name}", partial=True)

    def _prompt(self, check: Check, width: int) -> Text:
        """One check as lines: status and id, the finding beside or under the id, the hint beneath."""
        status_style = self._style(check.status.value if check.status in Status else "skip")
        cid = clean_text(check.id, 80)
        finding = clean_text(check.finding, 400)
        text = Text(no_wrap=True, overflow="ellipsis")
        text.append(check.status.value.upper().ljust(STATUS_WIDTH), style=status_style)
        if width >= COLUMNS_FROM:
            column = STATUS_WIDTH + ID_WIDTH
            label = cid.ljust(ID_WIDTH) if cell_len(cid) < ID_WIDTH else cid + " "
            lines = wrap(finding, width - column, first=width - STATUS_WIDTH - cell_len(label))
            text.append(label, style=self._style("id"))
            text.append(lines[0] if lines else "")
            rest = lines[1:]
        else:
            column = STATUS_WIDTH
            # An id wider than the pane breaks at its dots rather than being cut off.
            id_lines = [cid]
            if cell_len(cid) > width - column:
                id_lines = wrap(cid.replace(".", ". "), width - column)
            text.append(id_lines[0].replace(". ", "."), style=self._style("id"))
            for part in id_lines[1:]:
                text.append("\n" + " " * column)
                text.append(part.replace(". ", "."), style=self._style("id"))
            rest = wrap(finding, width - column)
        for line in rest:
            text.append("\n" + " " * min(column, max(0, width - cell_len(line))) + line)
        hint = clean_text(check.hint, 400)
        if hint:
            hint_lines = wrap(hint, width - column - len(HINT_MARK))
            for index, line in enumerate(hint_lines):
                lead = HINT_MARK if index == 0 else " " * len(HINT_MARK)
                pad = min(column, max(0, width - cell_len(lead + line)))
                text.append("\n" + " " * pad)
                text.append(lead + line, style=self._style("hint"))
        return text
