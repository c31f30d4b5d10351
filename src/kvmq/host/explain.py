"""Explain a QEMU command line option by option, with its pitfalls.

Plain Python (no textual, no rich). The knowledge lives in ``data/qemu-options.yaml``
(:mod:`kvmq.dataset.qemu_options`, handed in as ``table``: the host wing never
imports the dataset wing); this module parses a command line the way QEMU does and raises
the findings that file declares.

Public API:

* :func:`explain` -- ``explain(argv, host=None, table=...) -> Explanation``
* :func:`find_invocation` -- the QEMU argv inside a script, a libvirt log or ``ps`` output
* :func:`split_command_line` -- shell-style splitting of one command line
* :class:`HostFacts` / :class:`BinaryFacts` -- what the findings know about this host (injectable)

Parsing follows QEMU's ``qemu_init``: ``--opt`` is ``-opt``; an option that takes an argument
takes the next word whatever it looks like; words that are not options are disk images;
``key=value,...`` lists split on commas with ``,,`` as a literal comma and an implied first
key (``-machine q35`` is ``type=q35``); JSON arguments (``{...}``) are flattened into dotted
keys. Nothing here raises on odd input: unknown options and sub-options are marked unknown.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping, Optional, Sequence

__all__ = [
    "MAX_LINE_BYTES",
    "BinaryFacts",
    "ExplainInputError",
    "Explanation",
    "Finding",
    "HostFacts",
    "Option",
    "SubOption",
    "explain",
    "find_invocation",
    "is_qemu_program",
    "shell_words",
    "split_command_line",
]

#: The longest line :func:`find_invocation` accepts (QEMU lines from libvirt are ~10 kB).
MAX_LINE_BYTES = 1024 * 1024
LEVEL_ORDER = {"error": 0, "warning": 1, "note": 2}

_PROGRAM_RE = re.compile(r"(?:^|/)(qemu-system-[A-Za-z0-9_.+-]+|qemu-kvm|kvm)$")
_X86_PROGRAM_RE = re.compile(r"(?:^|/)(qemu-system-(x86_64|i386)|qemu-kvm|kvm)$")
_SIZE_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kKmMgGtTpPeE]?)(?:i?[bB])?\s*$")
_SIZE_SHIFT = {"": 0, "k": 10, "m": 20, "g": 30, "t": 40, "p": 50, "e": 60}
_LOOPBACK = ("127.", "localhost", "::1", "[::1]")
_EMULATED_NICS = ("e1000", "e1000-82540em", "e1000e", "igb", "rtl8139", "ne2k_pci", "pcnet")
_HW_ACCELS = ("kvm", "hvf", "whpx", "nvmm", "xen")
_CHARDEV_PREFIXES = ("tcp", "telnet", "websocket", "unix", "udp", "file", "pipe", "chardev", "mon",
                     "vc", "COM")
_CHARDEV_WORDS = ("stdio", "pty", "none", "null", "braille", "msmouse", "vc")
_SHELL_STOPS = frozenset({";", "&&", "||", "|", "&"})


class ExplainInputError(ValueError):
    """Input that holds no QEMU command line kvmq can read; the message is one line."""


# --------------------------------------------------------------------------- host facts


@dataclass(frozen=True)
class BinaryFacts:
    """What an installed QEMU binary supports (``None``: not known)."""

    path: str
    version: str = ""
    accels: Optional[frozenset[str]] = None
    machines: Optional[frozenset[str]] = None
    cpus: Optional[frozenset[str]] = None
    devices: Optional[frozenset[str]] = None


@dataclass(frozen=True)
class HostFacts:
    """Facts about the host the findings compare against; ``None`` means unknown."""

    cpus: Optional[int] = None
    memory_bytes: Optional[int] = None
    iommu_groups: Optional[int] = None
    kvm_usable: Optional[bool] = None
    binary: Optional[BinaryFacts] = None


# --------------------------------------------------------------------------- the result


@dataclass(frozen=True)
class SubOption:
    """One ``key=value`` of an option's argument."""

    key: str
    value: str
    meaning: Optional[str]  # None: unknown to kvmq
    value_meaning: Optional[str] = None
    implied: bool = False  # the key was not written (-machine q35 is type=q35)

    @property
    def known(self) -> bool:
        return self.meaning is not None


