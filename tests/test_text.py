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


def test_limit_caps_the_escaped_length_with_an_ellipsis() -> None:
    assert printable("a" * 50, 10) == "a" * 9 + "…"
    assert printable("\x1b" * 50, 10) == "\\x1b\\x1b\\…"
    assert printable("short", 10) == "short"
    assert len(printable("x" * 10_000_000, 40)) == 40  # bounded work on a huge value
