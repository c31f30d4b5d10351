"""Render a merged :class:`~kvmq.host.fleet.Fleet`: text, Markdown, JSON and CSV, and one host's
full report for the explorer's Fleet view.

Text reads like ``virt-host-validate``: one line per host (name, state, KVM, VMs, checks, age),
and under a host that needs attention, indented, what is wrong, wrapped at spaces. Everything
from a report is already :func:`~kvmq.host.fleet.printable` and goes into ``Text`` (never
markup), so a hostname such as ``[bold]`` is shown as it is.
"""

from __future__ import annotations

import csv
import io
import json
import textwrap
from typing import Any, Optional, Sequence

from rich.console import Console
from rich.text import Text

from kvmq.host.fleet import STATE_LABELS, Fleet, HostRow, State, check_report, format_age, printable
from kvmq.render.host import report_lines

__all__ = [
    "STATE_STYLES",
    "host_detail_lines",
    "print_text",
    "row_cells",
    "summary_line",
    "text_lines",
    "to_csv",
    "to_json",
    "to_markdown",
]

STATE_STYLES: dict[State, str] = {
    State.OK: "bold green",
    State.INCOMPLETE: "bold yellow",
    State.TCG: "bold red",
    State.NO_KVM: "bold red",
    State.NO_REPORT: "bold magenta",
}

STATE_WIDTH = max(len(label) for label in STATE_LABELS.values())  # "no usable report"
KVM_WIDTH = 3
VMS_WIDTH = 9  # "kvm/tcg/?" as "12/3/0"
CHECKS_WIDTH = 7  # "3 fail", "2 warn"
AGE_WIDTH = 4
GAP = 2
MIN_HOST = 12
INDENT = 4


def _kvm(row: HostRow) -> str:
    return {True: "yes", False: "NO", None: "-"}[row.kvm_available]


def _vms(row: HostRow) -> str:
    return "-" if row.vms is None else f"{row.vms.kvm}/{row.vms.tcg}/{row.vms.unknown}"


def _checks(row: HostRow) -> str:
    if row.failing:
        return f"{len(row.failing)} fail"
    if row.warnings:
        return f"{len(row.warnings)} warn"
    return "-" if row.kvm_available is None else "ok"


def row_cells(row: HostRow, now: float) -> tuple[str, str, str, str, str, str]:
    """(host, state, KVM, VMs kvm/tcg/unknown, checks, age): the columns of one row."""
    return (row.host, row.label, _kvm(row), _vms(row), _checks(row), format_age(row.age(now)))


def row_details(row: HostRow) -> list[str]:
    """What to say under a row: why it is not OK (nothing for an OK host)."""
    if row.ok:
        return []
    details = []
    if row.state is State.TCG and row.vms is not None:
        count = row.vms.tcg_while_kvm_works
        details.append(f"{count} VM{'s' if count != 1 else ''} on TCG while KVM works")
    if row.reason and row.state is not State.TCG:
        details.append(row.reason)
    if row.failing:
        details.append("fail: " + ", ".join(row.failing))
    if row.warnings:
        details.append("warn: " + ", ".join(row.warnings))
    return details


def _wrap(text: str, width: int, indent: int) -> list[str]:
    """Wrapped at spaces only: a path, flag or id is never split (a longer one overflows)."""
    return textwrap.wrap(text, width=max(20, width - indent), break_long_words=False,
                         break_on_hyphens=False) or [""]


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def summary_line(fleet: Fleet, shown: Optional[int] = None) -> str:
    """``7 hosts: 4 ok, 1 no KVM, ...; VMs: 6 on KVM, 1 on TCG (1 where KVM works), 1 unknown``."""
    parts = [f"{fleet.count(state)} {STATE_LABELS[state]}"
             for state in reversed(State) if fleet.count(state)]
    vms = fleet.vm_totals()
    text = f"{_plural(len(fleet.hosts), 'host')}: {', '.join(parts)}"
    if shown is not None and shown != len(fleet.hosts):
        text += f" ({shown} shown)"
    tcg = f"{vms.tcg} on TCG"
    if vms.tcg_while_kvm_works:
        tcg += f" ({vms.tcg_while_kvm_works} where KVM works)"
    text += f"; VMs: {vms.kvm} on KVM, {tcg}, {vms.unknown} unknown"
    if fleet.duplicates:
        text += f"; {_plural(fleet.duplicates, 'older duplicate report')} ignored"
    return text


def verdict_text(fleet: Fleet) -> Text:
    if fleet.ok:
        return Text.assemble(("Fleet: ", "bold"),
                             ("every host can run KVM and no VM runs on TCG", "bold green"))
    bad = sum(1 for row in fleet.hosts if not row.ok)
    return Text.assemble(("Fleet: ", "bold"),
                         (f"{_plural(bad, 'host')} of {len(fleet.hosts)} "
                          f"{'needs' if bad == 1 else 'need'} attention", "bold red"))


