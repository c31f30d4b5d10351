"""The host checks and the verdict: can this host run KVM, proven by the kernel?

Facts are gathered once through the injectable :class:`~kvmq.host.probe.Host` and shared by
every check. The ``KVM_GET_API_VERSION`` ioctl decides the verdict, never the CPU flags.
"""

from __future__ import annotations

import errno as errno_mod
from typing import Optional

from kvmq import __version__
from kvmq.host.facts import Facts, err, gather, is_on
from kvmq.host.model import (
    SUMMARY_AVAILABLE,
    SUMMARY_TCG,
    Check,
    Fact,
    Identity,
    Report,
    Status,
    Verdict,
    clean_text,
)
from kvmq.host.platform import platform_checks
from kvmq.host.probe import KVM_STABLE_API_VERSION, DeviceInfo, Host
from kvmq.host.programs import program_checks

VENDOR_MODULES = {
    "kvm_intel": "Intel VT-x",
    "kvm_amd": "AMD-V",
    "kvm_pvm": "PVM, paravirtual KVM",
    "kvm_hv": "POWER hypervisor mode",
    "kvm_pr": "POWER problem-state KVM",
}

def _modprobe_hint(f: Facts) -> str:
    if f.vendor == "amd":
        return "`sudo modprobe kvm_amd`"
    if f.vendor == "intel":
        return "`sudo modprobe kvm_intel`"
    return "`sudo modprobe kvm_intel` (Intel) or `sudo modprobe kvm_amd` (AMD)"


def _owner(f: Facts, dev: DeviceInfo) -> str:
    group = f.host.group_name(dev.gid) or str(dev.gid)
    owner = "root" if dev.uid == 0 else str(dev.uid)
    return f"{dev.mode_string()} {owner}:{clean_text(group)}"


# --------------------------------------------------------------------------
# The checks


def _check_cpu_flags(f: Facts) -> Check:
    cid = "cpu.virt-flags"
    machine = clean_text(f.host.machine) or "unknown"
    if not f.is_x86:
        return Check(cid, Status.SKIP, f"{machine}: no such CPU flags here; kvm.api decides",
                     facts=(("flags", ()), ("applies", False)))
    if f.flags is None:
        return Check(cid, Status.WARN, "cannot read /proc/cpuinfo", "kvm.api decides")
    found = f.virt_flags
    facts = (("flags", tuple(found)), ("hypervisor_flag", "hypervisor" in f.flags))
    in_vm = "hypervisor" in f.flags
    if found:
        names = ", ".join(f"{flag} ({'Intel VT-x' if flag == 'vmx' else 'AMD-V'})" for flag in found)
        if f.api_ok or f.api_denied:
            return Check(cid, Status.PASS, f"{names} present", facts=facts)
        if f.kvm_dev is None:
            hint = "virtualization may be off in the firmware setup, or kvm is not loaded"
            if f.in_container:
                hint = "this looks like a container: start it with `--device /dev/kvm`"
            return Check(cid, Status.WARN, f"{names} present, but no /dev/kvm",
                         hint, facts)
        return Check(cid, Status.WARN, f"{names} present, but the KVM probe failed: it decides",
                     "see kvm.api and kvm.firmware", facts)
    if f.api_ok:
        why = "a nested guest or paravirtual KVM" if in_vm else "paravirtual KVM"
        return Check(cid, Status.NOTE, f"no vmx/svm flag, yet /dev/kvm works: {why}", facts=facts)
    if f.api_denied:
        return Check(cid, Status.WARN, "no vmx/svm flag; the probe could not tell (no access)",
                     "fix kvm.access first: nested or paravirtual KVM needs no flag", facts)
    if in_vm:
        return Check(cid, Status.FAIL, "no vmx/svm flag: a virtual machine without nested virtualization",
                     "allow nested virtualization on the outer host (`kvm_intel nested=1`, "
                     "or 'expose hardware-assisted virtualization')", facts)
    return Check(cid, Status.FAIL, "no vmx/svm flag: the CPU lacks or hides hardware virtualization",
                 "enable Intel VT-x or AMD-V (SVM) in the firmware setup", facts)


