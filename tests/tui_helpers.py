"""Shared helpers for the explorer's pilot and snapshot tests."""

from __future__ import annotations

import html
import re
import time
from contextlib import asynccontextmanager
from pathlib import Path
from typing import AsyncIterator, Callable, Optional

from textual.app import App
from textual.pilot import Pilot

from kvmq.dataset.loader import load, packaged_data_path
from kvmq.dataset.model import Dataset
from kvmq.host.probe import Host
from kvmq.host.vms import QmpAddress, QmpAnswer, Scanner
from kvmq.tui.app import ExplorerApp
from kvmq.tui.dimension_list import DimensionList
from tests.helpers import host_from_tree

TESTS = Path(__file__).resolve().parent
TUI_FIXTURES = TESTS / "fixtures" / "tui"
HOST_FIXTURES = TESTS / "fixtures" / "hosts"
VMS_FIXTURES = TESTS / "fixtures" / "vms"


def shipped() -> Dataset:
    return load(packaged_data_path())


def fixture(name: str) -> Dataset:
    return load(TUI_FIXTURES / name)


def fake_host(name: str = "intel-kvm") -> Host:
    return host_from_tree(HOST_FIXTURES / name)


def _no_qmp(address: QmpAddress, timeout: float, root: Path) -> QmpAnswer:
    return QmpAnswer(error="not in tests")


def fake_scanner(name: str | Path = "showcase", **options: object) -> Scanner:
    """A VM scanner over a fixture /proc tree: deterministic, never this machine's VMs."""
    settings: dict[str, object] = {"kvm_works": True, "version": lambda path: "7.2.22",
                                   "qmp": _no_qmp, "machine": "x86_64"}
    settings.update(options)
    return Scanner(VMS_FIXTURES / name, **settings)  # type: ignore[arg-type]


def make_app(dataset: Optional[Dataset] = None, host: Optional[Host] = None,
             vm_scanner: Optional[Scanner] = None) -> ExplorerApp:
    return ExplorerApp(dataset or shipped(), host=host or fake_host(),
                       vm_scanner=vm_scanner or fake_scanner())


_SVG_TEXT = re.compile(
    r'<text [^>]*?x="([0-9.]+)"[^>]*?clip-path="url\(#[^)]*-line-([0-9]+)\)">([^<]*)</text>')
# Rich's SVG export places each cell 0.61 em of a 20 px font apart.
_CELL = 12.2


def screen_text(app: App[object]) -> str:
    """What the terminal shows now, as plain text (one line per row), read from Textual's
    public screenshot export."""
    width, height = app.size
    rows = [[" "] * width for _ in range(height)]
    for x, line, text in _SVG_TEXT.findall(app.export_screenshot()):
        row = int(line)
        if row >= height:
            continue
        column = round(float(x) / _CELL)
        for offset, char in enumerate(html.unescape(text).replace("\xa0", " ")):
            if 0 <= column + offset < width:
                rows[row][column + offset] = char
    return "\n".join("".join(row) for row in rows)


@asynccontextmanager
async def started(app: ExplorerApp, size: tuple[int, int] = (120, 36)) -> AsyncIterator[Pilot[int]]:
    """``app.run_test`` once the dataset has loaded and the Compare tab is on screen."""
    async with app.run_test(size=size) as pilot:
        await wait_until(pilot, lambda: bool(app.query(DimensionList)) and app.focused is not None)
        yield pilot


async def wait_until(pilot: Pilot[int], condition: Callable[[], bool], timeout: float = 10.0) -> None:
    """Let the app run until ``condition()`` holds (workers finish in their own time)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("the explorer did not get there in time")
        await pilot.pause(0.01)
    await pilot.pause()


# The characters that Textual's named keys type, for the names the tests use.
_KEY_CHARACTERS = {"slash": "/", "question_mark": "?", "space": " "}


async def burst(pilot: Pilot[int], *keys: str) -> None:
    """Keys queued all at once, as a fast typist or a paste delivers them, then a pause.
    ``pilot.press`` waits for the app to go idle after every key (about 0.1 s each); a burst
    waits once, and the app has to cope with keys arriving before it handled the last."""
    from textual import events

    for key in keys:
        character = key if len(key) == 1 else _KEY_CHARACTERS.get(key)
        pilot.app.post_message(events.Key(key, character))
    await pilot.pause()


def footer_line(app: App[object]) -> str:
    """The bottom row: the footer's keys."""
    return screen_text(app).splitlines()[-1]