@dataclass(frozen=True)
class Option:
    """One option of the command line as QEMU reads it."""

    index: int  # position in argv
    spelled: str  # as written, e.g. "--machine"
    name: str  # canonical name without dashes ("" for a positional disk image)
    argument: Optional[str]
    meaning: Optional[str]  # None: unknown to kvmq
    source: Optional[str] = None
    kind: Optional[str] = None
    kind_meaning: Optional[str] = None
    suboptions: tuple[SubOption, ...] = ()
    versions: Optional[str] = None

    @property
    def known(self) -> bool:
        return self.meaning is not None

    @property
    def unknown_suboptions(self) -> tuple[str, ...]:
        return tuple(sub.key for sub in self.suboptions if not sub.known)

    def get(self, key: str) -> Optional[str]:
        """The last value given for ``key`` (QEMU keeps the last), or None."""
        for sub in reversed(self.suboptions):
            if sub.key == key:
                return sub.value
        return None


@dataclass(frozen=True)
class Finding:
    """A problem or advice about the command line."""

    id: str
    level: str  # error | warning | note
    message: str
    fix: str
    source: str
    option: Optional[int] = None  # index into Explanation.options


@dataclass(frozen=True)
class Explanation:
    """The whole explanation of one command line."""

    program: str
    options: tuple[Option, ...]
    findings: tuple[Finding, ...]
    accelerators: tuple[str, ...] = ()  # in the order QEMU tries them; () = TCG by default
    cross_checked: Optional[str] = None  # the binary the line was checked against
    versions: str = ""

    @property
    def has_errors(self) -> bool:
        return any(finding.level == "error" for finding in self.findings)

    @property
    def unknown(self) -> tuple[str, ...]:
        """Options and sub-options kvmq does not know, as ``-opt`` or ``-opt key``."""
        out = [option.spelled for option in self.options if option.name and not option.known]
        for option in self.options:
            out.extend(f"{option.spelled} {key}" for key in option.unknown_suboptions)
        if any(option.kind and option.kind_meaning is None for option in self.options):
            out.extend(f"{o.spelled} {o.kind}" for o in self.options if o.kind and o.kind_meaning is None)
        return tuple(out)

    def to_dict(self) -> dict[str, Any]:
        """Plain data in a stable shape (the JSON output)."""
        return {
            "program": self.program,
            "accelerators": list(self.accelerators),
            "cross_checked": self.cross_checked,
            "options": [
                {
                    "index": o.index, "option": o.spelled, "name": o.name, "argument": o.argument,
                    "known": o.known, "meaning": o.meaning, "kind": o.kind,
                    "kind_meaning": o.kind_meaning, "source": o.source, "versions": o.versions,
                    "suboptions": [
                        {"key": s.key, "value": s.value, "known": s.known, "meaning": s.meaning,
                         "value_meaning": s.value_meaning, "implied": s.implied}
                        for s in o.suboptions
                    ],
                }
                for o in self.options
            ],
            "findings": [
                {"id": f.id, "level": f.level, "message": f.message, "fix": f.fix,
                 "source": f.source, "option": f.option}
                for f in self.findings
            ],
            "unknown": list(self.unknown),
            "has_errors": self.has_errors,
        }


# --------------------------------------------------------------------------- splitting


def split_keyval(text: str) -> list[str]:
    """Split ``a=1,b=x,,y`` on commas; ``,,`` is a literal comma (QEMU's rule)."""
    parts: list[str] = []
    current: list[str] = []
    i = 0
    while i < len(text):
        char = text[i]
        if char == ",":
            if text.startswith(",,", i):
                current.append(",")
                i += 2
                continue
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
        i += 1
    parts.append("".join(current))
    return parts


def _flatten(value: Any, prefix: str, out: list[tuple[str, str]]) -> None:
    if isinstance(value, dict):
        for key, inner in value.items():
            _flatten(inner, f"{prefix}.{key}" if prefix else str(key), out)
    elif isinstance(value, list):
        for index, inner in enumerate(value):
            _flatten(inner, f"{prefix}.{index}", out)
    elif isinstance(value, bool):
        out.append((prefix, "on" if value else "off"))
    elif value is None:
        out.append((prefix, "null"))
    else:
        out.append((prefix, str(value)))


def is_qemu_program(word: str) -> bool:
    """True for qemu-system-*, qemu-kvm and Debian's kvm wrapper (by name or path)."""
    return bool(_PROGRAM_RE.search(word))


