"""Host checks against fake hosts built from fixture trees."""

from __future__ import annotations

import dataclasses
import errno
import os
import stat
import time
from pathlib import Path
from typing import Optional, Sequence

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kvmq.host import model as _model
from kvmq.host import probe as hostcheck
from kvmq.host.checks import run_checks
from kvmq.host.model import SUMMARY_AVAILABLE, SUMMARY_TCG, Report, Status, clean_text
from kvmq.host.probe import DeviceInfo, Host, RunResult
from kvmq.host.programs import parse_accels, parse_version
from tests.helpers import host_from_tree

HOSTS = Path(__file__).parent / "fixtures" / "hosts"
FIXTURES = sorted(p.name for p in HOSTS.iterdir() if p.is_dir())


def fake_host(name: str, **overrides: object) -> Host:
    return host_from_tree(HOSTS / name, **overrides)


def check(report: Report, check_id: str) -> _model.Check:
    found = report.get(check_id)
    assert found is not None, f"no check {check_id}: {[c.id for c in report.checks]}"
    return found


@pytest.fixture(scope="module")
def reports() -> dict[str, Report]:
    # The hanging binary is given a short timeout so the suite stays quick.
    return {name: run_checks(fake_host(name, timeout=0.5)) for name in FIXTURES}


def test_fixture_scripts_are_executable() -> None:
    # The fake binaries run for real; a lost exec bit would silently hide them.
    scripts = [p for p in HOSTS.glob("*/usr/bin/*") if p.is_file()]
    assert scripts
    for script in scripts:
        assert script.stat().st_mode & stat.S_IXUSR, script


def test_required_fixtures_exist() -> None:
    for name in ("intel-kvm", "amd-no-access", "nested-guest", "container-no-kvm", "aarch64", "qemu-hang",
                 "intel-tdx", "amd-sev-snp", "iommu-not-enabled", "cgroup-v1", "cgroup-v2-no-cpuset",
                 "vm-create-ebusy", "firmware-disabled", "qemu-flood", "qemu-background"):
        assert name in FIXTURES


def test_every_check_has_known_shape(reports: dict[str, Report]) -> None:
    required = {
        "cpu.virt-flags",
        "kvm.modules",
        "kvm.device",
        "kvm.access",
        "kvm.api",
        "kvm.nested",
        "vhost-net",
        "tun",
        "kvm.vm",
        "kvm.firmware",
        "host.vm",
        "kvm.ppc64-hv",
        "cgroups",
        "iommu.firmware",
        "iommu.kernel",
        "secure.amd-sev",
        "secure.intel-tdx",
        "secure.s390-pv",
        "host.cpus",
        "host.memory",
        "host.hugepages",
        "qemu.binaries",
        "qemu.img",
        "libvirt.virsh",
    }
    for name, report in reports.items():
        ids = [c.id for c in report.checks]
        assert required <= set(ids), name
        assert len(ids) == len(set(ids)), name
        for c in report.checks:
            assert c.finding and "\n" not in c.finding
            if c.status in (Status.WARN, Status.FAIL):
                assert c.hint, f"{name}: {c.id} needs a hint"
            if c.status is Status.PASS:
                assert not c.hint


