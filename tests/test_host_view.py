"""The Host tab widget, driven through Textual's pilot with fake hosts."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import ClassVar, Optional, Sequence

from textual.app import App, ComposeResult
from textual.binding import BindingType
from textual.widgets import DataTable, Static

from kvmq.host.probe import Host, RunResult
from kvmq.tui.host_view import LOADING_TEXT, HostView
from tests.helpers import host_from_tree

HOSTS = Path(__file__).parent / "fixtures" / "hosts"
TCSS = Path(__file__).parent.parent / "src" / "kvmq" / "tui" / "app.tcss"


class HostApp(App[None]):
    CSS_PATH = TCSS
    BINDINGS: ClassVar[list[BindingType]] = [("r", "recheck", "Re-run")]  # as the explorer binds it

    def __init__(self, host: Optional[Host]) -> None:
        super().__init__()
        self._host = host

    def compose(self) -> ComposeResult:
        yield HostView(self._host, id="host")

    def action_recheck(self) -> None:
        self.query_one(HostView).refresh_checks()


def static_text(app: App[None], selector: str) -> str:
    return str(app.query_one(selector, Static).render())


async def settle(app: HostApp, pilot: object) -> None:
    await app.workers.wait_for_complete()
    await pilot.pause()  # type: ignore[attr-defined]


async def test_shows_verdict_and_checks() -> None:
    app = HostApp(host_from_tree(HOSTS / "intel-kvm"))
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        view = app.query_one(HostView)
        assert view.report is not None and view.report.kvm_available
        assert "KVM acceleration available" in static_text(app, "#host-verdict")
        assert "KVM_GET_API_VERSION = 12" in static_text(app, "#host-reason")
        assert app.query_one("#host-verdict").has_class("-ok")
        table = app.query_one(DataTable)
        assert table.row_count == len(view.report.checks)
        assert "cpu.virt-flags" in static_text(app, "#host-detail")


async def test_detail_follows_the_cursor_and_shows_the_hint() -> None:
    app = HostApp(host_from_tree(HOSTS / "amd-no-access"))
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(app, pilot)
        assert "QEMU will run without KVM" in static_text(app, "#host-verdict")
        assert app.query_one("#host-verdict").has_class("-no")
        report = app.query_one(HostView).report
        assert report is not None
        target = [c.id for c in report.checks].index("kvm.access")
        app.query_one(DataTable).focus()
        for _ in range(target):
            await pilot.press("down")
        await pilot.pause()
        detail = static_text(app, "#host-detail")
        assert "kvm.access" in detail and "usermod -aG kvm bob" in detail


async def test_loading_state_then_results_and_rerun() -> None:
    gate = threading.Event()
    base = host_from_tree(HOSTS / "nested-guest")
    real_probe = base.kvm_api_version

    def slow_probe(path: Path) -> int:
        gate.wait(5)
        return real_probe(path)

    host = host_from_tree(HOSTS / "nested-guest", kvm_api_version=slow_probe)
    app = HostApp(host)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        # The worker is blocked, yet the UI is up and says so.
        assert static_text(app, "#host-verdict") == LOADING_TEXT
        gate.set()
        await settle(app, pilot)
        assert "KVM acceleration available" in static_text(app, "#host-verdict")
        gate.clear()
        await pilot.press("r")
        await pilot.pause()
        assert static_text(app, "#host-verdict") == LOADING_TEXT
        gate.set()
        await settle(app, pilot)
        assert "KVM acceleration available" in static_text(app, "#host-verdict")


async def test_host_strings_are_not_markup() -> None:
    def run(argv: Sequence[str], timeout: float) -> RunResult:
        # A version line that would be bold red, and a link, if it were markup.
        return RunResult(stdout="[bold red]custom[/] [link=x]build[/link]\x1b[2J\n", returncode=0)

    app = HostApp(host_from_tree(HOSTS / "intel-kvm", run=run))
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        report = app.query_one(HostView).report
        assert report is not None
        target = [c.id for c in report.checks].index("qemu.img")
        app.query_one(DataTable).move_cursor(row=target)
        await pilot.pause()
        detail = static_text(app, "#host-detail")
        assert "[bold red]custom[/] [link=x]build[/link]" in detail
        assert "\x1b" not in detail


async def test_tiny_terminal_does_not_crash() -> None:
    app = HostApp(host_from_tree(HOSTS / "container-no-kvm"))
    async with app.run_test(size=(20, 8)) as pilot:
        await settle(app, pilot)
        assert "QEMU will run" in static_text(app, "#host-verdict")
        await pilot.press("down", "down", "r")
        await settle(app, pilot)
