"""Running VMs: every QEMU process on this host and the accelerator it really uses.

Plain Python (the standard library, :mod:`kvmq.host.probe` and :mod:`kvmq.text`) and
read-only: files under ``/proc`` and ``/run/libvirt`` are read, a QMP socket named on a
command line may be asked ``qmp_capabilities`` and ``query-kvm`` (nothing else, ever, with a
timeout), and ``BINARY --version`` runs once per binary. No signal is sent, nothing is written.

Evidence, strongest first (the first source that answers decides):

1. ``fds``: ``/proc/PID/fd`` links to ``anon_inode:kvm-vm`` prove KVM; the
   ``anon_inode:kvm-vcpu:N`` links count the live vCPUs. Readable by the owner or root.
2. ``libvirt``: the live domain XML ``/run/libvirt/qemu/NAME.xml`` (``<domain type='kvm'>``),
   used only when its ``pid`` is this process.
3. ``qmp``: ``query-kvm`` over a QMP socket from the command line.
4. ``threads``: vCPU thread names (``CPU 0/KVM``, ``CPU 0/TCG``), set by QEMU's accelerator
   when ``-name debug-threads=on`` (libvirt always sets it); readable by everyone.
5. ``cmdline``: what the command line asks for, which is intent, not proof.

Everything taken from a process is data. Command lines are decoded with non-UTF-8 bytes
as ``\\xNN`` and control or bidirectional-format characters escaped, so no string in the
result can drive a terminal; renderers still show it literally, never as markup.
"""

from __future__ import annotations

import dataclasses
import errno
import functools
import json
import os
import pwd
import re
import socket
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Optional, Sequence, Union

from kvmq.host.probe import KVM_STABLE_API_VERSION, real_kvm_api_version, run_program
from kvmq.text import printable

__all__ = [
    "SCHEMA_VERSION",
    "VM",
    "CommandLine",
    "Disk",
    "Evidence",
    "Facts",
    "Finding",
    "Nic",
    "QmpAddress",
    "QmpAnswer",
    "Scan",
    "Scanner",
    "is_qemu_argv",
    "parse_command_line",
    "probe_kvm",
    "query_kvm",
    "scan",
    "split_suboptions",
]

#: Version of the JSON shape (``Scan.to_dict``); documented in docs/vms.md.
SCHEMA_VERSION = 1

QMP_TIMEOUT = 1.0
#: Seconds one scan may spend waiting on QMP sockets in all.
QMP_SCAN_BUDGET = 3.0
VERSION_TIMEOUT = 3.0
CMDLINE_LIMIT = 1 << 20
XML_LIMIT = 1 << 20

# Evidence strengths, strongest first.
PROOF = "proof"
STRONG = "strong"
INTENT = "intent"
UNAVAILABLE = "unavailable"
STRENGTHS = (PROOF, STRONG, INTENT, UNAVAILABLE)

# Finding levels, loudest first.
ERROR = "error"
WARNING = "warning"
NOTE = "note"
LEVELS = (ERROR, WARNING, NOTE)

UNKNOWN = "unknown"

PROOF_HINT = ("for proof, run kvmq as root or as the VM's user, or ask QEMU: "
              "virsh qemu-monitor-command NAME --hmp 'info kvm'")


# --------------------------------------------------------------------------- literal text

def _decode(raw: bytes) -> str:
    return printable(raw.decode("utf-8", "backslashreplace"))


def _decode_argv(raw: bytes) -> tuple[str, ...]:
    """A /proc cmdline (NUL-separated) as printable strings."""
    text = raw.decode("utf-8", "backslashreplace")
    if text.endswith("\0"):
        text = text[:-1]
    return tuple(printable(part) for part in text.split("\0"))


# --------------------------------------------------------------------------- the model


@dataclass(frozen=True)
class Evidence:
    """What one source says about a process's accelerator.

    ``accel`` is ``None`` when the source could not answer; ``detail`` then says why.
    """

    source: str  # "fds", "libvirt", "qmp", "threads", "cmdline"
    strength: str  # PROOF, STRONG, INTENT, or UNAVAILABLE
    accel: Optional[str]
    detail: str

    def to_dict(self) -> dict[str, Any]:
        return {"source": self.source, "strength": self.strength, "accel": self.accel,
                "detail": self.detail}


@dataclass(frozen=True)
class Finding:
    level: str  # ERROR, WARNING, NOTE
    code: str
    message: str
    hint: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"level": self.level, "code": self.code, "message": self.message, "hint": self.hint}


@dataclass(frozen=True)
class Disk:
    file: str  # path, node or "" when none (an empty CD drive)
    format: str  # "qcow2", "raw", ... or "" when not given (QEMU probes it)
    bus: str  # "virtio", "scsi", "ide", "sata", "nvme", "usb", "floppy", "pflash", ...
    media: str = "disk"  # or "cdrom"

    def describe(self) -> str:
        parts = [self.file or "(empty)", self.format or "format not given", self.bus]
        if self.media != "disk":
            parts.append(self.media)
        return ", ".join(parts)

    def to_dict(self) -> dict[str, Any]:
        return {"file": self.file, "format": self.format, "bus": self.bus, "media": self.media}


@dataclass(frozen=True)
class Nic:
    backend: str  # "user", "tap", "bridge", "vhost-user", "socket", ... or "" unknown
    model: str  # "virtio-net-pci", "e1000", ... or "default"
    vhost: Optional[bool] = None

    def describe(self) -> str:
        model = "default model" if self.model == "default" else self.model
        text = f"{model}, {self.backend or 'no backend'}"
        if self.vhost is not None:
            text += ", vhost=on" if self.vhost else ", vhost=off"
        return text

    def to_dict(self) -> dict[str, Any]:
        return {"backend": self.backend, "model": self.model, "vhost": self.vhost}


@dataclass(frozen=True)
class QmpAddress:
    kind: str  # "unix" or "tcp"
    path: str = ""
    host: str = ""
    port: int = 0
    reachable: bool = True  # a server socket kvmq may open
    why: str = ""  # when not reachable

    def describe(self) -> str:
        if self.kind == "fd":
            return "a passed file descriptor"
        return f"unix:{self.path}" if self.kind == "unix" else f"tcp:{self.host}:{self.port}"


@dataclass(frozen=True)
class Facts:
    """Key facts from a QEMU command line."""

    name: str = ""
    accel: tuple[str, ...] = ()  # what QEMU tries, in order; () when none was given
    accel_option: str = ""  # how it was asked ("-accel kvm", "-machine accel=kvm:tcg", ...)
    machine: str = ""
    cpu: str = ""
    vcpus: int = 1
    memory: str = "128M"
    memory_mib: Optional[int] = 128
    memory_backends: tuple[str, ...] = ()
    hugepages: bool = False
    disks: tuple[Disk, ...] = ()
    nics: tuple[Nic, ...] = ()
    display: str = ""
    qmp: tuple[QmpAddress, ...] = ()
    hmp: bool = False
    nodefaults: bool = False
    readconfig: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "accel": list(self.accel),
            "accel_option": self.accel_option,
            "machine": self.machine,
            "cpu": self.cpu,
            "vcpus": self.vcpus,
            "memory": self.memory,
            "memory_mib": self.memory_mib,
            "memory_backends": list(self.memory_backends),
            "hugepages": self.hugepages,
            "disks": [d.to_dict() for d in self.disks],
            "nics": [n.to_dict() for n in self.nics],
            "display": self.display,
            "qmp": [q.describe() for q in self.qmp],
        }