def split_command_line(line: str) -> list[str]:
    """Split one shell command line into words (quotes and backslashes as sh does).

    Raises:
        ExplainInputError: unbalanced quotes.
    """
    try:
        return shell_words(line)
    except ValueError as exc:
        raise ExplainInputError(f"cannot split the command line: {exc} (unbalanced quotes?)") from None


# One piece of a word: plain characters, a '...' or "..." string, a backslash and the
# character after it; or a run of blanks between words.
_WORD_PIECE_RE = re.compile(r"""[^ \t\r\n'"\\]+|'[^']*'|"(?:[^"\\]|\\.)*"|\\.|[ \t\r\n]+""", re.S)
_DOUBLE_QUOTED_ESCAPE_RE = re.compile(r'\\(["\\])')
_OPEN_DOUBLE_QUOTE_ESCAPE_RE = re.compile(r'"(?:[^"\\]|\\.)*\\\Z', re.S)


def shell_words(line: str, comments: bool = False) -> list[str]:
    """The words of ``line`` as ``shlex.split(line, posix=True)`` gives them, but with one
    regular-expression match per piece instead of one Python step per character (a libvirt
    line of 300 options took 19 ms in shlex). With ``comments``, a word that starts with
    ``#`` starts a comment that runs to the end of the line, as in sh.

    Raises:
        ValueError: "No closing quotation" or "No escaped character", as shlex says.
    """
    words: list[str] = []
    pieces: list[str] = []
    in_word = False
    position, end = 0, len(line)
    while position < end:
        match = _WORD_PIECE_RE.match(line, position)
        if match is None:
            escaped_at_end = line[position] == "\\" or _OPEN_DOUBLE_QUOTE_ESCAPE_RE.match(line, position)
            raise ValueError("No escaped character" if escaped_at_end else "No closing quotation")
        piece = match.group()
        lead = piece[0]
        if lead in " \t\r\n":
            if in_word:
                words.append("".join(pieces))
                pieces, in_word = [], False
        elif comments and not in_word and lead == "#":
            newline = line.find("\n", position)
            position = end if newline < 0 else newline
            continue
        else:
            in_word = True
            if lead == "'":
                pieces.append(piece[1:-1])
            elif lead == '"':
                pieces.append(_DOUBLE_QUOTED_ESCAPE_RE.sub(r"\1", piece[1:-1]))
            elif lead == "\\":
                pieces.append(piece[1])
            else:
                pieces.append(piece)
        position = match.end()
    if in_word:
        words.append("".join(pieces))
    return words


_PS_LINE_RE = re.compile(r"^\s*(?:\S+\s+)?\d+\s+.*?(?=\S*(?:qemu-system-|qemu-kvm|\bkvm\b))")


def find_invocation(text: str) -> list[str]:
    """The QEMU command line in ``text``: a shell script, a libvirt log, ``ps`` output.

    The last invocation wins (the most recent start in a log). Environment assignments,
    ``exec`` and anything after a shell operator are dropped. ``ps`` lines are split on
    blanks, since ``ps`` prints arguments without quoting.

    Raises:
        ExplainInputError: NUL bytes, a line over 1 MiB, unbalanced quotes, no invocation.
    """
    if "\x00" in text:
        raise ExplainInputError("the input contains NUL bytes: give a text file, or --pid PID")
    joined = re.sub(r"\\\r?\n", " ", text)
    found: Optional[list[str]] = None
    for line in joined.splitlines():
        if len(line) > MAX_LINE_BYTES or len(line.encode("utf-8", "surrogateescape")) > MAX_LINE_BYTES:
            raise ExplainInputError("a line is longer than 1 MiB: that is not a QEMU command line")
        if "qemu" not in line and "kvm" not in line:
            continue
        argv = _invocation_in_line(line)
        if argv:
            found = argv
    if found is None:
        raise ExplainInputError("no QEMU invocation found (looked for qemu-system-*, qemu-kvm or kvm)")
    return found


def _invocation_in_line(line: str) -> Optional[list[str]]:
    stripped = line.strip()
    if not stripped or stripped.startswith("#"):
        return None
    ps = _PS_LINE_RE.match(line)
    if ps is not None and not re.match(r"^\s*(?:exec\s+|[A-Z_][A-Z0-9_]*=)", line):
        words = line[ps.end():].split()
    else:
        try:
            words = shell_words(line, comments=True)
        except ValueError as exc:
            if not any(_PROGRAM_RE.search(word) for word in line.split()):
                return None
            raise ExplainInputError(
                f"cannot split the command line: {exc} (unbalanced quotes?)") from None
    for start, word in enumerate(words):
        if _PROGRAM_RE.search(word):
            argv = [word]
            for rest in words[start + 1:]:
                if rest in _SHELL_STOPS or re.match(r"^\d*[<>]", rest):
                    break
                argv.append(rest)
            return argv
    return None


