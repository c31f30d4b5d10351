"""A dataset read in a daemon thread: started as early as possible, awaited or taken when done.

Plain Python (no textual): the CLI starts the read before it imports the explorer, so the
file is parsed (or read back from the cache) while Textual's 250 ms of imports run, and the
explorer's first frame usually finds the dataset there. The explorer waits for it in a
worker behind a loading indicator otherwise (a large file, a slow disk).
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from pathlib import Path
from typing import Callable, Optional, Union

from kvmq.dataset.model import Dataset


class BackgroundLoad:
    """A dataset read in a daemon thread, awaited by the app's worker or taken when done."""

    def __init__(self, source: Union[Path, Dataset],
                 loader: Optional[Callable[[Path], Dataset]] = None) -> None:
        """Args:
            source: the file to read in the thread (a Dataset counts as read already).
            loader: what reads it (tests slow it down); by default the dataset loader.
        """
        self.source = source
        self._lock = threading.Lock()
        self._done = False
        self._result: Optional[Dataset] = None
        self._error: Optional[BaseException] = None
        self._notify: Optional[Callable[[], None]] = None
        if isinstance(source, Dataset):
            self._settle(source, None)
            return
        threading.Thread(target=self._parse, args=(source, loader), name="kvmq-load",
                         daemon=True).start()

    def _parse(self, path: Path, loader: Optional[Callable[[Path], Dataset]]) -> None:
        if loader is None:
            from kvmq.dataset.loader import load

            loader = load
        try:
            result, error = loader(path), None
        except BaseException as exc:  # handed to the app, which hands it to the CLI
            result, error = None, exc
        self._settle(result, error)

    def _settle(self, result: Optional[Dataset], error: Optional[BaseException]) -> None:
        with self._lock:
            self._result, self._error, self._done = result, error, True
            notify = self._notify
        if notify is not None:
            notify()

    def result_if_done(self) -> Optional[Dataset]:
        """The dataset if it loaded already (errors are raised by :meth:`wait`)."""
        with self._lock:
            return self._result if self._done else None

    async def wait(self) -> Dataset:
        loop = asyncio.get_running_loop()
        finished = asyncio.Event()

        def wake() -> None:
            # RuntimeError: the app has already closed its loop, so nobody waits.
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(finished.set)

        with self._lock:
            if not self._done:
                self._notify = wake
            else:
                finished.set()
        await finished.wait()
        if self._error is not None:
            raise self._error
        assert self._result is not None
        return self._result
