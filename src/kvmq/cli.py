"""Command line: ``kvmq [show|pros|list|validate|check|explain|vms|fleet]``; no subcommand
starts the explorer.

The non-interactive paths never import textual (it is imported only when the explorer
starts), so they start about as fast as importing rich and PyYAML.
"""

from __future__ import annotations

import argparse
import contextlib
import difflib
import os
import re
import sys
from typing import IO, TYPE_CHECKING, Any, Callable, Optional, Sequence, cast

from kvmq import __version__
from kvmq.text import printable

if TYPE_CHECKING:
    from rich.console import Console

    from kvmq.dataset.background import BackgroundLoad
    from kvmq.dataset.model import Dataset, InvalidDataset

PROG = "kvmq"
EXIT_OK = 0
EXIT_USAGE = 2
EXIT_INTERNAL = 70
FORMATS = ("text", "markdown", "json")
# kvmq.host.fleet's ONLY and SORT_KEYS (kept here so that --help imports nothing).
FLEET_ONLY = ("failing", "no-report", "no-kvm", "tcg", "ok")
FLEET_SORT = ("host", "state", "age", "failing", "vms", "tcg")
#: The formats each command writes; ``--format`` means the same wherever it is given.
#: (A command not listed writes the three of FORMATS.)
COMMAND_FORMATS = {"validate": ("text",), "check": ("text", "json"), "fleet": (*FORMATS, "csv")}
#: Options that take a value (so the word after them is not the command).
VALUE_OPTIONS = ("--data", "--format")
#: Output widths beyond these are nonsense (``COLUMNS=0`` lost all output, 10^9 took minutes).
MIN_WIDTH, MAX_WIDTH, DEFAULT_WIDTH = 20, 1000, 80


class UsageError(Exception):
    """A problem with what the user asked for or gave us; exit status 2. One line each."""

    def __init__(self, *lines: str) -> None:
        super().__init__(*lines)
        self.lines = lines


class _ReaderGone(Exception):
    """Standard output was closed by its reader (``| head``) or never open (``>&-``)."""


class _Parser(argparse.ArgumentParser):
    """argparse, with its complaints going through the one error path (escaped, exit 2)."""

    command_names: tuple[str, ...] = ()

    def error(self, message: str) -> Any:
        self.print_usage(sys.stderr)
        raise UsageError(message)


def _common_options(with_format: bool) -> _Parser:
    # SUPPRESS lets the options appear before or after the subcommand without overriding.
    common = _Parser(add_help=False)
    common.add_argument("--data", metavar="PATH", default=argparse.SUPPRESS,
                        help="dataset file (default: $KVMQ_DATA or the shipped comparison)")
    if with_format:
        common.add_argument("--format", choices=FORMATS, default=argparse.SUPPRESS,
                            help="output format (default: text)")
    return common


EPILOG = """examples:
  kvmq show performance
  kvmq show --format markdown > cmp.md
  kvmq pros
  kvmq validate my.yaml
  kvmq check
  kvmq explain -- qemu-system-x86_64 ..."""