# --------------------------------------------------------------------------- explaining


@dataclass
class _Context:
    table: Any  # kvmq.dataset.qemu_options.OptionTable
    host: HostFacts
    program: str
    options: list[Option] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)

    def add(self, finding_id: str, option: Optional[int] = None, **values: Any) -> None:
        info = self.table.findings.get(finding_id)
        if info is None:  # pragma: no cover - a test keeps code and file in step
            return
        self.findings.append(Finding(
            id=finding_id, level=info.level, message=_fill(info.message, values),
            fix=_fill(info.fix, values), source=info.source, option=option))

    def named(self, *names: str) -> list[Option]:
        return [option for option in self.options if option.name in names]


def _fill(template: str, values: Mapping[str, Any]) -> str:
    def replace(match: re.Match[str]) -> str:
        return str(values.get(match.group(1), match.group(0)))
    return re.sub(r"\{([a-z_]+)\}", replace, template)


def explain(argv: Sequence[str], host: Optional[HostFacts] = None, table: Any = None) -> Explanation:
    """Explain ``argv`` (program first) option by option and raise its findings.

    Args:
        argv: the command line as words, ``argv[0]`` the QEMU program.
        host: facts about this host for the host-dependent findings (None: skip them).
        table: the options knowledge, a :class:`kvmq.dataset.qemu_options.OptionTable`
            (``load_options()``; :func:`kvmq.render.explain.explain_command` loads it for you).
    """
    if table is None:
        raise TypeError("explain() needs table=kvmq.dataset.qemu_options.load_options()")
    words = [str(word) for word in argv]
    program = words[0] if words else ""
    ctx = _Context(table=table, host=host or HostFacts(), program=program)
    i = 1
    while i < len(words):
        word = words[i]
        if not word.startswith("-") or word == "-":
            ctx.options.append(_positional(i, word))
            i += 1
            continue
        name = word[2:] if word.startswith("--") else word[1:]
        info = table.lookup(name)
        if info is None:
            # QEMU would stop with "invalid option"; guess that a following non-option is its argument.
            argument = words[i + 1] if i + 1 < len(words) and not words[i + 1].startswith("-") else None
            ctx.options.append(Option(index=i, spelled=word, name=name, argument=argument, meaning=None))
            ctx.add("unknown-option", len(ctx.options) - 1, what=word)
            i += 2 if argument is not None else 1
            continue
        if info.takes_argument and i + 1 >= len(words):
            ctx.options.append(Option(index=i, spelled=word, name=info.name, argument=None,
                                      meaning=info.meaning, source=info.source, versions=info.versions))
            ctx.add("missing-argument", len(ctx.options) - 1, what=word)
            break
        argument = words[i + 1] if info.takes_argument else None
        ctx.options.append(_parse_option(ctx, i, word, info, argument))
        i += 2 if info.takes_argument else 1
    _check(ctx)
    ctx.findings.sort(key=lambda f: LEVEL_ORDER.get(f.level, 3))
    binary = ctx.host.binary
    return Explanation(
        program=program, options=tuple(ctx.options), findings=tuple(ctx.findings),
        accelerators=tuple(_accelerators(ctx)[0]),
        cross_checked=binary.path if binary is not None and _same_program(binary.path, program) else None,
        versions=table.versions,
    )


def _positional(index: int, word: str) -> Option:
    return Option(index=index, spelled=word, name="", argument=word,
                  meaning="a disk image without an option: QEMU uses it as the first IDE disk (-hda)")


