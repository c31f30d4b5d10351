"""Renderings of a dataset for the CLI and for "copy": rich text, Markdown and JSON.

Never imports textual: the CLI must start fast. Dataset strings are data, so they only ever
reach rich as :class:`rich.text.Text` (never as markup).
"""

from __future__ import annotations

import json
import re
from typing import Any, Sequence
from urllib.parse import quote

from rich import box
from rich.console import Console, Group, RenderableType
from rich.padding import Padding
from rich.rule import Rule
from rich.table import Table
from rich.text import Text

from kvmq.dataset.model import (
    Command,
    Dataset,
    Dimension,
    Pro,
    Subject,
    dimension_to_dict,
    subject_to_dict,
)

# Below this width the subject columns are stacked instead of side by side.
STACK_BELOW = 80
BAR_WIDTH = 16
CORRECTION_MARK = "⚠"
CAVEAT_MARK = "•"
BAR_CELL = "█"
#: The same marks where the output encoding cannot hold the ones above (LANG=C, latin-1).
ASCII_MARKS = {CORRECTION_MARK: "!", CAVEAT_MARK: "*", BAR_CELL: "#"}
#: Ends a command line that goes on below (as a shell would read it).
CONTINUATION = " \\"
COMMAND_INDENT = 4
DOES_INDENT = 2
# A command's caution and needs are labelled in words too, so plain text (a pipe, NO_COLOR)
# keeps them as visible as colour does on a terminal.
CAUTION_LABEL = f"{CORRECTION_MARK} Caution: "
NEEDS_LABEL = "Needs: "


def literal(text: str, style: str = "") -> Text:
    """Dataset text as rich Text, never parsed as markup."""
    return Text(text, style=style)


def glyph(mark: str, ascii_only: bool = False) -> str:
    """``mark``, or its ASCII stand-in when the output cannot encode it."""
    return ASCII_MARKS.get(mark, mark) if ascii_only else mark


def unbroken(text: str, style: str = "") -> Text:
    """Text that is never wrapped or cut: a URL, a command line (it may run past the edge)."""
    return Text(text, style=style, no_wrap=True, overflow="ignore")


def wrap_command(run: str, width: int, indent: int = COMMAND_INDENT) -> list[str]:
    """``run`` as lines of at most ``width`` cells, broken only at spaces.

    Every line but the last ends in `` \\`` (a visible continuation, and what a shell would
    accept if the lines are pasted); continuation lines are indented by ``indent``. A single
    word longer than the width is kept whole on a line of its own. Line breaks inside the
    command are kept as they are.
    """
    out: list[str] = []
    for source_line in run.split("\n"):
        words = source_line.split(" ")
        line = ""
        for index, word in enumerate(words):
            room = 0 if index == len(words) - 1 else len(CONTINUATION)
            if line.strip() and len(line) + 1 + len(word) + room > width:
                out.append(line + CONTINUATION)
                line = " " * indent + word
            else:
                line = f"{line} {word}" if index else word
        out.append(line)
    return out


# --------------------------------------------------------------------------- rich text


def dimension_renderable(dataset: Dataset, dimension: Dimension, width: int, *,
                         ascii_only: bool = False) -> RenderableType:
    """One dimension: title, verdict, the subjects' descriptions, notes, commands, sources.

    The parts are separated by a blank line, as in the explorer. Commands wrap only at
    spaces, with a visible continuation; URLs are never broken and stand on lines of their own.
    """
    parts: list[RenderableType] = [Rule(literal(dimension.title, "bold"), align="left")]
    if dimension.verdict:
        parts.append(literal(dimension.verdict, "italic"))
    parts.append(_descriptions(dataset, dimension, stacked=width < STACK_BELOW))
    sections: list[RenderableType] = []
    if dimension.notes:
        sections.append(_notes(dimension, ascii_only))
    if dimension.commands:
        sections.append(_commands(dataset, dimension, width, ascii_only))
    if dimension.sources:
        lines = [literal("Sources", "bold dim")]
        lines += [unbroken(url, "dim") for url in dimension.sources]
        sections.append(Group(*lines))
    for section in sections:
        parts += [Text(""), section]
    parts.append(Text(""))
    return Group(*parts)


