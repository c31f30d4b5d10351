"""The host report's model: statuses, checks, the verdict and the report.

Plain Python: the CLI, the JSON output and the explorer's Host tab all render the same
:class:`Report`, so nothing here imports textual or rich (nor anything else of kvmq).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from enum import Enum
from typing import Any, Optional, Union

SUMMARY_AVAILABLE = "KVM acceleration available"
SUMMARY_TCG = "QEMU will run without KVM (TCG software emulation)"

#: Version of the JSON document ``kvmq check --format json`` writes (docs/host-check.md).
#: Raised only when a field changes meaning or goes away; new fields and check ids keep it.
REPORT_SCHEMA = 1
#: What the document is, so that a fleet merge can tell it from other JSON.
REPORT_KIND = "kvmq.host-check"

#: A fact for machines: what a fleet report compares across hosts.
Fact = Union[str, int, float, bool, None, tuple[str, ...]]


class Status(str, Enum):
    """The levels operators know from ``virt-host-validate``, plus SKIP."""

    PASS = "pass"
    WARN = "warn"
    FAIL = "fail"
    NOTE = "note"
    SKIP = "skip"
    # The first structure's name for NOTE; an alias, so old callers keep working.
    INFO = "note"


#: Order of the levels in summaries and JSON counts.
STATUS_ORDER: tuple[Status, ...] = (Status.PASS, Status.WARN, Status.FAIL, Status.NOTE, Status.SKIP)


@dataclass(frozen=True)
class Check:
    """One finding about the host.  ``hint`` says what to do; empty on pass.

    ``facts`` carry the same finding as plain values (counts, names, booleans) for machines;
    keys are stable per check id (docs/host-check.md).
    """

    id: str
    status: Status
    finding: str
    hint: str = ""
    facts: tuple[tuple[str, Fact], ...] = ()

    def fact(self, key: str) -> Fact:
        return dict(self.facts).get(key)


@dataclass(frozen=True)
class Verdict:
    kvm_available: bool
    summary: str
    reason: str

    @property
    def accelerator(self) -> str:
        return "kvm" if self.kvm_available else "tcg"


@dataclass(frozen=True)
class Identity:
    """Which machine the report is about, and when it was made."""

    hostname: str = ""
    kernel: str = ""
    machine: str = ""
    os: str = ""
    kvmq_version: str = ""
    time: str = ""  # ISO 8601, UTC


@dataclass(frozen=True)
class Report:
    checks: tuple[Check, ...]
    verdict: Verdict
    identity: Identity = Identity()

    @property
    def kvm_available(self) -> bool:
        return self.verdict.kvm_available

    def get(self, check_id: str) -> Optional[Check]:
        for check in self.checks:
            if check.id == check_id:
                return check
        return None

    def counts(self) -> dict[Status, int]:
        """How many checks have each status, in :data:`STATUS_ORDER`."""
        found = {status: 0 for status in STATUS_ORDER}
        for check in self.checks:
            found[check.status] += 1
        return found

    def to_dict(self) -> dict[str, Any]:
        """Plain data in the stable shape of docs/host-check.md (the JSON output)."""
        ident = self.identity
        return {
            "schema": REPORT_SCHEMA,
            "kind": REPORT_KIND,
            "host": {
                "hostname": ident.hostname,
                "kernel": ident.kernel,
                "machine": ident.machine,
                "os": ident.os,
            },
            "kvmq_version": ident.kvmq_version,
            "time": ident.time,
            "verdict": {
                "kvm_available": self.verdict.kvm_available,
                "accelerator": self.verdict.accelerator,
                "summary": self.verdict.summary,
                "reason": self.verdict.reason,
            },
            "counts": {status.value: count for status, count in self.counts().items()},
            "checks": [
                {
                    "id": c.id,
                    "status": c.status.value,
                    "finding": c.finding,
                    "hint": c.hint,
                    "facts": {key: list(v) if isinstance(v, tuple) else v for key, v in c.facts},
                }
                for c in self.checks
            ],
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
