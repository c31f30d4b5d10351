"""Test helpers: fake hosts from fixture trees, and every text of a dataset.

Ordinary files in the tree are read as they are (``proc/cpuinfo``, ``sys/module/kvm_intel/
parameters/nested``, ``etc/group``, ``.dockerenv``, executable scripts in ``usr/bin``). What
cannot live in a tree is described in ``host.json`` at the top of the tree::

    {
      "machine": "x86_64",
      "user": {"name": "alice", "uid": 1000, "gid": 1000, "groups": [1000, 108]},
      "devices": {
        "/dev/kvm": {"type": "char", "mode": "0660", "uid": 0, "gid": 108, "rdev": [10, 232]}
      },
      "kvm_api_version": 12,
      "kvm_create_vm": {"vm": true, "vcpu": true, "nr_vcpus": 4, "max_vcpus": 1024},
      "path": ["/usr/bin"],
      "hostname": "intel-kvm",
      "kernel": "6.8.0-test"
    }

``devices`` maps absolute paths to node facts (``type``: char, block, file or dir); a device
not listed does not exist. Opening a listed device follows the owner/group/other bits for
``user`` (uid 0 opens anything). ``kvm_api_version`` is what the ioctl answers once the open
succeeded: a number, or an errno name such as ``"ENOTTY"``. ``kvm_create_vm`` is what creating
a VM and its vCPU gives: ``vm`` and ``vcpu`` are true or an errno name (``"EBUSY"``), and the
vCPU limits (all optional; by default both steps work). ``path`` lists the PATH
directories inside the tree, ``timeout`` the per-program timeout. Programs are real scripts in
the tree and run for real, and ``dev/kmsg``, when present, is the kernel log (a plain file).
``hostname`` and ``kernel`` default to the tree's name and ``6.8.0-test``; the clock is fixed.
Keyword arguments replace any field afterwards.
"""

from __future__ import annotations

import errno as errno_mod
import json
import os
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterator, Optional, Union

from kvmq.dataset.model import Dataset
from kvmq.host.probe import DEFAULT_TIMEOUT, KVM_STABLE_API_VERSION, DeviceInfo, Host, UserInfo, VmProof

#: The time every fake host reports.
FIXED_TIME = datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc)


def host_from_tree(root: Path, **overrides: Any) -> Host:
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

    vm_spec = spec.get("kvm_create_vm", {})

    def step(value: object, path: Path) -> Union[bool, OSError]:
        return _oserror(value, path) if isinstance(value, str) else bool(value)

    def fake_create_vm(path: Path) -> VmProof:
        opened = fake_open(path)
        if isinstance(opened, OSError):
            return VmProof(vm=opened)
        limits = {"nr_vcpus": vm_spec.get("nr_vcpus", 4), "max_vcpus": vm_spec.get("max_vcpus", 1024)}
        vm = step(vm_spec.get("vm", True), path)
        if vm is not True:
            return VmProof(vm=vm, **limits)
        return VmProof(vm=True, vcpu=step(vm_spec.get("vcpu", True), path), **limits)

    values: dict[str, Any] = {
        "root": root,
        "machine": str(spec.get("machine", "x86_64")),
        "user": user,
        "path_dirs": tuple(spec.get("path", ["/usr/bin"])),
        "timeout": float(spec.get("timeout", DEFAULT_TIMEOUT)),
        "stat_device": lookup,
        "can_open_rw": fake_open,
        "kvm_api_version": fake_api,
        "kvm_create_vm": fake_create_vm,
        "group_name": groups.get,
        "hostname": lambda: str(spec.get("hostname", root.name)),
        "kernel": lambda: str(spec.get("kernel", "6.8.0-test")),
        "clock": lambda: FIXED_TIME,
    }
    values.update(overrides)
    return Host(**values)


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


def iter_texts(dataset: Dataset) -> Iterator[str]:
    """Every human-readable string in a dataset (for tests that scan them all)."""
    yield dataset.title
    yield dataset.summary
    for subject in dataset.subjects:
        yield from (subject.name, subject.tagline, subject.homepage)
    for dimension in dataset.dimensions:
        yield dimension.title
        if dimension.verdict:
            yield dimension.verdict
        yield from dimension.descriptions.values()
        for note in dimension.notes:
            yield note.text
        for commands in dimension.commands.values():
            for command in commands:
                yield command.run
                yield command.does
                yield from (extra for extra in (command.caution, command.needs) if extra)
