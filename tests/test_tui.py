"""Pilot tests: drive the explorer with keys as a person would and check what it shows."""

from __future__ import annotations

import dataclasses
import random

import pytest
from textual.widgets import Input, OptionList, TabbedContent

from kvmq.dataset.background import BackgroundLoad
from kvmq.dataset.loader import load
from kvmq.dataset.search import FilterIndex, search_text
from kvmq.tui.comparison_pane import ComparisonPane
from kvmq.tui.dimension_list import DimensionList
from kvmq.tui.filter_bar import FilterBar
from kvmq.tui.help_screen import HelpScreen
from tests.conftest import DATASETS_DIR
from tests.tui_helpers import (
    TUI_FIXTURES,
    burst,
    fake_host,
    fixture,
    footer_line,
    make_app,
    screen_text,
    shipped,
    started,
    wait_for_footer,
    wait_for_palette_search,
    wait_until,
)

SIZE = (120, 36)


def pane_text(app) -> str:
    return app.query_one(ComparisonPane).plain_text()


def heading_positions(app, dataset) -> list[tuple[int, int]]:
    """(line, column) of each subject's heading in the pane's rendered lines."""
    lines = app.query_one(ComparisonPane).plain_lines()
    return [next((y, line.find(f"{s.name}  ")) for y, line in enumerate(lines)
                 if f"{s.name}  " in line) for s in dataset.subjects]


async def test_start_help_tab_click_copy_and_q() -> None:
    """One app through read-only steps that each leave the explorer where the next expects it:
    the state at start, the help screen (opened and closed), a click on a tab, a copy, then q."""
    dataset = shipped()
    app = make_app(dataset)
    async with started(app, size=SIZE) as pilot:
        # At start: the first dimension highlighted, focused and described.
        await pilot.pause()
        dimension_list = app.query_one(DimensionList)
        first = dataset.dimensions[0]
        assert dimension_list.highlighted == 0, "at start the first dimension is highlighted"
        assert app.focused is dimension_list, "at start the list has the focus"
        assert app.query_one(ComparisonPane).dimension == first, "at start the pane shows the first"
        text = pane_text(app)
        for subject in dataset.subjects:
            assert first.descriptions[subject.id] in text, f"start: {subject.id}'s description"
        screen = screen_text(app)
        assert first.title in screen, "start: the first title is on screen"
        assert dataset.title in screen, "start: the dataset's title is on screen"

        # The help screen lists the keys, says the list wraps around, and escape closes it.
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen), "? opens the help screen"
        text = screen_text(app)
        for expected in ("filter", "copy", "leave", "^p", "j", "tab"):
            assert expected in text, f"help lists {expected!r}"
        assert "from the last: the first" in text, "help says the list wraps around"
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, HelpScreen), "escape closes the help screen"

        # Clicking a tab switches to it.
        await pilot.click("#tabs Tab#--content-tab-summary")
        await pilot.pause()
        assert app.query_one(TabbedContent).active == "summary", "a click on the tab switches to it"

        # Copy (back on the Compare tab): the dimension as Markdown on the clipboard.
        await pilot.press("1")
        await pilot.pause()
        assert app.focused is dimension_list and dimension_list.highlighted == 0
        notes: list[str] = []
        notify = app.notify
        app.notify = lambda message, **kw: (notes.append(message), notify(message, **kw))[1]  # type: ignore[method-assign]
        await pilot.press("j", "y")
        await pilot.pause()
        second = dataset.dimensions[1]
        assert app.clipboard.startswith(f"## {second.title}\n"), "y copies the highlighted one"
        assert "**KVM:**" in app.clipboard and "**QEMU:**" in app.clipboard, "copy has both subjects"
        assert notes == [f"Copied '{second.title}' as Markdown"], "copy says what it copied"

        # q quits.
        await pilot.press("q")
        await pilot.pause()
        assert not app.is_running, "q quits"




