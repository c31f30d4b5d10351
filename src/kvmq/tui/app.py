"""The explorer app: tabs, key bindings and the wiring between widgets; little logic."""

from __future__ import annotations

import gc
import io
import os
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Iterable, Optional, Union

from rich.console import Console
from textual import events, on
from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.reactive import reactive
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import Header, LoadingIndicator, Static, TabbedContent, TabPane
from textual.worker import Worker, WorkerState

from kvmq.dataset.background import BackgroundLoad
from kvmq.dataset.model import Dataset
from kvmq.text import printable
from kvmq.tui.commands import ExplorerCommands
from kvmq.tui.comparison_pane import ComparisonPane
from kvmq.tui.dimension_list import DimensionList
from kvmq.tui.key_footer import KeyFooter

# Views shown only on demand (the filter bar, Pros, Summary, Host, help) are imported when
# first needed: start-up then loads and styles only what the first frame shows.

if TYPE_CHECKING:
    from kvmq.host.fleet import Fleet
    from kvmq.host.probe import Host
    from kvmq.host.vms import Scanner
    from kvmq.tui.filter_bar import FilterBar
    from kvmq.tui.fleet_view import FleetView

# (pane id, label, key): the tabs in order; the key switches to the tab.
TABS: tuple[tuple[str, str, str], ...] = (
    ("compare", "Compare", "1"),
    ("pros", "Pros", "2"),
    ("summary", "Summary", "3"),
    ("host", "Host", "4"),
    ("vms", "VMs", "5"),
)
# Shown only when the explorer was opened on a fleet (`kvmq fleet DIR`), and opened first.
FLEET_TAB = ("fleet", "Fleet", str(len(TABS) + 1))
# From this terminal width on, subjects sit side by side (Compare and Pros).
WIDE = 100
# Below these widths the footer drops the palette key, and then its padding.
PALETTE_KEY_WIDTH = 60
COMPACT_FOOTER_WIDTH = 80


class ExplorerCrashed(Exception):
    """The explorer stopped on an unexpected error; ``str()`` is its one-line summary."""


