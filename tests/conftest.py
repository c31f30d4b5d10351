"""Shared fixtures: where the repository and datasets are, and how to run the ``kvmq`` CLI."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Callable, Mapping, Optional

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
SHIPPED_DATASET = REPO_ROOT / "data" / "kvm-vs-qemu.yaml"
DATASETS_DIR = Path(__file__).resolve().parent / "fixtures" / "datasets"

# Variables that would change how kvmq or rich behave from one machine to the next.
_SCRUBBED_ENV = (
    "KVMQ_DATA", "KVMQ_DEBUG", "FORCE_COLOR", "CLICOLOR_FORCE", "TTY_COMPATIBLE",
    "TTY_INTERACTIVE", "LINES", "TEXTUAL", "PYTHONWARNINGS",
)

RunKvmq = Callable[..., "subprocess.CompletedProcess[str]"]


def kvmq_env(env: Optional[Mapping[str, str]] = None) -> dict[str, str]:
    """The environment the CLI runs in: plain output, 100 columns, no cache, no KVMQ_DATA."""
    out = {key: value for key, value in os.environ.items() if key not in _SCRUBBED_ENV}
    out.update({"NO_COLOR": "1", "COLUMNS": "100", "KVMQ_NO_CACHE": "1", "TERM": "dumb"})
    out.update(env or {})
    return out


@pytest.fixture(autouse=True)
def _private_dataset_cache(tmp_path_factory: pytest.TempPathFactory,
                           monkeypatch: pytest.MonkeyPatch) -> None:
    """In-process ``load()`` calls cache into this session's scratch directory, never ~/.cache."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.getbasetemp() / "xdg-cache"))


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO_ROOT


@pytest.fixture(scope="session")
def shipped_dataset() -> Path:
    return SHIPPED_DATASET


@pytest.fixture(scope="session")
def datasets_dir() -> Path:
    return DATASETS_DIR


@pytest.fixture
def cli_env() -> dict[str, str]:
    """The environment ``run_kvmq`` uses, for tests that start ``kvmq`` some other way."""
    return kvmq_env()


@pytest.fixture
def run_kvmq(tmp_path: Path) -> RunKvmq:
    """Run ``python -m kvmq ARGS`` from an empty temporary directory and capture its output."""
    cwd = tmp_path / "cwd"
    cwd.mkdir(exist_ok=True)

    def run(*args: str, env: Optional[Mapping[str, str]] = None,
            input: Optional[str] = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "kvmq", *args],
            capture_output=True, text=True, timeout=60, cwd=cwd, env=kvmq_env(env),
            input=input if input is not None else "",
        )

    return run


# Test files that run the one-file bundle: collecting any of them starts its build in the
# background, so the build overlaps other tests (tests/bundle_cache.py).
_BUNDLE_USERS = {"test_bundle.py", "test_fleet_ansible.py"}


# Files whose tests share module- or session-scoped fixtures (a playbook run, a bundle, a
# benchmark run, booted VMs, a parsed table): with `make test`'s `--dist loadgroup`, each runs
# on one worker, so a fixture is built once. Every other test is handed out on its own, which
# keeps both workers busy to the end.
_SHARED_FIXTURE_FILES = {
    "test_bench.py", "test_bundle.py", "test_data.py", "test_fleet_ansible.py",
    "test_host_checks.py", "test_loader.py", "test_packaging.py", "test_render_dataset.py",
    "test_render_fleet.py", "test_vms.py", "test_vms_real.py",
}


# The longest work, handed out first (with `--no-loadscope-reorder`, in this order): started
# last, a 25 s playbook run or benchmark would leave the other workers idle at the end.
_LONGEST_FIRST = (
    "test_fleet_ansible.py", "test_bench.py", "test_tui.py::test_survives_any_size_and_random_keys",
    "test_vms.py", "test_packaging.py", "test_bundle.py", "test_vms_real.py", "test_loader.py",
)


def _start_rank(item: pytest.Item) -> int:
    for rank, name in enumerate(_LONGEST_FIRST):
        if item.nodeid.split("/")[-1].startswith(name):
            return rank
    return len(_LONGEST_FIRST)


@pytest.hookimpl(tryfirst=True)  # before xdist's own hook reads the groups off the markers
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if item.path.name in _SHARED_FIXTURE_FILES:
            item.add_marker(pytest.mark.xdist_group(item.path.name))
    items.sort(key=_start_rank)
    if any(item.path.name in _BUNDLE_USERS for item in items):
        from tests import bundle_cache

        bundle_cache.start_in_background()
