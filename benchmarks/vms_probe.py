"""VM scan timings on a generated /proc (``proc_tree.py``), next to the floor, in one process.

Per run, alternating: the floor (list ``/proc`` and read every ``PID/cmdline`` in plain
Python: what any process lister pays), then kvmq's first scan (a fresh
:class:`~kvmq.host.vms.Scanner`, option cache cleared: what ``kvmq vms`` does), then a
refresh (the same scanner again: what the VMs tab does every few seconds), and the
evidence reads alone (the floor's reads plus each QEMU's descriptor links, status and binary
link, parsed not at all: the least any first scan that proves the accelerator must do).
Prints one ``BENCH {json}`` line with every sample.

    python benchmarks/vms_probe.py --processes 2000 --qemus 500 --runs 5
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Optional, Sequence

sys.path.insert(0, str(Path(__file__).resolve().parent))

import proc_tree
from kvmq.host import vms


def floor(proc: str) -> int:
    count = 0
    for entry in os.listdir(proc):
        if entry.isdigit():
            try:
                with open(f"{proc}/{entry}/cmdline", "rb") as handle:
                    count += len(handle.read())
            except OSError:
                pass
    return count


def evidence_reads(proc: str) -> int:
    """The floor's reads plus what the strongest evidence needs of each QEMU, and nothing else:
    its descriptor links, status and binary link (no parsing). What no first scan can skip."""
    count = 0
    for entry in os.listdir(proc):
        if not entry.isdigit():
            continue
        try:
            with open(f"{proc}/{entry}/cmdline", "rb") as handle:
                raw = handle.read()
        except OSError:
            continue
        if b"qemu" not in raw.split(b"\0", 1)[0]:
            continue
        try:
            fds = f"{proc}/{entry}/fd"
            for fd in os.listdir(fds):
                count += len(os.readlink(f"{fds}/{fd}"))
            with open(f"{proc}/{entry}/status", "rb") as handle:
                count += len(handle.read())
            count += len(os.readlink(f"{proc}/{entry}/exe"))
        except OSError:
            pass
    return count


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--processes", type=int, default=2000)
    parser.add_argument("--qemus", type=int, default=500)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args(argv)
    scratch = Path(tempfile.mkdtemp(prefix="kvmq-vms-bench-"))
    try:
        root = proc_tree.write(scratch, args.processes, args.qemus)
        proc = str(root / "proc")
        options = {"kvm_works": True, "version": lambda path: "", "machine": "x86_64"}
        refresher = vms.Scanner(root, **options)  # type: ignore[arg-type]
        refresher.scan()
        floor(proc)  # the OS caches the tree for every figure alike
        samples: dict[str, list[float]] = {"floor": [], "first": [], "refresh": [], "evidence": []}
        found = 0
        for run in range(max(3, args.runs)):
            order = (("floor", "evidence", "first", "refresh") if run % 2 == 0
                     else ("refresh", "first", "evidence", "floor"))
            for kind in order:
                if kind == "first":
                    vms._options.cache_clear()
                    start = time.perf_counter()
                    found = len(vms.Scanner(root, **options).scan().vms)  # type: ignore[arg-type]
                elif kind == "refresh":
                    start = time.perf_counter()
                    refresher.scan()
                elif kind == "evidence":
                    start = time.perf_counter()
                    evidence_reads(proc)
                else:
                    start = time.perf_counter()
                    floor(proc)
                samples[kind].append(time.perf_counter() - start)
        if found != args.qemus:
            raise SystemExit(f"found {found} VMs, expected {args.qemus}")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    print("BENCH " + json.dumps({**samples, "processes": args.processes, "qemus": args.qemus}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
