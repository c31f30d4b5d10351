"""kvmq's benchmark harness: every figure next to the floor Textual or PyYAML sets for it.

    python benchmarks/run.py                      # sizes 500,5000,20000, 5 runs (make bench)
    python benchmarks/run.py --sizes 5000 --runs 7
    python benchmarks/run.py --quick              # tiny sizes, one run: proves it still works

Each figure is a median of ``--runs`` runs (keystrokes: median and p95 of every keystroke),
reported as a ratio to its floor measured in the same run, interleaved with it so both see
the same noise. Prints a table and writes ``benchmarks/results/latest.json`` (the
README's table is the record). Everything runs as subprocesses with ``XDG_CACHE_HOME`` pointing into a
scratch directory, so the user's cache is never touched.

Figures (the issue's budgets):

* startup: process start to the first frame showing the first dimension's title and
  description, then exit (``start_explorer.py``); floor: ``bare_app.py`` with as many options.
  Warm: the dataset cache holds the file. Cold: an empty cache; its floor adds the parser floor.
* cli: ``kvmq show performance``; floor: ``python -c "import rich.console, yaml"``.
* load: ``kvmq.dataset.load`` in-process, cold (empty cache) and warm; floor: ``yaml.load``
  with CSafeLoader and the collector paused (``load_probe.py``).
* filter keystroke / highlight move: inside a Textual pilot (``interact.py``).
* peak RSS: VmHWM of the startup processes.
* vms scan: ``kvmq.host.vms`` over a generated /proc of 2,000 processes, 500 of them QEMU
  (``vms_probe.py``); floor: listing /proc and reading every ``PID/cmdline`` in plain Python.
  "refresh" is the explorer's VMs tab scanning again (budget 2x); "first" is ``kvmq vms``'s
  one scan, reported only.
* fleet merge: ``kvmq.host.fleet.read_fleet`` on 5,000 generated per-host reports
  (``fleet_reports.py``, ``--fleet-hosts``); floor: ``json.load`` of every file (``fleet_probe.py``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Optional, Sequence

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

import fleet_reports  # noqa: E402
import generate  # noqa: E402
from frames import marker_of  # noqa: E402

DEFAULT_SIZES = (500, 5000, 20000)
SHIPPED = "shipped"


@dataclass
class Figure:
    name: str          # e.g. "startup warm"
    dataset: str       # "shipped" or the number of dimensions
    value: float       # seconds or KiB
    floor: float
    budget: Optional[float]  # the most ratio allowed; None: reported only
    unit: str = "s"
    note: str = ""
    samples: list[float] = field(default_factory=list)
    floor_samples: list[float] = field(default_factory=list)

    @property
    def ratio(self) -> float:
        return self.value / self.floor if self.floor else float("inf")

    @property
    def passed(self) -> Optional[bool]:
        return None if self.budget is None else self.ratio <= self.budget

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["ratio"] = round(self.ratio, 4)
        out["pass"] = self.passed
        return out


# --------------------------------------------------------------------------- running children


# Byte-compiles the kvmq package the children import (the --src tree or the installed one).
COMPILE_KVMQ = ("import compileall, os, kvmq; "
                "compileall.compile_dir(os.path.dirname(kvmq.__file__), quiet=1)")


class Runner:
    def __init__(self, scratch: Path, src: Optional[str], verbose: bool) -> None:
        self.scratch = scratch
        self.verbose = verbose
        self.python = sys.executable
        self.env = dict(os.environ)
        self.env.pop("KVMQ_NO_CACHE", None)
        self.env.pop("KVMQ_DATA", None)
        self.env["XDG_CACHE_HOME"] = str(scratch / "cache-warm")
        # Any non-empty value, "0" included, stops Python writing .pyc files. Children must
        # find kvmq compiled, as after any install; else every start compiles every module.
        self.env.pop("PYTHONDONTWRITEBYTECODE", None)
        if src:
            self.env["PYTHONPATH"] = os.pathsep.join(
                [str(Path(src).resolve()), *filter(None, [self.env.get("PYTHONPATH")])])
        self._cold = 0
        subprocess.run([self.python, "-c", COMPILE_KVMQ], env=self.env, cwd=ROOT, check=True)

    def cold_env(self) -> dict[str, str]:
        self._cold += 1
        return {**self.env, "XDG_CACHE_HOME": str(self.scratch / f"cache-cold-{self._cold}")}

    def run(self, argv: Sequence[str], env: Optional[dict[str, str]] = None,
            expect: int = 0) -> tuple[float, dict[str, Any]]:
        """Wall time of one child process, start to exit, and its ``BENCH`` figures."""
        start = time.perf_counter()
        done = subprocess.run(list(argv), env=env or self.env, capture_output=True,
                              text=True, cwd=ROOT, check=False)
        elapsed = time.perf_counter() - start
        if done.returncode != expect:
            raise RuntimeError(f"{' '.join(argv)} exited {done.returncode}:\n{done.stderr[-2000:]}")
        reports = [json.loads(line[6:]) for line in done.stdout.splitlines() if line.startswith("BENCH ")]
        if self.verbose:
            sys.stderr.write(f"  {elapsed:7.3f} s  {' '.join(argv[1:4])}\n")
        return elapsed, (reports[0] if len(reports) == 1 else {"all": reports})

    def script(self, name: str, *args: str) -> list[str]:
        return [self.python, str(HERE / name), *args]


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


def p95(values: Sequence[float]) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


# --------------------------------------------------------------------------- datasets


@dataclass
class Data:
    label: str       # "shipped" or "5000"
    path: Path
    count: int
    title: str
    description: str


def shipped_data() -> Data:
    from kvmq.dataset.loader import load, packaged_data_path

    path = packaged_data_path()
    dataset = load(path)
    first = dataset.dimensions[0]
    return Data(SHIPPED, path, len(dataset.dimensions), first.title,
                next(iter(first.descriptions.values())))


def generated_data(count: int, directory: Path) -> Data:
    path = generate.write(count, directory)
    return Data(str(count), path, count, generate.title(0), generate.first_description(count))


# --------------------------------------------------------------------------- measurements


def measure_load(runner: Runner, data: Data, runs: int) -> tuple[list[Figure], float]:
    _, report = runner.run(runner.script("load_probe.py", "--data", str(data.path), "--runs", str(runs)))
    floor = report["floor"]
    note = "" if report["wired"] else "via kvmq.cache: dataset.load() not wired yet"
    figures = [
        Figure("load cold", data.label, median(report["cold"]), median(floor), 1.25,
               samples=report["cold"], floor_samples=floor),
        Figure("load warm", data.label, median(report["warm"]), median(floor),
               0.10 if data.count >= 5000 else None, note=note,
               samples=report["warm"], floor_samples=floor),
    ]
    return figures, median(floor)


def measure_startup(runner: Runner, data: Data, runs: int, parser_floor: float,
                    budgets: tuple[float, float, float]) -> list[Figure]:
    """Startup (warm and cold) and peak RSS of the explorer against the bare app."""
    markers = ["--marker", data.title, "--marker", marker_of(data.description)]
    bare = runner.script("bare_app.py", "--count", str(data.count), *markers)
    if data.label == SHIPPED:
        titles = runner.scratch / "shipped-titles.txt"
        from kvmq.dataset.loader import load

        titles.write_text("\n".join(d.title for d in load(data.path).dimensions), encoding="utf-8")
        bare += ["--titles-from", str(titles)]
    explorer = runner.script("start_explorer.py", "--data", str(data.path), *markers)
    runner.run(explorer)  # primes the warm cache (and the OS file cache)
    times: dict[str, list[float]] = {"bare": [], "warm": [], "cold": []}
    rss: dict[str, list[float]] = {"bare": [], "warm": []}
    for run in range(runs):
        order = ("bare", "warm", "cold") if run % 2 == 0 else ("cold", "warm", "bare")
        for kind in order:
            argv = bare if kind == "bare" else explorer
            elapsed, report = runner.run(argv, env=runner.cold_env() if kind == "cold" else None)
            if not report.get("shown"):
                raise RuntimeError(f"{kind} app never showed {data.title!r}")
            times[kind].append(elapsed)
            if kind in rss:
                rss[kind].append(report["peak_rss_kb"])
    warm_budget, cold_budget, rss_budget = budgets
    bare_median = median(times["bare"])
    return [
        Figure("startup warm", data.label, median(times["warm"]), bare_median, warm_budget,
               samples=times["warm"], floor_samples=times["bare"]),
        Figure("startup cold", data.label, median(times["cold"]), bare_median + parser_floor,
               cold_budget, note="floor: bare app + parser floor",
               samples=times["cold"], floor_samples=times["bare"]),
        Figure("peak RSS", data.label, median(rss["warm"]), median(rss["bare"]), rss_budget,
               unit="KiB", samples=rss["warm"], floor_samples=rss["bare"]),
    ]


def measure_cli(runner: Runner, runs: int) -> list[Figure]:
    script = Path(sys.executable).with_name("kvmq")
    show = [str(script)] if script.is_file() else [sys.executable, "-m", "kvmq"]
    show += ["show", "performance"]
    floor = [sys.executable, "-c", "import rich.console, yaml"]
    runner.run(show)  # warm cache
    times: dict[str, list[float]] = {"show": [], "floor": []}
    for run in range(runs):
        for kind in (("show", "floor") if run % 2 == 0 else ("floor", "show")):
            times[kind].append(runner.run(show if kind == "show" else floor)[0])
    return [Figure("kvmq show", SHIPPED, median(times["show"]), median(times["floor"]), 2.0,
                   note="floor: python -c 'import rich.console, yaml'",
                   samples=times["show"], floor_samples=times["floor"])]


def explain_line(options: int = 300) -> str:
    """A libvirt-like QEMU command line with ``options`` options (disks, NICs, devices)."""
    parts = ["/usr/bin/qemu-system-x86_64", "-name guest=bench,debug-threads=on", "-S",
             "-machine pc-q35-7.2,usb=off,dump-guest-core=off", "-accel kvm", "-cpu host,migratable=on",
             "-m size=4194304k", "-smp 4,sockets=1,cores=4,threads=1", "-nodefaults"]
    unit = 0
    while len(parts) - 1 < options:
        parts += [
            f"-blockdev '{{\"driver\":\"file\",\"filename\":\"/var/lib/images/d{unit}.qcow2\","
            f"\"node-name\":\"s{unit}\",\"discard\":\"unmap\"}}'",
            f"-blockdev '{{\"node-name\":\"f{unit}\",\"driver\":\"qcow2\",\"file\":\"s{unit}\"}}'",
            f"-device virtio-blk-pci,drive=f{unit},id=disk{unit},bus=pcie.0",
            f"-netdev tap,id=n{unit},fd={100 + unit},vhost=on",
            f"-device virtio-net-pci,netdev=n{unit},mac=52:54:00:00:00:{unit % 256:02x}",
        ]
        unit += 1
    return " ".join(parts[:options + 1]) + "\n"


def measure_explain(runner: Runner, runs: int, scratch: Path) -> list[Figure]:
    """What a 300-option line adds to ``kvmq explain``'s start, and the whole run next to the CLI
    floor. The budget is on the first: the same command with a one-option line is its floor."""
    line = scratch / "explain-300.sh"
    line.write_text(explain_line(300), encoding="utf-8")
    short = scratch / "explain-1.sh"
    short.write_text(explain_line(0), encoding="utf-8")
    script = Path(sys.executable).with_name("kvmq")
    base = [str(script)] if script.is_file() else [sys.executable, "-m", "kvmq"]
    commands = {
        "explain": [*base, "explain", "--no-cross-check", str(line)],
        "short": [*base, "explain", "--no-cross-check", str(short)],
        "floor": [sys.executable, "-c", "import rich.console, yaml"],
    }
    runner.run(commands["explain"])
    times: dict[str, list[float]] = {kind: [] for kind in commands}
    order = list(commands)
    for run in range(runs):
        for kind in order[run % 3:] + order[:run % 3]:
            times[kind].append(runner.run(commands[kind])[0])
    short_time = median(times["short"])
    floor_time = median(times["floor"])
    return [
        Figure("kvmq explain 300 lines' cost", SHIPPED, median(times["explain"]), short_time,
               (short_time + 0.050) / short_time if short_time else None,
               note="budget: +50 ms over the same command with a one-option line",
               samples=times["explain"], floor_samples=times["short"]),
        Figure("kvmq explain 300", SHIPPED, median(times["explain"]), floor_time, None,
               note="reported: floor python -c 'import rich.console, yaml'",
               samples=times["explain"], floor_samples=times["floor"]),
    ]


def measure_fleet(runner: Runner, runs: int, hosts: int) -> list[Figure]:
    """``kvmq fleet``'s merge of per-host reports next to ``json.load`` on the same files."""
    folder = fleet_reports.write_fleet(runner.scratch / f"fleet-{hosts}", hosts)
    _, report = runner.run(runner.script("fleet_probe.py", "--folder", str(folder), "--runs", str(runs)))
    if report["hosts"] != hosts:
        raise RuntimeError(f"the merge found {report['hosts']} hosts, not {hosts}")
    return [Figure("fleet merge", str(hosts), median(report["merge"]), median(report["floor"]), 2.0,
                   note="floor: json.load of every report file",
                   samples=report["merge"], floor_samples=report["floor"])]


