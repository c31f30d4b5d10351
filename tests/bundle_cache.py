"""One ``kvmq.pyz`` per checkout state, shared by every test that needs the bundle.

Building it (scripts/build_bundle.py, what ``make bundle`` runs) takes pip a wheel build
and two downloads: some 10 s of CPU and often 30 s or more of waiting on the package index.
The bundle tests and the Ansible tests both need it, in different pytest workers. So the
first worker that collects such a test starts the build in the background
(:func:`start_in_background`), the tests go on meanwhile, and :func:`bundle` waits for it.
An exclusive lock on ``build/test-bundle/.lock`` makes sure only one build runs; its key
is a hash of everything that goes into the bundle, so an edit to ``src/`` or to the build
scripts builds afresh, and an unchanged checkout reuses the last one.

    python -m tests.bundle_cache        # build (or reuse) it, print its path
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BUILD_SCRIPT = ROOT / "scripts" / "build_bundle.py"
CACHE = ROOT / "build" / "test-bundle"
LOCK = CACHE / ".lock"
LOG = CACHE / "last-build.log"
# The files whose content decides what the bundle holds (dependencies are resolved by pip
# from pyproject.toml's requirements).
INPUTS = (ROOT / "pyproject.toml", BUILD_SCRIPT, ROOT / "scripts" / "bundle_main.py")


def key() -> str:
    """A hash of kvmq's sources, its data and the build scripts."""
    digest = hashlib.sha256()
    files = [*INPUTS, *sorted(p for folder in (ROOT / "src", ROOT / "data")
                              for p in folder.rglob("*")
                              if p.is_file() and "__pycache__" not in p.parts)]
    for path in files:
        digest.update(str(path.relative_to(ROOT)).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:20]


def _path_for(current: str) -> Path:
    return CACHE / current / "kvmq.pyz"


def build() -> Path:
    """The bundle for this checkout: reused, or built under the lock (waiting for a build
    another process is running). Raises RuntimeError with pip's output when the build fails."""
    current = key()
    target = _path_for(current)
    CACHE.mkdir(parents=True, exist_ok=True)
    with LOCK.open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if target.is_file():
            return target
        for old in CACHE.iterdir():  # one checkout state is kept, not a history
            if old.is_dir():
                shutil.rmtree(old, ignore_errors=True)
        partial = CACHE / f"{current}.partial" / "kvmq.pyz"
        partial.parent.mkdir(parents=True)
        done = subprocess.run([sys.executable, str(BUILD_SCRIPT), "--output", str(partial)],
                              capture_output=True, text=True, timeout=900, check=False)
        LOG.write_text(done.stdout + done.stderr, encoding="utf-8")
        if done.returncode != 0:
            shutil.rmtree(partial.parent, ignore_errors=True)
            raise RuntimeError(f"bundle build failed (exit {done.returncode}):\n"
                               f"{done.stdout}\n{done.stderr}")
        os.replace(partial.parent, target.parent)
        return target


def start_in_background() -> None:
    """Start :func:`build` in a child process, unless this checkout's bundle exists."""
    if _path_for(key()).is_file():
        return
    CACHE.mkdir(parents=True, exist_ok=True)
    with open(os.devnull, "wb") as devnull:
        subprocess.Popen([sys.executable, "-m", "tests.bundle_cache"], cwd=ROOT,
                         stdin=subprocess.DEVNULL, stdout=devnull, stderr=devnull,
                         start_new_session=True)


if __name__ == "__main__":
    try:
        print(build())
    except RuntimeError as exc:
        print(exc, file=sys.stderr)
        raise SystemExit(1) from None