def text_lines(fleet: Fleet, rows: Sequence[HostRow], width: int = 80) -> list[Text]:
    """The table as lines of at most ``width`` cells (a single overlong token may overflow)."""
    width = max(40, width)
    fixed = STATE_WIDTH + KVM_WIDTH + VMS_WIDTH + CHECKS_WIDTH + AGE_WIDTH + 5 * GAP
    if width < fixed + MIN_HOST:
        return _compact_lines(fleet, rows, width)
    longest = max((len(row.host) for row in rows), default=4)
    host_width = max(MIN_HOST, min(longest, width - fixed))
    gap = " " * GAP

    def line(host: str, state: str, kvm: str, vms: str, checks: str, age: str,
             state_style: str = "", host_style: str = "") -> Text:
        out = Text()
        out.append(host.ljust(host_width), style=host_style)
        out.append(gap)
        out.append(state.ljust(STATE_WIDTH), style=state_style)
        out.append(gap + kvm.ljust(KVM_WIDTH) + gap + vms.rjust(VMS_WIDTH) + gap
                   + checks.ljust(CHECKS_WIDTH) + gap + age.rjust(AGE_WIDTH))
        out.rstrip()
        return out

    lines = [line("HOST", "STATE", "KVM", "kvm/tcg/?", "CHECKS", "AGE", "bold", "bold")]
    lines[0].stylize("bold")
    now = fleet.read_at
    for row in rows:
        host, state, kvm, vms, checks, age = row_cells(row, now)
        style = STATE_STYLES[row.state]
        if len(host) > host_width:  # a long name gets its own line; the columns follow
            lines.append(Text(host, style="bold"))
            host = ""
        lines.append(line(host, state, kvm, vms, checks, age, style, "bold"))
        for detail in row_details(row):
            for part in _wrap(detail, width, INDENT):
                lines.append(Text(" " * INDENT + part, style="italic" if row.ok else ""))
    return lines


def _compact_lines(fleet: Fleet, rows: Sequence[HostRow], width: int) -> list[Text]:
    """Narrow terminals: the host and its state, then the columns as words, indented."""
    lines = [Text("HOST  STATE", style="bold"),
             Text(" " * INDENT + "KVM, VMs kvm/tcg/?, checks, age", style="bold")]
    for row in rows:
        host, state, kvm, vms, checks, age = row_cells(row, fleet.read_at)
        head = Text(host, style="bold")
        head.append("  ")
        head.append(state, style=STATE_STYLES[row.state])
        lines.append(head)
        facts = f"KVM {kvm}, VMs {vms}, {checks}, {age}"
        details = [facts, *row_details(row)]
        for detail in details:
            lines += [Text(" " * INDENT + part) for part in _wrap(detail, width, INDENT)]
    return lines


def print_text(console: Console, fleet: Fleet, rows: Sequence[HostRow],
               width: Optional[int] = None) -> None:
    width = width or console.width
    for line in text_lines(fleet, rows, width):
        console.print(line, no_wrap=True, crop=False, overflow="ignore")
    console.print()
    for part in _wrap(summary_line(fleet, len(rows)), width, 0):
        console.print(Text(part), no_wrap=True, crop=False)
    console.print(verdict_text(fleet))


# --------------------------------------------------------------------------- Markdown, JSON, CSV


def _md(text: str) -> str:
    """A table cell shown literally: Markdown's punctuation escaped."""
    out = []
    for char in text:
        if char in "\\`*_{}[]()<>#+!|~&":
            out.append("\\" + char)
        else:
            out.append(char)
    return "".join(out)


def to_markdown(fleet: Fleet, rows: Sequence[HostRow]) -> str:
    now = fleet.read_at
    out = ["# kvmq fleet", "", _md(summary_line(fleet, len(rows))), "",
           "| Host | State | KVM | VMs KVM/TCG/unknown | Failing | Warnings | Age | Details |",
           "| --- | --- | --- | --: | --- | --- | --: | --- |"]
    for row in rows:
        host, state, kvm, vms, _, age = row_cells(row, now)
        details = "; ".join(d for d in row_details(row) if not d.startswith(("fail:", "warn:")))
        out.append("| " + " | ".join((
            _md(host), f"**{_md(state)}**" if not row.ok else _md(state), kvm, vms,
            ", ".join(f"`{check_id}`" for check_id in row.failing) if row.failing else "",
            ", ".join(f"`{check_id}`" for check_id in row.warnings) if row.warnings else "",
            age, _md(details),
        )) + " |")
    out += ["", "**" + _md(verdict_text(fleet).plain) + "**", ""]
    return "\n".join(out)


def to_json(fleet: Fleet, rows: Sequence[HostRow]) -> str:
    data = fleet.to_dict()
    data["hosts"] = [row.to_dict(fleet.read_at) for row in rows]
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


