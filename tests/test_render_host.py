"""Text and JSON renderings of a host check report."""

from __future__ import annotations

import io
import json
from pathlib import Path

from rich.console import Console

from kvmq.host.checks import run_checks
from kvmq.host.model import Check, Report, Status, Verdict
from kvmq.render.host import render_text, to_json
from tests.helpers import host_from_tree

HOSTS = Path(__file__).parent / "fixtures" / "hosts"


def plain_console(width: int = 160) -> tuple[Console, io.StringIO]:
    out = io.StringIO()
    return Console(file=out, width=width, color_system=None, force_terminal=False), out


def hostile_report() -> Report:
    return Report(
        checks=(
            Check("qemu.img", Status.PASS, "qemu-img [bold red]9.0[/] \x1b[2J\x1b]0;x\x07done"),
            Check("kvm.api", Status.FAIL, "could not open /dev/kvm", "see [link=x]kvm.access[/]"),
        ),
        verdict=Verdict(False, "QEMU will run without KVM (TCG software emulation)", "no\x07 kvm"),
    )


def test_text_table_and_verdict() -> None:
    report = run_checks(host_from_tree(HOSTS / "amd-no-access"))
    console, out = plain_console()
    render_text(report, console)
    text = out.getvalue()
    assert "\x1b" not in text  # a pipe gets no colour
    for word in ("Status", "Check", "Finding", "Hint", "PASS", "FAIL", "INFO", "kvm.access"):
        assert word in text
    assert "usermod -aG kvm bob" in text
    last = text.strip().splitlines()[-1]
    assert "Verdict: QEMU will run without KVM (TCG software emulation)" in text
    assert last  # the verdict comes after the table
    assert text.index("Verdict:") > text.index("kvm.access")


def test_status_words_are_coloured_on_a_terminal() -> None:
    report = run_checks(host_from_tree(HOSTS / "intel-kvm"))
    out = io.StringIO()
    console = Console(file=out, width=160, force_terminal=True, color_system="standard")
    render_text(report, console)
    assert "\x1b[" in out.getvalue() and "PASS" in out.getvalue()


def test_no_color_still_shows_words() -> None:
    out = io.StringIO()
    console = Console(file=out, width=120, force_terminal=True, no_color=True)
    render_text(run_checks(host_from_tree(HOSTS / "intel-kvm")), console)
    assert "PASS" in out.getvalue() and "\x1b[32m" not in out.getvalue()


def test_host_strings_are_literal_and_clean() -> None:
    console, out = plain_console()
    render_text(hostile_report(), console)
    text = out.getvalue()
    assert "[bold red]9.0[/]" in text  # markup shown as typed, not applied
    assert "[link=x]kvm.access[/]" in text
    assert "\x1b" not in text and "\x07" not in text


def test_json_shape_is_stable() -> None:
    report = run_checks(host_from_tree(HOSTS / "intel-kvm"))
    data = json.loads(to_json(report))
    assert list(data) == ["checks", "verdict"]
    assert list(data["verdict"]) == ["kvm_available", "summary", "reason"]
    assert data["verdict"]["kvm_available"] is True
    assert data["verdict"]["summary"] == "KVM acceleration available"
    for entry in data["checks"]:
        assert list(entry) == ["id", "status", "finding", "hint"]
        assert entry["status"] in {"pass", "warn", "fail", "info", "skip"}
    assert [c["id"] for c in data["checks"]] == [c.id for c in report.checks]
    assert to_json(report) == to_json(report)


def test_json_cleans_host_strings() -> None:
    text = to_json(hostile_report())
    data = json.loads(text)
    assert data["checks"][0]["finding"] == "qemu-img [bold red]9.0[/] done"
    assert data["verdict"]["reason"] == "no kvm"
    assert "\\u001b" not in text
