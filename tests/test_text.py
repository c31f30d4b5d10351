"""The one helper that makes outside text printable."""

from __future__ import annotations

from kvmq.text import printable


def test_ordinary_text_is_unchanged() -> None:
    for text in ("KVM vs QEMU", "qemu-system-x86_64 [options]", "C:\\path", "Grüße – ü"):
        assert printable(text) == text


def test_controls_newlines_and_bidi_are_escaped_visibly() -> None:
    out = printable("x\x1b]0;PWNED\x07\nfake\u202eline\u200b\t")
    assert out == "x\\x1b]0;PWNED\\x07\\nfake\\u202eline\\u200b\\t"
    assert out.isprintable()
