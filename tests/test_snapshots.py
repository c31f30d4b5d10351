"""Snapshot tests: every screen state the README shows, plus unusual datasets.

Update after an intended change with ``pytest tests/test_snapshots.py --snapshot-update``
and look at the result (``make screenshots`` writes the README's SVGs).
"""

from __future__ import annotations

import pytest

from tests.tui_helpers import SCREEN_STATES, app_for_state, drive_to_state


@pytest.mark.parametrize("state", sorted(SCREEN_STATES))
def test_screen_state(snap_compare, state: str) -> None:  # type: ignore[no-untyped-def]
    size, _keys, _data = SCREEN_STATES[state]

    async def run_before(pilot) -> None:  # type: ignore[no-untyped-def]
        await drive_to_state(pilot, state)

    assert snap_compare(app_for_state(state), terminal_size=size, run_before=run_before)
