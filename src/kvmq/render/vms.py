"""Render a running-VMs :class:`~kvmq.host.vms.Scan`: text for a terminal, Markdown, JSON.

Text reads like ``virt-host-validate``: one labelled line per fact, the status word first on
each finding, hints beside it. Lines wrap at spaces with a hanging indent, never inside a
token (a path longer than the line stays whole). Strings from processes are already escaped
by the scan (no control characters) and are always rich ``Text``, never markup.
"""

from __future__ import annotations

import json
import shlex
import textwrap
from typing import Optional

from rich.console import Console
from rich.text import Text

from kvmq.host.vms import ERROR, INTENT, NOTE, PROOF, STRONG, UNAVAILABLE, UNKNOWN, VM, WARNING, Scan

__all__ = [
    "LEVEL_STYLES",
    "STRENGTH_STYLES",
    "accel_label",
    "command_line",
    "fact_rows",
    "headline",
    "print_text",
    "text_lines",
    "to_json",
    "to_markdown",
    "wrap",
]

LEVEL_STYLES = {ERROR: "bold red", WARNING: "bold yellow", NOTE: "cyan"}
LEVEL_WORDS = {ERROR: "ERROR", WARNING: "WARN", NOTE: "NOTE"}
STRENGTH_STYLES = {PROOF: "bold green", STRONG: "green", INTENT: "yellow", UNAVAILABLE: "dim"}
STRENGTH_WORDS = {PROOF: "proof", STRONG: "strong", INTENT: "intent only", UNAVAILABLE: "unavailable"}
ACCEL_NAMES = {"kvm": "KVM", "tcg": "TCG", "xen": "Xen", "hvf": "HVF", "whpx": "WHPX",
               "nvmm": "NVMM", UNKNOWN: "unknown"}
SOURCE_NAMES = {"fds": "descriptors", "libvirt": "libvirt XML", "qmp": "QMP",
                "threads": "vCPU threads", "cmdline": "command line"}
LABEL_WIDTH = 12


def accel_label(vm: VM) -> str:
    """``KVM``, ``TCG``, ``unknown (kvm:tcg)``: the accelerator as the list shows it."""
    name = ACCEL_NAMES.get(vm.accel, vm.accel)
    if vm.accel == UNKNOWN and vm.facts.accel:
        return f"{name} ({':'.join(vm.facts.accel)})"
    return name


def accel_style(vm: VM) -> str:
    if vm.accel == "kvm":
        return "bold green" if vm.strength in (PROOF, STRONG) else "green"
    if vm.accel == "tcg":
        return "bold red" if vm.findings and vm.findings[0].level == ERROR else "bold yellow"
    return "bold yellow"


def headline(scan: Scan, detail: bool = True) -> str:
    """One line: how many VMs, how many on TCG, and whether this host's KVM works (and how
    that is known, with ``detail``)."""
    count = len(scan.vms)
    if not count:
        vms = "No QEMU VM is running"
    else:
        vms = f"{count} QEMU VM{'s' if count != 1 else ''} running"
        tcg = sum(1 for vm in scan.vms if vm.accel == "tcg")
        foreign = sum(1 for vm in scan.vms if vm.accel == "tcg" and not vm.kvm_capable)
        if tcg:
            vms += f", {tcg} on TCG"
        if foreign:
            vms += f" ({foreign} of another architecture, which needs it)"
    if scan.kvm_works is True:
        kvm = "this host's KVM works"
    elif scan.kvm_works is None:
        kvm = "this host has /dev/kvm (this user cannot open it)"
    else:
        kvm = "this host has no working KVM"
    return f"{vms}; {kvm} ({scan.kvm_detail})" if detail and scan.kvm_detail else f"{vms}; {kvm}"


def _memory(vm: VM) -> str:
    return vm.facts.memory + (", hugepages" if vm.facts.hugepages else "")


def _vcpus(vm: VM) -> str:
    text = str(vm.facts.vcpus)
    if vm.vcpus_live is not None and vm.vcpus_live != vm.facts.vcpus:
        text += f" ({vm.vcpus_live} live)"
    return text