def _parse_option(ctx: _Context, index: int, spelled: str, info: Any,
                  argument: Optional[str]) -> Option:
    base = dict(index=index, spelled=spelled, name=info.name, argument=argument,
                meaning=info.meaning, source=info.source, versions=info.versions)
    position = len(ctx.options)
    _deprecation(ctx, position, spelled, info.deprecated, info.removed)
    if argument is None or info.syntax == "value":
        return Option(**base)
    if info.syntax == "global":
        return Option(**base, suboptions=_global_parts(argument))
    if info.syntax == "chardev":
        kind, parts = _chardev_spec(ctx, position, spelled, argument)
        return Option(**base, kind=kind, kind_meaning=ctx.table.chardev_backends.get(kind or ""),
                      suboptions=parts)
    if info.syntax == "cpu":
        return _cpu_option(ctx, base, info, argument)
    pairs, implied_first = _pairs(ctx, position, spelled, info, argument)
    kind_name = None
    if info.implied is not None:
        kind_name = next((value for key, value in pairs if key == info.implied), None)
    kind = info.kinds.get(kind_name) if kind_name is not None else None
    if kind is not None:
        _deprecation(ctx, position, f"{spelled} {kind_name}", kind.deprecated, kind.removed)
    subs = []
    for number, (key, value) in enumerate(pairs):
        sub = info.suboption(key, kind)
        if sub is not None:
            _deprecation(ctx, position, f"{spelled} {key}=", sub.deprecated, sub.removed)
        subs.append(SubOption(
            key=key, value=value, meaning=sub.meaning if sub else None,
            value_meaning=(sub.values.get(value) or sub.values.get("*")) if sub else None,
            implied=implied_first and number == 0))
    return Option(**base, kind=kind_name if info.kinds else None,
                  kind_meaning=kind.meaning if kind else None, suboptions=tuple(subs))


def _deprecation(ctx: _Context, position: int, what: str, deprecated: Optional[str],
                 removed: Optional[str]) -> None:
    if removed:
        version, _, instead = removed.partition(":")
        ctx.add("deprecated", position, what=what, status=f"was removed in QEMU {version.strip()}",
                instead=instead.strip() or "remove it")
    elif deprecated:
        version, _, instead = deprecated.partition(":")
        ctx.add("deprecated", position, what=what, status=f"is deprecated since QEMU {version.strip()}",
                instead=instead.strip() or "plan to remove it")


def _pairs(ctx: _Context, position: int, spelled: str, info: Any,
           argument: str) -> tuple[list[tuple[str, str]], bool]:
    """``(key, value)`` pairs of a keyval argument; the flag says the first key was implied."""
    if argument.lstrip().startswith("{"):
        try:
            data = json.loads(argument)
        except ValueError as exc:
            ctx.add("bad-json", position, what=spelled, error=str(exc))
            return [], False
        flat: list[tuple[str, str]] = []
        _flatten(data, "", flat)
        return flat, False
    pairs: list[tuple[str, str]] = []
    implied_first = False
    for number, part in enumerate(split_keyval(argument)):
        if "=" in part:
            key, _, value = part.partition("=")
            pairs.append((key, value))
        elif number == 0 and info.implied is not None:
            pairs.append((info.implied, part))
            implied_first = True
        elif part:
            pairs.append(_short_boolean(ctx, position, spelled, info, part))
    return pairs, implied_first


def _short_boolean(ctx: _Context, position: int, spelled: str, info: Any,
                   part: str) -> tuple[str, str]:
    key, value = part, "on"
    if part.startswith("no") and (info is None or info.suboption(part) is None):
        key, value = part[2:], "off"
    ctx.add("short-boolean", position, what=f"{spelled} {part}", key=key, value=value)
    return key, value


def _global_parts(argument: str) -> tuple[SubOption, ...]:
    if "=" in argument and "." in argument.partition("=")[0]:
        target, _, value = argument.partition("=")
        driver, _, prop = target.partition(".")
        return (SubOption(key="driver", value=driver, meaning="the device driver whose default changes"),
                SubOption(key="property", value=prop, meaning="the property"),
                SubOption(key="value", value=value, meaning="its new default"))
    parts = []
    meanings = {"driver": "the device driver whose default changes", "property": "the property",
                "value": "its new default"}
    for part in split_keyval(argument):
        key, _, value = part.partition("=")
        parts.append(SubOption(key=key, value=value, meaning=meanings.get(key)))
    return tuple(parts)


def _cpu_option(ctx: _Context, base: dict[str, Any], info: Any, argument: str) -> Option:
    parts = split_keyval(argument)
    model = parts[0]
    kind = info.kinds.get(model)
    subs = [SubOption(key="model", value=model, implied=True,
                      meaning="the CPU model" + ("" if kind else " (a named model; '-cpu help' lists them)"))]
    for part in parts[1:]:
        if not part:
            continue
        if part[0] in "+-":
            state = "enable" if part[0] == "+" else "disable"
            subs.append(SubOption(key=part[1:], value="on" if part[0] == "+" else "off",
                                  meaning=f"{state} the CPU feature '{part[1:]}'"))
            continue
        key, has_value, value = part.partition("=")
        sub = info.suboption(key)
        meaning = sub.meaning if sub else f"the CPU feature or property '{key}'"
        subs.append(SubOption(key=key, value=value if has_value else "on", meaning=meaning))
    return Option(**base, kind=model, kind_meaning=kind.meaning if kind else "a named CPU model",
                  suboptions=tuple(subs))


