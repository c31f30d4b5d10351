"""A fake ``/proc`` with N processes, M of them QEMU: for the VM scan benchmark and tests.

Each process has ``cmdline`` and ``status``; each QEMU one also ``fd/`` with symlinks (stdio,
``/dev/kvm``, eventfds, and for KVM guests ``anon_inode:kvm-vm`` plus one
``anon_inode:kvm-vcpu:N`` per vCPU) and ``exe``. Every fourth QEMU runs on TCG (no KVM
descriptors), every third asks for ``-machine accel=kvm:tcg``. The same N and M always give
the same tree.

    python benchmarks/proc_tree.py /tmp/proc-root 2000 500   # writes /tmp/proc-root/proc/...
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

OTHER_COMMANDS = (
    b"/usr/sbin/sshd\0-D\0",
    b"/lib/systemd/systemd-journald\0",
    b"bash\0",
    b"/usr/bin/python3\0/usr/bin/some-daemon\0--serve\0",
    b"nginx: worker process\0",
    b"/usr/sbin/libvirtd\0--timeout\0120\0",
    b"",  # a kernel thread: empty cmdline
)


def qemu_argv(index: int) -> list[str]:
    accel = ["-machine", "q35,accel=kvm:tcg"] if index % 3 == 0 else ["-machine", "q35", "-accel", "kvm"]
    if index % 4 == 3:
        accel = ["-machine", "q35", "-accel", "tcg"]
    vcpus = 1 + index % 4
    return [
        "/usr/bin/qemu-system-x86_64", "-name", f"guest=vm-{index:04d},debug-threads=on",
        "-S", "-no-user-config", "-nodefaults", *accel, "-cpu", "host" if index % 2 else "qemu64",
        "-m", f"{1024 * (1 + index % 8)}", "-smp", f"{vcpus},sockets=1,cores={vcpus},threads=1",
        "-object", f"memory-backend-ram,id=pc.ram,size={1 + index % 8}G",
        "-blockdev", f'{{"driver":"file","filename":"/var/lib/libvirt/images/vm-{index:04d}.qcow2",'
                     f'"node-name":"storage-{index}"}}',
        "-blockdev", f'{{"node-name":"format-{index}","driver":"qcow2","file":"storage-{index}"}}',
        "-device", f"virtio-blk-pci,drive=format-{index},id=virtio-disk0",
        "-netdev", "tap,fd=30,id=hostnet0,vhost=on,vhostfd=31",
        "-device", "virtio-net-pci,netdev=hostnet0,id=net0,"
                   f"mac=52:54:00:00:{index // 256:02x}:{index % 256:02x}",
        "-chardev", "socket,id=charmonitor,fd=29,server=on,wait=off",
        "-mon", "chardev=charmonitor,id=monitor,mode=control",
        "-display", "none", "-sandbox", "on,obsolete=deny,elevateprivileges=deny",
    ]


def write(root: Path, processes: int, qemus: int) -> Path:
    """Writes ``root/proc``; returns ``root``."""
    proc = root / "proc"
    proc.mkdir(parents=True, exist_ok=True)
    step = max(1, processes // max(1, qemus))
    made = 0
    for number in range(processes):
        pid = 1000 + number
        directory = proc / str(pid)
        directory.mkdir(exist_ok=True)
        is_qemu = made < qemus and number % step == 0
        uid = 64055 if is_qemu else (number % 3) * 1000
        (directory / "status").write_bytes(
            b"Name:\tprocess\nState:\tS (sleeping)\nTgid:\t%d\nPid:\t%d\nPPid:\t1\n"
            b"Uid:\t%d\t%d\t%d\t%d\nGid:\t%d\t%d\t%d\t%d\n" % ((pid, pid) + (uid,) * 8))
        if not is_qemu:
            (directory / "cmdline").write_bytes(OTHER_COMMANDS[number % len(OTHER_COMMANDS)])
            continue
        argv = qemu_argv(made)
        (directory / "cmdline").write_bytes(b"".join(a.encode() + b"\0" for a in argv))
        fd = directory / "fd"
        fd.mkdir(exist_ok=True)
        links = ["/dev/null", "/dev/null", f"/var/log/libvirt/qemu/vm-{made:04d}.log"]
        links += ["anon_inode:[eventfd]" for _ in range(4)] + ["socket:[1234]"]
        if made % 4 != 3:
            links += ["/dev/kvm", "anon_inode:kvm-vm"]
            links += [f"anon_inode:kvm-vcpu:{n}" for n in range(1 + made % 4)]
        for number_fd, target in enumerate(links):
            os.symlink(target, fd / str(number_fd))
        os.symlink("/usr/bin/qemu-system-x86_64", directory / "exe")
        made += 1
    return root


if __name__ == "__main__":
    target, count, qemu_count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    print(write(Path(target), count, qemu_count))