def fact_rows(vm: VM) -> list[tuple[str, str]]:
    """(label, value) pairs of a VM's facts, in the order the text and the explorer show them."""
    facts = vm.facts
    binary = vm.binary or vm.argv[0]
    rows = [
        ("Process", f"pid {vm.pid}, user {vm.user or '?'}"),
        ("Binary", f"{binary} {vm.version}".rstrip() if vm.version else binary),
        ("Machine", facts.machine or "default"),
        ("CPU", facts.cpu or "default (qemu64 on x86)"),
        ("vCPUs", _vcpus(vm)),
        ("Memory", _memory(vm)),
    ]
    rows += [("Backend", backend) for backend in facts.memory_backends]
    rows += [("Disk", disk.describe()) for disk in facts.disks] or [("Disks", "none")]
    rows += [("NIC", nic.describe()) for nic in facts.nics] or [("NICs", "none")]
    rows.append(("Display", facts.display))
    rows += [("QMP", q.describe() + ("" if q.reachable else f" ({q.why})")) for q in facts.qmp]
    return rows


def command_line(vm: VM, separator: str = " ") -> str:
    """The VM's argv as a shell would take it (each argument quoted when it needs it)."""
    return separator.join(shlex.quote(arg) for arg in vm.argv)


def wrap(text: str, width: int, indent: int) -> list[str]:
    """``text`` in lines of at most ``width`` columns after the first, wrapped at spaces only.

    The first line has ``width - indent`` columns too (the caller prints its own prefix);
    a token longer than a line stays whole.
    """
    room = max(20, width - indent)
    lines = textwrap.wrap(text, room, break_long_words=False, break_on_hyphens=False) or [""]
    return lines


def _labelled(label: str, value: str, width: int, style: str = "") -> list[Text]:
    prefix = f"  {label:>{LABEL_WIDTH}} : "
    lines = wrap(value, width, len(prefix))
    out = [Text.assemble((prefix, "bold"), (lines[0], style))]
    out += [Text.assemble(" " * len(prefix), (line, style)) for line in lines[1:]]
    return out


def vm_lines(vm: VM, width: int) -> list[Text]:
    """One VM's block: title, accelerator, evidence, facts, findings."""
    title = Text(vm.label, style="bold")
    lines = [title]
    if vm.name:
        pid = f"pid {vm.pid}"
        if len(vm.label) + 2 + len(pid) <= width:
            title.append(f"  {pid}", style="dim")
        else:  # a name as long as the line keeps it to itself
            lines.append(Text(pid, style="dim"))
    accel = Text(accel_label(vm), style=accel_style(vm))
    decided = next((e for e in vm.evidence if e.accel is not None and e.strength == vm.strength), None)
    how = STRENGTH_WORDS.get(vm.strength, vm.strength)
    if decided is not None:
        how += f", from its {SOURCE_NAMES.get(decided.source, decided.source)}"
    prefix = f"  {'Accelerator':>{LABEL_WIDTH}} : "
    rest = wrap(f"{accel.plain} ({how})", width, len(prefix))
    first = Text(prefix, style="bold")
    first.append(accel.plain, style=accel.style)
    first.append(rest[0][len(accel.plain):])
    lines.append(first)
    lines += [Text(" " * len(prefix) + line) for line in rest[1:]]
    for finding in vm.findings:
        word = LEVEL_WORDS[finding.level]
        prefix = f"  {word:>{LABEL_WIDTH}} : "
        wrapped = wrap(finding.message, width, len(prefix))
        head = Text(" " * (2 + LABEL_WIDTH - len(word)))
        head.append(word, style=LEVEL_STYLES[finding.level])
        head.append(" : " + wrapped[0])
        lines.append(head)
        lines += [Text(" " * len(prefix) + line) for line in wrapped[1:]]
        if finding.hint:
            hint = wrap("→ " + finding.hint, width, len(prefix))
            lines += [Text(" " * len(prefix) + line, style="italic") for line in hint]
    for evidence in vm.evidence:
        word = STRENGTH_WORDS.get(evidence.strength, evidence.strength).upper()
        value = f"{word}: {evidence.detail}"
        label = SOURCE_NAMES.get(evidence.source, evidence.source)
        block = _labelled(label, value, width)
        block[0].stylize(STRENGTH_STYLES.get(evidence.strength, ""), len(f"  {label:>{LABEL_WIDTH}} : "),
                         len(f"  {label:>{LABEL_WIDTH}} : ") + len(word))
        lines += block
    for label, value in fact_rows(vm):
        lines += _labelled(label, value, width)
    lines += _labelled("Explained", f"kvmq explain --pid {vm.pid}", width, style="dim")
    return lines