async def wait_for_footer(pilot: Pilot[int], condition: Callable[[str], bool] = bool) -> None:
    """Let the footer show its keys: it recomposes after a refresh whenever the focus or the
    bindings change, and is blank in between; ``condition`` is given its stripped line."""
    await wait_until(pilot, lambda: condition(footer_line(pilot.app).strip()))


async def wait_for_host_report(pilot) -> None:  # type: ignore[no-untyped-def]
    """Let the Host tab's worker finish (it runs the checks in a thread)."""
    from kvmq.tui.host_view import HostView

    def done() -> bool:
        views = pilot.app.query(HostView)
        return bool(views) and views.first().report is not None

    await wait_until(pilot, done)


async def wait_for_vms_scan(pilot) -> None:  # type: ignore[no-untyped-def]
    """Let the VMs tab's worker finish its first scan."""
    from kvmq.tui.vms_view import VmsView

    def done() -> bool:
        views = pilot.app.query(VmsView)
        return bool(views) and views.first().scan is not None

    await wait_until(pilot, done)


# The screen states the README shows: name -> (size, keys pressed, dataset fixture or None).
SCREEN_STATES: dict[str, tuple[tuple[int, int], tuple[str, ...], Optional[str]]] = {
    "compare": ((120, 36), ("j",), None),
    "compare-narrow": ((80, 24), ("j", "j"), None),
    "compare-tiny": ((40, 12), (), None),
    "compare-smallest": ((20, 8), ("G",), None),
    "pros-tiny": ((40, 12), ("2",), None),
    "pros": ((120, 36), ("2",), None),
    "summary": ((120, 36), ("3",), None),
    "filter": ((120, 36), ("slash", *"migration"), None),
    "filter-no-match": ((80, 24), ("slash", *"xyzzy"), None),
    "help": ((120, 36), ("question_mark",), None),
    "host": ((120, 36), ("4",), None),
    "vms": ((120, 36), ("5", "down"), None),
    "vms-narrow": ((50, 20), ("5",), None),
    "three-subjects": ((150, 30), (), "three-subjects.yaml"),
    "markup": ((100, 30), (), "markup.yaml"),
}

# The subset that make screenshots writes to screenshots/ for the README.
README_SCREENSHOTS = ("compare", "compare-narrow", "pros", "summary", "filter", "help", "host", "vms")


def app_for_state(name: str) -> ExplorerApp:
    _size, _keys, data = SCREEN_STATES[name]
    return make_app(fixture(data) if data else None)


async def drive_to_state(pilot, name: str) -> None:  # type: ignore[no-untyped-def]
    _size, keys, _data = SCREEN_STATES[name]
    app = pilot.app
    await wait_until(pilot, lambda: bool(app.query(DimensionList)) and app.focused is not None)
    vms_keys = keys[1:] if name.startswith("vms") else ()
    await pilot.press(*(keys[:1] if name.startswith("vms") else keys))
    await pilot.pause()
    if name == "host":
        await wait_for_host_report(pilot)
    if name.startswith("vms"):
        await wait_for_vms_scan(pilot)
        await pilot.press(*vms_keys)
        await pilot.pause()
    if len(app.screen_stack) == 1:  # no modal over it: the footer is the bottom row
        await wait_for_footer(pilot)


async def wait_for_palette_search(pilot, query: str) -> None:  # type: ignore[no-untyped-def]
    """Let the command palette finish searching for ``query``: its input holds the text, its
    search worker (restarted on every key) is done, and a hit is highlighted. Event-driven,
    instead of a fixed sleep that a busy machine may outlast."""
    from textual.command import CommandInput, CommandList, CommandPalette

    app = pilot.app

    def done() -> bool:
        screen = app.screen
        if not isinstance(screen, CommandPalette) or screen.query_one(CommandInput).value != query:
            return False
        if any(worker.node is screen and not worker.is_finished for worker in app.workers):
            return False
        commands = screen.query_one(CommandList)
        return commands.option_count > 0 and commands.highlighted is not None

    await wait_until(pilot, done)
