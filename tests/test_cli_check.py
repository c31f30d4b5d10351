"""``kvmq check``: options, output and the exit status (issue 17, item 11)."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from kvmq import cli
from kvmq.host import checks
from kvmq.host.model import Report
from tests.helpers import host_from_tree

HOSTS = Path(__file__).parent / "fixtures" / "hosts"


def fixture_report(name: str) -> Report:
    return checks.run_checks(host_from_tree(HOSTS / name, timeout=0.5))


@pytest.fixture
def no_kvm(monkeypatch: pytest.MonkeyPatch) -> Report:
    report = fixture_report("amd-no-access")
    monkeypatch.setattr(checks, "run_checks", lambda host=None: report)
    return report


class ClosedPipe(io.TextIOBase):
    """What stdout is when the reader went away."""

    def write(self, text: str) -> int:
        raise BrokenPipeError(32, "Broken pipe")

    def flush(self) -> None:
        raise BrokenPipeError(32, "Broken pipe")

    def fileno(self) -> int:
        raise io.UnsupportedOperation("fileno")


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_exit_status_is_the_verdict_even_into_a_closed_pipe(
    no_kvm: Report, monkeypatch: pytest.MonkeyPatch, fmt: str
) -> None:
    monkeypatch.setattr(sys, "stdout", ClosedPipe())
    assert cli.main(["check", "--format", fmt]) == 1


def test_exit_status_without_any_stdout(no_kvm: Report, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "stdout", None)
    assert cli.main(["check"]) == 1


def test_quiet_and_json(no_kvm: Report, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["check", "-q"]) == 1
    text = capsys.readouterr().out
    assert "FAIL  kvm.access" in text and "PASS " not in text and "Verdict: QEMU will run" in text
    assert cli.main(["check", "--format", "json"]) == 1
    data = json.loads(capsys.readouterr().out)
    assert data["schema"] == 1 and data["verdict"]["kvm_available"] is False


def test_real_machine_into_a_closed_pipe() -> None:
    # A real process whose reader is gone: no traceback, and the status says what the host can do.
    kvmq = Path(sys.executable).parent / "kvmq"
    read, write = os.pipe()
    os.close(read)
    done = subprocess.run([str(kvmq), "check"], stdout=write, stderr=subprocess.PIPE, timeout=60)
    os.close(write)
    expected = 0 if checks.run_checks().kvm_available else 1
    assert done.returncode == expected
    assert b"Traceback" not in done.stderr and b"error" not in done.stderr
