"""What an installed QEMU binary supports, and this host's facts for ``kvmq explain``.

Plain Python. The binary is asked ``-accel help``, ``-machine help``, ``-cpu help`` and
``-device help`` (each with a timeout, nothing else is run). The answers are cached per
binary (path, size, mtime, inode) under ``$XDG_CACHE_HOME/kvmq/qemu/``: the files are
written atomically with mode 0600, and read back only when this user owns them, nobody else
can write them and they are small.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import stat
from pathlib import Path
from typing import Callable, Optional

from kvmq.host.explain import BinaryFacts, HostFacts, is_qemu_program

__all__ = ["binary_facts", "gather_host_facts", "parse_accels", "parse_cpus", "parse_devices",
           "parse_machines", "resolve_binary"]

TIMEOUT = 3.0
MAX_OUTPUT = 4 * 1024 * 1024
MAX_CACHE_FILE = 1024 * 1024
CACHE_FORMAT = 1

Runner = Callable[[list[str], float], Optional[str]]


def _run(argv: list[str], timeout: float) -> Optional[str]:
    """Output of ``argv`` (None on any failure or timeout); never raises, never hangs or floods:
    the host wing's one way of running a program (bounded output, the process group killed)."""
    from kvmq.host.probe import run_program  # only when a binary is asked: explain's start stays small

    result = run_program(argv, timeout, limit=MAX_OUTPUT)
    return result.stdout if result.ok else None


def parse_accels(text: str) -> frozenset[str]:
    lines = text.splitlines()
    return frozenset(line.strip() for line in lines[1:] if re.fullmatch(r"\s*[a-z0-9_-]+\s*", line))


def parse_machines(text: str) -> frozenset[str]:
    names = set()
    for line in text.splitlines():
        if not line.strip() or line.startswith("Supported machines"):
            continue
        names.add(line.split()[0])
        alias = re.search(r"\(alias of ([^)\s]+)\)", line)
        if alias:
            names.add(alias.group(1))
    return frozenset(names)


def parse_cpus(text: str) -> frozenset[str]:
    names = set()
    for line in text.splitlines():
        if line.strip().startswith(("Recognized", "Available CPU")) or not line.strip():
            if line.strip().startswith("Recognized"):
                break
            continue
        words = line.split()
        if len(words) >= 2 and words[0] in ("x86", "s390x", "ppc", "PowerPC"):
            names.add(words[1])
        elif line.startswith((" ", "\t")) or len(words) == 1:
            names.add(words[0])
    return frozenset(names)


def parse_devices(text: str) -> frozenset[str]:
    names = set(re.findall(r'name "([^"]+)"', text))
    names.update(re.findall(r'alias "([^"]+)"', text))
    return frozenset(names)


def resolve_binary(program: str) -> Optional[str]:
    """The installed binary for ``program`` (a path or a name on PATH), or None."""
    if not program:
        return None
    if "/" in program and os.access(program, os.X_OK) and os.path.isfile(program):
        return program
    import shutil

    return shutil.which(os.path.basename(program))


def _cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "kvmq" / "qemu"


def _cache_key(path: str) -> Optional[str]:
    try:
        info = os.stat(path)
    except OSError:
        return None
    import hashlib

    ident = f"{CACHE_FORMAT}:{os.path.realpath(path)}:{info.st_size}:{info.st_mtime_ns}:{info.st_ino}"
    return hashlib.blake2b(ident.encode("utf-8", "surrogateescape"), digest_size=16).hexdigest()


def _read_cache(file: Path) -> Optional[dict]:
    try:
        fd = os.open(file, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except OSError:
        return None
    try:
        info = os.fstat(fd)
        if (not stat.S_ISREG(info.st_mode) or info.st_uid != os.getuid()
                or info.st_mode & (stat.S_IWGRP | stat.S_IWOTH) or info.st_size > MAX_CACHE_FILE):
            return None
        with os.fdopen(fd, "rb", closefd=False) as handle:
            data = json.loads(handle.read(MAX_CACHE_FILE + 1).decode("utf-8"))
    except (OSError, ValueError):
        return None
    finally:
        os.close(fd)
    return data if isinstance(data, dict) and data.get("format") == CACHE_FORMAT else None


def _write_cache(file: Path, data: dict) -> None:
    import tempfile

    with contextlib.suppress(OSError):
        file.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd, temporary = tempfile.mkstemp(dir=file.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(data, handle)
            os.chmod(temporary, 0o600)
            os.replace(temporary, file)
        except OSError:
            with contextlib.suppress(OSError):
                os.unlink(temporary)


def binary_facts(path: str, *, timeout: float = TIMEOUT, run: Runner = _run,
                 use_cache: bool = True) -> BinaryFacts:
    """Ask the binary at ``path`` what it supports (cached per binary version)."""
    key = _cache_key(path) if use_cache and not os.environ.get("KVMQ_NO_CACHE") else None
    cache_file = _cache_dir() / f"{key}.json" if key else None
    data = _read_cache(cache_file) if cache_file else None
    if data is None:
        answers = {what: run([path, f"-{what}", "help"], timeout)
                   for what in ("accel", "machine", "cpu", "device")}
        version_text = run([path, "-version"], timeout) or ""
        data = {
            "format": CACHE_FORMAT,
            "version": (version_text.splitlines() or [""])[0][:200],
            "accels": sorted(parse_accels(answers["accel"])) if answers["accel"] else None,
            "machines": sorted(parse_machines(answers["machine"])) if answers["machine"] else None,
            "cpus": sorted(parse_cpus(answers["cpu"])) if answers["cpu"] else None,
            "devices": sorted(parse_devices(answers["device"])) if answers["device"] else None,
        }
        if cache_file is not None and all(answers.values()):
            _write_cache(cache_file, data)

    def names(key: str) -> Optional[frozenset[str]]:
        value = data.get(key)
        return frozenset(str(v) for v in value) if isinstance(value, list) and value else None

    return BinaryFacts(path=path, version=str(data.get("version") or ""), accels=names("accels"),
                       machines=names("machines"), cpus=names("cpus"), devices=names("devices"))


def _memory_bytes(root: Path) -> Optional[int]:
    try:
        with open(root / "proc/meminfo", encoding="ascii", errors="replace") as handle:
            for line in handle.read(65536).splitlines():
                if line.startswith("MemTotal:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def _cpus() -> Optional[int]:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count()


def _iommu_groups(root: Path) -> Optional[int]:
    try:
        return sum(1 for _ in os.scandir(root / "sys/kernel/iommu_groups"))
    except FileNotFoundError:
        return 0
    except OSError:
        return None


def _kvm_usable() -> Optional[bool]:
    from kvmq.host import probe

    try:
        if probe.real_can_open_rw(Path("/dev/kvm")) is not True:
            return False
        version = probe.real_kvm_api_version(Path("/dev/kvm"))
    except OSError:
        return False
    return version == probe.KVM_STABLE_API_VERSION


def gather_host_facts(program: str = "", *, root: Path = Path("/"), cross_check: bool = True,
                      timeout: float = TIMEOUT) -> HostFacts:
    """This host's CPUs, memory, IOMMU groups, KVM, and the installed ``program`` binary."""
    binary = None
    if cross_check and is_qemu_program(program):
        path = resolve_binary(program)
        if path is not None:
            binary = binary_facts(path, timeout=timeout)
    return HostFacts(cpus=_cpus(), memory_bytes=_memory_bytes(root), iommu_groups=_iommu_groups(root),
                     kvm_usable=_kvm_usable(), binary=binary)
