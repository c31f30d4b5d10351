"""The Fleet tab (``kvmq fleet DIR`` on a terminal), driven through Textual's pilot."""

from __future__ import annotations

import shutil
from contextlib import asynccontextmanager
from pathlib import Path
from typing import AsyncIterator

from textual.pilot import Pilot
from textual.widgets import Input, TabbedContent

from kvmq.host.fleet import read_fleet
from kvmq.tui.app import ExplorerApp
from kvmq.tui.fleet_host_detail import FleetHostDetail
from kvmq.tui.fleet_host_list import FleetHostList
from kvmq.tui.fleet_view import FleetView
from tests.test_fleet import generator
from tests.tui_helpers import burst, screen_text, shipped, started, wait_until

FLEET = Path(__file__).parent / "fixtures" / "fleet"


def fleet_folder(tmp_path: Path, *sets: str) -> Path:
    folder = tmp_path / "reports"
    folder.mkdir(exist_ok=True)
    for name in sets:
        for report in (FLEET / name).iterdir():
            shutil.copy(report, folder / report.name)
    return folder


@asynccontextmanager
async def fleet_started(app: ExplorerApp, size: tuple[int, int]) -> AsyncIterator[Pilot[int]]:
    """``app.run_test`` once the dataset has loaded and the Fleet tab has the focus."""
    async with app.run_test(size=size) as pilot:
        await wait_until(pilot, lambda: bool(app.query(FleetHostList))
                         and isinstance(app.focused, FleetHostList))
        yield pilot


def make_app(folder: Path) -> ExplorerApp:
    view = FleetView(folder, read_fleet([folder], keep=True), id="fleet-view")
    return ExplorerApp(shipped(), fleet_view=view)


def detail_text(app: ExplorerApp) -> str:
    return app.query_one(FleetHostDetail).text


async def test_opens_on_the_fleet_tab_with_the_first_host(tmp_path: Path) -> None:
    app = make_app(fleet_folder(tmp_path, "tcg", "no-kvm"))
    async with fleet_started(app, (120, 36)) as pilot:
        assert app.query_one(TabbedContent).active == "fleet"
        host_list = app.query_one(FleetHostList)
        assert app.focused is host_list
        assert [row.host for row in host_list.rows] == ["hv-fast", "hv-ok", "hv-old", "hv-slow"]
        assert detail_text(app).startswith("hv-fast\nstate: ok")
        # The summary line is painted after the first layout: wait for it, not a fixed time.
        await wait_until(pilot, lambda: "4 hosts: 2 ok, 1 VMs on TCG, 1 no KVM" in screen_text(app))
        screen = screen_text(app)
        assert "4 hosts: 2 ok, 1 VMs on TCG, 1 no KVM" in screen
        assert "hv-old" in screen and "no KVM" in screen


async def test_moving_shows_each_host_in_full(tmp_path: Path) -> None:
    """The highlight moves at once; the host's full report follows when the moves stop."""
    app = make_app(fleet_folder(tmp_path, "tcg", "no-kvm"))
    async with fleet_started(app, (120, 36)) as pilot:
        host_list = app.query_one(FleetHostList)
        await pilot.press("down", "down")
        assert host_list.current is not None and host_list.current.host == "hv-old"
        await wait_until(pilot, lambda: detail_text(app).startswith("hv-old\nstate: no KVM"))
        text = detail_text(app)
        assert "FAIL  kvm.device" in text and "Verdict: QEMU will run without KVM" in text
        await pilot.press("end")
        await wait_until(pilot, lambda: "TCG while KVM works" in detail_text(app))
        assert "db" in detail_text(app)
        await pilot.press("home")
        await wait_until(pilot, lambda: detail_text(app).startswith("hv-fast"))


async def test_filter_narrows_and_escape_clears(tmp_path: Path) -> None:
    app = make_app(fleet_folder(tmp_path, "tcg", "no-kvm", "broken"))
    async with fleet_started(app, (120, 36)) as pilot:
        host_list = app.query_one(FleetHostList)
        total = len(host_list.rows)
        await pilot.press("slash")
        assert isinstance(app.focused, Input)
        await pilot.press(*"kvm.device")
        assert [row.host for row in host_list.rows] == ["hv-old"]
        assert f"1 of {total}" in screen_text(app)
        await pilot.press("enter")
        assert app.focused is host_list
        await pilot.press("slash", *" zzz")
        assert host_list.rows == []
        assert "No host matches the filter" in detail_text(app)
        await pilot.press("escape")
        assert len(host_list.rows) == total and app.focused is host_list


