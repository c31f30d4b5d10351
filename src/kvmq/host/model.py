"""The host report's model: statuses, checks, the verdict and the report.

Plain Python: the CLI, the JSON output and the explorer's Host tab all render the same
:class:`Report`, so nothing here imports textual or rich (nor anything else of kvmq).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from enum import Enum
from typing import Any, Optional

SUMMARY_AVAILABLE = "KVM acceleration available"
SUMMARY_TCG = "QEMU will run without KVM (TCG software emulation)"


class Status(str, Enum):
    PASS = "pass"
    WARN = "warn"
    FAIL = "fail"
    INFO = "info"
    SKIP = "skip"


@dataclass(frozen=True)
class Check:
    """One finding about the host.  ``hint`` says what to do; empty on pass."""

    id: str
    status: Status
    finding: str
    hint: str = ""


@dataclass(frozen=True)
class Verdict:
    kvm_available: bool
    summary: str
    reason: str


@dataclass(frozen=True)
class Report:
    checks: tuple[Check, ...]
    verdict: Verdict

    @property
    def kvm_available(self) -> bool:
        return self.verdict.kvm_available

    def get(self, check_id: str) -> Optional[Check]:
        for check in self.checks:
            if check.id == check_id:
                return check
        return None

    def to_dict(self) -> dict[str, Any]:
        """Plain data in a stable shape (the JSON output is built from this)."""
        return {
            "checks": [
                {"id": c.id, "status": c.status.value, "finding": c.finding, "hint": c.hint}
                for c in self.checks
            ],
            "verdict": {
                "kvm_available": self.verdict.kvm_available,
                "summary": self.verdict.summary,
                "reason": self.verdict.reason,
            },
        }


# --------------------------------------------------------------------------
# Text from the host is untrusted: it must never carry terminal control codes.

_WS_RE = re.compile(r"[\t\r\n\v\f]+")
# Whole escape sequences go, not just the ESC byte, so no "[31m" debris is left:
# CSI (ESC [ ... final), OSC (ESC ] ... BEL or ESC \), and two-byte escapes.
_ESCAPE_RE = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]|\x9b[0-?]*[ -/]*[@-~]"
    r"|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b[@-_]?"
)


def clean_text(value: object, limit: int = 240) -> str:
    """Return ``value`` as one line without control or format characters.

    Escape sequences, bidi overrides and the like are dropped so that output
    from a hostile or broken binary cannot drive the terminal.
    """
    text = _WS_RE.sub(" ", _ESCAPE_RE.sub("", str(value)))
    text = "".join(ch for ch in text if unicodedata.category(ch) not in ("Cc", "Cf", "Cs", "Co"))
    text = text.strip()
    if len(text) > limit:
        text = text[: limit - 1].rstrip() + "…"
    return text


# --------------------------------------------------------------------------
# The host interface

