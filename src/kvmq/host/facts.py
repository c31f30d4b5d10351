"""What the checks look at, gathered once per run through the injectable :class:`Host`.

Reading is cheap and bounded (files under ``root``, one ioctl series, the kernel log); the
programs are probed later, in :mod:`kvmq.host.programs`.
"""

from __future__ import annotations

import errno as errno_mod
import re
from dataclasses import dataclass
from typing import Optional, Union

from kvmq.host.model import clean_text
from kvmq.host.probe import KVM_STABLE_API_VERSION, DeviceInfo, Host, VmProof

X86_MACHINES = frozenset({"x86_64", "amd64", "i386", "i486", "i586", "i686", "x86"})
ARM64_MACHINES = frozenset({"aarch64", "arm64"})
PPC64_MACHINES = frozenset({"ppc64", "ppc64le"})
S390_MACHINES = frozenset({"s390x", "s390"})

# "kvm: disabled by bios" (older kernels), "VMX not enabled (by BIOS) in MSR_IA32_FEAT_CTL",
# "SVM disabled (by BIOS) in MSR_VM_CR", "x86/cpu: VMX (outside TXT) disabled by BIOS".
_BIOS_DISABLED_RE = re.compile(r"(?:disabled|not enabled) \(?by bios\)?", re.IGNORECASE)
_HYPERVISOR_RE = re.compile(r"Hypervisor detected: (.+)")
# A /dev/kmsg record: "priority,sequence,microseconds,flags;message".
_KMSG_PREFIX_RE = re.compile(r"^\d+,\d+,\d+,[^;]*;")


@dataclass
class Facts:
    host: Host
    machine: str
    flags: Optional[frozenset[str]]  # None: /proc/cpuinfo unreadable
    cpuinfo: dict[str, str]  # first value of each key ("vendor_id", "model name", ...)
    modules: list[str]
    kvm_dev: Optional[DeviceInfo]
    access: Union[bool, OSError, None]  # None: not tried (no device)
    api: Union[int, OSError]
    vm: Optional[VmProof]  # None: not tried (the API failed)
    in_container: bool
    kernel_log: Optional[list[str]]  # None: not readable
    cmdline: tuple[str, ...]
    mounts: Optional[list[tuple[str, str, str]]]  # (mount point, type, options)

    @property
    def is_x86(self) -> bool:
        return self.machine in X86_MACHINES

    @property
    def virt_flags(self) -> list[str]:
        return sorted((self.flags or frozenset()) & {"vmx", "svm"})

    @property
    def api_ok(self) -> bool:
        return self.api == KVM_STABLE_API_VERSION

    @property
    def kvm_works(self) -> bool:
        """The API answered and a VM with a vCPU could be created."""
        return self.api_ok and self.vm is not None and self.vm.ok

    @property
    def api_denied(self) -> bool:
        return isinstance(self.api, OSError) and self.api.errno in (
            errno_mod.EACCES,
            errno_mod.EPERM,
        )

    @property
    def vendor_modules(self) -> list[str]:
        return [m for m in self.modules if m != "kvm"]

    @property
    def vendor(self) -> str:
        """``intel``, ``amd`` or ``""`` (unknown, or not x86)."""
        vendor_id = self.cpuinfo.get("vendor_id", "")
        if vendor_id == "GenuineIntel" or "kvm_intel" in self.modules or "vmx" in self.virt_flags:
            return "intel"
        if vendor_id in ("AuthenticAMD", "HygonGenuine") or "kvm_amd" in self.modules:
            return "amd"
        if "svm" in self.virt_flags:
            return "amd"
        return ""

    def param(self, module: str, name: str) -> Optional[str]:
        raw = self.host.read_text(f"/sys/module/{module}/parameters/{name}")
        return None if raw is None else clean_text(raw, 40)

    def log_matches(self, pattern: re.Pattern[str]) -> list[str]:
        return [line for line in self.kernel_log or [] if pattern.search(line)]

    @property
    def bios_disabled_lines(self) -> list[str]:
        return self.log_matches(_BIOS_DISABLED_RE)

    @property
    def hypervisor_from_log(self) -> Optional[str]:
        for line in self.log_matches(_HYPERVISOR_RE):
            match = _HYPERVISOR_RE.search(line)
            if match:
                return clean_text(match.group(1), 40)
        return None

    def mounted(self, fstype: str) -> list[tuple[str, str, str]]:
        return [m for m in self.mounts or [] if m[1] == fstype]