async def test_hostile_names_are_shown_literally(tmp_path: Path) -> None:
    app = make_app(fleet_folder(tmp_path, "broken"))
    async with fleet_started(app, (120, 36)):
        screen = screen_text(app)
        assert "\\e[31mred\\e[0m[bold]host[/bold]" in screen
        assert detail_text(app).startswith("\\e[31mred\\e[0m[bold]host[/bold]\\u202e")
        assert "[link=file:///etc/passwd]click[/link]" in detail_text(app)


async def test_r_rereads_the_folder_and_keeps_the_host(tmp_path: Path) -> None:
    folder = fleet_folder(tmp_path, "tcg")
    app = make_app(folder)
    async with fleet_started(app, (120, 36)) as pilot:
        await pilot.press("down")
        host_list = app.query_one(FleetHostList)
        assert host_list.current is not None and host_list.current.host == "hv-slow"
        shutil.copy(FLEET / "no-kvm" / "hv-old.json", folder / "hv-old.json")
        (folder / "hv-fast.json").write_text("{broken")
        await pilot.press("r")
        view = app.query_one(FleetView)
        await wait_until(pilot, lambda: len(view.fleet.hosts) == 3)
        assert [row.host for row in host_list.rows] == ["hv-fast", "hv-old", "hv-slow"]
        assert host_list.current is not None and host_list.current.host == "hv-slow"
        assert host_list.rows[0].state.value == "no-report"


async def test_r_on_a_vanished_folder_keeps_what_is_shown(tmp_path: Path) -> None:
    folder = fleet_folder(tmp_path, "tcg")
    app = make_app(folder)
    async with fleet_started(app, (120, 36)) as pilot:
        shutil.rmtree(folder)
        await pilot.press("r")
        await wait_until(pilot, lambda: all(worker.is_finished for worker in app.workers))
        assert len(app.query_one(FleetHostList).rows) == 2


async def test_every_size_works(tmp_path: Path) -> None:
    """Keys at each size, the terminal squeezed to 20x8 and back between them (one app)."""
    app = make_app(fleet_folder(tmp_path, "tcg", "broken"))
    async with fleet_started(app, (120, 36)) as pilot:
        for size in [(120, 36), (80, 24), (40, 12), (20, 8), (12, 5)]:
            await pilot.resize_terminal(*size)
            await pilot.press("down", "end", "pagedown", "pageup", "slash", "t", "escape", "r")
            await wait_until(pilot, lambda: all(worker.is_finished for worker in app.workers))
            await pilot.resize_terminal(20, 8)
            await pilot.pause()
            await pilot.resize_terminal(*size)
            await pilot.pause()
            assert app.is_running, size
            assert app.query_one(FleetHostList).current is not None, size


async def test_the_fleet_tab_is_absent_without_a_fleet() -> None:
    app = ExplorerApp(shipped())
    async with started(app) as pilot:
        await pilot.press("6", "5")
        assert not app.query(FleetView)
        assert app.query_one(TabbedContent).active != "fleet"


async def test_a_thousand_hosts_move_filter_and_clear(tmp_path: Path) -> None:
    # A fleet big enough that the list must only lay out what is visible (make bench
    # measures merging 5,000 reports; speed is never asserted here).
    hosts = 1000
    folder = generator().write_fleet(tmp_path / "fleet", hosts)
    app = make_app(folder)
    async with fleet_started(app, (120, 36)) as pilot:
        host_list = app.query_one(FleetHostList)
        assert len(host_list.rows) == hosts
        last = host_list.rows[-1].host
        await burst(pilot, *["down"] * 20)  # a held-down arrow key
        await wait_until(pilot, lambda: detail_text(app).startswith(host_list.rows[20].host))
        await burst(pilot, "slash", *"dc3 tcg")
        assert 0 < len(host_list.rows) < hosts
        assert all("dc3" in row.host for row in host_list.rows)
        await pilot.press("escape", "end")
        assert len(host_list.rows) == hosts
        assert host_list.current is not None and host_list.current.host == last