def _chardev_spec(ctx: _Context, position: int, spelled: str,
                  argument: str) -> tuple[Optional[str], tuple[SubOption, ...]]:
    """Parse ``tcp:HOST:PORT,server=on``, ``unix:PATH``, ``stdio``, ``mon:stdio``, ``/dev/ttyS0``."""
    parts = split_keyval(argument)
    head = parts[0]
    subs: list[SubOption] = []
    prefix, colon, rest = head.partition(":")
    if head.startswith("/dev/"):
        kind, address = "dev", head
    elif colon and (prefix in _CHARDEV_PREFIXES or prefix.startswith("COM")):
        kind, address = ("COM" if prefix.startswith("COM") else prefix), rest
    elif head in _CHARDEV_WORDS:
        kind, address = head, ""
    elif head.startswith("COM"):
        kind, address = "COM", head
    else:
        kind, address = None, head
    subs.append(SubOption(key="backend", value=kind or head, implied=True,
                          meaning="where the device's data goes" if kind else None))
    if address:
        subs.append(SubOption(key="address", value=address, implied=True,
                              meaning="the host, port, path or device"))
    chardev = ctx.table.lookup("chardev")
    for part in parts[1:]:
        if not part:
            continue
        if "=" in part:
            key, _, value = part.partition("=")
        else:
            key, value = _short_boolean(ctx, position, spelled, chardev, part)
        sub = chardev.suboption(key) if chardev else None
        subs.append(SubOption(key=key, value=value, meaning=sub.meaning if sub else None,
                              value_meaning=sub.values.get(value) if sub else None))
    return kind, tuple(subs)


def parse_size(text: str, default_shift: int = 20) -> Optional[int]:
    """Bytes in a QEMU size (``4G``, ``512M``, ``4194304k``); a bare number uses ``default_shift``."""
    match = _SIZE_RE.match(text or "")
    if not match:
        return None
    number, suffix = float(match.group(1)), match.group(2).lower()
    shift = _SIZE_SHIFT[suffix] if suffix else default_shift
    return int(number * (1 << shift))


def _human_size(size: int) -> str:
    for unit, shift in (("TiB", 40), ("GiB", 30), ("MiB", 20)):
        if size >= 1 << shift:
            value = size / (1 << shift)
            return f"{value:.0f} {unit}" if value == int(value) else f"{value:.1f} {unit}"
    return f"{size} bytes"


# --------------------------------------------------------------------------- the checks


def _accelerators(ctx: _Context) -> tuple[list[str], list[int]]:
    """Accelerators in the order QEMU tries them, and the options that name them."""
    accels: list[str] = []
    where: list[int] = []
    for position, option in enumerate(ctx.options):
        if option.name == "accel" and option.get("accel"):
            accels.append(option.get("accel") or "")
            where.append(position)
        elif option.name == "enable-kvm":
            accels.append("kvm")
            where.append(position)
        elif option.name == "machine" and option.get("accel"):
            accels.extend(part for part in (option.get("accel") or "").split(":") if part)
            where.append(position)
    if not accels and re.search(r"(?:^|/)kvm$", ctx.program):
        accels = ["kvm"]  # Debian's kvm wrapper runs qemu-system-x86_64 -enable-kvm
    return accels, where


def _check(ctx: _Context) -> None:
    accels, where = _accelerators(ctx)
    _check_accel(ctx, accels, where)
    effective = _effective_accel(ctx, accels)
    _check_cpu(ctx, effective)
    _check_disks(ctx)
    _check_network(ctx)
    _check_resources(ctx)
    _check_monitors(ctx)
    _cross_check(ctx, accels)


def _effective_accel(ctx: _Context, accels: list[str]) -> str:
    if not accels:
        return "tcg" if not re.search(r"(?:^|/)qemu-kvm$", ctx.program) else "kvm"
    if ctx.host.kvm_usable is False:
        usable = [a for a in accels if a != "kvm"]
        return usable[0] if usable else "kvm"
    return accels[0]