def build_parser() -> _Parser:
    from kvmq.dataset.model import SCHEMA_VERSION

    parser = _Parser(
        prog=PROG,
        parents=[_common_options(with_format=True)],
        description="Explore a comparison dataset (YAML; the shipped one unless --data names "
                    "another) and check what this host's virtualization can do. Without a "
                    "command: the interactive explorer on a terminal, or 'show' when output is "
                    "piped or TERM is dumb.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version",
                        version=f"{PROG} {__version__} (dataset schema {SCHEMA_VERSION})")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    show = commands.add_parser("show", parents=[_common_options(True)],
                               help="side-by-side comparison of dimensions (all when none named)")
    show.add_argument("dimensions", nargs="*", metavar="DIMENSION",
                      help="id, title or unambiguous prefix of either (case-insensitive)")
    commands.add_parser("pros", parents=[_common_options(True)],
                        help="pros per subject with votes, most first")
    commands.add_parser("list", parents=[_common_options(True)], help="dimension ids and titles")
    validate = commands.add_parser("validate", parents=[_common_options(False)],
                                   help="check a dataset file: exit 0, or 2 with every problem")
    validate.add_argument("path", nargs="?", metavar="PATH",
                          help="file to check (default: --data, $KVMQ_DATA or the shipped one)")
    # Every command accepts every --format name; _main says which ones it writes.
    check = commands.add_parser("check", help="host check: is hardware-accelerated virtualization "
                                              "(/dev/kvm) usable here? exit 0 yes, 1 no")
    check.add_argument("--format", choices=FORMATS, default=argparse.SUPPRESS,
                       help="text or json (default: text; json is described in docs/host-check.md)")
    check.add_argument("-q", "--quiet", action="store_true",
                       help="text: leave out the checks that pass (the summary and verdict stay)")
    explain = commands.add_parser(
        "explain", help="explain a QEMU command line option by option, with its pitfalls; "
                        "exit 1 when a finding is an error",
        description="Explain a QEMU command line: kvmq explain -- qemu-system-x86_64 ARGS..., "
                    "kvmq explain --pid PID, or kvmq explain FILE|- (a script, a libvirt log, "
                    "ps output).")
    explain.add_argument("source", nargs="*", metavar="FILE | -- ARGS",
                         help="a file to search for the invocation ('-' for stdin), or after "
                              "'--' the command line itself")
    explain.add_argument("--pid", type=int, metavar="PID", help="explain a running process")
    explain.add_argument("--format", choices=FORMATS, default=argparse.SUPPRESS,
                         help="output format (default: text)")
    explain.add_argument("--no-cross-check", action="store_true",
                         help="do not ask the installed QEMU binary what it supports")
    vms = commands.add_parser("vms", help="running QEMU VMs and the accelerator each really uses "
                                          "(KVM or TCG), with the evidence")
    vms.add_argument("--format", choices=FORMATS, default=argparse.SUPPRESS,
                     help="output format (default: text)")
    vms.add_argument("--check", action="store_true",
                     help="exit 1 when any VM runs on TCG while this host's KVM works")
    # Reads proc/, run/ and dev/kvm below this directory instead of /: for fixture trees.
    vms.add_argument("--root", default="/", help=argparse.SUPPRESS)
    fleet = commands.add_parser(
        "fleet", help="merge per-host reports (reports/HOST.json from contrib/ansible): exit 0 when "
                      "every host can run KVM and no VM runs on TCG where KVM works, 1 otherwise",
        description="Merge per-host kvmq reports: folders of HOST.json files (the Ansible "
                    "playbook's reports/), single files, JSON Lines, or the output of Ansible's "
                    "json or jsonl callback. On a terminal, a single folder opens the explorer's Fleet view.")
    fleet.add_argument("paths", nargs="+", metavar="PATH", help="report file or folder")
    fleet.add_argument("--only", choices=FLEET_ONLY, default=None,
                       help="failing: hosts that need attention; also no-report, no-kvm, tcg, ok")
    fleet.add_argument("--sort", choices=FLEET_SORT, default="host",
                       help="host (default), state (worst first), age (oldest first), failing, vms, tcg")
    fleet.add_argument("--format", choices=("text", "markdown", "json", "csv"), default=argparse.SUPPRESS,
                       help="output format (default: text; the explorer on a terminal)")
    parser.command_names = tuple(commands.choices)
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Entry point of the ``kvmq`` command; returns the exit status."""
    try:
        _tolerate_output_encoding()
        return _main(sys.argv[1:] if argv is None else list(argv))
    except UsageError as exc:
        for line in exc.lines:
            _error(line)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130
    except (BrokenPipeError, _ReaderGone):
        # The reader went away (e.g. `kvmq show | head`): not an error worth a message.
        _silence_stdout()
        return EXIT_OK
    except Exception as exc:  # the last line of defence: one line, never a traceback
        if os.environ.get("KVMQ_DEBUG"):
            raise
        _error(f"internal error: {type(exc).__name__}: {exc} "
               "(rerun with KVMQ_DEBUG=1 to see the traceback)")
        return EXIT_INTERNAL


def _main(argv: list[str]) -> int:
    parser = build_parser()
    _check_command_name(argv, tuple(parser.command_names))
    args = parser.parse_args(argv)
    command: Optional[str] = args.command
    fmt: str = getattr(args, "format", "text")
    formats = COMMAND_FORMATS.get(command or "show", FORMATS)
    if fmt not in formats:
        raise UsageError(f"'{command}' has no {fmt} output: --format takes "
                         f"{' or '.join(formats)} there")
    data: Optional[str] = getattr(args, "data", None)
    if data is not None and not data.strip():
        raise UsageError("--data needs the path of a dataset file, not an empty string")
    if command == "check":
        return _run_check(fmt, quiet=args.quiet)
    if command == "explain":
        return _run_explain(args, fmt, argv)
    if command == "fleet":
        return _run_fleet(args.paths, getattr(args, "format", None), args.only, args.sort)
    if command == "vms":
        return _run_vms(fmt, args.check, args.root)
    if command == "validate":
        if args.path is not None and not args.path.strip():
            raise UsageError("validate needs the path of a dataset file, not an empty string")
        return _run_validate(args.path or data)
    if command is None and fmt == "text" and _interactive():
        return _run_explorer(data)
    dataset = _load(data)
    writers: dict[str, Callable[[], int]] = {
        "show": lambda: _show(dataset, getattr(args, "dimensions", []), fmt),
        "pros": lambda: _pros(dataset, fmt),
        "list": lambda: _list(dataset, fmt),
    }
    return writers[command or "show"]()


def _check_command_name(argv: Sequence[str], commands: Sequence[str]) -> None:
    """A mistyped command gets a "did you mean" (argparse only lists the choices)."""
    index = 0
    while index < len(argv):
        word = argv[index]
        if word == "--":
            return
        if word in VALUE_OPTIONS:
            index += 2
            continue
        if word.startswith("-"):
            index += 1
            continue
        if word in commands:
            return
        close = difflib.get_close_matches(word, commands, n=1, cutoff=0.5)
        hint = f"did you mean '{close[0]}'?" if close else f"commands are {', '.join(commands)}"
        raise UsageError(f"unknown command '{printable(word, 60)}': {hint}")


def _interactive() -> bool:
    """Whether the explorer may start: a real terminal both ways, one that can draw it."""
    if os.environ.get("TERM", "") in ("dumb", "unknown"):
        return False
    try:
        if not (sys.stdout.isatty() and sys.stdin.isatty()):
            return False
    except (AttributeError, ValueError):  # closed or missing streams
        return False
    if not _can_draw_boxes():
        # Textual has no ASCII mode: on a legacy encoding every line would fill with escapes.
        sys.stderr.write(f"{PROG}: note: this terminal's encoding "
                         f"({printable(str(getattr(sys.stdout, 'encoding', '?')), 40)}) cannot show "
                         "the explorer, so the comparison is printed; a UTF-8 locale "
                         "(e.g. LANG=C.UTF-8) starts the explorer\n")
        return False
    return True


def _can_draw_boxes() -> bool:
    """True when stdout's encoding holds the box-drawing glyphs the explorer is made of."""
    try:
        "━╸▏▁—".encode(getattr(sys.stdout, "encoding", None) or "ascii")
    except (UnicodeEncodeError, LookupError):
        return False
    return True


