"""Write the README's SVG screenshots (``make screenshots``): headless, fixed sizes."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from tests.tui_helpers import README_SCREENSHOTS, SCREEN_STATES, app_for_state, drive_to_state

OUT = Path(__file__).resolve().parent.parent / "screenshots"


async def take(name: str) -> Path:
    size, _keys, _data = SCREEN_STATES[name]
    app = app_for_state(name)
    async with app.run_test(size=size) as pilot:
        await drive_to_state(pilot, name)
        await pilot.pause(0.3)
        path = OUT / f"{name}.svg"
        app.save_screenshot(filename=path.name, path=str(OUT))
    return path


def main() -> int:
    OUT.mkdir(exist_ok=True)
    for name in README_SCREENSHOTS:
        print(asyncio.run(take(name)).relative_to(OUT.parent))
    return 0


if __name__ == "__main__":
    sys.exit(main())
