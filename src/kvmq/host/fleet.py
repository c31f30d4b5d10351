"""A fleet: per-host reports (``kvmq check`` and ``kvmq vms`` from many machines) merged.

Plain Python, no textual or rich. The readers take what operators have: a folder of
``HOST.json`` files written by the Ansible playbook (contrib/ansible), single files, JSON
Lines or concatenated JSON documents, and the output of Ansible's ``json`` callback. The
per-host file is documented in docs/fleet.md.

Every problem with one host's report is a value, never an exception: the host is listed as
"no usable report" with the reason and every other host is unaffected. Only a path that
cannot be read at all (missing, not a file or folder) raises :class:`FleetError`.

Hostnames, findings and every other string from a report are data: :func:`printable` makes
control and bidi characters visible as escapes, and renderers show the result literally.
"""

from __future__ import annotations

import json
import os
import re
import time
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from enum import Enum
from pathlib import Path
from typing import Any, Iterable, Iterator, Optional, Sequence, Union

from kvmq.host.model import Check, Identity, Report, Status, Verdict

__all__ = [
    "CHECK_SCHEMAS",
    "REPORT_SCHEMA",
    "SORT_KEYS",
    "VMS_SCHEMAS",
    "Fleet",
    "FleetError",
    "HostRow",
    "State",
    "VMCounts",
    "check_report",
    "format_age",
    "printable",
    "read_fleet",
    "row_from_report",
]

#: Version of the per-host report file (docs/fleet.md) this kvmq writes and reads.
REPORT_SCHEMA = 1
#: ``kvmq check --format json`` versions understood; ``None``: the first output, which had none.
CHECK_SCHEMAS: frozenset[Optional[int]] = frozenset({None, 1})
#: The ``kind`` of a host check document (docs/host-check.md); absent in the first shape.
CHECK_KIND = "kvmq.host-check"
#: ``kvmq vms --format json`` versions understood.
VMS_SCHEMAS: frozenset[int] = frozenset({1})

#: A single report or stream file larger than this is refused (a 5,000-host Ansible run with
#: its VMs' command lines is a few hundred MiB at most).
MAX_FILE_BYTES = 512 * 1024 * 1024
#: Names shown at most this long: a DNS name is at most 253 characters.
MAX_NAME = 253
MAX_TEXT = 400

REPORT_SUFFIXES = (".json", ".jsonl", ".ndjson")


class FleetError(Exception):
    """A path given on the command line that cannot be read at all (exit status 2)."""


class State(str, Enum):
    """A host's standing, worst first (the order of :data:`STATE_ORDER`)."""

    NO_REPORT = "no-report"   # nothing usable: missing, truncated, not JSON, other schema
    NO_KVM = "no-kvm"         # the host check says QEMU would fall back to TCG
    TCG = "tcg"               # KVM works, yet at least one VM runs on TCG
    INCOMPLETE = "incomplete"  # the host check is fine, the VM scan is missing or broken
    OK = "ok"


STATE_ORDER = {state: index for index, state in enumerate(State)}

STATE_LABELS = {
    State.NO_REPORT: "no usable report",
    State.NO_KVM: "no KVM",
    State.TCG: "VMs on TCG",
    State.INCOMPLETE: "no VM scan",
    State.OK: "ok",
}


# --------------------------------------------------------------------------- literal text

_ESCAPES = {"\t": "\\t", "\n": "\\n", "\r": "\\r", "\x1b": "\\e"}
# C0 and C1 controls, DEL, and the format characters that reorder or hide text.
_UNSAFE_RE = re.compile("[\x00-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff"
                        "\ud800-\udfff]")


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    if char in _ESCAPES:
        return _ESCAPES[char]
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def printable(value: object, limit: int = MAX_TEXT) -> str:
    """``value`` as one line: controls and bidi/format characters written as escapes."""
    text = value if isinstance(value, str) else str(value)
    # isprintable() is False for every character the pattern escapes (Cc, Cf, Cs): a fast path.
    if not text.isprintable() and _UNSAFE_RE.search(text):
        text = _UNSAFE_RE.sub(_escape, text)
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    return text


# --------------------------------------------------------------------------- the model