def _error(message: str) -> None:
    # Every message may quote outside text: one line, every character visible.
    try:
        sys.stderr.write(f"{PROG}: error: {printable(message)}\n")
        sys.stderr.flush()
    except (AttributeError, OSError, ValueError):
        pass  # no stderr to complain to


def _tolerate_output_encoding() -> None:
    """On an output that cannot encode everything (LANG=C, PYTHONIOENCODING=latin-1), write
    what it can hold and replace the rest, instead of failing half-way."""
    for stream in (sys.stdout, sys.stderr):
        encoding = (getattr(stream, "encoding", None) or "").lower().replace("_", "-")
        if stream is None or encoding.startswith("utf"):
            continue
        with contextlib.suppress(AttributeError, ValueError, OSError):
            errors = "backslashreplace" if stream is sys.stderr else "replace"
            stream.reconfigure(errors=errors)  # type: ignore[union-attr]


def _output_is_utf() -> bool:
    encoding = (getattr(sys.stdout, "encoding", None) or "").lower()
    return encoding.startswith("utf")


def _silence_stdout() -> None:
    # Python would complain again while flushing stdout at exit.
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (AttributeError, OSError, ValueError):
        pass


def _load(data: Optional[str], *, use_cache: bool = True) -> Dataset:
    from kvmq.dataset.loader import load, resolve_data_path
    from kvmq.dataset.model import InvalidDataset

    path = resolve_data_path(data)
    try:
        return load(path, use_cache=use_cache)
    except InvalidDataset as exc:
        raise _dataset_error(exc) from None