def text_lines(scan: Scan, width: int = 80) -> list[Text]:
    """The whole report as lines of at most ``width`` columns (bar tokens longer than a line)."""
    lines = [Text(line, style="bold") for line in wrap(headline(scan), width, 0)]
    if not scan.vms:
        lines.append(Text("kvmq looks for qemu-system-*, qemu-kvm and kvm processes in /proc.",
                          style="dim"))
    for vm in scan.vms:
        lines.append(Text(""))
        lines += vm_lines(vm, width)
    return lines


def print_text(console: Console, scan: Scan, width: Optional[int] = None) -> None:
    """Print :func:`text_lines` at the console's width (at most 120 columns)."""
    width = width or min(console.width, 120)
    for line in text_lines(scan, width):
        console.print(line, soft_wrap=True, highlight=False, markup=False)


# --------------------------------------------------------------------------- Markdown


def _code(text: str) -> str:
    """``text`` as a Markdown code span that no backtick inside can end."""
    run = longest = 0
    for char in text:
        run = run + 1 if char == "`" else 0
        longest = max(longest, run)
    fence = "`" * (longest + 1)
    pad = " " if text.startswith("`") or text.endswith("`") or not text else ""
    return f"{fence}{pad}{text}{pad}{fence}"


_MD_SPECIAL = str.maketrans({c: f"\\{c}" for c in "\\`*_{}[]<>()#+-.!|~"})


def _md(text: str) -> str:
    """Plain text with Markdown's special characters escaped."""
    return text.translate(_MD_SPECIAL)


def to_markdown(scan: Scan) -> str:
    """The report as Markdown: a summary table, then a section per VM."""
    out = ["# Running VMs", "", _md(headline(scan)), ""]
    if scan.vms:
        out += ["| PID | Name | User | Accelerator | Evidence | Loudest finding |",
                "| --: | --- | --- | --- | --- | --- |"]
        for vm in scan.vms:
            loudest = _md(vm.findings[0].message) if vm.findings else ""
            out.append(f"| {vm.pid} | {_md(vm.name) or '-'} | {_md(vm.user)} | {accel_label(vm)} "
                       f"| {STRENGTH_WORDS.get(vm.strength, vm.strength)} | {loudest} |")
        out.append("")
    for vm in scan.vms:
        out += [f"## {_md(vm.label)} (pid {vm.pid})", "",
                f"**Accelerator: {accel_label(vm)}** ({STRENGTH_WORDS.get(vm.strength, vm.strength)})", ""]
        out.append("Evidence, strongest first:")
        out.append("")
        for evidence in vm.evidence:
            source = SOURCE_NAMES.get(evidence.source, evidence.source)
            strength = STRENGTH_WORDS.get(evidence.strength, evidence.strength)
            out.append(f"- {source}: **{strength}**, {_md(evidence.detail)}")
        out += ["", "| Fact | Value |", "| --- | --- |"]
        out += [f"| {label} | {_code(value)} |" for label, value in fact_rows(vm)]
        out.append("")
        out += [f"Option by option: {_code(f'kvmq explain --pid {vm.pid}')}", ""]
        if vm.findings:
            out.append("Findings:")
            out.append("")
            for finding in vm.findings:
                hint = f" *{_md(finding.hint)}*" if finding.hint else ""
                out.append(f"- **{LEVEL_WORDS[finding.level]}** {_md(finding.message)}.{hint}")
            out.append("")
        fence = "```"
        while fence in "\n".join(vm.argv):
            fence += "`"
        out += ["Command line:", "", fence + "sh", command_line(vm, " \\\n    "), fence, ""]
    return "\n".join(out)


# --------------------------------------------------------------------------- JSON


def to_json(scan: Scan) -> str:
    """The scan as JSON (schema documented in docs/vms.md), with a trailing newline."""
    return json.dumps(scan.to_dict(), indent=2, ensure_ascii=False) + "\n"