@dataclass(frozen=True)
class VM:
    pid: int
    uid: Optional[int]
    user: str
    name: str
    binary: str
    version: str
    argv: tuple[str, ...]
    accel: str  # "kvm", "tcg", "xen", ... or UNKNOWN
    strength: str  # strength of the evidence that decided ``accel``
    vcpus_live: Optional[int]  # kvm-vcpu fds or vCPU threads; None when not seen
    evidence: tuple[Evidence, ...]
    facts: Facts
    findings: tuple[Finding, ...]
    findings_for: Optional[bool] = None  # the host's kvm_works the findings were judged against
    kvm_capable: bool = True  # False: a guest of another architecture, TCG is its only choice

    @property
    def proven(self) -> bool:
        return self.strength == PROOF

    @property
    def label(self) -> str:
        """The name an operator knows the VM by."""
        return self.name or f"pid {self.pid}"

    @property
    def loudest(self) -> Optional[str]:
        return self.findings[0].level if self.findings else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "pid": self.pid,
            "uid": self.uid,
            "user": self.user,
            "name": self.name,
            "binary": self.binary,
            "version": self.version,
            "accelerator": self.accel,
            "kvm_capable": self.kvm_capable,
            "strength": self.strength,
            "vcpus_live": self.vcpus_live,
            "evidence": [e.to_dict() for e in self.evidence],
            "facts": self.facts.to_dict(),
            "findings": [f.to_dict() for f in self.findings],
            "argv": list(self.argv),
        }


@dataclass(frozen=True)
class Scan:
    vms: tuple[VM, ...]
    kvm_works: Optional[bool]  # True, False, or None: /dev/kvm exists but this user cannot open it
    kvm_detail: str
    processes: int  # processes looked at
    scanner_uid: int

    @property
    def tcg_while_kvm_works(self) -> tuple[VM, ...]:
        """VMs on TCG while this host's KVM works (or exists, unconfirmed): ``--check`` fails on these."""
        if self.kvm_works is False:
            return ()
        return tuple(vm for vm in self.vms if vm.accel == "tcg" and vm.kvm_capable)

    def find(self, pid: int) -> Optional[VM]:
        for vm in self.vms:
            if vm.pid == pid:
                return vm
        return None

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema": SCHEMA_VERSION,
            "host": {"kvm_works": self.kvm_works, "detail": self.kvm_detail,
                     "scanner_uid": self.scanner_uid, "processes": self.processes},
            "vms": [vm.to_dict() for vm in self.vms],
            "tcg_while_kvm_works": [vm.pid for vm in self.tcg_while_kvm_works],
        }


# --------------------------------------------------------------------------- command lines

# Binaries named so are QEMU system emulators: qemu-system-*, qemu-kvm (RHEL's
# /usr/libexec/qemu-kvm), Debian's kvm (a link to qemu-system-x86_64).
_QEMU_NAME_RE = re.compile(r"(?:qemu-system-[\w.-]+|qemu-kvm|kvm)")

# QEMU options that take no argument (qemu-options.hx, HAS_ARG 0); every other takes one.
NO_ARG_OPTIONS = frozenset([
    "h", "help", "version", "nodefaults", "no-user-config", "nodefconfig", "snapshot", "enable-kvm",
    "no-kvm", "S", "s", "daemonize", "nographic", "no-reboot", "no-shutdown", "no-hpet", "no-acpi",
    "no-fd-bootchk", "full-screen", "alt-grab", "ctrl-grab", "no-quit", "no-frame", "win2k-hack",
    "rtc-td-hack", "usb", "mem-prealloc", "enable-fips", "semihosting", "preconfig",
    "only-migratable", "singlestep", "xen-attach", "xen-domid-restrict", "enable-sync-profile",
    "portrait", "curses", "sdl", "audio-help", "perfmap", "old-param", "no-kvm-irqchip",
    "no-kvm-pit", "no-kvm-pit-reinjection",
])

_NIC_MODELS = frozenset({
    "virtio-net-pci", "virtio-net-pci-non-transitional", "virtio-net-pci-transitional",
    "virtio-net-device", "virtio-net-ccw", "virtio-net", "e1000", "e1000-82544gc",
    "e1000-82545em", "e1000e", "igb", "rtl8139", "ne2k_pci", "ne2k_isa", "pcnet", "i82550",
    "i82551", "i82557a", "i82557b", "i82557c", "i82558a", "i82558b", "i82559a", "i82559b",
    "i82559c", "i82559er", "i82562", "i82801", "vmxnet3", "usb-net", "spapr-vlan", "tulip",
    "sungem", "lan9118", "smc91c111",
})
EMULATED_NICS = frozenset({"e1000", "e1000-82544gc", "e1000-82545em", "e1000e", "rtl8139",
                           "ne2k_pci", "ne2k_isa", "pcnet"})
_DISK_DEVICES = {
    "virtio-blk-pci": "virtio", "virtio-blk-pci-non-transitional": "virtio",
    "virtio-blk-pci-transitional": "virtio", "virtio-blk-device": "virtio",
    "virtio-blk-ccw": "virtio", "virtio-blk": "virtio", "vhost-user-blk-pci": "vhost-user",
    "scsi-hd": "scsi", "scsi-cd": "scsi", "scsi-disk": "scsi", "scsi-block": "scsi",
    "scsi-generic": "scsi", "ide-hd": "ide", "ide-cd": "ide", "ide-drive": "ide",
    "nvme": "nvme", "usb-storage": "usb", "floppy": "floppy", "sd-card": "sd",
}
_PROTOCOL_DRIVERS = frozenset({"file", "host_device", "host_cdrom", "nbd", "iscsi", "rbd",
                               "http", "https", "ftp", "ftps", "ssh", "gluster", "nfs",
                               "null-co", "null-aio", "nvme", "io_uring"})
_LEGACY_DISKS = {"hda": "ide", "hdb": "ide", "hdc": "ide", "hdd": "ide", "fda": "floppy",
                 "fdb": "floppy", "sd": "sd", "mtdblock": "mtd", "pflash": "pflash"}
_SIZE_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([bkmgtpe]?)i?b?\s*$", re.IGNORECASE)
_SIZE_UNITS = {"": 1.0, "b": 1 / (1 << 20), "k": 1 / 1024, "m": 1.0, "g": 1024.0,
               "t": 1024.0 ** 2, "p": 1024.0 ** 3, "e": 1024.0 ** 4}


# `uname -m` -> the qemu-system-* targets that can use KVM on that machine.
KVM_TARGETS = {
    "x86_64": ("x86_64", "i386"), "amd64": ("x86_64", "i386"), "i686": ("i386",),
    "i386": ("i386",), "aarch64": ("aarch64",), "arm64": ("aarch64",), "armv7l": ("arm",),
    "ppc64le": ("ppc64",), "ppc64": ("ppc64",), "s390x": ("s390x",), "riscv64": ("riscv64",),
    "loongarch64": ("loongarch64",), "mips64": ("mips64el", "mips64"),
}


def qemu_target(argv0: str) -> str:
    """The guest architecture of a QEMU binary (``qemu-system-aarch64`` -> ``aarch64``);
    ``""`` for ``qemu-kvm`` and ``kvm``, which are built for the host's own."""
    base = argv0.rsplit("/", 1)[-1]
    return base[len("qemu-system-"):] if base.startswith("qemu-system-") else ""


def is_qemu_argv(argv0: str) -> bool:
    """Whether a process whose ``argv[0]`` is this is a QEMU system emulator."""
    return _QEMU_NAME_RE.fullmatch(argv0.rsplit("/", 1)[-1]) is not None


