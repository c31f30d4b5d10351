"""The VMs tab widget, driven through Textual's pilot over fixture /proc trees."""

from __future__ import annotations

import shutil
import threading
from pathlib import Path
from typing import Any, Optional

from textual.app import App, ComposeResult
from textual.widgets import OptionList, Static

from kvmq.host.vms import Scan, Scanner
from kvmq.tui.vms_view import NO_VMS_TEXT, VmsView
from tests.tui_helpers import (
    VMS_FIXTURES,
    fake_scanner,
    make_app,
    screen_text,
    started,
    wait_for_footer,
    wait_for_vms_scan,
    wait_until,
)


class VmsApp(App[None]):
    def __init__(self, scanner: Scanner, refresh_seconds: float = 0) -> None:
        super().__init__()
        self._scanner = scanner
        self._refresh = refresh_seconds

    def compose(self) -> ComposeResult:
        yield VmsView(self._scanner, refresh_seconds=self._refresh, id="vms")

    def on_mount(self) -> None:
        self.query_one(VmsView).focus_list()


def detail_text(app: App[Any]) -> str:
    return str(app.query_one("#vms-detail", Static).render())


async def settle(app: App[Any], pilot: Any) -> None:
    await app.workers.wait_for_complete()
    await pilot.pause()


async def test_lists_vms_and_shows_the_highlighted_one() -> None:
    app = VmsApp(fake_scanner())
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        view = app.query_one(VmsView)
        assert view.scan is not None and len(view.scan.vms) == 6
        assert app.query_one("#vms-list", OptionList).option_count == 6
        assert view.highlighted_pid == 2101
        text = screen_text(app)
        assert "web-01" in text and "KVM (proof)" in text
        assert "6 QEMU VMs running, 3 on TCG (1 of another architecture, which needs it)" in text
        await pilot.press("down")
        assert view.highlighted_pid == 2207
        detail = detail_text(app)
        assert "Accelerator TCG (proof)" in detail
        assert "ERROR runs on TCG" in detail and "fell back to TCG without a word" in detail
        await pilot.press("j", "j")
        assert view.highlighted_pid == 2415
        await pilot.press("k")
        assert view.highlighted_pid == 2310


async def test_the_highlight_stays_on_its_vm_across_refreshes(tmp_path: Path) -> None:
    root = tmp_path / "root"
    shutil.copytree(VMS_FIXTURES / "showcase", root, symlinks=True)
    app = VmsApp(fake_scanner(root))
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(app, pilot)
        view = app.query_one(VmsView)
        await pilot.press("down", "down")
        assert view.highlighted_pid == 2310
        # A new VM appears before it, one after it exits: still the same VM.
        shutil.copytree(root / "proc/2101", root / "proc/2000", symlinks=True)
        shutil.rmtree(root / "proc/2522")
        await pilot.press("r")
        await settle(app, pilot)
        assert view.scans == 2
        assert [vm.pid for vm in view.scan.vms][:2] == [2000, 2101]  # type: ignore[union-attr]
        assert view.highlighted_pid == 2310
        options = app.query_one("#vms-list", OptionList)
        assert options.highlighted is not None
        assert options.get_option_at_index(options.highlighted).id == "2310"
        # The highlighted VM exits: the list keeps a highlight, the detail follows it.
        shutil.rmtree(root / "proc/2310")
        await pilot.press("r")
        await settle(app, pilot)
        assert view.highlighted_pid is not None and view.highlighted_pid != 2310
        assert str(view.highlighted_pid) in detail_text(app)


async def test_says_plainly_when_no_vm_runs(tmp_path: Path) -> None:
    (tmp_path / "proc/1").mkdir(parents=True)
    (tmp_path / "proc/1/cmdline").write_bytes(b"/sbin/init\0")
    app = VmsApp(fake_scanner(tmp_path))
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        assert not app.query_one("#vms-list", OptionList).display
        text = " ".join(screen_text(app).split())
        assert "No QEMU VM is running" in text
        assert " ".join(NO_VMS_TEXT.split()[:6]) in text