def _check_modules(f: Facts) -> Check:
    cid = "kvm.modules"
    facts = (("loaded", tuple(f.modules)),)
    if f.modules:
        parts = []
        for name in f.modules:
            what = VENDOR_MODULES.get(name)
            parts.append(f"{name} ({what})" if what else name)
        finding = "loaded: " + ", ".join(parts)
        if f.vendor_modules or f.api_ok or not f.is_x86:
            return Check(cid, Status.PASS, finding, facts=facts)
        return Check(cid, Status.WARN, finding + "; no kvm_intel or kvm_amd",
                     _modprobe_hint(f) + "; if it fails, see kvm.firmware", facts)
    if f.api_ok or f.kvm_dev is not None:
        return Check(cid, Status.NOTE, "none listed: KVM is built into the kernel", facts=facts)
    hint = _modprobe_hint(f) if f.is_x86 else "`sudo modprobe kvm`"
    if f.in_container:
        hint += " (in a container: on its host)"
    return Check(cid, Status.FAIL, "no kvm modules loaded", hint, facts)


def _check_device(f: Facts) -> Check:
    cid = "kvm.device"
    dev = f.kvm_dev
    if dev is None:
        if f.in_container:
            hint = "this looks like a container: start it with `--device /dev/kvm`"
        elif not f.modules:
            hint = "load the kvm modules (see kvm.modules)"
        else:
            hint = "the module made no device: `dmesg | grep -i kvm`"
        return Check(cid, Status.FAIL, "/dev/kvm does not exist", hint, (("exists", False),))
    if not dev.is_char:
        return Check(cid, Status.FAIL, f"/dev/kvm is a {dev.kind}, not a character device",
                     "remove it and reload the kvm modules (udev recreates it)", (("exists", True),))
    numbers = f" {dev.rdev[0]}:{dev.rdev[1]}" if dev.rdev else ""
    return Check(cid, Status.PASS, f"character device{numbers}, {_owner(f, dev)}",
                 facts=(("exists", True), ("mode", dev.mode_string()),
                        ("group", clean_text(f.host.group_name(dev.gid) or str(dev.gid), 40))))


def _check_access(f: Facts) -> Check:
    cid = "kvm.access"
    user = clean_text(f.host.user.label)
    dev = f.kvm_dev
    if dev is None or f.access is None:
        return Check(cid, Status.SKIP, "no /dev/kvm to open", facts=(("can_open", None),))
    if f.access is True:
        return Check(cid, Status.PASS, f"{user} can open /dev/kvm read-write", facts=(("can_open", True),))
    facts = (("can_open", False),)
    if not isinstance(f.access, OSError):
        return Check(cid, Status.FAIL, f"{user} cannot open /dev/kvm read-write",
                     "`dmesg | grep -i kvm`", facts)
    exc = f.access
    code = errno_mod.errorcode.get(exc.errno or 0, "") or err(exc)
    finding = f"{user} may not open it ({code}): {_owner(f, dev)}"
    if exc.errno not in (errno_mod.EACCES, errno_mod.EPERM):
        return Check(cid, Status.FAIL, finding, "`dmesg | grep -i kvm`", facts)
    group = f.host.group_name(dev.gid)
    group_rw = (dev.mode >> 3) & 0o6 == 0o6
    login = clean_text(f.host.user.name) or "$USER"
    if group_rw and dev.gid != 0 and group:
        group = clean_text(group)
        if dev.gid in f.host.user.groups or dev.gid == f.host.user.gid:
            hint = f"in group '{group}' yet denied: a security module or device policy blocks it"
            if f.in_container:
                hint = "the container's device policy blocks it: run it with `--device /dev/kvm`"
        else:
            hint = f"`sudo usermod -aG {group} {login}`, then log out and in again"
        return Check(cid, Status.FAIL, finding, hint, facts)
    hint = f'a udev rule `KERNEL=="kvm", GROUP="kvm", MODE="0660"`, then add {login} to kvm'
    return Check(cid, Status.FAIL, finding, hint, facts)


def _check_api(f: Facts) -> Check:
    cid = "kvm.api"
    facts: tuple[tuple[str, Fact], ...]
    if isinstance(f.api, int):
        facts = (("api_version", f.api),)
        if f.api_ok:
            return Check(cid, Status.PASS, f"KVM_GET_API_VERSION = {f.api}, the stable API", facts=facts)
        return Check(cid, Status.FAIL, f"KVM_GET_API_VERSION = {f.api}, expected {KVM_STABLE_API_VERSION}",
                     "QEMU refuses any other API version", facts)
    exc = f.api
    facts = (("api_version", None), ("errno", errno_mod.errorcode.get(exc.errno or 0)))
    if exc.errno == errno_mod.ENOENT:
        return Check(cid, Status.FAIL, "could not probe: no /dev/kvm", "see kvm.device", facts)
    if f.api_denied:
        return Check(cid, Status.FAIL, f"could not open /dev/kvm: {err(exc)}", "see kvm.access", facts)
    return Check(cid, Status.FAIL, f"KVM_GET_API_VERSION failed: {err(exc)}",
                 "/dev/kvm does not behave like KVM: `dmesg | grep -i kvm`", facts)


