"""Can this Linux host run KVM?  Probes and a small result model.

Plain Python on purpose: the CLI, the JSON output and the TUI's Host tab all
render the same :class:`Report`, so nothing here may import textual or rich.

How the host is reached
-----------------------
Every file read and every probe goes through one :class:`Host` object:

* ``root`` -- files such as ``/proc/cpuinfo`` or ``/sys/module/kvm`` are read
  below this directory (``Path("/")`` on a real host).
* ``stat_device`` -- facts about device nodes (``/dev/kvm``, ...).  Fixture
  trees cannot hold character devices, so this is a callable.
* ``can_open_rw`` and ``kvm_api_version`` -- the two probes that touch
  ``/dev/kvm`` itself (``open(O_RDWR)`` and the ``KVM_GET_API_VERSION`` ioctl).
* ``run`` -- runs a program with a timeout and never raises.
* ``path_dirs`` -- where executables are looked for (below ``root``).
* ``user`` and ``group_name`` -- who we are, to explain permission problems.

Fake hosts as fixture trees
---------------------------
:meth:`Host.from_tree` turns a directory into a fake host.  Ordinary files in
the tree are read as they are (``proc/cpuinfo``, ``sys/module/kvm_intel/
parameters/nested``, ``sys/kernel/iommu_groups/0/type``, ``etc/group``,
``.dockerenv``, executable scripts in ``usr/bin``).  What cannot live in a
tree is described in ``host.json`` at the top of the tree::

    {
      "machine": "x86_64",
      "user": {"name": "alice", "uid": 1000, "gid": 1000, "groups": [1000, 108]},
      "devices": {
        "/dev/kvm": {"type": "char", "mode": "0660", "uid": 0, "gid": 108,
                     "rdev": [10, 232]}
      },
      "kvm_api_version": 12,
      "path": ["/usr/bin"]
    }

``devices`` maps absolute paths to node facts (``type`` is one of ``char``,
``block``, ``file``, ``dir``); a device that is not listed does not exist.
Opening a listed device follows the usual owner/group/other permission bits
for ``user`` (uid 0 may open anything).  ``kvm_api_version`` is what the
ioctl answers once the open succeeded: a number, or an errno name such as
``"ENOTTY"`` to make it fail.  ``path`` lists the PATH directories inside the
tree, ``timeout`` the per-program timeout.  Programs are real scripts in the
tree and run for real, so timeouts are exercised too.  Keyword arguments to
``from_tree`` replace any field afterwards (e.g. ``timeout=0.5``).
"""

from __future__ import annotations

import contextlib
import errno as errno_mod
import fcntl
import fnmatch
import grp
import json
import os
import platform
import pwd
import re
import signal
import stat as stat_mod
import subprocess
import unicodedata
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any, Callable, Optional, Sequence, Union

__all__ = [
    "KVM_GET_API_VERSION",
    "KVM_STABLE_API_VERSION",
    "Check",
    "DeviceInfo",
    "Host",
    "Report",
    "RunResult",
    "Status",
    "UserInfo",
    "Verdict",
    "clean_text",
    "parse_accels",
    "parse_version",
    "real_can_open_rw",
    "real_kvm_api_version",
    "real_stat_device",
    "run_checks",
    "run_program",
]

#: ``_IO(KVMIO, 0x00)``: the first ioctl any KVM user issues.
KVM_GET_API_VERSION = 0xAE00
#: The only API version the kernel has answered since Linux 2.6.22.
KVM_STABLE_API_VERSION = 12
#: Default per-program timeout in seconds.
DEFAULT_TIMEOUT = 3.0

SUMMARY_AVAILABLE = "KVM acceleration available"
SUMMARY_TCG = "QEMU will run without KVM (TCG software emulation)"

X86_MACHINES = frozenset({"x86_64", "amd64", "i386", "i486", "i586", "i686", "x86"})

# `uname -m` -> the qemu-system-* target that can use KVM on that machine.
_NATIVE_QEMU_TARGET = {
    "x86_64": "x86_64",
    "amd64": "x86_64",
    "i686": "i386",
    "i386": "i386",
    "aarch64": "aarch64",
    "arm64": "aarch64",
    "armv7l": "arm",
    "ppc64le": "ppc64",
    "ppc64": "ppc64",
    "s390x": "s390x",
    "riscv64": "riscv64",
    "loongarch64": "loongarch64",
    "mips64": "mips64",
}


# --------------------------------------------------------------------------
# Model


class Status(str, Enum):
    PASS = "pass"
    WARN = "warn"
    FAIL = "fail"
    INFO = "info"
    SKIP = "skip"


@dataclass(frozen=True)
class Check:
    """One finding about the host.  ``hint`` says what to do; empty on pass."""

    id: str
    status: Status
    finding: str
    hint: str = ""


@dataclass(frozen=True)
class Verdict:
    kvm_available: bool
    summary: str
    reason: str