def _descriptions(dataset: Dataset, dimension: Dimension, *, stacked: bool) -> RenderableType:
    descriptions = dimension.descriptions  # read back from the packed form once
    if stacked:
        rows: list[RenderableType] = []
        for subject in dataset.subjects:
            rows.append(literal(subject.name, "bold cyan"))
            rows.append(Padding(literal(descriptions.get(subject.id, "")), (0, 0, 0, 2)))
        return Group(*rows)
    table = Table(box=box.SIMPLE_HEAD, expand=True, show_edge=False, pad_edge=False)
    for subject in dataset.subjects:
        table.add_column(literal(subject.name, "bold cyan"), ratio=1, overflow="fold")
    table.add_row(*(literal(descriptions.get(s.id, "")) for s in dataset.subjects))
    return table


def _notes(dimension: Dimension, ascii_only: bool = False) -> RenderableType:
    lines: list[RenderableType] = []
    for note in dimension.notes:
        line = Text()
        if note.is_correction:
            line.append(f"{glyph(CORRECTION_MARK, ascii_only)} Correction: ", style="bold yellow")
        else:
            line.append(f"{glyph(CAVEAT_MARK, ascii_only)} Note: ", style="bold")
        line.append(note.text)
        lines.append(line)
        if note.source:
            lines.append(unbroken(f"  {note.source}", "dim"))
    return Group(*lines)


def _commands(dataset: Dataset, dimension: Dimension, width: int,
              ascii_only: bool = False) -> RenderableType:
    lines: list[RenderableType] = []
    commands = dimension.commands
    for subject in dataset.subjects:
        entries = commands.get(subject.id, ())
        if not entries:
            continue
        lines.append(literal(f"{subject.name} commands", "bold cyan"))
        for command in entries:
            for line in wrap_command("$ " + command.run, width):
                lines.append(unbroken(line, "green"))
            lines.append(Padding(_command_notes(command, ascii_only), (0, 0, 0, DOES_INDENT)))
    return Group(*lines)


def _command_notes(command: Command, ascii_only: bool = False) -> Text:
    """Under a command: its caution first (highlighted, so it is not missed), then what it
    does and what it needs, one per line."""
    text = Text()
    if command.caution:
        text.append(CAUTION_LABEL.replace(CORRECTION_MARK, glyph(CORRECTION_MARK, ascii_only)),
                    style="bold yellow")
        text.append(command.caution, style="yellow")
        text.append("\n")
    text.append(command.does, style="dim")
    if command.needs:
        text.append("\n")
        text.append(NEEDS_LABEL + command.needs, style="italic")
    return text


def pros_renderable(dataset: Dataset, width: int, *, ascii_only: bool = False) -> RenderableType:
    """Each subject's pros, most votes first, with bars scaled to the largest count.

    Side by side only when every label fits its column on one line; otherwise (as at 80
    columns with the shipped data) stacked, which reads far better than wrapped labels.
    Side by side, the shorter tables are padded so that the totals line up.
    """
    most = dataset.max_votes()
    ranked = [dataset.pros_ranked(subject.id) for subject in dataset.subjects]
    longest = max((len(pro.label) for pros in ranked for pro in pros), default=0)
    votes_width = max(len("Votes"), len(str(most)), len(str(max(
        (sum(p.votes for p in pros) for pros in ranked), default=0))))
    gap = 2
    column = (width - gap * (len(ranked) - 1)) // max(1, len(ranked))
    # Label, votes and bar, with three cells between each (padding and the box's divider);
    # the bar may shrink to half its width to keep the subjects side by side.
    room = column - max(longest, len("(no pros listed)")) - votes_width - 6
    bar_width = BAR_WIDTH if room >= BAR_WIDTH else BAR_WIDTH // 2
    side_by_side = room >= bar_width
    rows = max((len(pros) or 1 for pros in ranked), default=1) if side_by_side else 0
    blocks = [pros_table(subject, pros, most, ascii_only=ascii_only, rows=rows,
                         expand=side_by_side, bar_width=bar_width if side_by_side else BAR_WIDTH)
              for subject, pros in zip(dataset.subjects, ranked)]
    if not side_by_side:
        return Group(*[part for block in blocks for part in (block, Text(""))][:-1])
    grid = Table.grid(padding=(0, gap))
    for _ in dataset.subjects:
        grid.add_column(width=column)
    grid.add_row(*blocks)
    return grid