async def test_moving_through_the_list_updates_the_pane() -> None:
    """Each key sequence from the top of the list (one app: home leads back there)."""
    dataset = shipped()
    app = make_app(dataset)
    moves: list[tuple[list[str], int | None]] = [
        (["down"], 1), (["j"], 1), (["j", "j", "k"], 1), (["down", "down", "up"], 1),
        (["end"], -1), (["G"], -1), (["end", "home"], 0), (["G", "g"], 0), (["pagedown"], None),
    ]
    async with started(app, size=SIZE) as pilot:
        dimension_list = app.query_one(DimensionList)
        for keys, index in moves:
            await pilot.press("home")
            assert dimension_list.highlighted == 0
            await pilot.press(*keys)
            await pilot.pause()
            highlighted = dimension_list.highlighted
            assert highlighted is not None
            if index is None:  # a page down moves by more than one line
                assert highlighted > 1, keys
            else:
                assert highlighted == index % len(dataset.dimensions), keys
            expected = dataset.dimensions[highlighted]
            assert app.query_one(ComparisonPane).dimension == expected
            assert expected.descriptions[dataset.subjects[1].id] in pane_text(app), keys


async def test_number_keys_switch_tabs_and_show_their_content() -> None:
    app = make_app()
    async with started(app, size=SIZE) as pilot:
        tabs = app.query_one(TabbedContent)
        await pilot.press("2")
        await pilot.pause()
        assert tabs.active == "pros"
        screen = screen_text(app)
        for label, votes in [("No license issues", 4), ("Very fast", 2),
                             ("Flexible network options", 2), ("Performance", 1),
                             ("Easy to use", 1), ("Free", 1)]:
            line = next(line for line in screen.splitlines() if label in line)
            assert str(votes) in line.split(label, 1)[1]
        assert "Total" in screen
        await pilot.press("3")
        await pilot.pause()
        assert tabs.active == "summary"
        assert "StackShare" in screen_text(app)
        await pilot.press("4")
        await wait_until(pilot, lambda: "KVM acceleration available" in screen_text(app))
        assert tabs.active == "host"
        assert "KVM acceleration available" in screen_text(app)
        await pilot.press("1")
        await pilot.pause()
        assert tabs.active == "compare"
        assert app.focused is app.query_one(DimensionList)






async def test_the_filter_index_is_built_when_the_filter_opens_not_at_start() -> None:
    app = make_app(shipped())
    async with started(app, size=SIZE) as pilot:
        dimension_list = app.query_one(DimensionList)
        await pilot.press("j", "tab", "shift+tab")
        await pilot.pause()
        assert not dimension_list.filter_ready, "a session that never filters builds no index"
        await pilot.press("slash")
        await pilot.pause()
        assert dimension_list.filter_ready


def test_a_filter_index_builds_itself_on_first_use() -> None:
    dataset = shipped()
    index = FilterIndex(dataset)
    assert not index.is_built
    assert [d.id for d in index.filter("")] == [d.id for d in dataset.dimensions]
    assert not index.is_built, "an empty query needs no index"
    assert [d.id for d in index.filter("qemu-img")] == ["disk-images"]
    assert index.is_built


async def test_filter_narrows_counts_keeps_and_clears() -> None:
    dataset = shipped()
    app = make_app(dataset)
    async with started(app, size=SIZE) as pilot:
        await pilot.press("slash")
        await pilot.pause()
        assert isinstance(app.focused, Input)
        await pilot.press(*"migration")
        await pilot.pause()
        dimension_list = app.query_one(DimensionList)
        visible = [d.id for d in dimension_list.shown_dimensions]
        assert "live-migration" in visible
        assert len(visible) < len(dataset.dimensions)
        assert visible == [d.id for d in FilterIndex(dataset).filter("migration")]
        assert dimension_list.option_count == len(visible)
        assert f"{len(visible)} of {len(dataset.dimensions)} match" in screen_text(app)
        # The highlight sits on a visible entry and the pane shows it.
        assert app.query_one(ComparisonPane).dimension == dimension_list.current
        assert dimension_list.current is not None and dimension_list.current.id in visible
        await pilot.press("enter")
        await pilot.pause()
        assert app.focused is dimension_list
        assert dimension_list.option_count == len(visible)
        await pilot.press("slash", "escape")
        await pilot.pause()
        assert dimension_list.option_count == len(dataset.dimensions)
        assert not app.query_one(FilterBar).display