# Why KVM_CREATE_VM / KVM_CREATE_VCPU fail, and what to do.
_CREATE_HINTS = {
    errno_mod.EBUSY: "another hypervisor (VirtualBox, VMware) holds VT-x/AMD-V: stop it",
    errno_mod.ENOMEM: "not enough memory for a VM: free some, or raise `ulimit -l`",
    errno_mod.EMFILE: "too many open files: raise `ulimit -n`",
    errno_mod.ENFILE: "the system is out of file descriptors",
    errno_mod.EPERM: "a security policy (SELinux, seccomp, a container) forbids it",
    errno_mod.EACCES: "a security policy (SELinux, seccomp, a container) forbids it",
    errno_mod.EINVAL: "QEMU fails the same way: `dmesg | grep -i kvm`",
}


def _check_vm(f: Facts) -> Check:
    cid = "kvm.vm"
    proof = f.vm
    if proof is None:
        return Check(cid, Status.SKIP, "no VM created: kvm.api failed",
                     facts=(("vm_created", None), ("vcpu_created", None),
                            ("nr_vcpus", None), ("max_vcpus", None)))
    facts = (("vm_created", proof.vm is True), ("vcpu_created", proof.vcpu is True),
             ("nr_vcpus", proof.nr_vcpus), ("max_vcpus", proof.max_vcpus))
    if proof.ok:
        limits = []
        if proof.nr_vcpus:
            limits.append(f"{proof.nr_vcpus} recommended")
        if proof.max_vcpus:
            limits.append(f"{proof.max_vcpus} at most")
        tail = f"; vCPUs per VM: {', '.join(limits)}" if limits else ""
        return Check(cid, Status.PASS, f"created a VM with vCPU 0, then closed it{tail}", facts=facts)
    step, exc = ("KVM_CREATE_VM", proof.vm) if proof.vm is not True else ("KVM_CREATE_VCPU", proof.vcpu)
    if not isinstance(exc, OSError):
        return Check(cid, Status.FAIL, f"{step} failed", "`dmesg | grep -i kvm`", facts)
    hint = _CREATE_HINTS.get(exc.errno or 0, "`dmesg | grep -i kvm`")
    where = "VM created, but " if step == "KVM_CREATE_VCPU" else ""
    return Check(cid, Status.FAIL, f"{where}{step} failed: {err(exc)}", hint,
                 (*facts, ("errno", errno_mod.errorcode.get(exc.errno or 0))))


def _check_firmware(f: Facts) -> Check:
    cid = "kvm.firmware"
    if f.kernel_log is None:
        return Check(cid, Status.SKIP, "kernel log not readable (needs root or kernel.dmesg_restrict=0)",
                     facts=(("disabled_by_bios", None),))
    lines = f.bios_disabled_lines
    if not lines:
        return Check(cid, Status.PASS, "no 'disabled by BIOS' in the kernel log",
                     facts=(("disabled_by_bios", False),))
    setting = {"intel": "VT-x", "amd": "SVM"}.get(f.vendor, "VT-x or SVM")
    return Check(cid, Status.WARN if f.kvm_works else Status.FAIL,
                 f"kernel log: '{clean_text(lines[0], 100)}'",
                 f"enable {setting} in the firmware setup, then power-cycle",
                 (("disabled_by_bios", True), ("message", clean_text(lines[0], 200))))


def _check_nested(f: Facts) -> Check:
    cid = "kvm.nested"
    for module in ("kvm_intel", "kvm_amd"):
        value = f.param(module, "nested")
        if value is None:
            continue
        on = bool(is_on(value))
        meaning = "guests may run KVM themselves" if on else "guests cannot run KVM"
        hint = "" if on else f"to allow it: `options {module} nested=1` in /etc/modprobe.d/kvm.conf"
        return Check(cid, Status.NOTE, f"{module} nested={value}: {meaning}", hint,
                     (("module", module), ("nested", on)))
    return Check(cid, Status.SKIP, "no kvm_intel or kvm_amd nested parameter",
                 facts=(("module", None), ("nested", None)))


def _check_char_dev(f: Facts, cid: str, path: str, purpose: str, hint: str) -> Check:
    dev = f.host.device(path)
    if dev is None:
        return Check(cid, Status.WARN, f"{path} missing: no {purpose}", hint, (("present", False),))
    if not dev.is_char:
        return Check(cid, Status.WARN, f"{path} is a {dev.kind}, not a character device", hint,
                     (("present", False),))
    return Check(cid, Status.PASS, f"{path} present ({purpose})", facts=(("present", True),))


