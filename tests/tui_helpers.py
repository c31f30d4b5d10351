"""Shared helpers for the explorer's pilot and snapshot tests."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

from kvmq.dataset.loader import load, packaged_data_path
from kvmq.dataset.model import Dataset
from kvmq.host.probe import Host
from kvmq.tui.app import ExplorerApp
from tests.helpers import host_from_tree

TESTS = Path(__file__).resolve().parent
TUI_FIXTURES = TESTS / "fixtures" / "tui"
HOST_FIXTURES = TESTS / "fixtures" / "hosts"


def shipped() -> Dataset:
    return load(packaged_data_path())


def fixture(name: str) -> Dataset:
    return load(TUI_FIXTURES / name)


def fake_host(name: str = "intel-kvm") -> Host:
    return host_from_tree(HOST_FIXTURES / name)


def make_app(dataset: Optional[Dataset] = None, host: Optional[Host] = None) -> ExplorerApp:
    return ExplorerApp(dataset or shipped(), host=host or fake_host())


def screen_text(app: ExplorerApp) -> str:
    """What the terminal shows now, as plain text (one line per row)."""
    strips = app.screen._compositor.render_strips()
    return "\n".join(strip.text for strip in strips)


async def wait_for_host_report(pilot) -> None:  # type: ignore[no-untyped-def]
    """Let the Host tab's worker finish (it runs the checks in a thread)."""
    from kvmq.tui.host_view import HostView

    for _ in range(200):
        await pilot.pause(0.02)
        views = pilot.app.query(HostView)
        if views and views.first().report is not None:
            await pilot.pause()
            return
    raise AssertionError("the host checks did not finish")


# The screen states the README shows: name -> (size, keys pressed, dataset fixture or None).
SCREEN_STATES: dict[str, tuple[tuple[int, int], tuple[str, ...], Optional[str]]] = {
    "compare": ((120, 36), ("j",), None),
    "compare-narrow": ((80, 24), ("j", "j"), None),
    "compare-tiny": ((40, 12), (), None),
    "pros": ((120, 36), ("2",), None),
    "summary": ((120, 36), ("3",), None),
    "filter": ((120, 36), ("slash", *"migration"), None),
    "filter-no-match": ((80, 24), ("slash", *"xyzzy"), None),
    "help": ((120, 36), ("question_mark",), None),
    "host": ((120, 36), ("4",), None),
    "three-subjects": ((150, 30), (), "three-subjects.yaml"),
    "markup": ((100, 30), (), "markup.yaml"),
}

# The subset that make screenshots writes to screenshots/ for the README.
README_SCREENSHOTS = ("compare", "compare-narrow", "pros", "summary", "filter", "help", "host")


def app_for_state(name: str) -> ExplorerApp:
    _size, _keys, data = SCREEN_STATES[name]
    return make_app(fixture(data) if data else None)


async def drive_to_state(pilot, name: str) -> None:  # type: ignore[no-untyped-def]
    _size, keys, _data = SCREEN_STATES[name]
    await pilot.press(*keys)
    await pilot.pause()
    if name == "host":
        await wait_for_host_report(pilot)