async def test_strings_from_processes_are_literal() -> None:
    app = VmsApp(fake_scanner("hostile"))
    async with app.run_test(size=(160, 40)) as pilot:
        await settle(app, pilot)
        await pilot.press("down")  # pid 202: markup and escapes in its name
        detail = detail_text(app)
        assert "\\x1b[31mred\\x1b[0m [bold]markup[/bold] \\u202eevil" in detail
        assert "/tmp/[link=http://x]a[/link].img,odd" in detail


async def test_refreshes_by_itself_in_a_worker() -> None:
    app = VmsApp(fake_scanner(), refresh_seconds=0.05)
    async with app.run_test(size=(80, 24)) as pilot:
        view = app.query_one(VmsView)
        await wait_until(pilot, lambda: view.scans >= 3)


class GatedScanner(Scanner):
    """Scans only once released, as a host with a hung QMP socket would keep a scan waiting."""

    def __init__(self) -> None:
        super().__init__(VMS_FIXTURES / "showcase", kvm_works=True, version=lambda p: "7.2.22",
                         machine="x86_64")
        self.release = threading.Event()
        self.running = 0
        self.most = 0
        self.lock = threading.Lock()

    def scan(self, pids: Optional[Any] = None) -> Scan:
        with self.lock:
            self.running += 1
            self.most = max(self.most, self.running)
        self.release.wait(30)
        try:
            return super().scan(pids)
        finally:
            with self.lock:
                self.running -= 1


async def test_a_slow_scan_never_blocks_keys_and_scans_never_pile_up() -> None:
    scanner = GatedScanner()
    app = VmsApp(scanner, refresh_seconds=0.05)
    async with app.run_test(size=(80, 24)) as pilot:
        view = app.query_one(VmsView)
        await pilot.press("r", "r", "j")
        await pilot.pause(0.2)  # several refresh periods go by while the scan waits
        # The keys were handled while the first scan still waits: it runs off the event loop.
        assert scanner.running == 1 and view.scan is None
        scanner.release.set()
        await wait_for_vms_scan(pilot)
        assert view.scan is not None and len(view.scan.vms) == 6
        assert scanner.most == 1  # neither r nor the timer started a second scan beside it


async def test_every_size_down_to_20x8() -> None:
    """Keys at each size, the terminal resized between them (one app, one scan)."""
    app = make_app()
    async with started(app, (120, 36)) as pilot:
        await pilot.press("5")
        await wait_for_vms_scan(pilot)
        view = app.query_one(VmsView)
        for size in [(20, 8), (30, 10), (50, 20), (80, 24), (120, 36)]:
            await pilot.resize_terminal(*size)
            for key in ("down", "j", "r", "k", "up"):
                await pilot.press(key)
            await pilot.pause()
            assert view.scan is not None
            assert view.has_class("-narrow") == (size[0] < VmsView.NARROW), size
            if size[0] >= 50:
                assert "VMs running" in screen_text(app), size


async def test_explorer_tab_key_and_help() -> None:
    app = make_app()
    async with started(app, (120, 36)) as pilot:
        await pilot.press("5")
        await wait_for_vms_scan(pilot)
        assert app.focused is not None and app.focused.id == "vms-list"
        await wait_for_footer(pilot, lambda line: "Refresh VMs" in line)  # the tab's own r
        await pilot.press("question_mark")
        await pilot.pause()
        assert "or the VM scan (VMs tab) again" in " ".join(screen_text(app).replace("│", " ").split())


async def test_the_detail_explains_the_command_line() -> None:
    app = VmsApp(fake_scanner("libvirt"))
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        detail = detail_text(app)
        assert "The command line explained" in detail
        # The explainer's own reading, option by option (web's libvirt line).
        assert "-blockdev" in detail.split("The command line explained", 1)[1]
        assert "Findings" in detail.split("The command line explained", 1)[1]
        await pilot.press("down")
        assert "-accel tcg" in detail_text(app).split("The command line explained", 1)[1]
