"""Render a host check :class:`~kvmq.host.model.Report` for the terminal or as JSON.

Text is one line per check, as operators know it from ``virt-host-validate``: the status,
the id, the finding, and the hint indented beneath. Lines are wrapped at spaces only, so a
path, a flag or a word is never cut; a command in backticks is kept on one line whenever it
fits. Everything taken from the host goes through ``Text`` (never markup) after
:func:`~kvmq.host.model.clean_text`, so ``[bold]`` or an escape sequence is shown literally
or dropped, never obeyed.
"""

from __future__ import annotations

import json
import re
from typing import Optional

from rich.cells import cell_len
from rich.console import Console
from rich.text import Text

from kvmq.host.model import STATUS_ORDER, Check, Report, Status, clean_text

__all__ = [
    "STATUS_STYLES",
    "check_lines",
    "render_text",
    "report_lines",
    "status_text",
    "summary_text",
    "to_json",
    "verdict_text",
    "wrap",
]

#: Colour per status.  The word itself carries the meaning, colour only helps.
STATUS_STYLES: dict[Status, str] = {
    Status.PASS: "bold green",
    Status.WARN: "bold yellow",
    Status.FAIL: "bold red",
    Status.NOTE: "cyan",
    Status.SKIP: "dim",
}

#: Where the id starts, and the widest id that keeps the finding on its line.
STATUS_WIDTH = 6
ID_WIDTH = 18
#: Below this width the finding goes under the id instead of beside it.
COLUMNS_FROM = 60
HINT_MARK = "→ "

# A word, or a command in backticks with what sticks to it ("(`-device intel-iommu`),").
_UNIT_RE = re.compile(r"(?:[^\s`]*`[^`]*`)+[^\s`]*|\S+")


def status_text(status: Status) -> Text:
    """``PASS``/``WARN``/``FAIL``/``NOTE``/``SKIP`` in its colour."""
    return Text(status.value.upper(), style=STATUS_STYLES.get(status, ""))


def wrap(text: str, width: int, first: Optional[int] = None) -> list[str]:
    """Lines of at most ``width`` cells (``first`` for the first line), broken at spaces only.

    A span in backticks stays on one line when it fits in ``width``; a single word wider
    than ``width`` gets a line of its own, whole (the caller decides where it goes).
    """
    width = max(1, width)
    limit = width if first is None else max(0, first)
    units: list[str] = []
    for match in _UNIT_RE.finditer(text):
        unit = match.group(0)
        if " " in unit and cell_len(unit) > width:
            units.extend(unit.split())  # a command longer than the line: break between words
        else:
            units.append(unit)
    lines: list[str] = []
    line = ""
    for unit in units:
        candidate = f"{line} {unit}" if line else unit
        if cell_len(candidate) <= limit:
            line = candidate
            continue
        if line or limit != width:  # a first line with no room for this unit stays empty
            lines.append(line)
        limit = width
        line = unit
    if line:
        lines.append(line)
    return lines


def _place(lines: list[str], indent: int, width: int, style: str = "") -> list[Text]:
    """Indent lines; a line too wide for its indent moves left rather than being cut."""
    placed = []
    for line in lines:
        room = max(0, width - cell_len(line))
        text = Text(" " * min(indent, room))
        text.append(line, style=style)
        placed.append(text)
    return placed


def check_lines(check: Check, width: int) -> list[Text]:
    """One check as terminal lines: status, id and finding, then the hint beneath."""
    width = max(20, width)
    cid = clean_text(check.id, 80)
    head = Text()
    head.append(check.status.value.upper().ljust(STATUS_WIDTH), style=STATUS_STYLES.get(check.status, ""))
    out: list[Text] = []
    text = clean_text(check.finding, 400)
    if width >= COLUMNS_FROM:
        # The finding starts beside the id; a long id only pushes this row's first line.
        column = STATUS_WIDTH + ID_WIDTH
        label = cid.ljust(ID_WIDTH) if cell_len(cid) < ID_WIDTH else cid + " "
        finding = wrap(text, width - column, first=width - STATUS_WIDTH - cell_len(label))
        head.append(label, style="bold")
        if finding:
            head.append(finding[0])
            finding = finding[1:]
        out.append(head)
    else:
        column = STATUS_WIDTH
        finding = wrap(text, width - column)
        head.append(cid, style="bold")
        out.append(head)
    out.extend(_place(finding, column, width))
    hint = clean_text(check.hint, 400)
    if hint:
        hint_lines = wrap(hint, width - column - len(HINT_MARK))
        hint_lines[0] = HINT_MARK + hint_lines[0]
        hint_lines[1:] = [" " * len(HINT_MARK) + line for line in hint_lines[1:]]
        out.extend(_place(hint_lines, column, width, "italic"))
    return out


