"""The Fleet tab: every host of a merged report folder, a filter, and the highlighted host in full.

``kvmq fleet DIR`` on a terminal opens the explorer on this tab. The host list is virtual
(:class:`~kvmq.tui.fleet_host_list.FleetHostList`), so 5,000 hosts cost what the screen shows;
the filter matches precomputed lower-case text per host. ``r`` re-reads the folder in a
thread worker and keeps the highlighted host and the filter.
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar, Optional

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.timer import Timer
from textual.widgets import Input, Static
from textual.worker import Worker, WorkerState

from kvmq.host.fleet import Fleet, FleetError, HostRow, read_fleet, select
from kvmq.render.fleet import summary_line
from kvmq.text import printable
from kvmq.tui.fleet_host_detail import FleetHostDetail
from kvmq.tui.fleet_host_list import FleetHostList

# After a move, the highlighted host's report waits this long for the next move.
DETAIL_DELAY = 0.06


class FleetView(Vertical):
    """Summary line, filter, host list and the highlighted host's report and VMs.

    Args:
        folder: the reports folder that ``r`` reads again.
        fleet: the fleet as first read (with documents kept, for the detail pane).
        only: a ``kvmq fleet --only`` choice applied before the filter.
        sort: a ``kvmq fleet --sort`` key.
    """

    DEFAULT_CSS = """
    FleetView {
        height: 1fr;
        min-width: 8;
    }
    FleetView #fleet-summary {
        height: 1;
        min-width: 4;
        padding: 0 1;
        text-wrap: nowrap;
        text-overflow: ellipsis;
    }
    FleetView #fleet-summary.-bad {
        color: $error;
    }
    FleetView #fleet-summary.-good {
        color: $success;
    }
    FleetView #fleet-filter-bar {
        height: 1;
        padding: 0 1;
        background: $boost;
    }
    FleetView #fleet-filter {
        width: 1fr;
        min-width: 4;
    }
    FleetView #fleet-count {
        width: auto;
        min-width: 4;
        height: 1;
        padding-left: 1;
        color: $text-muted;
    }
    FleetView #fleet-body {
        height: 1fr;
    }
    FleetView #fleet-hosts {
        width: 40%;
        min-width: 12;
        max-width: 60;
        border-right: tall $panel;
    }
    /* Below 60 columns the list sits above the detail. */
    Screen.-narrow FleetView #fleet-body {
        layout: vertical;
    }
    Screen.-narrow FleetView #fleet-hosts {
        width: 1fr;
        max-width: 100%;
        height: 40%;
        min-height: 1;
        border-right: none;
        border-bottom: tall $panel;
    }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("r", "reread", "Re-read", tooltip="read the reports folder again"),
        Binding("slash", "filter", "Filter", key_display="/",
                tooltip="filter the hosts: every typed word must match (name, state, check ids)"),
        Binding("escape", "clear_filter", "Clear filter", show=False,
                tooltip="clear the host filter, back to the list"),
    ]

    def __init__(self, folder: Path, fleet: Fleet, *, only: Optional[str] = None,
                 sort: str = "host", id: Optional[str] = None) -> None:
        super().__init__(id=id)
        self.folder = folder
        self.fleet = fleet
        self._only = only
        self._sort = sort
        self._base: list[HostRow] = []
        self._search: list[str] = []
        self._query = ""
        self._worker: Optional[Worker[Fleet]] = None

    def compose(self) -> ComposeResult:
        yield Static(id="fleet-summary", markup=False)
        with Horizontal(id="fleet-filter-bar"):
            yield Input(placeholder="/ filter hosts", id="fleet-filter", compact=True)
            yield Static(id="fleet-count", markup=False)
        with Horizontal(id="fleet-body"):
            yield FleetHostList(id="fleet-hosts")
            yield FleetHostDetail(id="fleet-detail")

    _detail_timer: Optional[Timer] = None

    def on_mount(self) -> None:
        host_list = self.query_one(FleetHostList)
        self.watch(host_list, "cursor", self._show_current, init=False)
        self._load(self.fleet, keep_host=None)


    def focus_table(self) -> None:
        """Focus the host list (the explorer calls this when the Fleet tab opens)."""
        self.screen.set_focus(self.query_one(FleetHostList))

    # ------------------------------------------------------------------ data

    def _load(self, fleet: Fleet, keep_host: Optional[str]) -> None:
        self.fleet = fleet
        self._base = select(fleet, self._only, self._sort)
        self._search = [row.search_text() for row in self._base]
        summary = self.query_one("#fleet-summary", Static)
        summary.set_classes("-good" if fleet.ok else "-bad")
        # The counts first: a long folder path must not push them off a narrow screen.
        summary.update(Content(f"{summary_line(fleet)} ({printable(str(self.folder))})"))
        self._apply_filter(keep_host)

    def _apply_filter(self, keep_host: Optional[str]) -> None:
        words = self._query.lower().split()
        if words:
            rows = [row for row, text in zip(self._base, self._search)
                    if all(word in text for word in words)]
        else:
            rows = self._base
        self.query_one(FleetHostList).set_rows(rows, keep_host)
        count = self.query_one("#fleet-count", Static)
        total = len(self._base)
        text = f"{len(rows)} of {total}" if words else f"{total} hosts"
        count.update(Content.styled(text, "bold $warning" if words and not rows else "dim"))
        if not rows:
            self.query_one(FleetHostDetail).show_message(
                Text("No host matches the filter (Escape clears it)" if words else "No host to show",
                     style="italic"))

    # ------------------------------------------------------------------ detail

    def _show_current(self) -> None:
        # The highlight moves at once; the host's full report (the costly part) is drawn when
        # the moves stop, so holding a key runs through thousands of hosts without a lag.
        if self._detail_timer is not None:
            self._detail_timer.stop()
        self._detail_timer = self.set_timer(DETAIL_DELAY, self._show_detail)

    def _show_detail(self) -> None:
        self._detail_timer = None
        row = self.query_one(FleetHostList).current
        detail = self.query_one(FleetHostDetail)
        if row is None or row is detail.row:
            return
        detail.show(row, self.fleet.read_at)

    # ------------------------------------------------------------------ filter

    @on(Input.Changed, "#fleet-filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        event.stop()
        if event.value == self._query:
            return
        self._query = event.value
        current = self.query_one(FleetHostList).current
        self._apply_filter(current.host if current else None)

    @on(Input.Submitted, "#fleet-filter")
    def _filter_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.screen.set_focus(self.query_one(FleetHostList))

    def action_filter(self) -> None:
        # Synchronously (Widget.focus() is queued behind keys already waiting): text typed in
        # the same burst as "/" (a paste, a fast typist) lands in the input, not on the list.
        self.screen.set_focus(self.query_one("#fleet-filter", Input))

    def action_clear_filter(self) -> None:
        field = self.query_one("#fleet-filter", Input)
        if field.value:
            field.value = ""  # Input.Changed re-applies the empty filter
        self.screen.set_focus(self.query_one(FleetHostList))

    # ------------------------------------------------------------------ re-read

    def action_reread(self) -> None:
        """Read the folder again in a thread; the list stays usable meanwhile."""
        folder = self.folder
        self.notify(f"Reading {folder}…", timeout=2, markup=False)
        self._worker = self.run_worker(lambda: read_fleet([folder], keep=True), name="fleet-read",
                                       group="fleet-read", exclusive=True, thread=True,
                                       exit_on_error=False)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.worker is not self._worker:
            return
        event.stop()
        if event.state == WorkerState.SUCCESS and event.worker.result is not None:
            current = self.query_one(FleetHostList).current
            self._load(event.worker.result, current.host if current else None)
            self.notify(f"Read {len(self.fleet.hosts)} hosts", timeout=2, markup=False)
        elif event.state == WorkerState.ERROR:
            error = event.worker.error
            message = str(error) if isinstance(error, FleetError) else f"{type(error).__name__}: {error}"
            self.notify(message, title="Could not re-read the reports", severity="error", markup=False)