def measure_interaction(runner: Runner, datasets: Sequence[Data], runs: int, moves: int) -> list[Figure]:
    argv = runner.script("interact.py", "--runs", str(runs), "--moves", str(moves),
                         "--word", generate.FILTER_WORD)
    for data in datasets:
        argv += ["--data", str(data.path)]
    _, report = runner.run(argv)
    reports = report.get("all", [report])
    figures: list[Figure] = []
    for data, found in zip(datasets, reports):
        explorer, bare = found["explorer"], found["bare"]
        figures += [
            Figure("filter key median", data.label, median(explorer["keystroke"]),
                   median(bare["keystroke"]), 1.5,
                   samples=explorer["keystroke"], floor_samples=bare["keystroke"]),
            Figure("filter key p95", data.label, p95(explorer["keystroke"]),
                   p95(bare["keystroke"]), 2.0),
            Figure("highlight move", data.label, median(explorer["move"]), median(bare["move"]), 1.5,
                   note="pane update included", samples=explorer["move"],
                   floor_samples=bare["move"]),
        ]
    return figures


def measure_vms(runner: Runner, runs: int, processes: int, qemus: int) -> list[Figure]:
    _, report = runner.run(runner.script("vms_probe.py", "--processes", str(processes),
                                         "--qemus", str(qemus), "--runs", str(runs)))
    floor = report["floor"]
    label = f"{qemus}/{processes}"
    return [
        Figure("vms scan refresh", label, median(report["refresh"]), median(floor), 2.0,
               note="the VMs tab's scan every few seconds; floor: read every /proc/*/cmdline",
               samples=report["refresh"], floor_samples=floor),
        Figure("vms scan first", label, median(report["first"]), median(floor), None,
               note="kvmq vms: every QEMU's descriptors, status and command line parsed",
               samples=report["first"], floor_samples=floor),
        Figure("vms evidence reads", label, median(report["evidence"]), median(floor), None,
               note="only the reads a first scan cannot skip (descriptors, status, binary)",
               samples=report["evidence"], floor_samples=floor),
    ]


