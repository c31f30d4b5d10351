"""kvmq.host.explain: parsing as QEMU does, every finding, realistic libvirt lines, bad input."""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kvmq.dataset.qemu_options import load_options
from kvmq.host.explain import (
    BinaryFacts,
    ExplainInputError,
    HostFacts,
    explain,
    find_invocation,
    shell_words,
    split_command_line,
    split_keyval,
)

FIXTURES = Path(__file__).parent / "fixtures" / "explain"
TABLE = load_options()
QEMU = "qemu-system-x86_64"


def run(line: str, host: HostFacts | None = None):
    return explain(split_command_line(f"{QEMU} {line}"), host, table=TABLE)


def ids(line: str, host: HostFacts | None = None) -> list[str]:
    return [finding.id for finding in run(line, host).findings]


GOOD = "-accel kvm -cpu host -nodefaults"


# --------------------------------------------------------------------------- parsing


def test_split_keyval_escapes_double_commas() -> None:
    assert split_keyval("file=a,,b.img,if=virtio") == ["file=a,b.img", "if=virtio"]
    assert split_keyval("") == [""]


def test_implied_first_key_and_double_dash() -> None:
    explanation = run("--machine q35,accel=kvm -cpu host,+vmx,-svm,migratable=on -nodefaults")
    machine, cpu = explanation.options[0], explanation.options[1]
    assert machine.name == "machine" and machine.spelled == "--machine"
    assert machine.suboptions[0].key == "type" and machine.suboptions[0].implied
    assert machine.get("accel") == "kvm"
    assert cpu.kind == "host"
    assert [(s.key, s.value) for s in cpu.suboptions] == [
        ("model", "host"), ("vmx", "on"), ("svm", "off"), ("migratable", "on")]


def test_an_option_with_argument_takes_the_next_word_even_with_a_dash() -> None:
    explanation = run("-name -weird -nodefaults")
    assert explanation.options[0].argument == "-weird"
    assert [o.name for o in explanation.options] == ["name", "nodefaults"]


def test_repeated_options_and_json_arguments() -> None:
    explanation = run("-accel kvm -accel tcg -blockdev "
                      "'{\"driver\":\"file\",\"filename\":\"/a,b\",\"cache\":{\"direct\":true}}'")
    assert explanation.accelerators == ("kvm", "tcg")
    blockdev = explanation.options[2]
    assert blockdev.kind == "file"
    assert blockdev.get("filename") == "/a,b" and blockdev.get("cache.direct") == "on"


def test_unknown_options_and_suboptions_are_listed_never_fatal() -> None:
    explanation = run("-frobnicate 3 -drive file=x.qcow2,format=qcow2,if=virtio,wibble=1 " + GOOD)
    assert explanation.unknown == ("-frobnicate", "-drive wibble")
    assert "unknown-option" in [f.id for f in explanation.findings]


def test_positional_disk_image() -> None:
    explanation = run("disk.img " + GOOD)
    assert explanation.options[0].name == "" and explanation.options[0].argument == "disk.img"


def test_every_option_has_a_source_and_every_finding_is_declared() -> None:
    for info in TABLE.entries():
        assert info.source.startswith("https://"), info.name
        for finding in info.findings:
            assert finding in TABLE.findings
    source = (Path(__file__).parents[1] / "src/kvmq/host/explain.py").read_text()
    for finding_id in TABLE.findings:
        assert f'"{finding_id}"' in source, f"finding {finding_id} is never raised"


def test_arity_matches_qemu_7_2() -> None:
    # From `qemu-system-x86_64 -version -OPT` on Debian 12: "requires an argument" or not.
    no_argument = {"S", "enable-kvm", "nographic", "snapshot", "daemonize", "no-reboot", "usb",
                   "mem-prealloc", "nodefaults", "no-user-config", "no-shutdown"}
    with_argument = {"accel", "machine", "M", "cpu", "smp", "m", "mem-path", "object", "numa", "drive",
                     "blockdev", "device", "netdev", "nic", "display", "vga", "serial", "monitor",
                     "qmp", "chardev", "name", "uuid", "boot", "bios", "kernel", "initrd", "append",
                     "pidfile", "sandbox", "runas", "rtc", "global", "incoming", "cdrom", "hda",
                     "virtfs"}
    for name in no_argument:
        assert not TABLE.lookup(name).takes_argument, name
    for name in with_argument:
        assert TABLE.lookup(name).takes_argument, name


# --------------------------------------------------------------------------- findings


def test_no_accelerator() -> None:
    assert "no-accelerator" in ids("-nodefaults")
    assert "no-accelerator" not in ids(GOOD)


def test_accel_fallback_both_spellings() -> None:
    assert "accel-fallback" in ids("-accel kvm -accel tcg -cpu max -nodefaults")
    assert "accel-fallback" in ids("-machine q35,accel=kvm:tcg -cpu max -nodefaults")


def test_accel_conflict() -> None:
    assert "accel-conflict" in ids("-accel kvm -machine accel=kvm -cpu host -nodefaults")


