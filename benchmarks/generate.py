"""Generated datasets of N dimensions for the benchmarks: deterministic, valid, realistic.

Each dimension has a title, a short verdict, a ~300-character description per subject (two
subjects), three commands (two for the first subject, one for the second) and a source URL;
every fifth one has a note. About 950 bytes of YAML per dimension (5,000 dimensions: 4.7 MB,
the size the issue measured). The same N always gives the same bytes.

    python benchmarks/generate.py 5000 > /tmp/5000.yaml
"""

from __future__ import annotations

import random
import sys
from pathlib import Path

SUBJECTS = ("kvm", "qemu")
# The word the filter benchmark types; it occurs in roughly one description in six.
FILTER_WORD = "kernel"
WORDS = (
    "virtual", "machine", "guest", "host", "memory", "device", "driver", "page", "table",
    "interrupt", "timer", "clock", "migration", "snapshot", "disk", "image", "network",
    "bridge", "tap", "vhost", "virtio", "block", "queue", "thread", "vcpu", "core", "socket",
    "numa", "node", "balloon", "hotplug", "firmware", "boot", "loader", "emulation", "accel",
    "trap", "exit", "register", "state", "dirty", "log", "ring", "buffer", "shadow", "nested",
    "paging", "mapping", "region", "slot", "ioctl", "file", "descriptor", "event", "poll",
    "latency", "throughput", "overhead", "native", "speed", "security", "isolation", "policy",
    "control", "group", "limit", "quota", "storage", "format", "backing", "chain", "cache",
    "mode", "writeback", "sync", "flush", "barrier", "the", "a", "of", "and", "with", "to",
    "on", "in", "by", "for", "runs", "uses", "needs", "gives", "keeps", "moves", "maps",
)
TITLE_WORDS = (
    "Memory", "CPU", "Network", "Storage", "Migration", "Snapshots", "Security", "Devices",
    "Timers", "Interrupts", "Firmware", "Boot", "Isolation", "Scheduling", "Ballooning",
    "Hotplug", "Passthrough", "Tracing", "Nesting", "Paging",
)
TITLE_QUALIFIERS = (
    "basics", "tuning", "limits", "overhead", "setup", "defaults", "internals", "debugging",
    "scaling", "caveats", "options", "policies", "formats", "latency", "throughput",
)


def title(index: int) -> str:
    """The title of dimension ``index`` (0-based); cheap, so the bare app can use it too."""
    return (f"{TITLE_WORDS[index % len(TITLE_WORDS)]} "
            f"{TITLE_QUALIFIERS[(index * 7 + 3) % len(TITLE_QUALIFIERS)]} {index + 1}")


def _sentence(rng: random.Random, length: int) -> str:
    words: list[str] = []
    while sum(len(w) + 1 for w in words) < length:
        words.append(FILTER_WORD if rng.random() < 0.004 else rng.choice(WORDS))
    text = " ".join(words)
    return text[0].upper() + text[1:] + "."


def texts(index: int) -> dict[str, object]:
    """Everything dimension ``index`` says, from its own random stream."""
    rng = random.Random(index)
    return {
        "title": title(index),
        "verdict": _sentence(rng, 40),
        "descriptions": {sid: _sentence(rng, 300) for sid in SUBJECTS},
        "note": _sentence(rng, 100) if index % 5 == 0 else None,
        "commands": {sid: [(f"{sid}-tool --{rng.choice(WORDS)} {n}", _sentence(rng, 24))
                           for n in range(2 if sid == SUBJECTS[0] else 1)] for sid in SUBJECTS},
    }


def first_description(count: int) -> str:
    """The first subject's description of the first dimension (what the first frame shows)."""
    del count  # the first dimension is the same whatever the size
    return str(texts(0)["descriptions"]["kvm"])  # type: ignore[index]


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def generate(count: int) -> str:
    """The YAML text of a valid dataset with ``count`` dimensions."""
    out = [
        "schema: 1",
        f"title: Generated comparison ({count} dimensions)",
        "summary: >",
        "  A generated dataset for the benchmarks: two subjects compared along many",
        "  dimensions, each with descriptions, a note, commands and a source.",
        "source:",
        "  title: kvmq benchmarks",
        "  publisher: kvmq",
        "  url: https://example.org/kvmq/benchmarks",
        "subjects:",
        "  - id: kvm",
        "    name: KVM",
        '    tagline: "Linux kernel hypervisor"',
        "    homepage: https://www.linux-kvm.org/",
        "  - id: qemu",
        "    name: QEMU",
        '    tagline: "User-space machine emulator and VMM"',
        "    homepage: https://www.qemu.org/",
        "dimensions:",
    ]
    for index in range(count):
        t = texts(index)
        out.append(f"  - id: dim-{index + 1:05d}")
        out.append(f"    title: {t['title']}")
        out.append(f"    verdict: {_quote(str(t['verdict']))}")
        out.append("    descriptions:")
        for sid, text in t["descriptions"].items():  # type: ignore[attr-defined]
            out.append(f"      {sid}: {_quote(text)}")
        if t["note"]:
            out.append("    notes:")
            out.append(f"      - text: {_quote(str(t['note']))}")
            out.append(f"        source: https://example.org/notes/{index + 1}")
            out.append("        kind: caveat" if index % 10 else "        kind: correction")
        out.append("    commands:")
        for sid, commands in t["commands"].items():  # type: ignore[attr-defined]
            out.append(f"      {sid}:")
            for run, does in commands:
                out.append(f"        - run: {_quote(run)}")
                out.append(f"          does: {_quote(does)}")
        out.append("    sources:")
        out.append(f"      - https://example.org/dimensions/{index + 1}")
    out.append("pros:")
    for sid in SUBJECTS:
        out.append(f"  {sid}:")
        for n in range(5):
            out.append(f"    - label: {sid} advantage number {n + 1}")
            out.append(f"      votes: {100 - n * 7}")
    return "\n".join(out) + "\n"


def write(count: int, directory: Path) -> Path:
    """Write the dataset of ``count`` dimensions into ``directory`` (once) and return its path."""
    path = directory / f"generated-{count}.yaml"
    text = generate(count)
    if not path.is_file() or path.read_text(encoding="utf-8") != text:
        path.write_text(text, encoding="utf-8")
    return path


if __name__ == "__main__":
    sys.stdout.write(generate(int(sys.argv[1]) if len(sys.argv) > 1 else 500))
