"""Hostile datasets (issue 17, item 6): how long and how much memory their rejection takes.

Each generator writes a file of about the given size that an attacker would feed kvmq; every
one must be rejected (exit 2, one line per problem) in under a second and under 300 MB, with
libyaml and with PyYAML's pure-Python loader (what the one-file bundle uses). Each case runs
in a fresh interpreter, so peak RSS is its own.

    python benchmarks/hostile.py [--size-mib 31] [--only NAME] [--loader libyaml|pure]

The generators are shared with tests/test_loader_hostile.py, which runs them at small sizes.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Callable

HEADER = """schema: 1
title: Hostile
summary: A hostile file.
source:
  title: t
  publisher: p
subjects:
  - id: alpha
    name: Alpha
    tagline: a
    homepage: https://example.org/a
  - id: beta
    name: Beta
    tagline: b
    homepage: https://example.org/b
"""
DIMENSION = """dimensions:
  - id: d
    title: D
    descriptions:
      alpha: a
      beta: b
"""


def _repeat(unit: Callable[[int], str], size: int) -> str:
    parts: list[str] = []
    total = 0
    n = 0
    while total < size:
        piece = unit(n)
        parts.append(piece)
        total += len(piece)
        n += 1
    return "".join(parts)


def mistyped_keys(size: int) -> str:
    """Every key misspelt, each a "did you mean" lookup before the fix."""
    return HEADER + DIMENSION + "pros: {}\n" + _repeat(lambda n: f"titel{n}: x\n", size)


def wrong_subject_keys(size: int) -> str:
    """Thousands of keys that are not subject ids in one mapping (quadratic before the fix)."""
    return HEADER + DIMENSION + "pros:\n" + _repeat(lambda n: f"  subject-{n}: []\n", size)


def alias_flood(size: int) -> str:
    """One anchor, then a flow list of aliases to it."""
    return (HEADER + DIMENSION + "pros: {}\njunk: &a [x]\nmore: ["
            + _repeat(lambda n: "*a, ", size) + "*a]\n")


def flow_list(size: int) -> str:
    """A flow list of millions of items where a list of dimensions belongs."""
    return HEADER + "pros: {}\ndimensions: [" + _repeat(lambda n: "1, ", size) + "1]\n"


def huge_integers(size: int) -> str:
    """Votes of thousands of hex digits."""
    return HEADER + DIMENSION + "pros:\n  alpha:\n" + _repeat(
        lambda n: f"    - label: p{n}\n      votes: 0x{'F' * 4000}\n", size)


def control_characters(size: int) -> str:
    """Descriptions full of escape sequences."""
    return HEADER + "pros: {}\ndimensions:\n" + _repeat(
        lambda n: f'  - id: d{n}\n    title: "\\e]0;x\\a"\n    descriptions: {{alpha: "\\e[2J", '
                  f'beta: b}}\n', size)


def long_sources_list(size: int) -> str:
    """One dimension whose ``sources`` list goes on for the whole file, none of them a URL."""
    return HEADER + "pros: {}\n" + DIMENSION + "    sources:\n" + _repeat(
        lambda n: f"      - nope{n}\n", size)


def long_notes_list(size: int) -> str:
    """One dimension whose ``notes`` are all text where a mapping belongs."""
    return HEADER + "pros: {}\n" + DIMENSION + "    notes:\n" + _repeat(
        lambda n: f"      - nope{n}\n", size)


def long_subjects_list(size: int) -> str:
    """Subjects without names, for the whole file (their ids are needed before the rest)."""
    return HEADER.replace("subjects:\n", "subjects:\n" + _repeat(lambda n: f"  - id: x{n}\n", size)) \
        + DIMENSION + "pros: {}\n"


GENERATORS: dict[str, Callable[[int], str]] = {
    fn.__name__: fn for fn in (mistyped_keys, wrong_subject_keys, alias_flood, flow_list,
                               huge_integers, control_characters, long_sources_list,
                               long_notes_list, long_subjects_list)
}

_CHILD = """
import resource, sys, time
import yaml
import kvmq.dataset.loader as loader
from kvmq.dataset.model import InvalidDataset
loader._import_yaml()
if sys.argv[2] == "pure":
    loader._YamlLoader = yaml.SafeLoader
started = time.perf_counter()
try:
    loader.load(sys.argv[1], use_cache=False)
    verdict = "ACCEPTED"
except InvalidDataset as exc:
    verdict = f"rejected, {len(exc.errors)} errors"
elapsed = time.perf_counter() - started
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(f"{elapsed:.3f} {peak:.0f} {verdict}")
"""


def measure(path: Path, which: str) -> tuple[float, float, str]:
    out = subprocess.run([sys.executable, "-c", _CHILD, str(path), which], capture_output=True,
                         text=True, timeout=900, check=False)
    if out.returncode != 0:
        return float("nan"), float("nan"), f"crashed: {out.stderr.strip()[-200:]}"
    seconds, peak, verdict = out.stdout.split(" ", 2)
    return float(seconds), float(peak), verdict.strip()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mib", type=float, default=31.0)
    parser.add_argument("--only", action="append", choices=sorted(GENERATORS))
    parser.add_argument("--loader", action="append", choices=("libyaml", "pure"))
    args = parser.parse_args(argv)
    size = int(args.size_mib * 1024 * 1024)
    results = []
    print(f"{'case':<22} {'loader':<8} {'MiB':>6} {'seconds':>8} {'peak MB':>8}  verdict")
    with tempfile.TemporaryDirectory(prefix="kvmq-hostile-") as tmp:
        for name in args.only or sorted(GENERATORS):
            path = Path(tmp) / f"{name}.yaml"
            path.write_text(GENERATORS[name](size), encoding="utf-8")
            mib = path.stat().st_size / 1048576
            for which in args.loader or ("libyaml", "pure"):
                seconds, peak, verdict = measure(path, which)
                ok = verdict.startswith("rejected") and seconds < 1 and peak < 300
                print(f"{name:<22} {which:<8} {mib:6.1f} {seconds:8.2f} {peak:8.0f}  {verdict}"
                      f"{'' if ok else '  <- over budget'}", flush=True)
                results.append({"case": name, "loader": which, "mib": round(mib, 1),
                                "seconds": seconds, "peak_mb": peak, "verdict": verdict,
                                "within_budget": ok})
            os.unlink(path)

    print(json.dumps(results))
    return 0 if all(r["within_budget"] for r in results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