async def test_filter_needs_every_word_and_searches_descriptions() -> None:
    dataset = shipped()
    app = make_app(dataset)
    async with started(app, size=SIZE) as pilot:
        await pilot.press("slash", *"VFIO iommu")
        await pilot.pause()
        visible = app.query_one(DimensionList).shown_dimensions
        assert visible
        for dimension in visible:
            text = search_text(dimension)
            assert "vfio" in text and "iommu" in text


async def test_filter_bar_submit_typing_bursts_and_width() -> None:
    """One app, the filter opened afresh for each step (escape closes and clears it)."""
    app = make_app()
    async with started(app, size=SIZE) as pilot:
        def bar() -> FilterBar:  # mounted the first time the filter opens
            return app.query_one(FilterBar)

        async def closed_and_cleared() -> None:
            await pilot.press("escape")
            await pilot.pause()
            assert not bar().display and bar().query_text == "", "escape closes and clears the filter"

        # An empty filter submitted hides the bar and gives the list the focus.
        await pilot.press("slash", "enter")
        await pilot.pause()
        assert not bar().display, "an empty submit hides the bar"
        assert isinstance(app.focused, OptionList), "an empty submit focuses the list"

        # q types into the filter instead of quitting.
        await pilot.press("slash", "q", "1")
        await pilot.pause()
        assert app.is_running, "q in the filter does not quit"
        assert bar().query_text == "q1", "q and 1 are typed into the filter"
        await closed_and_cleared()

        # A paste: every key queued at once, before the app has handled the first.
        await burst(pilot, "slash", *"gpu")
        await pilot.pause()
        assert bar().query_text == "gpu", "text in the same burst as / lands in the filter"
        await closed_and_cleared()

        # The input is as wide as the list.
        await pilot.press("slash", *"gpu passthrough")
        await pilot.pause()
        assert "gpu passthrough" in screen_text(app), "the typed text is on screen"
        assert app.query_one(Input).size.width >= app.query_one(DimensionList).size.width - 2, \
            "the filter input is as wide as the list"

async def test_filter_with_no_match_says_so() -> None:
    app = make_app()
    async with started(app, size=SIZE) as pilot:
        await pilot.press("G", "slash", *"zzzq")
        await pilot.pause()
        screen = screen_text(app)
        assert "No dimension matches 'zzzq'" in screen
        # The pane says so too, instead of what the partial "z" matched.
        pane = app.query_one(ComparisonPane)
        assert pane.dimension is None
        assert "No dimension matches 'zzzq'" in "\n".join(pane.plain_lines())
        # Enter leaves the input, so that a key after it is a command, not text.
        await pilot.press("enter", "y")
        await pilot.pause()
        assert app.query_one(FilterBar).query_text == "zzzq"
        assert not isinstance(app.focused, Input)
        await pilot.press("slash", "escape")
        await pilot.pause()
        assert "No dimension matches" not in screen_text(app)
        # Back on the dimension the user was on before filtering.
        last = app.dataset.dimensions[-1]
        assert app.query_one(DimensionList).current is last
        assert pane.dimension is last


