"""Watching the frames a headless Textual app produces, the same way for every app measured.

Headless apps skip turning compositor updates into terminal output. The hook here does that
work anyway (``render_segments``, what a real terminal run costs) and looks at the text of
each frame: the startup launchers exit as soon as the screen has shown every marker string
(the first dimension's title and the start of its description).
"""

from __future__ import annotations

import json
import os
import re
import sys
import threading
import time
from typing import Any, Callable, Optional, Sequence

from textual.app import App

# Size of the (virtual) terminal every measurement uses: wide enough for side-by-side columns.
SIZE = (120, 40)
_ANSI_RE = re.compile(r"\x1b\[[0-9;:?<>=]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[()][A-Z0-9]")


def plain(terminal_text: str) -> str:
    """Terminal output without escape sequences (cursor moves separate the lines)."""
    return _ANSI_RE.sub("\n", terminal_text)


def marker_of(text: str, words: int = 3) -> str:
    """The first few words of ``text``: short enough never to be wrapped on screen."""
    return " ".join(text.split()[:words])


class FrameWatch:
    """Counts frames and notices when all ``markers`` have been on screen."""

    def __init__(self, markers: Sequence[str] = (), on_shown: Optional[Callable[[App[Any]], None]] = None,
                 render: bool = True) -> None:
        self.markers = [m for m in markers if m]
        self.pending = set(self.markers)
        self.on_shown = on_shown
        self.render = render
        self.frames = 0
        self.last_frame = 0.0
        self.shown_at: Optional[float] = None

    def install(self) -> None:
        original = App._display
        watch = self

        def _display(app: App[Any], screen: Any, renderable: Any) -> None:
            original(app, screen, renderable)
            if renderable is None or app._batch_count or not hasattr(renderable, "render_segments"):
                return
            text = renderable.render_segments(app.console) if watch.render else ""
            watch.frames += 1
            watch.last_frame = time.perf_counter()
            if watch.pending:
                flat = plain(text)
                watch.pending = {m for m in watch.pending if m not in flat}
                if not watch.pending:
                    watch.shown_at = watch.last_frame
                    if watch.on_shown is not None:
                        watch.on_shown(app)

        App._display = _display  # type: ignore[method-assign]


def force_headless(size: tuple[int, int] = SIZE) -> None:
    """Make every ``App.run()`` headless at ``size`` (the launchers call the real entry points)."""
    original = App.run

    def run(self: App[Any], *args: Any, **kwargs: Any) -> Any:
        kwargs["headless"] = True
        kwargs["size"] = size
        return original(self, *args, **kwargs)

    App.run = run  # type: ignore[method-assign]


def peak_rss_kb() -> int:
    """VmHWM of this process (Linux), else ru_maxrss."""
    try:
        with open("/proc/self/status", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    import resource

    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)


def watchdog(seconds: float) -> None:
    """End the process (status 3) if it is still running after ``seconds``."""
    def expire() -> None:
        sys.stderr.write(f"benchmark: gave up after {seconds:.0f} s (markers never shown?)\n")
        sys.stderr.flush()
        os._exit(3)

    timer = threading.Timer(seconds, expire)
    timer.daemon = True
    timer.start()


def report_and_exit(status: int, **figures: Any) -> None:
    """Print the child's figures as one ``BENCH {json}`` line and leave at once.

    ``os._exit`` skips the interpreter's teardown (freeing every object), the same for every
    app measured: the figure is start-up to the first frame, plus the app's own shutdown.
    """
    figures["peak_rss_kb"] = peak_rss_kb()
    import profiling

    profiling.dump()
    sys.stdout.write("BENCH " + json.dumps(figures) + "\n")
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)
