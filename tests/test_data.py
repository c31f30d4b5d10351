"""The shipped dataset as data: what it must say, not how it is parsed (that is test_loader.py).

The pros keep the base comparison's exact votes, every dimension and correction is sourced,
no command is repeated where a reference would do, and every caution reaches the operator
in each rendering: CLI text, Markdown, JSON and the explorer's pane.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from typing import Iterator

import pytest
from rich.console import Console
from rich.segment import Segment
from textual.color import Color

from kvmq.dataset.loader import load
from kvmq.dataset.model import Command, Dataset, Dimension
from kvmq.render import dataset as render
from kvmq.render.dataset import CAUTION_LABEL, NEEDS_LABEL
from kvmq.tui.comparison_pane import ComparisonPane
from tests.conftest import SHIPPED_DATASET, RunKvmq
from tests.helpers import iter_texts
from tests.tui_helpers import make_app, started

# The six dimensions of the base comparison, first and in its order.
BASE_DIMENSIONS = (
    "architecture", "performance", "guest-support", "device-emulation", "management", "integration",
)
# The base comparison is right about integration: that row's note is a caveat, not a correction.
CORRECTED_BASE_DIMENSIONS = BASE_DIMENSIONS[:5]
# Issue 15's eight new dimensions, on top of the ten of the first edition.
ADDED_IN_SECOND_EDITION = (
    "kvm-or-tcg", "cpu-models", "machine-types", "tuning", "windows-guests", "confidential-vms",
    "firmware", "tcg",
)
TERMINAL_UNSAFE_RE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
URL_RE = re.compile(r"^https?://[^\s/]+\.[^\s]+$")
# Wide enough that no command line, description or caution wraps in the text table.
UNWRAPPED = {"COLUMNS": "4000"}


@pytest.fixture(scope="module")
def shipped() -> Dataset:
    return load(SHIPPED_DATASET)


def commands_of(dataset: Dataset) -> Iterator[tuple[Dimension, str, Command]]:
    for dimension in dataset.dimensions:
        for subject_id, commands in dimension.commands.items():
            for command in commands:
                yield dimension, subject_id, command


def cautioned(dataset: Dataset) -> list[tuple[Dimension, Command]]:
    return [(dimension, command) for dimension, _sid, command in commands_of(dataset) if command.caution]


# --------------------------------------------------------------------------- shape


def test_shipped_dataset_shape(shipped: Dataset) -> None:
    assert shipped.schema == 1
    assert [s.id for s in shipped.subjects] == ["kvm", "qemu"]
    assert [s.name for s in shipped.subjects] == ["KVM", "QEMU"]
    ids = [d.id for d in shipped.dimensions]
    assert len(ids) == len(set(ids)) == 24
    assert ids[:6] == list(BASE_DIMENSIONS), "the base comparison's six dimensions come first, in order"
    assert set(ADDED_IN_SECOND_EDITION) <= set(ids)
    for dimension in shipped.dimensions:
        assert set(dimension.descriptions) == {"kvm", "qemu"}, dimension.id
        assert all(text.strip() for text in dimension.descriptions.values())


def test_pros_keep_the_base_comparisons_exact_votes(shipped: Dataset) -> None:
    pros = {sid: [(p.label, p.votes) for p in items] for sid, items in shipped.pros.items()}
    assert pros == {
        "kvm": [("No license issues", 4), ("Very fast", 2), ("Flexible network options", 2)],
        "qemu": [("Performance", 1), ("Easy to use", 1), ("Free", 1)],
    }
    assert shipped.source is not None and shipped.source.publisher == "StackShare"


def test_text_is_terminal_safe(shipped: Dataset) -> None:
    for text in iter_texts(shipped):
        assert not TERMINAL_UNSAFE_RE.search(text), text


# --------------------------------------------------------------------------- sources


def test_every_dimension_has_a_source(shipped: Dataset) -> None:
    for dimension in shipped.dimensions:
        assert dimension.sources, f"{dimension.id} has no sources"
        for url in dimension.sources:
            assert URL_RE.match(url), (dimension.id, url)
        assert len(set(dimension.sources)) == len(dimension.sources), f"{dimension.id} repeats a source"


def test_every_correction_has_a_source_and_says_what_was_wrong(shipped: Dataset) -> None:
    corrections = [(d, n) for d in shipped.dimensions for n in d.notes if n.is_correction]
    assert corrections
    for dimension, note in corrections:
        assert note.source and URL_RE.match(note.source), (dimension.id, note.text)
        assert note.text.startswith("The base comparison "), (dimension.id, note.text)
        assert "in fact" in note.text, (dimension.id, note.text)
        assert dimension.id in BASE_DIMENSIONS, "only the base comparison can be corrected"


@pytest.mark.parametrize("dimension_id", CORRECTED_BASE_DIMENSIONS)
def test_the_base_comparisons_errors_are_corrected(shipped: Dataset, dimension_id: str) -> None:
    assert any(note.is_correction for note in shipped.find(dimension_id).notes)


def test_integration_note_is_a_caveat(shipped: Dataset) -> None:
    notes = shipped.find("integration").notes
    assert notes and not any(note.is_correction for note in notes)


# --------------------------------------------------------------------------- commands


def test_no_command_is_repeated(shipped: Dataset) -> None:
    """One dimension owns each command; the others refer to it in a note or description."""
    runs = Counter(command.run for _dimension, _sid, command in commands_of(shipped))
    assert [run for run, count in runs.items() if count > 1] == []
    assert runs["ls -l /dev/kvm"] == 1


def test_commands_that_destroy_or_stop_carry_a_caution(shipped: Dataset) -> None:
    by_run = {command.run: command for _dimension, _sid, command in commands_of(shipped)}
    for run in ("qemu-img create -f qcow2 vm.qcow2 20G", "qemu-img resize vm.qcow2 +10G",
                "qemu-system-x86_64 -accel kvm -accel tcg -m 2G -drive file=vm.qcow2,if=virtio",
                "virsh nodedev-detach pci_0000_01_00_0"):
        assert by_run[run].caution, run
    assert "without asking" in (by_run["qemu-img create -f qcow2 vm.qcow2 20G"].caution or "")


def test_the_known_errors_stay_fixed(shipped: Dataset) -> None:
    management = shipped.find("management").descriptions["qemu"]
    assert "Proxmox VE skips libvirt" in management
    architecture_caveat = " ".join(n.text for n in shipped.find("architecture").notes)
    assert "KVM_CREATE_IRQCHIP" in architecture_caveat
    assert "has no devices" not in shipped.summary
    assert "4.20" in (shipped.find("nested-virtualization").verdict or "")
    assert "https://libvirt.org/migration.html" in shipped.find("live-migration").sources
    guest = shipped.find("guest-support")
    assert any(n.source and n.source.endswith("macOSSequoia.pdf") for n in guest.notes)
    confidential = shipped.find("confidential-vms")
    for version in ("Linux 6.11", "Linux 6.16", "QEMU 9.1", "QEMU 10.1"):
        assert version in (confidential.verdict or ""), version


# --------------------------------------------------------------------------- every caution, every rendering


def test_the_shipped_file_has_cautions_and_needs(shipped: Dataset) -> None:
    assert len(cautioned(shipped)) >= 8
    assert sum(1 for _d, _s, command in commands_of(shipped) if command.needs) >= 8


def test_every_caution_in_cli_text(run_kvmq: RunKvmq, shipped: Dataset) -> None:
    result = run_kvmq("show", env=UNWRAPPED)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    for dimension, command in cautioned(shipped):
        # On the line right under the command's own line, labelled in words (this output is plain).
        row = next(i for i, line in enumerate(lines) if f"$ {command.run} " in line + " ")
        assert f"{CAUTION_LABEL}{command.caution}" in lines[row + 1], (dimension.id, command.run)
    for _dimension, _sid, command in commands_of(shipped):
        if command.needs:
            assert f"{NEEDS_LABEL}{command.needs}" in result.stdout, command.run


def test_every_caution_is_highlighted_in_colour(shipped: Dataset) -> None:
    console = Console(width=4000, force_terminal=True, color_system="truecolor", no_color=False)
    for dimension, command in cautioned(shipped):
        segments = list(console.render(render.dimension_renderable(shipped, dimension, 4000)))
        label = _segment_with(segments, CAUTION_LABEL.strip())
        body = _segment_with(segments, command.caution or "")
        assert label.style and label.style.bold and label.style.color, dimension.id
        does = _segment_with(segments, command.does)
        assert body.style and body.style.color and body.style.color != (does.style and does.style.color)


def _segment_with(segments: list[Segment], text: str) -> Segment:
    return next(segment for segment in segments if text in segment.text)


def test_every_caution_in_markdown(run_kvmq: RunKvmq, shipped: Dataset) -> None:
    result = run_kvmq("show", "--format", "markdown")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    for dimension, command in cautioned(shipped):
        row = next(i for i, line in enumerate(lines) if render.md_code(command.run) in line)
        expected = f"  - **{CAUTION_LABEL.strip()}** {render.md_escape(command.caution or '')}"
        assert lines[row + 1] == expected, dimension.id


def test_every_caution_and_need_in_json(run_kvmq: RunKvmq, shipped: Dataset) -> None:
    result = run_kvmq("show", "--format", "json")
    assert result.returncode == 0, result.stderr
    decoded = json.loads(result.stdout)
    found = {
        (dimension["id"], command["run"]): (command["caution"], command["needs"])
        for dimension in decoded["dimensions"]
        for commands in dimension["commands"].values()
        for command in commands
    }
    for dimension, _sid, command in commands_of(shipped):
        assert found[(dimension.id, command.run)] == (command.caution, command.needs)


async def test_every_caution_in_the_explorer(shipped: Dataset) -> None:
    app = make_app(shipped)
    async with started(app, size=(120, 36)) as pilot:
        pane = app.query_one(ComparisonPane)
        warning = Color.parse(app.current_theme.warning).rich_color
        for dimension, command in cautioned(shipped):
            pane.show_dimension(dimension)
            await pilot.pause()
            blocks = pane.plain_text().splitlines()
            caution = f"{CAUTION_LABEL}{command.caution}"
            assert caution in blocks, (dimension.id, command.run)
            # Right under what the command does, as the command block shows it.
            assert blocks[blocks.index(caution) - 1] == command.does, dimension.id
            # Highlighted: scroll the caution's first line into view and look at its cells.
            row = next(i for i, line in enumerate(pane.plain_lines())
                       if CAUTION_LABEL.strip() in line and command.caution.split()[0] in line)
            pane.scroll_to(y=row, animate=False, immediate=True)
            await pilot.pause()
            label = next(segment for segment in pane.render_line(row - pane.scroll_offset.y)
                         if segment.text.startswith(CAUTION_LABEL.strip()))
            assert label.style is not None and label.style.bold and label.style.color, dimension.id
            # The theme's warning colour (blended over the command block's background, so within
            # a rounding step of it).
            got, want = label.style.color.get_truecolor(), warning.get_truecolor()
            assert all(abs(a - b) <= 2 for a, b in zip(got, want)), (dimension.id, got, want)