def test_intel_kvm(reports: dict[str, Report]) -> None:
    report = reports["intel-kvm"]
    assert report.kvm_available
    assert report.verdict.summary == SUMMARY_AVAILABLE
    assert "KVM_GET_API_VERSION = 12" in report.verdict.reason
    for cid in (
        "cpu.virt-flags",
        "kvm.modules",
        "kvm.device",
        "kvm.access",
        "kvm.api",
        "vhost-net",
        "tun",
        "qemu.binaries",
    ):
        assert check(report, cid).status is Status.PASS, cid
    assert "vmx" in check(report, "cpu.virt-flags").finding
    assert "kvm_intel" in check(report, "kvm.modules").finding
    assert "nested=Y" in check(report, "kvm.nested").finding
    assert check(report, "iommu.kernel").finding.startswith("4 IOMMU groups")
    assert check(report, "iommu.firmware").status is Status.PASS
    vm = check(report, "kvm.vm")
    assert vm.status is Status.PASS and "created a VM" in vm.finding
    assert vm.fact("max_vcpus") == 1024 and vm.fact("vcpu_created") is True
    x86 = check(report, "qemu.binaries.qemu-system-x86_64")
    assert x86.status is Status.PASS
    assert "8.2.2" in x86.finding and "kvm" in x86.finding
    assert "in /usr/bin" in x86.finding and x86.fact("path") == "/usr/bin/qemu-system-x86_64"
    arm = check(report, "qemu.binaries.qemu-system-aarch64")
    assert arm.status is Status.NOTE and "another architecture" in arm.finding
    assert check(report, "qemu.img").finding.startswith("8.2.2")
    assert check(report, "libvirt.virsh").finding.startswith("10.0.0")


def test_amd_without_access(reports: dict[str, Report]) -> None:
    report = reports["amd-no-access"]
    assert not report.kvm_available
    assert report.verdict.summary == SUMMARY_TCG
    assert "bob" in report.verdict.reason
    assert check(report, "cpu.virt-flags").status is Status.PASS
    assert "svm" in check(report, "cpu.virt-flags").finding
    access = check(report, "kvm.access")
    assert access.status is Status.FAIL
    assert "root:kvm" in access.finding
    assert "usermod -aG kvm bob" in access.hint
    api = check(report, "kvm.api")
    assert api.status is Status.FAIL and "kvm.access" in api.hint
    assert "kvm_amd nested=1" in check(report, "kvm.nested").finding
    assert check(report, "kvm.vm").status is Status.SKIP


def test_nested_guest_trusts_the_probe(reports: dict[str, Report]) -> None:
    report = reports["nested-guest"]
    assert report.kvm_available
    flags = check(report, "cpu.virt-flags")
    assert flags.status is Status.NOTE
    assert "/dev/kvm works" in flags.finding
    assert check(report, "kvm.vm").status is Status.PASS
    vm = check(report, "host.vm")
    assert vm.status is Status.NOTE and "KVM" in vm.finding and "nested" in vm.hint
    assert vm.fact("virtual") is True and "kernel log" in str(vm.fact("evidence"))
    cgroups = check(report, "cgroups")
    assert cgroups.status is Status.PASS and "hybrid" in cgroups.finding
    assert "kvm_pvm" in check(report, "kvm.modules").finding
    assert "hide vmx/svm" in report.verdict.reason
    assert check(report, "vhost-net").status is Status.WARN
    none = check(report, "qemu.binaries")
    assert none.status is Status.WARN and "not installed" in none.finding
    assert "apt install" in none.hint


def test_container_without_dev_kvm(reports: dict[str, Report]) -> None:
    report = reports["container-no-kvm"]
    assert not report.kvm_available
    assert "container" in report.verdict.reason
    device = check(report, "kvm.device")
    assert device.status is Status.FAIL and "--device /dev/kvm" in device.hint
    assert check(report, "kvm.access").status is Status.SKIP
    assert "no /dev/kvm" in check(report, "kvm.api").finding
    # The flags say yes, the probe says no: the report says so.
    flags = check(report, "cpu.virt-flags")
    assert flags.status is Status.WARN and "no /dev/kvm" in flags.finding
    assert check(report, "tun").status is Status.WARN
    assert "--device /dev/net/tun" in check(report, "tun").hint


def test_aarch64(reports: dict[str, Report]) -> None:
    report = reports["aarch64"]
    assert report.kvm_available
    assert check(report, "cpu.virt-flags").status is Status.SKIP
    assert "built into the kernel" in check(report, "kvm.modules").finding
    assert check(report, "kvm.modules").status is Status.NOTE
    assert check(report, "kvm.vm").status is Status.PASS
    assert "IORT" in check(report, "iommu.firmware").finding
    assert check(report, "iommu.kernel").status is Status.PASS
    assert check(report, "qemu.binaries.qemu-system-aarch64").status is Status.PASS
    assert check(report, "qemu.binaries.qemu-system-x86_64").status is Status.INFO


