"""The Host tab widget, driven through Textual's pilot with fake hosts."""

from __future__ import annotations

import os
import shutil
import threading
import time
from pathlib import Path
from typing import ClassVar, Optional, Sequence

import pytest
from rich.cells import cell_len
from textual.app import App, ComposeResult
from textual.binding import BindingType
from textual.widgets import OptionList, Static

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


def checks_list(app: App[None]) -> OptionList:
    return app.query_one("#host-checks", OptionList)


def prompts(app: App[None]) -> list[str]:
    options = checks_list(app)
    return [str(options.get_option_at_index(i).prompt) for i in range(options.option_count)]


async def test_shows_verdict_and_checks() -> None:
    app = HostApp(host_from_tree(HOSTS / "intel-kvm"))
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        view = app.query_one(HostView)
        assert view.report is not None and view.report.kvm_available
        assert "KVM acceleration available" in static_text(app, "#host-verdict")
        reason = static_text(app, "#host-reason")
        assert "KVM_GET_API_VERSION = 12" in reason and "checks:" in reason
        assert app.query_one("#host-verdict").has_class("-ok")
        assert checks_list(app).option_count == len(view.report.checks)
        assert prompts(app)[0].startswith("PASS  cpu.virt-flags")


@pytest.mark.parametrize("fixture", ["amd-no-access", "container-no-kvm", "intel-kvm", "qemu-flood"])
async def test_no_finding_or_hint_is_cut_off(fixture: str) -> None:
    """At 120 columns, then narrowed to 80: every word of each check is there, within the width."""
    app = HostApp(host_from_tree(HOSTS / fixture, timeout=0.5))
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(app, pilot)
        report = app.query_one(HostView).report
        assert report is not None
        for size in [(120, 36), (80, 24)]:
            await pilot.resize_terminal(*size)
            await pilot.pause()
            options = checks_list(app)
            width = options.scrollable_content_region.width
            assert options.max_scroll_x == 0, size  # nothing to scroll sideways to
            for check, prompt in zip(report.checks, prompts(app)):
                for line in prompt.splitlines():
                    assert cell_len(line) <= width, (size, line)
                words = prompt.split()
                for word in f"{check.id} {check.finding} {check.hint}".split():
                    assert word in words, (size, check.id, word)


async def test_rerun_keeps_the_highlighted_check_and_right_scrolls_nothing() -> None:
    app = HostApp(host_from_tree(HOSTS / "amd-no-access"))
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        view = app.query_one(HostView)
        assert view.report is not None
        target = [c.id for c in view.report.checks].index("kvm.access")
        view.focus_table()
        for _ in range(target):
            await pilot.press("down")
        await pilot.press("right", "right")
        await pilot.pause()
        assert view.highlighted_id == "kvm.access"
        assert checks_list(app).scroll_x == 0
        await pilot.press("r")
        await settle(app, pilot)
        assert view.highlighted_id == "kvm.access"
        assert checks_list(app).highlighted == target
        assert app.focused is checks_list(app)


async def test_only_the_list_scrolls() -> None:
    # No scrollbar of the view itself (the lone glyph mid-screen was one).
    app = HostApp(host_from_tree(HOSTS / "intel-kvm"))
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        view = app.query_one(HostView)
        assert view.max_scroll_y == 0 and view.max_scroll_x == 0
        assert not view.show_vertical_scrollbar and not view.show_horizontal_scrollbar


async def test_a_theme_change_recolours_the_statuses() -> None:
    app = HostApp(host_from_tree(HOSTS / "intel-kvm"))
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(app, pilot)
        view = app.query_one(HostView)
        before = view.get_component_rich_style("host-view--pass")
        app.theme = "solarized-light"
        await pilot.pause()
        await pilot.pause()
        after = view.get_component_rich_style("host-view--pass")
        assert before.color != after.color
        prompt = checks_list(app).get_option_at_index(0).prompt
        colours = {getattr(span.style, "color", None) for span in prompt.spans}  # type: ignore[union-attr]
        assert after.color in colours and before.color not in colours


def probes_running(marker: str) -> int:
    """Processes whose command line mentions ``marker`` (the fixture tree of a test)."""
    count = 0
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as handle:
                if marker.encode() in handle.read():
                    count += 1
        except OSError:
            pass
    return count


async def test_superseded_runs_are_stopped_and_quit_is_quick(tmp_path: Path) -> None:
    # Issue 17, item 12: 30 presses of r left 48 hung probes, and q then took 65 s.
    tree = tmp_path / "hung-host"
    shutil.copytree(HOSTS / "qemu-hang", tree, symlinks=True)
    for index in range(4):
        shutil.copy2(tree / "usr/bin/qemu-system-x86_64", tree / f"usr/bin/qemu-system-hung{index}")
    app = HostApp(host_from_tree(tree, timeout=30.0))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause(0.3)
        for _ in range(10):
            await pilot.press("r")
            await pilot.pause(0.05)
        await pilot.pause(0.5)
        # Only the latest run's probes are left: five binaries, a shell and a sleep each.
        assert probes_running(str(tree)) <= 10
        started = time.monotonic()
        app.exit()
    assert time.monotonic() - started < 15  # the probes were killed, not waited for (30 s)
    deadline = time.monotonic() + 10
    while probes_running(str(tree)) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert probes_running(str(tree)) == 0


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
        prompt = prompts(app)[target]
        assert "[bold red]custom[/] [link=x]build[/link]" in prompt
        assert "\x1b" not in prompt


async def test_tiny_terminal_does_not_crash() -> None:
    app = HostApp(host_from_tree(HOSTS / "container-no-kvm"))
    async with app.run_test(size=(20, 8)) as pilot:
        await settle(app, pilot)
        assert "QEMU will run" in static_text(app, "#host-verdict")
        await pilot.press("down", "down", "r")
        await settle(app, pilot)