def _dataset_error(exc: InvalidDataset) -> UsageError:
    """One ``kvmq: error:`` line per problem of a dataset that did not load."""
    return UsageError(*exc.lines())


def output_width(environ: Optional[dict[str, str]] = None) -> int:
    """The width text output fits: ``COLUMNS`` if it is a number, else the terminal's,
    else 80; always within 20..1000 (nonsense in ``COLUMNS`` counts as unset)."""
    value = (os.environ if environ is None else environ).get("COLUMNS", "").strip()
    width = 0
    if re.fullmatch(r"[0-9]+", value):
        # A long run of digits is simply wide: no need to convert it.
        width = MAX_WIDTH if len(value) > 6 else int(value)
    if not width:
        try:
            width = os.get_terminal_size(sys.stdout.fileno()).columns
        except (AttributeError, OSError, ValueError):
            width = DEFAULT_WIDTH
        width = width or DEFAULT_WIDTH
    return max(MIN_WIDTH, min(MAX_WIDTH, width))


class _TrimmedLines:
    """A file for rich that drops the spaces it pads lines with (and keeps the styles)."""

    _TRAILING = re.compile(r"(?:[ ]|\x1b\[[0-9;]*m)+(?=\n)")

    def __init__(self, stream: IO[str]) -> None:
        self._stream = stream
        self._pending = ""

    def write(self, text: str) -> int:
        self._pending += text
        cut = self._pending.rfind("\n") + 1
        if cut:
            ready, self._pending = self._pending[:cut], self._pending[cut:]
            self._stream.write(self._TRAILING.sub(self._keep_styles, ready))
        return len(text)

    @staticmethod
    def _keep_styles(match: re.Match[str]) -> str:
        return "".join(re.findall(r"\x1b\[[0-9;]*m", match.group()))

    def flush(self) -> None:
        if self._pending:
            self._stream.write(self._pending)
            self._pending = ""
        self._stream.flush()

    def __getattr__(self, name: str) -> Any:  # isatty, fileno, encoding: the stream's
        return getattr(self._stream, name)


def _console() -> Console:
    from rich.console import Console

    if sys.stdout is None:
        raise _ReaderGone
    # On a pipe rich already drops colours and styles; NO_COLOR is honoured by rich as well.
    console = Console(file=cast("IO[str]", _TrimmedLines(sys.stdout)), highlight=False, soft_wrap=False,
                      width=output_width())

    def reader_went_away() -> None:
        # rich would exit 1 here; a closed pipe (`| head`) is not a failure of ours.
        console.quiet = True
        raise _ReaderGone

    console.on_broken_pipe = reader_went_away  # type: ignore[method-assign]
    return console


def _write(text: str) -> int:
    if sys.stdout is None:
        raise _ReaderGone
    sys.stdout.write(text)
    sys.stdout.flush()
    return EXIT_OK


def _json(text: str) -> str:
    """JSON for this output: non-ASCII as \\u escapes where the encoding cannot hold it."""
    if _output_is_utf():
        return text
    return re.sub(r"[^\x00-\x7f]", lambda m: _json_escape(m.group()), text)


def _json_escape(ch: str) -> str:
    code = ord(ch)
    if code < 0x10000:
        return f"\\u{code:04x}"
    code -= 0x10000
    return f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}"


def _show(dataset: Dataset, names: Sequence[str], fmt: str) -> int:
    from kvmq.render import dataset as render

    dimensions = list(dataset.dimensions)
    if names:
        dimensions = []
        for name in names:
            try:
                found = dataset.find(name)
            except LookupError as exc:
                raise UsageError(str(exc)) from None
            if found not in dimensions:
                dimensions.append(found)
    if fmt == "json":
        return _write(_json(render.show_json(dataset, dimensions)))
    if fmt == "markdown":
        return _write(render.show_markdown(dataset, dimensions))
    render.print_show(_console(), dataset, dimensions)
    return EXIT_OK


def _pros(dataset: Dataset, fmt: str) -> int:
    from kvmq.render import dataset as render

    if fmt == "json":
        return _write(_json(render.pros_json(dataset)))
    if fmt == "markdown":
        return _write(render.pros_markdown(dataset))
    console = _console()
    console.print(render.literal(f"{dataset.title}: pros", "bold"))
    console.print(render.pros_renderable(dataset, console.width, ascii_only=not _output_is_utf()))
    return EXIT_OK