def test_firmware_disabled(reports: dict[str, Report]) -> None:
    report = reports["firmware-disabled"]
    assert not report.kvm_available
    assert "disabled by the firmware" in report.verdict.reason
    assert check(report, "kvm.modules").status is Status.WARN
    assert "modprobe kvm_intel" in check(report, "kvm.modules").hint
    firmware = check(report, "kvm.firmware")
    assert firmware.status is Status.FAIL and "disabled by BIOS" in firmware.finding
    assert "VT-x" in firmware.hint and firmware.fact("disabled_by_bios") is True


def test_hanging_qemu_is_a_warning_not_a_hang() -> None:
    start = time.monotonic()
    report = run_checks(fake_host("qemu-hang", timeout=0.5))
    elapsed = time.monotonic() - start
    # The script's `sleep 30` is a grandchild; the whole group must be killed.
    assert elapsed < 5
    hung = check(report, "qemu.binaries.qemu-system-x86_64")
    assert hung.status is Status.WARN
    assert "did not answer --version within 0.5 s" in hung.finding
    summary = check(report, "qemu.binaries")
    assert summary.status is Status.WARN and "1 not answering" in summary.finding
    assert summary.fact("not_answering") == ("qemu-system-x86_64",)
    # The probe decides: KVM still works even though this QEMU is broken.
    assert report.kvm_available


def test_control_characters_from_binaries_are_removed(reports: dict[str, Report]) -> None:
    img = check(reports["qemu-hang"], "qemu.img")
    assert img.status is Status.PASS
    assert "6.6.6" in img.finding
    for c in reports["qemu-hang"].checks:
        assert not any(ord(ch) < 32 or ord(ch) == 127 for ch in c.finding + c.hint)
        assert "pwned" not in c.finding


def test_probes_go_through_the_host(tmp_path: Path) -> None:
    calls: list[Sequence[str]] = []

    def run(argv: Sequence[str], timeout: float) -> RunResult:
        calls.append(list(argv))
        if argv[1] == "--version":
            return RunResult(stdout="QEMU emulator version 9.1.0\n", returncode=0)
        return RunResult(stdout="Accelerators supported in QEMU binary:\ntcg\n", returncode=0)

    def no_kvm(path: Path) -> int:
        raise OSError(errno.ENODEV, os.strerror(errno.ENODEV), str(path))

    bindir = tmp_path / "bin"
    bindir.mkdir()
    emulator = bindir / "qemu-system-x86_64"
    emulator.write_text("#!/bin/sh\nexit 99\n")
    emulator.chmod(0o755)
    (bindir / "qemu-system-notexec").write_text("")
    host = Host(
        root=tmp_path,
        machine="x86_64",
        user=hostcheck.UserInfo(uid=1000, gid=1000, name="dev"),
        path_dirs=("/bin", "relative/ignored"),
        stat_device=lambda path: DeviceInfo(kind="char", mode=0o666) if path.name == "kvm" else None,
        can_open_rw=lambda path: True,
        kvm_api_version=no_kvm,
        run=run,
        group_name=lambda gid: None,
    )
    report = run_checks(host)
    assert calls == [[str(emulator), "--version"], [str(emulator), "-accel", "help"]]
    assert not report.kvm_available
    assert "ENODEV" in check(report, "kvm.api").finding
    assert "did not answer" in report.verdict.reason
    built = check(report, "qemu.binaries.qemu-system-x86_64")
    assert built.status is Status.WARN and "without KVM" in built.finding
    assert check(report, "cpu.virt-flags").status is Status.WARN  # no cpuinfo in tmp_path


def test_unexpected_api_version() -> None:
    host = fake_host("intel-kvm", kvm_api_version=lambda path: 11, path_dirs=())
    report = run_checks(host)
    assert not report.kvm_available
    assert check(report, "kvm.api").status is Status.FAIL


