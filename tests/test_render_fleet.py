"""kvmq.render.fleet: text at 80 and 40 columns, Markdown, JSON, CSV, and one host in full."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from rich.console import Console

from kvmq.host.fleet import HostRow, parse_time, read_fleet, select
from kvmq.render import fleet as render

FLEET = Path(__file__).parent / "fixtures" / "fleet"
NOW = parse_time("2026-12-01T12:00:00Z")
SETS = ("healthy", "no-kvm", "tcg", "broken", "schemas", "lines", "ansible-json")


@pytest.fixture(scope="module")
def everything():  # type: ignore[no-untyped-def]
    return read_fleet([FLEET / name for name in SETS], now=NOW, keep=True)


def printed(fleet, rows, width: int) -> str:  # type: ignore[no-untyped-def]
    console = Console(file=io.StringIO(), width=width, color_system=None, highlight=False,
                      soft_wrap=False)
    render.print_text(console, fleet, rows, width)
    return console.file.getvalue()  # type: ignore[attr-defined, no-any-return]


@pytest.mark.parametrize("width", [40, 80, 120])
def test_text_fits_the_width_and_never_breaks_a_token(everything, width: int) -> None:  # type: ignore[no-untyped-def]
    text = printed(everything, list(everything.hosts), width)
    tokens = {token for row in everything.hosts for detail in render.row_details(row)
              for token in detail.split()}
    for line in text.splitlines():
        if len(line) > width:
            # Only a single token longer than the room may overflow (a long hostname or path).
            assert any(len(word) > width - render.INDENT - 1 for word in line.split()), line
    # Every word of every detail appears whole on some line.
    words = set(text.split())
    assert tokens <= words


def test_text_at_80_columns(everything) -> None:  # type: ignore[no-untyped-def]
    text = printed(everything, select(everything, "failing", "state"), 80)
    lines = text.splitlines()
    assert lines[0].split() == ["HOST", "STATE", "KVM", "kvm/tcg/?", "CHECKS", "AGE"]
    old = next(i for i, line in enumerate(lines) if line.startswith("hv-old "))
    assert lines[old].split() == ["hv-old", "no", "KVM", "NO", "0/1/0", "3", "fail", "10m"]
    assert lines[old + 1] == "    /dev/kvm does not exist"
    assert lines[old + 2] == "    fail: kvm.modules, kvm.device, kvm.api"
    slow = next(i for i, line in enumerate(lines) if line.startswith("hv-slow "))
    assert lines[slow + 1] == "    1 VM on TCG while KVM works"
    assert any(line.startswith("empty ") and "no usable report" in line for line in lines)
    assert lines[-1].startswith("Fleet: ") and "attention" in lines[-1]
    assert "hv-a.example.net" not in text  # --only failing


def test_hostile_hostname_is_shown_literally(everything) -> None:  # type: ignore[no-untyped-def]
    text = printed(everything, list(everything.hosts), 120)
    assert "\\e[31mred\\e[0m[bold]host[/bold]\\u202e" in text
    assert "\x1b" not in text and "\u202e" not in text


def test_healthy_fleet_verdict() -> None:
    fleet = read_fleet([FLEET / "healthy"], now=NOW)
    text = printed(fleet, list(fleet.hosts), 80)
    assert text.splitlines()[-1] == "Fleet: every host can run KVM and no VM runs on TCG"
    assert "3 hosts: 3 ok; VMs: 4 on KVM, 0 on TCG, 0 unknown" in text


def test_markdown_escapes_data(everything) -> None:  # type: ignore[no-untyped-def]
    md = render.to_markdown(everything, list(everything.hosts))
    assert "| hv-slow | **VMs on TCG** | yes | 1/1/1 |  | `iommu.kernel` | 10m |" in md
    assert "\\[bold\\]host\\[/bold\\]" in md
    table = [line for line in md.splitlines() if line.startswith("| ")]
    columns = {line.replace("\\|", "").count("|") for line in table}
    assert columns == {9}  # no cell's text added a column


def test_json_output(everything) -> None:  # type: ignore[no-untyped-def]
    rows = select(everything, "tcg")
    data = json.loads(render.to_json(everything, rows))
    assert [h["host"] for h in data["hosts"]] == ["hv-slow"]
    assert data["summary"]["hosts"] == len(everything.hosts)  # the summary is the fleet's


def test_csv_output(tmp_path: Path) -> None:
    folder = tmp_path / "f"
    folder.mkdir()
    (folder / "=cmd.json").write_text(json.dumps({"schema": 1, "host": "=HYPERLINK(\"x\")", "check": None}))
    (folder / "hv-old.json").write_bytes((FLEET / "no-kvm" / "hv-old.json").read_bytes())
    fleet = read_fleet([folder], now=NOW)
    rows = list(csv.DictReader(io.StringIO(render.to_csv(fleet, list(fleet.hosts)))))
    assert tuple(rows[0]) == render.CSV_FIELDS
    injected = next(r for r in rows if "HYPERLINK" in r["host"])
    assert injected["host"].startswith("'=")
    old = next(r for r in rows if r["host"] == "hv-old")
    assert old["state"] == "no-kvm" and old["kvm_available"] == "no"
    assert old["failing"] == "kvm.modules kvm.device kvm.api" and old["vms_tcg"] == "1"


def test_host_detail_in_full(everything) -> None:  # type: ignore[no-untyped-def]
    slow: HostRow = next(row for row in everything.hosts if row.host == "hv-slow")
    lines = [line.plain for line in render.host_detail_lines(slow, NOW, 60)]
    assert lines[0] == "hv-slow" and lines[1] == "state: VMs on TCG"
    assert "Verdict: KVM acceleration available" in lines
    assert any(line.startswith("WARN  iommu") for line in lines)
    assert any(line.startswith("TCG     db  pid 3002") and "TCG while KVM works" in line for line in lines)
    assert all(len(line) <= 60 for line in lines if " " in line.strip())


def test_host_detail_of_a_broken_report(everything) -> None:  # type: ignore[no-untyped-def]
    row = next(row for row in everything.hosts if row.host == "no-check")
    text = "\n".join(line.plain for line in render.host_detail_lines(row, NOW, 40))
    assert "no usable report" in text and "python3: not found" in text
    assert "VMs: no usable scan" in text


def test_host_detail_of_a_real_report() -> None:
    """The recorded report with real guests: the Host tab's check lines, then the VMs."""
    fleet = read_fleet([FLEET / "real-vms"], keep=True)
    row = next(r for r in fleet.hosts if r.host == "hv-a")
    lines = [line.plain for line in render.host_detail_lines(row, fleet.read_at, 80)]
    assert any(line.startswith("PASS  kvm.api ") for line in lines)
    assert any(line.startswith("Verdict: KVM acceleration available") for line in lines)
    tcg = next(line for line in lines if "fleet-tcg" in line)
    assert tcg.startswith("TCG ") and tcg.endswith("TCG while KVM works")
    assert any(line.startswith("KVM     fleet-kvm") for line in lines)
