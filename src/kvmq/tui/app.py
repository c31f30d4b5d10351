"""The explorer app: tabs, key bindings and the wiring between widgets; little logic."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Iterable, Optional

from textual import on
from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.screen import Screen
from textual.widgets import Footer, Header, LoadingIndicator, Static, TabbedContent, TabPane
from textual.worker import Worker, WorkerState

from kvmq.dataset.loader import load
from kvmq.dataset.model import Dataset, InvalidDataset
from kvmq.tui.commands import ExplorerCommands
from kvmq.tui.comparison_pane import ComparisonPane
from kvmq.tui.dimension_list import DimensionList
from kvmq.tui.filter_bar import FilterBar

# Views shown only on demand (Pros, Summary, Host, help, copy) are imported when first
# needed: start-up then loads only what the first frame shows.

if TYPE_CHECKING:
    from kvmq.host.probe import Host

# (pane id, label, key): the tabs in order; the key switches to the tab.
TABS: tuple[tuple[str, str, str], ...] = (
    ("compare", "Compare", "1"),
    ("pros", "Pros", "2"),
    ("summary", "Summary", "3"),
    ("host", "Host", "4"),
)

# Keys handled by the list and the pane themselves, for the help screen.
NAVIGATION_HELP: tuple[tuple[str, str], ...] = (
    ("↑ ↓  j k", "move through the dimension list"),
    ("Home End  g G", "first / last dimension"),
    ("PgUp PgDn", "page through the list, or scroll the pane"),
    ("Tab  Shift+Tab", "move focus between the list and the pane"),
    ("↑ ↓ (in the pane)", "scroll the pane"),
    ("Enter (in the filter)", "back to the list, filter kept"),
    ("Escape (in the filter)", "clear the filter"),
    ("Ctrl+P", "command palette: go to a dimension or tab, change theme"),
)


class ExplorerApp(App[int]):
    """Browse a comparison dataset: dimensions, subjects side by side, pros, summary, host."""

    CSS_PATH = "app.tcss"
    TITLE = "kvmq"
    COMMANDS = App.COMMANDS | {ExplorerCommands}
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (60, "-medium"), (100, "-wide")]  # noqa: RUF012 (App types it so)
    BINDINGS: ClassVar[list[BindingType]] = [
        # The tab labels already show their keys, so the Footer leaves them out.
        *(Binding(key, f"show_tab('{tab_id}')", label, key_display=key, show=False,
                  tooltip=f"show the {label} tab")
          for tab_id, label, key in TABS),
        Binding("slash", "filter", "Filter", key_display="/",
                tooltip="filter the dimension list: every typed word must match"),
        Binding("y", "copy", "Copy", tooltip="copy the shown dimension as Markdown"),
        Binding("r", "recheck", "Re-check host", tooltip="run the host checks again (Host tab)"),
        Binding("e", "explain", "Explain", show=False, tooltip="explain a pasted QEMU command line"),
        Binding("question_mark", "help", "Help", key_display="?", tooltip="this screen"),
        Binding("q", "quit", "Quit", tooltip="leave kvmq"),
    ]

    def __init__(self, dataset: Optional[Dataset] = None, *, path: Optional[Path] = None,
                 host: Optional[Host] = None) -> None:
        """Args:
            dataset: the comparison to browse, or None to load ``path`` in a worker while a
                loading indicator shows (for files that take a noticeable time to parse).
            path: the dataset file to load when ``dataset`` is None.
            host: the machine the Host tab checks (tests pass a fake one; None: this one).
        """
        super().__init__()
        if dataset is None and path is None:
            raise ValueError("ExplorerApp needs a dataset or a path to load one from")
        self.dataset = dataset
        self._path = path
        self._host = host
        self.load_errors: list[str] = []
        self._show_dataset_titles()

    def _show_dataset_titles(self) -> None:
        if self.dataset is None:
            self.sub_title = "loading…"
            return
        self.title = self.dataset.title
        self.sub_title = f"{len(self.dataset.dimensions)} dimensions"

    # ------------------------------------------------------------------ layout

    def compose(self) -> ComposeResult:
        yield Header()
        if self.dataset is None:
            with Vertical(id="loading"):
                yield LoadingIndicator()
                yield Static(Content.styled(f"Loading {self._path}…", "$text-muted"),
                             id="loading-text")
        else:
            yield from self._compose_tabs(self.dataset)
        yield Footer()

    def _compose_tabs(self, dataset: Dataset) -> ComposeResult:
        with TabbedContent(id="tabs"):
            with TabPane("1 Compare", id="compare"), Horizontal(id="compare-body"):
                with Vertical(id="sidebar"):
                    filter_bar = FilterBar(id="filter-bar")
                    filter_bar.display = False
                    yield filter_bar
                    yield DimensionList(dataset, id="dimensions")
                    no_match = Static(id="no-match", markup=False)
                    no_match.display = False
                    yield no_match
                yield ComparisonPane(dataset, id="pane")
            # Tabs that are not visible at start are filled in when first opened (like Host),
            # so that start-up styles and lays out only what the first frame shows.
            yield TabPane("2 Pros", id="pros")
            yield TabPane("3 Summary", id="summary")
            # The host checks run subprocesses: only mounted when the tab is first opened.
            yield TabPane("4 Host", id="host")

    def on_mount(self) -> None:
        if self.dataset is None:
            self.run_worker(self._load_dataset, thread=True, exclusive=True, name="load",
                            exit_on_error=False)
        else:
            self._wire_compare_tab()

    def _load_dataset(self) -> Dataset:
        assert self._path is not None
        return load(self._path)

    async def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.worker.name != "load":
            return
        if event.state == WorkerState.SUCCESS:
            self.dataset = event.worker.result
            self._show_dataset_titles()
            await self.recompose()
            self._wire_compare_tab()
            self.refresh_bindings()
        elif event.state == WorkerState.ERROR:
            error = event.worker.error
            if isinstance(error, InvalidDataset):
                self.load_errors = error.lines()
            else:
                self.load_errors = [f"internal error: {type(error).__name__}: {error}"]
            self.exit(2, return_code=2)

    # ------------------------------------------------------------------ wiring

    def _wire_compare_tab(self) -> None:
        """The pane follows the list's highlight, synchronously (see DimensionList)."""
        dimension_list = self.query_one(DimensionList)
        pane = self.query_one(ComparisonPane)

        def show_current() -> None:
            dimension = dimension_list.current
            if dimension is not None:
                pane.show_dimension(dimension, dimension_list.neighbours())

        self.watch(dimension_list, "highlighted", show_current, init=False)
        dimension_list.focus()

    @on(FilterBar.QueryChanged)
    def _filter(self, event: FilterBar.QueryChanged) -> None:
        self.query_one(DimensionList).apply_filter(event.query)
        self._show_filter_result()

    def _show_filter_result(self) -> None:
        """The count in the filter bar, and the no-match notice instead of an empty list."""
        dimension_list = self.query_one(DimensionList)
        shown = len(dimension_list.shown_dimensions)
        query = dimension_list.query_text
        self.query_one(FilterBar).show_count(query, shown, dimension_list.total)
        no_match = self.query_one("#no-match", Static)
        if shown == 0:
            no_match.update(Content.assemble("No dimension matches '", (query, "bold"), "'\n",
                                             ("Escape clears the filter", "$text-muted")))
        # Only on a change: setting display, even to the same value, asks for a layout.
        if no_match.display != (shown == 0):
            no_match.display = shown == 0
            dimension_list.display = shown > 0

    @on(FilterBar.Finished)
    def _filter_finished(self, event: FilterBar.Finished) -> None:
        dimension_list = self.query_one(DimensionList)
        if dimension_list.display:
            dimension_list.focus()
        else:
            self.query_one(FilterBar).query_one("Input").focus()

    @on(TabbedContent.TabActivated)
    def _tab_activated(self, event: TabbedContent.TabActivated) -> None:
        if not event.pane.children and self.dataset is not None:
            if event.pane.id == "pros":
                from kvmq.tui.pros_view import ProsView

                event.pane.mount(ProsView(self.dataset, id="pros-view"))
            elif event.pane.id == "summary":
                from kvmq.tui.summary_view import SummaryView

                event.pane.mount(SummaryView(self.dataset, id="summary-view"))
            elif event.pane.id == "host":
                from kvmq.tui.host_view import HostView

                event.pane.mount(HostView(self._host, id="host-view"))
        self.refresh_bindings()

    # ------------------------------------------------------------------ actions

    def tab_specs(self) -> tuple[tuple[str, str, str], ...]:
        return TABS

    def action_show_tab(self, tab_id: str) -> None:
        self.show_tab(tab_id)

    def show_tab(self, tab_id: str) -> None:
        self.query_one(TabbedContent).active = tab_id
        focus_target = {"compare": "#dimensions", "pros": "#pros-view", "summary": "#summary-view",
                        "host": "#host-checks"}
        if tab_id in focus_target:
            self.call_after_refresh(self._focus_first_visible, focus_target[tab_id])

    def _focus_first_visible(self, selector: str, retries: int = 3) -> None:
        found = self.query(selector)
        if not found:  # a lazily mounted tab that is not mounted yet
            if retries:
                self.call_after_refresh(self._focus_first_visible, selector, retries - 1)
            return
        widget = found.first()
        if widget.display:
            widget.focus()

    def go_to_dimension(self, dimension_id: str) -> None:
        self.show_tab("compare")
        dimension_list = self.query_one(DimensionList)
        if dimension_list.select_dimension(dimension_id):
            filter_bar = self.query_one(FilterBar)
            if not dimension_list.query_text:  # the filter hid it, and was cleared
                filter_bar.clear_input()
                filter_bar.display = False
            self._show_filter_result()
            dimension_list.focus()

    def action_filter(self) -> None:
        self.show_tab("compare")
        self.query_one(FilterBar).open()

    def action_copy(self) -> None:
        dimension = self.query_one(ComparisonPane).dimension
        if dimension is None or self.dataset is None:
            self.notify("Nothing to copy: no dimension is shown", severity="warning")
            return
        from kvmq.render.dataset import dimension_markdown

        self.copy_to_clipboard(dimension_markdown(self.dataset, dimension))
        self.notify(f"Copied '{dimension.title}' as Markdown", title="Clipboard", markup=False)

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

    def action_help(self) -> None:
        from kvmq.tui.help_screen import HelpScreen

        if isinstance(self.screen, HelpScreen):
            return
        app_keys = [
            (binding.key_display or binding.key, binding.tooltip or binding.description)
            for binding in self._bindings_for_help()
        ]
        self.push_screen(HelpScreen(
            f"{self.title}: keys",
            [("Explorer", app_keys), ("List, pane and filter", NAVIGATION_HELP)],
        ))

    def _bindings_for_help(self) -> list[Binding]:
        return [b for b in self.BINDINGS if isinstance(b, Binding)]

    def check_action(self, action: str, parameters: tuple[object, ...]) -> Optional[bool]:
        if self.dataset is None:
            # Still loading: only help and quit make sense.
            return action in ("help", "quit")
        tabs = self.query(TabbedContent)
        active = tabs.first().active if tabs else ""
        if action == "recheck":
            return active == "host"
        if action == "copy":
            return active == "compare"
        return True

    # ------------------------------------------------------------------ running


# Files up to this size parse in well under the time a person notices; larger ones are
# loaded in a worker behind a loading indicator so the first frame shows at once.
SYNC_LOAD_MAX_BYTES = 1024 * 1024


def run_explorer(path: Path) -> int:
    """Run the explorer on ``path``; dataset errors print one line each and return 2."""
    try:
        size = path.stat().st_size
    except OSError:
        size = 0  # load() reports the real problem below
    if size > SYNC_LOAD_MAX_BYTES and path.is_file():
        app = ExplorerApp(path=path)
        result = app.run()
        errors = app.load_errors
    else:
        try:
            dataset = load(path)
        except InvalidDataset as exc:
            result, errors = 2, exc.lines()
        else:
            result, errors = ExplorerApp(dataset).run(), []
    for line in errors:
        sys.stderr.write(f"kvmq: error: {line}\n")
    return 2 if errors else (result or 0)
