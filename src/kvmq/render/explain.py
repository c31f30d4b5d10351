"""Render an :class:`~kvmq.host.explain.Explanation` as text, Markdown or JSON.

Everything in an explanation that came from the command line is data: control and
bidirectional characters are shown as visible escapes (``\\x1b``), and text goes into
``rich.text.Text`` only, never through markup. Text output wraps at spaces and never inside
a token, so a path or a ``key=value`` can be copied from the terminal as it is.
"""

from __future__ import annotations

import json
import re
from typing import Iterator, Optional, Sequence

from rich.text import Text

from kvmq.host.explain import Explanation, Finding, HostFacts, Option, explain, levels

__all__ = ["LEVEL_STYLES", "explain_command", "explanation_lines", "safe", "to_json", "to_markdown",
           "to_plain", "to_text"]

LEVEL_STYLES = {"error": "bold red", "warning": "bold yellow", "note": "cyan"}
_UNSAFE_RE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ufeff]")
_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>|#&])")


def explain_command(argv: Sequence[str], host: Optional[HostFacts] = None,
                    options_path: Optional[str] = None) -> Explanation:
    """Explain ``argv`` with the shipped options file (or ``options_path``).

    Raises:
        InvalidDataset: the options file does not validate.
    """
    from kvmq.dataset.qemu_options import load_options

    return explain(argv, host, table=load_options(options_path))


def safe(text: Optional[str]) -> str:
    """``text`` with every control or bidi character shown as a visible escape."""
    if not text:
        return ""
    return _UNSAFE_RE.sub(lambda m: f"\\x{ord(m.group()):02x}" if ord(m.group()) < 0x100
                          else f"\\u{ord(m.group()):04x}", text)


def _wrap(text: str, width: int, indent: int, hanging: int = 0) -> list[str]:
    """Wrap at spaces only; a token longer than the line stays whole."""
    if indent + len(text) <= width:  # most lines: no wrapping needed
        return [" " * indent + text]
    return wrap_at_spaces(text, max(width, indent + hanging + 10), " " * indent,
                           " " * (indent + hanging)) or [" " * indent]


_TEXTWRAP_WHITESPACE = str.maketrans("\t\n\x0b\x0c\r", "     ")
_SPACES_RE = re.compile(r"( +)")


def wrap_at_spaces(text: str, width: int, first: str, rest: str) -> list[str]:
    """What ``textwrap.wrap(text, width, initial_indent=first, subsequent_indent=rest,
    break_long_words=False, break_on_hyphens=False)`` returns, in a third of its time: an
    explanation of 300 options wraps some 700 lines, 21 ms through textwrap."""
    chunks = [chunk for chunk in _SPACES_RE.split(text.expandtabs().translate(_TEXTWRAP_WHITESPACE)) if chunk]
    chunks.reverse()
    lines: list[str] = []
    while chunks:
        indent = rest if lines else first
        room = width - len(indent)
        if lines and not chunks[-1].strip():  # no line but the first starts with blanks
            chunks.pop()
        line: list[str] = []
        length = 0
        while chunks and length + len(chunks[-1]) <= room:
            length += len(chunks[-1])
            line.append(chunks.pop())
        if chunks and not line and len(chunks[-1]) > room:  # a word longer than the line stays whole
            line.append(chunks.pop())
        if line and not line[-1].strip():
            line.pop()
        if line:
            lines.append(indent + "".join(line))
    return lines


def _summary(explanation: Explanation) -> str:
    counts = levels(explanation.findings)
    parts = [f"{counts[level]} {level}{'s' if counts[level] != 1 else ''}"
             for level in ("error", "warning", "note")]
    named = sum(1 for option in explanation.options if option.name)
    return f"{safe(explanation.program) or '(no program)'}: {named} options; " + ", ".join(parts)


def _accelerator_line(explanation: Explanation) -> str:
    if explanation.accelerators:
        return "Accelerator: " + ", then ".join(safe(a) for a in explanation.accelerators)
    if explanation.program.endswith("qemu-kvm"):
        return "Accelerator: none given (qemu-kvm builds without TCG default to KVM)"
    return "Accelerator: none given, so TCG (software emulation)"


def _option_head(option: Option) -> str:
    if not option.name:
        return safe(option.spelled)
    if option.argument is None:
        return safe(option.spelled)
    return f"{safe(option.spelled)} {safe(option.argument)}"


def _sub_line(sub_key: str, value: str, meaning: str) -> str:
    return f"{safe(sub_key)}={safe(value)}  {meaning}"


