"""Packaging: the wheel ships the dataset, and an installed kvmq finds it from anywhere."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
SHIPPED = REPO_ROOT / "data" / "kvm-vs-qemu.yaml"
WHEEL_DATA = "kvmq/data/kvm-vs-qemu.yaml"

pytestmark = pytest.mark.slow


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("KVMQ_DATA", "PYTHONPATH", "VIRTUAL_ENV")}
    env.update({"NO_COLOR": "1", "COLUMNS": "100", "KVMQ_NO_CACHE": "1",
                "PIP_DISABLE_PIP_VERSION_CHECK": "1", "PIP_NO_INPUT": "1"})
    return env


def _run(args: list[str], cwd: Path, timeout: int = 180) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(args, capture_output=True, text=True, timeout=timeout, cwd=cwd, env=_env(),
                            stdin=subprocess.DEVNULL)
    assert result.returncode == 0, f"{args}\n{result.stdout}\n{result.stderr}"
    return result


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(out), str(REPO_ROOT)],
         cwd=out)
    wheels = list(out.glob("kvmq-*.whl"))
    assert len(wheels) == 1, wheels
    return wheels[0]


def test_wheel_contents(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        assert WHEEL_DATA in names
        assert archive.read(WHEEL_DATA) == SHIPPED.read_bytes()
        entry_points = next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
        assert "kvmq = kvmq.cli:main" in archive.read(entry_points).decode()
    for source in (REPO_ROOT / "src" / "kvmq").rglob("*.py"):
        assert source.relative_to(REPO_ROOT / "src").as_posix() in names, source
    assert not any(name.startswith("tests/") for name in names)


def test_installed_wheel_runs_from_anywhere(wheel: Path, tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    # A venv without a pip of its own, filled by this one's pip (--python): the install is
    # what is tested, not bootstrapping pip (which took longer than the install itself).
    _run([sys.executable, "-m", "venv", "--without-pip", str(venv)], cwd=tmp_path)
    python = venv / "bin" / "python"
    _run([sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet", "--no-compile",
          str(wheel)], cwd=tmp_path, timeout=300)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()

    shown = _run([str(venv / "bin" / "kvmq"), "show", "--format", "json"], cwd=elsewhere)
    data = json.loads(shown.stdout)
    assert len(data["dimensions"]) == 24
    assert data["title"] == "KVM vs QEMU"

    located = _run([str(python), "-c", "import kvmq.dataset.loader as d; print(d.packaged_data_path())"],
                   cwd=elsewhere)
    path = Path(located.stdout.strip())
    assert path.is_file()
    assert venv.resolve() in path.resolve().parents, "the installed kvmq must use its own copy"
    assert path.read_bytes() == SHIPPED.read_bytes()

    validated = _run([str(venv / "bin" / "kvmq"), "validate"], cwd=elsewhere)
    assert "OK" in validated.stdout and "24 dimensions" in validated.stdout


def test_editable_install_finds_the_dataset(tmp_path: Path) -> None:
    located = _run([sys.executable, "-c", "import kvmq.dataset.loader as d; print(d.packaged_data_path())"],
                   cwd=tmp_path)
    path = Path(located.stdout.strip())
    assert path.is_file(), path
    assert path.read_bytes() == SHIPPED.read_bytes()