@dataclass(frozen=True)
class Report:
    checks: tuple[Check, ...]
    verdict: Verdict

    @property
    def kvm_available(self) -> bool:
        return self.verdict.kvm_available

    def get(self, check_id: str) -> Optional[Check]:
        for check in self.checks:
            if check.id == check_id:
                return check
        return None

    def to_dict(self) -> dict[str, Any]:
        """Plain data in a stable shape (the JSON output is built from this)."""
        return {
            "checks": [
                {"id": c.id, "status": c.status.value, "finding": c.finding, "hint": c.hint}
                for c in self.checks
            ],
            "verdict": {
                "kvm_available": self.verdict.kvm_available,
                "summary": self.verdict.summary,
                "reason": self.verdict.reason,
            },
        }


# --------------------------------------------------------------------------
# Text from the host is untrusted: it must never carry terminal control codes.

_WS_RE = re.compile(r"[\t\r\n\v\f]+")
# Whole escape sequences go, not just the ESC byte, so no "[31m" debris is left:
# CSI (ESC [ ... final), OSC (ESC ] ... BEL or ESC \), and two-byte escapes.
_ESCAPE_RE = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]|\x9b[0-?]*[ -/]*[@-~]"
    r"|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b[@-_]?"
)


def clean_text(value: object, limit: int = 240) -> str:
    """Return ``value`` as one line without control or format characters.

    Escape sequences, bidi overrides and the like are dropped so that output
    from a hostile or broken binary cannot drive the terminal.
    """
    text = _WS_RE.sub(" ", _ESCAPE_RE.sub("", str(value)))
    text = "".join(ch for ch in text if unicodedata.category(ch) not in ("Cc", "Cf", "Cs", "Co"))
    text = text.strip()
    if len(text) > limit:
        text = text[: limit - 1].rstrip() + "…"
    return text


# --------------------------------------------------------------------------
# The host interface


@dataclass(frozen=True)
class RunResult:
    stdout: str = ""
    returncode: Optional[int] = None
    timed_out: bool = False
    error: Optional[str] = None

    @property
    def ok(self) -> bool:
        return not self.timed_out and self.error is None and self.returncode == 0


@dataclass(frozen=True)
class DeviceInfo:
    """What ``stat`` says about a node such as ``/dev/kvm``."""

    kind: str  # "char", "block", "file", "dir" or "other"
    mode: int  # permission bits only, e.g. 0o660
    uid: int = 0
    gid: int = 0
    rdev: Optional[tuple[int, int]] = None

    @property
    def is_char(self) -> bool:
        return self.kind == "char"

    def mode_string(self) -> str:
        prefix = {"char": "c", "block": "b", "dir": "d", "file": "-"}.get(self.kind, "?")
        bits = ""
        for shift in (6, 3, 0):
            part = (self.mode >> shift) & 7
            bits += ("r" if part & 4 else "-") + ("w" if part & 2 else "-")
            bits += "x" if part & 1 else "-"
        return prefix + bits


@dataclass(frozen=True)
class UserInfo:
    uid: int
    gid: int
    groups: tuple[int, ...] = ()
    name: str = ""

    @property
    def label(self) -> str:
        return f"user {self.name}" if self.name else f"uid {self.uid}"


def _default_user() -> UserInfo:
    uid = os.getuid()
    name = ""
    try:
        name = pwd.getpwuid(uid).pw_name
    except KeyError:
        name = os.environ.get("USER", "")
    return UserInfo(uid=uid, gid=os.getgid(), groups=tuple(os.getgroups()), name=name)


def _default_group_name(gid: int) -> Optional[str]:
    try:
        return grp.getgrgid(gid).gr_name
    except KeyError:
        return None


def _default_path_dirs() -> tuple[str, ...]:
    return tuple(d for d in os.environ.get("PATH", "").split(os.pathsep) if d)


def _kind_of(st_mode: int) -> str:
    if stat_mod.S_ISCHR(st_mode):
        return "char"
    if stat_mod.S_ISBLK(st_mode):
        return "block"
    if stat_mod.S_ISDIR(st_mode):
        return "dir"
    if stat_mod.S_ISREG(st_mode):
        return "file"
    return "other"


