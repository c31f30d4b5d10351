"""Keystroke latencies inside a Textual pilot: the explorer against the bare floor app.

For each run, in one process and alternating the two apps (so both see the same noise):

* **highlight move**: ``moves`` presses of Down (Up after the last entry), each timed from
  the key event's arrival until every message it caused has been handled and a frame has
  been painted (see ``_timed_press``). The explorer's figure includes updating the comparison
  pane; the floor is a bare OptionList's highlight.
* **filter keystroke**: ``/`` opens the explorer's filter (not timed), then each letter of
  ``word`` is timed the same way. The floor app has an Input above its OptionList and on
  each change replaces the options with the same matching entries, precomputed.

Frames are rendered to terminal text for both apps (``frames.FrameWatch``), as a real
terminal run would. Prints one ``BENCH {json}`` line per dataset with every sample in seconds.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from pathlib import Path
from typing import Any, Optional, Sequence

sys.path.insert(0, str(Path(__file__).resolve().parent))

from textual import events
from textual.app import App
from textual.widgets import Input, OptionList

import frames
from bare_app import BareApp
from kvmq.dataset.loader import load
from kvmq.dataset.model import Dataset
from kvmq.dataset.search import FilterIndex


def _nodes(app: App[Any]) -> list[Any]:
    """Every message pump of the current screen (computed once: the widgets do not change)."""
    return [app, *app.screen.walk_children(with_self=True)]


async def _settle(nodes: list[Any]) -> None:
    """Let the event loop run until every queue has stayed empty for a few turns.

    Cheap on purpose (a few queue checks per turn), so the measurement adds next to nothing;
    the handlers involved run to completion without suspending, so an empty queue everywhere
    means every message the key caused has been handled.
    """
    quiet = 0
    while quiet < 3:
        await asyncio.sleep(0)
        if all(node._message_queue.empty() for node in nodes):
            quiet += 1
        else:
            quiet = 0


async def _timed_press(pilot: Any, key: str, nodes: list[Any]) -> float:
    """Key event in, every consequence handled, one frame painted: the user's latency.

    Not ``pilot.press``: its idle detection sleeps in 20 ms steps, which would swamp the
    figure. The event goes to the app as the driver sends it; the frame is painted at once,
    as ``pilot.pause()`` does, instead of at the next 60 Hz tick.
    """
    app = pilot.app
    event = events.Key(key, key if len(key) == 1 else None)
    event.set_sender(app)
    start = time.perf_counter()
    await app._post_message(event)
    await _settle(nodes)
    app.screen._on_timer_update()
    elapsed = time.perf_counter() - start
    # Anything left (timers, after-refresh callbacks) settles outside the measurement; a
    # short sleep rather than pilot.pause(), whose idle detection takes 40+ ms per key.
    await asyncio.sleep(0.005)
    await _settle(nodes)
    return elapsed


async def _moves(app: App[Any], count: int) -> list[float]:
    samples: list[float] = []
    async with app.run_test(size=frames.SIZE) as pilot:
        await pilot.pause()
        option_list = app.query_one(OptionList)
        option_list.focus()
        await pilot.pause()
        total = option_list.option_count
        nodes = _nodes(app)
        position, step = 0, 1
        for _ in range(count):
            if total > 1 and not 0 <= position + step < total:
                step = -step
            samples.append(await _timed_press(pilot, "down" if step > 0 else "up", nodes))
            position += step if total > 1 else 0
        if total > 1 and option_list.highlighted != position:
            raise AssertionError(f"highlight at {option_list.highlighted}, expected {position}")
    return samples


async def _filter(app: App[Any], word: str, explorer: bool, expected: dict[str, int]) -> list[float]:
    samples: list[float] = []
    async with app.run_test(size=frames.SIZE) as pilot:
        await pilot.pause()
        if explorer:
            await pilot.press("slash")
        else:
            app.query_one(Input).focus()
        await pilot.pause()
        await pilot.pause()
        typed = ""
        nodes = _nodes(app)
        for letter in word:
            samples.append(await _timed_press(pilot, letter, nodes))
            typed += letter
        shown = app.query_one(OptionList).option_count
        if shown != expected[typed] and not (explorer and expected[typed] == 0):
            raise AssertionError(f"{shown} entries shown for '{typed}', expected {expected[typed]}")
    return samples


def _apps(dataset: Dataset, matches: dict[str, list[int]], with_input: bool) -> dict[str, Any]:
    from kvmq.tui.app import ExplorerApp

    first = dataset.dimensions[0]
    titles = [d.title for d in dataset.dimensions]
    description = next(iter(first.descriptions.values()))
    return {
        "bare": lambda: BareApp(titles, first.title, description, with_input=with_input,
                                matches=matches),
        "explorer": lambda: ExplorerApp(dataset),
    }


async def measure(dataset: Dataset, word: str, moves: int, runs: int) -> dict[str, dict[str, list[float]]]:
    prefixes = [word[:n] for n in range(1, len(word) + 1)]
    position = {d.id: i for i, d in enumerate(dataset.dimensions)}
    matches = {p: [position[d.id] for d in FilterIndex(dataset).filter(p)] for p in prefixes}
    expected = {p: len(found) for p, found in matches.items()}
    results: dict[str, dict[str, list[float]]] = {
        name: {"keystroke": [], "move": []} for name in ("bare", "explorer")
    }
    for run in range(runs):
        order = ("bare", "explorer") if run % 2 == 0 else ("explorer", "bare")
        for name in order:
            results[name]["move"] += await _moves(_apps(dataset, matches, False)[name](), moves)
            results[name]["keystroke"] += await _filter(
                _apps(dataset, matches, True)[name](), word, name == "explorer", expected)
    return results


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--data", action="append", required=True,
                        help="dataset file (repeat to measure several in one process)")
    parser.add_argument("--word", default="kernel", help="the word typed into the filter")
    parser.add_argument("--moves", type=int, default=200)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args(argv)
    frames.FrameWatch().install()
    for data in args.data:
        dataset = load(Path(data))
        results = asyncio.run(measure(dataset, args.word, args.moves, args.runs))
        sys.stdout.write("BENCH " + json.dumps({"data": data, **results}) + "\n")
        sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