def is_on(value: Optional[str]) -> Optional[bool]:
    """A module parameter as a boolean (``Y``, ``1``): None when it does not exist."""
    if value is None:
        return None
    return value.strip().upper() in ("Y", "1", "YES", "ON")


def _parse_cpuinfo(text: Optional[str]) -> tuple[Optional[frozenset[str]], dict[str, str]]:
    if text is None:
        return None, {}
    flags: set[str] = set()
    first: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if not sep:
            continue
        key = key.strip()
        first.setdefault(key, clean_text(value, 120))
        # x86 says "flags"; some kernels/arches say "Features" (no virt bits).
        if key in ("flags", "Features"):
            flags.update(value.split())
    return frozenset(flags), first


def _kvm_modules(host: Host) -> list[str]:
    names = host.listdir("/sys/module") or []
    return [n for n in names if n == "kvm" or n.startswith("kvm_")]


def _in_container(host: Host) -> bool:
    if host.exists("/.dockerenv") or host.exists("/run/.containerenv"):
        return True
    cgroup = host.read_text("/proc/1/cgroup") or ""
    return any(word in cgroup for word in ("docker", "kubepods", "lxc", "containerd", "libpod"))


def _log_lines(text: Optional[str]) -> Optional[list[str]]:
    if text is None:
        return None
    lines = []
    for raw in text.splitlines():
        if raw.startswith(" "):  # a /dev/kmsg record's KEY=value continuation
            continue
        lines.append(clean_text(_KMSG_PREFIX_RE.sub("", raw), 200))
    return lines


def _mounts(text: Optional[str]) -> Optional[list[tuple[str, str, str]]]:
    if text is None:
        return None
    found = []
    for line in text.splitlines():
        parts = line.split()
        if len(parts) >= 4:
            found.append((parts[1], parts[2], parts[3]))
    return found


def gather(host: Host) -> Facts:
    kvm_path = host.path("/dev/kvm")
    kvm_dev = host.device("/dev/kvm")
    access: Union[bool, OSError, None] = None
    if kvm_dev is not None:
        access = host.can_open_rw(kvm_path)
    try:
        api: Union[int, OSError] = int(host.kvm_api_version(kvm_path))
    except OSError as exc:
        api = exc
    vm = host.kvm_create_vm(kvm_path) if api == KVM_STABLE_API_VERSION else None
    flags, cpuinfo = _parse_cpuinfo(host.read_text("/proc/cpuinfo"))
    return Facts(
        host=host,
        machine=host.machine,
        flags=flags,
        cpuinfo=cpuinfo,
        modules=_kvm_modules(host),
        kvm_dev=kvm_dev,
        access=access,
        api=api,
        vm=vm,
        in_container=_in_container(host),
        kernel_log=_log_lines(host.kernel_log(host.path("/dev/kmsg"))),
        cmdline=tuple((host.read_text("/proc/cmdline") or "").split()),
        mounts=_mounts(host.read_text("/proc/self/mounts") or host.read_text("/proc/mounts")),
    )


def err(exc: OSError) -> str:
    """``Device or resource busy (EBUSY)``: the errno's text and name."""
    name = errno_mod.errorcode.get(exc.errno or 0, "")
    text = exc.strerror or str(exc)
    return clean_text(f"{text} ({name})" if name else text)
