"""The injectable host: every file read and every probe the checks make goes through :class:`Host`.

* ``root``: files such as ``/proc/cpuinfo`` or ``/sys/module/kvm`` are read below this
  directory (``Path("/")`` on a real host), so a fixture tree can stand in for a machine.
* ``stat_device``: facts about device nodes (``/dev/kvm``, ...); a fixture tree cannot hold
  character devices, so this is a callable.
* ``can_open_rw`` and ``kvm_api_version``: the probes that touch ``/dev/kvm`` itself.
* ``run``: runs a program with a timeout and never raises.
* ``path_dirs``: where executables are looked for (below ``root``).
* ``user`` and ``group_name``: who we are, to explain permission problems.

Tests build fake hosts from fixture trees with ``tests/fakehost.py``.
"""

from __future__ import annotations

import contextlib
import fcntl
import fnmatch
import grp
import os
import platform
import pwd
import signal
import stat as stat_mod
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional, Sequence, Union

#: ``_IO(KVMIO, 0x00)``: the first ioctl any KVM user issues.
KVM_GET_API_VERSION = 0xAE00
#: The only API version the kernel has answered since Linux 2.6.22.
KVM_STABLE_API_VERSION = 12
#: Default per-program timeout in seconds.
DEFAULT_TIMEOUT = 3.0


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