def split_suboptions(text: str, implied: str = "") -> list[tuple[str, str]]:
    """``key=value,key=value`` as QEMU splits it: ``,,`` is a literal comma.

    A first item without ``=`` is the value of ``implied`` when one is given; any other
    item without ``=`` is a flag (``server`` -> ``("server", "on")``, ``+vmx`` kept as a key).
    """
    if ",," in text:
        # A doubled comma is a literal one: split on the single commas only.
        items = [part.replace("\0", ",") for part in text.replace(",,", "\0").split(",")]
    else:
        items = text.split(",")
    pairs: list[tuple[str, str]] = []
    for index, item in enumerate(items):
        if not item and index:
            continue
        key, sep, value = item.partition("=")
        if not sep:
            if index == 0 and implied:
                pairs.append((implied, item))
            elif item.startswith("no") and len(item) > 2 and item not in ("none",):
                pairs.append((item[2:], "off"))
            else:
                pairs.append((item, "on"))
        else:
            pairs.append((key, value))
    return pairs


def _json_options(text: str) -> Optional[dict[str, Any]]:
    # libvirt passes -blockdev, -device, -object and -netdev as JSON objects.
    if not text.startswith("{"):
        return None
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


@functools.lru_cache(maxsize=4096)
def _options(text: str, implied: str) -> dict[str, str]:
    """The sub-options of one argument (JSON or ``key=value,...``), last one wins.

    Cached, since VMs share most option strings: callers must not change the dict.
    """
    found = _json_options(text)
    if found is not None:
        return {str(k): v if isinstance(v, str) else json.dumps(v) for k, v in found.items()}
    return dict(split_suboptions(text, implied))


def _size_mib(text: str) -> Optional[int]:
    match = _SIZE_RE.match(text)
    if not match:
        return None
    return int(float(match.group(1)) * _SIZE_UNITS[match.group(2).lower()])


