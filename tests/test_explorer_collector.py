"""The explorer keeps what start-up built out of the cyclic collector's reach, and gives it
back when it closes (a full collection on a keystroke then walks only what came later)."""

from __future__ import annotations

import gc

from kvmq.tui.dimension_list import DimensionList
from tests.tui_helpers import make_app, shipped, started, wait_until


async def test_start_up_objects_are_frozen_until_the_app_closes() -> None:
    app = make_app(shipped())
    async with started(app) as pilot:
        dimension_list = app.query_one(DimensionList)
        # Frozen objects are in no generation: gc.get_objects() no longer lists them.
        await wait_until(pilot, lambda: not any(obj is dimension_list for obj in gc.get_objects()))
        assert gc.get_freeze_count() > 0
    assert gc.get_freeze_count() == 0
