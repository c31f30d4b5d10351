"""``kvmq vms``, run as a real subprocess over fixture /proc trees (``--root``, a hidden option)."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Callable

FIXTURES = Path(__file__).parent / "fixtures" / "vms"
CONTROL_RE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")

RunKvmq = Callable[..., "subprocess.CompletedProcess[str]"]


def clean(result: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    assert "Traceback" not in result.stderr + result.stdout
    assert CONTROL_RE.search(result.stdout) is None
    return result


def test_text(run_kvmq: RunKvmq) -> None:
    result = clean(run_kvmq("vms", "--root", str(FIXTURES / "showcase")))
    assert result.returncode == 0, result.stderr
    first = result.stdout.splitlines()[0]
    assert first.startswith("6 QEMU VMs running, 3 on TCG")
    assert "this host's KVM works (a running VM uses KVM)" in result.stdout.replace("\n", " ")
    assert all(len(line) <= 100 for line in result.stdout.splitlines())  # COLUMNS=100


def test_text_at_80_columns(run_kvmq: RunKvmq) -> None:
    result = clean(run_kvmq("vms", "--root", str(FIXTURES / "libvirt"), env={"COLUMNS": "80"}))
    assert result.returncode == 0
    assert all(len(line) <= 80 for line in result.stdout.splitlines())


def test_json(run_kvmq: RunKvmq) -> None:
    result = clean(run_kvmq("vms", "--format", "json", "--root", str(FIXTURES / "showcase")))
    data = json.loads(result.stdout)
    assert data["schema"] == 1
    assert {vm["name"]: vm["accelerator"] for vm in data["vms"]} == {
        "web-01": "kvm", "build-runner": "tcg", "dev-sandbox": "tcg", "ci-arm64": "tcg",
        "legacy-win": "kvm", "db-02": "kvm"}
    assert data["tcg_while_kvm_works"] == [2207, 2310]


def test_markdown(run_kvmq: RunKvmq) -> None:
    result = clean(run_kvmq("vms", "--format", "markdown", "--root", str(FIXTURES / "hostile")))
    assert result.returncode == 0
    assert result.stdout.startswith("# Running VMs")


def test_check_fails_on_tcg_while_kvm_works(run_kvmq: RunKvmq) -> None:
    assert clean(run_kvmq("vms", "--check", "--root", str(FIXTURES / "showcase"))).returncode == 1
    # libvirt's live XML says 'web' runs on KVM, and 'legacy' on TCG.
    assert clean(run_kvmq("vms", "--check", "--root", str(FIXTURES / "libvirt"))).returncode == 1


def test_check_passes_without_vms_or_without_kvm(run_kvmq: RunKvmq, tmp_path: Path) -> None:
    (tmp_path / "proc").mkdir()
    result = clean(run_kvmq("vms", "--check", "--root", str(tmp_path)))
    assert result.returncode == 0
    assert result.stdout.startswith("No QEMU VM is running; this host has no working KVM")
    # TCG guests on a host without KVM: nothing to fix here.
    result = clean(run_kvmq("vms", "--check", "--root", str(FIXTURES / "evidence"), "--format", "json"))
    data = json.loads(result.stdout)
    assert data["host"]["kvm_works"] is True  # pid 100 holds KVM descriptors
    assert result.returncode == 1


def test_bad_root_is_a_usage_error(run_kvmq: RunKvmq) -> None:
    result = clean(run_kvmq("vms", "--root", "/nonexistent/kvmq"))
    assert result.returncode == 2
    assert result.stderr.startswith("kvmq: error: --root '/nonexistent/kvmq' is not a directory")


def test_help_lists_vms(run_kvmq: RunKvmq) -> None:
    result = run_kvmq("--help")
    assert "vms" in result.stdout and "accelerator" in result.stdout
    sub = run_kvmq("vms", "--help")
    assert "--check" in sub.stdout and "--root" not in sub.stdout


def test_vms_never_imports_textual(run_kvmq: RunKvmq) -> None:
    result = run_kvmq("vms", "--format", "json", "--root", str(FIXTURES / "showcase"),
                      env={"PYTHONWARNINGS": "ignore", "PYTHONPROFILEIMPORTTIME": "1"})
    assert result.returncode == 0
    assert "textual" not in result.stderr
