"""The comparison pane on its own: what it renders, its layouts, scrolling and odd sizes."""

from __future__ import annotations

from typing import ClassVar, Optional

import pytest
from textual import events
from textual.app import App, ComposeResult
from textual.color import Color

from kvmq.dataset.model import Dataset, Dimension
from kvmq.tui.comparison_pane import COLUMN_GAP, ComparisonPane
from tests.tui_helpers import burst, fixture, screen_text, shipped, started, wait_until


class PaneApp(App[None]):
    """Only the pane, full screen, with the explorer's width classes on the screen."""

    HORIZONTAL_BREAKPOINTS: ClassVar = [(0, "-narrow"), (60, "-medium"), (100, "-wide")]

    def __init__(self, dataset: Dataset, pane_width: Optional[int] = None) -> None:
        super().__init__()
        self.dataset = dataset
        self._pane_width = pane_width

    def compose(self) -> ComposeResult:
        pane = ComparisonPane(self.dataset, id="pane")
        if self._pane_width is not None:
            pane.styles.width = self._pane_width
        yield pane

    def on_resize(self, event: events.Resize) -> None:
        # As the explorer does: subjects side by side from 100 columns on.
        self.query_one(ComparisonPane).side_by_side = event.size.width >= 100


def rendered_strips(pane: ComparisonPane) -> list:  # type: ignore[type-arg]
    """The strips of the rows in view, through the public line API."""
    return [pane.render_line(y) for y in range(pane.scrollable_content_region.height)]


def squeeze(text: str) -> str:
    """Text without any whitespace: wrapping may only move text between lines."""
    return "".join(text.split())


def columns_text(pane: ComparisonPane, count: int) -> list[str]:
    """Each side-by-side column's text, read from the rendered lines by cell position."""
    width = pane.scrollable_content_region.width
    column_width = (width - COLUMN_GAP * (count - 1)) // count
    lines = [line.ljust(width) for line in pane.plain_lines()]
    starts = [index * (column_width + COLUMN_GAP) for index in range(count)]
    return ["\n".join(line[start:start + column_width] for line in lines) for start in starts]


def heading_rows(pane: ComparisonPane, dataset: Dataset) -> list[tuple[int, int]]:
    """(line, column) where each subject's heading (name, two spaces, tagline) starts."""
    lines = pane.plain_lines()
    return [next((y, line.find(f"{subject.name}  ")) for y, line in enumerate(lines)
                 if f"{subject.name}  " in line)
            for subject in dataset.subjects]


async def show(pilot, pane: ComparisonPane, dimension: Dimension) -> None:  # type: ignore[no-untyped-def]
    pane.show_dimension(dimension)
    await pilot.pause()


@pytest.mark.parametrize("data", ["shipped", "three-subjects.yaml"])
@pytest.mark.parametrize("size", [(150, 40), (80, 24)])
async def test_every_description_is_rendered(data: str, size: tuple[int, int]) -> None:
    dataset = shipped() if data == "shipped" else fixture(data)
    app = PaneApp(dataset)
    async with app.run_test(size=size) as pilot:
        pane = app.query_one(ComparisonPane)
        assert pane.dimension == dataset.dimensions[0]
        side_by_side = size[0] >= 100
        for dimension in dataset.dimensions:
            await show(pilot, pane, dimension)
            # Scrollable exactly as far as the text goes; never shorter than the viewport. After
            # a move the virtual size follows once the moves stop (its layout waits).
            await wait_until(pilot, lambda: pane.virtual_size.height == max(
                len(pane.plain_lines()), pane.scrollable_content_region.height), timeout=2)
            # The notes' left bar is not part of their text.
            rendered = squeeze("\n".join(pane.plain_lines()).replace("▌", ""))
            assert squeeze(dimension.title) in rendered
            if dimension.verdict:
                assert squeeze(dimension.verdict) in rendered
            # Side by side, each description is read down its own column.
            places = ([squeeze(text) for text in columns_text(pane, len(dataset.subjects))]
                      if side_by_side else [rendered] * len(dataset.subjects))
            for subject, place in zip(dataset.subjects, places):
                assert squeeze(dimension.descriptions[subject.id]) in place
                assert dimension.descriptions[subject.id] in pane.plain_text()
            for note in dimension.notes:
                assert squeeze(note.text) in rendered
            for commands in dimension.commands.values():
                for command in commands:
                    assert squeeze(command.run) in rendered.replace("\\", "")
                    assert squeeze(command.does) in rendered
            for url in dimension.sources:
                assert url in rendered


