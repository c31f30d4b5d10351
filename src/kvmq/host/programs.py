"""QEMU and its tools on this host: which ``qemu-system-*``, ``qemu-img`` and ``virsh`` there
are, their versions and accelerators, probed concurrently with timeouts.
"""

from __future__ import annotations

import os
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from kvmq.host.model import Check, Status, clean_text
from kvmq.host.probe import Host, RunResult

# `uname -m` -> the qemu-system-* target that can use KVM on that machine.
_NATIVE_QEMU_TARGET = {
    "x86_64": "x86_64",
    "amd64": "x86_64",
    "i686": "i386",
    "i386": "i386",
    "aarch64": "aarch64",
    "arm64": "aarch64",
    "armv7l": "arm",
    "ppc64le": "ppc64",
    "ppc64": "ppc64",
    "s390x": "s390x",
    "riscv64": "riscv64",
    "loongarch64": "loongarch64",
    "mips64": "mips64",
}


# --------------------------------------------------------------------------
# Model


_VERSION_RE = re.compile(r"\bversion\s+v?(\d+(?:\.\d+)+)", re.IGNORECASE)
_BARE_VERSION_RE = re.compile(r"^\s*v?(\d+(?:\.\d+)+)\b")
_ACCEL_LINE_RE = re.compile(r"^[a-z0-9_-]+$")


def parse_version(output: str) -> str:
    """The version from the first non-empty line of ``--version`` output."""
    lines = (clean_text(line, 200) for line in output.splitlines())
    first = next((line for line in lines if line), "")
    match = _VERSION_RE.search(first) or _BARE_VERSION_RE.search(first)
    if match:
        return match.group(1)
    return clean_text(first, 60)


def parse_accels(output: str) -> list[str]:
    """Accelerator names from ``-accel help``: one per line after a header."""
    names = []
    for line in output.splitlines():
        word = line.strip()
        if _ACCEL_LINE_RE.match(word):
            names.append(word)
    return names


@dataclass(frozen=True)
class _Program:
    name: str
    path: Path
    version: Optional[str] = None
    accels: Optional[list[str]] = None
    problem: Optional[str] = None


def _describe_failure(result: RunResult, what: str, timeout: float) -> str:
    if result.timed_out:
        return f"did not answer {what} within {timeout:g} s"
    if result.error:
        return f"could not run: {clean_text(result.error, 80)}"
    tail = clean_text(result.stdout, 80)
    return f"{what} exited with status {result.returncode}" + (f": {tail}" if tail else "")


def _probe_program(host: Host, name: str, path: Path, accel: bool) -> _Program:
    result = host.run([str(path), "--version"], host.timeout)
    if not result.ok:
        return _Program(name, path, problem=_describe_failure(result, "--version", host.timeout))
    version = parse_version(result.stdout)
    if not accel:
        return _Program(name, path, version=version)
    result = host.run([str(path), "-accel", "help"], host.timeout)
    if not result.ok:
        problem = _describe_failure(result, "-accel help", host.timeout)
        return _Program(name, path, version=version, problem=problem)
    return _Program(name, path, version=version, accels=parse_accels(result.stdout))


def _probe_all(host: Host, jobs: list[tuple[str, Path, bool]]) -> list[_Program]:
    if not jobs:
        return []
    # In parallel, so a PATH full of emulators (or several hung ones) costs
    # about one timeout, not one per binary.
    with ThreadPoolExecutor(max_workers=min(8, len(jobs))) as pool:
        futures = [pool.submit(_probe_program, host, *job) for job in jobs]
        return [fut.result() for fut in futures]


def _qemu_install_hint() -> str:
    return (
        "install QEMU: sudo apt install qemu-system-x86 (Debian/Ubuntu) or sudo dnf install qemu-kvm (Fedora)"
    )


