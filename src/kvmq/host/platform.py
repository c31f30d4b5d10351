"""Checks about the machine around KVM: is it a VM, cgroups, the IOMMU, secure guests, sizing.

They follow ``virt-host-validate qemu`` (libvirt's tools/virt-host-validate-qemu.c) where it
has an opinion, and add what it leaves out. None of them decides the verdict.
"""

from __future__ import annotations

import re
from typing import Optional

from kvmq.host.facts import ARM64_MACHINES, PPC64_MACHINES, S390_MACHINES, Facts, is_on
from kvmq.host.model import Check, Fact, Status, clean_text

NOT_HERE = ("applies", False)

# DMI vendor or product names that only virtual machines carry.
_VM_DMI = (
    ("QEMU", "QEMU"), ("KVM", "KVM"), ("VMware", "VMware"), ("VirtualBox", "VirtualBox"),
    ("innotek", "VirtualBox"), ("Virtual Machine", "Hyper-V"), ("Xen", "Xen"),
    ("Amazon EC2", "Amazon EC2"), ("Google Compute Engine", "Google Compute Engine"),
    ("Parallels", "Parallels"), ("Bochs", "Bochs"), ("BHYVE", "bhyve"), ("OpenStack", "OpenStack"),
    ("Cloud Hypervisor", "Cloud Hypervisor"), ("Firecracker", "Firecracker"),
)


def _check_host_vm(f: Facts) -> Check:
    cid = "host.vm"
    host = f.host
    evidence: list[str] = []
    names: list[str] = []
    if f.flags is not None and "hypervisor" in f.flags:
        evidence.append("CPU flag")
    xen = clean_text(host.read_text("/sys/hypervisor/type") or "", 40)
    if xen:
        evidence.append("/sys/hypervisor")
        names.append(xen.capitalize() if xen.islower() else xen)
    dmi = " ".join(
        clean_text(host.read_text(f"/sys/class/dmi/id/{key}") or "", 80)
        for key in ("sys_vendor", "product_name")
    )
    for needle, name in _VM_DMI:
        if needle.lower() in dmi.lower():
            evidence.append("DMI")
            names.append(name)
            break
    if host.exists("/proc/device-tree/hypervisor"):
        evidence.append("device tree")
    logged = f.hypervisor_from_log
    if logged:
        evidence.append("kernel log")
        names.insert(0, logged)
    name = next(iter(dict.fromkeys(names)), "")
    facts: tuple[tuple[str, Fact], ...] = (
        ("virtual", bool(evidence)), ("hypervisor", name or None), ("evidence", tuple(evidence)),
    )
    if not evidence:
        return Check(cid, Status.PASS, "no sign of a hypervisor: bare metal", facts=facts)
    what = f" on {name}" if name else ""
    return Check(
        cid,
        Status.NOTE,
        f"a virtual machine{what} ({', '.join(evidence)})",
        "guests here are nested: slower, and the outer host must allow nested virtualization",
        facts,
    )


def _check_ppc64_hv(f: Facts) -> Check:
    cid = "kvm.ppc64-hv"
    if f.machine not in PPC64_MACHINES:
        return Check(cid, Status.SKIP, "not a POWER machine", facts=(NOT_HERE, ("loaded", None)))
    if "kvm_hv" in f.modules:
        return Check(cid, Status.PASS, "kvm_hv loaded: guests run in hypervisor mode",
                     facts=(("loaded", True),))
    return Check(cid, Status.WARN, "kvm_hv not loaded: only the much slower kvm_pr",
                 "`sudo modprobe kvm_hv` (needs a host in hypervisor mode, not an LPAR)",
                 (("loaded", False),))


# --------------------------------------------------------------------------
# cgroups: what libvirt needs to limit and pin guests

