"""Printable text: what came from outside (files, arguments, datasets) made safe to show.

A leaf module: it imports nothing, so every wing (the CLI, the loader, the explorer, the
renderers) can use the one helper.
"""

from __future__ import annotations

from typing import Optional

# The usual escapes, so that a newline or tab in a file name reads as one.
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t", "\\": "\\\\"}
ELLIPSIS = "…"


def printable(text: object, limit: Optional[int] = None) -> str:
    """``text`` with every control, format or separator character escaped visibly.

    Escape sequences, newlines, bidirectional marks and overrides, zero-width, tag and other
    invisible characters and lone surrogates become ``\\x1b``, ``\\n``, ``\\u202e`` and so on:
    the result is one line that cannot move the cursor, set a title or reorder what a
    terminal shows. A backslash is doubled only when something was escaped, so ordinary text
    is returned unchanged. ``limit`` caps the length (escapes included), ending in "…".
    """
    value = text if isinstance(text, str) else str(text)
    if limit is not None and len(value) > limit:
        value = value[: limit + 1]  # escaping only lengthens: nothing further can fit
    if not value.isprintable():
        value = "".join(_escaped(char) for char in value)
    if limit is not None and len(value) > limit:
        value = value[: max(0, limit - 1)] + ELLIPSIS
    return value


def _escaped(char: str) -> str:
    if char == "\\":
        return "\\\\"
    if char.isprintable() or char == " ":
        return char
    if char in _NAMED:
        return _NAMED[char]
    code = ord(char)
    if code < 0x100:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"
