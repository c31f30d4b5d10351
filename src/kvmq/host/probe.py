"""The injectable host: every file read and every probe the checks make goes through :class:`Host`.

* ``root``: files such as ``/proc/cpuinfo`` or ``/sys/module/kvm`` are read below this
  directory (``Path("/")`` on a real host), so a fixture tree can stand in for a machine.
* ``stat_device``: facts about device nodes (``/dev/kvm``, ...); a fixture tree cannot hold
  character devices, so this is a callable.
* ``can_open_rw``, ``kvm_api_version`` and ``kvm_create_vm``: the probes that touch
  ``/dev/kvm`` itself (the last one creates a VM and a vCPU, then closes them).
* ``kernel_log``: the kernel's ring buffer (``/dev/kmsg``), or ``None`` when it is not readable.
* ``run``: runs a program with a timeout and never raises; ``None`` means :func:`run_program`,
  which reads at most :data:`OUTPUT_LIMIT` bytes and stops when ``cancel`` is set.
* ``hostname``, ``kernel`` and ``clock``: the report's identity.
* ``path_dirs``: where executables are looked for (below ``root``).
* ``user`` and ``group_name``: who we are, to explain permission problems.

Tests build fake hosts from fixture trees with ``tests/helpers.host_from_tree``.
"""

from __future__ import annotations

import contextlib
import errno as errno_mod
import fcntl
import fnmatch
import grp
import os
import platform
import pwd
import selectors
import signal
import socket
import stat as stat_mod
import subprocess
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Optional, Sequence, Union

#: ``_IO(KVMIO, 0x00)``: the first ioctl any KVM user issues.
KVM_GET_API_VERSION = 0xAE00
#: The only API version the kernel has answered since Linux 2.6.22.
KVM_STABLE_API_VERSION = 12
#: ``_IO(KVMIO, 0x01)``: a VM file descriptor (argument: the machine type, 0 by default).
KVM_CREATE_VM = 0xAE01
#: ``_IO(KVMIO, 0x03)``: on the system fd, what the kernel supports.
KVM_CHECK_EXTENSION = 0xAE03
#: ``_IO(KVMIO, 0x41)``: on a VM fd, a vCPU file descriptor (argument: the vCPU id).
KVM_CREATE_VCPU = 0xAE41
#: The recommended number of vCPUs per VM (``KVM_CHECK_EXTENSION``).
KVM_CAP_NR_VCPUS = 9
#: The most vCPUs a VM may have.
KVM_CAP_MAX_VCPUS = 66
#: Default per-program timeout in seconds.
DEFAULT_TIMEOUT = 3.0
#: At most this much of a probed program's output is read; then it is killed.
OUTPUT_LIMIT = 64 * 1024
#: At most this much of the kernel log is read.
KERNEL_LOG_LIMIT = 4 * 1024 * 1024
# How often a running probe looks at its deadline and the cancel flag.
_POLL = 0.05


@dataclass(frozen=True)
class RunResult:
    stdout: str = ""
    returncode: Optional[int] = None
    timed_out: bool = False
    error: Optional[str] = None
    #: The output went over :data:`OUTPUT_LIMIT`; ``stdout`` holds its start.
    truncated: bool = False

    @property
    def ok(self) -> bool:
        return not self.timed_out and self.error is None and self.returncode == 0 and not self.truncated


@dataclass(frozen=True)
class VmProof:
    """What creating a VM and one vCPU on ``/dev/kvm`` gave.

    ``vm`` and ``vcpu`` are True, the error, or None when not tried (the step before failed).
    ``nr_vcpus`` and ``max_vcpus`` come from ``KVM_CHECK_EXTENSION`` (None: not answered).
    """

    vm: Union[bool, OSError, None] = None
    vcpu: Union[bool, OSError, None] = None
    nr_vcpus: Optional[int] = None
    max_vcpus: Optional[int] = None

    @property
    def ok(self) -> bool:
        return self.vm is True and self.vcpu is True


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


def real_kvm_create_vm(path: Path) -> VmProof:
    """Create a VM and vCPU 0 as QEMU would, read the vCPU limits, and close everything.

    Never raises: a failed step is recorded in the result.  Only access to ``path`` is needed.
    """
    fds: list[int] = []
    try:
        try:
            kvm = os.open(path, os.O_RDWR | os.O_CLOEXEC)
        except OSError as exc:
            return VmProof(vm=exc)
        fds.append(kvm)
        limits: list[Optional[int]] = []
        for cap in (KVM_CAP_NR_VCPUS, KVM_CAP_MAX_VCPUS):
            try:
                answer = int(fcntl.ioctl(kvm, KVM_CHECK_EXTENSION, cap))
            except OSError:
                answer = 0
            limits.append(answer if answer > 0 else None)
        nr_vcpus, max_vcpus = limits
        try:
            vm = int(fcntl.ioctl(kvm, KVM_CREATE_VM, 0))
        except OSError as exc:
            return VmProof(vm=exc, nr_vcpus=nr_vcpus, max_vcpus=max_vcpus)
        fds.append(vm)
        try:
            fds.append(int(fcntl.ioctl(vm, KVM_CREATE_VCPU, 0)))
        except OSError as exc:
            return VmProof(vm=True, vcpu=exc, nr_vcpus=nr_vcpus, max_vcpus=max_vcpus)
        return VmProof(vm=True, vcpu=True, nr_vcpus=nr_vcpus, max_vcpus=max_vcpus)
    finally:
        for fd in reversed(fds):
            with contextlib.suppress(OSError):
                os.close(fd)