def _list(dataset: Dataset, fmt: str) -> int:
    from kvmq.render import dataset as render

    if fmt == "json":
        return _write(_json(render.list_json(dataset)))
    if fmt == "markdown":
        return _write(render.list_markdown(dataset))
    _console().print(render.list_renderable(dataset))
    return EXIT_OK


def _run_validate(path: Optional[str]) -> int:
    from kvmq.dataset.loader import resolve_data_path

    target = resolve_data_path(path)
    dataset = _load(str(target), use_cache=False)  # a cache entry must never vouch for a file
    names = ", ".join(s.name for s in dataset.subjects)
    pros = sum(len(p) for p in dataset.pros.values())
    notes = sum(len(d.notes) for d in dataset.dimensions)
    return _write(
        f"{printable(target)}: OK: schema {dataset.schema}, "
        f"{_count(len(dataset.subjects), 'subject')} ({names}), "
        f"{_count(len(dataset.dimensions), 'dimension')}, {_count(notes, 'note')}, "
        f"{_count(pros, 'pro')}\n"
    )


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}" + ("" if number == 1 else "s")


def _run_check(fmt: str, *, quiet: bool = False) -> int:
    from kvmq.host import checks as hostcheck
    from kvmq.render import host as render_check

    report = hostcheck.run_checks()
    # The exit status is the verdict, whatever becomes of the output (a closed pipe, a full
    # disk, no stdout at all): decided before anything is written.
    status = EXIT_OK if report.kvm_available else 1
    if fmt == "json":
        text = _json(render_check.to_json(report) + "\n")
    else:
        import io

        from rich.console import Console

        try:
            screen = _console()
        except _ReaderGone:
            return status
        height = screen.size.height if screen.is_terminal else None
        # Rendered into memory, in the terminal's colours and width, and written below.
        buffer = io.StringIO()
        console = Console(file=buffer, width=screen.width, force_terminal=screen.is_terminal,
                          color_system=screen.color_system, no_color=screen.no_color,  # type: ignore[arg-type]
                          highlight=False, soft_wrap=False)
        render_check.render_text(report, console, quiet=quiet, height=height)
        text = buffer.getvalue()
    try:
        if sys.stdout is None:
            return status
        out = _TrimmedLines(sys.stdout)
        out.write(text)
        out.flush()
    except (OSError, ValueError):
        _silence_stdout()
    return status


def _run_explain(args: argparse.Namespace, fmt: str, argv: Optional[Sequence[str]]) -> int:
    from kvmq.host import explain as explainer

    words = list(sys.argv[1:] if argv is None else argv)
    after_dashes = "--" in words and words.index("--") > words.index("explain") \
        if "explain" in words else False
    try:
        if args.pid is not None:
            if args.source:
                raise UsageError("give --pid or a command line or a file, not both")
            line = _read_cmdline(args.pid)
        elif after_dashes:
            line = words[words.index("--") + 1:]
            if not line:
                raise UsageError("nothing after '--': give the QEMU command line")
        elif len(args.source) == 1:
            line = explainer.find_invocation(_read_text(args.source[0]))
        else:
            raise UsageError("give one file, '-' for stdin, --pid PID, or -- and the command line")
    except explainer.ExplainInputError as exc:
        raise UsageError(str(exc)) from None
    from kvmq.dataset.model import InvalidDataset
    from kvmq.host.qemu_binary import gather_host_facts
    from kvmq.render import explain as render_explain

    host = gather_host_facts(line[0] if line else "", cross_check=not args.no_cross_check)
    try:
        explanation = render_explain.explain_command(line, host)
    except InvalidDataset as exc:
        raise _dataset_error(exc) from None
    if fmt == "json":
        _write(_json(render_explain.to_json(explanation)))
    elif fmt == "markdown":
        _write(render_explain.to_markdown(explanation))
    else:
        console = _console()
        if console.is_terminal and not console.no_color:
            console.print(render_explain.to_text(explanation, console.width), soft_wrap=True)
        else:  # a pipe: the same lines, without styles, written at once
            _write(render_explain.to_plain(explanation, console.width))
    return 1 if explanation.has_errors else EXIT_OK


MAX_INPUT_BYTES = 8 * 1024 * 1024