async def test_palette_jumps_to_a_dimension() -> None:
    dataset = shipped()
    target = dataset.dimensions[-2]
    app = make_app(dataset)
    async with started(app, size=SIZE) as pilot:
        await pilot.press("2")
        await pilot.press("ctrl+p")
        await pilot.pause()
        await burst(pilot, *f"Go to {target.title}")  # typed fast, as people do
        await wait_for_palette_search(pilot, f"Go to {target.title}")
        await pilot.press("enter")
        await pilot.pause()
        assert app.query_one(TabbedContent).active == "compare"
        assert app.query_one(ComparisonPane).dimension == target


async def test_page_keys_in_the_same_burst_as_ctrl_p_page_the_palette() -> None:
    """Textual's command list pages by lines it has not laid out yet right after it opens:
    ctrl+p followed at once by a page key ended the app with KeyError."""
    from textual.command import CommandList, CommandPalette

    app = make_app()
    async with started(app, size=(80, 24)) as pilot:
        await burst(pilot, "ctrl+p", "pagedown", "end", "pageup", "pagedown")
        await burst(pilot, *"go to", "pagedown", "pageup", "pagedown")
        assert app.is_running and isinstance(app.screen, CommandPalette)
        commands = app.screen.query_one(CommandList)
        await wait_until(pilot, lambda: commands.option_count > 3 and commands.highlighted is not None)
        await pilot.press("home")
        await pilot.press("pagedown")
        await wait_until(pilot, lambda: (commands.highlighted or 0) > 0)  # it still pages








async def test_markup_looking_text_is_shown_literally() -> None:
    app = make_app(fixture("markup.yaml"))
    async with started(app, size=SIZE) as pilot:
        await pilot.pause()
        screen = screen_text(app)
        assert "[bold]x Brackets" in screen
        assert "qemu-system-x86_64 [options]" in screen
        assert "[/] stays [/]" in screen
        assert "[link=file:///etc/passwd]x[/link]" in screen
        assert "[@click=app.quit]Not a link[/]" in screen
        assert "⚠ Caution: [red]erases[/red] $warning the screen" in screen
        assert "Needs: [i]root[/i]" in screen
        assert app.is_running
        await pilot.press("2")
        await pilot.pause()
        assert "[b]Loud[/b]" in screen_text(app)


async def test_three_subjects_get_three_columns() -> None:
    dataset = fixture("three-subjects.yaml")
    app = make_app(dataset)
    async with started(app, size=(150, 30)) as pilot:
        await pilot.pause()
        positions = heading_positions(app, dataset)
        assert len({y for y, _ in positions}) == 1
        assert len({x for _, x in positions}) == 3
        screen = screen_text(app)
        for subject in dataset.subjects:
            assert subject.name in screen




def title_visible(app) -> bool:  # type: ignore[no-untyped-def]
    """The highlighted dimension's title (its start, as much as fits) is on screen."""
    pane = app.query_one(ComparisonPane)
    region = pane.scrollable_content_region
    if pane.dimension is None or region.width < 4 or region.height < 1 or pane.scroll_y:
        return True  # no room, nothing shown, or scrolled away on purpose
    rows = screen_text(app).split("\n")[region.y:region.bottom]
    start = pane.dimension.title[:min(region.width, 12)].split(" ")[0]
    return any(start in row[region.x:region.right] for row in rows)


async def test_survives_any_size_and_random_keys() -> None:
    """A sweep of sizes with a few random keys at each: nothing raises, the highlighted
    dimension's title stays on screen whenever the pane has room."""
    rng = random.Random(20261127)
    keys = ["up", "down", "j", "k", "g", "G", "home", "end", "pageup", "pagedown", "tab",
            "shift+tab", "1", "2", "3", "slash", "a", "z", "enter", "escape", "y",
            "question_mark", "escape", "backspace", "left", "right", "ctrl+p", "escape"]
    # Each side of each breakpoint (60 and 100 columns, 12 rows), the smallest, extremes.
    sizes = [(20, 8), (40, 12), (59, 11), (60, 20), (99, 30), (100, 30), (33, 60), (200, 8)]
    app = make_app()
    async with started(app, size=(20, 8)) as pilot:
        for width, height in sizes:
            await pilot.resize_terminal(width, height)
            # One key at a time: a burst here reached the palette's "Keys" command once in
            # CI (its key panel then covers the pane at 20x8); burst tests live on their own.
            for _ in range(4):
                await pilot.press(rng.choice(keys))
            # Back to the Compare tab with the list focused, to look at the pane.
            await pilot.press("escape", "escape", "1")
            await pilot.pause()
            assert app.is_running and app.return_code is None
            assert title_visible(app), f"at {width}x{height}"