def test_in_group_but_denied_and_root_only_device() -> None:
    base = fake_host("amd-no-access", path_dirs=())
    denied = OSError(errno.EACCES, "Permission denied")
    in_group = dataclasses.replace(
        base,
        user=dataclasses.replace(base.user, groups=(1001, 108)),
        can_open_rw=lambda path: denied,
    )
    assert "security module" in check(run_checks(in_group), "kvm.access").hint

    def root_only(path: Path) -> Optional[DeviceInfo]:
        return DeviceInfo(kind="char", mode=0o600) if path.name == "kvm" else None

    report = run_checks(dataclasses.replace(base, stat_device=root_only))
    assert "udev" in check(report, "kvm.access").hint


def test_device_that_is_not_a_char_device() -> None:
    def regular(path: Path) -> Optional[DeviceInfo]:
        return DeviceInfo(kind="file", mode=0o666) if path.name == "kvm" else None

    def ioctl_fails(path: Path) -> int:
        raise OSError(errno.ENOTTY, os.strerror(errno.ENOTTY))

    host = fake_host("intel-kvm", stat_device=regular, kvm_api_version=ioctl_fails, path_dirs=())
    report = run_checks(host)
    assert check(report, "kvm.device").status is Status.FAIL
    assert not report.kvm_available
    assert "not a character device" in report.verdict.reason


def test_run_program_reports_missing_and_failing(tmp_path: Path) -> None:
    missing = hostcheck.run_program([str(tmp_path / "nope")], 1.0)
    assert missing.error and not missing.ok
    failing = hostcheck.run_program(["/bin/sh", "-c", "echo oops; exit 3"], 1.0)
    assert failing.returncode == 3 and failing.stdout.strip() == "oops" and not failing.ok


@pytest.mark.parametrize(
    ("output", "expected"),
    [
        ("QEMU emulator version 8.2.2 (Debian 1:8.2.2+ds-0ubuntu1)\nCopyright\n", "8.2.2"),
        ("\n  qemu-img version 7.2.0\n", "7.2.0"),
        ("10.0.0\n", "10.0.0"),
        ("something odd\n", "something odd"),
        ("", ""),
    ],
)
def test_parse_version(output: str, expected: str) -> None:
    assert parse_version(output) == expected


def test_parse_accels() -> None:
    text = "Accelerators supported in QEMU binary:\ntcg\nkvm\n"
    assert parse_accels(text) == ["tcg", "kvm"]
    assert "kvm" not in parse_accels("Accelerators supported in QEMU binary:\ntcg\nkvm-ish x\n")


@given(st.text())
def test_clean_text_never_leaves_control_characters(value: str) -> None:
    cleaned = clean_text(value)
    assert "\x1b" not in cleaned
    assert not any(ord(ch) < 32 or 0x7F <= ord(ch) < 0xA0 for ch in cleaned)
    assert len(cleaned) <= 240


def test_clean_text_drops_whole_escape_sequences() -> None:
    assert clean_text("\x1b[31mred\x1b[0m \x1b]0;title\x07ok\u202e") == "red ok"


def test_real_host_smoke() -> None:
    # Whatever this machine is, the report is well formed and agrees with the ioctl.
    report = run_checks(Host(path_dirs=()))
    try:
        works = hostcheck.real_kvm_api_version(Path("/dev/kvm")) == 12
    except OSError:
        works = False
    assert report.kvm_available is works


# --------------------------------------------------------------------------
# The paths issue 11 added, one fixture host each


def test_intel_with_tdx(reports: dict[str, Report]) -> None:
    report = reports["intel-tdx"]
    assert report.kvm_available
    assert check(report, "secure.intel-tdx").status is Status.PASS
    assert check(report, "secure.amd-sev").status is Status.SKIP
    assert check(report, "secure.amd-sev").fact("applies") is False
    huge = check(report, "host.hugepages")
    assert huge.status is Status.PASS and "1024 x 2 MiB" in huge.finding and "/dev/hugepages" in huge.finding
    assert check(report, "cgroups").status is Status.PASS
    assert check(report, "iommu.kernel").status is Status.PASS
    assert check(report, "kvm.vm").fact("nr_vcpus") == 16
    assert check(report, "host.cpus").fact("online") == 16
    assert check(report, "host.memory").fact("total_bytes") == 65536000 * 1024