_CGROUP_COST = {
    "cpu": "share CPU time",
    "cpuacct": "account CPU time",
    "cpuset": "pin vCPUs to host CPUs",
    "memory": "limit memory",
    "io": "limit disk I/O",
    "blkio": "limit disk I/O",
    "devices": "control device access",
    "pids": "limit processes",
}
CGROUP_V2_NEEDED: tuple[str, ...] = ("cpu", "cpuset", "memory", "io", "pids")
CGROUP_V1_NEEDED: tuple[str, ...] = ("cpu", "cpuacct", "cpuset", "memory", "devices", "blkio")


def _v1_controllers(f: Facts) -> list[str]:
    found: set[str] = set()
    for _point, _fstype, options in f.mounted("cgroup"):
        found.update(option for option in options.split(",") if option in _CGROUP_COST)
    if not f.mounts:  # no mount table to read: the hierarchy's folder names will do
        found.update(n for n in f.host.listdir("/sys/fs/cgroup") or [] if n in _CGROUP_COST)
    return sorted(found)


def _check_cgroups(f: Facts) -> Check:
    cid = "cgroups"
    v2_list = f.host.read_text("/sys/fs/cgroup/cgroup.controllers")
    if v2_list is not None:
        version, have = "v2", sorted(set(v2_list.split()))
        needed = CGROUP_V2_NEEDED
        hint_tail = "enable it in the parent's cgroup.subtree_control"
    else:
        have = _v1_controllers(f)
        version, needed = "v1", CGROUP_V1_NEEDED
        if f.mounted("cgroup2"):
            version = "v1 (hybrid)"
        hint_tail = "mount the missing controllers under /sys/fs/cgroup"
    missing = [name for name in needed if name not in have]
    facts: tuple[tuple[str, Fact], ...] = (
        ("version", version.split()[0] if have or v2_list is not None else None),
        ("controllers", tuple(have)), ("missing", tuple(missing)),
    )
    if v2_list is None and not have:
        return Check(cid, Status.WARN, "no cgroups mounted: libvirt cannot limit guests",
                     "mount cgroup2 at /sys/fs/cgroup (systemd does it at boot)", facts)
    if not missing:
        return Check(cid, Status.PASS, f"cgroup {version}: {', '.join(needed)}", facts=facts)
    costs = ", ".join(dict.fromkeys(_CGROUP_COST[name] for name in missing))
    costs = " or ".join(costs.rsplit(", ", 1))
    return Check(cid, Status.WARN,
                 f"cgroup {version} without {', '.join(missing)}: libvirt cannot {costs}",
                 hint_tail, facts)


# --------------------------------------------------------------------------
# IOMMU, in two steps as libvirt checks it: the firmware describes one, the kernel enabled it

def _iommu_table(f: Facts) -> tuple[Optional[str], list[str]]:
    """(the expected ACPI table for this machine, the IOMMU tables present)."""
    tables = f.host.listdir("/sys/firmware/acpi/tables") or []
    present: list[str] = [name for name in ("DMAR", "IVRS", "IORT") if name in tables]
    if f.machine in ARM64_MACHINES:
        return "IORT", present
    if f.vendor == "intel":
        return "DMAR", present
    if f.vendor == "amd":
        return "IVRS", present
    return ("DMAR or IVRS" if f.is_x86 else None), present


_TABLE_WHAT = {"DMAR": "Intel VT-d", "IVRS": "AMD-Vi", "IORT": "Arm SMMU"}