@dataclass(frozen=True)
class VMCounts:
    kvm: int = 0
    tcg: int = 0
    unknown: int = 0  # the scan could not tell, or another accelerator (xen, hvf, ...)
    tcg_while_kvm_works: int = 0  # the VMs `kvmq vms --check` fails on

    @property
    def total(self) -> int:
        return self.kvm + self.tcg + self.unknown


@dataclass(frozen=True)
class HostRow:
    """One host of the fleet: what its report says, or why there is no usable report.

    ``document`` (the report as read) is kept only when :func:`read_fleet` is asked to, for
    the explorer's detail pane; the CLI never needs it.
    """

    host: str
    state: State
    source: str  # where the report came from: a file, or file:line
    kvm_available: Optional[bool] = None  # None: unknown (no usable host check)
    summary: str = ""  # the verdict's summary, or the reason there is no usable report
    reason: str = ""  # the verdict's reason; for NO_REPORT / INCOMPLETE what is wrong
    failing: tuple[str, ...] = ()  # ids of checks with status fail
    warnings: tuple[str, ...] = ()  # ids of checks with status warn
    vms: Optional[VMCounts] = None  # None: no usable VM scan
    collected_at: Optional[float] = None  # epoch seconds, from the report
    reported_hostname: str = ""  # the hostname the check saw, when it differs from ``host``
    document: Optional[dict[str, Any]] = field(default=None, compare=False, repr=False)

    @property
    def label(self) -> str:
        return STATE_LABELS[self.state]

    @property
    def ok(self) -> bool:
        return self.state is State.OK

    def age(self, now: float) -> Optional[float]:
        return None if self.collected_at is None else max(0.0, now - self.collected_at)

    def search_text(self) -> str:
        """Lower-cased words the explorer's filter matches against."""
        return " ".join((self.host, self.state.value, self.label, self.summary, self.reason,
                         *self.failing, *self.warnings, self.reported_hostname)).lower()

    def to_dict(self, now: float) -> dict[str, Any]:
        age = self.age(now)
        return {
            "host": self.host,
            "state": self.state.value,
            "kvm_available": self.kvm_available,
            "summary": self.summary,
            "reason": self.reason,
            "failing": list(self.failing),
            "warnings": list(self.warnings),
            "vms": None if self.vms is None else {
                "kvm": self.vms.kvm, "tcg": self.vms.tcg, "unknown": self.vms.unknown,
                "tcg_while_kvm_works": self.vms.tcg_while_kvm_works,
            },
            "collected_at": _iso(self.collected_at),
            "age_seconds": None if age is None else round(age),
            "source": self.source,
        }


@dataclass(frozen=True)
class Fleet:
    hosts: tuple[HostRow, ...]
    read_at: float
    sources: tuple[str, ...] = ()
    duplicates: int = 0  # reports dropped because a newer one for the same host was read

    @property
    def ok(self) -> bool:
        """Every host can run KVM and no VM runs on TCG where KVM works."""
        return all(row.ok for row in self.hosts)

    def count(self, state: State) -> int:
        return sum(1 for row in self.hosts if row.state is state)

    def vm_totals(self) -> VMCounts:
        kvm = tcg = unknown = bad = 0
        for row in self.hosts:
            if row.vms is not None:
                kvm += row.vms.kvm
                tcg += row.vms.tcg
                unknown += row.vms.unknown
                bad += row.vms.tcg_while_kvm_works
        return VMCounts(kvm, tcg, unknown, bad)

    def summary(self) -> dict[str, Any]:
        vms = self.vm_totals()
        return {
            "hosts": len(self.hosts),
            "all_ok": self.ok,
            "states": {state.value: self.count(state) for state in State},
            "kvm_available": sum(1 for row in self.hosts if row.kvm_available),
            "vms": {"kvm": vms.kvm, "tcg": vms.tcg, "unknown": vms.unknown,
                    "tcg_while_kvm_works": vms.tcg_while_kvm_works},
            "duplicates_dropped": self.duplicates,
        }

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema": REPORT_SCHEMA,
            "read_at": _iso(self.read_at),
            "summary": self.summary(),
            "hosts": [row.to_dict(self.read_at) for row in self.hosts],
        }


# --------------------------------------------------------------------------- sorting, filtering