def summary_text(report: Report) -> Text:
    """``29 checks: 14 pass, 1 warn, ...`` with each count in its status colour."""
    counts = report.counts()
    line = Text()
    line.append(f"{len(report.checks)} checks: ")
    for index, status in enumerate(STATUS_ORDER):
        if index:
            line.append(", ")
        line.append(f"{counts[status]} {status.value}", style=STATUS_STYLES[status] if counts[status] else "")
    return line


def verdict_text(report: Report) -> Text:
    """The verdict on one (unwrapped) line: summary, then the reason."""
    verdict = report.verdict
    line = Text()
    line.append("Verdict: ", style="bold")
    line.append(clean_text(verdict.summary), style="bold green" if verdict.kvm_available else "bold red")
    reason = clean_text(verdict.reason, 400)
    if reason:
        line.append(f" ({reason})")
    return line


def _verdict_block(report: Report, width: int) -> list[Text]:
    verdict = report.verdict
    style = "bold green" if verdict.kvm_available else "bold red"
    label = "Verdict: "
    summary = Text()
    summary.append("Summary: ", style="bold")
    summary.append_text(summary_text(report))
    lines = _place(wrap(summary.plain, width), 0, width) if cell_len(summary.plain) > width else [summary]
    said = wrap(clean_text(verdict.summary), width - len(label))
    head = Text()
    head.append(label, style="bold")
    head.append(said[0] if said else "", style=style)
    lines.append(head)
    lines.extend(_place(said[1:], len(label), width, style))
    reason = clean_text(verdict.reason, 400)
    if reason:
        lines.extend(_place(wrap(reason, width - len(label)), len(label), width))
    return lines


def _skipped_here(report: Report) -> list[Check]:
    return [c for c in report.checks if c.status is Status.SKIP and c.fact("applies") is False]


def report_lines(report: Report, width: int, *, quiet: bool = False,
                 height: Optional[int] = None) -> list[Text]:
    """The whole text report as lines of at most ``width`` cells.

    ``quiet`` leaves out what passed. ``height`` is the terminal's when stdout is one: a
    report taller than that shows the verdict first as well, so it is on screen either way.
    """
    width = max(20, min(width, 400))
    ident = report.identity
    body: list[Text] = []
    if ident.hostname or ident.kernel:
        about = ", ".join(part for part in (
            clean_text(ident.os, 120), f"kernel {clean_text(ident.kernel, 120)}" if ident.kernel else "",
            clean_text(ident.machine, 40)) if part)
        body.extend(_place(wrap(f"Host {clean_text(ident.hostname, 120)}: {about}", width), 0, width, "bold"))
        body.append(Text())
    not_here = _skipped_here(report)
    for check in report.checks:
        if (quiet and check.status is Status.PASS) or check in not_here:
            continue
        body.extend(check_lines(check, width))
    if not_here:
        body.extend(check_lines(Check("not here", Status.SKIP, "not for this machine: " + ", ".join(
            c.id for c in not_here)), width))
    tail = [Text(), *_verdict_block(report, width)]
    lines = body + tail
    if height is not None and len(lines) > height:
        lines = [*_verdict_block(report, width), Text(), *lines]
    return lines


def render_text(report: Report, console: Console, *, quiet: bool = False,
                height: Optional[int] = None) -> None:
    """Print the report (see :func:`report_lines`) at the console's width."""
    for line in report_lines(report, console.width, quiet=quiet, height=height):
        console.print(line, no_wrap=True, overflow="ignore", crop=False, soft_wrap=False)


def _clean_facts(value: object) -> object:
    if isinstance(value, str):
        return clean_text(value, 400)
    if isinstance(value, list):
        return [_clean_facts(item) for item in value]
    return value


def to_json(report: Report) -> str:
    """The report as JSON with a stable shape and key order (no trailing newline)."""
    data = report.to_dict()
    for key in ("hostname", "kernel", "machine", "os"):
        data["host"][key] = clean_text(data["host"][key], 255)
    for entry in data["checks"]:
        for key in ("id", "finding", "hint"):
            entry[key] = clean_text(entry[key], 400)
        entry["facts"] = {clean_text(k, 80): _clean_facts(v) for k, v in entry["facts"].items()}
    verdict = data["verdict"]
    verdict["summary"] = clean_text(verdict["summary"], 400)
    verdict["reason"] = clean_text(verdict["reason"], 400)
    return json.dumps(data, indent=2, ensure_ascii=False)
