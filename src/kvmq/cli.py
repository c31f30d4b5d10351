"""Command line: ``kvmq [show|pros|list|validate|check]``; no subcommand starts the explorer.

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

    from kvmq.dataset.model import Dataset

PROG = "kvmq"
EXIT_OK = 0
EXIT_USAGE = 2
EXIT_INTERNAL = 70
FORMATS = ("text", "markdown", "json")


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
               "kvmq pros | kvmq validate my.yaml | kvmq check",
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
                       help="output format (default: text)")
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
        return _run_check(fmt)
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
        raise UsageError("\n".join(
            line if index == 0 else f"{PROG}: error: {line}"
            for index, line in enumerate(exc.lines())
        )) from None


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


def _run_check(fmt: str) -> int:
    from kvmq.host import checks as hostcheck
    from kvmq.render import host as render_check

    report = hostcheck.run_checks()
    if fmt == "json":
        _write(render_check.to_json(report))
    else:
        render_check.render_text(report, _console())
    return EXIT_OK if report.kvm_available else 1


def _run_explorer(data: Optional[str]) -> int:
    from kvmq.dataset.loader import resolve_data_path

    path = resolve_data_path(data)
    from kvmq.tui.app import run_explorer

    return run_explorer(path)