def _check_vhost(f: Facts) -> Check:
    hint = "`sudo modprobe vhost_net`"
    if f.in_container:
        hint += " on the container's host, then pass `--device /dev/vhost-net`"
    return _check_char_dev(f, "vhost-net", "/dev/vhost-net", "in-kernel virtio-net", hint)


def _check_tun(f: Facts) -> Check:
    hint = "`sudo modprobe tun`"
    if f.in_container:
        hint += " on the container's host, then pass `--device /dev/net/tun`"
    return _check_char_dev(f, "tun", "/dev/net/tun", "tap networking for guests", hint)


# --------------------------------------------------------------------------
# Verdict and entry point


def _verdict(f: Facts) -> Verdict:
    if f.kvm_works:
        reason = f"/dev/kvm answered KVM_GET_API_VERSION = {KVM_STABLE_API_VERSION} and created a VM"
        if f.is_x86 and f.flags is not None and not f.virt_flags:
            reason += ", although the CPU flags hide vmx/svm (nested or paravirtual KVM)"
        return Verdict(True, SUMMARY_AVAILABLE, reason)
    if f.api_ok and f.vm is not None:
        step, exc = ("KVM_CREATE_VM", f.vm.vm) if f.vm.vm is not True else ("KVM_CREATE_VCPU", f.vm.vcpu)
        code = errno_mod.errorcode.get(exc.errno or 0, "") if isinstance(exc, OSError) else ""
        why = f" with {code}" if code else ""
        return Verdict(False, SUMMARY_TCG, f"/dev/kvm answers, but {step} failed{why}: see kvm.vm")
    if f.kvm_dev is None:
        if f.in_container:
            reason = "no /dev/kvm, and this looks like a container that was not given it"
        elif f.bios_disabled_lines:
            reason = "no /dev/kvm: the kernel log says virtualization is disabled by the firmware"
        elif f.virt_flags and f.modules:
            reason = ("CPU flags present and kvm loaded, but no /dev/kvm: "
                      "virtualization may be disabled in firmware")
        elif f.virt_flags:
            reason = ("CPU flags present but /dev/kvm missing: the kvm modules are not loaded, "
                      "or virtualization is disabled in firmware")
        elif not f.modules:
            reason = "no /dev/kvm: the kvm modules are not loaded"
        else:
            reason = "no /dev/kvm"
        return Verdict(False, SUMMARY_TCG, reason)
    if not f.kvm_dev.is_char:
        return Verdict(False, SUMMARY_TCG, "/dev/kvm is not a character device")
    if f.api_denied:
        user = clean_text(f.host.user.label)
        reason = f"/dev/kvm exists, but {user} cannot open it read-write (see kvm.access)"
        return Verdict(False, SUMMARY_TCG, reason)
    if isinstance(f.api, int):
        reason = f"/dev/kvm answered API version {f.api}, not {KVM_STABLE_API_VERSION}"
    else:
        reason = f"/dev/kvm did not answer KVM_GET_API_VERSION: {err(f.api)}"
    return Verdict(False, SUMMARY_TCG, reason)


def _identity(f: Facts) -> Identity:
    host = f.host
    os_name = ""
    for line in (host.read_text("/etc/os-release") or "").splitlines():
        key, _, value = line.partition("=")
        if key.strip() == "PRETTY_NAME":
            os_name = clean_text(value.strip().strip('"'), 120)
    moment = host.clock()
    return Identity(
        hostname=clean_text(host.hostname(), 255),
        kernel=clean_text(host.kernel(), 120),
        machine=clean_text(host.machine, 40),
        os=os_name,
        kvmq_version=__version__,
        time=moment.isoformat(timespec="seconds").replace("+00:00", "Z"),
    )


def run_checks(host: Optional[Host] = None) -> Report:
    """Probe ``host`` (the real machine by default) and return the report.

    Blocking: runs subprocesses with timeouts.  Call it from a thread worker in a UI, and set
    ``host.cancel`` to stop it early.  Never raises for problems found on the host.
    """
    host = host if host is not None else Host()
    facts = gather(host)
    checks = [
        _check_cpu_flags(facts),
        _check_modules(facts),
        _check_device(facts),
        _check_access(facts),
        _check_api(facts),
        _check_vm(facts),
        _check_firmware(facts),
        _check_nested(facts),
        _check_vhost(facts),
        _check_tun(facts),
        *platform_checks(facts),
        *program_checks(host, facts.kvm_works),
    ]
    return Report(checks=tuple(checks), verdict=_verdict(facts), identity=_identity(facts))
