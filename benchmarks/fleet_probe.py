"""Merge timings of a folder of per-host fleet reports, in one process, next to the JSON floor.

Per run, alternating: the floor (list the folder, then ``json.load`` every ``*.json`` file in
it: what any tool that reads the reports pays), then ``kvmq.host.fleet.read_fleet`` on the same
folder (read, classify and merge into one row per host). The files are read once first, so
both see the operating system's cache warm. Prints one ``BENCH {json}`` line with every sample.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import os
import sys
import time
from pathlib import Path
from typing import Any, Callable, Optional, Sequence

from kvmq.host.fleet import read_fleet


def floor(folder: Path) -> int:
    """Every report parsed, and dropped as the merge drops it once its row is made."""
    loaded = 0
    for entry in sorted(os.scandir(folder), key=lambda e: e.name):
        if entry.name.endswith(".json"):
            # The generated set has a few broken files, as fleets do.
            with open(entry.path, encoding="utf-8") as handle, contextlib.suppress(ValueError):
                json.load(handle)
            loaded += 1
    return loaded


def timed(function: Callable[[], Any]) -> float:
    gc.collect()
    start = time.perf_counter()
    result = function()
    elapsed = time.perf_counter() - start
    del result
    return elapsed


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--folder", required=True)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args(argv)
    folder = Path(args.folder)
    hosts = len(read_fleet([folder]).hosts)
    floor(folder)
    samples: dict[str, list[float]] = {"floor": [], "merge": []}
    for run in range(args.runs):
        order = ("floor", "merge") if run % 2 == 0 else ("merge", "floor")
        for kind in order:
            work = (lambda: floor(folder)) if kind == "floor" else (lambda: read_fleet([folder]))
            samples[kind].append(timed(work))
    sys.stdout.write("BENCH " + json.dumps({"hosts": hosts, **samples}) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