def _human_bytes(count: int) -> str:
    for unit, scale in (("T", 1 << 40), ("G", 1 << 30), ("M", 1 << 20), ("K", 1 << 10)):
        if count >= scale and count % (scale // 1024 or 1) == 0:
            value = count / scale
            return f"{value:g}{unit}"
    return f"{count}B"


def _on(value: Optional[str]) -> bool:
    return (value or "").lower() in ("on", "yes", "true", "y", "1")


@dataclass
class CommandLine:
    """A QEMU argv split into ``(option, argument)`` pairs (option without dashes).

    Positional arguments (a disk image, as ``qemu-system-x86_64 disk.img``) have the
    option ``""``. An option at the end that needs an argument gets ``None``.
    """

    argv0: str
    options: list[tuple[str, Optional[str]]] = field(default_factory=list)
    _index: Optional[dict[str, list[str]]] = field(default=None, repr=False, compare=False)

    @classmethod
    def parse(cls, argv: Sequence[str]) -> CommandLine:
        line = cls(argv[0] if argv else "")
        args = list(argv[1:])
        i = 0
        while i < len(args):
            arg = args[i]
            i += 1
            if arg.startswith("-") and len(arg) > 1:
                name = arg[2:] if arg.startswith("--") else arg[1:]
                if "=" in name and name.split("=", 1)[0] not in NO_ARG_OPTIONS and arg.startswith("--"):
                    key, value = name.split("=", 1)
                    line.options.append((key, value))
                elif name in NO_ARG_OPTIONS:
                    line.options.append((name, None))
                else:
                    line.options.append((name, args[i] if i < len(args) else None))
                    i += 1
            else:
                line.options.append(("", arg))
        return line

    def all(self, *names: str) -> list[str]:
        """The arguments of these options, in command-line order."""
        if len(names) == 1:
            return self._by_name().get(names[0], [])
        return [value for name, value in self.options if name in names and value is not None]

    def has(self, *names: str) -> bool:
        index = self._by_name()
        return any(name in index for name in names)

    def _by_name(self) -> dict[str, list[str]]:
        if self._index is None:
            self._index = {}
            for name, value in self.options:
                values = self._index.setdefault(name, [])
                if value is not None:
                    values.append(value)
        return self._index


def _accel_intent(line: CommandLine) -> tuple[tuple[str, ...], str]:
    accels: list[str] = []
    asked: list[str] = []
    for name, value in line.options:
        if name == "accel" and value is not None:
            accel = _options(value, "accel").get("accel", "")
            accels += [a for a in accel.split(":") if a]
            asked.append(f"-accel {accel}")
        elif name == "enable-kvm":
            accels.append("kvm")
            asked.append("-enable-kvm")
        elif name in ("machine", "M") and value is not None:
            wanted = _options(value, "type").get("accel")
            if wanted:
                accels += [a for a in wanted.split(":") if a]
                asked.append(f"-machine accel={wanted}")
    unique = tuple(dict.fromkeys(accels))
    return unique, " ".join(asked)


def _default_accel(argv0: str) -> tuple[tuple[str, ...], str]:
    # softmmu/vl.c: with no accelerator given, a program whose name ends in "kvm" tries
    # kvm then tcg; any other tries tcg first (which always works).
    if argv0.rsplit("/", 1)[-1].endswith("kvm"):
        return ("kvm", "tcg"), "none given: a binary named *kvm defaults to kvm:tcg"
    return ("tcg",), "none given: QEMU's default is TCG"


def _qmp_address(spec: str, mode_control: bool = True) -> Optional[QmpAddress]:
    """A QMP socket from ``-qmp SPEC`` (``unix:PATH,server=on,wait=off``, ``tcp:H:P,...``)."""
    head, _, rest = spec.partition(",")
    opts = dict(split_suboptions(rest)) if rest else {}
    server = _on(opts.get("server"))
    waits = opts.get("wait", "on").lower() not in ("off", "no", "false", "n", "0")
    why = ""
    if not server:
        why = "QEMU connects out to it (not a server socket)"
    elif waits:
        why = "it waits for its first client (wait=on): connecting could let QEMU start"
    if head.startswith("unix:"):
        path = head[5:]
        if not why and not path.startswith("/"):
            why = "a relative path, from QEMU's working directory"
        return QmpAddress("unix", path=path, reachable=not why, why=why)
    if head.startswith("tcp:"):
        host, _, port = head[4:].rpartition(":")
        if not port.isdigit():
            return None
        return QmpAddress("tcp", host=host or "127.0.0.1", port=int(port), reachable=not why, why=why)
    return None


def _chardev_qmp(opts: dict[str, str]) -> Optional[QmpAddress]:
    """A QMP socket from ``-chardev socket,id=...`` (as libvirt writes the monitor)."""
    server = _on(opts.get("server"))
    waits = opts.get("wait", "on").lower() not in ("off", "no", "false", "n", "0")
    why = ""
    if "fd" in opts:
        return QmpAddress("fd", reachable=False,
                          why="handed to QEMU by its manager, which holds the connection (libvirt)")
    elif not server:
        why = "QEMU connects out to it (not a server socket)"
    elif waits:
        why = "it waits for its first client (wait=on): connecting could let QEMU start"
    if opts.get("path"):
        if not why and not opts["path"].startswith("/"):
            why = "a relative path, from QEMU's working directory"
        return QmpAddress("unix", path=opts["path"], reachable=not why, why=why)
    if opts.get("host") is not None and opts.get("port", "").isdigit():
        return QmpAddress("tcp", host=opts["host"] or "127.0.0.1", port=int(opts["port"]),
                          reachable=not why, why=why)
    return QmpAddress("unix", path="", reachable=False, why=why or "no path")


def parse_command_line(argv: Sequence[str]) -> Facts:
    """The facts kvmq shows for a VM, from its command line alone."""
    line = CommandLine.parse(argv)
    x86 = any(t in line.argv0 for t in ("x86_64", "i386", "kvm"))
    accel, accel_option = _accel_intent(line)

    name = ""
    for value in line.all("name"):
        name = _options(value, "guest").get("guest", name)

    machine = ""
    for value in line.all("machine", "M"):
        machine = _options(value, "type").get("type", machine)
    cpu = ""
    for value in line.all("cpu"):
        cpu = split_suboptions(value, "model")[0][1] if value else cpu

    vcpus = 1
    for value in line.all("smp"):
        opts = _options(value, "cpus")
        if opts.get("cpus", "").isdigit():
            vcpus = int(opts["cpus"])
        else:
            product = 1
            for key in ("sockets", "dies", "clusters", "cores", "threads"):
                if opts.get(key, "").isdigit():
                    product *= int(opts[key])
            vcpus = product

    memory: str = "128M"
    memory_mib: Optional[int] = 128
    for value in line.all("m"):
        size = _options(value, "size").get("size", "")
        if size:
            memory = size if not size.isdigit() else f"{size}M"
            memory_mib = _size_mib(size)

    backends: list[str] = []
    hugepages = False
    for value in line.all("object"):
        opts = _options(value, "qom-type")
        kind = opts.get("qom-type", "")
        if kind.startswith("memory-backend"):
            text = kind
            if opts.get("size"):
                size = opts["size"]
                text += f" {_human_bytes(int(size)) if size.isdigit() else size}"
            if opts.get("mem-path"):
                text += f" at {opts['mem-path']}"
            if _on(opts.get("hugetlb")) or "huge" in opts.get("mem-path", ""):
                hugepages = True
                text += " (hugepages)"
            if _on(opts.get("prealloc")):
                text += ", prealloc"
            if _on(opts.get("share")):
                text += ", shared"
            backends.append(text)
    for value in line.all("mem-path"):
        backends.append(f"-mem-path {value}")
        hugepages = hugepages or "huge" in value
    if line.has("mem-prealloc"):
        backends.append("-mem-prealloc")

    disks = _disks(line, "ide" if x86 else "default")
    nics = _nics(line)
    display = _display(line)

    qmp: list[QmpAddress] = []
    for value in line.all("qmp", "qmp-pretty"):
        address = _qmp_address(value)
        if address:
            qmp.append(address)
    chardevs = {}
    for value in line.all("chardev"):
        opts = _options(value, "backend")
        if opts.get("backend") == "socket" and opts.get("id"):
            chardevs[opts["id"]] = opts
    hmp = line.has("monitor")
    for value in line.all("mon"):
        opts = _options(value, "chardev")
        if opts.get("mode", "readline") != "control":
            hmp = True
            continue
        found = chardevs.get(opts.get("chardev", ""))
        if found is not None:
            address = _chardev_qmp(found)
            if address:
                qmp.append(address)

    return Facts(
        name=name, accel=accel, accel_option=accel_option, machine=machine, cpu=cpu,
        vcpus=vcpus, memory=memory, memory_mib=memory_mib, memory_backends=tuple(backends),
        hugepages=hugepages, disks=tuple(disks), nics=tuple(nics), display=display,
        qmp=tuple(qmp), hmp=hmp, nodefaults=line.has("nodefaults"),
        readconfig=line.has("readconfig"),
    )


def _blockdev_file(nodes: dict[str, dict[str, Any]], node: Any, depth: int = 0) -> tuple[str, str]:
    """(file, format) of a -blockdev node, following its ``file`` child."""
    if depth > 8:
        return "", ""
    if isinstance(node, str):
        found = nodes.get(node)
        if found is None:
            return node, ""
        node = found
    if not isinstance(node, dict):
        return "", ""
    driver = str(node.get("driver", ""))
    filename = str(node.get("filename") or node.get("path") or "")
    child = node.get("file")
    if child is None:
        # key=value syntax flattens children: file.filename=...
        child_name = node.get("file.filename")
        if child_name:
            return str(child_name), "" if driver in _PROTOCOL_DRIVERS else driver
        return filename, "" if driver in _PROTOCOL_DRIVERS else driver
    child_file, child_format = _blockdev_file(nodes, child, depth + 1)
    fmt = driver if driver not in _PROTOCOL_DRIVERS else child_format
    return child_file or filename, fmt


def _disks(line: CommandLine, default_bus: str) -> list[Disk]:
    disks: list[Disk] = []
    drives: dict[str, dict[str, str]] = {}  # if=none drives, attached by a -device
    nodes: dict[str, dict[str, Any]] = {}
    for name, value in line.options:
        if value is None:
            continue
        if name == "drive":
            opts = _options(value, "")
            interface = opts.get("if", default_bus)
            if interface == "none":
                if opts.get("id"):
                    drives[opts["id"]] = opts
                continue
            disks.append(Disk(opts.get("file", ""), opts.get("format", ""), interface,
                              opts.get("media", "disk")))
        elif name in _LEGACY_DISKS:
            disks.append(Disk(value, "", _LEGACY_DISKS[name]))
        elif name == "cdrom":
            disks.append(Disk(value, "", default_bus, "cdrom"))
        elif name == "" and not value.startswith("-"):
            disks.append(Disk(value, "", default_bus))
        elif name == "blockdev":
            parsed = _json_options(value)
            node: dict[str, Any] = parsed if parsed is not None else dict(split_suboptions(value))
            if node.get("node-name"):
                nodes[str(node["node-name"])] = node
    for value in line.all("device"):
        opts = _options(value, "driver")
        driver = opts.get("driver", "")
        bus = _DISK_DEVICES.get(driver)
        if bus is None or "drive" not in opts:
            continue
        ref = opts["drive"]
        media = "cdrom" if driver.endswith("-cd") else "disk"
        if ref in drives:
            drive = drives[ref]
            disks.append(Disk(drive.get("file", ""), drive.get("format", ""), bus,
                              "cdrom" if drive.get("media") == "cdrom" else media))
        elif ref in nodes:
            file, fmt = _blockdev_file(nodes, ref)
            disks.append(Disk(file, fmt, bus, media))
        else:
            disks.append(Disk(ref, "", bus, media))
    return disks


def _nics(line: CommandLine) -> list[Nic]:
    backends: dict[str, dict[str, str]] = {}
    nics: list[Nic] = []
    for value in line.all("netdev"):
        opts = _options(value, "type")
        if opts.get("id"):
            backends[opts["id"]] = opts
    for value in line.all("device"):
        opts = _options(value, "driver")
        driver = opts.get("driver", "")
        if driver not in _NIC_MODELS and "netdev" not in opts:
            continue
        backend = backends.get(opts.get("netdev", ""), {})
        vhost = _on(backend["vhost"]) if "vhost" in backend else None
        nics.append(Nic(backend.get("type", ""), driver, vhost))
    for value in line.all("nic"):
        opts = _options(value, "type")
        if opts.get("type") == "none":
            continue
        vhost = _on(opts["vhost"]) if "vhost" in opts else None
        nics.append(Nic(opts.get("type", ""), opts.get("model", "default"), vhost))
    legacy_models = []
    legacy_backends = []
    for value in line.all("net"):
        opts = _options(value, "type")
        if opts.get("type") == "nic":
            legacy_models.append(opts.get("model", "default"))
        elif opts.get("type") not in (None, "none"):
            legacy_backends.append(opts)
    for index, model in enumerate(legacy_models):
        backend = legacy_backends[index] if index < len(legacy_backends) else {}
        vhost = _on(backend["vhost"]) if "vhost" in backend else None
        nics.append(Nic(backend.get("type", ""), model, vhost))
    no_net = line.has("nodefaults") or any(
        line.all(o) for o in ("net", "nic", "netdev"))
    if not no_net:
        nics.append(Nic("user", "default"))
    return nics


def _display(line: CommandLine) -> str:
    shown: list[str] = []
    for name, value in line.options:
        if name == "display" and value is not None:
            shown.append(_options(value, "type").get("type", value))
        elif name == "nographic":
            shown.append("none (-nographic: serial and monitor on stdio)")
        elif name == "vnc" and value is not None:
            shown.append(f"vnc {value.split(',', 1)[0]}")
        elif name == "spice" and value is not None:
            shown.append("spice")
        elif name in ("sdl", "curses"):
            shown.append(name)
    return "; ".join(shown) if shown else "default (gtk, sdl or vnc, whichever this build has)"


# --------------------------------------------------------------------------- probes


@dataclass(frozen=True)
class QmpAnswer:
    enabled: Optional[bool] = None
    present: Optional[bool] = None
    version: str = ""
    error: str = ""


def query_kvm(address: QmpAddress, timeout: float = QMP_TIMEOUT, root: Path = Path("/")) -> QmpAnswer:
    """Ask a QMP server ``query-kvm``: only ``qmp_capabilities`` and ``query-kvm`` are sent.

    Never raises; ``error`` says what went wrong. The whole exchange has one deadline.
    """
    deadline = time.monotonic() + timeout
    try:
        if address.kind == "unix":
            target = str(root / address.path.lstrip("/")) if address.path.startswith("/") else address.path
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            connect_to: Union[str, tuple[str, int]] = target
        else:
            family = socket.AF_INET6 if ":" in address.host else socket.AF_INET
            sock = socket.socket(family, socket.SOCK_STREAM)
            connect_to = (address.host.strip("[]"), address.port)
    except (OSError, ValueError) as exc:
        return QmpAnswer(error=_oserror_text(exc))
    with sock:
        try:
            sock.settimeout(timeout)
            sock.connect(connect_to)
            reader = _QmpReader(sock, deadline)
            greeting = reader.message()
            version = ""
            qemu = greeting.get("QMP", {}).get("version", {}).get("qemu", {})
            if isinstance(qemu, dict) and "major" in qemu:
                version = printable(f"{qemu.get('major')}.{qemu.get('minor')}.{qemu.get('micro')}")[:40]
            if "QMP" not in greeting:
                return QmpAnswer(error="no QMP greeting")
            sock.sendall(b'{"execute": "qmp_capabilities"}\r\n')
            reader.reply()
            sock.sendall(b'{"execute": "query-kvm"}\r\n')
            answer = reader.reply()
        except socket.timeout:
            return QmpAnswer(error=f"no answer within {timeout:g} s (another client may hold the monitor)")
        except (OSError, ValueError) as exc:
            return QmpAnswer(error=_oserror_text(exc))
    result = answer.get("return")
    if not isinstance(result, dict):
        error = answer.get("error", {})
        return QmpAnswer(version=version, error=f"query-kvm failed: {error.get('desc', 'no return')}"
                         if isinstance(error, dict) else "query-kvm failed")
    return QmpAnswer(enabled=bool(result.get("enabled")), present=bool(result.get("present")),
                     version=version)


class _QmpReader:
    """Reads one JSON object per line from a QMP socket, up to 64 KiB in all."""

    LIMIT = 64 * 1024

    def __init__(self, sock: socket.socket, deadline: float) -> None:
        self.sock = sock
        self.deadline = deadline
        self.buffer = b""
        self.total = 0

    def message(self) -> dict[str, Any]:
        while b"\n" not in self.buffer:
            remaining = self.deadline - time.monotonic()
            if remaining <= 0:
                raise socket.timeout()
            self.sock.settimeout(remaining)
            chunk = self.sock.recv(4096)
            if not chunk:
                raise ValueError("QMP closed the connection")
            self.total += len(chunk)
            if self.total > self.LIMIT:
                raise ValueError("QMP sent too much")
            self.buffer += chunk
        line, _, self.buffer = self.buffer.partition(b"\n")
        value = json.loads(line.decode("utf-8", "replace"))
        if not isinstance(value, dict):
            raise ValueError("QMP sent something other than an object")
        return value

    def reply(self) -> dict[str, Any]:
        while True:
            message = self.message()
            if "return" in message or "error" in message:
                return message
            # events ({"event": ...}) may come in between


def _oserror_text(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror.lower() if exc.errno in (errno.EACCES, errno.EPERM) else exc.strerror
    return str(exc) or type(exc).__name__


def probe_kvm(root: Path = Path("/")) -> tuple[Optional[bool], str]:
    """Whether this host's KVM works: ``KVM_GET_API_VERSION`` on ``/dev/kvm``.

    ``None`` when ``/dev/kvm`` exists but this user may not open it.
    """
    path = root / "dev/kvm"
    try:
        version = real_kvm_api_version(path)
    except FileNotFoundError:
        return False, "/dev/kvm does not exist"
    except PermissionError:
        return None, "/dev/kvm exists, but this user may not open it"
    except OSError as exc:
        return False, f"/dev/kvm does not answer KVM_GET_API_VERSION: {_oserror_text(exc)}"
    if version != KVM_STABLE_API_VERSION:
        return False, f"/dev/kvm answers API version {version}, not {KVM_STABLE_API_VERSION}"
    return True, f"/dev/kvm answers KVM_GET_API_VERSION {version}"


_VERSION_RE = re.compile(r"version\s+(\d+\.\d+(?:\.\d+)?)")
_versions: dict[tuple[str, int, int, int], str] = {}


def binary_version(path: Path, timeout: float = VERSION_TIMEOUT) -> str:
    """``QEMU emulator version X`` of a binary, cached per binary (path, inode, mtime, size)."""
    try:
        st = os.stat(path)
    except OSError:
        return ""
    key = (str(path), st.st_ino, st.st_mtime_ns, st.st_size)
    if key in _versions:
        return _versions[key]
    result = run_program([str(path), "--version"], timeout)
    match = _VERSION_RE.search(result.stdout) if result.ok else None
    version = match.group(1) if match else ""
    _versions[key] = version
    return version


# --------------------------------------------------------------------------- the scan

_DOMSTATUS_PID_RE = re.compile(r"<domstatus\b[^>]*\bpid=['\"](\d+)['\"]")
_DOMAIN_TYPE_RE = re.compile(r"<domain\b[^>]*\btype=['\"]([\w-]+)['\"]")
_VCPU_THREAD_RE = re.compile(r"^CPU \d+/(\w+)$|^ALL CPUs/(\w+)$")
_THREAD_ACCELS = {"KVM": "kvm", "TCG": "tcg", "HVF": "hvf", "WHPX": "whpx", "NVMM": "nvmm",
                  "Xen": "xen", "HAX": "hax", "qtest": "qtest"}


@dataclass
class _Context:
    root: Path
    proc: Path
    kvm_works: Optional[bool]
    qmp: Callable[[QmpAddress, float, Path], QmpAnswer]
    qmp_timeout: float
    version: Callable[[Path], str]
    machine: str = ""
    qmp_deadline: float = float("inf")
    users: dict[int, str] = field(default_factory=dict)
    versions: dict[str, str] = field(default_factory=dict)
    passwd: Optional[dict[int, str]] = None


def _read(path: Union[str, Path], limit: int) -> Optional[bytes]:
    try:
        with open(path, "rb") as handle:
            return handle.read(limit)
    except OSError:
        return None


def _user_name(ctx: _Context, uid: Optional[int]) -> str:
    if uid is None:
        return ""
    if uid in ctx.users:
        return ctx.users[uid]
    name = ""
    if ctx.root == Path("/"):
        try:
            name = printable(pwd.getpwuid(uid).pw_name)
        except (KeyError, OverflowError):
            name = ""
    else:
        if ctx.passwd is None:
            ctx.passwd = {}
            raw = _read(ctx.root / "etc/passwd", 1 << 20) or b""
            for entry in raw.decode("utf-8", "replace").splitlines():
                parts = entry.split(":")
                if len(parts) > 2 and parts[2].isdigit():
                    ctx.passwd.setdefault(int(parts[2]), printable(parts[0]))
        name = ctx.passwd.get(uid, "")
    ctx.users[uid] = name or f"uid {uid}"
    return ctx.users[uid]


def _status_uid(raw: Optional[bytes]) -> Optional[int]:
    if not raw:
        return None
    start = raw.find(b"\nUid:")
    if start < 0:
        return None
    fields = raw[start + 5: raw.find(b"\n", start + 5)].split()
    return int(fields[0]) if fields and fields[0].isdigit() else None


def _fd_evidence(pid_dir: str) -> tuple[Evidence, Optional[int], bool]:
    """(evidence, live vCPUs, whether the fds could be read)."""
    fd_dir = pid_dir + "/fd"
    try:
        names = os.listdir(fd_dir)
    except PermissionError:
        return (Evidence("fds", UNAVAILABLE, None,
                         "file descriptors not readable by this user (owner or root only)"),
                None, False)
    except OSError as exc:
        return Evidence("fds", UNAVAILABLE, None, f"file descriptors: {_oserror_text(exc)}"), None, False
    vm = False
    vcpus = 0
    readlink = os.readlink
    for name in names:
        try:
            target = readlink(f"{fd_dir}/{name}")
        except OSError:
            continue
        if target.startswith("anon_inode:kvm-"):
            if target == "anon_inode:kvm-vm":
                vm = True
            elif target.startswith("anon_inode:kvm-vcpu:"):
                vcpus += 1
    if vm:
        return (Evidence("fds", PROOF, "kvm",
                         f"holds anon_inode:kvm-vm and {vcpus} anon_inode:kvm-vcpu descriptor"
                         f"{'s' if vcpus != 1 else ''}"), vcpus, True)
    return (Evidence("fds", PROOF, "tcg",
                     f"{len(names)} descriptors read, none is a KVM VM (anon_inode:kvm-vm)"),
            None, True)


def _libvirt_evidence(ctx: _Context, pid: int, uid: Optional[int], name: str) -> Optional[Evidence]:
    if not name or "/" in name or name.startswith("."):
        return None
    places = [ctx.root / "run/libvirt/qemu" / f"{name}.xml"]
    if uid is not None:
        places.append(ctx.root / f"run/user/{uid}/libvirt/qemu/run/{name}.xml")
    for path in places:
        try:
            with open(path, "rb") as handle:
                raw = handle.read(XML_LIMIT)
        except FileNotFoundError:
            continue
        except PermissionError:
            return Evidence("libvirt", UNAVAILABLE, None,
                            f"{_host_path(ctx, path)} not readable by this user (root only)")
        except OSError as exc:
            return Evidence("libvirt", UNAVAILABLE, None, f"{_host_path(ctx, path)}: {_oserror_text(exc)}")
        text = raw.decode("utf-8", "replace")
        owner = _DOMSTATUS_PID_RE.search(text)
        if owner and int(owner.group(1)) != pid:
            return Evidence("libvirt", UNAVAILABLE, None,
                            f"{_host_path(ctx, path)} belongs to pid {owner.group(1)}, not this process")
        kind = _DOMAIN_TYPE_RE.search(text)
        if not kind:
            return Evidence("libvirt", UNAVAILABLE, None, f"{_host_path(ctx, path)} names no domain type")
        accel = {"kvm": "kvm", "qemu": "tcg"}.get(kind.group(1), printable(kind.group(1)))
        shown = printable(kind.group(1))
        return Evidence("libvirt", STRONG, accel,
                        f"libvirt's live XML {_host_path(ctx, path)}: <domain type='{shown}'>")
    return None


def _host_path(ctx: _Context, path: Path) -> str:
    try:
        return "/" + str(path.relative_to(ctx.root))
    except ValueError:
        return str(path)


def _qmp_evidence(ctx: _Context, facts: Facts) -> tuple[Optional[Evidence], str]:
    """(evidence, QEMU version from the greeting)."""
    if not facts.qmp:
        return None, ""
    reasons: list[str] = []
    for address in facts.qmp:
        where = address.describe()
        if not address.reachable:
            reasons.append(f"{where}: not opened, {address.why}")
            continue
        left = ctx.qmp_deadline - time.monotonic()
        if left <= 0:
            # Busy monitors each cost a timeout: a scan spends at most QMP_SCAN_BUDGET on them.
            reasons.append(f"{where}: not asked in this scan, its {QMP_SCAN_BUDGET:g} s for QMP were spent")
            continue
        answer = ctx.qmp(address, min(ctx.qmp_timeout, left), ctx.root)
        if answer.error:
            reasons.append(f"{where}: {answer.error}")
            continue
        accel = "kvm" if answer.enabled else "tcg"
        detail = (f"query-kvm over {where}: enabled={str(answer.enabled).lower()}, "
                  f"present={str(answer.present).lower()}")
        return Evidence("qmp", PROOF, accel, detail), answer.version
    return Evidence("qmp", UNAVAILABLE, None, "QMP " + "; ".join(reasons)), ""


def _thread_evidence(pid_dir: str) -> tuple[Optional[Evidence], Optional[int]]:
    try:
        tids = os.listdir(pid_dir + "/task")
    except OSError:
        return None, None
    counts: dict[str, int] = {}
    for tid in tids:
        raw = _read(f"{pid_dir}/task/{tid}/comm", 64)
        if not raw:
            continue
        match = _VCPU_THREAD_RE.match(raw.decode("utf-8", "replace").strip())
        if match:
            accel = _THREAD_ACCELS.get(match.group(1) or match.group(2), UNKNOWN)
            counts[accel] = counts.get(accel, 0) + (1 if match.group(1) else 0)
    if not counts:
        return None, None
    accel = max(counts, key=lambda a: counts[a])
    threads = counts[accel]
    names = "CPU N/" + next(k for k, v in _THREAD_ACCELS.items() if v == accel) \
        if accel in _THREAD_ACCELS.values() else "CPU N/?"
    detail = (f"vCPU threads named {names} ({threads} thread{'s' if threads != 1 else ''}),"
              " as QEMU's accelerator names them with debug-threads=on")
    return Evidence("threads", STRONG, accel, detail), (threads or None)


def _intent_evidence(facts: Facts, argv0: str) -> Evidence:
    accels, asked = facts.accel, facts.accel_option
    if not accels:
        accels, asked = _default_accel(argv0)
    if facts.readconfig and not facts.accel:
        asked += " (a -readconfig file may choose another)"
    if len(accels) == 1:
        accel = accels[0]
        detail = asked
        if accel != "tcg":
            detail += f"; QEMU exits when {accel} fails, so a running process uses it"
    else:
        accel = UNKNOWN
        detail = f"{asked}: {accels[0]}, silently falling back to {':'.join(accels[1:])}"
    return Evidence("cmdline", INTENT, accel, detail)


def _findings(vm_accel: str, strength: str, facts: Facts, argv0: str, kvm_works: Optional[bool],
              binary_deleted: bool, foreign: bool = False) -> list[Finding]:
    found: list[Finding] = []
    if foreign:
        # Another architecture's guest: TCG is the only accelerator, so nothing to flag there.
        found.append(Finding(NOTE, "foreign-architecture",
                             f"a {qemu_target(argv0)} guest on this host's CPU: TCG emulation is "
                             "the only way to run it", "KVM runs guests of the host's own architecture only"))
        kvm_works = False if vm_accel == "tcg" else kvm_works
    intended = facts.accel or _default_accel(argv0)[0]
    fallback = len(intended) > 1 and intended[0] != "tcg"
    kvm_here = kvm_works is not False
    confirm = "" if kvm_works else " (/dev/kvm exists; this user cannot confirm it works)"
    if vm_accel == "tcg":
        if kvm_here:
            if facts.accel and "kvm" in facts.accel:
                why = (f"it asked for {facts.accel_option} and fell back to TCG without a word"
                       if strength != INTENT else f"it asked for {facts.accel_option}")
            elif facts.accel:
                why = f"it asked for TCG ({facts.accel_option})"
            else:
                why = "no accelerator was given, and QEMU's default is TCG"
            found.append(Finding(
                ERROR, "tcg-while-kvm-works",
                f"runs on TCG (software emulation) while this host's KVM works{confirm}: {why}",
                "start it with -accel kvm (and -cpu host); TCG is many times slower and is no "
                "security boundary"))
        elif not foreign:
            found.append(Finding(WARNING, "tcg", "runs on TCG (software emulation): this host has no "
                                 "working KVM", "see kvmq check"))
    elif vm_accel == UNKNOWN and fallback and kvm_here:
        found.append(Finding(
            WARNING, "accel-unproven-fallback",
            "may run on TCG: its accelerator list falls back silently, and no source could tell "
            "which one it got", PROOF_HINT))
    if fallback:
        level = NOTE if vm_accel == "kvm" else WARNING
        found.append(Finding(
            level, "accel-fallback",
            f"accelerator list {':'.join(intended)} ({facts.accel_option or 'the default of a *kvm binary'}):"
            " if KVM fails at the next start, QEMU runs on TCG without a word",
            "ask for -accel kvm alone, so a broken KVM stops the start instead"))
    if vm_accel == "kvm" and (not facts.cpu or facts.cpu in ("qemu64", "kvm64", "qemu32", "kvm32")):
        model = facts.cpu or "the default model (qemu64 on x86)"
        found.append(Finding(
            WARNING, "default-cpu-under-kvm",
            f"KVM with CPU {model}: the guest sees a generic CPU without most of the host's features",
            "use -cpu host (or a named model such as -cpu EPYC or Skylake-Server for migration)"))
    if binary_deleted:
        found.append(Finding(WARNING, "binary-replaced",
                             "its binary was replaced or deleted since it started (an upgrade is "
                             "waiting for a restart)", "restart the VM to run the installed QEMU"))
    for disk in facts.disks:
        if disk.bus == "ide" and disk.media == "disk":
            found.append(Finding(NOTE, "ide-disk", f"emulated IDE disk {disk.file or '(empty)'}",
                                 "virtio-blk or virtio-scsi is much faster (the guest needs virtio drivers)"))
    for nic in facts.nics:
        if nic.model in EMULATED_NICS or (nic.model == "default" and nic.backend):
            model = nic.model if nic.model != "default" else "QEMU's default model (e1000 on x86)"
            found.append(Finding(NOTE, "emulated-nic", f"emulated NIC {model}",
                                 "virtio-net-pci (with vhost=on) is much faster"))
        if nic.backend == "user":
            found.append(Finding(NOTE, "user-networking",
                                 "user-mode networking (slirp): NAT, slow, no inbound connections",
                                 "a tap device on a bridge (-netdev tap,vhost=on) for real networking"))
    if strength == INTENT:
        found.append(Finding(NOTE, "unproven", "accelerator from the command line only: intent, not proof",
                             PROOF_HINT))
    order = {level: index for index, level in enumerate(LEVELS)}
    return sorted(found, key=lambda f: order[f.level])


def _age_seconds(ctx: _Context, pid_dir: str) -> Optional[float]:
    """Seconds since the process started (``stat`` field 22 against ``/proc/uptime``)."""
    stat = _read(pid_dir + "/stat", 4096)
    uptime = _read(f"{ctx.proc}/uptime", 128)
    if not stat or not uptime:
        return None
    try:
        fields = stat[stat.rindex(b")") + 2:].split()
        started = int(fields[19]) / os.sysconf("SC_CLK_TCK")
        return float(uptime.split()[0]) - started
    except (ValueError, IndexError, OSError):
        return None


#: A QEMU younger than this may not have opened KVM yet.
STARTING_SECONDS = 3.0


def _inspect(ctx: _Context, pid: int, argv: tuple[str, ...]) -> Optional[VM]:
    pid_dir = f"{ctx.proc}/{pid}"
    status = _read(pid_dir + "/status", 4096)
    if status is None:
        return None  # gone since its command line was read
    uid = _status_uid(status)
    facts = parse_command_line(argv)
    argv0 = argv[0]

    binary, deleted = "", False
    try:
        binary = os.readlink(pid_dir + "/exe")
        if binary.endswith(" (deleted)"):
            binary, deleted = binary[: -len(" (deleted)")], True
        binary = printable(binary)
    except OSError:
        binary = argv0 if "/" in argv0 else _which(ctx, argv0)
    version = ""
    if binary.startswith("/") and not deleted:
        version = ctx.versions.get(binary, "")
        if binary not in ctx.versions:
            version = ctx.versions[binary] = ctx.version(ctx.root / binary.lstrip("/"))

    evidence: list[Evidence] = []
    fds, vcpus_live, fds_read = _fd_evidence(pid_dir)
    decided: Optional[Evidence] = fds if fds_read else None
    intended = facts.accel or _default_accel(argv0)[0]
    if fds_read and fds.accel == "tcg":
        if "tcg" not in intended:
            # No KVM descriptors, yet it may not run on TCG: it is starting, or asked for another
            # accelerator (xen, ...). Only its threads or its intent can tell.
            age = _age_seconds(ctx, pid_dir)
            young = age is not None and age < STARTING_SECONDS
            why = (f"started {age:.1f} s ago and may not have opened KVM yet" if young else
                   f"it asked for {facts.accel_option or 'no TCG'}")
            fds = Evidence("fds", UNAVAILABLE, None, fds.detail + f"; {why}")
            decided = None
        elif "kvm" in intended:
            age = _age_seconds(ctx, pid_dir)
            if age is not None and age < STARTING_SECONDS:
                fds = Evidence("fds", UNAVAILABLE, None,
                               fds.detail + f"; started {age:.1f} s ago and may not have opened KVM yet")
                decided = None
    evidence.append(fds)
    if decided is None:
        libvirt = _libvirt_evidence(ctx, pid, uid, facts.name)
        if libvirt is not None:
            evidence.append(libvirt)
            if libvirt.accel is not None:
                decided = libvirt
    if decided is None:
        qmp, qmp_version = _qmp_evidence(ctx, facts)
        if qmp is not None:
            evidence.append(qmp)
            if qmp.accel is not None:
                decided = qmp
                if not version:
                    version = qmp_version
    if decided is None:
        threads, thread_vcpus = _thread_evidence(pid_dir)
        if threads is not None:
            evidence.append(threads)
            decided = threads
            vcpus_live = thread_vcpus
    intent = _intent_evidence(facts, argv0)
    evidence.append(intent)
    if decided is None:
        decided = intent
    accel = decided.accel or UNKNOWN
    target = qemu_target(argv0)
    foreign = bool(target and ctx.machine and target not in KVM_TARGETS.get(ctx.machine, (ctx.machine,)))
    findings = _findings(accel, decided.strength, facts, argv0, ctx.kvm_works, deleted, foreign)
    return VM(pid=pid, uid=uid, user=_user_name(ctx, uid), name=facts.name, binary=binary,
              version=version, argv=argv, accel=accel, strength=decided.strength,
              vcpus_live=vcpus_live, evidence=tuple(evidence), facts=facts,
              findings=tuple(findings), findings_for=ctx.kvm_works, kvm_capable=not foreign)


def _which(ctx: _Context, name: str) -> str:
    for directory in ("/usr/local/bin", "/usr/bin", "/bin", "/usr/libexec", "/usr/local/sbin",
                      "/usr/sbin"):
        if os.access(ctx.root / directory.lstrip("/") / name, os.X_OK):
            return f"{directory}/{name}"
    return name


def _qemu_argv(raw: bytes) -> Optional[tuple[str, ...]]:
    """The decoded argv when ``raw`` (a /proc cmdline) is a QEMU system emulator's."""
    end = raw.find(b"\0")
    first = raw if end < 0 else raw[:end]
    # Cheap bytes test first: most processes are not QEMU.
    if b"kvm" not in first and b"qemu-system-" not in first:
        return None
    argv0 = _decode(first)
    if is_qemu_argv(argv0):
        return _decode_argv(raw)
    if b"\0" not in raw.rstrip(b"\0") and b" " in first:
        # A rewritten process title: the whole command line in one string.
        words = tuple(argv0.split())
        if words and is_qemu_argv(words[0]):
            return words
    return None


#: How long a VM's proven accelerator is reused by a :class:`Scanner` before it looks again.
REUSE_SECONDS = 30.0


class Scanner:
    """Scans a ``/proc`` again and again, as the explorer does every few seconds.

    A process cannot change its accelerator, so a VM whose accelerator was proven (or shown
    by strong evidence) is reused from the last scan while the same PID has the same command
    line, for up to ``reuse_seconds``; everything else is looked at afresh each time.

    Args:
        root: the host's ``/`` (a fixture tree in tests): ``proc/``, ``run/``, ``dev/kvm``.
        kvm_works: whether this host's KVM works; ``"probe"`` asks ``/dev/kvm`` under root.
        qmp: how to ask a QMP socket (default :func:`query_kvm`).
        qmp_timeout: seconds for the whole QMP exchange.
        version: how to find a binary's version (default: ``--version``, cached per binary).
        reuse_seconds: 0 looks at every VM afresh on every scan.
        clock: seconds, for ``reuse_seconds``.
        machine: this host's ``uname -m`` (which guests KVM can run).
    """

    def __init__(
        self,
        root: Union[str, Path] = "/",
        *,
        kvm_works: Union[Optional[bool], str] = "probe",
        qmp: Optional[Callable[[QmpAddress, float, Path], QmpAnswer]] = None,
        qmp_timeout: float = QMP_TIMEOUT,
        version: Optional[Callable[[Path], str]] = None,
        reuse_seconds: float = REUSE_SECONDS,
        clock: Callable[[], float] = time.monotonic,
        machine: Optional[str] = None,
    ) -> None:
        self.root = Path(root)
        self.machine = machine if machine is not None else os.uname().machine
        self.kvm_works = kvm_works
        self.qmp = qmp or query_kvm
        self.qmp_timeout = qmp_timeout
        self.version = version or binary_version
        self.reuse_seconds = reuse_seconds
        self.clock = clock
        self._known: dict[int, tuple[bytes, float, VM]] = {}

    def scan(self, pids: Optional[Iterable[int]] = None) -> Scan:
        """Every QEMU process (or those of ``pids``), with its accelerator and findings.

        Never raises for what processes do: a process that exits mid-scan is left out, an
        unreadable entry becomes unavailable evidence.
        """
        if self.kvm_works == "probe":
            works, detail = probe_kvm(self.root)
        else:
            works = self.kvm_works if isinstance(self.kvm_works, bool) else None
            detail = "given by the caller"
        ctx = _Context(root=self.root, proc=self.root / "proc", kvm_works=works, qmp=self.qmp,
                       qmp_timeout=self.qmp_timeout, version=self.version, machine=self.machine,
                       qmp_deadline=time.monotonic() + QMP_SCAN_BUDGET)
        proc = str(ctx.proc)
        if pids is None:
            try:
                entries = os.listdir(proc)
            except OSError:
                entries = []
            numbers = [int(e) for e in entries if e.isdigit()]
        else:
            numbers = list(pids)
        now = self.clock()
        known = self._known
        fresh: dict[int, tuple[bytes, float, VM]] = {}
        vms: list[VM] = []
        for pid in sorted(numbers):
            try:
                with open(f"{proc}/{pid}/cmdline", "rb") as handle:
                    raw = handle.read(CMDLINE_LIMIT)
            except OSError:
                continue  # gone, or not ours to read
            entry = known.get(pid)
            if entry is not None and entry[0] == raw and now - entry[1] < self.reuse_seconds:
                fresh[pid] = entry
                vms.append(entry[2])
                continue
            argv = _qemu_argv(raw)
            if argv is None:
                continue
            try:
                vm = _inspect(ctx, pid, argv)
            except OSError:
                vm = None  # it vanished between two reads
            if vm is None:
                continue
            vms.append(vm)
            if vm.strength in (PROOF, STRONG):
                fresh[pid] = (raw, now, vm)
        self._known = fresh
        if works is not True and any(vm.accel == "kvm" and vm.strength in (PROOF, STRONG) for vm in vms):
            # A VM running on KVM shows this host's KVM works.
            works, detail = True, "a running VM uses KVM"
        vms = [vm if vm.findings_for == works else _refind(vm, works) for vm in vms]
        return Scan(vms=tuple(vms), kvm_works=works, kvm_detail=detail, processes=len(numbers),
                    scanner_uid=os.getuid())


def scan(
    root: Union[str, Path] = "/",
    *,
    kvm_works: Union[Optional[bool], str] = "probe",
    qmp: Optional[Callable[[QmpAddress, float, Path], QmpAnswer]] = None,
    qmp_timeout: float = QMP_TIMEOUT,
    version: Optional[Callable[[Path], str]] = None,
    pids: Optional[Iterable[int]] = None,
    machine: Optional[str] = None,
) -> Scan:
    """One scan with a fresh :class:`Scanner` (see there for the arguments)."""
    return Scanner(root, kvm_works=kvm_works, qmp=qmp, qmp_timeout=qmp_timeout,
                   version=version, machine=machine).scan(pids)


def _refind(vm: VM, kvm_works: Optional[bool]) -> VM:
    deleted = any(f.code == "binary-replaced" for f in vm.findings)
    findings = _findings(vm.accel, vm.strength, vm.facts, vm.argv[0], kvm_works, deleted,
                         not vm.kvm_capable)
    return dataclasses.replace(vm, findings=tuple(findings), findings_for=kvm_works)