def _check_iommu_firmware(f: Facts) -> Check:
    cid = "iommu.firmware"
    expected, present = _iommu_table(f)
    facts: tuple[tuple[str, Fact], ...] = (("tables", tuple(present)),)
    if expected is None:
        return Check(cid, Status.SKIP, "no ACPI IOMMU table to look for on this machine",
                     facts=(NOT_HERE, *facts))
    if present:
        names = ", ".join(f"{t} ({_TABLE_WHAT[t]})" for t in present)
        return Check(cid, Status.PASS, f"ACPI {names} present", facts=facts)
    if not f.host.exists("/sys/firmware/acpi/tables") and f.machine in ARM64_MACHINES:
        return Check(cid, Status.NOTE, "no ACPI tables (device-tree firmware): cannot tell", facts=facts)
    what = " or ".join(_TABLE_WHAT.get(t, t) for t in expected.split(" or "))
    viommu = "amd-iommu" if f.vendor == "amd" else "intel-iommu"
    if bool(f.flags and "hypervisor" in f.flags):
        return Check(cid, Status.NOTE, f"no ACPI {expected} table: this VM has no IOMMU",
                     f"only for PCI passthrough: give the VM a vIOMMU (`-device {viommu}`)",
                     facts)
    return Check(cid, Status.WARN, f"no ACPI {expected} table: the firmware shows no IOMMU",
                 f"only for PCI passthrough: enable {what} in the firmware setup", facts)


def _cmdline_fix(f: Facts) -> tuple[list[str], list[str]]:
    """(parameters to add, parameters to remove) to turn the IOMMU on at boot."""
    have = set(f.cmdline)
    remove = [p for p in f.cmdline if p in ("iommu=off", "intel_iommu=off", "amd_iommu=off")]
    if f.vendor == "intel":
        wanted = ["intel_iommu=on", "iommu=pt"]
    elif f.vendor == "amd":
        wanted = ["amd_iommu=on", "iommu=pt"]
    else:
        wanted = ["iommu.passthrough=1"] if f.machine in ARM64_MACHINES else []
    return [p for p in wanted if p not in have], remove


def _check_iommu_kernel(f: Facts) -> Check:
    cid = "iommu.kernel"
    groups = [g for g in (f.host.listdir("/sys/kernel/iommu_groups") or []) if g.isdigit()]
    _expected, present = _iommu_table(f)
    add, remove = _cmdline_fix(f)
    facts: tuple[tuple[str, Fact], ...] = (
        ("groups", len(groups)), ("cmdline_add", tuple(add)), ("cmdline_remove", tuple(remove)),
    )
    if groups:
        return Check(cid, Status.PASS, f"{len(groups)} IOMMU groups: PCI passthrough (VFIO) is possible",
                     facts=(("groups", len(groups)), ("cmdline_add", ()), ("cmdline_remove", ())))
    if not present:
        return Check(cid, Status.SKIP, "no IOMMU groups, and no IOMMU in firmware (iommu.firmware)",
                     facts=facts)
    parts = []
    if remove:
        parts.append("remove " + " ".join(f"`{p}`" for p in remove))
    if add:
        parts.append("add `" + " ".join(add) + "`")
    if parts:
        hint = " and ".join(parts) + " on the kernel command line, then reboot"
    else:
        hint = "the command line asks for it: `dmesg | grep -i -e DMAR -e IOMMU`"
    return Check(cid, Status.WARN, "no IOMMU groups: the kernel did not enable the IOMMU", hint, facts)


# --------------------------------------------------------------------------
# Secure (confidential) guests

def _check_amd_sev(f: Facts) -> Check:
    cid = "secure.amd-sev"
    keys = (("sev", "SEV"), ("sev_es", "SEV-ES"), ("sev_snp", "SEV-SNP"))
    if f.vendor != "amd":
        return Check(cid, Status.SKIP, "not an AMD host",
                     facts=(NOT_HERE, *((key, None) for key, _ in keys), ("dev_sev", None)))
    params = {key: is_on(f.param("kvm_amd", key)) for key, _ in keys}
    dev_sev = f.host.device("/dev/sev") is not None
    facts: tuple[tuple[str, Fact], ...] = (*params.items(), ("dev_sev", dev_sev))
    if "kvm_amd" not in f.modules:
        return Check(cid, Status.SKIP, "kvm_amd not loaded", facts=facts)
    on = [label for key, label in keys if params[key]]
    cpu = [label for key, label in keys if key in (f.flags or ())]
    if on:
        finding = f"enabled in kvm_amd: {', '.join(on)}"
        if not dev_sev:
            return Check(cid, Status.WARN, finding + "; but no /dev/sev",
                         "load the PSP driver: `sudo modprobe ccp`", facts)
        return Check(cid, Status.PASS, finding + "; /dev/sev present", facts=facts)
    if cpu:
        return Check(cid, Status.NOTE, f"the CPU offers {', '.join(cpu)}, but kvm_amd has it off",
                     "`kvm_amd.sev=1 kvm_amd.sev_es=1 kvm_amd.sev_snp=1` on the kernel command line",
                     facts)
    return Check(cid, Status.NOTE, "no SEV: the CPU or firmware does not offer it", facts=facts)