# --------------------------------------------------------------------------- output


def _fmt(value: float, unit: str) -> str:
    if unit == "KiB":
        return f"{value / 1024:.1f} MiB"
    return f"{value * 1000:.1f} ms" if value < 10 else f"{value:.2f} s"


def table(figures: Sequence[Figure]) -> str:
    rows = [("figure", "dataset", "value", "floor", "ratio", "budget", "ok")]
    for f in figures:
        ok = {True: "pass", False: "FAIL", None: "-"}[f.passed]
        rows.append((f.name, f.dataset, _fmt(f.value, f.unit), _fmt(f.floor, f.unit),
                     f"{f.ratio:.2f}x", f"<= {f.budget:.2f}x" if f.budget is not None else "-", ok))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(w) if i < 2 else cell.rjust(w) for i, (cell, w) in
                       enumerate(zip(row, widths))) for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def markdown_table(figures: Sequence[Figure]) -> str:
    out = ["| figure | dataset | kvmq | floor | ratio | budget | |", "|---|---|--:|--:|--:|--:|---|"]
    for f in figures:
        ok = {True: "pass", False: "**fail**", None: ""}[f.passed]
        budget = f"≤ {f.budget:.2f}×" if f.budget is not None else ""
        out.append(f"| {f.name} | {f.dataset} | {_fmt(f.value, f.unit)} | {_fmt(f.floor, f.unit)} "
                   f"| {f.ratio:.2f}× | {budget} | {ok} |")
    return "\n".join(out)