def test_cpu_host_without_kvm_is_an_error() -> None:
    explanation = run("-cpu host -nodefaults")
    assert "cpu-host-without-kvm" in [f.id for f in explanation.findings]
    assert explanation.has_errors
    assert "cpu-host-without-kvm" not in ids(GOOD)
    # kvm:tcg on a host whose KVM is broken ends on TCG, where -cpu host cannot start
    assert "cpu-host-without-kvm" in ids("-accel kvm -accel tcg -cpu host -nodefaults",
                                         HostFacts(kvm_usable=False))


def test_kvm_with_the_default_cpu_model() -> None:
    assert "kvm-default-cpu" in ids("-accel kvm -nodefaults")
    assert "kvm-default-cpu" not in ids(GOOD)


def test_kvm_unusable_and_fallback_here() -> None:
    broken = HostFacts(kvm_usable=False)
    assert "kvm-unusable" in ids(GOOD, broken)
    assert "kvm-fallback-here" in ids("-accel kvm -accel tcg -cpu max -nodefaults", broken)


def test_emulated_disks() -> None:
    assert "emulated-disk" in ids("-hda disk.qcow2 " + GOOD)
    assert "emulated-disk" in ids("-drive file=d.qcow2,format=qcow2,if=ide " + GOOD)
    assert "emulated-disk" in ids("-drive file=d.qcow2,format=qcow2 " + GOOD)  # default if=ide
    assert "emulated-disk" in ids("-device ide-hd,drive=d0 " + GOOD)
    assert "emulated-disk" not in ids("-drive file=d.qcow2,format=qcow2,if=virtio " + GOOD)


def test_emulated_nics() -> None:
    assert "emulated-nic" in ids("-device e1000,netdev=n " + GOOD)
    assert "emulated-nic" in ids("-nic tap,model=rtl8139,vhost=on " + GOOD)
    assert "emulated-nic" not in ids("-device virtio-net-pci,netdev=n " + GOOD)


def test_user_networking_explicit_and_default() -> None:
    assert "user-networking" in ids("-netdev user,id=n0 " + GOOD)
    assert "user-networking" in ids("-nic user " + GOOD)
    assert "user-networking" in ids("-accel kvm -cpu host")  # QEMU's default NIC
    assert "user-networking" not in ids(GOOD)


def test_tap_without_vhost() -> None:
    assert "tap-without-vhost" in ids("-netdev tap,id=n0,ifname=tap0 " + GOOD)
    assert "tap-without-vhost" not in ids("-netdev tap,id=n0,vhost=on " + GOOD)


def test_cache_unsafe() -> None:
    assert "cache-unsafe" in ids("-drive file=d.qcow2,format=qcow2,if=virtio,cache=unsafe " + GOOD)
    assert "cache-unsafe" in ids("-blockdev driver=file,filename=d,node-name=f,cache.no-flush=on " + GOOD)


def test_snapshot_mode() -> None:
    assert "snapshot-mode" in ids("-snapshot " + GOOD)
    assert "snapshot-mode" in ids("-drive file=d.qcow2,format=qcow2,if=virtio,snapshot=on " + GOOD)


def test_format_probing() -> None:
    assert "format-probing" in ids("-drive file=disk.raw,if=virtio " + GOOD)
    assert "format-probing" not in ids("-drive file=disk.raw,if=virtio,format=raw " + GOOD)


def test_smp_and_memory_above_the_host() -> None:
    small = HostFacts(cpus=4, memory_bytes=8 << 30)
    assert "smp-above-host" in ids("-smp 8 " + GOOD, small)
    assert "smp-above-host" in ids("-smp sockets=2,cores=4 " + GOOD, small)
    assert "smp-above-host" not in ids("-smp 4 " + GOOD, small)
    assert "memory-above-host" in ids("-m 16G " + GOOD, small)
    assert "memory-above-host" in ids("-m 16384 " + GOOD, small)  # MiB by default
    assert "memory-above-host" not in ids("-m size=4194304k " + GOOD, small)


def test_vfio_without_iommu_groups() -> None:
    line = "-device vfio-pci,host=0000:01:00.0 " + GOOD
    assert "vfio-without-iommu" in ids(line, HostFacts(iommu_groups=0))
    assert "vfio-without-iommu" not in ids(line, HostFacts(iommu_groups=12))
    assert "vfio-without-iommu" not in ids(line)  # unknown host: no claim


@pytest.mark.parametrize("monitor", [
    "-monitor tcp:0.0.0.0:4444,server=on,wait=off",
    "-qmp tcp:127.0.0.1:4444,server=on,wait=off",
    "-monitor telnet::4444,server,nowait",
    "-chardev socket,id=m,host=0.0.0.0,port=4444,server=on,wait=off -mon chardev=m,mode=control",
])
def test_monitor_on_tcp_without_authentication(monitor: str) -> None:
    assert "monitor-tcp" in ids(f"{monitor} {GOOD}")


def test_monitor_on_unix_socket_is_fine() -> None:
    assert "monitor-tcp" not in ids("-qmp unix:/run/vm.qmp,server=on,wait=off " + GOOD)
    assert "monitor-tcp" not in ids(
        "-chardev socket,id=m,path=/run/m.sock,server=on,wait=off -mon chardev=m,mode=control " + GOOD)