def _read_text(name: str) -> str:
    """A file (or stdin for '-') as text; bounded, UTF-8 only."""
    try:
        if name == "-":
            raw = sys.stdin.buffer.read(MAX_INPUT_BYTES + 1)
        else:
            with open(name, "rb") as handle:
                raw = handle.read(MAX_INPUT_BYTES + 1)
    except IsADirectoryError:
        raise UsageError(f"{name}: is a directory: give a file with a QEMU command line") from None
    except OSError as exc:
        raise UsageError(f"{name}: cannot read it: {exc.strerror or exc}") from None
    if len(raw) > MAX_INPUT_BYTES:
        raise UsageError(f"{name}: larger than 8 MiB: that is not a script or a log of one VM")
    if b"\x00" in raw:
        raise UsageError(f"{name}: contains NUL bytes: give a text file, or --pid PID")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise UsageError(f"{name}: not valid UTF-8 (byte 0x{raw[exc.start]:02x} at offset "
                         f"{exc.start})") from None


def _read_cmdline(pid: int) -> list[str]:
    """The argv of process ``pid`` from /proc (NUL-separated, exact)."""
    from kvmq.host import explain as explainer

    try:
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            raw = handle.read(MAX_INPUT_BYTES)
    except FileNotFoundError:
        raise UsageError(f"no process {pid}") from None
    except OSError as exc:
        raise UsageError(f"cannot read process {pid}: {exc.strerror or exc}") from None
    words = [word.decode("utf-8", "backslashreplace") for word in raw.split(b"\x00") if word]
    if not words:
        raise UsageError(f"process {pid} has no command line (a kernel thread, or it exited)")
    if not explainer.is_qemu_program(words[0]):
        raise UsageError(f"process {pid} is not QEMU: it runs {words[0][:80]!r}")
    return words


def _run_vms(fmt: str, check: bool, root: str) -> int:
    from kvmq.host.vms import scan
    from kvmq.render import vms as render_vms

    if not os.path.isdir(root):
        raise UsageError(f"--root {root!r} is not a directory")
    result = scan(root)
    if fmt == "json":
        _write(render_vms.to_json(result))
    elif fmt == "markdown":
        _write(render_vms.to_markdown(result))
    else:
        render_vms.print_text(_console(), result)
    return 1 if check and result.tcg_while_kvm_works else EXIT_OK


def _run_fleet(paths: Sequence[str], fmt: Optional[str], only: Optional[str], sort: str) -> int:
    from pathlib import Path

    from kvmq.host import fleet as host_fleet

    explore = (fmt is None and len(paths) == 1 and Path(paths[0]).is_dir()
               and sys.stdout.isatty() and sys.stdin.isatty())
    try:
        fleet = host_fleet.read_fleet(paths, keep=explore)
    except host_fleet.FleetError as exc:
        raise UsageError(str(exc)) from None
    status = EXIT_OK if fleet.ok else 1
    if explore:
        from kvmq.dataset.model import InvalidDataset

        data = _start_load(None)  # the explorer's own dataset ($KVMQ_DATA or the shipped one)
        from kvmq.tui.app import run_fleet_explorer

        try:
            return run_fleet_explorer(data, Path(paths[0]), fleet, only=only, sort=sort)
        except InvalidDataset as exc:  # the explorer's own dataset ($KVMQ_DATA) did not load
            raise _dataset_error(exc) from None
    from kvmq.render import fleet as render

    rows = host_fleet.select(fleet, only, sort)
    if fmt == "json":
        _write(render.to_json(fleet, rows))
    elif fmt == "markdown":
        _write(render.to_markdown(fleet, rows))
    elif fmt == "csv":
        _write(render.to_csv(fleet, rows))
    else:
        render.print_text(_console(), fleet, rows)
    return status


def _start_load(data: Optional[str]) -> BackgroundLoad:
    """The explorer's dataset, its read started in a thread before Textual is imported
    (about 250 ms of imports, during which the file is read): the first frame then finds it."""
    from kvmq.dataset.background import BackgroundLoad
    from kvmq.dataset.loader import resolve_data_path

    return BackgroundLoad(resolve_data_path(data))


def _run_explorer(data: Optional[str]) -> int:
    from kvmq.dataset.model import InvalidDataset

    load = _start_load(data)
    from kvmq.tui.app import run_explorer

    try:
        return run_explorer(load)
    except InvalidDataset as exc:  # found by the explorer's loading worker
        raise _dataset_error(exc) from None
