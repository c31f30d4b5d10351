"""Optional cProfile of a benchmark child: ``KVMQ_BENCH_PROFILE=FILE`` turns it on.

Imported by the launchers before anything else, so imports are profiled too; the stats are
written by ``frames.report_and_exit`` just before the process leaves.

    KVMQ_BENCH_PROFILE=/tmp/start.prof python benchmarks/start_explorer.py --data ... --marker ...
    python -m pstats /tmp/start.prof
"""

from __future__ import annotations

import cProfile
import os
from typing import Optional

_profiler: Optional[cProfile.Profile] = None


def start() -> None:
    global _profiler
    if os.environ.get("KVMQ_BENCH_PROFILE") and _profiler is None:
        _profiler = cProfile.Profile()
        _profiler.enable()


def dump() -> None:
    if _profiler is not None:
        _profiler.disable()
        _profiler.dump_stats(os.environ["KVMQ_BENCH_PROFILE"])


start()