def _check_intel_tdx(f: Facts) -> Check:
    cid = "secure.intel-tdx"
    if f.vendor != "intel":
        return Check(cid, Status.SKIP, "not an Intel host", facts=(NOT_HERE, ("tdx", None)))
    if "kvm_intel" not in f.modules:
        return Check(cid, Status.SKIP, "kvm_intel not loaded", facts=(("tdx", None),))
    value = is_on(f.param("kvm_intel", "tdx"))
    facts: tuple[tuple[str, Fact], ...] = (("tdx", value),)
    if value:
        return Check(cid, Status.PASS, "TDX enabled in kvm_intel: trust domains can run", facts=facts)
    if value is None:
        return Check(cid, Status.NOTE, "no TDX: this kernel's kvm_intel has no tdx parameter", facts=facts)
    return Check(cid, Status.NOTE, "TDX is off in kvm_intel",
                 "`kvm_intel.tdx=1` on the kernel command line (TDX on in the firmware too)", facts)


def _check_s390_pv(f: Facts) -> Check:
    cid = "secure.s390-pv"
    if f.machine not in S390_MACHINES:
        return Check(cid, Status.SKIP, "not an s390x host", facts=(NOT_HERE, ("prot_virt_host", None)))
    raw = f.host.read_text("/sys/firmware/uv/prot_virt_host")
    if raw is None:
        return Check(cid, Status.NOTE, "no Ultravisor (/sys/firmware/uv): no Secure Execution",
                     facts=(("prot_virt_host", None),))
    if is_on(raw):
        return Check(cid, Status.PASS, "Secure Execution host support is on (prot_virt_host=1)",
                     facts=(("prot_virt_host", True),))
    return Check(cid, Status.NOTE, "Secure Execution is off (prot_virt_host=0)",
                 "`prot_virt=1` on the kernel command line, then reboot", (("prot_virt_host", False),))


# --------------------------------------------------------------------------
# Sizing: CPUs, memory, hugepages

def _meminfo(f: Facts) -> dict[str, int]:
    values: dict[str, int] = {}
    for line in (f.host.read_text("/proc/meminfo") or "").splitlines():
        key, _, rest = line.partition(":")
        parts = rest.split()
        if parts and parts[0].isdigit():
            scale = 1024 if parts[1:2] == ["kB"] else 1
            values[key.strip()] = int(parts[0]) * scale
    return values


def _size(count: int) -> str:
    value = float(count)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            whole = unit in ("B", "KiB") or value >= 100 or value == int(value)
            return f"{value:.0f} {unit}" if whole else f"{value:.1f} {unit}"
        value /= 1024
    return f"{count} B"


def _online_cpus(f: Facts) -> Optional[int]:
    text = f.host.read_text("/sys/devices/system/cpu/online")
    if text:
        total = 0
        for part in text.strip().split(","):
            low, _, high = part.partition("-")
            if low.isdigit() and (not high or high.isdigit()):
                total += (int(high) - int(low) + 1) if high else 1
        if total:
            return total
    info = f.host.read_text("/proc/cpuinfo")
    if info is None:
        return None
    count = sum(1 for line in info.splitlines() if re.match(r"processor\s*:", line))
    return count or None