def environment() -> dict[str, Any]:
    def version(module: str) -> str:
        try:
            from importlib.metadata import version as dist_version

            return dist_version(module)
        except Exception:
            return "?"

    import yaml

    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "textual": version("textual"),
        "pyyaml": version("PyYAML"),
        "libyaml": bool(getattr(yaml, "__with_libyaml__", False)),
        "kvmq": version("kvmq"),
    }


# --------------------------------------------------------------------------- main


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--sizes", default=",".join(map(str, DEFAULT_SIZES)),
                        help="generated dataset sizes, comma-separated (default: %(default)s)")
    parser.add_argument("--runs", type=int, default=5, help="runs per figure (default: 5)")
    parser.add_argument("--moves", type=int, default=200, help="highlight moves per run")
    parser.add_argument("--quick", action="store_true",
                        help="tiny sizes, one run, few moves: checks the harness, not the speed")
    parser.add_argument("--fleet-hosts", type=int, default=5000,
                        help="per-host reports merged by the fleet figure (default: %(default)s)")
    parser.add_argument("--only", default="startup,cli,load,interact,vms,fleet",
                        help="which groups to run (default: all)")
    parser.add_argument("--out", default=str(HERE / "results"), help="where the JSON goes")
    parser.add_argument("--src", help="put this source tree first on PYTHONPATH "
                                      "(to measure a patched copy of src/)")
    parser.add_argument("--no-shipped", action="store_true", help="skip the shipped dataset")
    parser.add_argument("--markdown", action="store_true", help="also print a Markdown table")
    parser.add_argument("-v", "--verbose", action="store_true")
    args = parser.parse_args(argv)
    if args.quick:
        args.sizes, args.runs, args.moves, args.fleet_hosts = "20", 1, 3, 50
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    groups = set(args.only.split(","))
    runs = max(1, args.runs)

    figures: list[Figure] = []
    scratch = Path(tempfile.mkdtemp(prefix="kvmq-bench-"))
    started = time.time()
    try:
        runner = Runner(scratch, args.src, args.verbose)
        datasets: list[Data] = [] if args.no_shipped else [shipped_data()]
        data_dir = scratch / "data"
        data_dir.mkdir()
        datasets += [generated_data(n, data_dir) for n in sizes]
        if "cli" in groups:
            print("kvmq show ...", file=sys.stderr)
            figures += measure_cli(runner, runs)
            figures += measure_explain(runner, runs, scratch)
        for data in datasets:
            print(f"dataset {data.label} ({data.count} dimensions) ...", file=sys.stderr)
            parser_floor = 0.0
            if "load" in groups or "startup" in groups:
                load_figures, parser_floor = measure_load(runner, data, runs)
                if "load" in groups:
                    figures += load_figures
            if "startup" in groups:
                budgets = (1.25, 1.25, 1.3) if data.label == SHIPPED else (1.5, 1.5, 1.6)
                figures += measure_startup(runner, data, runs, parser_floor, budgets)
        if "fleet" in groups:
            print(f"fleet merge of {args.fleet_hosts} host reports ...", file=sys.stderr)
            figures += measure_fleet(runner, runs, args.fleet_hosts)
        if "interact" in groups:
            print("filter and highlight ...", file=sys.stderr)
            figures += measure_interaction(runner, datasets, runs, args.moves)
        if "vms" in groups:
            print("VM scan ...", file=sys.stderr)
            processes, qemus = (200, 50) if args.quick else (2000, 500)
            figures += measure_vms(runner, runs, processes, qemus)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)

    order = {d.label: i for i, d in enumerate(datasets)}
    figures.sort(key=lambda f: (order.get(f.dataset, -1), f.name.split()[0]))
    print(table(figures))
    if args.markdown:
        print()
        print(markdown_table(figures))
    failed = [f for f in figures if f.passed is False]
    print(f"\n{len(figures) - len(failed)} of {len(figures)} figures within budget"
          + (f"; over budget: {', '.join(f'{f.name} ({f.dataset})' for f in failed)}" if failed else ""))

    result = {
        "started": time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(started)),
        "seconds": round(time.time() - started, 1),
        "options": {"sizes": sizes, "runs": runs, "moves": args.moves, "quick": args.quick,
                    "src": args.src},
        "environment": environment(),
        "figures": [f.to_json() for f in figures],
        "markdown": markdown_table(figures),
    }
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    text = json.dumps(result, indent=2) + "\n"
    for name in ("latest.json",):
        temporary = out / f".{name}.tmp"
        temporary.write_text(text, encoding="utf-8")
        os.replace(temporary, out / name)
    print(f"results: {out / 'latest.json'}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
