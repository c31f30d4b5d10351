"""The Explain screen with the pilot: open it with e or the palette, paste a line, any size."""

from __future__ import annotations

from textual.widgets import Input, Static

from kvmq.host.explain import HostFacts
from kvmq.tui.explain_screen import ExplainScreen
from tests.tui_helpers import make_app

LINE = "qemu-system-x86_64 -cpu host -name '[bold]x\x1b[31m' -drive file=/a/very/long/path/disk.img"


def output_text(screen: ExplainScreen) -> str:
    return str(screen.query_one("#explain-output", Static).render())


async def test_e_opens_the_screen_and_a_pasted_line_is_explained() -> None:
    app = make_app()
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.pause()
        await pilot.press("e")
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, ExplainScreen)
        screen.query_one(Input).value = LINE
        await pilot.press("enter")
        await pilot.pause()
        assert screen.explanation is not None
        text = output_text(screen)
        assert "cpu-host" not in text and "ERROR" in text
        assert "[bold]x\\x1b[31m" in text  # shown literally, never as markup or an escape
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, ExplainScreen)


async def test_palette_entry_opens_it() -> None:
    app = make_app()
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.pause()
        await pilot.press("ctrl+p")
        await pilot.pause()
        for key in "Explain a QEMU":
            await pilot.press(key if key != " " else "space")
        await pilot.pause()
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, ExplainScreen)


async def test_bad_input_is_one_line_on_screen() -> None:
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        screen = ExplainScreen(host=HostFacts())
        await app.push_screen(screen)
        screen.show_line("qemu-system-x86_64 -name 'unbalanced")
        await pilot.pause()
        assert screen.explanation is None and "unbalanced quotes" in output_text(screen)


async def test_every_size_down_to_20x8() -> None:
    """Opened at each size, then the terminal grown a little (one app: the screen is
    opened afresh at each size)."""
    app = make_app()
    async with app.run_test(size=(20, 8)) as pilot:
        await pilot.pause()
        for size in [(20, 8), (40, 12), (80, 24)]:
            await pilot.resize_terminal(*size)
            screen = ExplainScreen(host=HostFacts(), line=LINE)
            await app.push_screen(screen)
            await pilot.pause()
            assert screen.explanation is not None, size
            await pilot.resize_terminal(size[0] + 7, size[1] + 3)
            await pilot.pause()
            assert "-drive" in output_text(screen), size
            app.pop_screen()
            await pilot.pause()
