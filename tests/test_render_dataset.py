"""Renderings: Markdown shows dataset text literally, bars are proportional, JSON matches the YAML."""

from __future__ import annotations

import io
import json
import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any, Optional

import pytest
import yaml
from markdown_it import MarkdownIt
from rich.console import Console

from kvmq.dataset.loader import load, loads
from kvmq.dataset.model import Dataset
from kvmq.render import dataset as render

HERE = Path(__file__).resolve().parent
DATASETS = HERE / "fixtures" / "datasets"
SHIPPED = HERE.parent / "data" / "kvm-vs-qemu.yaml"
MARKUP = DATASETS / "markup.yaml"
MINIMAL_TEXT = (DATASETS / "minimal.yaml").read_text(encoding="utf-8")

MARKUP_STRINGS = ("[/]", "[bold]x", "qemu-system-x86_64 [options]", "[link=file:///etc/passwd]x[/link]",
                  "$ not a var", "*stars*", "<b>html</b>")
BAR = "█"


class _HtmlText(HTMLParser):
    """The visible text of an HTML fragment (entities decoded) and the tags and links in it."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.tags: set[str] = set()
        self.hrefs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, Optional[str]]]) -> None:
        self.tags.add(tag)
        self.hrefs += [value or "" for name, value in attrs if name in ("href", "src")]

    def handle_data(self, data: str) -> None:
        self.parts.append(data)

    @property
    def text(self) -> str:
        return "".join(self.parts)


def markdown_to_html(markdown: str) -> _HtmlText:
    html = MarkdownIt("commonmark").enable("table").render(markdown)
    parsed = _HtmlText()
    parsed.feed(html)
    parsed.close()
    return parsed


def plain_console(width: int) -> tuple[Console, io.StringIO]:
    out = io.StringIO()
    console = Console(file=out, width=width, color_system=None, force_terminal=False, highlight=False,
                      soft_wrap=False)
    return console, out


@pytest.fixture(scope="module")
def markup() -> Dataset:
    return load(MARKUP)


@pytest.fixture(scope="module")
def shipped() -> Dataset:
    return load(SHIPPED)


# --------------------------------------------------------------------------- Markdown


def _assert_literal(parsed: _HtmlText, strings: tuple[str, ...]) -> None:
    for needle in strings:
        assert needle in parsed.text, f"{needle!r} does not render literally"
    assert "b" not in parsed.tags, "raw HTML reached the Markdown output"
    assert "img" not in parsed.tags
    for href in parsed.hrefs:
        assert href.startswith("https://"), href


def test_show_markdown_renders_markup_literally(markup: Dataset) -> None:
    parsed = markdown_to_html(render.show_markdown(markup, markup.dimensions))
    _assert_literal(parsed, MARKUP_STRINGS)
    text = parsed.text
    assert "Markup [bold]x vs [/] test" in text
    assert "Title [/] and [bold]x" in text
    assert "Verdict *stars* and <b>html</b>" in text
    assert "Run qemu-system-x86_64 [options] then [link=file:///etc/passwd]x[/link] here." in text
    assert "Note with [bold]x and [link=file:///etc/passwd]x[/link]." in text
    assert "echo '<b>html</b>' [/]" in text  # a command, in a code span
    assert "Source [/] title" in text and "<b>html</b> publisher" in text
    # The structure the renderer itself adds is still Markdown.
    assert {"h1", "h2", "em", "strong", "blockquote", "code", "a"} <= parsed.tags
    assert "https://example.org/note" in parsed.hrefs


def test_dimension_markdown_emphasis_comes_only_from_the_renderer(markup: Dataset) -> None:
    html = MarkdownIt("commonmark").render(render.dimension_markdown(markup, markup.dimensions[0]))
    # Only the verdict is in italics and only the labels are bold: "*stars*" stays text.
    assert html.count("<em>") == 1
    assert "<em>Verdict *stars* and &lt;b&gt;html&lt;/b&gt;</em>" in html


def test_pros_markdown_table_is_literal(markup: Dataset) -> None:
    markdown = render.pros_markdown(markup)
    parsed = markdown_to_html(markdown)
    _assert_literal(parsed, ("[bold]x", "qemu-system-x86_64 [options]", "[link=file:///etc/passwd]x[/link]",
                             "<b>html</b> and *stars*"))
    assert "table" in parsed.tags


def test_pros_markdown_totals_and_order(shipped: Dataset) -> None:
    markdown = render.pros_markdown(shipped)
    assert "| No license issues | 4 |" in markdown
    assert "| **Total** | **8** |" in markdown and "| **Total** | **3** |" in markdown
    kvm = markdown.split("## KVM")[1].split("## QEMU")[0]
    assert kvm.index("No license issues") < kvm.index("Very fast") < kvm.index("Flexible network options")


def test_list_markdown_is_literal(markup: Dataset) -> None:
    parsed = markdown_to_html(render.list_markdown(markup))
    assert "Title [/] and [bold]x" in parsed.text
    assert "markup" in parsed.text


def test_pipe_in_table_cell_is_escaped() -> None:
    dataset = loads(MINIMAL_TEXT.replace("label: Compact", 'label: "Compact | small"'))
    html = MarkdownIt("commonmark").enable("table").render(render.pros_markdown(dataset))
    assert "<td>Compact | small</td>" in html


@pytest.mark.parametrize("text", ["a `tick` here", "``double``", "`", "ends with `"])
def test_md_code_survives_backticks(text: str) -> None:
    html = MarkdownIt("commonmark").render(render.md_code(text))
    parsed = _HtmlText()
    parsed.feed(html)
    assert parsed.text.strip("\n") == text


def test_markdown_entities_render_literally() -> None:
    dataset = loads(MINIMAL_TEXT.replace("Beta uses a compact binary format.",
                                         "Beta says AT&amp;T &copy; 2024."))
    parsed = markdown_to_html(render.show_markdown(dataset, dataset.dimensions))
    assert "Beta says AT&amp;T &copy; 2024." in parsed.text


def test_markdown_multiline_text_stays_a_paragraph() -> None:
    dataset = loads(MINIMAL_TEXT.replace(
        "      beta: Beta uses a compact binary format.\n",
        "      beta: |\n        Beta uses\n        - a compact\n        1. binary\n        ===\n",
    ))
    parsed = markdown_to_html(render.show_markdown(dataset, dataset.dimensions))
    # Had any line become a list item or a setext heading, its marker would be gone.
    assert "- a compact" in parsed.text and "1. binary" in parsed.text
    assert "===" in parsed.text


# --------------------------------------------------------------------------- bars


@pytest.mark.parametrize(("votes", "most", "width", "cells"), [
    (4, 4, 24, 24), (2, 4, 24, 12), (1, 4, 24, 6), (3, 4, 24, 18), (1, 3, 24, 8), (8, 8, 10, 10),
    (1, 1000, 24, 1), (0, 4, 24, 0), (5, 0, 24, 0), (0, 0, 24, 0), (-1, 4, 24, 0),
])
def test_bar_is_proportional(votes: int, most: int, width: int, cells: int) -> None:
    bar = render.bar(votes, most, width)
    assert bar == BAR * cells


def test_bar_default_width_and_monotonic() -> None:
    assert len(render.bar(10, 10)) == render.BAR_WIDTH
    lengths = [len(render.bar(v, 50)) for v in range(51)]
    assert lengths == sorted(lengths)
    assert lengths[0] == 0 and all(n >= 1 for n in lengths[1:])


def _bar_lengths(output: str, labels: tuple[str, ...]) -> dict[str, int]:
    """The bar drawn after each label (labels may wrap, so give their first word or two)."""
    lengths: dict[str, int] = {}
    for line in output.splitlines():
        for label in labels:
            found = re.search(rf"(?:^|\s){re.escape(label)}\b[^{BAR}]*?\s\d+\s+({BAR}+)", line)
            if found:
                lengths[label] = len(found.group(1))
    return lengths


@pytest.mark.parametrize("width", [60, 80, 100, 120, 200])
def test_pros_text_bars_keep_proportions(shipped: Dataset, width: int) -> None:
    console, out = plain_console(width)
    console.print(render.pros_renderable(shipped, width))
    lengths = _bar_lengths(out.getvalue(), ("No license", "Very fast", "Flexible", "Free"))
    assert len(lengths) == 4, out.getvalue()
    assert lengths["No license"] == 2 * lengths["Very fast"], lengths
    assert lengths["Very fast"] == lengths["Flexible"] == 2 * lengths["Free"], lengths
    assert lengths["No license"] in (render.BAR_WIDTH, render.BAR_WIDTH // 2)  # halved to stay side by side


def test_caution_and_needs_in_markdown_are_literal(markup: Dataset) -> None:
    markdown = render.dimension_markdown(markup, markup.dimensions[0])
    parsed = markdown_to_html(markdown)
    _assert_literal(parsed, ("[blink]loses[/blink] **data** <b>now</b>",
                             "[link=https://example.org]root[/link] | `pkg`"))
    assert "- **⚠ Caution:** \\[blink\\]loses" in markdown  # bold label from the renderer only
    assert "  - Needs: \\[link=https://example.org\\]root" in markdown


def test_a_dataset_without_source_renders_everywhere() -> None:
    dataset = load(DATASETS / "cautions.yaml")
    assert dataset.source is None
    markdown = render.show_markdown(dataset, dataset.dimensions)
    assert "Based on" not in markdown and markdown.endswith("\n")
    assert "  - **⚠ Caution:** Everything on DISK is gone for good." in markdown
    assert "  - Needs: the delta-tools package" in markdown
    decoded = json.loads(render.show_json(dataset, dataset.dimensions))
    assert decoded["source"] is None
    wipe = decoded["dimensions"][0]["commands"]["gamma"][0]
    assert (wipe["caution"], wipe["needs"]) == ("Everything on DISK is gone for good.", "root")
    console, out = plain_console(160)
    render.print_show(console, dataset, dataset.dimensions)
    text = out.getvalue()
    assert "⚠ Caution: Everything on DISK is gone for good." in text
    assert "⚠ Caution: Stops the guest that uses DISK: [bold]no[/bold] warning is given." in text
    assert "Needs: root" in text


# --------------------------------------------------------------------------- rich text


def test_text_rendering_is_literal(markup: Dataset) -> None:
    console, out = plain_console(160)
    render.print_show(console, markup, markup.dimensions)
    text = out.getvalue()
    for needle in ("[bold]x", "Title [/] and [bold]x", "qemu-system-x86_64 [options]", "<b>html</b>",
                   "$ not a var", "*stars*", "[link=file:///etc/passwd]x[/link]",
                   "⚠ Caution: [blink]loses[/blink] **data** <b>now</b>",
                   "Needs: [link=https://example.org]root[/link] | `pkg`"):
        assert needle in text, needle
    assert "\x1b" not in text


def test_text_layout_side_by_side_or_stacked(shipped: Dataset) -> None:
    dimension = shipped.find("performance")
    wide, wide_out = plain_console(120)
    wide.print(render.dimension_renderable(shipped, dimension, 120))
    narrow, narrow_out = plain_console(60)
    narrow.print(render.dimension_renderable(shipped, dimension, 60))
    wide_lines = wide_out.getvalue().splitlines()
    narrow_lines = narrow_out.getvalue().splitlines()
    assert any(re.match(r"^KVM\s{2,}QEMU\s*$", line) for line in wide_lines)
    assert "KVM" in [line.strip() for line in narrow_lines]
    assert "QEMU" in [line.strip() for line in narrow_lines]
    assert max(len(line) for line in narrow_lines) <= 60


def test_three_subjects_give_three_columns() -> None:
    dataset = load(DATASETS / "three-subjects.yaml")
    console, out = plain_console(120)
    render.print_show(console, dataset, dataset.dimensions)
    lines = out.getvalue().splitlines()
    assert any(re.match(r"^Firecracker\s{2,}CloudHypervisor\s{2,}crosvm\s*$", line) for line in lines)
    row = next(line for line in lines if "FCDESC" in line)
    assert row.index("FCDESC") < row.index("CHDESC") < row.index("CVDESC")


# --------------------------------------------------------------------------- JSON


def _normalized_yaml(path: Path) -> dict[str, Any]:
    """The YAML as the loader promises to see it: text stripped, optional keys defaulted."""
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))

    def strip(value: Any) -> Any:
        if isinstance(value, str):
            return value.strip()
        if isinstance(value, list):
            return [strip(v) for v in value]
        if isinstance(value, dict):
            return {k: strip(v) for k, v in value.items()}
        return value

    raw = strip(raw)
    for dimension in raw["dimensions"]:
        dimension["notes"] = [{"text": n["text"], "source": n.get("source"), "kind": n.get("kind", "caveat")}
                              for n in dimension.get("notes", [])]
        dimension["commands"] = {
            sid: [{"run": c["run"], "does": c["does"], "caution": c.get("caution"), "needs": c.get("needs")}
                  for c in commands]
            for sid, commands in dimension.get("commands", {}).items()
        }
        dimension.setdefault("sources", [])
    raw.setdefault("source", None)
    subject_ids = [s["id"] for s in raw["subjects"]]
    raw["pros"] = {sid: raw["pros"].get(sid, []) for sid in subject_ids}
    return raw


@pytest.mark.parametrize("name", ["kvm-vs-qemu", "minimal", "three-subjects", "markup"])
def test_json_round_trip_matches_yaml(name: str) -> None:
    path = SHIPPED if name == "kvm-vs-qemu" else DATASETS / f"{name}.yaml"
    dataset = load(path)
    decoded = json.loads(render.show_json(dataset, dataset.dimensions))
    assert decoded == dataset.to_dict()
    assert decoded == _normalized_yaml(path)
    assert list(decoded) == ["schema", "title", "summary", "source", "subjects", "dimensions", "pros"]


def test_json_of_some_dimensions(shipped: Dataset) -> None:
    chosen = [shipped.find("performance"), shipped.find("licensing")]
    decoded = json.loads(render.show_json(shipped, chosen))
    assert [d["id"] for d in decoded["dimensions"]] == ["performance", "licensing"]
    assert [s["id"] for s in decoded["subjects"]] == ["kvm", "qemu"]
    assert decoded["dimensions"][0]["descriptions"] == dict(chosen[0].descriptions)


def test_pros_json_is_ranked(shipped: Dataset) -> None:
    decoded = json.loads(render.pros_json(shipped))
    kvm_votes = [p["votes"] for p in decoded["pros"]["kvm"]]
    assert kvm_votes == sorted(kvm_votes, reverse=True) == [4, 2, 2]
    assert [p["label"] for p in decoded["pros"]["kvm"]][1:] == ["Very fast", "Flexible network options"]


def test_json_keeps_non_ascii_and_markup(markup: Dataset) -> None:
    output = render.show_json(markup, markup.dimensions)
    assert "[link=file:///etc/passwd]x[/link]" in output
    assert json.loads(output)["subjects"][1]["name"] == "<b>html</b>"


# --------------------------------------------------------------------------- hostile text (issue 17)

HOSTILE_RUN = "echo `a` ``b``\n\n<script>alert(1)</script>\n\n    indented code?"
HOSTILE_URL = "https://example.org/a>)<img src=x onerror=alert(1)>(javascript:alert(1))"


def hostile_dataset() -> Dataset:
    """Strings the loader would refuse (bad URLs), to show the writer is inert on its own."""
    from kvmq.dataset.model import Command, Dimension, Note, Source, Subject

    subjects = (Subject("a", "A", "t", "https://a.example/"), Subject("b", "B", "t", "https://b.example/"))
    dimension = Dimension(
        id="x", title="X\n\n<div>title</div>", verdict="v\n\n# heading",
        descriptions={"a": "first\n\n<script>evil()</script>\n\n    code", "b": "plain"},
        notes=(Note("n\n\n<iframe>", HOSTILE_URL, "correction"),),
        commands={"a": (Command(HOSTILE_RUN, "does"),)},
        sources=(HOSTILE_URL, "https://example.org/ok"),
    )
    return Dataset(title="T", summary="s\n\n<style>x</style>", source=Source("S", "P", HOSTILE_URL),
                   subjects=subjects, dimensions=(dimension,), pros={"a": (), "b": ()})


def test_markdown_of_hostile_text_is_inert() -> None:
    dataset = hostile_dataset()
    markdown = render.show_markdown(dataset, dataset.dimensions)
    tokens = MarkdownIt("commonmark").parse(markdown)
    kinds = {token.type for token in tokens}
    assert "html_block" not in kinds and "code_block" not in kinds, markdown
    inline_kinds = {child.type for token in tokens for child in token.children or ()}
    assert "html_inline" not in inline_kinds, markdown
    parsed = markdown_to_html(markdown)
    assert parsed.tags <= {"h1", "h2", "p", "em", "strong", "blockquote", "a", "ul", "li", "code",
                           "hr"}, parsed.tags
    assert all(href.startswith("https://") for href in parsed.hrefs), parsed.hrefs
    assert not any(c in href for href in parsed.hrefs for c in "<>() \"")
    # The command is one code span holding all of it (blank lines became spaces).
    (code,) = [child.content for token in tokens for child in token.children or ()
               if child.type == "code_inline"]
    assert code == "echo `a` ``b`` <script>alert(1)</script> indented code?"


@pytest.mark.parametrize("text", ["`", "``x``", "a ``` b", "`a`\n\n`b`"])
def test_code_span_fence_is_longer_than_any_backtick_run(text: str) -> None:
    tokens = MarkdownIt("commonmark").parseInline(render.md_code(text))
    (span,) = [t for t in tokens[0].children or () if t.type == "code_inline"]
    assert span.content.strip() == " ".join(text.split()).replace("\n", " ").strip()