async def test_j_k_g_G_and_tab_scroll_the_focused_pane() -> None:
    """j/k/g/G scroll the pane once tab focused it; shift+tab and tab move the focus between
    list and pane, and the pane scrolls with the arrow and page keys (one app)."""
    app = make_app()
    async with started(app, size=(80, 16)) as pilot:
        pane = app.query_one(ComparisonPane)
        dimension_list = app.query_one(DimensionList)
        await pilot.press("tab")
        assert app.focused is pane, "tab focuses the pane"
        await pilot.press("j", "j")
        await pilot.pause()
        assert pane.scroll_y == 2, "j scrolls the pane by one line"
        await pilot.press("k")
        await pilot.pause()
        assert pane.scroll_y == 1, "k scrolls back one line"
        await pilot.press("G")
        await pilot.pause()
        assert pane.scroll_y == pane.max_scroll_y > 1, "G scrolls to the end"
        await pilot.press("g")
        await pilot.pause()
        assert pane.scroll_y == 0, "g scrolls to the top"
        assert dimension_list.highlighted == 0, "keys in the pane never move the list"
        await pilot.press("shift+tab")
        assert app.focused is dimension_list, "shift+tab focuses the list"
        await pilot.press("tab")
        assert app.focused is pane, "tab focuses the pane again"
        await pilot.press("down", "down", "pagedown")
        await pilot.pause()
        assert pane.scroll_y > 0, "down and pagedown scroll the pane"
        await pilot.press("shift+tab")
        assert app.focused is dimension_list, "shift+tab goes back to the list"


async def test_subjects_stack_the_list_moves_up_and_the_highlight_stays_through_resizes() -> None:
    """Side by side at 120 columns, stacked below 100, the list above the pane below 60; then,
    back at 120x36, the last dimension highlighted and the terminal shrunk to 59x20: the
    highlight stays in view (one app)."""
    dataset = shipped()
    app = make_app(dataset)
    async with started(app, size=(120, 36)) as pilot:
        await pilot.pause()
        (y0, x0), (y1, x1) = heading_positions(app, dataset)
        assert y0 == y1 and x0 < x1, "side by side at 120 columns"
        await pilot.resize_terminal(80, 24)
        await pilot.pause()
        (y0, x0), (y1, x1) = heading_positions(app, dataset)
        assert x0 == x1 and y0 < y1, "stacked at 80 columns"
        await pilot.resize_terminal(50, 24)
        await pilot.pause()
        sidebar = app.query_one("#sidebar")
        pane = app.query_one(ComparisonPane)
        assert sidebar.region.y < pane.region.y, "the list above the pane at 50 columns"

        await pilot.resize_terminal(120, 36)
        await pilot.pause()
        await pilot.press("G")
        await pilot.resize_terminal(59, 20)
        await pilot.pause()
        await pilot.pause()
        dimension_list = app.query_one(DimensionList)
        region = dimension_list.scrollable_content_region
        rows = screen_text(app).split("\n")[region.y:region.bottom]
        assert any(dataset.dimensions[-1].title in row for row in rows), \
            "the highlighted last dimension stays in the list's view through a resize"
        assert title_visible(app), "the pane's title stays on screen through a resize"