def _sort_state(row: HostRow) -> tuple[int, str]:
    return STATE_ORDER[row.state], row.host


SORT_KEYS = {
    "host": lambda row: row.host,
    "state": _sort_state,
    "age": lambda row: (float("-inf") if row.collected_at is None else row.collected_at, row.host),
    "failing": lambda row: (-len(row.failing), -len(row.warnings), row.host),
    "vms": lambda row: (-(row.vms.total if row.vms else -1), row.host),
    "tcg": lambda row: ((-row.vms.tcg_while_kvm_works, -row.vms.tcg) if row.vms else (1, 1), row.host),
}
"""``--sort`` keys: host name; state (worst first); age (oldest first); most failing
checks; most VMs; most VMs on TCG."""

ONLY = {
    "failing": lambda row: not row.ok,
    "no-report": lambda row: row.state is State.NO_REPORT,
    "no-kvm": lambda row: row.state is State.NO_KVM,
    "tcg": lambda row: row.vms is not None and row.vms.tcg_while_kvm_works > 0,
    "ok": lambda row: row.ok,
}


def select(fleet: Fleet, only: Optional[str] = None, sort: str = "host") -> list[HostRow]:
    rows: Iterable[HostRow] = fleet.hosts
    if only:
        rows = filter(ONLY[only], rows)
    return sorted(rows, key=SORT_KEYS[sort])


# --------------------------------------------------------------------------- time


