"""kvmq.render.explain: text wraps at spaces only, outside strings stay literal, JSON and Markdown."""

from __future__ import annotations

import json
import textwrap

from hypothesis import given, settings
from hypothesis import strategies as st
from rich.console import Console

from kvmq.dataset.qemu_options import load_options
from kvmq.host.explain import explain, split_command_line
from kvmq.render.explain import explanation_lines, safe, to_json, to_markdown, to_text, wrap_at_spaces

TABLE = load_options()
LONG_PATH = "/var/lib/libvirt/images/" + "a" * 90 + ".qcow2"


def sample():
    line = (f"qemu-system-x86_64 -accel kvm -cpu host -drive file={LONG_PATH},if=virtio,format=qcow2 "
            "-name '[bold]evil\x1b[31m' -nodefaults")
    return explain(split_command_line(line), None, table=TABLE)


def test_text_never_breaks_a_token() -> None:
    for width in (20, 40, 80):
        lines = [line for line, _style in explanation_lines(sample(), width)]
        joined = "\n".join(lines)
        assert f"file={LONG_PATH}" in joined  # whole, on one line
        for line in lines:
            assert len(line) <= width or " " not in line.strip() or LONG_PATH in line


def test_escapes_and_markup_are_shown_literally() -> None:
    console = Console(width=80, record=True, color_system=None)
    console.print(to_text(sample(), 80))
    out = console.export_text()
    assert "[bold]evil\\x1b[31m" in out
    assert "\x1b" not in out
    assert safe("a\u202eb") == "a\\u202eb"


def test_json_and_markdown() -> None:
    data = json.loads(to_json(sample()))
    assert data["accelerators"] == ["kvm"] and data["has_errors"] is False
    assert data["options"][0]["suboptions"][0] == {
        "key": "accel", "value": "kvm", "known": True, "meaning": "which accelerator",
        "value_meaning": None, "implied": True}
    markdown = to_markdown(sample())
    assert markdown.startswith("## qemu\\-system\\-x86\\_64") or markdown.startswith("## qemu-system")
    assert "`-name [bold]evil\\x1b[31m`" in markdown  # a code span: shown as it is


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="ab -\t\u3000", max_size=40), st.integers(1, 15), st.integers(0, 3),
       st.integers(0, 5))
def test_wrapping_is_textwraps(text: str, width: int, first: int, rest: int) -> None:
    expected = textwrap.wrap(text, width, initial_indent=" " * first, subsequent_indent=" " * rest,
                             break_long_words=False, break_on_hyphens=False)
    assert wrap_at_spaces(text, width, " " * first, " " * rest) == expected
