"""The host checks and the verdict: can this host run KVM, proven by the kernel?

Facts are gathered once through the injectable :class:`~kvmq.host.probe.Host` and shared by
every check. The ``KVM_GET_API_VERSION`` ioctl decides the verdict, never the CPU flags.
"""

from __future__ import annotations

import errno as errno_mod
from dataclasses import dataclass
from typing import Optional, Union

from kvmq.host.model import SUMMARY_AVAILABLE, SUMMARY_TCG, Check, Report, Status, Verdict, clean_text
from kvmq.host.probe import KVM_STABLE_API_VERSION, DeviceInfo, Host
from kvmq.host.programs import program_checks

X86_MACHINES = frozenset({"x86_64", "amd64", "i386", "i486", "i586", "i686", "x86"})

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
        *program_checks(host, facts.api_ok),
    ]
    return Report(checks=tuple(checks), verdict=_verdict(facts))