@pytest.mark.parametrize("size", [(120, 30), (70, 30)])
async def test_markup_looking_text_renders_literally(size: tuple[int, int]) -> None:
    dataset = fixture("markup.yaml")
    app = PaneApp(dataset)
    async with app.run_test(size=size) as pilot:
        await pilot.pause()
        pane = app.query_one(ComparisonPane)
        rendered = squeeze("\n".join(pane.plain_lines()))
        for text in ("[bold]x Brackets", "[/] closes nothing", "[b]Left[/b]", "Right [/]",
                     "qemu-system-x86_64 [options]", "[/] stays [/].",
                     "[link=file:///etc/passwd]x[/link] and $var",
                     "[@click=app.quit]Not a link[/]", "https://example.com/[x]",
                     "echo [bold]hi[/bold]", "prints [bold]hi[/bold]"):
            assert squeeze(text) in rendered, text
        sources = {url for d in dataset.dimensions for url in d.sources}
        sources |= {n.source for d in dataset.dimensions for n in d.notes if n.source}
        for strip in rendered_strips(pane):
            for segment in strip:
                style = segment.style
                # Only a source URL is a link; markup in the text never makes one.
                assert style is None or not style.link or style.link in sources
                assert style is None or "@click" not in style.meta


async def test_subjects_side_by_side_when_wide_and_stacked_otherwise() -> None:
    dataset = shipped()
    app = PaneApp(dataset)
    async with app.run_test(size=(120, 30)) as pilot:
        pane = app.query_one(ComparisonPane)
        (y0, x0), (y1, x1) = heading_rows(pane, dataset)
        assert y0 == y1 and x0 < x1
        await pilot.resize_terminal(99, 30)
        await pilot.pause()
        (y0, x0), (y1, x1) = heading_rows(pane, dataset)
        assert x0 == x1 == 0 and y0 < y1
        await pilot.resize_terminal(100, 30)
        await pilot.pause()
        (y0, _), (y1, _) = heading_rows(pane, dataset)
        assert y0 == y1


async def test_three_subjects_three_columns_and_stacked_when_columns_too_narrow() -> None:
    dataset = fixture("three-subjects.yaml")
    app = PaneApp(dataset)
    async with app.run_test(size=(150, 30)) as pilot:
        pane = app.query_one(ComparisonPane)
        rows = heading_rows(pane, dataset)
        assert len({y for y, _ in rows}) == 1 and len({x for _, x in rows}) == 3
        # The rules under the headings line up even when the headings wrap differently.
        lines = pane.plain_lines()
        rule_rows = {y for y, line in enumerate(lines) if line.startswith("─")}
        assert len(rule_rows) == 1
        assert lines[rule_rows.pop()].count("─") >= 3 * 16
        # Still a wide screen, but the pane leaves columns under 16 cells: stacked.
        pane.styles.width = 50
        await pilot.pause()
        rows = heading_rows(pane, dataset)
        assert {x for _, x in rows} == {0}
        assert rows[0][0] < rows[1][0] < rows[2][0]


async def test_keys_and_wheel_scroll_the_focused_pane() -> None:
    dataset = shipped()
    app = PaneApp(dataset)
    async with app.run_test(size=(80, 12)) as pilot:
        pane = app.query_one(ComparisonPane)
        pane.focus()
        await pilot.pause()
        assert pane.max_scroll_y > 12
        await pilot.press("down")
        await pilot.pause()
        assert pane.scroll_y == 1
        await pilot.press("pagedown")
        await pilot.pause()
        assert pane.scroll_y > 5
        await pilot.press("end")
        await pilot.pause()
        assert pane.scroll_y == pane.max_scroll_y
        # The last rendered line is on screen at the end.
        last = next(line for line in reversed(pane.plain_lines()) if line.strip())
        assert last in screen_text(app)
        await pilot.press("pageup")
        await pilot.pause()
        assert pane.scroll_y < pane.max_scroll_y
        await pilot.press("home")
        await pilot.pause()
        assert pane.scroll_y == 0
        # Another dimension starts at its top.
        await show(pilot, pane, dataset.dimensions[3])
        assert pane.scroll_y == 0


async def test_theme_change_recolours_the_pane() -> None:
    dataset = shipped()
    app = PaneApp(dataset)
    async with app.run_test(size=(120, 30)) as pilot:
        pane = app.query_one(ComparisonPane)
        name = dataset.subjects[0].name

        def heading_colour() -> Color:
            for strip in rendered_strips(pane):
                for segment in strip:
                    if segment.text == name and segment.style and segment.style.color:
                        return Color.from_rich_color(segment.style.color)
            raise AssertionError("no subject heading")

        def verdict_colour() -> Color:
            verdict = rendered_strips(pane)[1]  # title, verdict
            colours = {segment.style.color for segment in verdict
                       if segment.text.strip() and segment.style and segment.style.color}
            assert len(colours) == 1
            return Color.from_rich_color(colours.pop())

        before = heading_colour(), verdict_colour()
        assert before[0] == Color.parse(app.theme_variables["accent"])
        app.theme = "nord" if app.theme != "nord" else "dracula"
        await pilot.pause()
        await pilot.pause()
        assert heading_colour() == Color.parse(app.theme_variables["accent"])
        assert heading_colour() != before[0]
        assert verdict_colour() != before[1]
        # The muted verdict stays between the background and the text colour.
        background = Color.from_rich_color(pane.visual_style.rich_style.bgcolor)
        text = Color.parse(app.theme_variables["foreground"])
        assert background.brightness < verdict_colour().brightness < text.brightness


