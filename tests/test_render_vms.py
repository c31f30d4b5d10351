"""Text, Markdown and JSON of a VM scan (``kvmq.render.vms``), from fixture /proc trees."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import pytest
from markdown_it import MarkdownIt
from rich.console import Console

from kvmq.host import vms
from kvmq.host.vms import QmpAddress, QmpAnswer, Scan
from kvmq.render import vms as render_vms

FIXTURES = Path(__file__).parent / "fixtures" / "vms"


def no_qmp(address: QmpAddress, timeout: float, root: Path) -> QmpAnswer:
    return QmpAnswer(error="not in this test")


def fixture_scan(name: str) -> Scan:
    return vms.scan(FIXTURES / name, kvm_works=True, version=lambda p: "7.2.22", qmp=no_qmp,
                    machine="x86_64")


def plain_text(scan: Scan, width: int) -> str:
    return "\n".join(line.plain for line in render_vms.text_lines(scan, width))


@pytest.mark.parametrize("name", ["showcase", "libvirt", "evidence", "hostile"])
@pytest.mark.parametrize("width", [80, 100])
def test_text_fits_the_width_and_breaks_only_at_spaces(name: str, width: int) -> None:
    scan = fixture_scan(name)
    text = plain_text(scan, width)
    words = set(" ".join(
        line.plain for vm in scan.vms for line in render_vms.vm_lines(vm, 10_000)).split())
    for line in text.splitlines():
        if len(line) > width:
            # Only a single token longer than the line may stick out, and it stays whole.
            assert len(line.split()[-1]) > width - render_vms.LABEL_WIDTH - 8, line
        for word in line.split():
            assert word in words or word in render_vms.headline(scan), (word, line)


def test_text_reads_like_virt_host_validate() -> None:
    text = plain_text(fixture_scan("showcase"), 80)
    assert text.splitlines()[0].startswith("6 QEMU VMs running, 3 on TCG")
    assert "   Accelerator : KVM (proof, from its descriptors)" in text
    assert re.search(r"^ +ERROR : runs on TCG \(software emulation\) while this host's KVM", text, re.M)
    assert re.search(r"^ +WARN : ", text, re.M) and re.search(r"^ +NOTE : ", text, re.M)
    # db-02 is known from its vCPU thread names only.
    assert "vCPU threads : STRONG: vCPU threads named CPU N/KVM (2 threads)" in text


def test_text_without_vms_says_so(tmp_path: Path) -> None:
    scan = vms.scan(tmp_path, kvm_works=True)
    text = plain_text(scan, 80)
    assert text.startswith("No QEMU VM is running; this host's KVM works")


def test_text_never_obeys_markup_or_escapes() -> None:
    console = Console(file=io.StringIO(), width=100, force_terminal=True, color_system="truecolor")
    render_vms.print_text(console, fixture_scan("hostile"))
    out = console.file.getvalue()  # type: ignore[attr-defined]
    assert "[bold]markup[/bold]" in out
    assert "\x1b[31mred" not in out and "\\x1b[31mred" in out
    assert "\u202e" not in out


def test_markdown_is_valid_and_literal() -> None:
    md = render_vms.to_markdown(fixture_scan("hostile"))
    tokens = MarkdownIt("commonmark").enable("table").parse(md)
    assert any(t.type == "table_open" for t in tokens)
    html = MarkdownIt("commonmark").enable("table").render(md)
    assert "<bold>" not in html and "<link" not in html
    assert "[bold]markup[/bold]" in html.replace("\\", "")


def test_markdown_of_the_showcase() -> None:
    md = render_vms.to_markdown(fixture_scan("showcase"))
    assert md.startswith("# Running VMs\n")
    assert "| 2207 | build\\-runner | ops | TCG | proof | runs on TCG" in md
    assert "## web\\-01 (pid 2101)" in md
    assert "```sh\n/usr/bin/qemu-system-x86_64 \\\n    -name \\\n" in md


def test_json_is_the_scan_with_its_schema() -> None:
    scan = fixture_scan("showcase")
    data = json.loads(render_vms.to_json(scan))
    assert data == json.loads(json.dumps(scan.to_dict()))
    assert data["schema"] == 1
    assert data["tcg_while_kvm_works"] == [2207, 2310]


def test_command_line_is_shell_quoted() -> None:
    vm = fixture_scan("libvirt").find(4242)
    assert vm is not None
    assert "'{\"qom-type\":\"secret\"" in render_vms.command_line(vm)


def test_wrap_keeps_long_tokens_whole() -> None:
    long = "/var/lib/" + "x" * 120 + ".qcow2"
    assert render_vms.wrap(f"a {long} b", 80, 10) == ["a", long, "b"]
