"""``kvmq explain`` as a real subprocess: the three inputs, the formats, exit statuses, bad input."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

FIXTURES = Path(__file__).parent / "fixtures" / "explain"


def test_command_line_after_dashes(run_kvmq) -> None:
    done = run_kvmq("explain", "--no-cross-check", "--", "qemu-system-x86_64", "-accel", "kvm",
                    "-cpu", "host", "-m", "2G", "-nodefaults")
    assert done.returncode == 0, done.stderr
    assert "-accel kvm" in done.stdout and "Linux KVM" in done.stdout
    assert "Findings: none" in done.stdout


def test_an_error_finding_exits_1(run_kvmq) -> None:
    done = run_kvmq("explain", "--no-cross-check", "--", "qemu-system-x86_64", "-cpu", "host")
    assert done.returncode == 1
    assert "ERROR" in done.stdout and "-cpu host" in done.stdout


@pytest.mark.parametrize("fmt", ["json", "markdown"])
def test_file_input_and_formats(run_kvmq, fmt: str) -> None:
    done = run_kvmq("explain", "--no-cross-check", "--format", fmt, str(FIXTURES / "libvirt-vm1.log"))
    assert done.returncode == 0, done.stderr
    if fmt == "json":
        data = json.loads(done.stdout)
        assert data["unknown"] == [] and data["accelerators"] == ["kvm"]
        assert data["program"] == "/usr/bin/qemu-system-x86_64"
    else:
        assert done.stdout.startswith("## ") and "### Findings" in done.stdout


def test_stdin_ps_output(run_kvmq) -> None:
    done = run_kvmq("explain", "--no-cross-check", "-", input=(FIXTURES / "ps.txt").read_text())
    assert done.returncode == 0, done.stderr
    assert "guest=vm2" in done.stdout


@pytest.mark.parametrize("data, message", [
    (b"qemu-system-x86_64 -name 'x\n", "unbalanced quotes"),
    (b"qemu-system-x86_64 -m 1G\x00\n", "NUL bytes"),
    (b"\xff\xfeqemu-system-x86_64\n", "not valid UTF-8"),
    (b"echo nothing here\n", "no QEMU invocation"),
    (b"qemu-system-x86_64 -append " + b"x" * (1024 * 1024 + 1) + b"\n", "1 MiB"),
], ids=["quotes", "nul", "utf8", "none", "long-line"])
def test_bad_input_is_one_line_and_exit_2(tmp_path: Path, cli_env, data: bytes, message: str) -> None:
    path = tmp_path / "input.txt"
    path.write_bytes(data)
    done = subprocess.run([sys.executable, "-m", "kvmq", "explain", str(path)], capture_output=True,
                          text=True, env=cli_env, timeout=60)
    assert done.returncode == 2
    assert done.stderr.startswith("kvmq: error: ") and message in done.stderr
    assert "Traceback" not in done.stderr and done.stderr.count("\n") == 1


def test_pid_of_a_non_qemu_process_and_of_no_process(run_kvmq) -> None:
    done = run_kvmq("explain", "--pid", "1")
    assert done.returncode == 2
    assert "is not QEMU" in done.stderr or "cannot read" in done.stderr
    done = run_kvmq("explain", "--pid", "999999999")
    assert done.returncode == 2 and "no process" in done.stderr


def test_pid_of_a_qemu_process(run_kvmq) -> None:
    # A process whose argv[0] is QEMU's name: the cmdline is read from /proc word for word.
    child = subprocess.Popen(["qemu-system-x86_64", "-c", "sleep 30; true", "-accel"],
                             executable="/bin/sh")
    try:
        done = run_kvmq("explain", "--no-cross-check", "--format", "json", "--pid", str(child.pid))
    finally:
        child.kill()
        child.wait()
    data = json.loads(done.stdout)
    assert [o["option"] for o in data["options"]] == ["-c", "-accel"]
    assert data["options"][0]["argument"] == "sleep 30; true"
    assert done.returncode == 1  # -accel without its argument: QEMU would not start