async def test_tiny_sizes_and_a_resize_sweep_do_not_raise() -> None:
    dataset = shipped()
    app = PaneApp(dataset)
    sizes = [(20, 8), (3, 3), (2, 2), (99, 10), (100, 10), (200, 60)]
    async with app.run_test(size=(20, 8)) as pilot:
        pane = app.query_one(ComparisonPane)
        pane.focus()
        for index, (width, height) in enumerate(sizes):
            await pilot.resize_terminal(width, height)  # it pauses itself
            await show(pilot, pane, dataset.dimensions[index % len(dataset.dimensions)])
            await burst(pilot, "end", "pageup", "down")
            assert app.is_running


@pytest.mark.parametrize("data", ["shipped", "three-subjects.yaml", "markup.yaml"])
async def test_content_widths_of_zero_to_a_few_cells_render(data: str) -> None:
    dataset = shipped() if data == "shipped" else fixture(data)
    app = PaneApp(dataset)
    async with app.run_test(size=(120, 20)) as pilot:
        pane = app.query_one(ComparisonPane)
        for width in (0, 1, 2, 3, 4, 5, 8, 17, 40):
            pane.styles.width = width
            await pilot.pause()
            for dimension in dataset.dimensions[:4]:
                await show(pilot, pane, dimension)
                content_width = pane.scrollable_content_region.width
                for line in pane.plain_lines():
                    assert len(line) <= max(0, content_width)
            assert app.is_running


@pytest.mark.parametrize("size", [(120, 36), (80, 24)])
async def test_the_screen_shows_exactly_the_highlighted_dimension_after_every_move(
        size: tuple[int, int]) -> None:
    # Moving repaints only the rows that changed: what is on screen must still be the new
    # dimension's rows and nothing left over from the one before.
    from tests.tui_helpers import make_app

    app = make_app()
    async with started(app, size=size) as pilot:
        pane = app.query_one(ComparisonPane)
        region = pane.scrollable_content_region
        count = len(app.dataset.dimensions)
        # Every dimension after the one before it, then moves back up, far jumps, and a
        # jump to a neighbour the pane had laid out ahead.
        keys = ["down"] * (count - 1) + ["up"] * 4 + ["end", "home", "down"]
        for key in keys:
            await burst(pilot, key)  # one key and one pause: pilot.press waits twice more
            expected = pane.plain_lines()[:region.height]
            expected += [""] * (region.height - len(expected))
            rows = screen_text(app).split("\n")[region.y:region.bottom]
            shown = [row[region.x:region.right].rstrip() for row in rows]
            assert shown == expected, f"after {key!r} at {pane.dimension.id}"


async def test_dragging_the_mouse_selects_text_in_the_pane() -> None:
    from tests.tui_helpers import make_app

    app = make_app()
    async with started(app, size=(120, 36)) as pilot:
        pane = app.query_one(ComparisonPane)
        title = app.dataset.dimensions[0].title
        lines = pane.plain_lines()
        row = lines.index(title)
        left = pane.scrollable_content_region.x - pane.region.x
        # Drag over the title (the cell under the pointer is included), then on to the next row.
        last = left + len(title) - 1
        await pilot.mouse_down(pane, offset=(left, row))
        await pilot.hover(pane, offset=(last, row))
        await pilot.mouse_up(pane, offset=(last, row))
        await pilot.pause()
        assert app.screen.get_selected_text() == title
        await pilot.press("ctrl+c")
        assert app.clipboard == title
        # The selected cells are drawn in the selection style.
        selected_style = app.screen.get_component_rich_style("screen--selection")
        strip = pane.render_line(row)
        styles = [segment.style for segment in strip if segment.text.strip()]
        assert styles and all(selected_style.bgcolor == style.bgcolor for style in styles)

        await pilot.mouse_down(pane, offset=(left, row))
        await pilot.hover(pane, offset=(left + 5, row + 1))
        await pilot.mouse_up(pane, offset=(left + 5, row + 1))
        await pilot.pause()
        assert app.screen.get_selected_text() == f"{title}\n{lines[row + 1][:6]}"


