"""Running VMs (``kvmq.host.vms``) against fixture /proc trees and fake QMP servers.

The trees under ``tests/fixtures/vms/`` hold what real VMs cannot show here: libvirt's live
XML, vCPU thread names, hostile command lines, processes gone mid-scan. Real VMs are in
``test_vms_real.py``.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import sys
import threading
from pathlib import Path
from typing import Any, Callable, Optional

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kvmq.host import vms
from kvmq.host.vms import (
    ERROR,
    INTENT,
    LEVELS,
    NOTE,
    PROOF,
    STRONG,
    UNAVAILABLE,
    UNKNOWN,
    WARNING,
    QmpAddress,
    QmpAnswer,
    Scan,
    Scanner,
    parse_command_line,
    split_suboptions,
)

FIXTURES = Path(__file__).parent / "fixtures" / "vms"
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))

import proc_tree  # noqa: E402


def no_qmp(address: QmpAddress, timeout: float, root: Path) -> QmpAnswer:
    return QmpAnswer(error="not in this test")


def fixture_scan(name: str, **options: Any) -> Scan:
    options.setdefault("kvm_works", True)
    options.setdefault("version", lambda path: "7.2.22")
    options.setdefault("qmp", no_qmp)
    options.setdefault("machine", "x86_64")
    return vms.scan(FIXTURES / name, **options)


def codes(vm: vms.VM) -> list[str]:
    return [f.code for f in vm.findings]


def vm_of(scan: Scan, pid: int) -> vms.VM:
    found = scan.find(pid)
    assert found is not None, f"pid {pid} not found: {[vm.pid for vm in scan.vms]}"
    return found


# --------------------------------------------------------------------------- evidence


@pytest.fixture(scope="module")
def evidence() -> Scan:
    return fixture_scan("evidence")


def test_only_qemu_processes_are_listed(evidence: Scan) -> None:
    assert [vm.pid for vm in evidence.vms] == [100, 101, 102, 103, 104, 105, 106, 107, 108]
    assert evidence.processes == 11


def test_kvm_descriptors_prove_kvm_and_count_vcpus(evidence: Scan) -> None:
    vm = vm_of(evidence, 100)
    assert (vm.accel, vm.strength, vm.vcpus_live) == ("kvm", PROOF, 2)
    assert vm.evidence[0].source == "fds"
    assert "anon_inode:kvm-vm" in vm.evidence[0].detail
    assert vm.findings == ()  # -cpu host, no NIC: nothing to say


def test_silent_fallback_is_an_error(evidence: Scan) -> None:
    vm = vm_of(evidence, 101)
    assert (vm.accel, vm.strength) == ("tcg", PROOF)
    assert codes(vm)[:2] == ["tcg-while-kvm-works", "accel-fallback"]
    assert "fell back to TCG" in vm.findings[0].message
    assert vm.findings[0].level == ERROR
    assert [v.pid for v in evidence.tcg_while_kvm_works] == [101, 102]


def test_no_accelerator_means_tcg(evidence: Scan) -> None:
    vm = vm_of(evidence, 102)
    assert vm.accel == "tcg"
    assert "no accelerator was given" in vm.findings[0].message
    assert {"binary-replaced", "ide-disk", "emulated-nic", "user-networking"} <= set(codes(vm))
    assert vm.binary == "/usr/bin/qemu-system-x86_64" and vm.version == ""


def test_vcpu_thread_names_are_strong_evidence(evidence: Scan) -> None:
    vm = vm_of(evidence, 103)
    assert (vm.accel, vm.strength, vm.vcpus_live) == ("kvm", STRONG, 2)
    assert [e.source for e in vm.evidence] == ["fds", "threads", "cmdline"]
    assert vm.evidence[0].strength == UNAVAILABLE


def test_binaries_named_kvm_default_to_a_fallback(evidence: Scan) -> None:
    vm = vm_of(evidence, 104)  # Debian's kvm, no accelerator given, nothing readable
    assert (vm.accel, vm.strength) == (UNKNOWN, INTENT)
    assert "kvm:tcg" in vm.evidence[-1].detail
    assert codes(vm)[0] == "accel-unproven-fallback"
    assert "unproven" in codes(vm)
    assert vm.findings[-1].hint.startswith("for proof, run kvmq as root")


def test_foreign_architecture_on_tcg_is_not_flagged(evidence: Scan) -> None:
    vm = vm_of(evidence, 105)
    assert vm.accel == "tcg" and not vm.kvm_capable
    assert "tcg-while-kvm-works" not in codes(vm)
    assert "foreign-architecture" in codes(vm)
    # Its QMP socket is tried (here: fails), then the command line decides.
    assert [e.source for e in vm.evidence] == ["fds", "qmp", "cmdline"]


def test_other_accelerators_are_not_called_tcg(evidence: Scan) -> None:
    vm = vm_of(evidence, 107)
    assert vm.accel == "xen"
    assert "tcg-while-kvm-works" not in codes(vm)


def test_qmp_that_waits_for_a_client_is_never_opened() -> None:
    opened: list[QmpAddress] = []

    def record(address: QmpAddress, timeout: float, root: Path) -> QmpAnswer:
        opened.append(address)
        return QmpAnswer(error="no")

    scan = fixture_scan("evidence", qmp=record)
    vm = vm_of(scan, 108)
    assert all(a.path != "/run/qmp/108.sock" for a in opened)
    assert "wait=on" in next(e for e in vm.evidence if e.source == "qmp").detail


def test_findings_are_loudest_first(evidence: Scan) -> None:
    for vm in evidence.vms:
        levels = [LEVELS.index(f.level) for f in vm.findings]
        assert levels == sorted(levels), vm.pid


def test_default_cpu_and_emulated_nic_under_kvm(evidence: Scan) -> None:
    vm = vm_of(evidence, 106)
    assert vm.accel == "kvm"
    assert codes(vm) == ["default-cpu-under-kvm", "emulated-nic", "user-networking"]


def test_no_working_kvm_makes_tcg_a_warning() -> None:
    scan = fixture_scan("evidence", kvm_works=False, pids=[101, 102])
    assert scan.tcg_while_kvm_works == ()
    assert vm_of(scan, 101).findings[0].level == WARNING
    # A VM holding KVM descriptors proves otherwise: this host's KVM does work.
    scan = fixture_scan("evidence", kvm_works=None)
    assert scan.kvm_works is True
    assert vm_of(scan, 101).findings[0].code == "tcg-while-kvm-works"


# --------------------------------------------------------------------------- libvirt


@pytest.fixture(scope="module")
def libvirt() -> Scan:
    return fixture_scan("libvirt")


def test_libvirt_live_xml_decides_when_descriptors_are_unreadable(libvirt: Scan) -> None:
    web = vm_of(libvirt, 4242)
    assert (web.name, web.user, web.accel, web.strength) == ("web", "libvirt-qemu", "kvm", STRONG)
    assert "/run/libvirt/qemu/web.xml" in web.evidence[1].detail
    assert web.findings == ()
    legacy = vm_of(libvirt, 4300)
    assert (legacy.accel, legacy.strength) == ("tcg", STRONG)
    assert codes(legacy)[0] == "tcg-while-kvm-works"
    assert {"ide-disk", "emulated-nic", "user-networking"} <= set(codes(legacy))


def test_libvirt_xml_of_another_pid_is_not_evidence(libvirt: Scan) -> None:
    stale = vm_of(libvirt, 4400)
    assert stale.strength == INTENT
    assert "belongs to pid 999" in next(e for e in stale.evidence if e.source == "libvirt").detail


def test_libvirt_command_line_facts(libvirt: Scan) -> None:
    facts = vm_of(libvirt, 4242).facts
    assert facts.machine == "pc-q35-7.2"
    assert facts.cpu == "host"
    assert facts.vcpus == 2
    assert facts.memory_mib == 2048
    assert facts.hugepages
    assert facts.memory_backends == ("memory-backend-file 2G at /dev/hugepages/libvirt/qemu/3-web (hugepages)"
                                     ", prealloc",)
    assert [d.to_dict() for d in facts.disks] == [
        {"file": "/var/lib/libvirt/images/web.qcow2", "format": "qcow2", "bus": "virtio", "media": "disk"},
        {"file": "/var/lib/libvirt/images/debian.iso", "format": "", "bus": "ide", "media": "cdrom"},
    ]
    assert [n.to_dict() for n in facts.nics] == [{"backend": "tap", "model": "virtio-net-pci", "vhost": True}]
    assert facts.display == "vnc 127.0.0.1:0"
    assert facts.qmp[0].kind == "fd" and not facts.qmp[0].reachable


def test_libvirt_session_xml_is_found(tmp_path: Path) -> None:
    root = tmp_path / "root"
    shutil.copytree(FIXTURES / "libvirt", root, symlinks=True)
    system = root / "run/libvirt/qemu/web.xml"
    session = root / "run/user/64055/libvirt/qemu/run/web.xml"
    session.parent.mkdir(parents=True)
    system.rename(session)
    assert vm_of(vms.scan(root, kvm_works=True, version=lambda p: ""), 4242).strength == STRONG


# --------------------------------------------------------------------------- hostile input


@pytest.fixture(scope="module")
def hostile() -> Scan:
    return fixture_scan("hostile")


def test_hostile_command_lines_never_break_the_scan(hostile: Scan) -> None:
    # 200 is NUL-only, 205 and 206 are not QEMU, 209 and 210 exited mid-scan.
    assert [vm.pid for vm in hostile.vms] == [201, 202, 203, 204, 207, 208]
    json.dumps(hostile.to_dict())


def test_non_utf8_bytes_are_shown_as_escapes(hostile: Scan) -> None:
    assert vm_of(hostile, 201).name == "café-\\xff\\xfe-bad"


def test_control_and_bidi_characters_are_escaped(hostile: Scan) -> None:
    vm = vm_of(hostile, 202)
    assert vm.name == "\\x1b[31mred\\x1b[0m [bold]markup[/bold] \\u202eevil"
    for text in (*vm.argv, vm.name, *(e.detail for e in vm.evidence)):
        assert not any(ord(c) < 32 or 0x7F <= ord(c) < 0xA0 or 0x202A <= ord(c) <= 0x202E for c in text)
    # ",," is a literal comma inside a value.
    assert vm.facts.disks[0].file == "/tmp/[link=http://x]a[/link].img,odd"


def test_odd_option_values(hostile: Scan) -> None:
    assert vm_of(hostile, 203).facts.memory_mib == 128  # "-m" without its value: the default
    odd = vm_of(hostile, 207).facts
    assert odd.vcpus == 16  # sockets * cores * threads
    assert odd.memory_mib == 4096
    assert odd.hugepages
    assert odd.qmp == ()  # "tcp:localhost:notaport" is no address
    assert len(vm_of(hostile, 207).name) == 5000
    assert vm_of(hostile, 208).argv == ("qemu-system-x86_64", "-accel", "kvm", "-m", "1G")


def test_processes_vanishing_mid_scan(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "root"
    shutil.copytree(FIXTURES / "evidence", root, symlinks=True)
    inspect = vms._inspect
    seen: list[int] = []

    def vanish_then_inspect(ctx: Any, pid: int, argv: tuple[str, ...]) -> Optional[vms.VM]:
        seen.append(pid)
        if pid in (100, 103):
            shutil.rmtree(root / "proc" / str(pid))  # exits between its cmdline and the rest
        if pid == 104:
            raise FileNotFoundError("gone")
        return inspect(ctx, pid, argv)

    monkeypatch.setattr(vms, "_inspect", vanish_then_inspect)
    scan = vms.scan(root, kvm_works=True, version=lambda p: "", qmp=no_qmp)
    assert 100 in seen and 103 in seen
    assert {vm.pid for vm in scan.vms} == {101, 102, 105, 106, 107, 108}


def test_a_missing_or_unreadable_proc_is_an_empty_scan(tmp_path: Path) -> None:
    scan = vms.scan(tmp_path, kvm_works=False)
    assert scan.vms == () and scan.processes == 0


@settings(max_examples=200, deadline=None)
@given(st.lists(st.binary(max_size=40), max_size=12))
def test_any_command_line_parses(parts: list[bytes]) -> None:
    raw = b"qemu-system-x86_64\0" + b"\0".join(parts)
    argv = vms._qemu_argv(raw)
    assert argv is not None
    facts = parse_command_line(argv)
    json.dumps(facts.to_dict())


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=60))
def test_any_suboption_text_splits(text: str) -> None:
    pairs = split_suboptions(text, "type")
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in pairs)


def test_suboptions_as_qemu_splits_them() -> None:
    assert split_suboptions("q35,accel=kvm:tcg", "type") == [("type", "q35"), ("accel", "kvm:tcg")]
    assert split_suboptions("host,+vmx,-svm", "model") == [("model", "host"), ("+vmx", "on"), ("-svm", "on")]
    assert split_suboptions("file=a,,b.img,if=virtio") == [("file", "a,b.img"), ("if", "virtio")]
    assert split_suboptions("unix:/q,server,nowait", "path") == [
        ("path", "unix:/q"), ("server", "on"), ("wait", "off")]


@pytest.mark.parametrize(("argv", "accel", "option"), [
    (["qemu-system-x86_64"], (), ""),
    (["qemu-system-x86_64", "-accel", "kvm", "-accel", "tcg"], ("kvm", "tcg"), "-accel kvm -accel tcg"),
    (["qemu-system-x86_64", "--accel", "kvm,kernel-irqchip=split"], ("kvm",), "-accel kvm"),
    (["qemu-system-x86_64", "-M", "accel=kvm:tcg"], ("kvm", "tcg"), "-machine accel=kvm:tcg"),
    (["qemu-system-x86_64", "-machine", "type=q35,accel=tcg"], ("tcg",), "-machine accel=tcg"),
    (["qemu-system-x86_64", "-enable-kvm", "-m", "1G"], ("kvm",), "-enable-kvm"),
    (["qemu-system-x86_64", "-S", "-enable-kvm"], ("kvm",), "-enable-kvm"),
])
def test_accelerator_intent(argv: list[str], accel: tuple[str, ...], option: str) -> None:
    facts = parse_command_line(argv)
    assert (facts.accel, facts.accel_option) == (accel, option)


def test_legacy_network_and_default_nic() -> None:
    facts = parse_command_line(["qemu-system-x86_64", "-net", "nic,model=rtl8139", "-net", "user"])
    assert [n.to_dict() for n in facts.nics] == [{"backend": "user", "model": "rtl8139", "vhost": None}]
    assert [n.backend for n in parse_command_line(["qemu-system-x86_64"]).nics] == ["user"]
    assert parse_command_line(["qemu-system-x86_64", "-nic", "none"]).nics == ()
    assert parse_command_line(["qemu-system-x86_64", "-nodefaults"]).nics == ()


def test_drives_and_positional_images() -> None:
    facts = parse_command_line([
        "qemu-system-x86_64", "disk.img", "-cdrom", "x.iso",
        "-drive", "file=a.qcow2,format=qcow2,if=virtio",
        "-drive", "id=d1,file=b.raw,format=raw,if=none", "-device", "scsi-hd,drive=d1",
        "-blockdev", "driver=qcow2,node-name=n1,file.driver=file,file.filename=c.qcow2",
        "-device", "nvme,drive=n1,serial=x"])
    assert [(d.file, d.format, d.bus, d.media) for d in facts.disks] == [
        ("disk.img", "", "ide", "disk"), ("x.iso", "", "ide", "cdrom"),
        ("a.qcow2", "qcow2", "virtio", "disk"), ("b.raw", "raw", "scsi", "disk"),
        ("c.qcow2", "qcow2", "nvme", "disk")]


# --------------------------------------------------------------------------- QMP


class FakeQmp:
    """A QMP server on a Unix socket that records every command it receives."""

    def __init__(self, path: Path, enabled: bool = True, greet: bool = True, events: bool = False) -> None:
        self.path = path
        self.enabled = enabled
        self.greet = greet
        self.events = events
        self.received: list[dict[str, Any]] = []
        self.server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.server.bind(str(path))
        self.server.listen(1)
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        try:
            conn, _ = self.server.accept()
        except OSError:
            return
        with conn:
            if not self.greet:
                conn.recv(1)  # hold the connection, say nothing
                return
            conn.sendall(b'{"QMP": {"version": {"qemu": {"micro": 22, "minor": 2, "major": 7}, '
                         b'"package": "Debian"}, "capabilities": ["oob"]}}\r\n')
            reader = conn.makefile("rb")
            for line in reader:
                command = json.loads(line)
                self.received.append(command)
                if self.events:
                    conn.sendall(b'{"event": "RESUME", "timestamp": {"seconds": 1, "microseconds": 2}}\r\n')
                if command.get("execute") == "query-kvm":
                    answer = {"return": {"enabled": self.enabled, "present": True}}
                else:
                    answer = {"return": {}}
                conn.sendall(json.dumps(answer).encode() + b"\r\n")

    def close(self) -> None:
        self.server.close()
        self.thread.join(2)


@pytest.fixture
def short_tmp() -> Any:
    # Unix socket paths must stay under 108 bytes; pytest's tmp_path can be longer.
    import tempfile

    directory = Path(tempfile.mkdtemp(prefix="kvmq-qmp-"))
    yield directory
    shutil.rmtree(directory, ignore_errors=True)


@pytest.mark.parametrize("enabled", [True, False])
def test_query_kvm_sends_only_the_two_commands(short_tmp: Path, enabled: bool) -> None:
    server = FakeQmp(short_tmp / "q.sock", enabled=enabled, events=True)
    try:
        answer = vms.query_kvm(QmpAddress("unix", path=str(short_tmp / "q.sock")), 2.0)
    finally:
        server.close()
    assert answer == QmpAnswer(enabled=enabled, present=True, version="7.2.22")
    assert [c["execute"] for c in server.received] == ["qmp_capabilities", "query-kvm"]
    assert all(set(c) == {"execute"} for c in server.received)


def test_query_kvm_times_out_on_a_silent_server(short_tmp: Path) -> None:
    import time

    server = FakeQmp(short_tmp / "q.sock", greet=False)
    try:
        start = time.monotonic()
        answer = vms.query_kvm(QmpAddress("unix", path=str(short_tmp / "q.sock")), 0.3)
        assert time.monotonic() - start < 10  # the timeout ended it; without one it hangs
    finally:
        server.close()
    assert answer.enabled is None and "no answer within 0.3 s" in answer.error


def test_query_kvm_errors_are_values(short_tmp: Path) -> None:
    assert vms.query_kvm(QmpAddress("unix", path=str(short_tmp / "none.sock")), 0.3).error
    assert vms.query_kvm(QmpAddress("unix", path="/" + "x" * 200), 0.3).error
    assert vms.query_kvm(QmpAddress("tcp", host="127.0.0.1", port=1), 0.3).error


def test_qmp_in_a_scan_decides_when_descriptors_are_unreadable(short_tmp: Path) -> None:
    root = short_tmp / "root"
    shutil.copytree(FIXTURES / "evidence", root, symlinks=True)
    (root / "run/qmp").mkdir(parents=True)
    server = FakeQmp(root / "run/qmp/105.sock", enabled=False)
    try:
        scan = vms.scan(root, kvm_works=True, version=lambda p: "", machine="x86_64", pids=[105])
    finally:
        server.close()
    vm = vm_of(scan, 105)
    assert (vm.accel, vm.strength) == ("tcg", PROOF)
    assert "query-kvm over unix:/run/qmp/105.sock: enabled=false" in vm.evidence[1].detail
    assert vm.version == "7.2.22"  # from the QMP greeting: the binary is not in the tree


# --------------------------------------------------------------------------- many VMs, refreshes


@pytest.fixture(scope="module")
def big_tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return proc_tree.write(tmp_path_factory.mktemp("proc-500"), 2000, 500)


def test_500_vms_among_2000_processes(big_tree: Path) -> None:
    scan = vms.scan(big_tree, kvm_works=True, version=lambda p: "7.2.22")
    assert len(scan.vms) == 500 and scan.processes == 2000
    kvm = [vm for vm in scan.vms if vm.accel == "kvm"]
    tcg = [vm for vm in scan.vms if vm.accel == "tcg"]
    assert (len(kvm), len(tcg)) == (375, 125)
    assert all(vm.strength == PROOF for vm in scan.vms)
    assert all(vm.vcpus_live == vm.facts.vcpus for vm in kvm)
    assert len(scan.tcg_while_kvm_works) == 125
    assert scan.vms[0].facts.disks[0].format == "qcow2"


def test_a_scanner_reuses_proven_vms_until_their_command_line_changes(tmp_path: Path) -> None:
    root = tmp_path / "root"
    shutil.copytree(FIXTURES / "evidence", root, symlinks=True)
    now = [0.0]
    scanner = Scanner(root, kvm_works=True, version=lambda p: "", qmp=no_qmp, clock=lambda: now[0],
                      machine="x86_64")
    first = scanner.scan()
    again = scanner.scan()
    assert again.find(100) is first.find(100)  # proven: reused
    assert again.find(104) is not first.find(104)  # intent only: looked at again
    (root / "proc/100/cmdline").write_bytes(b"qemu-system-x86_64\0-accel\0tcg\0")
    os.unlink(root / "proc/100/fd/6")  # anon_inode:kvm-vm
    changed = scanner.scan()
    assert vm_of(changed, 100).accel == "tcg"
    now[0] = 31.0
    assert scanner.scan().find(101) is not changed.find(101)  # too old: looked at again
    shutil.rmtree(root / "proc/101")
    assert scanner.scan().find(101) is None


# --------------------------------------------------------------------------- the host's KVM


def test_probe_kvm_under_a_root_without_dev_kvm(tmp_path: Path) -> None:
    assert vms.probe_kvm(tmp_path) == (False, "/dev/kvm does not exist")
    (tmp_path / "dev").mkdir()
    (tmp_path / "dev/kvm").write_text("")
    works, detail = vms.probe_kvm(tmp_path)
    assert works is False and "KVM_GET_API_VERSION" in detail


def test_json_shape(evidence: Scan) -> None:
    data = json.loads(json.dumps(evidence.to_dict()))
    assert data["schema"] == vms.SCHEMA_VERSION == 1
    assert set(data) == {"schema", "host", "vms", "tcg_while_kvm_works"}
    assert set(data["host"]) == {"kvm_works", "detail", "scanner_uid", "processes"}
    vm = data["vms"][0]
    assert set(vm) == {"pid", "uid", "user", "name", "binary", "version", "accelerator", "kvm_capable",
                       "strength", "vcpus_live", "evidence", "facts", "findings", "argv"}
    assert set(vm["evidence"][0]) == {"source", "strength", "accel", "detail"}
    assert set(vm["findings"][0] if vm["findings"] else {"level": 0, "code": 0, "message": 0, "hint": 0}) == {
        "level", "code", "message", "hint"}
    assert {f["level"] for v in data["vms"] for f in v["findings"]} <= {ERROR, WARNING, NOTE}


def test_the_model_imports_nothing_above_it() -> None:
    source = Path(vms.__file__).read_text(encoding="utf-8")
    for banned in ("textual", "rich", "kvmq.render", "kvmq.tui", "kvmq.cli"):
        assert f"import {banned}" not in source and f"from {banned}" not in source


def test_scan_result_is_hashable_data(evidence: Scan) -> None:
    # Frozen dataclasses all the way down: the explorer may hand them between threads.
    for vm in evidence.vms:
        hash(vm.evidence)
        hash(vm.findings)
        with pytest.raises(AttributeError):
            vm.accel = "x"  # type: ignore[misc]


Check = Callable[[str], None]


def test_a_scan_spends_at_most_its_qmp_budget_on_busy_monitors(monkeypatch: pytest.MonkeyPatch,
                                                               short_tmp: Path) -> None:
    root = short_tmp / "root"
    (root / "proc").mkdir(parents=True)
    for pid in range(300, 306):
        directory = root / "proc" / str(pid)
        directory.mkdir()
        (directory / "cmdline").write_bytes(
            b"qemu-system-x86_64\0-accel\0kvm\0-accel\0tcg\0-qmp\0unix:/q.sock,server=on,wait=off\0")
        (directory / "status").write_bytes(b"Name:\tq\nUid:\t0\t0\t0\t0\n")
    asked: list[float] = []

    def slow(address: QmpAddress, timeout: float, root: Path) -> QmpAnswer:
        asked.append(timeout)
        return QmpAnswer(error=f"no answer within {timeout:g} s")

    monkeypatch.setattr(vms, "QMP_SCAN_BUDGET", 0.0)
    scan = vms.scan(root, kvm_works=True, qmp=slow, version=lambda p: "")
    assert asked == []
    assert all("were spent" in next(e for e in vm.evidence if e.source == "qmp").detail for vm in scan.vms)


def test_qmp_on_a_relative_path_is_not_opened() -> None:
    facts = parse_command_line(["qemu-system-x86_64", "-qmp", "unix:q.sock,server=on,wait=off",
                                "-chardev", "socket,id=m,path=rel.sock,server=on,wait=off",
                                "-mon", "chardev=m,mode=control"])
    assert [(q.path, q.reachable) for q in facts.qmp] == [("q.sock", False), ("rel.sock", False)]
    assert "relative path" in facts.qmp[0].why