def _check_accel(ctx: _Context, accels: list[str], where: list[int]) -> None:
    first = where[0] if where else None
    if not accels:
        if re.search(r"(?:^|/)qemu-kvm$", ctx.program):
            return  # RHEL's qemu-kvm is built without TCG: KVM is its default
        ctx.add("no-accelerator")
        return
    via_machine = any(ctx.options[p].name == "machine" for p in where)
    via_accel = any(ctx.options[p].name in ("accel", "enable-kvm") for p in where)
    if via_machine and via_accel:
        ctx.add("accel-conflict", first)
    if len(accels) > 1:
        ctx.add("accel-fallback", first, accels=", ".join(accels), first=accels[0],
                rest=", ".join(accels[1:]))
    if "kvm" in accels and ctx.host.kvm_usable is False:
        others = [a for a in accels if a != "kvm"]
        if others:
            ctx.add("kvm-fallback-here", first, rest=others[0])
        else:
            ctx.add("kvm-unusable", first)


def _check_cpu(ctx: _Context, effective: str) -> None:
    cpus = ctx.named("cpu")
    if cpus:
        cpu = cpus[-1]
        position = ctx.options.index(cpu)
        if cpu.kind == "host" and effective not in ("kvm", "hvf"):
            ctx.add("cpu-host-without-kvm", position, accel=effective.upper() if effective else "TCG")
    elif effective == "kvm" and _X86_PROGRAM_RE.search(ctx.program or "qemu-system-x86_64"):
        ctx.add("kvm-default-cpu")


def _check_disks(ctx: _Context) -> None:
    for position, option in enumerate(ctx.options):
        if option.name == "hda" or (option.name == "" and option.argument):
            what = f"{option.spelled} {option.argument}" if option.name else option.argument
            ctx.add("emulated-disk", position, what=what)
            ctx.add("format-probing", position, what=what)
        elif option.name == "drive":
            _check_drive(ctx, position, option)
        elif option.name == "blockdev":
            if option.get("cache.no-flush") in ("on", "true", "yes"):
                ctx.add("cache-unsafe", position, what=f"-blockdev {option.get('node-name') or ''}".strip())
        elif option.name == "device" and option.kind in ("ide-hd", "ide-drive"):
            ctx.add("emulated-disk", position, what=f"-device {option.kind}")
        elif option.name == "snapshot":
            ctx.add("snapshot-mode", position, what="-snapshot")


def _check_drive(ctx: _Context, position: int, option: Option) -> None:
    label = option.get("id") or option.get("file") or "a drive"
    what = f"-drive {label}"
    interface = option.get("if")
    media = option.get("media")
    if option.get("file") and media != "cdrom":
        if interface == "ide" or (interface is None and _pc_machine(ctx)):
            suffix = " (if=ide)" if interface else " (default if=ide)"
            ctx.add("emulated-disk", position, what=what + suffix)
        if not option.get("format") and interface not in ("pflash",) and not option.get("driver"):
            ctx.add("format-probing", position, what=what)
    if option.get("cache") == "unsafe" or option.get("cache.no-flush") == "on":
        ctx.add("cache-unsafe", position, what=what)
    if option.get("snapshot") == "on":
        ctx.add("snapshot-mode", position, what=what + " snapshot=on")


def _pc_machine(ctx: _Context) -> bool:
    machines = ctx.named("machine")
    machine = (machines[-1].get("type") if machines else None) or "pc"
    return bool(_X86_PROGRAM_RE.search(ctx.program or "qemu-system-x86_64")) and (
        machine in ("pc", "q35") or machine.startswith(("pc-", "pc-q35", "pc-i440fx")))


def _check_network(ctx: _Context) -> None:
    network_given = False
    for position, option in enumerate(ctx.options):
        if option.name in ("netdev", "nic", "net"):
            network_given = True
            kind = option.kind or ""
            label = f"{option.spelled} {kind}" + (f",id={option.get('id')}" if option.get("id") else "")
            if kind == "user":
                ctx.add("user-networking", position, what=label)
            if kind == "tap" and option.get("vhost") not in ("on", "true", "yes"):
                ctx.add("tap-without-vhost", position, what=label)
            model = option.get("model")
            if option.name in ("nic", "net") and model in _EMULATED_NICS:
                ctx.add("emulated-nic", position, what=f"{option.spelled} model={model}")
        elif option.name == "device" and option.kind in _EMULATED_NICS:
            ctx.add("emulated-nic", position, what=f"-device {option.kind}")
        elif option.name == "device" and option.kind in ("vfio-pci", "vfio-pci-nohotplug") \
                and ctx.host.iommu_groups == 0:
            ctx.add("vfio-without-iommu", position)
    if not network_given and not ctx.named("nodefaults"):
        ctx.add("user-networking", what="QEMU's default NIC (no -nic, -netdev or -nodefaults)")