def test_amd_with_sev_snp(reports: dict[str, Report]) -> None:
    report = reports["amd-sev-snp"]
    sev = check(report, "secure.amd-sev")
    assert sev.status is Status.PASS
    assert "SEV-SNP" in sev.finding and "/dev/sev" in sev.finding
    assert sev.fact("sev_snp") is True and sev.fact("dev_sev") is True
    assert check(report, "secure.intel-tdx").status is Status.SKIP
    assert "IVRS" in check(report, "iommu.firmware").finding


def test_sev_off_in_the_module_is_a_note(tmp_path: Path) -> None:
    import shutil

    tree = tmp_path / "host"
    shutil.copytree(HOSTS / "amd-sev-snp", tree, symlinks=True)
    for name in ("sev", "sev_es", "sev_snp"):
        (tree / "sys/module/kvm_amd/parameters" / name).write_text("N\n")
    sev = check(run_checks(host_from_tree(tree)), "secure.amd-sev")
    assert sev.status is Status.NOTE and "kvm_amd.sev=1" in sev.hint


def test_iommu_in_firmware_but_not_enabled(reports: dict[str, Report]) -> None:
    report = reports["iommu-not-enabled"]
    assert check(report, "iommu.firmware").status is Status.PASS
    kernel = check(report, "iommu.kernel")
    assert kernel.status is Status.WARN
    assert "`intel_iommu=on iommu=pt`" in kernel.hint
    assert kernel.fact("cmdline_add") == ("intel_iommu=on", "iommu=pt")


@pytest.mark.parametrize(
    ("cmdline", "expected"),
    [
        ("root=/dev/sda1 iommu=pt", "add `intel_iommu=on`"),
        ("root=/dev/sda1 intel_iommu=off", "remove `intel_iommu=off` and add `intel_iommu=on iommu=pt`"),
        ("root=/dev/sda1 intel_iommu=on iommu=pt", "`dmesg | grep -i -e DMAR -e IOMMU`"),
    ],
)
def test_iommu_hint_reads_the_command_line(tmp_path: Path, cmdline: str, expected: str) -> None:
    import shutil

    tree = tmp_path / "host"
    shutil.copytree(HOSTS / "iommu-not-enabled", tree, symlinks=True)
    (tree / "proc/cmdline").write_text(cmdline + "\n")
    assert expected in check(run_checks(host_from_tree(tree, path_dirs=())), "iommu.kernel").hint


def test_cgroup_v1(reports: dict[str, Report]) -> None:
    cgroups = check(reports["cgroup-v1"], "cgroups")
    assert cgroups.status is Status.PASS and cgroups.finding.startswith("cgroup v1:")
    assert cgroups.fact("version") == "v1" and "blkio" in str(cgroups.fact("controllers"))


def test_cgroup_v2_without_cpuset(reports: dict[str, Report]) -> None:
    cgroups = check(reports["cgroup-v2-no-cpuset"], "cgroups")
    assert cgroups.status is Status.WARN
    assert "without cpuset" in cgroups.finding and "pin vCPUs" in cgroups.finding
    assert cgroups.fact("missing") == ("cpuset",)
    assert "cgroup.subtree_control" in cgroups.hint


def test_create_vm_busy(reports: dict[str, Report]) -> None:
    report = reports["vm-create-ebusy"]
    assert not report.kvm_available
    vm = check(report, "kvm.vm")
    assert vm.status is Status.FAIL and "EBUSY" in vm.finding
    assert "VirtualBox" in vm.hint
    assert check(report, "kvm.api").status is Status.PASS  # the API alone is not proof
    assert "KVM_CREATE_VM failed with EBUSY" in report.verdict.reason