class ExplorerApp(App[int]):
    """Browse a comparison dataset: dimensions, subjects side by side, pros, summary, host."""

    CSS_PATH = "app.tcss"
    TITLE = "kvmq"
    COMMANDS = App.COMMANDS | {ExplorerCommands}
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (60, "-medium"), (WIDE, "-wide")]  # noqa: RUF012 (App types it so)
    VERTICAL_BREAKPOINTS = [(0, "-short"), (12, "-tall")]  # noqa: RUF012
    BINDINGS: ClassVar[list[BindingType]] = [
        # The tab labels already show their keys, so the Footer leaves them out.
        *(Binding(key, f"show_tab('{tab_id}')", label, key_display=key, show=False,
                  tooltip=f"the {label} tab")
          for tab_id, label, key in (*TABS, FLEET_TAB)),
        # A priority binding runs before the keys after it are handed on, so that text typed
        # in the same burst as "/" (a paste) lands in the input.
        Binding("slash", "filter", "Filter", key_display="/", priority=True,
                tooltip="filter the dimension list: every typed word must match"),
        Binding("y", "copy", "Copy", tooltip="copy the shown dimension as Markdown"),
        Binding("r", "recheck", "Re-check",
                tooltip="run the host checks (Host tab) or the VM scan (VMs tab) again"),
        Binding("e", "explain", "Explain", show=False, tooltip="explain a pasted QEMU command line"),
        Binding("question_mark", "help", "Help", key_display="?", tooltip="this screen"),
        Binding("q", "quit", "Quit", tooltip="leave kvmq"),
    ]

    wide: reactive[bool] = reactive(True)
    """The breakpoint the views follow: subjects side by side from WIDE columns on."""

    def __init__(self, source: Union[Path, Dataset, BackgroundLoad], *, host: Optional[Host] = None,
                 vm_scanner: Optional[Scanner] = None,
                 fleet_view: Optional[FleetView] = None) -> None:
        """Args:
            source: the dataset file, loaded in a thread behind a loading indicator (a
                Dataset is taken as already loaded, through the same path), or that load
                started already (as the CLI does, before it imports Textual).
            host: the machine the Host tab checks (tests pass a fake one; None: this one).
            vm_scanner: what the VMs tab scans (tests pass one over a fixture tree; None: /proc).
            fleet_view: the Fleet tab's view (``kvmq fleet DIR``), shown first; None: no tab.
        """
        super().__init__()
        self._host = host
        self._vm_scanner = vm_scanner
        self.fleet_view = fleet_view
        self.dataset: Optional[Dataset] = None
        self.load_error: Optional[BaseException] = None
        self._dimension_before_filter: Optional[str] = None
        self._quitting = False
        # Kept, not queried: check_action runs for every binding whenever the footer updates.
        self._tabbed: Optional[TabbedContent] = None
        self.sub_title = "loading…"
        # The one load path: a daemon thread (quitting never waits for a long parse), started
        # no later than now so that it runs while Textual starts; the first frame shows the
        # tabs if it is done.
        self._load = source if isinstance(source, BackgroundLoad) else BackgroundLoad(source)

    # ------------------------------------------------------------------ loading

    def compose(self) -> ComposeResult:
        yield Header(icon="")
        dataset = self._load.result_if_done()
        if dataset is not None:
            self._take_dataset(dataset)
            yield self._tabs(dataset)
        else:
            with Vertical(id="loading"):
                yield LoadingIndicator()
                source = self._load.source
                name = source if isinstance(source, Path) else "the dataset"
                yield Static(Content.styled(f"Loading {printable(str(name))}…", "$text-muted"),
                             id="loading-text")
        # Fitted to the terminal from the start: a later change needs a recompose (see below),
        # which would show a frame without the footer.
        width = self.size.width
        yield KeyFooter(show_command_palette=width >= PALETTE_KEY_WIDTH, compact=width < COMPACT_FOOTER_WIDTH)

    def on_mount(self) -> None:
        self._fit_footer(self.size.width)
        if self.dataset is not None:
            self._wire_compare_tab()
        else:
            self.run_worker(self._load.wait(), name="load", group="load", exit_on_error=False)

    def on_resize(self, event: events.Resize) -> None:
        self._fit_footer(event.size.width)

    def _fit_footer(self, width: int) -> None:
        self.wide = width >= WIDE
        # Narrow: the keys keep their labels, without padding and the palette's own label.
        footer = self.query_one(KeyFooter)
        footer.compact = width < COMPACT_FOOTER_WIDTH
        palette = width >= PALETTE_KEY_WIDTH
        if footer.show_command_palette != palette:
            # Footer reads this while composing only: a change needs a recompose to show.
            footer.show_command_palette = palette
            footer.refresh(recompose=True)

    async def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.worker.name != "load":
            return
        if not self.is_running or not self.query(KeyFooter):
            return  # quitting: nothing to show the result in
        if event.state == WorkerState.SUCCESS:
            result = event.worker.result
            assert isinstance(result, Dataset)
            self._take_dataset(result)
            await self.query_one("#loading").remove()
            await self.mount(self._tabs(result), before=self.query_one(KeyFooter))
            self._wire_compare_tab()
        elif event.state == WorkerState.ERROR:
            self.load_error = event.worker.error
            self.exit(2, return_code=2)

    def _take_dataset(self, dataset: Dataset) -> None:
        self.dataset = dataset
        self.title = dataset.title
        count = len(dataset.dimensions)
        self.sub_title = f"{count} dimension{'' if count == 1 else 's'}"
        # The dataset never changes and lives as long as the app: out of the cyclic
        # collector's reach, no full collection walks it between two keys (0.3 s at 20,000
        # dimensions). Undone when the app closes (on_unmount).
        gc.freeze()

    def on_unmount(self) -> None:
        gc.unfreeze()

    def _tabs(self, dataset: Dataset) -> TabbedContent:
        dimension_list = DimensionList(dataset, id="dimensions")
        pane = ComparisonPane(dataset, id="pane").data_bind(side_by_side=ExplorerApp.wide)
        tabs = self._tabbed = TabbedContent(id="tabs")
        for pane_widget in (
            TabPane("1 Compare", Horizontal(Vertical(dimension_list, id="sidebar"), pane,
                                            id="compare-body"), id="compare"),
            # Filled in when first opened: start-up styles and lays out only what it shows.
            TabPane("2 Pros", id="pros"),
            TabPane("3 Summary", id="summary"),
            TabPane("4 Host", id="host"),
            TabPane("5 VMs", id="vms"),
        ):
            tabs.compose_add_child(pane_widget)
        if self.fleet_view is not None:
            tabs.compose_add_child(TabPane(f"{FLEET_TAB[2]} {FLEET_TAB[1]}", self.fleet_view,
                                           id=FLEET_TAB[0]))
        return tabs

    def _wire_compare_tab(self) -> None:
        dimension_list = self.query_one(DimensionList)
        pane = self.query_one(ComparisonPane)

        def show_current(old: Optional[int], new: Optional[int]) -> None:
            dimension = dimension_list.current
            if dimension is not None:
                step = new - old if old is not None and new is not None else 0
                pane.show_dimension(dimension, dimension_list.neighbours(step))

        # A watcher runs in the same turn as the move (a message would arrive a hop later).
        self.watch(dimension_list, "highlighted", show_current, init=False)
        self.screen.set_focus(dimension_list)
        self.refresh_bindings()
        # Once the first frame is up, what start-up built (stylesheets, the DOM, the list's
        # options) joins the dataset out of the collector's reach: a full collection then
        # walks only what came later, 10-30 ms less for the keystroke it falls on.
        self.call_after_refresh(gc.freeze)
        if self.fleet_view is not None:  # `kvmq fleet DIR`: the Fleet tab first
            self.call_after_refresh(self.show_tab, FLEET_TAB[0])

    # ------------------------------------------------------------------ filter

    async def _filter_bar(self) -> FilterBar:
        """The filter bar, composed the first time it is wanted."""
        from kvmq.tui.filter_bar import FilterBar

        found = self.query(FilterBar)
        if found:
            return found.first()
        bar = FilterBar(id="filter-bar")
        bar.display = False
        await self.query_one("#sidebar").mount(bar, before=0)
        return bar

    async def action_filter(self) -> None:
        from textual.widgets import Input

        if self.dataset is None:
            return
        if isinstance(self.focused, Input):  # a "/" typed into an input
            self.focused.insert_text_at_cursor("/")
            return
        if self.fleet_view is not None and self._active_tab() == FLEET_TAB[0]:
            self.fleet_view.action_filter()  # the Fleet tab filters its hosts
            return
        self.show_tab("compare")
        bar = await self._filter_bar()
        dimension_list = self.query_one(DimensionList)
        if not dimension_list.query_text and dimension_list.current is not None:
            self._dimension_before_filter = dimension_list.current.id
        bar.open()
        # Once the bar is on screen: the index then builds while the user starts typing.
        self.call_after_refresh(dimension_list.prepare_filter)

    def on_filter_bar_query_changed(self, event: FilterBar.QueryChanged) -> None:
        dimension_list = self.query_one(DimensionList)
        dimension_list.apply_filter(event.query)
        self._show_filter_result()

    def _show_filter_result(self) -> None:
        """The count in the filter bar, and what the pane shows when nothing matches."""
        from kvmq.tui.filter_bar import FilterBar

        dimension_list = self.query_one(DimensionList)
        shown = len(dimension_list.shown_dimensions)
        query = dimension_list.query_text
        for bar in self.query(FilterBar):
            bar.show_count(query, shown, dimension_list.total)
        pane = self.query_one(ComparisonPane)
        if shown == 0:
            pane.show_notice(f"No dimension matches '{query}'")
        elif dimension_list.current is not None:
            pane.show_dimension(dimension_list.current, dimension_list.neighbours())

    def on_filter_bar_finished(self, event: FilterBar.Finished) -> None:
        dimension_list = self.query_one(DimensionList)
        if event.cleared:
            before, self._dimension_before_filter = self._dimension_before_filter, None
            if before is not None:
                dimension_list.select_dimension(before)
            self.screen.set_focus(dimension_list)
        elif dimension_list.shown_dimensions:
            self.screen.set_focus(dimension_list)
        else:
            # Nothing to go back to: out of the input, so that keys are commands again.
            self.screen.set_focus(self.query_one(ComparisonPane))

    # ------------------------------------------------------------------ tabs

    @on(TabbedContent.TabActivated)
    async def _tab_activated(self, event: TabbedContent.TabActivated) -> None:
        pane = event.pane
        if not pane.children and self.dataset is not None:
            view = self._make_view(pane.id or "")
            if view is not None:
                await pane.mount(view)
        self._focus_tab(pane)
        self.refresh_bindings()

    def _make_view(self, tab_id: str) -> Optional[Widget]:
        assert self.dataset is not None
        if tab_id == "pros":
            from kvmq.tui.pros_view import ProsView

            return ProsView(self.dataset, id="pros-view").data_bind(side_by_side=ExplorerApp.wide)
        if tab_id == "summary":
            from kvmq.tui.summary_view import SummaryView

            return SummaryView(self.dataset, id="summary-view")
        if tab_id == "host":
            from kvmq.tui.host_view import HostView

            return HostView(self._host, id="host-view")
        if tab_id == "vms":
            from kvmq.tui.vms_view import VmsView

            return VmsView(self._vm_scanner, id="vms-view")
        return None

    def _focus_tab(self, pane: TabPane) -> None:
        if pane.id == "compare":
            found = self.query(DimensionList)
            target: Optional[Widget] = found.first() if found else None
            if found:
                found.first().keep_highlight_in_view()
        else:
            target = next(iter(pane.children), None)
        if target is None:
            return
        focus_view = getattr(target, "focus_table", None) or getattr(target, "focus_list", None)
        if callable(focus_view):
            focus_view()
        elif target.focusable:
            self.screen.set_focus(target)

    def tab_specs(self) -> tuple[tuple[str, str, str], ...]:
        return TABS if self.fleet_view is None else (*TABS, FLEET_TAB)

    def action_show_tab(self, tab_id: str) -> None:
        self.show_tab(tab_id)

    def _active_tab(self) -> str:
        return self._tabbed.active if self._tabbed is not None else ""

    def show_tab(self, tab_id: str) -> None:
        tabs = self._tabbed
        if tabs is None or not tabs.is_attached:
            return
        if tabs.active == tab_id:
            self._focus_tab(tabs.get_pane(tab_id))
        tabs.active = tab_id

    def go_to_dimension(self, dimension_id: str) -> None:
        self.show_tab("compare")
        dimension_list = self.query_one(DimensionList)
        if dimension_list.select_dimension(dimension_id):
            if not dimension_list.query_text:  # the filter hid it, and was cleared
                from kvmq.tui.filter_bar import FilterBar

                for bar in self.query(FilterBar):
                    bar.clear_input()
                    bar.display = False
            self._show_filter_result()
            self.screen.set_focus(dimension_list)

    # ------------------------------------------------------------------ actions

    def action_copy(self) -> None:
        dimension = self.query_one(ComparisonPane).dimension
        if dimension is None or self.dataset is None:
            self.notify("Nothing to copy: no dimension is shown", severity="warning")
            return
        from kvmq.render.dataset import dimension_markdown

        self.copy_to_clipboard(dimension_markdown(self.dataset, dimension))
        self.notify(f"Copied '{printable(dimension.title)}' as Markdown", title="Clipboard",
                    markup=False)

    def action_recheck(self) -> None:
        from kvmq.tui.host_view import HostView

        for view in self.query(HostView):
            view.refresh_checks()

    def action_explain(self) -> None:
        from kvmq.tui.explain_screen import ExplainScreen

        if not isinstance(self.screen, ExplainScreen):
            self.push_screen(ExplainScreen())

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        yield SystemCommand("Explain a QEMU command line",
                            "Paste a QEMU command line and see it option by option", self.action_explain)

    def action_command_palette(self) -> None:
        from textual.command import CommandPalette

        from kvmq.tui.command_palette import ExplorerPalette

        if self.use_command_palette and not isinstance(self.screen, CommandPalette):
            self.push_screen(ExplorerPalette(id="--command-palette"))

    def action_help(self) -> None:
        from kvmq.tui.filter_bar import FilterBar
        from kvmq.tui.help_screen import HelpScreen
        from kvmq.tui.vms_view import VmsView

        if isinstance(self.screen, HelpScreen):
            return
        palette = Binding(self.COMMAND_PALETTE_BINDING, "command_palette", "Palette",
                          tooltip="command palette: go to a dimension or a tab, change the theme")
        focus = [replace(binding, tooltip="move focus between the list and the pane")
                 for binding in Binding.make_bindings(Screen.BINDINGS)
                 if binding.action.rsplit(".", 1)[-1] in ("focus_next", "focus_previous")]
        title = self.dataset.title if self.dataset is not None else str(self.title)
        explorer = [binding for binding in Binding.make_bindings(self.BINDINGS)
                    if self.fleet_view is not None or binding.action != f"show_tab('{FLEET_TAB[0]}')"]
        fleet = []
        if self.fleet_view is not None:
            from kvmq.tui.fleet_host_list import FleetHostList
            from kvmq.tui.fleet_view import FleetView

            fleet = [("Fleet", [*Binding.make_bindings(FleetView.BINDINGS),
                                *Binding.make_bindings(FleetHostList.BINDINGS)])]
        self.push_screen(HelpScreen(f"{title}: keys", [
            ("Explorer", [*explorer, palette, *focus]),
            ("Dimension list", list(Binding.make_bindings(DimensionList.BINDINGS))),
            ("Pane (Tab to focus it)", list(Binding.make_bindings(ComparisonPane.BINDINGS))),
            ("Filter (after /)", list(Binding.make_bindings(FilterBar.BINDINGS))),
            ("VMs tab", list(Binding.make_bindings(VmsView.BINDINGS))),
            *fleet,
        ]))

    async def action_quit(self) -> None:
        # Keys typed after q (a fast "question") must not open screens on a closing app.
        self._quitting = True
        await super().action_quit()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> Optional[bool]:
        if self._quitting:
            return False
        if self.dataset is None:
            # Still loading: only help and quit make sense.
            return action in ("help", "quit")
        if action == "recheck":
            return self._active_tab() == "host"
        if action == "show_tab" and parameters == (FLEET_TAB[0],):
            return self.fleet_view is not None
        if action == "copy":
            return self._active_tab() == "compare"
        return True


