"""data/qemu-options.yaml validates; broken options files fail with file:line:col."""

from __future__ import annotations

import pytest

from kvmq.dataset.model import InvalidDataset
from kvmq.dataset.qemu_options import load_options, loads_options

HEAD = """schema: 1
kind: qemu-options
versions: "7.2 to 10.1"
sections:
  standard: https://www.qemu.org/docs/master/system/invocation.html#hxtool-0
findings:
  - id: no-accelerator
    level: warning
    when: no accelerator
    message: TCG
    fix: add -accel kvm
    source: standard
"""


def test_the_shipped_file_validates() -> None:
    table = load_options()
    assert table.lookup("M") is table.lookup("machine")
    assert table.lookup("hdb") is table.lookup("hda")
    assert table.lookup("virtfs").kinds["proxy"].removed
    assert "mem-path" in table.lookup("object").kinds["memory-backend-file"].suboptions


@pytest.mark.parametrize("options, line, col, what", [
    ("  - name: m\n    syntax: valu\n    meaning: RAM\n    source: standard\n", 15, 13, "syntax 'valu'"),
    ("  - name: m\n    syntax: value\n    meaning: RAM\n    source: docs\n", 17, 13, "neither an http"),
    ("  - name: m\n    syntax: flag\n    meaning: RAM\n    source: standard\n    findings: [nope]\n",
     18, 15, "'nope' is not a finding id"),
    ("  - name: m\n    syntax: flag\n    meening: RAM\n    source: standard\n", 16, 5,
     "did you mean 'meaning'"),
])
def test_errors_name_line_and_column(options: str, line: int, col: int, what: str) -> None:
    with pytest.raises(InvalidDataset) as caught:
        loads_options(HEAD + "options:\n" + options, "bad.yaml")
    first = next(error for error in caught.value.errors if what in error.what)
    assert (first.path, first.line, first.col) == ("bad.yaml", line, col), str(first)
    assert str(first).startswith(f"bad.yaml:{line}:{col}: ")


def test_anchors_are_refused() -> None:
    text = HEAD + ("options:\n  - &a\n    name: m\n    syntax: flag\n    meaning: x\n    source: standard\n"
                   "  - *a\n")
    with pytest.raises(InvalidDataset, match="anchors and aliases"):
        loads_options(text, "bad.yaml")
