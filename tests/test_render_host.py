"""Text and JSON renderings of a host check report."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from rich.cells import cell_len
from rich.console import Console

from kvmq.host.checks import run_checks
from kvmq.host.model import Check, Report, Status, Verdict
from kvmq.render.host import check_lines, render_text, report_lines, to_json, wrap
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


def test_text_lines_and_verdict() -> None:
    report = run_checks(host_from_tree(HOSTS / "amd-no-access"))
    console, out = plain_console()
    render_text(report, console)
    text = out.getvalue()
    assert "\x1b" not in text  # a pipe gets no colour
    for word in ("PASS", "FAIL", "NOTE", "kvm.access"):
        assert word in text
    assert "`sudo usermod -aG kvm bob`" in text
    lines = text.rstrip("\n").splitlines()
    assert lines[-2].startswith("Verdict: QEMU will run without KVM (TCG software emulation)")
    assert lines[-3].startswith("Summary: ") and "2 fail" in lines[-3]
    access = next(line for line in lines if "kvm.access" in line)
    assert access.startswith("FAIL  kvm.access")
    # The hint sits under its finding, marked.
    assert lines[lines.index(access) + 1].lstrip().startswith("→ ")


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
    assert list(data) == ["schema", "kind", "host", "kvmq_version", "time", "verdict", "counts", "checks"]
    assert data["schema"] == 1 and data["kind"] == "kvmq.host-check"
    assert data["host"] == {"hostname": "intel-kvm", "kernel": "6.8.0-test", "machine": "x86_64",
                            "os": "Debian GNU/Linux 12 (bookworm)"}
    assert data["time"] == "2026-01-02T03:04:05Z"
    assert list(data["verdict"]) == ["kvm_available", "accelerator", "summary", "reason"]
    assert data["verdict"]["kvm_available"] is True and data["verdict"]["accelerator"] == "kvm"
    assert data["verdict"]["summary"] == "KVM acceleration available"
    assert list(data["counts"]) == ["pass", "warn", "fail", "note", "skip"]
    assert sum(data["counts"].values()) == len(data["checks"])
    for entry in data["checks"]:
        assert list(entry) == ["id", "status", "finding", "hint", "facts"]
        assert entry["status"] in {"pass", "warn", "fail", "note", "skip"}
        assert isinstance(entry["facts"], dict)
    assert [c["id"] for c in data["checks"]] == [c.id for c in report.checks]
    vm = next(c for c in data["checks"] if c["id"] == "kvm.vm")
    assert vm["facts"] == {"vm_created": True, "vcpu_created": True, "nr_vcpus": 4, "max_vcpus": 1024}
    assert to_json(report) == to_json(report)


def test_json_documents_every_check_id_and_fact() -> None:
    # docs/host-check.md is the schema: every id and every fact key any fixture produces is in it.
    doc = (Path(__file__).parent.parent / "docs" / "host-check.md").read_text(encoding="utf-8")
    for tree in sorted(p for p in HOSTS.iterdir() if p.is_dir()):
        for entry in json.loads(to_json(run_checks(host_from_tree(tree, timeout=0.5))))["checks"]:
            cid = entry["id"]
            documented = "qemu.binaries.NAME" if cid.startswith("qemu.binaries.") else cid
            assert f"`{documented}`" in doc, cid
            for key in entry["facts"]:
                assert f"`{key}`" in doc, (cid, key)


def test_json_cleans_host_strings() -> None:
    text = to_json(hostile_report())
    data = json.loads(text)
    assert data["checks"][0]["finding"] == "qemu-img [bold red]9.0[/] done"
    assert data["verdict"]["reason"] == "no kvm"
    assert "\\u001b" not in text


# --------------------------------------------------------------------------
# Layout: one line per check, wrapped at spaces, never inside a token


FIXTURE_REPORTS = {
    p.name: run_checks(host_from_tree(p, timeout=0.5)) for p in sorted(HOSTS.iterdir()) if p.is_dir()
}


def tokens_of(report: Report) -> set[str]:
    ident = report.identity
    words: set[str] = set(f"{ident.hostname} {ident.os} {ident.kernel} {ident.machine}".split())
    for check in report.checks:
        words.update(check.id.split())
        words.update(check.finding.split())
        words.update(check.hint.split())
    return words


@pytest.mark.parametrize("width", [40, 80, 120])
@pytest.mark.parametrize("name", sorted(FIXTURE_REPORTS))
def test_no_token_is_broken(name: str, width: int) -> None:
    report = FIXTURE_REPORTS[name]
    lines = [line.plain for line in report_lines(report, width)]
    known = tokens_of(report)
    for line in lines:
        assert cell_len(line) <= width, line
    printed = {word for line in lines for word in line.split()}
    for check in report.checks:
        for word in (check.finding + " " + check.hint).split():
            # Every word of every finding and hint is printed whole on some line.
            assert word in printed or check.status is Status.SKIP, (check.id, word)
    for word in printed:
        if "/" in word and word.strip("(),;:'`") not in known:
            # A path fragment that is in no finding would be a broken path.
            assert any(word in k for k in known), word


@pytest.mark.parametrize("name", sorted(FIXTURE_REPORTS))
def test_each_check_fits_in_three_lines_at_80_columns(name: str) -> None:
    for check in FIXTURE_REPORTS[name].checks:
        lines = check_lines(check, 80)
        assert len(lines) <= 3, [line.plain for line in lines]


def test_a_command_in_backticks_stays_on_one_line() -> None:
    check = Check("kvm.access", Status.FAIL, "user bob may not open it (EACCES): crw-rw---- root:kvm",
                  "`sudo usermod -aG kvm bob`, then log out and in again")
    for width in (40, 50, 60, 80):
        lines = [line.plain for line in check_lines(check, width)]
        assert any("`sudo usermod -aG kvm bob`," in line for line in lines), lines


def test_wrap_never_breaks_words() -> None:
    text = "/usr/bin/qemu-system-x86_64-microvm intel_iommu=on `dmesg | grep -i kvm` x"
    expected = ["/usr/bin/qemu-system-x86_64-microvm", "intel_iommu=on", "`dmesg | grep -i kvm`", "x"]
    assert wrap(text, 22) == expected
    assert wrap("a b c", 3) == ["a b", "c"]


def test_long_ids_do_not_widen_other_rows() -> None:
    report = FIXTURE_REPORTS["intel-kvm"]
    lines = [line.plain for line in report_lines(report, 80)]
    api = next(line for line in lines if line.startswith("PASS  kvm.api"))
    assert api.index("KVM_GET_API_VERSION") == 24
    long_row = next(line for line in lines if "qemu.binaries.qemu-system-aarch64" in line)
    assert long_row.startswith("NOTE  qemu.binaries.qemu-system-aarch64 8.2.2")


def test_narrow_width_puts_the_finding_under_the_id() -> None:
    lines = [line.plain for line in check_lines(FIXTURE_REPORTS["intel-kvm"].checks[4], 40)]
    assert lines[0] == "PASS  kvm.api"
    assert lines[1].startswith("      KVM_GET_API_VERSION")


def test_quiet_leaves_out_passes_but_keeps_the_verdict() -> None:
    report = FIXTURE_REPORTS["intel-kvm"]
    quiet = [line.plain for line in report_lines(report, 80, quiet=True)]
    assert not any(line.startswith("PASS ") for line in quiet)
    assert any(line.startswith("NOTE ") for line in quiet)
    assert quiet[-2].startswith("Verdict: KVM acceleration available")


def test_verdict_first_too_when_the_terminal_is_short() -> None:
    report = FIXTURE_REPORTS["amd-no-access"]
    tall = [line.plain for line in report_lines(report, 80, height=200)]
    assert not tall[0].startswith("Summary:")
    short = [line.plain for line in report_lines(report, 80, height=20)]
    assert short[0].startswith("Summary:") and short[1].startswith("Verdict: QEMU will run without KVM")
    assert any(line.startswith("Verdict: QEMU will run without KVM") for line in short[-4:])


def test_not_applicable_skips_share_one_line() -> None:
    lines = [line.plain for line in report_lines(FIXTURE_REPORTS["intel-kvm"], 120)]
    row = next(line for line in lines if line.startswith("SKIP  not here"))
    assert "secure.amd-sev" in row and "secure.s390-pv" in row and "kvm.ppc64-hv" in row
    assert not any(line.startswith("SKIP  secure.amd-sev") for line in lines)