def bar(votes: int, most: int, width: int = BAR_WIDTH, *, ascii_only: bool = False) -> str:
    """A bar proportional to ``votes`` out of ``most``; any vote shows at least one cell."""
    if most <= 0 or votes <= 0:
        return ""
    return glyph(BAR_CELL, ascii_only) * max(1, round(votes / most * width))


def pros_table(subject: Subject, pros: Sequence[Pro], most: int, *, ascii_only: bool = False,
               rows: int = 0, expand: bool = True, bar_width: int = BAR_WIDTH) -> RenderableType:
    """One subject's pros; ``rows`` pads the list to that many rows (to align totals)."""
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, expand=expand,
                  title=literal(subject.name, "bold cyan"), title_justify="left",
                  safe_box=True)
    table.add_column("Pro", overflow="fold", ratio=1, min_width=8)
    table.add_column("Votes", justify="right", no_wrap=True)
    # A fixed width keeps the bars proportional (a flexible column would crop the long ones).
    table.add_column("", no_wrap=True, width=bar_width, overflow="crop")
    for pro in pros:
        table.add_row(literal(pro.label), str(pro.votes),
                      literal(bar(pro.votes, most, bar_width, ascii_only=ascii_only), "green"))
    if not pros:
        table.add_row(literal("(no pros listed)", "dim"), "", "")
    for _ in range(rows - max(1, len(pros))):
        table.add_row("", "", "")
    total = sum(p.votes for p in pros)
    table.add_section()
    table.add_row(literal("Total", "bold"), literal(str(total), "bold"), "")
    return table


def list_renderable(dataset: Dataset) -> RenderableType:
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
    table.add_column("id", style="cyan", no_wrap=True)
    table.add_column("title")
    for dimension in dataset.dimensions:
        table.add_row(literal(dimension.id), literal(dimension.title))
    return table


def print_show(console: Console, dataset: Dataset, dimensions: Sequence[Dimension]) -> None:
    ascii_only = not console.encoding.lower().startswith("utf")
    console.print(literal(dataset.title, "bold"))
    names = " vs ".join(s.name for s in dataset.subjects)
    if names.casefold() != dataset.title.casefold():
        console.print(literal(names, "dim"))
    console.print()
    for dimension in dimensions:
        # crop=False: a URL or a long word of a command runs past the edge rather than be cut.
        console.print(dimension_renderable(dataset, dimension, console.width,
                                           ascii_only=ascii_only), crop=False)


# --------------------------------------------------------------------------- Markdown

_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>|#&])")
# What would start a list, heading, quote or rule at the beginning of a line.
_MD_LINE_START = re.compile(r"^(\s*)([-+=~]|\d+(?=[.)]))", re.MULTILINE)


def md_escape(text: str) -> str:
    """Escape text so a Markdown renderer shows it exactly (no links, HTML or emphasis).

    The text stays inside the block it is put in: no blank line (which would end it), no
    indentation (which could start a code block).
    """
    text = "\n".join(line.strip() for line in text.split("\n") if line.strip())
    escaped = _MD_SPECIAL.sub(r"\\\1", text)
    return _MD_LINE_START.sub(_escape_line_start, escaped)


def md_url(url: str) -> str:
    """A URL as a Markdown link destination in ``<...>``: anything that could end it, or
    start HTML, is percent-encoded (the loader only lets well-formed http(s) URLs in)."""
    return quote(url, safe="-._~:/?#[]@!$&'*+,;=%")


def _escape_line_start(match: re.Match[str]) -> str:
    indent, marker = match.group(1), match.group(2)
    if marker.isdigit():  # "1." starts an ordered list; "1\." does not
        return f"{indent}{marker}\\"
    return f"{indent}\\{marker}"


