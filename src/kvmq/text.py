"""Printable text: what came from outside (files, arguments, datasets) made safe to show.

A leaf module: it imports nothing, so every wing (the CLI, the explorer, the renderers) can
use the one helper.
"""

from __future__ import annotations

# The usual escapes, so that a newline or tab in a file name reads as one.
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t", "\\": "\\\\"}


def printable(text: str) -> str:
    """``text`` with every control, format or separator character escaped visibly.

    Escape sequences, newlines, bidirectional overrides, zero-width and other invisible
    characters become ``\\x1b``, ``\\n``, ``\\u202e`` and so on: the result is one line that
    cannot move the cursor, set a title or reorder what a terminal shows. A backslash is
    doubled only when something was escaped, so ordinary text is returned unchanged.
    """
    if text.isprintable():
        return text
    out = []
    for char in text:
        if char.isprintable() or char == " ":
            out.append("\\\\" if char == "\\" else char)
        elif char in _NAMED:
            out.append(_NAMED[char])
        else:
            code = ord(char)
            out.append(f"\\x{code:02x}" if code < 0x100 else
                       f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}")
    return "".join(out)
