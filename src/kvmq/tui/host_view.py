"""The Host tab: can this machine run KVM?  The same checks as ``kvmq check``.

The checks run subprocesses and an ioctl, so they run in a thread worker and
the UI stays responsive; a "Checking this host…" line shows meanwhile.  Styles
live in ``app.tcss``.
"""

from __future__ import annotations

from typing import Optional

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.content import Content
from textual.widgets import DataTable, Static
from textual.worker import Worker, WorkerState

from kvmq.host.checks import run_checks
from kvmq.host.model import Check, Report, clean_text
from kvmq.host.probe import Host
from kvmq.render.host import status_text

LOADING_TEXT = "Checking this host…"


class HostView(VerticalScroll):
    """Verdict, reason, a table of checks, and the highlighted check in full.

    ``host`` replaces the real machine (tests pass ``tests/helpers.host_from_tree(...)``).
    """

    def __init__(
        self,
        host: Optional[Host] = None,
        *,
        name: Optional[str] = None,
        id: Optional[str] = None,
        classes: Optional[str] = None,
    ) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.add_class("host-view")
        self._host = host
        self._worker: Optional[Worker[Report]] = None
        self.report: Optional[Report] = None

    def compose(self) -> ComposeResult:
        yield Static(LOADING_TEXT, id="host-verdict", classes="-loading", markup=False)
        yield Static(id="host-reason", markup=False)
        table: DataTable[Text] = DataTable(id="host-checks", cursor_type="row")
        table.add_columns("Status", "Check", "Finding")
        yield table
        yield Static(id="host-detail", markup=False)

    def on_mount(self) -> None:
        self.refresh_checks()

    def refresh_checks(self) -> None:
        """(Re-)run the checks in a thread; a run already going is superseded."""
        verdict = self.query_one("#host-verdict", Static)
        verdict.set_classes("-loading")
        verdict.update(LOADING_TEXT)
        self.query_one("#host-reason", Static).update("")
        self.query_one("#host-detail", Static).update("")
        self.query_one("#host-checks", DataTable).clear()
        host = self._host
        self._worker = self.run_worker(
            lambda: run_checks(host),
            name="host-checks",
            group="host-checks",
            exclusive=True,
            thread=True,
            exit_on_error=False,
        )

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

    def _show(self, report: Report) -> None:
        self.report = report
        verdict = self.query_one("#host-verdict", Static)
        verdict.set_classes("-ok" if report.kvm_available else "-no")
        verdict.update(Content(clean_text(report.verdict.summary)))
        self.query_one("#host-reason", Static).update(Content(clean_text(report.verdict.reason)))
        table = self.query_one("#host-checks", DataTable)
        table.clear()
        for index, check in enumerate(report.checks):
            # The hint goes under the finding, not in a column of its own: a fourth column
            # ran off the right edge even at 120 columns.
            finding = Text(clean_text(check.finding, 400))
            if check.hint:
                finding.append("\n")
                finding.append(f"→ {clean_text(check.hint, 400)}", style="italic")
            table.add_row(
                status_text(check.status),
                Text(clean_text(check.id, 80), style="bold"),
                finding,
                key=str(index),
                height=2 if check.hint else 1,
            )
        if report.checks:
            self._show_detail(report.checks[0])

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        event.stop()
        if self.report is None or event.row_key.value is None:
            return
        index = int(event.row_key.value)
        if 0 <= index < len(self.report.checks):
            self._show_detail(self.report.checks[index])

    def _show_detail(self, check: Check) -> None:
        # The table cuts long findings off; here they wrap, with the hint.
        detail = Content.assemble(
            (clean_text(check.id, 80), "bold"),
            "  ",
            (check.status.value.upper(), "bold"),
            "\n",
            clean_text(check.finding, 400),
        )
        if check.hint:
            hint = clean_text(check.hint, 400)
            detail += Content.assemble("\n", ("Hint: ", "bold $accent"), hint)
        self.query_one("#host-detail", Static).update(detail)
