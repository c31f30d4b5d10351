"""The version lives in one place (``kvmq.__version__``) and the metadata says what is tested."""

from __future__ import annotations

import re
import subprocess
import sys
from importlib.metadata import metadata, version
from pathlib import Path

import pytest

import kvmq
from kvmq.cli import main
from kvmq.dataset.model import SCHEMA_VERSION

PYPROJECT = Path(__file__).resolve().parents[1] / "pyproject.toml"
# The supported range; .ci/run and tests/test_bundle.py run its two ends (and the default).
TESTED_PYTHONS = ("3.9", "3.10", "3.11", "3.12", "3.13")


def test_metadata_version_is_read_from_the_package() -> None:
    text = PYPROJECT.read_text(encoding="utf-8")
    assert re.search(r'^dynamic = \["version"\]', text, re.MULTILINE)
    assert re.search(r'^\[tool\.hatch\.version\]\npath = "src/kvmq/__init__.py"', text, re.MULTILINE)
    assert re.fullmatch(r"\d+\.\d+\.\d+", kvmq.__version__)


def test_installed_metadata_agrees_with_the_package() -> None:
    assert version("kvmq") == kvmq.__version__, (
        "the installed metadata is stale: reinstall (pip install -e .) after changing __version__")


def test_requires_python_and_classifiers_say_what_is_tested() -> None:
    meta = metadata("kvmq")
    assert meta["Requires-Python"] == f">={TESTED_PYTHONS[0]}"
    classified = sorted((c.rsplit(" :: ", 1)[1] for c in meta.get_all("Classifier")
                         if re.fullmatch(r"Programming Language :: Python :: 3\.\d+", c)),
                        key=lambda v: int(v.split(".")[1]))
    assert tuple(classified) == TESTED_PYTHONS


def test_version_option(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out == f"kvmq {kvmq.__version__} (dataset schema {SCHEMA_VERSION})\n"


def test_version_option_of_the_module(tmp_path: Path) -> None:
    result = subprocess.run([sys.executable, "-m", "kvmq", "--version"], cwd=tmp_path,
                            capture_output=True, text=True, timeout=60, check=False)
    assert (result.returncode, result.stdout, result.stderr) == (
        0, f"kvmq {kvmq.__version__} (dataset schema {SCHEMA_VERSION})\n", "")
