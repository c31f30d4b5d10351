"""QEMU and its tools on this host: which ``qemu-system-*``, ``qemu-img`` and ``virsh`` there
are, their versions and accelerators, probed concurrently with timeouts.
"""

from __future__ import annotations

import os
import re
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from kvmq.host.model import Check, Fact, Status, clean_text
from kvmq.host.probe import OUTPUT_LIMIT, Host, RunResult

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
    if result.truncated:
        return f"{what} wrote over {OUTPUT_LIMIT // 1024} KiB: stopped"
    if result.error:
        return f"could not run: {clean_text(result.error, 80)}"
    tail = clean_text(result.stdout, 60)
    return f"{what} exited with status {result.returncode}" + (f": {tail}" if tail else "")


def _probe_program(host: Host, name: str, path: Path, accel: bool, deadline: float) -> _Program:
    steps = [("--version",), ("-accel", "help")] if accel else [("--version",)]
    answers: list[str] = []
    for args in steps:
        what = " ".join(args)
        left = deadline - time.monotonic()
        if left <= 0 or host.cancel.is_set():
            return _Program(name, path, problem=f"not probed: out of time before {what}")
        wait = min(host.timeout, left)
        result = host.execute([str(path), *args], wait)
        if not result.ok:
            version = parse_version(answers[0]) if answers else None
            return _Program(name, path, version=version,
                            problem=_describe_failure(result, what, round(wait, 1)))
        answers.append(result.stdout)
    version = parse_version(answers[0])
    accels = parse_accels(answers[1]) if accel else None
    return _Program(name, path, version=version, accels=accels)


#: Programs probed at the same time; more wait for a free slot (within the same deadline).
MAX_PARALLEL = 64


def _probe_all(host: Host, jobs: list[tuple[str, Path, bool]]) -> list[_Program]:
    if not jobs:
        return []
    # All at once with one deadline, so a PATH full of hung emulators costs one timeout
    # (two for a binary that answers --version slowly and then -accel help slowly).
    deadline = time.monotonic() + 2 * host.timeout
    with ThreadPoolExecutor(max_workers=min(MAX_PARALLEL, len(jobs))) as pool:
        futures = [pool.submit(_probe_program, host, *job, deadline) for job in jobs]
        try:
            return [fut.result() for fut in futures]
        except BaseException:
            host.cancel.set()  # Ctrl+C: kill what runs, start nothing more
            raise


def _qemu_install_hint() -> str:
    return "install QEMU: `sudo apt install qemu-system-x86` (Debian, Ubuntu) or `sudo dnf install qemu-kvm`"


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
        where = clean_text(_display_path(host, prog.path.parent), 120)
        cid = f"qemu.binaries.{name}"
        version = clean_text(prog.version, 60) if prog.version else ""
        is_native = name == f"qemu-system-{native}" or name == "qemu-kvm"
        accels = [clean_text(a, 20) for a in prog.accels or []]
        facts: tuple[tuple[str, Fact], ...] = (
            ("path", clean_text(_display_path(host, prog.path), 200)),
            ("version", version or None),
            ("accelerators", tuple(accels)),
            ("kvm", "kvm" in accels),
            ("native", is_native),
            ("answered", not prog.problem),
        )
        if prog.problem:
            broken.append(name)
            rows.append(
                Check(
                    cid,
                    Status.WARN,
                    f"{version + ' ' if version else ''}in {where}: {prog.problem}",
                    "broken or hung: reinstall it or take it off PATH",
                    facts,
                )
            )
            continue
        listing = ", ".join(accels) or "none listed"
        finding = f"{version or '?'} in {where}; accelerators: {listing}"
        if "kvm" in accels:
            with_kvm.append(name)
            rows.append(Check(cid, Status.PASS, finding, facts=facts))
        elif is_native:
            rows.append(
                Check(
                    cid,
                    Status.WARN,
                    finding + " (built without KVM)",
                    "install the distribution's QEMU package, which is built with KVM",
                    facts,
                )
            )
        else:
            rows.append(Check(cid, Status.NOTE, finding + " (another architecture)", facts=facts))

    if not emulators:
        status = Status.WARN if kvm_works else Status.NOTE
        checks.append(
            Check(
                "qemu.binaries",
                status,
                "no qemu-system-* on PATH: QEMU is not installed",
                _qemu_install_hint(),
                (("count", 0), ("with_kvm", ()), ("not_answering", ())),
            )
        )
    else:
        count = len(emulators)
        summary = f"{count} QEMU system emulator{'s' if count != 1 else ''}"
        if with_kvm:
            summary += f", {len(with_kvm)} with KVM"
        else:
            summary += ", none lists the kvm accelerator"
        if broken:
            summary += f", {len(broken)} not answering"
        if broken:
            status, hint = Status.WARN, "see the qemu.binaries.* rows that failed"
        elif with_kvm:
            status, hint = Status.PASS, ""
        else:
            status, hint = Status.WARN, _qemu_install_hint()
        facts = (("count", count), ("with_kvm", tuple(with_kvm)), ("not_answering", tuple(broken)))
        checks.append(Check("qemu.binaries", status, summary, hint, facts))
    checks.extend(rows)

    for tool, cid, missing_hint in (
        ("qemu-img", "qemu.img",
         "for disk images: `sudo apt install qemu-utils` or `sudo dnf install qemu-img`"),
        ("virsh", "libvirt.virsh", "optional, for libvirt: `sudo apt install libvirt-clients`"),
    ):
        tool_result = tool_results.get(tool)
        if tool_result is None:
            checks.append(Check(cid, Status.NOTE, f"{tool} not on PATH", missing_hint,
                                (("path", None), ("version", None))))
            continue
        path = clean_text(_display_path(host, tool_result.path), 200)
        tool_version = clean_text(tool_result.version or "", 60) or None
        facts = (("path", path), ("version", tool_version))
        if tool_result.problem:
            checks.append(Check(cid, Status.WARN, f"{path}: {tool_result.problem}",
                                "reinstall it or fix PATH", facts))
        else:
            checks.append(Check(cid, Status.PASS, f"{tool_version or '?'} at {path}", facts=facts))
    return checks


def _display_path(host: Host, path: Path) -> str:
    """Show fixture paths as the host would see them (``/usr/bin/...``)."""
    try:
        return "/" + str(path.relative_to(host.root)).lstrip("/")
    except ValueError:
        return str(path)