CSV_FIELDS = ("host", "state", "kvm_available", "failing", "warnings", "vms_kvm", "vms_tcg",
              "vms_unknown", "tcg_while_kvm_works", "collected_at", "age_seconds", "summary",
              "reason", "source")


def _csv_cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    text = str(value)
    # A spreadsheet would run a cell that starts so as a formula: a hostname is data.
    if text[:1] in ("=", "+", "-", "@", "\t", "\r"):
        text = "'" + text
    return text


def to_csv(fleet: Fleet, rows: Sequence[HostRow]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_FIELDS)
    for row in rows:
        data = row.to_dict(fleet.read_at)
        vms = data["vms"] or {}
        writer.writerow([_csv_cell(v) for v in (
            data["host"], data["state"], data["kvm_available"], " ".join(row.failing),
            " ".join(row.warnings), vms.get("kvm"), vms.get("tcg"), vms.get("unknown"),
            vms.get("tcg_while_kvm_works"), data["collected_at"], data["age_seconds"],
            data["summary"], data["reason"], data["source"])])
    return buffer.getvalue()


# --------------------------------------------------------------------------- one host in full

ACCEL_STYLES = {"kvm": "bold green", "tcg": "bold red"}


def _labelled(label: str, value: str, width: int, style: str = "") -> list[Text]:
    lines = []
    for index, part in enumerate(_wrap(value, width, len(label))):
        head = label if index == 0 else " " * len(label)
        lines.append(Text.assemble((head, "bold"), (part, style)))
    return lines


def _as_dict(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _as_list(value: object) -> list[Any]:
    return value if isinstance(value, list) else []


def host_detail_lines(row: HostRow, now: float, width: int) -> list[Text]:
    """Everything about one host: its row, its host check as ``kvmq check`` prints it
    (:func:`kvmq.render.host.report_lines`), then its VMs with accelerator, evidence and findings.

    Works from ``row.document`` (the report as read); without it, only the row is shown.
    """
    width = max(20, width)
    lines: list[Text] = [Text(row.host, style="bold")]
    lines += _labelled("state: ", row.label, width, STATE_STYLES[row.state])
    if row.reported_hostname:
        lines += _labelled("hostname: ", row.reported_hostname, width)
    lines += _labelled("report: ", f"{format_age(row.age(now))} old, from" if row.collected_at
                       is not None else "from", width)
    lines.append(Text("  " + row.source, style="dim"))
    for detail in row_details(row):
        lines += _labelled("  ", detail, width)
    doc = _as_dict(row.document)
    errors = _as_dict(doc.get("errors"))
    report = check_report(doc.get("check")) if row.kvm_available is not None else None
    if report is not None:
        # The host check as `kvmq check` and the Host tab show it.
        lines.append(Text())
        lines += report_lines(report, width)
    elif errors.get("check"):
        lines += _labelled("check: ", printable(errors["check"]), width)
    vms_doc = _as_dict(doc.get("vms"))
    lines.append(Text())
    vms = _as_list(vms_doc.get("vms"))
    if row.vms is None:
        lines.append(Text("VMs: no usable scan", style="bold"))
        if errors.get("vms"):
            lines += _labelled("  ", printable(errors["vms"]), width)
        return lines
    flagged = set(_as_list(vms_doc.get("tcg_while_kvm_works")))
    lines.append(Text(f"VMs ({len(vms)}: {row.vms.kvm} KVM, {row.vms.tcg} TCG, "
                      f"{row.vms.unknown} unknown)", style="bold underline"))
    if not vms:
        lines.append(Text("no QEMU process runs on this host", style="italic"))
    for item in vms:
        vm = _as_dict(item)
        accel = printable(vm.get("accelerator", "unknown"), 20)
        name = printable(vm.get("name") or f"pid {vm.get('pid', '?')}", 120)
        title = Text.assemble((f"{accel.upper():<7} ", ACCEL_STYLES.get(accel, "bold yellow")),
                             (name, "bold"),
                             f"  pid {printable(vm.get('pid', '?'), 12)}, "
                             f"{printable(vm.get('strength', '?'), 20)} evidence")
        if vm.get("pid") in flagged:
            title.append("  TCG while KVM works", style="bold red")
        lines.append(title)
        for item in _as_list(vm.get("evidence"))[:1]:
            evidence = _as_dict(item)
            lines += [Text("        " + part, style="dim") for part in _wrap(
                f"{printable(evidence.get('source', ''), 20)}: {printable(evidence.get('detail', ''))}",
                width, 8)]
        for item in _as_list(vm.get("findings")):
            vm_finding = _as_dict(item)
            level = printable(vm_finding.get("level", ""), 10)
            lines += [Text("        " + part, style="bold red" if level == "error" else "yellow")
                      for part in _wrap(f"{level}: {printable(vm_finding.get('message', ''))}", width, 8)]
    return lines