def program_checks(host: Host, kvm_works: bool) -> list[Check]:
    """The ``qemu.binaries``, ``qemu.img`` and ``libvirt.virsh`` checks."""
    systems = [(p.name, p, True) for p in host.which("qemu-system-*")]
    seen = {name for name, _, _ in systems}
    # RHEL-likes ship only /usr/libexec/qemu-kvm, off PATH.
    for candidate in [*host.which("qemu-kvm"), host.path("/usr/libexec/qemu-kvm")]:
        if candidate.name not in seen and candidate.is_file() and os.access(candidate, os.X_OK):
            systems.append((candidate.name, candidate, True))
            seen.add(candidate.name)
    tools = [(p.name, p, False) for pattern in ("qemu-img", "virsh") for p in host.which(pattern)]
    probed = _probe_all(host, systems + tools)
    emulators = probed[: len(systems)]
    tool_results = {p.name: p for p in probed[len(systems) :]}

    native = _NATIVE_QEMU_TARGET.get(host.machine)
    checks: list[Check] = []
    rows: list[Check] = []
    with_kvm: list[str] = []
    broken: list[str] = []
    for prog in emulators:
        name = clean_text(prog.name, 60)
        where = clean_text(_display_path(host, prog.path), 120)
        cid = f"qemu.binaries.{name}"
        version = f" {clean_text(prog.version, 60)}" if prog.version else ""
        if prog.problem:
            broken.append(name)
            rows.append(
                Check(
                    cid,
                    Status.WARN,
                    f"{where}{version}: {prog.problem}",
                    "this binary is broken or hangs: reinstall it or remove it from PATH",
                )
            )
            continue
        accels = prog.accels or []
        listing = ", ".join(clean_text(a, 20) for a in accels) or "none listed"
        finding = f"{where}{version}; accelerators: {listing}"
        is_native = name == f"qemu-system-{native}" or name == "qemu-kvm"
        if "kvm" in accels:
            with_kvm.append(name)
            rows.append(Check(cid, Status.PASS, finding))
        elif is_native:
            rows.append(
                Check(
                    cid,
                    Status.WARN,
                    finding + " (built without KVM)",
                    "install the distribution's QEMU package, which is built with KVM",
                )
            )
        else:
            rows.append(Check(cid, Status.INFO, finding + " (emulates another architecture)"))

    if not emulators:
        status = Status.WARN if kvm_works else Status.INFO
        checks.append(
            Check(
                "qemu.binaries",
                status,
                "no qemu-system-* on PATH: QEMU is not installed",
                _qemu_install_hint(),
            )
        )
    else:
        count = len(emulators)
        summary = f"{count} QEMU system emulator{'s' if count != 1 else ''} on PATH"
        if with_kvm:
            summary += "; with KVM: " + ", ".join(with_kvm)
        else:
            summary += "; none lists the kvm accelerator"
        if broken:
            summary += "; not answering: " + ", ".join(broken)
        if broken:
            status, hint = Status.WARN, "see the rows below for the binaries that failed"
        elif with_kvm:
            status, hint = Status.PASS, ""
        else:
            status, hint = Status.WARN, _qemu_install_hint()
        checks.append(Check("qemu.binaries", status, summary, hint))
    checks.extend(rows)

    for tool, cid, missing_hint in (
        ("qemu-img", "qemu.img", "disk image tool: sudo apt install qemu-utils / dnf install qemu-img"),
        ("virsh", "libvirt.virsh", "optional, for libvirt: sudo apt install libvirt-clients"),
    ):
        tool_result = tool_results.get(tool)
        if tool_result is None:
            checks.append(Check(cid, Status.INFO, f"{tool} not on PATH", missing_hint))
        elif tool_result.problem:
            checks.append(Check(cid, Status.WARN, f"{tool}: {tool_result.problem}",
                                "reinstall it or fix PATH"))
        else:
            where = clean_text(_display_path(host, tool_result.path), 120)
            checks.append(Check(cid, Status.PASS, f"{where} {clean_text(tool_result.version or '?', 60)}"))
    return checks


def _display_path(host: Host, path: Path) -> str:
    """Show fixture paths as the host would see them (``/usr/bin/...``)."""
    try:
        return "/" + str(path.relative_to(host.root)).lstrip("/")
    except ValueError:
        return str(path)


# --------------------------------------------------------------------------
# Verdict and entry point