@pytest.mark.parametrize("size", [(40, 12), (20, 8)])
async def test_small_sizes_show_the_title_and_text(size: tuple[int, int]) -> None:
    dataset = shipped()
    app = make_app(dataset)
    async with started(app, size=size) as pilot:
        first = dataset.dimensions[0]
        await wait_for_footer(pilot)
        screen = screen_text(app)
        assert title_visible(app)
        if size == (40, 12):
            assert "Quit" in screen  # the footer keeps its labels
            assert f"{len(dataset.dimensions)} dimensions" in screen
            assert first.title in screen
        await pilot.press("2")
        await pilot.pause()
        screen = screen_text(app)
        label = dataset.pros_ranked(dataset.subjects[0].id)[0].label
        assert dataset.subjects[0].name in screen
        assert label.split()[0] in screen


async def test_the_palette_lists_each_tab_once() -> None:
    app = make_app()
    async with started(app, size=SIZE) as pilot:
        await pilot.press("ctrl+p")
        await pilot.pause()
        await pilot.press(*"Pros")
        await wait_for_palette_search(pilot, "Pros")
        screen = screen_text(app)
        assert screen.count("Pros") - screen.count("Pros tab") <= 2  # the tab label, the query
        assert "Switch to" not in screen


async def test_wording_one_dimension_and_no_default_icon(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from kvmq.dataset.loader import load
    from kvmq.tui.app import ExplorerApp

    dataset = load(TUI_FIXTURES / "three-subjects.yaml")
    one = dataclasses.replace(dataset, dimensions=dataset.dimensions[:1])
    app = ExplorerApp(one, host=fake_host())
    async with started(app, size=SIZE) as pilot:
        screen = screen_text(app)
        assert "1 dimension" in screen and "1 dimensions" not in screen
        assert "⭘" not in screen
        await pilot.press("3")
        await pilot.pause()
        assert "  by " not in screen_text(app)




async def test_a_long_title_does_not_fill_the_help_screen_at_20x8() -> None:
    dataset = shipped()
    long = dataclasses.replace(dataset, title="Long " * 200)
    app = make_app(long)
    async with started(app, size=(20, 8)) as pilot:
        await pilot.press("question_mark")
        await pilot.pause()
        text = screen_text(app)
        assert text.count("Long") <= 4
        assert "Explorer" in text


async def test_q_quits_at_once_during_a_long_parse(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import threading

    from kvmq.tui.app import ExplorerApp

    release = threading.Event()

    def slow_load(path):  # type: ignore[no-untyped-def]
        release.wait(30)
        raise AssertionError("never finishes in time")

    app = ExplorerApp(BackgroundLoad(tmp_path / "big.yaml", slow_load))
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: "Loading" in screen_text(app))
        await pilot.press("q")
        await wait_until(pilot, lambda: not app.is_running)
    # The app is gone while the parse still waits: q did not wait for it, and the parser
    # thread is abandoned (a daemon), so the process never waits for it either.
    parsers = [t for t in threading.enumerate() if t.name == "kvmq-load"]
    assert parsers and all(t.daemon and t.is_alive() for t in parsers)
    assert not release.is_set()
    release.set()


async def test_file_names_on_the_loading_screen_are_printable(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import threading

    from kvmq.tui.app import ExplorerApp

    release = threading.Event()
    app = ExplorerApp(BackgroundLoad(tmp_path / "x\x1b]0;PWNED\x07\nfake.yaml",
                                     lambda path: (release.wait(5), shipped())[1]))
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: "fake.yaml" in screen_text(app))
        text = screen_text(app)
        assert "\\x1b]0;PWNED\\x07\\nfake.yaml" in text
        assert "\x1b" not in text and "\x07" not in text
        release.set()




async def test_loading_in_a_worker_fills_in_the_explorer() -> None:
    from kvmq.dataset.loader import packaged_data_path
    from kvmq.tui.app import ExplorerApp

    app = ExplorerApp(packaged_data_path())
    async with started(app, size=SIZE):
        assert app.dataset is not None
        assert app.query_one(ComparisonPane).dimension == app.dataset.dimensions[0]
        assert app.focused is app.query_one(DimensionList)


async def test_a_load_finished_before_the_app_starts_skips_the_loading_screen() -> None:
    """What `kvmq` does: the read starts before Textual is imported; when it is done by the
    first compose, the tabs are composed at once (no loading indicator, no second layout)."""
    from kvmq.dataset.background import BackgroundLoad
    from kvmq.dataset.loader import packaged_data_path
    from kvmq.tui.app import ExplorerApp

    data = BackgroundLoad(packaged_data_path())
    dataset = await data.wait()
    app = ExplorerApp(data)
    async with app.run_test(size=SIZE) as pilot:
        assert not app.query("#loading") and app.query(DimensionList)
        assert not app.workers  # the loading worker never ran
        await pilot.pause()
        assert app.query_one(ComparisonPane).dimension == dataset.dimensions[0]


async def test_a_dataset_error_found_by_the_loading_worker_exits_with_status_2(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from kvmq.dataset.model import InvalidDataset
    from kvmq.tui.app import ExplorerApp

    broken = tmp_path / "broken.yaml"
    broken.write_text("schema: 1\ntitle: [unclosed\n", encoding="utf-8")
    app = ExplorerApp(broken)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: not app.is_running)
    assert app.return_code == 2
    assert isinstance(app.load_error, InvalidDataset)
    lines = app.load_error.lines()
    assert len(lines) == 1 and lines[0].startswith(f"{broken}:3:1: YAML syntax error")


def test_a_crash_exits_non_zero_with_one_line(monkeypatch, capsys) -> None:  # type: ignore[no-untyped-def]
    from kvmq import cli
    from kvmq.tui import app as app_module

    def broken(self, event):  # type: ignore[no-untyped-def]
        raise ZeroDivisionError("boom")

    monkeypatch.setattr(app_module.ExplorerApp, "on_mount", broken)
    monkeypatch.setattr(app_module.ExplorerApp, "run",
                        lambda self, **kw: app_module.App.run(self, headless=True, size=(80, 24)))
    monkeypatch.delenv("KVMQ_DEBUG", raising=False)
    monkeypatch.setattr(cli.sys.stdout, "isatty", lambda: True, raising=False)
    monkeypatch.setattr(cli.sys.stdin, "isatty", lambda: True, raising=False)
    status = cli.main([])
    err = capsys.readouterr().err
    assert status != 0
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith("kvmq: error: internal error:") and "boom" in lines[0]


async def test_typing_on_without_changing_the_matches_keeps_the_list_as_it_is(monkeypatch) -> None:
    # Rebuilding thousands of options is the costliest part of a keystroke: skipped when the
    # matches did not change (here "migrat" and "migration" find the same dimensions).
    app = make_app()
    async with started(app, size=SIZE) as pilot:
        dimension_list = app.query_one(DimensionList)
        await pilot.press("slash", *"migrat")
        await pilot.pause()
        shown = list(dimension_list.shown_dimensions)
        rebuilds: list[int] = []
        original = DimensionList.set_options

        def counting(self, options):  # type: ignore[no-untyped-def]
            rebuilds.append(len(options))
            return original(self, options)

        monkeypatch.setattr(DimensionList, "set_options", counting)
        await pilot.press(*"ion")
        await pilot.pause()
        assert list(dimension_list.shown_dimensions) == shown
        assert rebuilds == []
        await pilot.press("x")
        await pilot.pause()
        assert rebuilds == [0]
        assert app.query_one(ComparisonPane).dimension is None


async def test_summary_without_a_base_comparison_has_no_attribution() -> None:
    dataset = load(DATASETS_DIR / "cautions.yaml")
    assert dataset.source is None
    app = make_app(dataset)
    async with started(app, size=SIZE) as pilot:
        await pilot.press("3")
        await pilot.pause()
        screen = screen_text(app)
        assert "Gamma vs Delta" in screen and "Based on" not in screen
        await pilot.press("1")
        await pilot.pause()
        assert "⚠ Caution: Everything on DISK is gone for good." in screen_text(app)


async def test_keys_typed_after_q_do_nothing_on_a_closing_app() -> None:
    """Typing "question" fast: q quits, and the e (explain) after it must not open a screen.

    The keys are queued in one burst, as a terminal delivers them (pilot.press waits between
    keys, which hides the race)."""
    from kvmq.dataset.loader import packaged_data_path
    from kvmq.tui.app import ExplorerApp

    app = ExplorerApp(packaged_data_path())
    async with started(app, size=(80, 24)) as pilot:
        await burst(pilot, *"question")
    assert app.return_code in (0, None)


async def test_the_footer_drops_the_palette_key_when_the_terminal_narrows() -> None:
    from kvmq.dataset.loader import packaged_data_path
    from kvmq.tui.app import ExplorerApp

    app = ExplorerApp(packaged_data_path())
    async with started(app, size=(120, 36)) as pilot:
        await wait_for_footer(pilot)
        assert "palette" in footer_line(app)  # the control
        await pilot.resize_terminal(20, 8)
        await pilot.pause()
        await wait_for_footer(pilot)
        assert "Filter" in footer_line(app) and "palette" not in footer_line(app)


async def test_the_pane_lays_out_ahead_where_the_user_is_heading() -> None:
    # Moving down, only the next dimension is laid out ahead; moving up, the previous one;
    # after a jump (End), the entries on both sides that exist.
    dataset = shipped()
    dimensions = dataset.dimensions
    app = make_app(dataset)
    async with started(app, size=SIZE) as pilot:
        dimension_list = app.query_one(DimensionList)
        pane = app.query_one(ComparisonPane)
        shown: list[list[str]] = []
        original = pane.show_dimension

        def recording(dimension, neighbours=None):  # type: ignore[no-untyped-def]
            shown.append([d.id for d in neighbours or ()])
            original(dimension, neighbours)

        pane.show_dimension = recording  # type: ignore[method-assign]
        for key in ("down", "down", "up", "end"):
            await pilot.press(key)
            await pilot.pause()
        assert dimension_list.highlighted == len(dimensions) - 1
        assert shown == [[dimensions[2].id], [dimensions[3].id], [dimensions[0].id],
                         [dimensions[-2].id]]


async def test_a_move_repaints_the_rows_it_changes_and_no_row_goes_stale() -> None:
    """A move repaints only the old and the new highlighted row: after any run of moves
    (down, up, wrapping at both ends, a page), exactly one row of the list on screen has the
    highlight's background, the highlighted dimension's."""
    dataset = shipped()
    app = make_app(dataset)
    async with started(app, size=(100, 16)) as pilot:
        dimension_list = app.query_one(DimensionList)
        region = dimension_list.content_region
        for keys in (("j", "j", "j"), ("k",), ("g", "k"), ("j",), ("pagedown", "k", "k"),
                     ("G", "j", "j")):
            await pilot.press(*keys)
            await pilot.pause()
            backgrounds = [app.screen.get_style_at(region.x + 1, region.y + row).bgcolor
                           for row in range(region.height)]
            row = dimension_list.highlighted - int(dimension_list.scroll_offset.y)
            assert 0 <= row < region.height, keys
            others = backgrounds[:row] + backgrounds[row + 1:]
            assert backgrounds[row] not in others and len(set(others)) == 1, (
                f"after {keys}: row {row} should be the only highlighted one: {backgrounds}")
            title = dataset.dimensions[dimension_list.highlighted].title
            assert title.startswith(screen_text(app).splitlines()[region.y + row].strip()[:10])
