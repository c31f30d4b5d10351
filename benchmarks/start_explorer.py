"""Start the explorer the way ``kvmq`` does and exit at its first complete frame.

Starts the dataset's load, then calls ``kvmq.tui.app.run_explorer``, in the order the
``kvmq`` command does (so it loads the dataset exactly as the command does, cache
included), with every ``App.run()`` made headless at a fixed size, and ends the app as soon
as the screen has shown all the ``--marker`` strings (the first dimension's title and the
start of its description). The exit status is ``run_explorer``'s (2 for a dataset error).

    python benchmarks/start_explorer.py --data data/kvm-vs-qemu.yaml \
        --marker Architecture --marker "A Linux kernel"
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Optional, Sequence

sys.path.insert(0, str(Path(__file__).resolve().parent))

import profiling  # noqa: F401  (first: profiles the imports too, when asked)


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--data", required=True, help="dataset file")
    parser.add_argument("--marker", action="append", default=[],
                        help="text the first frame must show")
    parser.add_argument("--timeout", type=float, default=300.0)
    args = parser.parse_args(argv)
    # As `kvmq` does (cli.py): the dataset is read in a thread while Textual is imported.
    from kvmq.dataset.background import BackgroundLoad

    load = BackgroundLoad(Path(args.data))
    import frames

    frames.watchdog(args.timeout)
    watch = frames.FrameWatch(args.marker, on_shown=lambda app: app.exit(0))
    watch.install()
    frames.force_headless()
    from kvmq.tui.app import run_explorer

    status = run_explorer(load)
    frames.report_and_exit(status, frames=watch.frames, shown=watch.shown_at is not None)
    return 0  # pragma: no cover - report_and_exit does not return


if __name__ == "__main__":
    sys.exit(main())
