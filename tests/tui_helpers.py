"""Shared helpers for the explorer's pilot and snapshot tests."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

from kvmq.dataset import Dataset, load, packaged_data_path
from kvmq.hostcheck import Host
from kvmq.tui.app import ExplorerApp

TESTS = Path(__file__).resolve().parent
TUI_FIXTURES = TESTS / "fixtures" / "tui"
HOST_FIXTURES = TESTS / "fixtures" / "hosts"


def shipped() -> Dataset:
    return load(packaged_data_path())


def fixture(name: str) -> Dataset:
    return load(TUI_FIXTURES / name)


def fake_host(name: str = "intel-kvm") -> Host:
    return Host.from_tree(HOST_FIXTURES / name)


def make_app(dataset: Optional[Dataset] = None, host: Optional[Host] = None) -> ExplorerApp:
    return ExplorerApp(dataset or shipped(), host=host or fake_host())


def screen_text(app: ExplorerApp) -> str:
    """What the terminal shows now, as plain text (one line per row)."""
    strips = app.screen._compositor.render_strips()
    return "\n".join(strip.text for strip in strips)