def _iso(epoch: Optional[float]) -> Optional[str]:
    if epoch is None:
        return None
    return datetime.fromtimestamp(epoch, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(value: object) -> Optional[float]:
    """An ISO 8601 time (``Z`` or an offset; no offset means UTC) as epoch seconds."""
    if not isinstance(value, str) or not 10 <= len(value) <= 40:
        return None
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.timestamp()


def format_age(seconds: Optional[float]) -> str:
    """``45s``, ``12m``, ``3h``, ``2d``; ``?`` when unknown."""
    if seconds is None:
        return "?"
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{int(seconds // size)}{unit}"
    return f"{int(seconds)}s"


# --------------------------------------------------------------------------- one report


def _schema_problem(what: str, schema: object, known: Iterable[Optional[int]]) -> str:
    readable = ", ".join(str(v) for v in sorted(v for v in known if v is not None))
    return (f"{what} schema {printable(schema, 20)}; this kvmq reads schema {readable}"
            " (use the same kvmq version on the hosts and here)")


def _check_part(doc: object) -> tuple[Optional[dict[str, Any]], str]:
    """The host check's essentials, or why it is unusable."""
    if not isinstance(doc, dict):
        return None, f"the host check is {_kind(doc)}, not a JSON object"
    schema = doc.get("schema")
    if schema not in CHECK_SCHEMAS or isinstance(schema, bool):
        return None, _schema_problem("host check", schema, CHECK_SCHEMAS)
    kind = doc.get("kind", CHECK_KIND)
    if kind != CHECK_KIND:
        return None, f"the host check is a {printable(kind, 40)!r} document, not {CHECK_KIND!r}"
    verdict = doc.get("verdict")
    checks = doc.get("checks")
    if not isinstance(verdict, dict) or not isinstance(verdict.get("kvm_available"), bool):
        return None, "the host check has no verdict (kvm_available)"
    if not isinstance(checks, list):
        return None, "the host check has no list of checks"
    failing: list[str] = []
    warnings: list[str] = []
    for check in checks:
        try:
            status = check["status"]
        except (TypeError, KeyError, IndexError):
            continue  # not a check: skipped, as a reader must skip what it does not know
        if status == "fail" or status == "warn":
            name = printable(check.get("id", "?"), 80) if isinstance(check, dict) else "?"
            (failing if status == "fail" else warnings).append(name)
    identity = doc.get("host")
    hostname = identity.get("hostname") if isinstance(identity, dict) else None
    return {
        "kvm_available": verdict["kvm_available"],
        "summary": printable(verdict.get("summary", "")),
        "reason": printable(verdict.get("reason", "")),
        "failing": tuple(failing),
        "warnings": tuple(warnings),
        "hostname": printable(hostname, MAX_NAME) if isinstance(hostname, str) else "",
        "time": doc.get("time"),
    }, ""


def _vms_part(doc: object, kvm_available: Optional[bool]) -> tuple[Optional[VMCounts], str]:
    if not isinstance(doc, dict):
        return None, f"the VM scan is {_kind(doc)}, not a JSON object"
    schema = doc.get("schema")
    if schema not in VMS_SCHEMAS or isinstance(schema, bool):
        return None, _schema_problem("VM scan", schema, VMS_SCHEMAS)
    vms = doc.get("vms")
    if not isinstance(vms, list):
        return None, "the VM scan has no list of VMs"
    kvm = tcg = unknown = 0
    for vm in vms:
        accel = vm.get("accelerator") if isinstance(vm, dict) else None
        if accel == "kvm":
            kvm += 1
        elif accel == "tcg":
            tcg += 1
        else:
            unknown += 1
    flagged = doc.get("tcg_while_kvm_works")
    if isinstance(flagged, list):
        bad = len(flagged)
    else:  # compute what `kvmq vms --check` would
        bad = 0 if kvm_available is False else sum(
            1 for vm in vms if isinstance(vm, dict) and vm.get("accelerator") == "tcg"
            and vm.get("kvm_capable", True) is not False)
    return VMCounts(kvm, tcg, unknown, bad), ""


def _kind(value: object) -> str:
    if value is None:
        return "null"
    return {dict: "an object", list: "a list", str: "a string", bool: "a boolean"}.get(
        type(value), "a number")


def unusable(host: str, source: str, reason: str, *, document: Optional[dict[str, Any]] = None,
             collected_at: Optional[float] = None) -> HostRow:
    return HostRow(host=host, state=State.NO_REPORT, source=source, summary=STATE_LABELS[State.NO_REPORT],
                   reason=reason, collected_at=collected_at, document=document)


def row_from_report(doc: dict[str, Any], fallback_host: str, source: str, *,
                    keep: bool = False) -> HostRow:
    """One row from a per-host report (docs/fleet.md), or from a bare ``kvmq check`` output."""
    if "checks" in doc and "verdict" in doc and "check" not in doc:
        # A bare `kvmq check --format json` output: the verdict without a VM scan.
        identity = doc.get("host")
        hostname = identity.get("hostname") if isinstance(identity, dict) else None
        doc = {"schema": REPORT_SCHEMA, "check": doc,
               "host": hostname if isinstance(hostname, str) else fallback_host}
    kept = doc if keep else None
    name = doc.get("host")
    host = printable(name, MAX_NAME) if isinstance(name, str) and name.strip() else fallback_host
    schema = doc.get("schema")
    collected_at = parse_time(doc.get("collected_at"))
    if schema != REPORT_SCHEMA or isinstance(schema, bool):
        if schema is None:
            return unusable(host, source, "not a kvmq report (no \"schema\"; see docs/fleet.md)",
                            document=kept)
        return unusable(host, source, _schema_problem("report", schema, {REPORT_SCHEMA}),
                        document=kept, collected_at=collected_at)
    errors: dict[str, Any] = doc["errors"] if isinstance(doc.get("errors"), dict) else {}
    check_doc = doc.get("check")
    if check_doc is None:
        why = errors.get("check") or "the report has no host check"
        return unusable(host, source, printable(why), document=kept, collected_at=collected_at)
    check, problem = _check_part(check_doc)
    if check is None:
        return unusable(host, source, problem, document=kept, collected_at=collected_at)
    if collected_at is None:
        collected_at = parse_time(check["time"])
    vms_doc = doc.get("vms")
    vms: Optional[VMCounts] = None
    if vms_doc is None:
        vms_problem = printable(errors.get("vms") or "the report has no VM scan")
    else:
        vms, vms_problem = _vms_part(vms_doc, check["kvm_available"])
    if not check["kvm_available"]:
        state, reason = State.NO_KVM, check["reason"]
    elif vms is None:
        state, reason = State.INCOMPLETE, f"VM scan: {vms_problem}"
    elif vms.tcg_while_kvm_works:
        state, reason = State.TCG, check["reason"]
    else:
        state, reason = State.OK, check["reason"]
    hostname = check["hostname"]
    return HostRow(
        host=host, state=state, source=source, kvm_available=check["kvm_available"],
        summary=check["summary"], reason=reason, failing=check["failing"],
        warnings=check["warnings"], vms=vms, collected_at=collected_at,
        reported_hostname=hostname if hostname and hostname != host else "", document=kept,
    )


def _fact_value(value: object) -> Any:
    if isinstance(value, list):
        return tuple(str(item) for item in value)
    return value if isinstance(value, (str, int, float, bool)) or value is None else str(value)


def check_report(doc: object) -> Optional[Report]:
    """A host check JSON (docs/host-check.md) as the :class:`~kvmq.host.model.Report` it was
    made from, for the renderers of ``kvmq check`` (the Fleet view shows a host with them).
    None when the document is not a usable host check. Unknown statuses read as NOTE."""
    part, _ = _check_part(doc)
    if part is None or not isinstance(doc, dict):
        return None
    checks = []
    for entry in doc.get("checks") or ():
        if not isinstance(entry, dict):
            continue
        status = {"info": "note"}.get(entry.get("status"), entry.get("status"))  # type: ignore[arg-type]
        try:
            level = Status(status)
        except ValueError:
            level = Status.NOTE
        facts = entry.get("facts")
        checks.append(Check(
            id=str(entry.get("id", "?")), status=level, finding=str(entry.get("finding", "")),
            hint=str(entry.get("hint", "")),
            facts=tuple((str(k), _fact_value(v)) for k, v in facts.items())
            if isinstance(facts, dict) else ()))
    verdict = doc["verdict"]
    host = doc.get("host")
    about: dict[str, Any] = host if isinstance(host, dict) else {}
    identity = Identity(
        hostname=str(about.get("hostname", "")), kernel=str(about.get("kernel", "")),
        machine=str(about.get("machine", "")), os=str(about.get("os", "")),
        kvmq_version=str(doc.get("kvmq_version", "")), time=str(doc.get("time", "")))
    return Report(
        checks=tuple(checks),
        verdict=Verdict(bool(verdict["kvm_available"]), str(verdict.get("summary", "")),
                        str(verdict.get("reason", ""))),
        identity=identity,
    )


# --------------------------------------------------------------------------- documents in a file


def _json_problem(error: json.JSONDecodeError, text: str, *, one_line: bool = False) -> str:
    if not text.strip():
        return "empty file"
    where = f"column {error.colno}" if one_line else f"line {error.lineno}, column {error.colno}"
    rest = text[error.pos:].strip()
    if not rest or error.msg.startswith("Unterminated string"):
        return f"truncated: the JSON ends early ({where})"
    return f"not JSON: {error.msg} at {where}"


def _documents(text: str, by_line: bool) -> Iterator[tuple[int, Union[Any, str]]]:
    """Each JSON document in ``text`` with the line it starts on, or what is wrong with it.

    A document that fits its line is read as one (JSON Lines); otherwise, unless ``by_line``,
    documents may span lines and follow one another (pretty-printed output, one per host). After
    a broken one, reading resumes on the next line.
    """
    decoder = json.JSONDecoder()
    length = len(text)
    position, line = 0, 1
    while position < length:
        newline = text.find("\n", position)
        end_of_line = length if newline < 0 else newline
        chunk = text[position:end_of_line]
        if not chunk.strip():
            position, line = end_of_line + 1, line + 1
            continue
        try:
            yield line, json.loads(chunk)
            position, line = end_of_line + 1, line + 1
            continue
        except json.JSONDecodeError as error:
            line_error = error
        if not by_line:
            start = position + len(chunk) - len(chunk.lstrip())
            try:
                value, end = decoder.raw_decode(text, start)
            except json.JSONDecodeError:
                pass
            else:
                yield line, value
                line += text.count("\n", position, end)
                position = end
                continue
        yield line, _json_problem(line_error, chunk, one_line=True)
        position, line = end_of_line + 1, line + 1


def _looks_like_ansible(doc: dict[str, Any]) -> bool:
    return isinstance(doc.get("plays"), list) and isinstance(doc.get("stats"), dict)


def _rows_from_ansible(doc: dict[str, Any], source: str, keep: bool) -> list[HostRow]:
    """Rows from the output of Ansible's ``json`` callback (``ansible.posix.json``).

    A host's result counts when its ``stdout`` is a kvmq report, a ``kvmq check`` or a
    ``kvmq vms`` output (the fleet playbook, or ad-hoc ``command``/``script`` runs). Hosts in
    the recap without one are listed with the last failure Ansible recorded for them.
    """
    reports: dict[str, dict[str, Any]] = {}
    parts: dict[str, dict[str, Any]] = {}
    failures: dict[str, str] = {}
    for play in doc["plays"]:
        tasks = play.get("tasks") if isinstance(play, dict) else None
        for task in tasks if isinstance(tasks, list) else ():
            hosts = task.get("hosts") if isinstance(task, dict) else None
            if not isinstance(hosts, dict):
                continue
            for host, result in hosts.items():
                if not isinstance(result, dict):
                    continue
                if result.get("unreachable"):
                    failures[host] = "unreachable: " + printable(result.get("msg", ""))
                    continue
                stdout = result.get("stdout")
                parsed: Any = None
                if isinstance(stdout, str) and stdout.lstrip().startswith("{"):
                    try:
                        parsed = json.loads(stdout)
                    except ValueError:
                        parsed = None
                if isinstance(parsed, dict):
                    if "check" in parsed or isinstance(parsed.get("host"), str):
                        reports[host] = parsed
                        continue
                    if "checks" in parsed and "verdict" in parsed:
                        parts.setdefault(host, {})["check"] = parsed
                        continue
                    if isinstance(parsed.get("vms"), list):
                        parts.setdefault(host, {})["vms"] = parsed
                        continue
                if result.get("failed"):
                    failures[host] = "failed: " + printable(
                        result.get("msg") or result.get("stderr") or "")
    for host, part in parts.items():
        if host not in reports:
            reports[host] = {"schema": REPORT_SCHEMA, "host": host, **part}
    rows = []
    stats = doc.get("stats") or {}
    for host in sorted(set(reports) | set(failures) | set(stats)):
        name = printable(host, MAX_NAME)
        if host in reports:
            report = reports[host]
            report.setdefault("host", host)
            rows.append(row_from_report(report, name, source, keep=keep))
        else:
            why = failures.get(host, "no kvmq output for this host in the Ansible run")
            rows.append(unusable(name, source, why))
    return rows


def _rows_from_document(doc: Any, fallback_host: str, source: str, keep: bool) -> list[HostRow]:
    if isinstance(doc, list) and doc and all(isinstance(item, dict) for item in doc):
        rows = []
        for index, item in enumerate(doc):
            rows += _rows_from_document(item, f"{fallback_host}[{index}]", f"{source}[{index}]", keep)
        return rows
    if not isinstance(doc, dict):
        return [unusable(fallback_host, source, f"not a kvmq report: the file holds {_kind(doc)}")]
    if _looks_like_ansible(doc):
        return _rows_from_ansible(doc, source, keep)
    return [row_from_report(doc, fallback_host, source, keep=keep)]


def _host_from_path(path: str) -> str:
    name = os.path.basename(path)
    for suffix in REPORT_SUFFIXES:
        if name.endswith(suffix):
            name = name[: -len(suffix)]
            break
    return printable(name, MAX_NAME)


def read_file(path: Union[str, Path], *, keep: bool = False) -> list[HostRow]:
    """The rows in one file; a file that cannot be used is one NO_REPORT row named after it.

    A row without a time of its own (a broken file) is as old as the file.
    """
    path = os.fspath(path)
    rows = _read_file(path, keep)
    if (rows[0].collected_at is None if len(rows) == 1
            else any(row.collected_at is None for row in rows)):
        try:
            mtime = os.stat(path).st_mtime
        except OSError:
            return rows
        rows = [row if row.collected_at is not None else replace(row, collected_at=mtime)
                for row in rows]
    return rows


def _read_file(path: str, keep: bool) -> list[HostRow]:
    host = _host_from_path(path)
    source = path
    try:
        with open(path, "rb") as handle:
            raw = handle.read(MAX_FILE_BYTES + 1)
    except OSError as error:
        return [unusable(host, source, f"cannot read: {error.strerror or error}")]
    if len(raw) > MAX_FILE_BYTES:
        return [unusable(host, source, f"over {MAX_FILE_BYTES >> 20} MiB: not read")]
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        return [unusable(host, source, f"not JSON: not UTF-8 (byte {error.start})")]
    streamed = path.endswith((".jsonl", ".ndjson"))  # JSON Lines: always read line by line
    if not streamed:
        try:
            return _rows_from_document(json.loads(text), host, source, keep)
        except json.JSONDecodeError as error:
            if not error.msg.startswith("Extra data"):
                return [unusable(host, source, _json_problem(error, text))]
        except RecursionError:
            return [unusable(host, source, "not JSON: nested too deeply")]
    # Several documents: JSON Lines, or documents one after another (Salt without --static).
    rows: list[HostRow] = []
    events: list[dict[str, Any]] = []
    try:
        for line, item in _documents(text, by_line=streamed):
            where = f"{source}:{line}"
            if isinstance(item, str):
                rows.append(unusable(f"{host}:{line}", where, f"line {line}: {item}"))
            elif isinstance(item, dict) and "_event" in item:
                events.append(item)  # Ansible's jsonl callback: one event per line
            else:
                rows += _rows_from_document(item, f"{host}:{line}", where, keep)
    except RecursionError:
        rows.append(unusable(host, source, "not JSON: nested too deeply"))
    if events:
        rows += _rows_from_ansible(_ansible_from_events(events), source, keep)
    return rows or [unusable(host, source, "empty file" if not text.strip() else "no report in the file")]


def _ansible_from_events(events: list[dict[str, Any]]) -> dict[str, Any]:
    """The ``json`` callback's shape, from the events of ``ansible.posix.jsonl``."""
    tasks = [{"hosts": event["hosts"]} for event in events
             if str(event.get("_event", "")).startswith("v2_runner_on_")
             and isinstance(event.get("hosts"), dict)]
    stats: dict[str, Any] = {}
    for event in events:
        if event.get("_event") == "v2_playbook_on_stats" and isinstance(event.get("stats"), dict):
            stats = event["stats"]
    return {"plays": [{"tasks": tasks}], "stats": stats}


def _report_files(folder: Path) -> list[str]:
    """The report files directly in ``folder``: visible ``*.json``, ``*.jsonl``, ``*.ndjson``.

    Dot files are skipped: the playbook's (Ansible's) temporary files while a report is
    being written atomically are named so.
    """
    try:
        entries = sorted(os.scandir(folder), key=lambda entry: entry.name)
    except OSError as error:
        raise FleetError(f"{folder}: cannot read the folder: {error.strerror or error}") from None
    found = []
    for entry in entries:
        if entry.name.startswith(".") or not entry.name.endswith(REPORT_SUFFIXES):
            continue
        try:
            if entry.is_file():
                found.append(entry.path)
        except OSError:
            found.append(entry.path)  # read_file says what is wrong with it
    return found


def read_fleet(paths: Sequence[Union[str, Path]], *, keep: bool = False,
               now: Optional[float] = None) -> Fleet:
    """Read and merge every report under ``paths`` (files or folders).

    When one host has several reports the newest (by ``collected_at``) wins.

    Raises:
        FleetError: a path does not exist or is neither a file nor a folder, or nothing
            under the paths looks like a report file.
    """
    by_host: dict[str, HostRow] = {}
    duplicates = 0
    sources: list[str] = []
    for given in paths:
        path = Path(given)
        if path.is_dir():
            files = _report_files(path)
        elif path.exists():
            files = [str(path)]
        else:
            raise FleetError(f"{path}: no such file or folder")
        sources.append(str(path))
        for file in files:
            for row in read_file(file, keep=keep):
                previous = by_host.get(row.host)
                if previous is not None:
                    duplicates += 1
                    if (previous.collected_at or 0.0) > (row.collected_at or 0.0):
                        continue
                by_host[row.host] = row
    if not by_host:
        raise FleetError(f"no host reports in {', '.join(map(str, paths))} "
                         "(expected HOST.json files: see docs/fleet.md)")
    rows = tuple(sorted(by_host.values(), key=lambda row: row.host))
    return Fleet(hosts=rows, read_at=time.time() if now is None else now,
                 sources=tuple(sources), duplicates=duplicates)