# ---------------------------------------------------------------------- running


def run_explorer(data: BackgroundLoad) -> int:
    """Run the explorer on ``data`` (its load started) and return its exit status.

    Raises:
        InvalidDataset: the file did not load (the CLI prints one line per problem).
        ExplorerCrashed: an unexpected error stopped the explorer (one line, no traceback
            unless ``KVMQ_DEBUG`` is set).
    """
    _run(ExplorerApp(data))
    return 0


def run_fleet_explorer(data: BackgroundLoad, folder: Path, fleet: Fleet, *,
                       only: Optional[str] = None, sort: str = "host") -> int:
    """The explorer on ``data`` (its load started), opened on the Fleet tab; 0 when the fleet
    (as last read) is all OK, else 1.

    Raises what :func:`run_explorer` raises.
    """
    from kvmq.tui.fleet_view import FleetView

    view = FleetView(folder, fleet, only=only, sort=sort, id="fleet-view")
    _run(ExplorerApp(data, fleet_view=view))
    return 0 if view.fleet.ok else 1


def _run(app: ExplorerApp) -> None:
    """Run ``app``; a load error or a crash is raised for the CLI to print as one line."""
    report = io.StringIO()
    if not os.environ.get("KVMQ_DEBUG"):
        # Textual prints a traceback here after a crash; the CLI prints one line instead.
        app.error_console = Console(file=report, width=1000, markup=False, highlight=False)
    app.run()
    if app.load_error is not None:
        raise app.load_error
    if app.return_code:
        lines = [line.strip() for line in report.getvalue().splitlines() if line.strip()]
        raise ExplorerCrashed(printable(lines[-1]) if lines else f"exit status {app.return_code}")