def real_kernel_log(path: Path) -> Optional[str]:
    """The kernel log from ``/dev/kmsg`` (or a plain file standing in for it), bounded.

    ``None`` when it cannot be read (``kernel.dmesg_restrict`` keeps it from unprivileged
    users).  Records come back as ``"pri,seq,time,flags;message"`` lines, as the kernel
    writes them.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError:
        return None
    chunks: list[bytes] = []
    size = 0
    try:
        while size < KERNEL_LOG_LIMIT:
            try:
                chunk = os.read(fd, 8192)
            except BlockingIOError:
                break  # the end of the ring buffer
            except OSError as exc:
                if exc.errno == errno_mod.EPIPE:  # a record was overwritten while reading
                    continue
                if not chunks:
                    return None
                break
            if not chunk:
                break
            chunks.append(chunk if chunk.endswith(b"\n") else chunk + b"\n")
            size += len(chunk)
    finally:
        os.close(fd)
    return b"".join(chunks).decode("utf-8", "replace")


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    # The whole session: a wrapper script's children would otherwise live on.
    with contextlib.suppress(OSError):
        os.killpg(proc.pid, signal.SIGKILL)
    with contextlib.suppress(OSError):
        proc.kill()


def run_program(
    argv: Sequence[str],
    timeout: float,
    cancel: Optional[threading.Event] = None,
    limit: int = OUTPUT_LIMIT,
) -> RunResult:
    """Run ``argv`` and capture stdout+stderr; never raises, never hangs, never floods.

    The child gets its own session, and its whole process group is killed once it is done:
    on timeout, on ``cancel``, when it wrote more than ``limit`` bytes (kept: the first
    ``limit``), and also when it exited but left a background child holding the pipe open
    (that counts as answered, with what it wrote).
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
    assert proc.stdout is not None
    out = bytearray()
    timed_out = truncated = cancelled = False
    deadline = time.monotonic() + max(0.0, timeout)
    stream = proc.stdout
    fd = stream.fileno()
    os.set_blocking(fd, False)
    try:
        with selectors.DefaultSelector() as selector:
            selector.register(fd, selectors.EVENT_READ)
            exited = False
            while True:
                if cancel is not None and cancel.is_set():
                    cancelled = True
                    break
                if not exited and proc.poll() is not None:
                    exited = True  # drain what is there, then stop: EOF may never come
                now = time.monotonic()
                if not exited and now >= deadline:
                    timed_out = True
                    break
                ready = selector.select(0 if exited else min(_POLL, deadline - now))
                if not ready:
                    if exited:
                        break
                    continue
                try:
                    chunk = os.read(fd, 65536)
                except BlockingIOError:
                    continue
                except OSError:
                    break
                if not chunk:
                    break
                out += chunk
                if len(out) >= limit:
                    del out[limit:]
                    truncated = True
                    break
    finally:
        _kill_group(proc)
        stream.close()
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=1.0)
    if cancelled:
        return RunResult(error="cancelled")
    if timed_out:
        return RunResult(timed_out=True)
    return RunResult(
        stdout=out.decode("utf-8", "replace"),
        returncode=proc.returncode,
        truncated=truncated,
    )


def _default_hostname() -> str:
    return socket.gethostname()


def _default_kernel() -> str:
    return platform.release()


def _utc_now() -> datetime:
    return datetime.now(timezone.utc)


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
    kvm_create_vm: Callable[[Path], VmProof] = real_kvm_create_vm
    kernel_log: Callable[[Path], Optional[str]] = real_kernel_log
    run: Optional[Callable[[Sequence[str], float], RunResult]] = None
    group_name: Callable[[int], Optional[str]] = _default_group_name
    hostname: Callable[[], str] = _default_hostname
    kernel: Callable[[], str] = _default_kernel
    clock: Callable[[], datetime] = _utc_now
    #: Set it to stop: running programs are killed, no new ones start.
    cancel: threading.Event = field(default_factory=threading.Event, compare=False)

    def execute(self, argv: Sequence[str], timeout: Optional[float] = None) -> RunResult:
        """Run a program through ``run`` (the real :func:`run_program` by default)."""
        if self.cancel.is_set():
            return RunResult(error="cancelled")
        wait = self.timeout if timeout is None else timeout
        if self.run is None:
            return run_program(argv, wait, cancel=self.cancel)
        return self.run(argv, wait)

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