def _check_resources(ctx: _Context) -> None:
    smp = ctx.named("smp")
    if smp and ctx.host.cpus:
        vcpus = _vcpus(smp[-1])
        if vcpus and vcpus > ctx.host.cpus:
            ctx.add("smp-above-host", ctx.options.index(smp[-1]), vcpus=vcpus, cpus=ctx.host.cpus)
    memory = ctx.named("m")
    if memory and ctx.host.memory_bytes:
        size = parse_size(memory[-1].get("size") or "")
        if size and size > ctx.host.memory_bytes:
            ctx.add("memory-above-host", ctx.options.index(memory[-1]), memory=_human_size(size),
                    host_memory=_human_size(ctx.host.memory_bytes))


def _vcpus(option: Option) -> Optional[int]:
    def number(key: str) -> Optional[int]:
        value = option.get(key)
        return int(value) if value and value.isdigit() else None
    cpus = number("cpus")
    if cpus:
        return cpus
    product = 1
    found = False
    for key in ("drawers", "books", "sockets", "dies", "clusters", "modules", "cores", "threads"):
        value = number(key)
        if value:
            product *= value
            found = True
    return product if found else number("maxcpus")


def _check_monitors(ctx: _Context) -> None:
    sockets: dict[str, Option] = {}
    for option in ctx.named("chardev"):
        if option.get("id"):
            sockets[option.get("id") or ""] = option
    for position, option in enumerate(ctx.options):
        if option.name in ("monitor", "qmp", "qmp-pretty") and option.kind in ("tcp", "telnet", "websocket"):
            if option.get("tls-creds"):
                continue
            address = option.get("address") or ""
            ctx.add("monitor-tcp", position, what=f"{option.spelled} {option.argument}",
                    address=_describe_address(address))
        elif option.name == "mon":
            chardev = sockets.get(option.get("chardev") or "")
            if chardev is None or chardev.kind != "socket" or not chardev.get("port"):
                continue
            if chardev.get("tls-creds"):
                continue
            host = chardev.get("host") or ""
            ctx.add("monitor-tcp", position,
                    what=f"-mon chardev={option.get('chardev')} ({option.get('mode') or 'readline'})",
                    address=_describe_address(f"{host}:{chardev.get('port')}"))


def _describe_address(address: str) -> str:
    host = address.rpartition(":")[0] if ":" in address else address
    if not host or host in ("0.0.0.0", "::", "[::]"):
        return f"{address or '?'} (every interface)"
    if host.startswith(_LOOPBACK):
        return f"{address} (loopback: every local user)"
    return address


def _same_program(binary: str, program: str) -> bool:
    return binary.rsplit("/", 1)[-1] == program.rsplit("/", 1)[-1] or program in ("", binary)


def _cross_check(ctx: _Context, accels: list[str]) -> None:
    binary = ctx.host.binary
    if binary is None or not _same_program(binary.path, ctx.program):
        return
    name = binary.path.rsplit("/", 1)[-1]
    if binary.accels is not None:
        for accel in dict.fromkeys(accels):
            if accel not in binary.accels:
                ctx.add("accel-missing", None, binary=name, name=accel)
    for position, option in enumerate(ctx.options):
        if option.name == "machine" and binary.machines is not None:
            machine = option.get("type")
            if machine and machine not in binary.machines and machine != "help":
                ctx.add("machine-missing", position, binary=name, name=machine)
        elif option.name == "device" and binary.devices is not None and option.kind:
            if option.kind not in binary.devices and option.kind != "help":
                ctx.add("device-missing", position, binary=name, name=option.kind)
        elif option.name == "cpu" and binary.cpus is not None and option.kind \
                and option.kind not in binary.cpus and option.kind != "help":
            ctx.add("cpu-model-missing", position, binary=name, name=option.kind)


def levels(findings: Iterable[Finding]) -> dict[str, int]:
    """How many findings of each level."""
    counts = {"error": 0, "warning": 0, "note": 0}
    for finding in findings:
        counts[finding.level] = counts.get(finding.level, 0) + 1
    return counts
