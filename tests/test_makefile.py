"""The README's `make run`: it says what it is doing, one line per step (issue 16, item 15).

Runs the real Makefile in a scratch copy of the project with a stand-in Python, so nothing
is downloaded or installed: the stand-in creates the venv layout and records pip calls.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]

FAKE_PYTHON = """#!/bin/sh
# A stand-in interpreter: `-m venv DIR` makes DIR/bin/{python,kvmq}; `-m pip ...` succeeds.
if [ "$1" = "-m" ] && [ "$2" = "venv" ]; then
    mkdir -p "$3/bin"
    cp "$0" "$3/bin/python"
    printf '#!/bin/sh\\necho "kvmq ran with: $*"\\n' > "$3/bin/kvmq"
    chmod +x "$3/bin/kvmq"
    exit 0
fi
if [ "$1" = "-m" ] && [ "$2" = "pip" ]; then
    exit 0
fi
exit 1
"""


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_make_run_prints_its_steps(tmp_path: Path) -> None:
    project = tmp_path / "project"
    (project / "src" / "kvmq").mkdir(parents=True)
    shutil.copy(REPO_ROOT / "Makefile", project / "Makefile")
    (project / "pyproject.toml").write_text("[project]\nname = 'kvmq'\n")
    (project / "src" / "kvmq" / "__init__.py").write_text("")
    python = tmp_path / "python3"
    python.write_text(FAKE_PYTHON)
    python.chmod(0o755)
    result = subprocess.run(["make", "--no-print-directory", "run", f"PYTHON={python}",
                             "ARGS=--version"], cwd=project, capture_output=True, text=True,
                            timeout=60, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert [line.split(" ", 2)[1] for line in lines if line.startswith("make: ")] == [
        "creating", "installing", "starting"], lines
    assert lines[-1] == "kvmq ran with: --version"
    # A second run has nothing to set up: it only says that it starts kvmq.
    again = subprocess.run(["make", "--no-print-directory", "run", f"PYTHON={python}"],
                           cwd=project, capture_output=True, text=True, timeout=60, check=False)
    assert [line for line in again.stdout.splitlines() if line.startswith("make: ")] == [
        "make: starting .venv/bin/kvmq "], again.stdout
