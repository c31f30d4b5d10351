"""Running VMs with real QEMU processes: each tiny guest is reported truthfully.

One module-scoped set of guests (``-display none -nodefaults -m 64``, no disk, idle) is
booted for every test here, and each is stopped by its PID afterwards:

=========  ===================================  =====  ===================================
guest      accelerator asked                    user   what kvmq must report (as root)
=========  ===================================  =====  ===================================
kvm        ``-accel kvm`` (when /dev/kvm works)  root   KVM, proof, 2 vCPUs live
tcg        ``-accel tcg``                        root   TCG, proof, flagged
fallback   ``-machine accel=kvm:tcg``            root   KVM, proof, fallback noted
none       nothing                              root   TCG, proof, flagged
wrapper    Debian's ``kvm``, nothing            root   KVM, proof
unpriv     ``-machine accel=kvm:tcg``            nobody TCG (nobody cannot open /dev/kvm)
threads    ``-accel tcg``, ``debug-threads=on``  nobody TCG
qmp        ``-accel tcg``, a QMP socket          nobody TCG
=========  ===================================  =====  ===================================

A scan as yet another unprivileged uid cannot read nobody's descriptors: it must label the
command line's intent as such (unpriv), and use the thread names (threads) or QMP (qmp).
Skipped, with the reason printed, only when qemu-system-x86_64 is not installed.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Optional

import pytest

from kvmq.host import vms
from kvmq.host.vms import INTENT, PROOF, STRONG, UNKNOWN

QEMU = shutil.which("qemu-system-x86_64")
KVM_WRAPPER = shutil.which("kvm")
SRC = Path(__file__).resolve().parent.parent / "src"
NOBODY = 65534
SCANNER_UID = 64999  # another unprivileged uid, with no passwd entry needed
IS_ROOT = os.geteuid() == 0

if QEMU is None:
    print("\ntest_vms_real: skipped: qemu-system-x86_64 is not installed "
          "(apt-get install qemu-system-x86)", file=sys.stderr)
    pytestmark = pytest.mark.skip(reason="qemu-system-x86_64 is not installed")

BASE = ["-display", "none", "-nodefaults", "-m", "64", "-S"]


@dataclass
class Guest:
    key: str
    process: subprocess.Popen[bytes]

    @property
    def pid(self) -> int:
        return self.process.pid


@dataclass
class Guests:
    guests: dict[str, Guest]
    kvm_works: bool
    directory: Path

    def pid(self, key: str) -> int:
        return self.guests[key].pid

    def pids(self) -> list[int]:
        return [g.pid for g in self.guests.values()]


def _start(key: str, argv: list[str], as_nobody: bool = False, umask: Optional[int] = None) -> Guest:
    if as_nobody:
        argv = ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups", *argv]

    def prepare() -> None:
        if umask is not None:
            os.umask(umask)

    process = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, preexec_fn=prepare)
    return Guest(key, process)


def _stop(guest: Guest) -> None:
    if guest.process.poll() is None:
        os.kill(guest.pid, 15)
        try:
            guest.process.wait(5)
        except subprocess.TimeoutExpired:
            os.kill(guest.pid, 9)
            guest.process.wait(5)


def _holds_kvm(pid: int) -> bool:
    try:
        return any(os.readlink(f"/proc/{pid}/fd/{fd}") == "anon_inode:kvm-vm"
                   for fd in os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return False


@pytest.fixture(scope="module")
def guests() -> Iterator[Guests]:
    assert QEMU is not None
    kvm_works = vms.probe_kvm()[0] is True
    directory = Path(tempfile.mkdtemp(prefix="kvmq-vms-"))
    os.chmod(directory, 0o1777)
    started: dict[str, Guest] = {}
    try:
        plan: list[tuple[str, list[str], bool, Optional[int]]] = [
            ("tcg", [QEMU, *BASE, "-name", "kvmq-test-tcg", "-accel", "tcg"], False, None),
            ("fallback", [QEMU, *BASE, "-name", "kvmq-test-fallback", "-machine", "accel=kvm:tcg"],
             False, None),
            ("none", [QEMU, *BASE, "-name", "kvmq-test-none"], False, None),
        ]
        if kvm_works:
            # Without arch-capabilities: some nested AMD hosts advertise MSR 0x10a and then
            # refuse it, and QEMU aborts at the first vCPU (kvm_buf_set_msrs assertion).
            plan.append(("kvm", [QEMU, *BASE, "-name", "guest=kvmq-test-kvm", "-accel", "kvm",
                                 "-cpu", "host,-arch-capabilities", "-smp", "2"], False, None))
            if KVM_WRAPPER:
                plan.append(("wrapper", [KVM_WRAPPER, *BASE, "-name", "kvmq-test-wrapper"], False, None))
        if IS_ROOT:
            plan += [
                ("unpriv", [QEMU, *BASE, "-name", "kvmq-test-unpriv", "-machine", "accel=kvm:tcg"],
                 True, None),
                ("threads", [QEMU, *BASE, "-name", "guest=kvmq-test-threads,debug-threads=on",
                             "-accel", "tcg"], True, None),
                ("qmp", [QEMU, *BASE, "-name", "kvmq-test-qmp", "-accel", "tcg",
                         "-qmp", f"unix:{directory}/qmp.sock,server=on,wait=off"], True, 0),
            ]
        for key, argv, as_nobody, umask in plan:
            started[key] = _start(key, argv, as_nobody, umask)
        # Ready: KVM guests hold their VM descriptor; every guest is older than the time a
        # starting QEMU is given to open KVM; the QMP socket exists.
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            for guest in started.values():
                assert guest.process.poll() is None, f"guest {guest.key} exited: {guest.process.returncode}"
            kvm_ready = all(_holds_kvm(started[k].pid) for k in ("kvm", "fallback", "wrapper")
                            if k in started and kvm_works)
            qmp_ready = "qmp" not in started or (directory / "qmp.sock").exists()
            if kvm_ready and qmp_ready:
                break
            time.sleep(0.1)
        time.sleep(vms.STARTING_SECONDS + 0.2)
        yield Guests(started, kvm_works, directory)
    finally:
        for guest in started.values():
            _stop(guest)
        shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture(scope="module")
def root_scan(guests: Guests) -> vms.Scan:
    return vms.scan(pids=guests.pids())


def _python_for(uid: int) -> Optional[str]:
    """An interpreter that ``uid`` may run (the venv's may live under a private home)."""
    for candidate in (sys.executable, "/usr/bin/python3", shutil.which("python3") or ""):
        if candidate and subprocess.run(
                ["setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups", candidate, "-c", "pass"],
                capture_output=True, check=False).returncode == 0:
            return candidate
    return None


@pytest.fixture(scope="module")
def other_user_scan(guests: Guests) -> vms.Scan:
    """The same guests scanned by an unprivileged uid that owns none of them."""
    if not IS_ROOT:
        pytest.skip("needs root to start guests as nobody and scan as another uid")
    python = _python_for(SCANNER_UID)
    if python is None:
        pytest.skip(f"no Python interpreter that uid {SCANNER_UID} may run")
    # A copy of the package anyone may read: the checkout may live under a private home.
    package = guests.directory / "src"
    shutil.copytree(SRC / "kvmq", package / "kvmq", ignore=shutil.ignore_patterns("__pycache__"))
    for path in [package, *package.rglob("*")]:
        os.chmod(path, 0o755 if path.is_dir() else 0o644)
    code = ("import json, sys; sys.path.insert(0, sys.argv[1]); from kvmq.host import vms; "
            "pids = [int(p) for p in sys.argv[2:]]; "
            "print(json.dumps(vms.scan(pids=pids).to_dict()))")
    done = subprocess.run(
        ["setpriv", f"--reuid={SCANNER_UID}", f"--regid={SCANNER_UID}", "--clear-groups",
         python, "-I", "-c", code, str(package), *map(str, guests.pids())],
        capture_output=True, text=True, timeout=60, check=False, cwd="/")
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert data["host"]["scanner_uid"] == SCANNER_UID
    return _from_dict(data)


def _from_dict(data: dict) -> vms.Scan:
    """Enough of a Scan back from its JSON for these tests."""
    found = []
    for vm in data["vms"]:
        found.append(vms.VM(
            pid=vm["pid"], uid=vm["uid"], user=vm["user"], name=vm["name"], binary=vm["binary"],
            version=vm["version"], argv=tuple(vm["argv"]), accel=vm["accelerator"],
            strength=vm["strength"], vcpus_live=vm["vcpus_live"],
            evidence=tuple(vms.Evidence(**e) for e in vm["evidence"]),
            facts=vms.parse_command_line(vm["argv"]),
            findings=tuple(vms.Finding(**f) for f in vm["findings"]),
            kvm_capable=vm["kvm_capable"]))
    host = data["host"]
    return vms.Scan(vms=tuple(found), kvm_works=host["kvm_works"], kvm_detail=host["detail"],
                    processes=host["processes"], scanner_uid=host["scanner_uid"])


def _vm(scan: vms.Scan, guests: Guests, key: str) -> vms.VM:
    if key not in guests.guests:
        pytest.skip(f"guest {key} was not started here (no working /dev/kvm, or not root)")
    vm = scan.find(guests.pid(key))
    assert vm is not None, f"guest {key} (pid {guests.pid(key)}) not found"
    return vm


def _codes(vm: vms.VM) -> list[str]:
    return [f.code for f in vm.findings]


# --------------------------------------------------------------------------- as root (or the owner)


def test_every_guest_is_found(root_scan: vms.Scan, guests: Guests) -> None:
    assert sorted(vm.pid for vm in root_scan.vms) == sorted(guests.pids())
    for vm in root_scan.vms:
        assert vm.version.count(".") >= 1, vm.version  # e.g. 7.2.22
        assert vm.name.startswith("kvmq-test-")


def test_kvm_guest_is_proven_kvm(root_scan: vms.Scan, guests: Guests) -> None:
    vm = _vm(root_scan, guests, "kvm")
    assert (vm.accel, vm.strength, vm.vcpus_live) == ("kvm", PROOF, 2)
    assert vm.findings == ()
    assert root_scan.kvm_works is True


def test_tcg_guest_is_proven_tcg_and_flagged(root_scan: vms.Scan, guests: Guests) -> None:
    vm = _vm(root_scan, guests, "tcg")
    assert (vm.accel, vm.strength) == ("tcg", PROOF)
    if guests.kvm_works:
        assert vm.findings[0].code == "tcg-while-kvm-works"
        assert "it asked for TCG" in vm.findings[0].message


def test_fallback_guest(root_scan: vms.Scan, guests: Guests) -> None:
    vm = _vm(root_scan, guests, "fallback")
    assert vm.strength == PROOF
    assert vm.accel == ("kvm" if guests.kvm_works else "tcg")
    assert "accel-fallback" in _codes(vm)


def test_no_accelerator_guest_runs_on_tcg(root_scan: vms.Scan, guests: Guests) -> None:
    vm = _vm(root_scan, guests, "none")
    assert (vm.accel, vm.strength) == ("tcg", PROOF)
    if guests.kvm_works:
        assert "no accelerator was given" in vm.findings[0].message


def test_debian_kvm_wrapper_uses_kvm(root_scan: vms.Scan, guests: Guests) -> None:
    vm = _vm(root_scan, guests, "wrapper")
    assert (vm.accel, vm.strength) == ("kvm", PROOF)
    assert vm.argv[0].endswith("/kvm")


def test_unprivileged_guest_fell_back_to_tcg(root_scan: vms.Scan, guests: Guests) -> None:
    # nobody cannot open /dev/kvm (root:kvm 0660 or root 0600), so kvm:tcg fell back.
    vm = _vm(root_scan, guests, "unpriv")
    assert vm.user == "nobody" and vm.uid == NOBODY
    assert (vm.accel, vm.strength) == ("tcg", PROOF)
    if guests.kvm_works:
        assert vm.findings[0].code == "tcg-while-kvm-works"
        assert "fell back to TCG without a word" in vm.findings[0].message


def test_tcg_guests_are_what_check_fails_on(root_scan: vms.Scan, guests: Guests) -> None:
    flagged = {vm.pid for vm in root_scan.tcg_while_kvm_works}
    tcg = {guests.pid(k) for k in ("tcg", "none", "unpriv", "threads", "qmp") if k in guests.guests}
    # Unconfirmed KVM (/dev/kvm exists, this user may not open it) counts as working.
    assert flagged == (tcg if root_scan.kvm_works is not False else set())


# --------------------------------------------------------------------------- as another user


def test_unreadable_descriptors_leave_intent_labelled_as_such(other_user_scan: vms.Scan,
                                                               guests: Guests) -> None:
    vm = _vm(other_user_scan, guests, "unpriv")
    assert vm.evidence[0].source == "fds" and "not readable" in vm.evidence[0].detail
    assert (vm.accel, vm.strength) == (UNKNOWN, INTENT)
    assert "unproven" in _codes(vm)
    assert "run kvmq as root or as the VM's user" in next(f.hint for f in vm.findings if f.code == "unproven")


def test_thread_names_tell_another_user(other_user_scan: vms.Scan, guests: Guests) -> None:
    vm = _vm(other_user_scan, guests, "threads")
    assert (vm.accel, vm.strength) == ("tcg", STRONG)
    assert vm.evidence[1].source == "threads"


def test_qmp_proves_it_to_another_user(other_user_scan: vms.Scan, guests: Guests) -> None:
    vm = _vm(other_user_scan, guests, "qmp")
    assert (vm.accel, vm.strength) == ("tcg", PROOF)
    assert "query-kvm" in vm.evidence[1].detail and "enabled=false" in vm.evidence[1].detail
    assert vm.findings[0].code == "tcg-while-kvm-works" or not guests.kvm_works


def test_root_guests_are_intent_only_for_another_user(other_user_scan: vms.Scan, guests: Guests) -> None:
    for key in ("tcg", "none"):
        vm = _vm(other_user_scan, guests, key)
        assert (vm.accel, vm.strength) == ("tcg", INTENT), key
    if "kvm" in guests.guests:
        vm = _vm(other_user_scan, guests, "kvm")
        assert (vm.accel, vm.strength) == ("kvm", INTENT)
    # This user cannot open /dev/kvm: it exists, unconfirmed.
    assert other_user_scan.kvm_works is None


# --------------------------------------------------------------------------- the command


def test_kvmq_vms_json_and_check(guests: Guests, cli_env: dict[str, str]) -> None:
    done = subprocess.run([sys.executable, "-m", "kvmq", "vms", "--format", "json"], capture_output=True,
                          text=True, env=cli_env, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    by_pid = {vm["pid"]: vm for vm in data["vms"]}
    for key in guests.guests:
        vm = by_pid[guests.pid(key)]
        assert vm["accelerator"] in ("kvm", "tcg"), (key, vm["accelerator"])
    assert by_pid[guests.pid("tcg")]["accelerator"] == "tcg"
    check = subprocess.run([sys.executable, "-m", "kvmq", "vms", "--check"], capture_output=True,
                           text=True, env=cli_env, timeout=60, check=False)
    assert check.returncode == (0 if data["host"]["kvm_works"] is False else 1), check.stderr
    assert "kvmq-test-tcg" in check.stdout
    assert "Traceback" not in check.stderr
