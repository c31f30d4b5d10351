"""kvmq.host.qemu_binary: parsing the binary's help, the cache's safety, the real binary when present."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from kvmq.host import qemu_binary
from kvmq.host.qemu_binary import binary_facts, parse_accels, parse_cpus, parse_devices, parse_machines

MACHINES = """Supported machines are:
pc                   Standard PC (i440FX + PIIX, 1996) (alias of pc-i440fx-7.2)
pc-i440fx-7.2        Standard PC (i440FX + PIIX, 1996) (default)
q35                  Standard PC (Q35 + ICH9, 2009) (alias of pc-q35-7.2)
"""
CPUS = """x86 Skylake-Client       Intel Core Processor (Skylake)
x86 host                  KVM processor with all supported host features
x86 max                   Enables all features supported by the accelerator in the current host

Recognized CPUID flags:
  3dnow 3dnowext
"""
DEVICES = '''Network devices:
name "e1000", bus PCI, alias "e1000-82540em", desc "Intel Gigabit Ethernet"
name "virtio-net-pci", bus PCI, alias "virtio-net"
'''


def test_parsers() -> None:
    assert parse_accels("Accelerators supported in QEMU binary:\ntcg\nkvm\n") == {"tcg", "kvm"}
    assert parse_machines(MACHINES) == {"pc", "pc-i440fx-7.2", "q35", "pc-q35-7.2"}
    assert parse_cpus(CPUS) == {"Skylake-Client", "host", "max"}
    assert parse_devices(DEVICES) == {"e1000", "e1000-82540em", "virtio-net-pci", "virtio-net"}


def fake_runner(calls: list[list[str]]):
    answers = {"-accel": "Accelerators supported in QEMU binary:\ntcg\n", "-machine": MACHINES,
               "-cpu": CPUS, "-device": DEVICES, "-version": "QEMU emulator version 9.9.9\n"}

    def run(argv: list[str], timeout: float):
        calls.append(argv)
        return answers[argv[1]]
    return run


def test_cached_per_binary_and_the_cache_is_private(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv("KVMQ_NO_CACHE", raising=False)
    binary = tmp_path / "qemu-system-x86_64"
    binary.write_text("#!/bin/sh\n")
    calls: list[list[str]] = []
    first = binary_facts(str(binary), run=fake_runner(calls))
    assert first.version == "QEMU emulator version 9.9.9" and "q35" in (first.machines or ())
    assert len(calls) == 5
    second = binary_facts(str(binary), run=fake_runner(calls))
    assert second == first and len(calls) == 5  # from the cache
    [entry] = (tmp_path / "cache/kvmq/qemu").glob("*.json")
    assert entry.stat().st_mode & 0o777 == 0o600
    entry.chmod(0o666)  # writable by others: never trusted
    binary_facts(str(binary), run=fake_runner(calls))
    assert len(calls) == 10


@pytest.mark.skipif(shutil.which("qemu-system-x86_64") is None, reason="QEMU is not installed")
def test_the_installed_binary(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    facts = binary_facts(shutil.which("qemu-system-x86_64") or "", use_cache=False)
    assert facts.accels and "tcg" in facts.accels
    assert facts.machines and "q35" in facts.machines
    assert facts.devices and "virtio-net-pci" in facts.devices
    assert facts.cpus and "qemu64" in facts.cpus


def test_host_facts_of_this_machine() -> None:
    facts = qemu_binary.gather_host_facts("not-qemu", cross_check=True)
    assert facts.binary is None  # only QEMU programs are asked
    assert facts.cpus and facts.cpus >= 1 and (facts.memory_bytes or 0) > 0
    assert os.path.exists("/dev/kvm") or facts.kvm_usable is False
