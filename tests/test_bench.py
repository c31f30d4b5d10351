"""The benchmark harness still runs end to end (tiny sizes, one run; no timing assertions)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BENCHMARKS = ROOT / "benchmarks"

EXPECTED = {
    ("kvmq show", "shipped"),
    ("kvmq explain 300 lines' cost", "shipped"),
    ("kvmq explain 300", "shipped"),
    ("fleet merge", "50"),
    # The CLI figures run on the shipped file; the per-dataset ones on the generated one
    # only (`--no-shipped`: the same code on another file, at half the test's cost).
    *((name, "20") for name in (
        "load cold", "load warm", "startup warm", "startup cold", "peak RSS",
        "filter key median", "filter key p95", "highlight move",
    )),
    ("vms scan refresh", "50/200"),
    ("vms scan first", "50/200"),
    ("vms evidence reads", "50/200"),
}


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[subprocess.CompletedProcess[str], Path]:
    out = tmp_path_factory.mktemp("bench-results")
    done = subprocess.run(
        [sys.executable, str(BENCHMARKS / "run.py"), "--quick", "--no-shipped", "--out", str(out)],
        capture_output=True, text=True, cwd=ROOT, timeout=240, check=False,
    )
    return done, out


def test_quick_run_exits_0(quick_run: tuple[subprocess.CompletedProcess[str], Path]) -> None:
    done, _ = quick_run
    assert done.returncode == 0, done.stderr[-3000:]


def test_quick_run_writes_every_figure(quick_run: tuple[subprocess.CompletedProcess[str], Path]) -> None:
    done, out = quick_run
    assert done.returncode == 0, done.stderr[-3000:]
    latest = json.loads((out / "latest.json").read_text(encoding="utf-8"))
    stamped = [p for p in out.glob("*.json") if p.name != "latest.json"]
    assert stamped == []  # the README's table is the record, not a history of runs
    found = {(f["name"], f["dataset"]) for f in latest["figures"]}
    assert found == EXPECTED
    for figure in latest["figures"]:
        assert figure["value"] > 0 and figure["floor"] > 0, figure
        assert figure["pass"] in (True, False, None)
    assert latest["environment"]["python"]
    # The table names every figure too.
    for name, _ in EXPECTED:
        assert name in done.stdout


def test_generated_dataset_is_valid_and_deterministic(tmp_path: Path) -> None:
    sys.path.insert(0, str(BENCHMARKS))
    try:
        import generate
    finally:
        sys.path.remove(str(BENCHMARKS))
    from kvmq.dataset.loader import loads
    from kvmq.dataset.search import FilterIndex

    text = generate.generate(30)
    assert text == generate.generate(30)
    dataset = loads(text, "generated")
    assert len(dataset.dimensions) == 30
    assert dataset.dimensions[0].title == generate.title(0)
    assert next(iter(dataset.dimensions[0].descriptions.values())) == generate.first_description(30)
    assert FilterIndex(dataset).filter(generate.FILTER_WORD), "the filter word must match something"
