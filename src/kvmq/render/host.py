"""Render a host check :class:`~kvmq.host.model.Report` for the terminal or as JSON.

Everything taken from the host goes through ``Text`` (never markup) after
:func:`~kvmq.host.model.clean_text`, so a version string such as
``[bold]`` or an escape sequence is shown literally or dropped, never obeyed.
"""

from __future__ import annotations

import json

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from kvmq.host.model import Report, Status, clean_text

__all__ = ["STATUS_STYLES", "render_text", "status_text", "to_json", "verdict_text"]

#: Colour per status.  The word itself carries the meaning, colour only helps.
STATUS_STYLES: dict[Status, str] = {
    Status.PASS: "bold green",
    Status.WARN: "bold yellow",
    Status.FAIL: "bold red",
    Status.INFO: "cyan",
    Status.SKIP: "dim",
}


def status_text(status: Status) -> Text:
    """``PASS``/``WARN``/``FAIL``/``INFO``/``SKIP`` in its colour."""
    return Text(status.value.upper(), style=STATUS_STYLES.get(status, ""))


def verdict_text(report: Report) -> Text:
    """The verdict line: summary, then the reason."""
    verdict = report.verdict
    style = "bold green" if verdict.kvm_available else "bold red"
    line = Text("Verdict: ", style="bold")
    line.append(clean_text(verdict.summary), style=style)
    reason = clean_text(verdict.reason, 400)
    if reason:
        line.append(f" ({reason})")
    return line


def render_text(report: Report, console: Console) -> None:
    """Print the checks as a table, then the verdict line."""
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, expand=False)
    table.add_column("Status", no_wrap=True)
    table.add_column("Check", no_wrap=True, style="bold")
    table.add_column("Finding", overflow="fold", ratio=3)
    table.add_column("Hint", overflow="fold", ratio=2)
    for check in report.checks:
        table.add_row(
            status_text(check.status),
            Text(clean_text(check.id, 80)),
            Text(clean_text(check.finding, 400)),
            Text(clean_text(check.hint, 400), style="italic"),
        )
    console.print(table)
    console.print()
    console.print(verdict_text(report))


def to_json(report: Report) -> str:
    """The report as JSON with a stable shape and key order (no trailing newline)."""
    data = report.to_dict()
    for entry in data["checks"]:
        for key in ("id", "finding", "hint"):
            entry[key] = clean_text(entry[key], 400)
    verdict = data["verdict"]
    verdict["summary"] = clean_text(verdict["summary"], 400)
    verdict["reason"] = clean_text(verdict["reason"], 400)
    return json.dumps(data, indent=2, ensure_ascii=False)
