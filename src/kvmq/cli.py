"""Command line: ``kvmq [show|pros|list|validate|check|fleet]``; no subcommand starts the explorer.

The non-interactive paths never import textual (it is imported only when the explorer
starts), so they start about as fast as importing rich and PyYAML.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import TYPE_CHECKING, Callable, Optional, Sequence

from kvmq import __version__

if TYPE_CHECKING:
    from rich.console import Console

    from kvmq.dataset.model import Dataset, InvalidDataset

PROG = "kvmq"
EXIT_OK = 0
EXIT_USAGE = 2
EXIT_INTERNAL = 70
FORMATS = ("text", "markdown", "json")
# kvmq.host.fleet's ONLY and SORT_KEYS (kept here so that --help imports nothing).
FLEET_ONLY = ("failing", "no-report", "no-kvm", "tcg", "ok")
FLEET_SORT = ("host", "state", "age", "failing", "vms", "tcg")


class UsageError(Exception):
    """A problem with what the user asked for or gave us; exit status 2."""


def _common_options(with_format: bool) -> argparse.ArgumentParser:
    # SUPPRESS lets the options appear before or after the subcommand without overriding.
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--data", metavar="PATH", default=argparse.SUPPRESS,
                        help="dataset file (default: $KVMQ_DATA or the shipped comparison)")
    if with_format:
        common.add_argument("--format", choices=FORMATS, default=argparse.SUPPRESS,
                            help="output format (default: text)")
    return common


def build_parser() -> argparse.ArgumentParser:
    from kvmq.dataset.model import SCHEMA_VERSION

    parser = argparse.ArgumentParser(
        prog=PROG,
        parents=[_common_options(with_format=True)],
        description="Explore a comparison dataset (YAML; the shipped one unless --data names "
                    "another) and check what this host's virtualization can do. Without a "
                    "command: the interactive explorer on a terminal, or 'show' when output is "
                    "piped.",
        epilog="Examples: kvmq show performance | kvmq show --format markdown > cmp.md | "
               "kvmq pros | kvmq validate my.yaml | kvmq check | kvmq explain -- qemu-system-x86_64 ...",
    )
    parser.add_argument("--version", action="version",
                        version=f"{PROG} {__version__} (dataset schema {SCHEMA_VERSION})")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
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
    check = commands.add_parser("check", help="host check: is hardware-accelerated virtualization (/dev/kvm) "
                                          "usable here? exit 0 yes, 1 no")
    check.add_argument("--format", choices=("text", "json"), default=argparse.SUPPRESS,
                       help="output format (default: text; json is described in docs/host-check.md)")
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
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Entry point of the ``kvmq`` command; returns the exit status."""
    try:
        return _main(argv)
    except UsageError as exc:
        _error(str(exc))
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # The reader went away (e.g. `kvmq show | head`): not an error worth a message.
        _silence_stdout()
        return EXIT_OK
    except Exception as exc:  # the last line of defence: one line, never a traceback
        if os.environ.get("KVMQ_DEBUG"):
            raise
        _error(f"internal error: {type(exc).__name__}: {exc} "
               "(rerun with KVMQ_DEBUG=1 to see the traceback)")
        return EXIT_INTERNAL


def _main(argv: Optional[Sequence[str]]) -> int:
    args = build_parser().parse_args(argv)
    fmt: str = getattr(args, "format", "text")
    command: Optional[str] = args.command
    if command == "check":
        return _run_check(fmt, quiet=args.quiet)
    if command == "explain":
        return _run_explain(args, fmt, argv)
    if command == "fleet":
        return _run_fleet(args.paths, getattr(args, "format", None), args.only, args.sort)
    if command == "vms":
        return _run_vms(fmt, args.check, args.root)
    if command == "validate":
        return _run_validate(args.path or getattr(args, "data", None))
    if command is None and fmt == "text" and sys.stdout.isatty() and sys.stdin.isatty():
        return _run_explorer(getattr(args, "data", None))
    dataset = _load(getattr(args, "data", None))
    writers: dict[str, Callable[[], int]] = {
        "show": lambda: _show(dataset, getattr(args, "dimensions", []), fmt),
        "pros": lambda: _pros(dataset, fmt),
        "list": lambda: _list(dataset, fmt),
    }
    return writers[command or "show"]()


def _error(message: str) -> None:
    sys.stderr.write(f"{PROG}: error: {message}\n")
    sys.stderr.flush()


def _silence_stdout() -> None:
    # Python would complain again while flushing stdout at exit.
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
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
    return UsageError("\n".join(
        line if index == 0 else f"{PROG}: error: {line}"
        for index, line in enumerate(exc.lines())
    ))


def _console() -> Console:
    from rich.console import Console

    # On a pipe rich already drops colours and styles; NO_COLOR is honoured by rich as well.
    console = Console(highlight=False, soft_wrap=False)

    def reader_went_away() -> None:
        # rich would exit 1 here; a closed pipe (`| head`) is not a failure of ours.
        console.quiet = True
        _silence_stdout()
        raise SystemExit(EXIT_OK)

    console.on_broken_pipe = reader_went_away  # type: ignore[method-assign]
    return console


def _write(text: str) -> int:
    sys.stdout.write(text)
    sys.stdout.flush()
    return EXIT_OK


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
        return _write(render.show_json(dataset, dimensions))
    if fmt == "markdown":
        return _write(render.show_markdown(dataset, dimensions))
    render.print_show(_console(), dataset, dimensions)
    return EXIT_OK


def _pros(dataset: Dataset, fmt: str) -> int:
    from kvmq.render import dataset as render

    if fmt == "json":
        return _write(render.pros_json(dataset))
    if fmt == "markdown":
        return _write(render.pros_markdown(dataset))
    console = _console()
    console.print(render.literal(f"{dataset.title}: pros", "bold"))
    console.print(render.pros_renderable(dataset, console.width))
    return EXIT_OK


def _list(dataset: Dataset, fmt: str) -> int:
    from kvmq.render import dataset as render

    if fmt == "json":
        return _write(render.list_json(dataset))
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
    sys.stdout.write(
        f"{target}: OK: schema {dataset.schema}, {len(dataset.subjects)} subjects ({names}), "
        f"{len(dataset.dimensions)} dimensions, {notes} notes, {pros} pros\n"
    )
    return EXIT_OK


def _run_check(fmt: str, *, quiet: bool = False) -> int:
    from kvmq.host import checks as hostcheck
    from kvmq.render import host as render_check

    report = hostcheck.run_checks()
    # The exit status is the verdict, whatever becomes of the output (a closed pipe, a full
    # disk, no stdout at all): decided before anything is written.
    status = EXIT_OK if report.kvm_available else 1
    if fmt == "json":
        text = render_check.to_json(report) + "\n"
    else:
        import io

        from rich.console import Console

        screen = _console()
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
        sys.stdout.write(text)
        sys.stdout.flush()
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
        raise UsageError(f"{PROG}: error: ".join(f"{entry}\n" for entry in exc.lines()).rstrip()) from None
    if fmt == "json":
        _write(render_explain.to_json(explanation))
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
        from kvmq.tui.app import run_fleet_explorer

        try:
            return run_fleet_explorer(Path(paths[0]), fleet, only=only, sort=sort)
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


def _run_explorer(data: Optional[str]) -> int:
    from kvmq.dataset.loader import resolve_data_path
    from kvmq.dataset.model import InvalidDataset

    path = resolve_data_path(data)
    from kvmq.tui.app import run_explorer

    try:
        return run_explorer(path)
    except InvalidDataset as exc:  # found by the explorer's loading worker
        raise _dataset_error(exc) from None