def md_code(text: str) -> str:
    """An inline code span that survives backticks inside ``text`` (its fence is longer than
    any run of them) and line breaks (a blank line would end the span: they become spaces)."""
    text = " ".join(part.strip() for part in text.split("\n") if part.strip())
    longest = max((len(m) for m in re.findall(r"`+", text)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def dimension_markdown(dataset: Dataset, dimension: Dimension, level: int = 2) -> str:
    """One dimension as a Markdown section (also what the explorer copies)."""
    hashes = "#" * level
    out = [f"{hashes} {md_escape(dimension.title)}", ""]
    if dimension.verdict:
        out += [f"*{md_escape(dimension.verdict)}*", ""]
    descriptions = dimension.descriptions  # read back from the packed form once
    for subject in dataset.subjects:
        description = descriptions.get(subject.id, "")
        out += [f"**{md_escape(subject.name)}:** {md_escape(description)}", ""]
    for note in dimension.notes:
        label = "Correction" if note.is_correction else "Note"
        source = f" ([source](<{md_url(note.source)}>))" if note.source else ""
        out += [f"> **{label}:** {md_escape(note.text)}{source}", ""]
    commands = dimension.commands
    if commands:
        out += ["Commands:", ""]
        for subject in dataset.subjects:
            for command in commands.get(subject.id, ()):
                out.append(f"- {md_escape(subject.name)}: {md_code(command.run)}: "
                           f"{md_escape(command.does)}")
                if command.caution:
                    out.append(f"  - **{md_escape(CAUTION_LABEL.strip())}** {md_escape(command.caution)}")
                if command.needs:
                    out.append(f"  - {md_escape(NEEDS_LABEL.strip())} {md_escape(command.needs)}")
        out.append("")
    if dimension.sources:
        out.append("Sources: " + ", ".join(f"<{md_url(url)}>" for url in dimension.sources))
        out.append("")
    return "\n".join(out)


def show_markdown(dataset: Dataset, dimensions: Sequence[Dimension]) -> str:
    out = [f"# {md_escape(dataset.title)}", ""]
    if len(dimensions) == len(dataset.dimensions):
        out += [md_escape(dataset.summary), ""]
    out += [dimension_markdown(dataset, d) for d in dimensions]
    out.append(_attribution_markdown(dataset))
    return "\n".join(out).rstrip() + "\n"


def _attribution_markdown(dataset: Dataset) -> str:
    source = dataset.source
    if source is None:
        return ""
    title = md_escape(source.title)
    linked = f"[{title}](<{md_url(source.url)}>)" if source.url else f"\"{title}\""
    return f"---\n\nBased on {linked} by {md_escape(source.publisher)}, corrected and extended.\n"


def pros_markdown(dataset: Dataset) -> str:
    out = [f"# {md_escape(dataset.title)}: pros", ""]
    for subject in dataset.subjects:
        pros = dataset.pros_ranked(subject.id)
        out += [f"## {md_escape(subject.name)}", "", "| Pro | Votes |", "| --- | ---: |"]
        out += [f"| {md_escape(p.label)} | {p.votes} |" for p in pros]
        out += [f"| **Total** | **{sum(p.votes for p in pros)}** |", ""]
    return "\n".join(out).rstrip() + "\n"


def list_markdown(dataset: Dataset) -> str:
    lines = [f"- {md_code(d.id)}: {md_escape(d.title)}" for d in dataset.dimensions]
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- JSON


def to_json(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False) + "\n"


def show_json(dataset: Dataset, dimensions: Sequence[Dimension]) -> str:
    if len(dimensions) == len(dataset.dimensions):
        return to_json(dataset.to_dict())
    return to_json({
        "title": dataset.title,
        "subjects": [subject_to_dict(s) for s in dataset.subjects],
        "dimensions": [dimension_to_dict(d) for d in dimensions],
    })


def pros_json(dataset: Dataset) -> str:
    return to_json({
        "subjects": [subject_to_dict(s) for s in dataset.subjects],
        "pros": {
            s.id: [{"label": p.label, "votes": p.votes} for p in dataset.pros_ranked(s.id)]
            for s in dataset.subjects
        },
    })


def list_json(dataset: Dataset) -> str:
    return to_json([{"id": d.id, "title": d.title} for d in dataset.dimensions])
