"""Per-host fleet reports (docs/fleet.md) made up for tests and benchmarks.

    python benchmarks/fleet_reports.py DIR [--hosts 5000] [--seed 1]
    python benchmarks/fleet_reports.py --fixtures tests/fixtures/fleet   # the committed sets

The host check and VM scan parts copy the shapes of ``kvmq check --format json`` and
``kvmq vms --format json`` (docs/host-check.md, docs/vms.md): a dozen checks with findings and
hints, and VMs with their evidence, facts and command lines, so files are as large as real ones.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from pathlib import Path
from typing import Any, Optional, Sequence

NOW = "2026-12-01T12:00:00Z"

CHECKS: tuple[tuple[str, str, str], ...] = (
    ("cpu.virt-flags", "pass", "vmx in CPU flags (Intel VT-x)"),
    ("kvm.modules", "pass", "loaded: kvm, kvm_intel"),
    ("kvm.device", "pass", "/dev/kvm is a character device 10:232 (crw-rw---- root:kvm)"),
    ("kvm.access", "pass", "user root can open /dev/kvm read-write"),
    ("kvm.api", "pass", "KVM_GET_API_VERSION = 12 (the stable API)"),
    ("kvm.vm", "pass", "created a VM with vCPU 0, then closed it; vCPUs per VM: 4 recommended, 1024 at most"),
    ("kvm.nested", "note", "kvm_intel nested=Y"),
    ("vhost-net", "pass", "/dev/vhost-net is a character device"),
    ("tun", "pass", "/dev/net/tun is a character device"),
    ("host.vm", "note", "not a virtual machine"),
    ("cgroups", "pass", "cgroup v2 with cpu, cpuset, memory, io, pids"),
    ("iommu.firmware", "pass", "ACPI DMAR (Intel VT-d)"),
    ("iommu.kernel", "pass", "42 IOMMU groups"),
    ("qemu.binaries", "pass", "/usr/bin/qemu-system-x86_64 8.2.2, -accel help lists kvm"),
    ("qemu.img", "pass", "/usr/bin/qemu-img 8.2.2"),
    ("libvirt.virsh", "pass", "/usr/bin/virsh 10.0.0"),
)

NO_KVM_CHECKS = {
    "kvm.modules": ("fail", "no kvm module loaded", "modprobe kvm_intel (or kvm_amd)"),
    "kvm.device": ("fail", "/dev/kvm does not exist", "load the kvm module; enable VT-x in firmware"),
    "kvm.api": ("fail", "/dev/kvm cannot be opened", "see kvm.device"),
    "kvm.vm": ("skip", "no /dev/kvm to create a VM with", ""),
}


def check_doc(hostname: str, *, kvm: bool = True, warn: Sequence[str] = (),
              schema: Optional[int] = 1) -> dict[str, Any]:
    """A ``kvmq check --format json`` output (docs/host-check.md); ``schema=None``: the first
    shape, which had only ``checks`` and ``verdict``."""
    checks = []
    for check_id, status, finding in CHECKS:
        hint = ""
        if not kvm and check_id in NO_KVM_CHECKS:
            status, finding, hint = NO_KVM_CHECKS[check_id]
        elif check_id in warn:
            status, hint = "warn", f"{check_id}: see docs/host-check.md"
        if schema is None and status == "note":
            status = "info"
        checks.append({"id": check_id, "status": status, "finding": finding, "hint": hint,
                       **({} if schema is None else {"facts": {}})})
    verdict: dict[str, Any] = {
        "kvm_available": kvm,
        "summary": "KVM acceleration available" if kvm
        else "QEMU will run without KVM (TCG software emulation)",
        "reason": "/dev/kvm answered KVM_GET_API_VERSION = 12 and created a VM" if kvm
        else "/dev/kvm does not exist",
    }
    if schema is None:
        return {"checks": checks, "verdict": verdict}
    counts = dict.fromkeys(("pass", "warn", "fail", "note", "skip"), 0)
    for check in checks:
        counts[check["status"]] += 1
    return {
        "schema": schema,
        "kind": "kvmq.host-check",
        "host": {"hostname": hostname, "kernel": "6.8.0-45-generic", "machine": "x86_64",
                 "os": "Ubuntu 24.04 LTS"},
        "kvmq_version": "0.1.0",
        "time": NOW,
        "verdict": {"kvm_available": kvm, "accelerator": "kvm" if kvm else "tcg",
                    "summary": verdict["summary"], "reason": verdict["reason"]},
        "counts": counts,
        "checks": checks,
    }


def vm_doc(pid: int, accel: str, name: str, *, proven: bool = True) -> dict[str, Any]:
    """One VM of ``kvmq vms --format json``."""
    option = {"kvm": "-accel kvm", "tcg": "-accel tcg"}.get(accel, "")
    argv = ["/usr/bin/qemu-system-x86_64", "-name", f"guest={name}", "-machine", "pc-q35-8.2",
            "-cpu", "host" if accel == "kvm" else "qemu64", "-m", "4096", "-smp", "4",
            "-drive", f"file=/var/lib/libvirt/images/{name}.qcow2,format=qcow2,if=virtio",
            "-netdev", "tap,id=net0,vhost=on", "-device", "virtio-net-pci,netdev=net0",
            "-display", "none"]
    if option:
        argv[1:1] = option.split()
    evidence = [{"source": "fds", "strength": "proof" if proven else "unavailable",
                 "accel": accel if proven else None,
                 "detail": "holds anon_inode:kvm-vm and 4 anon_inode:kvm-vcpu descriptors"
                 if accel == "kvm" else "no anon_inode:kvm-vm descriptor"},
                {"source": "cmdline", "strength": "intent", "accel": accel if option else "tcg",
                 "detail": option or "no accelerator given: QEMU's default is TCG"}]
    findings = []
    if accel == "tcg":
        findings.append({"level": "error", "code": "tcg-while-kvm-works",
                         "message": "runs on TCG while this host's KVM works",
                         "hint": "add -accel kvm"})
    return {
        "pid": pid, "uid": 107, "user": "libvirt-qemu", "name": name,
        "binary": "/usr/bin/qemu-system-x86_64", "version": "8.2.2", "accelerator": accel,
        "kvm_capable": True, "strength": "proof" if proven else "intent",
        "vcpus_live": 4 if accel == "kvm" else None, "evidence": evidence,
        "facts": {"name": name, "accel": [accel] if option else [], "accel_option": option,
                  "machine": "pc-q35-8.2", "cpu": "host", "vcpus": 4, "memory": "4096",
                  "memory_mib": 4096, "memory_backends": [], "hugepages": False,
                  "disks": [{"file": f"/var/lib/libvirt/images/{name}.qcow2", "format": "qcow2",
                             "bus": "virtio", "media": "disk"}],
                  "nics": [{"backend": "tap", "model": "virtio-net-pci", "vhost": True}],
                  "display": "none", "qmp": []},
        "findings": findings, "argv": argv,
    }


def vms_doc(vms: Sequence[dict[str, Any]], *, kvm_works: Optional[bool] = True) -> dict[str, Any]:
    """A ``kvmq vms --format json`` output."""
    flagged = [vm["pid"] for vm in vms if vm["accelerator"] == "tcg" and vm["kvm_capable"]]
    return {
        "schema": 1,
        "host": {"kvm_works": kvm_works, "detail": "KVM_GET_API_VERSION = 12", "scanner_uid": 0,
                 "processes": 300 + 3 * len(vms)},
        "vms": list(vms),
        "tcg_while_kvm_works": flagged if kvm_works is not False else [],
    }


def report(host: str, check: Optional[dict[str, Any]], vms: Optional[dict[str, Any]], *,
           collected_at: str = NOW, schema: int = 1, errors: Optional[dict[str, str]] = None
           ) -> dict[str, Any]:
    """A per-host report, as contrib/kvmq-report.py prints it."""
    doc: dict[str, Any] = {"schema": schema, "host": host, "collected_at": collected_at,
                           "collector": "ansible", "python": "3.11.2", "check": check, "vms": vms}
    if errors:
        doc["errors"] = errors
    return doc


def healthy(host: str, vm_count: int = 2, *, collected_at: str = NOW) -> dict[str, Any]:
    vms = [vm_doc(1000 + i, "kvm", f"{host}-vm{i}") for i in range(vm_count)]
    return report(host, check_doc(host), vms_doc(vms), collected_at=collected_at)


def dump(doc: Any) -> str:
    return json.dumps(doc, separators=(",", ":")) + "\n"


def write_fleet(folder: Path, hosts: int, seed: int = 1) -> Path:
    """``hosts`` report files in ``folder``: mostly healthy, some without KVM, some with VMs on
    TCG, and a few broken files."""
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    for index in range(hosts):
        host = f"hv{index:05d}.dc{index % 7}.example.net"
        roll = rng.random()
        vm_count = rng.randrange(0, 9)
        minute = rng.randrange(0, 60)
        at = f"2026-12-01T{10 + index % 2:02d}:{minute:02d}:00Z"
        if roll < 0.04:
            doc: Any = report(host, check_doc(host, kvm=False),
                              vms_doc([vm_doc(1000 + i, "tcg", f"vm{i}") for i in range(vm_count)],
                                      kvm_works=False), collected_at=at)
        elif roll < 0.08:
            vms = [vm_doc(1000 + i, "kvm" if i else "tcg", f"vm{i}") for i in range(max(1, vm_count))]
            doc = report(host, check_doc(host), vms_doc(vms), collected_at=at)
        elif roll < 0.09:
            (folder / f"{host}.json").write_text('{"schema":1,"host":"' + host + '","check":{"che')
            continue
        elif roll < 0.10:
            doc = report(host, None, None, collected_at=at,
                         errors={"check": "unreachable: ssh: connect to host: No route to host",
                                 "vms": "not run"})
        else:
            vms = [vm_doc(1000 + i, "kvm", f"vm{i}") for i in range(vm_count)]
            doc = report(host, check_doc(host, warn=("iommu.kernel",) if roll < 0.3 else ()), vms_doc(vms),
                         collected_at=at)
        (folder / f"{host}.json").write_text(dump(doc))
    return folder


def write_fixture_sets(root: Path) -> None:
    """The committed sets under tests/fixtures/fleet/ (rerun after a format change)."""
    def put(folder: str, name: str, doc: Any) -> None:
        path = root / folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(doc if isinstance(doc, str) else json.dumps(doc, indent=1) + "\n")

    earlier = "2026-12-01T11:50:00Z"
    for host, count in (("hv-a.example.net", 3), ("hv-b.example.net", 0), ("hv-c.example.net", 1)):
        put("healthy", f"{host}.json", healthy(host, count, collected_at=earlier))

    put("no-kvm", "hv-old.json", report("hv-old", check_doc("hv-old", kvm=False),
                                        vms_doc([vm_doc(2001, "tcg", "legacy")], kvm_works=False),
                                        collected_at=earlier))
    put("no-kvm", "hv-ok.json", healthy("hv-ok", 1, collected_at=earlier))

    put("tcg", "hv-slow.json", report("hv-slow", check_doc("hv-slow", warn=("iommu.kernel",)),
                                      vms_doc([vm_doc(3001, "kvm", "web"), vm_doc(3002, "tcg", "db"),
                                               vm_doc(3003, "unknown", "ci", proven=False)]),
                                      collected_at=earlier))
    put("tcg", "hv-fast.json", healthy("hv-fast", 2, collected_at=earlier))

    broken = "broken"
    put(broken, "good.json", healthy("good", 1, collected_at=earlier))
    put(broken, "empty.json", "")
    put(broken, "truncated.json", dump(healthy("truncated", 1))[:700])
    put(broken, "not-json.json", "ssh: connect to host not-json port 22: Connection refused\n")
    (root / broken / "latin1.json").write_bytes(b'{"schema": 1, "host": "caf\xe9"}\n')
    put(broken, "array.json", "[1, 2, 3]\n")
    put(broken, "no-check.json", report("no-check", None, None,
                                        errors={"check": "kvmq check exited with status 127: "
                                                "python3: not found", "vms": "not run"}))
    put(broken, "other-shape.json", {"hello": "world"})
    put(broken, "check-bad-verdict.json", report("check-bad-verdict", {"checks": [], "verdict": "yes"},
                                                 vms_doc([])))
    put(broken, "no-vms.json", report("no-vms", check_doc("no-vms"), None,
                                      errors={"vms": "kvmq vms exited with status 2: invalid choice: 'vms'"}))
    hostile = "\x1b[31mred\x1b[0m[bold]host[/bold]\u202e"
    hostile_check = check_doc(hostile, warn=("iommu.kernel",))
    hostile_check["checks"][0]["finding"] = "[link=file:///etc/passwd]click[/link] \x1b]8;;x\x07"
    put(broken, "hostile.json", report(hostile, hostile_check, vms_doc([])))
    put(broken, "README.txt", "not a report: not read (only *.json, *.jsonl, *.ndjson)\n")
    put(broken, ".hv-tmp.json", "a dot file: an atomic write in progress, skipped\n")

    put("schemas", "v1.json", healthy("v1", 1, collected_at=earlier))
    put("schemas", "v2.json", {**healthy("v2", 1), "schema": 2})
    put("schemas", "check-v0.json", report("check-v0", check_doc("check-v0", schema=None),
                                           vms_doc([]), collected_at=earlier))
    put("schemas", "check-v7.json", report("check-v7", check_doc("check-v7", schema=7), vms_doc([])))
    put("schemas", "vms-v3.json", report("vms-v3", check_doc("vms-v3"), {**vms_doc([]), "schema": 3}))

    lines = [dump(healthy(f"line-{n}", n)) for n in range(3)]
    lines.insert(2, '{"schema": 1, "host": "line-broken", "check": \n')
    put("lines", "fleet.jsonl", "".join(lines))

    # The output of Ansible's json callback (ansible.posix.json) for the playbook: the task
    # that runs kvmq-report.py prints the report; one host unreachable, one failing.
    def task(name: str, hosts: dict[str, Any]) -> dict[str, Any]:
        return {"task": {"name": name, "id": "0242ac11-0002", "duration": {"start": NOW, "end": NOW}},
                "hosts": hosts}

    ok = healthy("ans-ok", 2)
    nokvm = report("ans-nokvm", check_doc("ans-nokvm", kvm=False), vms_doc([], kvm_works=False))
    run = {
        "plays": [{"play": {"name": "Check KVM and running VMs with kvmq", "id": "0242ac11-0001",
                            "duration": {"start": NOW, "end": NOW}},
                   "tasks": [
                       task("Make a temporary folder on the host", {
                           "ans-ok": {"changed": True, "path": "/tmp/kvmq-1", "action": "tempfile"},
                           "ans-down": {"unreachable": True, "changed": False, "action": "tempfile",
                                        "msg": "Failed to connect to the host via ssh: No route to host"},
                       }),
                       task("kvmq check and kvmq vms (read-only)", {
                           "ans-ok": {"changed": False, "rc": 0, "stdout": dump(ok).strip(),
                                      "stderr": "", "action": "script"},
                           "ans-nokvm": {"changed": False, "rc": 0, "stdout": dump(nokvm).strip(),
                                         "stderr": "", "action": "script"},
                           "ans-failed": {"changed": False, "rc": 2, "failed": True, "stdout": "",
                                          "stderr": "python3: can't open file", "action": "script",
                                          "msg": "non-zero return code"},
                       }),
                       task("ad hoc: kvmq check only", {
                           "ans-adhoc": {"changed": True, "rc": 0, "action": "command",
                                         "stdout": json.dumps(check_doc("ans-adhoc"))},
                       }),
                   ]}],
        "stats": {h: {"ok": 3, "changed": 1, "unreachable": int(h == "ans-down"),
                      "failures": int(h == "ans-failed"), "skipped": 0, "rescued": 0, "ignored": 0}
                  for h in ("ans-ok", "ans-down", "ans-nokvm", "ans-failed", "ans-adhoc", "ans-silent")},
        "custom_stats": {}, "global_custom_stats": {},
    }
    put("ansible-json", "run.json", json.dumps(run, indent=4, sort_keys=True) + "\n")


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("--hosts", type=int, default=5000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--fixtures", action="store_true", help="write the committed fixture sets")
    args = parser.parse_args(argv)
    if args.fixtures:
        write_fixture_sets(args.folder)
    else:
        write_fleet(args.folder, args.hosts, args.seed)
    return 0


if __name__ == "__main__":
    sys.exit(main())