def _check_cpus(f: Facts) -> Check:
    cid = "host.cpus"
    online = _online_cpus(f)
    model = f.cpuinfo.get("model name") or f.cpuinfo.get("cpu") or f.cpuinfo.get("Hardware") or ""
    model = re.sub(r"\s+", " ", model)
    facts: tuple[tuple[str, Fact], ...] = (("online", online), ("model", model or None))
    if online is None:
        return Check(cid, Status.SKIP, "cannot count the CPUs", facts=facts)
    finding = f"{online} online CPU{'s' if online != 1 else ''}" + (f": {model}" if model else "")
    return Check(cid, Status.NOTE, finding, facts=facts)


def _check_memory(f: Facts) -> Check:
    cid = "host.memory"
    info = _meminfo(f)
    total, available = info.get("MemTotal"), info.get("MemAvailable")
    facts: tuple[tuple[str, Fact], ...] = (("total_bytes", total), ("available_bytes", available))
    if total is None:
        return Check(cid, Status.SKIP, "cannot read /proc/meminfo", facts=facts)
    finding = f"{_size(total)} RAM" + (f", {_size(available)} available" if available is not None else "")
    return Check(cid, Status.NOTE, finding, facts=facts)


def _check_hugepages(f: Facts) -> Check:
    cid = "host.hugepages"
    info = _meminfo(f)
    pools: list[tuple[int, int, int]] = []  # (page size in bytes, total, free)
    for name in f.host.listdir("/sys/kernel/mm/hugepages") or []:
        match = re.fullmatch(r"hugepages-(\d+)kB", name)
        if not match:
            continue
        base = f"/sys/kernel/mm/hugepages/{name}"
        total = (f.host.read_text(f"{base}/nr_hugepages") or "0").strip()
        free = (f.host.read_text(f"{base}/free_hugepages") or "0").strip()
        pools.append((int(match.group(1)) * 1024, int(total) if total.isdigit() else 0,
                      int(free) if free.isdigit() else 0))
    if not pools and "Hugepagesize" in info:
        pools.append((info["Hugepagesize"], info.get("HugePages_Total", 0), info.get("HugePages_Free", 0)))
    mounts = [point for point, _t, _o in f.mounted("hugetlbfs")]
    reserved = [(size, total, free) for size, total, free in pools if total]
    facts: tuple[tuple[str, Fact], ...] = (
        ("reserved_bytes", sum(size * total for size, total, _ in pools)),
        ("free_bytes", sum(size * free for size, _, free in pools)),
        ("page_sizes", tuple(_size(size) for size, _, _ in sorted(pools))),
        ("hugetlbfs", tuple(clean_text(m, 120) for m in mounts)),
    )
    if not pools:
        return Check(cid, Status.SKIP, "no hugepage support found", facts=facts)
    if not reserved:
        sizes = ", ".join(_size(size) for size, _, _ in sorted(pools))
        return Check(cid, Status.NOTE, f"no hugepages reserved ({sizes} sizes)",
                     "to back guests with them: `sudo sysctl vm.nr_hugepages=N`", facts)
    parts = ", ".join(f"{total} x {_size(size)} ({free} free)" for size, total, free in sorted(reserved))
    if not mounts:
        return Check(cid, Status.WARN, f"reserved {parts}, but no hugetlbfs mounted",
                     "`sudo mount -t hugetlbfs hugetlbfs /dev/hugepages`", facts)
    where = clean_text(mounts[0], 60)
    return Check(cid, Status.PASS, f"reserved {parts}; hugetlbfs at {where}", facts=facts)


def platform_checks(f: Facts) -> list[Check]:
    """The checks of this module, in the order they are shown."""
    return [
        _check_host_vm(f),
        _check_ppc64_hv(f),
        _check_cgroups(f),
        _check_iommu_firmware(f),
        _check_iommu_kernel(f),
        _check_amd_sev(f),
        _check_intel_tdx(f),
        _check_s390_pv(f),
        _check_cpus(f),
        _check_memory(f),
        _check_hugepages(f),
    ]