def explanation_lines(explanation: Explanation, width: int = 80) -> Iterator[tuple[str, str]]:
    """``(line, style)`` pairs of the text form, each line at most ``width`` unless one token is longer."""
    width = max(width, 20)
    yield from ((line, "bold") for line in _wrap(_summary(explanation), width, 0, 4))
    yield from ((line, "") for line in _wrap(_accelerator_line(explanation), width, 0, 4))
    if explanation.cross_checked:
        yield from ((line, "dim") for line in _wrap(f"Checked against {safe(explanation.cross_checked)}",
                                                     width, 0, 4))
    yield "", ""
    for option in explanation.options:
        yield from ((line, "bold") for line in _wrap(_option_head(option), width, 0, 4))
        meaning = "unknown to kvmq" if option.meaning is None else option.meaning
        style = "" if option.known else "yellow"
        yield from ((line, style) for line in _wrap(meaning, width, 4))
        for sub in option.suboptions:
            if sub.meaning is None:
                text, style = _sub_line(sub.key, sub.value, "unknown to kvmq"), "yellow"
            else:
                described = sub.meaning
                if sub.key in ("type", "driver", "qom-type", "backend", "model", "accel", "fsdriver") \
                        and option.kind_meaning and sub.value == option.kind:
                    described = option.kind_meaning
                elif sub.value_meaning:
                    described = f"{sub.meaning}: {sub.value_meaning}"
                text, style = _sub_line(sub.key, sub.value, described), "dim"
            yield from ((line, style) for line in _wrap(text, width, 6, 4))
        if option.kind and option.kind_meaning is None and not any(
                sub.value == option.kind for sub in option.suboptions if sub.implied or sub.key in (
                    "type", "driver", "qom-type")):
            yield from ((line, "yellow") for line in _wrap(f"{safe(option.kind)}: unknown to kvmq",
                                                           width, 6, 4))
    yield "", ""
    if not explanation.findings:
        yield "Findings: none", "bold"
        return
    yield "Findings", "bold"
    for finding in explanation.findings:
        yield from _finding_lines(explanation, finding, width)


def _finding_lines(explanation: Explanation, finding: Finding, width: int) -> Iterator[tuple[str, str]]:
    label = finding.level.upper()
    style = LEVEL_STYLES.get(finding.level, "")
    lines = _wrap(f"{label:<8}{safe(finding.message)}", width, 2, 8)
    yield lines[0], style
    for line in lines[1:]:
        yield line, ""
    yield from ((line, "") for line in _wrap(f"fix: {safe(finding.fix)}", width, 10, 5))


def to_plain(explanation: Explanation, width: int = 80) -> str:
    """The text form without styles (for a pipe or NO_COLOR)."""
    return "\n".join(line for line, _style in explanation_lines(explanation, width)) + "\n"


def to_text(explanation: Explanation, width: int = 80) -> Text:
    """The explanation as rich Text (styles only; no markup is parsed)."""
    out = Text()
    for number, (line, style) in enumerate(explanation_lines(explanation, width)):
        if number:
            out.append("\n")
        out.append(line, style=style)
    return out


def _md(text: Optional[str]) -> str:
    return _MD_SPECIAL.sub(r"\\\1", safe(text))


def _md_code(text: str) -> str:
    text = safe(text)
    longest = max((len(m) for m in re.findall(r"`+", text)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def to_markdown(explanation: Explanation) -> str:
    """The explanation as Markdown: options as a nested list, then the findings."""
    out = [f"## {_md(_summary(explanation))}", "", _md(_accelerator_line(explanation)), ""]
    for option in explanation.options:
        head = _md_code(_option_head(option))
        meaning = _md(option.meaning) if option.known else "*unknown to kvmq*"
        link = f" ([docs]({option.source}))" if option.source else ""
        out.append(f"- {head}: {meaning}{link}")
        for sub in option.suboptions:
            if sub.meaning is None:
                out.append(f"  - {_md_code(f'{sub.key}={sub.value}')}: *unknown to kvmq*")
                continue
            described = _md(sub.meaning)
            if option.kind_meaning and sub.value == option.kind and sub.implied:
                described = _md(option.kind_meaning)
            elif sub.value_meaning:
                described += f": {_md(sub.value_meaning)}"
            out.append(f"  - {_md_code(f'{sub.key}={sub.value}')}: {described}")
    out += ["", "### Findings", ""]
    if not explanation.findings:
        out.append("None.")
    for finding in explanation.findings:
        out.append(f"- **{finding.level.upper()}** {_md(finding.message)}. Fix: {_md(finding.fix)} "
                   f"([docs]({finding.source}))")
    return "\n".join(out) + "\n"


def to_json(explanation: Explanation) -> str:
    """The explanation as JSON (:meth:`Explanation.to_dict`)."""
    return json.dumps(explanation.to_dict(), indent=2, ensure_ascii=False) + "\n"
