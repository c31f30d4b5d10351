"""The floor app: what any Textual app with the explorer's layout costs.

A Header, a TabbedContent, an OptionList of the same length as the dataset's dimension list
(built in one call, from prebuilt Option objects), two Static panes (title and description)
and a Footer. Started and
ended exactly like the explorer launcher (``start_explorer.py``): headless, exit as soon as
the first frame shows the markers.

    python benchmarks/bare_app.py --count 5000 --marker "Memory overhead 1" --marker "Interrupt runs"

``BareApp`` is also the floor of the filter and highlight measurements (``interact.py``):
there it has an Input above the list, and each keystroke replaces the list's options with
precomputed matching entries.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Optional, Sequence

sys.path.insert(0, str(Path(__file__).resolve().parent))

import profiling  # noqa: F401  (first: profiles the imports too, when asked)

# isort: split

from textual.app import App, ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Footer, Header, Input, OptionList, Static, TabbedContent, TabPane
from textual.widgets.option_list import Option

import frames
import generate

CSS = """
#body { height: 1fr; }
#list { width: 32; height: 1fr; border: none; }
#side { width: 32; height: 1fr; }
#pane { width: 1fr; padding: 0 1 0 2; }
#pane > Static { height: auto; }
#bare-input { width: 1fr; }
"""


class BareApp(App[int]):
    CSS = CSS

    def __init__(self, titles: Sequence[str], title: str, description: str, *,
                 with_input: bool = False, matches: Optional[dict[str, list[int]]] = None) -> None:
        super().__init__()
        self._titles = list(titles)
        # Built once and reused by every filter keystroke, as the explorer does.
        self._options = [Option(title) for title in self._titles]
        self._title = title
        self._description = description
        self._with_input = with_input
        self._matches = matches or {}

    def compose(self) -> ComposeResult:
        yield Header()
        with TabbedContent(), TabPane("Compare"), Horizontal(id="body"):
            with Vertical(id="side"):
                if self._with_input:
                    yield Input(id="bare-input", compact=True)
                yield OptionList(*self._options, id="list")
            with Vertical(id="pane"):
                yield Static(self._title, markup=False)
                yield Static(self._description, markup=False)
        yield Footer()

    def on_mount(self) -> None:
        option_list = self.query_one(OptionList)
        if self._titles:
            option_list.highlighted = 0
        option_list.focus()

    def on_input_changed(self, event: Input.Changed) -> None:
        # The floor of a filter keystroke: the same matching entries, no search, one rebuild.
        indexes = self._matches.get(event.value, range(len(self._titles)))
        option_list = self.query_one(OptionList)
        option_list.set_options([self._options[i] for i in indexes])
        if option_list.option_count:
            option_list.highlighted = 0


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--count", type=int, required=True, help="options in the list")
    parser.add_argument("--titles-from", metavar="PATH",
                        help="file with one title per line (default: the generated titles)")
    parser.add_argument("--marker", action="append", default=[],
                        help="text the first frame must show (title, then description start)")
    parser.add_argument("--timeout", type=float, default=300.0)
    args = parser.parse_args(argv)
    frames.watchdog(args.timeout)
    if args.titles_from:
        titles = Path(args.titles_from).read_text(encoding="utf-8").splitlines()[:args.count]
    else:
        titles = [generate.title(i) for i in range(args.count)]
    title, description = ([*args.marker, "", ""])[:2]
    watch = frames.FrameWatch(args.marker, on_shown=lambda app: app.exit(0))
    watch.install()
    frames.force_headless()
    status = BareApp(titles, title, description).run()
    frames.report_and_exit(status or 0, frames=watch.frames, shown=watch.shown_at is not None)
    return 0  # pragma: no cover - report_and_exit does not return


if __name__ == "__main__":
    sys.exit(main())