def test_deprecated_and_short_booleans() -> None:
    assert "deprecated" in ids("-runas qemu " + GOOD)
    assert "deprecated" in ids("-virtfs proxy,mount_tag=t,socket=/s " + GOOD)
    assert "short-boolean" in ids("-serial tcp::4555,server,nowait " + GOOD)


def test_missing_argument_and_bad_json() -> None:
    assert "missing-argument" in ids(GOOD + " -m")
    assert "bad-json" in ids("-device '{\"driver\":' " + GOOD)


def test_cross_check_against_the_binary() -> None:
    binary = BinaryFacts(path="/usr/bin/qemu-system-x86_64", accels=frozenset({"tcg"}),
                         machines=frozenset({"pc", "q35", "pc-q35-7.2"}),
                         cpus=frozenset({"host", "max", "qemu64"}), devices=frozenset({"virtio-net-pci"}))
    found = ids("-machine pc-q35-9.2 -device virtio-blk-pci -cpu EPYC-Genoa " + GOOD,
                HostFacts(binary=binary))
    for finding in ("machine-missing", "device-missing", "cpu-model-missing", "accel-missing"):
        assert finding in found
    other = explain([f"/opt/{QEMU}-aarch64", "-machine", "virt"], HostFacts(binary=binary), table=TABLE)
    assert other.cross_checked is None


# --------------------------------------------------------------------------- realistic lines


@pytest.mark.parametrize("name", ["libvirt-vm1.log", "domxml-to-native.args", "ps.txt"])
def test_libvirt_lines_have_no_unknown_options(name: str) -> None:
    argv = find_invocation((FIXTURES / name).read_text(encoding="utf-8"))
    assert argv[0].endswith(QEMU)
    explanation = explain(argv, HostFacts(cpus=64, memory_bytes=256 << 30, iommu_groups=40,
                                          kvm_usable=True), table=TABLE)
    assert explanation.unknown == ()
    assert not explanation.has_errors
    assert explanation.accelerators == ("kvm",)


def test_domxml_to_native_blockdev_and_vhost() -> None:
    argv = find_invocation((FIXTURES / "domxml-to-native.args").read_text(encoding="utf-8"))
    explanation = explain(argv, None, table=TABLE)
    netdev = next(o for o in explanation.options if o.name == "netdev")
    assert netdev.kind == "tap" and netdev.get("vhost") == "on"
    blockdevs = [o for o in explanation.options if o.name == "blockdev"]
    assert [b.kind for b in blockdevs] == ["host_device", "raw", "file", "raw"]


def test_hand_written_script() -> None:
    argv = find_invocation((FIXTURES / "run-dev.sh").read_text(encoding="utf-8"))
    assert argv[:3] == [QEMU, "-m", "8G"]
    found = [f.id for f in explain(argv, HostFacts(cpus=8, memory_bytes=4 << 30), table=TABLE).findings]
    for finding in ("no-accelerator", "cpu-host-without-kvm", "smp-above-host", "memory-above-host",
                    "emulated-disk", "emulated-nic", "user-networking", "cache-unsafe",
                    "snapshot-mode", "format-probing", "monitor-tcp"):
        assert finding in found


# --------------------------------------------------------------------------- bad input


@pytest.mark.parametrize("text, message", [
    ("qemu-system-x86_64 -name 'oops\n", "unbalanced quotes"),
    ("qemu-system-x86_64 -m 1G\x00", "NUL"),
    ("echo hello\nls -l\n", "no QEMU invocation"),
    ("qemu-system-x86_64 -append " + "x" * (1024 * 1024 + 10), "1 MiB"),
], ids=["quotes", "nul", "none", "long-line"])
def test_bad_input_is_one_clean_error(text: str, message: str) -> None:
    with pytest.raises(ExplainInputError, match=message):
        find_invocation(text)


def test_find_invocation_drops_shell_operators_and_takes_the_last() -> None:
    text = "qemu-system-x86_64 -m 1G\nexec /usr/bin/qemu-system-x86_64 -m 2G > /tmp/log 2>&1 &\n"
    assert find_invocation(text) == ["/usr/bin/qemu-system-x86_64", "-m", "2G"]


def _words_or_error(split, line: str) -> object:
    try:
        return split(line)
    except ValueError as exc:
        return str(exc)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="ab =,{}:#'\"\\\t\n\r", max_size=30))
def test_shell_words_split_as_shlex_does(line: str) -> None:
    # Same words, and the same error for an open quote or a trailing backslash.
    expected = _words_or_error(lambda text: shlex.split(text, posix=True), line)
    assert _words_or_error(shell_words, line) == expected


def test_a_comment_starts_only_at_the_start_of_a_word() -> None:
    assert shell_words("kvm -name a#b # -m 1\n-S", comments=True) == ["kvm", "-name", "a#b", "-S"]
    assert shell_words("'#x' \\#y #z", comments=True) == ["#x", "#y"]