def real_stat_device(path: Path) -> Optional[DeviceInfo]:
    """Real ``stat`` of a node; ``None`` when it does not exist."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    rdev = None
    if stat_mod.S_ISCHR(st.st_mode) or stat_mod.S_ISBLK(st.st_mode):
        rdev = (os.major(st.st_rdev), os.minor(st.st_rdev))
    return DeviceInfo(
        kind=_kind_of(st.st_mode),
        mode=stat_mod.S_IMODE(st.st_mode),
        uid=st.st_uid,
        gid=st.st_gid,
        rdev=rdev,
    )


def real_can_open_rw(path: Path) -> Union[bool, OSError]:
    """Try what QEMU does first: open the node read-write."""
    try:
        fd = os.open(path, os.O_RDWR | os.O_CLOEXEC)
    except OSError as exc:
        return exc
    os.close(fd)
    return True


def real_kvm_api_version(path: Path) -> int:
    """Open ``path`` and ask ``KVM_GET_API_VERSION``.  Raises OSError."""
    fd = os.open(path, os.O_RDWR | os.O_CLOEXEC)
    try:
        return fcntl.ioctl(fd, KVM_GET_API_VERSION)
    finally:
        os.close(fd)


def run_program(argv: Sequence[str], timeout: float) -> RunResult:
    """Run ``argv`` and capture stdout+stderr; never raises, never hangs.

    The child gets its own session so that, on timeout, the whole process
    group is killed: a wrapper script's grandchildren would otherwise keep the
    pipe open and ``communicate()`` would wait for them.
    """
    env = dict(os.environ, LC_ALL="C", LANG="C")
    try:
        proc = subprocess.Popen(
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )
    except OSError as exc:
        return RunResult(error=exc.strerror or str(exc))
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(OSError):
            os.killpg(proc.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.communicate(timeout=1.0)
        if proc.poll() is None:
            proc.kill()
        return RunResult(timed_out=True)
    return RunResult(stdout=out.decode("utf-8", "replace"), returncode=proc.returncode)


@dataclass(frozen=True)
class Host:
    """Everything the checks may look at.  Replace fields to fake a host."""

    root: Path = Path("/")
    machine: str = field(default_factory=platform.machine)
    user: UserInfo = field(default_factory=_default_user)
    path_dirs: tuple[str, ...] = field(default_factory=_default_path_dirs)
    timeout: float = DEFAULT_TIMEOUT
    stat_device: Callable[[Path], Optional[DeviceInfo]] = real_stat_device
    can_open_rw: Callable[[Path], Union[bool, OSError]] = real_can_open_rw
    kvm_api_version: Callable[[Path], int] = real_kvm_api_version
    run: Callable[[Sequence[str], float], RunResult] = run_program
    group_name: Callable[[int], Optional[str]] = _default_group_name

    def path(self, absolute: str) -> Path:
        """Map a host path such as ``/proc/cpuinfo`` below ``root``."""
        return self.root / absolute.lstrip("/")

    def read_text(self, absolute: str) -> Optional[str]:
        try:
            return self.path(absolute).read_text(encoding="utf-8", errors="replace")
        except OSError:
            return None

    def exists(self, absolute: str) -> bool:
        return self.path(absolute).exists()

    def listdir(self, absolute: str) -> Optional[list[str]]:
        try:
            return sorted(os.listdir(self.path(absolute)))
        except OSError:
            return None

    def device(self, absolute: str) -> Optional[DeviceInfo]:
        return self.stat_device(self.path(absolute))

    def which(self, pattern: str) -> list[Path]:
        """Executables on ``path_dirs`` whose name matches a glob ``pattern``.

        The first directory wins for each name, as in a shell.  Relative PATH
        entries are ignored: running something from the current directory
        just to inspect it would be a bad surprise.
        """
        found: dict[str, Path] = {}
        for directory in self.path_dirs:
            if not directory.startswith("/"):
                continue
            names = self.listdir(directory) or []
            for name in names:
                if name in found or not fnmatch.fnmatchcase(name, pattern):
                    continue
                candidate = self.path(directory) / name
                if candidate.is_file() and os.access(candidate, os.X_OK):
                    found[name] = candidate
        return [found[name] for name in sorted(found)]

    @classmethod
    def from_tree(cls, root: Path, **overrides: Any) -> Host:
        """A fake host from a fixture tree (format in the module docstring)."""
        root = Path(root)
        spec_file = root / "host.json"
        spec: dict[str, Any] = {}
        if spec_file.exists():
            spec = json.loads(spec_file.read_text(encoding="utf-8"))
        user_spec = spec.get("user", {})
        user = UserInfo(
            uid=int(user_spec.get("uid", 1000)),
            gid=int(user_spec.get("gid", 1000)),
            groups=tuple(int(g) for g in user_spec.get("groups", [])),
            name=str(user_spec.get("name", "")),
        )
        devices: dict[str, DeviceInfo] = {}
        for dev_path, dev in spec.get("devices", {}).items():
            rdev = dev.get("rdev")
            devices[dev_path] = DeviceInfo(
                kind=str(dev.get("type", "char")),
                mode=int(str(dev.get("mode", "0600")), 8),
                uid=int(dev.get("uid", 0)),
                gid=int(dev.get("gid", 0)),
                rdev=(int(rdev[0]), int(rdev[1])) if rdev else None,
            )
        groups = _parse_group_file(root / "etc" / "group")
        api_answer = spec.get("kvm_api_version", KVM_STABLE_API_VERSION)

        def lookup(path: Path) -> Optional[DeviceInfo]:
            return devices.get("/" + str(Path(path).relative_to(root)))

        def fake_open(path: Path) -> Union[bool, OSError]:
            dev = lookup(path)
            if dev is None:
                return _oserror("ENOENT", path)
            if _permits_rw(dev, user):
                return True
            return _oserror("EACCES", path)

        def fake_api(path: Path) -> int:
            opened = fake_open(path)
            if isinstance(opened, OSError):
                raise opened
            if isinstance(api_answer, str):
                raise _oserror(api_answer, path)
            return int(api_answer)

        values: dict[str, Any] = {
            "root": root,
            "machine": str(spec.get("machine", "x86_64")),
            "user": user,
            "path_dirs": tuple(spec.get("path", ["/usr/bin"])),
            "timeout": float(spec.get("timeout", DEFAULT_TIMEOUT)),
            "stat_device": lookup,
            "can_open_rw": fake_open,
            "kvm_api_version": fake_api,
            "group_name": groups.get,
        }
        values.update(overrides)
        return cls(**values)


def _oserror(name: str, path: Path) -> OSError:
    code = getattr(errno_mod, name, errno_mod.EIO)
    return OSError(code, os.strerror(code), str(path))


def _permits_rw(dev: DeviceInfo, user: UserInfo) -> bool:
    if user.uid == 0:
        return True
    if dev.uid == user.uid:
        bits = dev.mode >> 6
    elif dev.gid == user.gid or dev.gid in user.groups:
        bits = dev.mode >> 3
    else:
        bits = dev.mode
    return bits & 0o6 == 0o6


def _parse_group_file(path: Path) -> dict[int, str]:
    groups: dict[int, str] = {}
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError:
        return groups
    for line in lines:
        parts = line.split(":")
        if len(parts) >= 3 and parts[2].isdigit():
            groups[int(parts[2])] = parts[0]
    return groups


# --------------------------------------------------------------------------
# Facts gathered once, shared by the checks


VENDOR_MODULES = {
    "kvm_intel": "Intel VT-x",
    "kvm_amd": "AMD-V",
    "kvm_pvm": "PVM, paravirtual KVM without hardware extensions",
    "kvm_hv": "POWER hypervisor mode",
    "kvm_pr": "POWER problem-state KVM",
}


@dataclass
class _Facts:
    host: Host
    is_x86: bool
    flags: Optional[frozenset[str]]  # None: /proc/cpuinfo unreadable
    modules: list[str]
    kvm_dev: Optional[DeviceInfo]
    access: Union[bool, OSError, None]  # None: not tried (no device)
    api: Union[int, OSError]
    in_container: bool

    @property
    def virt_flags(self) -> list[str]:
        return sorted((self.flags or frozenset()) & {"vmx", "svm"})

    @property
    def api_ok(self) -> bool:
        return self.api == KVM_STABLE_API_VERSION

    @property
    def api_denied(self) -> bool:
        return isinstance(self.api, OSError) and self.api.errno in (
            errno_mod.EACCES,
            errno_mod.EPERM,
        )

    @property
    def vendor_modules(self) -> list[str]:
        return [m for m in self.modules if m != "kvm"]


def _cpu_flags(text: Optional[str]) -> Optional[frozenset[str]]:
    if text is None:
        return None
    flags: set[str] = set()
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        # x86 says "flags"; some kernels/arches say "Features" (no virt bits).
        if sep and key.strip() in ("flags", "Features"):
            flags.update(value.split())
    return frozenset(flags)


def _kvm_modules(host: Host) -> list[str]:
    names = host.listdir("/sys/module") or []
    return [n for n in names if n == "kvm" or n.startswith("kvm_")]


def _in_container(host: Host) -> bool:
    if host.exists("/.dockerenv") or host.exists("/run/.containerenv"):
        return True
    cgroup = host.read_text("/proc/1/cgroup") or ""
    return any(word in cgroup for word in ("docker", "kubepods", "lxc", "containerd", "libpod"))


def _gather(host: Host) -> _Facts:
    kvm_path = host.path("/dev/kvm")
    kvm_dev = host.device("/dev/kvm")
    access: Union[bool, OSError, None] = None
    if kvm_dev is not None:
        access = host.can_open_rw(kvm_path)
    try:
        api: Union[int, OSError] = int(host.kvm_api_version(kvm_path))
    except OSError as exc:
        api = exc
    return _Facts(
        host=host,
        is_x86=host.machine in X86_MACHINES,
        flags=_cpu_flags(host.read_text("/proc/cpuinfo")),
        modules=_kvm_modules(host),
        kvm_dev=kvm_dev,
        access=access,
        api=api,
        in_container=_in_container(host),
    )


def _err(exc: OSError) -> str:
    name = errno_mod.errorcode.get(exc.errno or 0, "")
    text = exc.strerror or str(exc)
    return clean_text(f"{text} ({name})" if name else text)


def _modprobe_hint(f: _Facts) -> str:
    if "svm" in f.virt_flags:
        return "sudo modprobe kvm_amd"
    if "vmx" in f.virt_flags:
        return "sudo modprobe kvm_intel"
    return "sudo modprobe kvm_intel (Intel) or kvm_amd (AMD)"


def _owner(f: _Facts, dev: DeviceInfo) -> str:
    group = f.host.group_name(dev.gid) or str(dev.gid)
    owner = "root" if dev.uid == 0 else str(dev.uid)
    return f"{dev.mode_string()} {owner}:{clean_text(group)}"


# --------------------------------------------------------------------------
# The checks


def _check_cpu_flags(f: _Facts) -> Check:
    cid = "cpu.virt-flags"
    machine = clean_text(f.host.machine) or "unknown"
    if not f.is_x86:
        return Check(
            cid,
            Status.SKIP,
            f"{machine}: /proc/cpuinfo does not list virtualization flags here",
            "kvm.api decides whether KVM works",
        )
    if f.flags is None:
        return Check(cid, Status.WARN, "cannot read /proc/cpuinfo", "kvm.api decides")
    found = f.virt_flags
    in_vm = "hypervisor" in (f.flags or ())
    if found:
        names = ", ".join(f"{flag} ({'Intel VT-x' if flag == 'vmx' else 'AMD-V'})" for flag in found)
        if f.api_ok or f.api_denied:
            return Check(cid, Status.PASS, f"{names} present")
        if f.kvm_dev is None:
            hint = (
                "virtualization may be disabled in firmware (BIOS/UEFI setup), "
                "or the kvm module is not loaded: see kvm.modules"
            )
            if f.in_container:
                hint = "this looks like a container: start it with --device /dev/kvm"
            return Check(
                cid,
                Status.WARN,
                f"{names} present, but there is no /dev/kvm; the kvm.api probe decides",
                hint,
            )
        return Check(
            cid,
            Status.WARN,
            f"{names} present, but the KVM probe failed; the probe decides",
            "see kvm.api; check `dmesg | grep -i kvm` for 'disabled by bios'",
        )
    if f.api_ok:
        why = "likely a nested guest or paravirtual KVM" if in_vm else "KVM is paravirtualized"
        return Check(
            cid,
            Status.INFO,
            f"no vmx/svm in CPU flags, but /dev/kvm works: {why}",
        )
    if f.api_denied:
        return Check(
            cid,
            Status.WARN,
            "no vmx/svm in CPU flags; the probe could not tell (no access to /dev/kvm)",
            "fix kvm.access first; nested or paravirtual KVM works without the flags",
        )
    if in_vm:
        return Check(
            cid,
            Status.FAIL,
            "no vmx/svm in CPU flags: this is a virtual machine without nested virtualization",
            "enable nested virtualization on the outer hypervisor "
            "(e.g. kvm_intel nested=1, or 'expose hardware-assisted virtualization')",
        )
    return Check(
        cid,
        Status.FAIL,
        "no vmx/svm in CPU flags: the CPU lacks or hides hardware virtualization",
        "enable Intel VT-x / AMD-V (SVM) in the firmware setup",
    )


def _check_modules(f: _Facts) -> Check:
    cid = "kvm.modules"
    if f.modules:
        parts = []
        for name in f.modules:
            what = VENDOR_MODULES.get(name)
            parts.append(f"{name} ({what})" if what else name)
        finding = "loaded: " + ", ".join(parts)
        if f.vendor_modules or f.api_ok or not f.is_x86:
            return Check(cid, Status.PASS, finding)
        return Check(
            cid,
            Status.WARN,
            finding + "; no vendor module (kvm_intel/kvm_amd)",
            _modprobe_hint(f) + "; if it fails, virtualization is disabled in firmware",
        )
    if f.api_ok or f.kvm_dev is not None:
        return Check(cid, Status.INFO, "no kvm modules in /sys/module: KVM is built into the kernel")
    hint = _modprobe_hint(f) if f.is_x86 else "sudo modprobe kvm"
    if f.in_container:
        hint += " (if this is a container: on its host)"
    return Check(cid, Status.FAIL, "no kvm modules loaded", hint)


def _check_device(f: _Facts) -> Check:
    cid = "kvm.device"
    dev = f.kvm_dev
    if dev is None:
        if f.in_container:
            hint = "this looks like a container: start it with --device /dev/kvm"
        elif not f.modules:
            hint = "load the kvm modules (see kvm.modules)"
        else:
            hint = "the module is loaded but made no device: check `dmesg | grep -i kvm`"
        return Check(cid, Status.FAIL, "/dev/kvm does not exist", hint)
    if not dev.is_char:
        return Check(
            cid,
            Status.FAIL,
            f"/dev/kvm exists but is a {dev.kind}, not a character device",
            "remove it and let udev recreate it (reload the kvm modules or reboot)",
        )
    numbers = f" {dev.rdev[0]}:{dev.rdev[1]}" if dev.rdev else ""
    return Check(cid, Status.PASS, f"/dev/kvm is a character device{numbers} ({_owner(f, dev)})")


def _check_access(f: _Facts) -> Check:
    cid = "kvm.access"
    user = clean_text(f.host.user.label)
    dev = f.kvm_dev
    if dev is None or f.access is None:
        return Check(cid, Status.SKIP, "no /dev/kvm to open")
    if f.access is True:
        return Check(cid, Status.PASS, f"{user} can open /dev/kvm read-write")
    if not isinstance(f.access, OSError):
        return Check(cid, Status.FAIL, f"{user} cannot open /dev/kvm read-write", "")
    exc = f.access
    finding = f"{user} cannot open /dev/kvm read-write: {_err(exc)}; it is {_owner(f, dev)}"
    if exc.errno not in (errno_mod.EACCES, errno_mod.EPERM):
        return Check(cid, Status.FAIL, finding, "check `dmesg | grep -i kvm`")
    group = f.host.group_name(dev.gid)
    group_rw = (dev.mode >> 3) & 0o6 == 0o6
    login = clean_text(f.host.user.name) or "$USER"
    if group_rw and dev.gid != 0 and group:
        group = clean_text(group)
        if dev.gid in f.host.user.groups or dev.gid == f.host.user.gid:
            hint = (
                f"you are in group '{group}' yet access is denied: "
                "a security module or the container's device policy blocks it"
            )
            if f.in_container:
                hint = "the container's device policy blocks it: run it with --device /dev/kvm"
        else:
            hint = (
                f"add the user to group '{group}': sudo usermod -aG {group} {login}, "
                "then log out and in again"
            )
        return Check(cid, Status.FAIL, finding, hint)
    hint = (
        "give /dev/kvm to a group with a udev rule: "
        'KERNEL=="kvm", GROUP="kvm", MODE="0660" in /etc/udev/rules.d/65-kvm.rules, '
        f"then `sudo udevadm trigger` and sudo usermod -aG kvm {login}"
    )
    return Check(cid, Status.FAIL, finding, hint)


def _check_api(f: _Facts) -> Check:
    cid = "kvm.api"
    if isinstance(f.api, int):
        if f.api_ok:
            return Check(cid, Status.PASS, f"KVM_GET_API_VERSION = {f.api} (the stable API): KVM works")
        return Check(
            cid,
            Status.FAIL,
            f"KVM_GET_API_VERSION = {f.api}, expected {KVM_STABLE_API_VERSION}",
            "QEMU refuses any other API version; this kernel's KVM is unusual",
        )
    exc = f.api
    if exc.errno == errno_mod.ENOENT:
        return Check(cid, Status.FAIL, "could not probe: no /dev/kvm", "see kvm.device")
    if f.api_denied:
        return Check(cid, Status.FAIL, f"could not open /dev/kvm: {_err(exc)}", "see kvm.access")
    return Check(
        cid,
        Status.FAIL,
        f"KVM_GET_API_VERSION failed: {_err(exc)}",
        "/dev/kvm does not behave like KVM: check `dmesg | grep -i kvm`",
    )


def _check_nested(f: _Facts) -> Check:
    cid = "kvm.nested"
    for module in ("kvm_intel", "kvm_amd"):
        raw = f.host.read_text(f"/sys/module/{module}/parameters/nested")
        if raw is None:
            continue
        value = clean_text(raw, 20)
        on = value.upper() in ("Y", "1")
        meaning = "guests may run KVM themselves" if on else "guests cannot run KVM"
        hint = "" if on else f"to allow it: options {module} nested=1 in /etc/modprobe.d/"
        return Check(cid, Status.INFO, f"{module} nested={value}: {meaning}", hint)
    return Check(cid, Status.SKIP, "no kvm_intel/kvm_amd nested parameter on this host")


def _check_char_dev(f: _Facts, cid: str, path: str, purpose: str, hint: str) -> Check:
    dev = f.host.device(path)
    if dev is None:
        return Check(cid, Status.WARN, f"{path} missing: {purpose} unavailable", hint)
    if not dev.is_char:
        return Check(cid, Status.WARN, f"{path} is a {dev.kind}, not a character device", hint)
    return Check(cid, Status.PASS, f"{path} present ({purpose})")


def _check_vhost(f: _Facts) -> Check:
    hint = "sudo modprobe vhost_net"
    if f.in_container:
        hint += " (if this is a container: on its host, then pass --device /dev/vhost-net)"
    return _check_char_dev(f, "vhost-net", "/dev/vhost-net", "in-kernel virtio-net acceleration", hint)


def _check_tun(f: _Facts) -> Check:
    hint = "sudo modprobe tun"
    if f.in_container:
        hint += " (if this is a container: on its host, then pass --device /dev/net/tun)"
    return _check_char_dev(f, "tun", "/dev/net/tun", "tap networking for guests", hint)


def _check_iommu(f: _Facts) -> Check:
    groups = [g for g in (f.host.listdir("/sys/kernel/iommu_groups") or []) if g.isdigit()]
    if groups:
        return Check(
            "iommu",
            Status.INFO,
            f"{len(groups)} IOMMU groups: PCI device passthrough (VFIO) is possible",
        )
    return Check(
        "iommu",
        Status.INFO,
        "no IOMMU groups: PCI device passthrough is not possible",
        "only needed for passthrough: enable VT-d/AMD-Vi in firmware "
        "and boot with intel_iommu=on on Intel (AMD turns it on by default)",
    )


# --------------------------------------------------------------------------
# Programs


_VERSION_RE = re.compile(r"\bversion\s+v?(\d+(?:\.\d+)+)", re.IGNORECASE)
_BARE_VERSION_RE = re.compile(r"^\s*v?(\d+(?:\.\d+)+)\b")
_ACCEL_LINE_RE = re.compile(r"^[a-z0-9_-]+$")


def parse_version(output: str) -> str:
    """The version from the first non-empty line of ``--version`` output."""
    lines = (clean_text(line, 200) for line in output.splitlines())
    first = next((line for line in lines if line), "")
    match = _VERSION_RE.search(first) or _BARE_VERSION_RE.search(first)
    if match:
        return match.group(1)
    return clean_text(first, 60)


def parse_accels(output: str) -> list[str]:
    """Accelerator names from ``-accel help``: one per line after a header."""
    names = []
    for line in output.splitlines():
        word = line.strip()
        if _ACCEL_LINE_RE.match(word):
            names.append(word)
    return names


@dataclass(frozen=True)
class _Program:
    name: str
    path: Path
    version: Optional[str] = None
    accels: Optional[list[str]] = None
    problem: Optional[str] = None


def _describe_failure(result: RunResult, what: str, timeout: float) -> str:
    if result.timed_out:
        return f"did not answer {what} within {timeout:g} s"
    if result.error:
        return f"could not run: {clean_text(result.error, 80)}"
    tail = clean_text(result.stdout, 80)
    return f"{what} exited with status {result.returncode}" + (f": {tail}" if tail else "")


def _probe_program(host: Host, name: str, path: Path, accel: bool) -> _Program:
    result = host.run([str(path), "--version"], host.timeout)
    if not result.ok:
        return _Program(name, path, problem=_describe_failure(result, "--version", host.timeout))
    version = parse_version(result.stdout)
    if not accel:
        return _Program(name, path, version=version)
    result = host.run([str(path), "-accel", "help"], host.timeout)
    if not result.ok:
        problem = _describe_failure(result, "-accel help", host.timeout)
        return _Program(name, path, version=version, problem=problem)
    return _Program(name, path, version=version, accels=parse_accels(result.stdout))


def _probe_all(host: Host, jobs: list[tuple[str, Path, bool]]) -> list[_Program]:
    if not jobs:
        return []
    # In parallel, so a PATH full of emulators (or several hung ones) costs
    # about one timeout, not one per binary.
    with ThreadPoolExecutor(max_workers=min(8, len(jobs))) as pool:
        futures = [pool.submit(_probe_program, host, *job) for job in jobs]
        return [fut.result() for fut in futures]


def _qemu_install_hint() -> str:
    return (
        "install QEMU: sudo apt install qemu-system-x86 (Debian/Ubuntu) or sudo dnf install qemu-kvm (Fedora)"
    )


def _program_checks(f: _Facts) -> list[Check]:
    host = f.host
    systems = [(p.name, p, True) for p in host.which("qemu-system-*")]
    seen = {name for name, _, _ in systems}
    # RHEL-likes ship only /usr/libexec/qemu-kvm, off PATH.
    for candidate in [*host.which("qemu-kvm"), host.path("/usr/libexec/qemu-kvm")]:
        if candidate.name not in seen and candidate.is_file() and os.access(candidate, os.X_OK):
            systems.append((candidate.name, candidate, True))
            seen.add(candidate.name)
    tools = [(p.name, p, False) for pattern in ("qemu-img", "virsh") for p in host.which(pattern)]
    probed = _probe_all(host, systems + tools)
    emulators = probed[: len(systems)]
    tool_results = {p.name: p for p in probed[len(systems) :]}

    native = _NATIVE_QEMU_TARGET.get(host.machine)
    checks: list[Check] = []
    rows: list[Check] = []
    with_kvm: list[str] = []
    broken: list[str] = []
    for prog in emulators:
        name = clean_text(prog.name, 60)
        where = clean_text(_display_path(host, prog.path), 120)
        cid = f"qemu.binaries.{name}"
        version = f" {clean_text(prog.version, 60)}" if prog.version else ""
        if prog.problem:
            broken.append(name)
            rows.append(
                Check(
                    cid,
                    Status.WARN,
                    f"{where}{version}: {prog.problem}",
                    "this binary is broken or hangs: reinstall it or remove it from PATH",
                )
            )
            continue
        accels = prog.accels or []
        listing = ", ".join(clean_text(a, 20) for a in accels) or "none listed"
        finding = f"{where}{version}; accelerators: {listing}"
        is_native = name == f"qemu-system-{native}" or name == "qemu-kvm"
        if "kvm" in accels:
            with_kvm.append(name)
            rows.append(Check(cid, Status.PASS, finding))
        elif is_native:
            rows.append(
                Check(
                    cid,
                    Status.WARN,
                    finding + " (built without KVM)",
                    "install the distribution's QEMU package, which is built with KVM",
                )
            )
        else:
            rows.append(Check(cid, Status.INFO, finding + " (emulates another architecture)"))

    if not emulators:
        status = Status.WARN if f.api_ok else Status.INFO
        checks.append(
            Check(
                "qemu.binaries",
                status,
                "no qemu-system-* on PATH: QEMU is not installed",
                _qemu_install_hint(),
            )
        )
    else:
        count = len(emulators)
        summary = f"{count} QEMU system emulator{'s' if count != 1 else ''} on PATH"
        if with_kvm:
            summary += "; with KVM: " + ", ".join(with_kvm)
        else:
            summary += "; none lists the kvm accelerator"
        if broken:
            summary += "; not answering: " + ", ".join(broken)
        if broken:
            status, hint = Status.WARN, "see the rows below for the binaries that failed"
        elif with_kvm:
            status, hint = Status.PASS, ""
        else:
            status, hint = Status.WARN, _qemu_install_hint()
        checks.append(Check("qemu.binaries", status, summary, hint))
    checks.extend(rows)

    for tool, cid, missing_hint in (
        ("qemu-img", "qemu.img", "disk image tool: sudo apt install qemu-utils / dnf install qemu-img"),
        ("virsh", "libvirt.virsh", "optional, for libvirt: sudo apt install libvirt-clients"),
    ):
        prog = tool_results.get(tool)
        if prog is None:
            checks.append(Check(cid, Status.INFO, f"{tool} not on PATH", missing_hint))
        elif prog.problem:
            checks.append(Check(cid, Status.WARN, f"{tool}: {prog.problem}", "reinstall it or fix PATH"))
        else:
            where = clean_text(_display_path(host, prog.path), 120)
            checks.append(Check(cid, Status.PASS, f"{where} {clean_text(prog.version or '?', 60)}"))
    return checks


def _display_path(host: Host, path: Path) -> str:
    """Show fixture paths as the host would see them (``/usr/bin/...``)."""
    try:
        return "/" + str(path.relative_to(host.root)).lstrip("/")
    except ValueError:
        return str(path)


# --------------------------------------------------------------------------
# Verdict and entry point


def _verdict(f: _Facts) -> Verdict:
    if f.api_ok:
        reason = f"/dev/kvm answered KVM_GET_API_VERSION = {KVM_STABLE_API_VERSION}"
        if f.is_x86 and f.flags is not None and not f.virt_flags:
            reason += " although the CPU flags hide vmx/svm (nested or paravirtual KVM)"
        return Verdict(True, SUMMARY_AVAILABLE, reason)
    if f.kvm_dev is None:
        if f.in_container:
            reason = "no /dev/kvm, and this looks like a container that was not given it"
        elif f.virt_flags and f.modules:
            reason = (
                "CPU flags present and kvm loaded, but no /dev/kvm: "
                "virtualization may be disabled in firmware"
            )
        elif f.virt_flags:
            reason = (
                "CPU flags present but /dev/kvm missing: the kvm modules are not loaded, "
                "or virtualization is disabled in firmware"
            )
        elif not f.modules:
            reason = "no /dev/kvm: the kvm modules are not loaded"
        else:
            reason = "no /dev/kvm"
        return Verdict(False, SUMMARY_TCG, reason)
    if not f.kvm_dev.is_char:
        return Verdict(False, SUMMARY_TCG, "/dev/kvm is not a character device")
    if f.api_denied:
        user = clean_text(f.host.user.label)
        return Verdict(
            False,
            SUMMARY_TCG,
            f"/dev/kvm exists, but {user} cannot open it read-write (see kvm.access)",
        )
    if isinstance(f.api, int):
        reason = f"/dev/kvm answered API version {f.api}, not {KVM_STABLE_API_VERSION}"
    else:
        reason = f"/dev/kvm did not answer KVM_GET_API_VERSION: {_err(f.api)}"
    return Verdict(False, SUMMARY_TCG, reason)


def run_checks(host: Optional[Host] = None) -> Report:
    """Probe ``host`` (the real machine by default) and return the report.

    Blocking: runs subprocesses with timeouts.  Call it from a thread worker in
    a UI.  Never raises for problems found on the host.
    """
    host = host if host is not None else Host()
    facts = _gather(host)
    checks = [
        _check_cpu_flags(facts),
        _check_modules(facts),
        _check_device(facts),
        _check_access(facts),
        _check_api(facts),
        _check_nested(facts),
        _check_vhost(facts),
        _check_tun(facts),
        _check_iommu(facts),
        *_program_checks(facts),
    ]
    return Report(checks=tuple(checks), verdict=_verdict(facts))
