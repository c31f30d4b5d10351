"""Load timings of one dataset file, in one process, next to the parser floor.

Per run, alternating: the floor (read the file, ``yaml.load`` with libyaml's CSafeLoader and
the garbage collector paused: what any YAML-reading tool pays), then ``kvmq.dataset.load``
cold (an empty cache directory: parse, validate, write the cache entry), then warm (the
entry written before is read back). Prints one ``BENCH {json}`` line with every sample.

When ``dataset.load`` does not use the cache yet, the warm figure is taken through
``kvmq.cache.cached_load`` directly (what kvmq.dataset.load does)
and ``wired`` is false.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, Optional, Sequence

import yaml

from kvmq.dataset import loader as ds

try:
    from yaml import CSafeLoader as Loader
except ImportError:  # pragma: no cover - without libyaml the floor is the pure loader
    from yaml import SafeLoader as Loader  # type: ignore[assignment]


def floor(path: Path) -> Any:
    enabled = gc.isenabled()
    gc.disable()
    try:
        return yaml.load(path.read_text(encoding="utf-8"), Loader=Loader)
    finally:
        if enabled:
            gc.enable()


def is_wired() -> bool:
    return True  # load() has used the cache since it was written; kept for the report's shape


def warm_loader(path: Path) -> Callable[[], Any]:
    return lambda: ds.load(path)


def timed(function: Callable[[], Any]) -> float:
    gc.collect()
    start = time.perf_counter()
    result = function()
    elapsed = time.perf_counter() - start
    del result
    return elapsed


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--data", required=True)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args(argv)
    path = Path(args.data)
    samples: dict[str, list[float]] = {"floor": [], "cold": [], "warm": []}
    os.environ.pop("KVMQ_NO_CACHE", None)
    with tempfile.TemporaryDirectory(prefix="kvmq-bench-") as scratch:
        warm_home = Path(scratch) / "warm"
        os.environ["XDG_CACHE_HOME"] = str(warm_home)
        load_warm = warm_loader(path)
        load_warm()  # writes the entry the warm runs read
        for run in range(args.runs):
            samples["floor"].append(timed(lambda: floor(path)))
            os.environ["XDG_CACHE_HOME"] = str(Path(scratch) / f"cold-{run}")
            samples["cold"].append(timed(lambda: ds.load(path)))
            os.environ["XDG_CACHE_HOME"] = str(warm_home)
            samples["warm"].append(timed(load_warm))
        entries = len(list(warm_home.rglob("*.kvmqc")))
    sys.stdout.write("BENCH " + json.dumps({**samples, "wired": is_wired(),
                                            "cache_entries": entries}) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