def test_vcpu_creation_failure_is_explained() -> None:
    def vcpu_fails(path: Path) -> hostcheck.VmProof:
        return hostcheck.VmProof(vm=True, vcpu=OSError(errno.EINVAL, os.strerror(errno.EINVAL)))

    report = run_checks(fake_host("intel-kvm", kvm_create_vm=vcpu_fails, path_dirs=()))
    vm = check(report, "kvm.vm")
    assert vm.status is Status.FAIL and "KVM_CREATE_VCPU" in vm.finding and "EINVAL" in vm.finding
    assert not report.kvm_available


def test_real_vm_probe_closes_everything() -> None:
    # On this machine: whatever the answer, no file descriptor stays open.
    before = set(os.listdir("/proc/self/fd"))
    proof = hostcheck.real_kvm_create_vm(Path("/dev/kvm"))
    assert set(os.listdir("/proc/self/fd")) == before
    assert proof.vm is not None


def test_real_kernel_log_reader(tmp_path: Path) -> None:
    log = tmp_path / "kmsg"
    log.write_text("6,1,0,-;hello\n")
    assert hostcheck.real_kernel_log(log) == "6,1,0,-;hello\n"
    assert hostcheck.real_kernel_log(tmp_path / "missing") is None


def test_identity(reports: dict[str, Report]) -> None:
    ident = reports["intel-kvm"].identity
    assert ident.hostname == "intel-kvm" and ident.kernel == "6.8.0-test"
    assert ident.machine == "x86_64" and ident.time == "2026-01-02T03:04:05Z"
    assert ident.os == "Debian GNU/Linux 12 (bookworm)"
    assert ident.kvmq_version


# --------------------------------------------------------------------------
# Issue 17, items 9 and 10: probed programs are bounded in output and time


def test_flooding_qemu_is_stopped() -> None:
    start = time.monotonic()
    report = run_checks(fake_host("qemu-flood", timeout=30.0))
    assert time.monotonic() - start < 15  # stopped at the output limit, not at the timeout
    for name in ("qemu-system-x86_64", "qemu-system-i386"):
        row = check(report, f"qemu.binaries.{name}")
        assert row.status is Status.WARN and "64 KiB" in row.finding


def test_run_program_reads_a_bounded_amount() -> None:
    result = hostcheck.run_program(["/bin/sh", "-c", "exec yes"], 5.0)
    assert result.truncated and not result.ok
    assert len(result.stdout) <= hostcheck.OUTPUT_LIMIT


def test_background_child_holding_the_pipe_counts_as_answered() -> None:
    start = time.monotonic()
    report = run_checks(fake_host("qemu-background", timeout=30.0))
    assert time.monotonic() - start < 15  # answered when it exited, not at the timeout
    row = check(report, "qemu.binaries.qemu-system-x86_64")
    assert row.status is Status.PASS and "8.2.2" in row.finding and "kvm" in row.finding


def test_many_hung_binaries_share_one_deadline(tmp_path: Path) -> None:
    import shutil

    tree = tmp_path / "host"
    shutil.copytree(HOSTS / "qemu-hang", tree, symlinks=True)
    hung = tree / "usr/bin/qemu-system-x86_64"
    for index in range(40):
        shutil.copy2(hung, tree / f"usr/bin/qemu-system-hung{index:02d}")
    start = time.monotonic()
    report = run_checks(host_from_tree(tree, timeout=2.0))
    elapsed = time.monotonic() - start
    assert elapsed < 7, elapsed  # one timeout (and a little), not 41 / 8 of them (10 s)
    assert len([c for c in report.checks if c.id.startswith("qemu.binaries.qemu-system-hung")]) == 40
    assert "41 not answering" in check(report, "qemu.binaries").finding


def test_cancel_stops_running_probes() -> None:
    import threading

    host = fake_host("qemu-hang", timeout=30.0)
    threading.Timer(0.3, host.cancel.set).start()
    start = time.monotonic()
    run_checks(host)
    assert time.monotonic() - start < 15  # stopped by the cancel, not by the 30 s timeout