@pytest.mark.parametrize("width", [80, 40, 24])
async def test_commands_wrap_only_at_spaces_and_urls_are_never_broken(width: int) -> None:
    dataset = shipped()
    app = PaneApp(dataset)
    async with app.run_test(size=(width, 30)) as pilot:
        pane = app.query_one(ComparisonPane)
        for dimension in dataset.dimensions:
            await show(pilot, pane, dimension)
            lines = [line.strip() for line in pane.plain_lines()]
            for url in dimension.sources:
                # On one line: whole, or cut with an ellipsis (the link holds all of it).
                assert any(line == url or (line.endswith("…") and url.startswith(line[:-1]))
                           for line in lines), url
            # Each "$ " line and the lines its "\\" continues onto, joined again.
            joined: list[str] = []
            for line in lines:
                if line.startswith("$ "):
                    joined.append(line[2:])
                elif joined and joined[-1].endswith("\\"):
                    joined[-1] = joined[-1][:-1] + line
            for commands in dimension.commands.values():
                for command in commands:
                    assert command.run in joined, command.run


async def test_a_source_url_is_a_clickable_link() -> None:
    dataset = shipped()
    app = PaneApp(dataset)
    async with app.run_test(size=(120, 60)) as pilot:
        pane = app.query_one(ComparisonPane)
        opened: list[str] = []
        app.open_url = lambda url, **kw: opened.append(url)  # type: ignore[method-assign]
        dimension = next(d for d in dataset.dimensions if d.sources)
        await show(pilot, pane, dimension)
        lines = pane.plain_lines()
        url = dimension.sources[0]
        row = next(y for y, line in enumerate(lines) if line.strip() == url)
        links = {segment.style.link for segment in pane.render_line(row) if segment.style}
        assert url in links
        left = pane.scrollable_content_region.x - pane.region.x
        await pilot.click(pane, offset=(left + 2, row))
        assert opened == [url]


async def test_a_huge_description_and_many_subjects_never_freeze_the_pane(tmp_path) -> None:  # type: ignore[no-untyped-def]
    # Issue 17, item 7: a 10 MB description used to be wrapped whole before the first frame.
    # It is laid out as far as the view needs: about 90,000 rows in all at this width, of
    # which the first frame and a few pages down lay out a few hundred.
    import dataclasses

    dataset = shipped()
    first = dataset.dimensions[0]
    text = "lorem ipsum dolor sit amet " * 400_000
    full_rows = len(text) // 120
    huge = first.replace(descriptions={**first.descriptions, dataset.subjects[0].id: text})
    many = tuple(dataclasses.replace(dataset.subjects[0], id=f"s{i}", name=f"S{i}")
                 for i in range(10_000))
    wide = dataclasses.replace(dataset, subjects=many, dimensions=(huge, *dataset.dimensions[1:]))
    for data in (dataclasses.replace(dataset, dimensions=(huge, *dataset.dimensions[1:])), wide):
        app = PaneApp(data)
        app.animation_level = "none"
        async with app.run_test(size=(120, 36)) as pilot:
            pane = app.query_one(ComparisonPane)
            await pilot.pause()
            assert 36 <= pane.virtual_size.height < full_rows // 20
            pane.focus()
            await pilot.press("pagedown", "pagedown", "end")
            await pilot.pause()
            assert pane.scroll_y > 0
            assert pane.virtual_size.height < full_rows // 20


async def test_a_move_never_waits_for_a_layout_and_the_scrollbar_follows() -> None:
    """Moving to a dimension of another length repaints rows at once; the virtual size (whose
    change lays out the whole screen) follows when the moves stop, exactly."""
    dataset = shipped()
    app = PaneApp(dataset)
    async with app.run_test(size=(80, 24)) as pilot:
        pane = app.query_one(ComparisonPane)
        await pilot.pause()

        def wanted() -> int:
            return max(len(pane.plain_lines()), pane.scrollable_content_region.height)

        heights = {}
        for dimension in dataset.dimensions:
            await show(pilot, pane, dimension)
            heights[dimension.id] = wanted()
        first = dataset.dimensions[0]
        other = next(d for d in dataset.dimensions if heights[d.id] != heights[first.id])
        await show(pilot, pane, first)
        await wait_until(pilot, lambda: pane.virtual_size.height == heights[first.id], timeout=2)
        pane.show_dimension(other)
        assert pane.virtual_size.height == heights[first.id]  # no layout in the move's frame
        await pilot.pause()
        assert pane.plain_lines()[0].strip() == other.title  # its rows are what is drawn
        await wait_until(pilot, lambda: pane.virtual_size.height == heights[other.id], timeout=2)
