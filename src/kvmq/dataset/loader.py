"""YAML -> the model: read, parse and validate a dataset file, reporting every problem with
its file, line and column; locate the shipped dataset; use the cache for unchanged files.

The parser's events (libyaml's when available) become position-carrying nodes only as the
Builder reads them, and the records are built straight from those, so positions cost
nothing on the happy path. Each list item and mapping entry is checked as it is read and then
dropped, so a hostile file is rejected at the error cap without reading (or holding) the rest
of it. PyYAML is imported by the first parse: a dataset read back from the cache never needs it.
"""

from __future__ import annotations

import contextlib
import difflib
import os
import re
import stat
import unicodedata
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Container, Iterator, Optional, Sequence, TypeVar, Union
from urllib.parse import urlsplit

from kvmq.dataset.collector import collector_paused
from kvmq.dataset.model import (
    FORBIDDEN_CHARS_RE,
    MAX_VOTES,
    NOTE_KINDS,
    SCHEMA_VERSION,
    Command,
    Dataset,
    DatasetError,
    Dimension,
    InvalidDataset,
    Note,
    Pro,
    Source,
    Subject,
)
from kvmq.text import printable

if TYPE_CHECKING:
    import yaml

    #: A node as the Builder reads it: a scalar is the parser's own event.
    _Node = Union[yaml.ScalarEvent, "_Collection"]

_T = TypeVar("_T")

# PyYAML is imported by the first parse (_import_yaml), not here.
_YamlLoader: Any = None
# Tag resolution, as the composer of either loader does it (both use the same Resolver).
_resolve: Callable[[type, str, tuple[bool, bool]], str]


def _import_yaml() -> None:
    global yaml, _YamlLoader, _resolve
    if _YamlLoader is not None:
        return
    import yaml

    try:  # libyaml's parser is ~10x faster; the pure one is the fallback (e.g. in the bundle)
        from yaml import CSafeLoader as loader
    except ImportError:  # pragma: no cover - depends on how PyYAML was built
        from yaml import SafeLoader as loader  # type: ignore[assignment]
    # Only the events come from libyaml: its composer recursed without a limit before PyYAML
    # 6.0.4, and composing in Python is what lets a check stop reading at the error cap.
    _resolve = yaml.resolver.Resolver().resolve
    _YamlLoader = loader

MAX_FILE_BYTES = 32 * 1024 * 1024
MAX_REPORTED_ERRORS = 50
DATA_ENV_VAR = "KVMQ_DATA"

_ID_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
# What a URL may hold, as RFC 3986 has it (percent escapes included); anything else (spaces,
# quotes, angle brackets, backslashes, non-ASCII) would need encoding first.
_URL_CHARS_RE = re.compile(r"^[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=%]+$")
_HOST_RE = re.compile(r"^(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?\.?)+$|^\[[0-9A-Fa-f:.]+\]$")
# The usual URL, which the full check (url_problem) would pass, recognised in one match: a
# lower-case http(s) scheme, a DNS host name, no user, port or percent escape, and a path of
# characters that need no escaping. Anything else takes the full check.
_PLAIN_URL_RE = re.compile(
    r"https?://[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*"
    r"\.?(?:/[A-Za-z0-9\-._~/?#!$&'()*+,;=:@]*)?\Z")
#: Distinct keys for which a "did you mean" is computed; beyond that, the plain hint.
MAX_SUGGESTIONS = 200
#: How many ids an error line may name.
MAX_NAMED = 5

_STR = "tag:yaml.org,2002:str"
_INT = "tag:yaml.org,2002:int"
_NULL = "tag:yaml.org,2002:null"
_TEXTLIKE_TAGS = frozenset(
    {_STR, _INT, "tag:yaml.org,2002:float", "tag:yaml.org,2002:bool",
     "tag:yaml.org,2002:timestamp"}
)


# --------------------------------------------------------------------------- locating data


#: The file in ``data/`` that names the shipped dataset: one explicit place, so that another
#: YAML file beside it (such as QEMU's option table) never changes what ships.
SHIPPED_MANIFEST = "shipped-dataset"


def data_dir() -> Path:
    """``data/`` inside the installed package, or of a source checkout."""
    package_dir = Path(__file__).resolve().parent.parent
    installed = package_dir / "data"
    return installed if installed.is_dir() else package_dir.parent.parent / "data"


def packaged_data_path() -> Path:
    """The shipped dataset, as named by ``data/shipped-dataset`` (so no code names a subject)."""
    directory = data_dir()
    try:
        name = (directory / SHIPPED_MANIFEST).read_text(encoding="utf-8").strip()
    except OSError:
        name = ""
    if not name or "/" in name or name.startswith("."):
        return directory / SHIPPED_MANIFEST  # load() reports it: "not a dataset"
    return directory / name


def resolve_data_path(cli_value: Optional[str] = None) -> Path:
    """``--data`` wins, then ``$KVMQ_DATA``, then the shipped dataset."""
    chosen = cli_value or os.environ.get(DATA_ENV_VAR)
    return Path(chosen).expanduser() if chosen else packaged_data_path()


# --------------------------------------------------------------------------- loading


def load(path: os.PathLike[str] | str, *, use_cache: bool = True) -> Dataset:
    """Read, parse and validate a dataset file (``use_cache=False``: always parse it).

    Raises:
        InvalidDataset: with every problem found, each naming file, line and column.
    """
    display = str(path)
    if not use_cache:
        return loads(_decode(_read_bytes(Path(path), display), display), display)
    # An unchanged file comes from the cache of validated datasets (keyed by the content
    # hash); a miss, or any problem with the cache, parses and validates as usual.
    from kvmq.dataset.cache import load_through_cache

    return load_through_cache(lambda: _read_bytes(Path(path), display), display,
                              lambda raw: loads(_decode(raw, display), display))


def loads(text: str, display: str = "<string>") -> Dataset:
    """Parse and validate dataset text; ``display`` names it in error messages."""
    if not text.strip():
        _fail(display, 0, 0, "", "the file is empty: a dataset starts with 'schema: 1'")
    if text.startswith("\ufeff"):
        text = text[1:]
    _import_yaml()
    builder = _Builder(display)
    # The collector stays paused while the records are built too: each of its passes
    # would walk everything built so far, making validation superlinear in the file's size.
    dataset = None
    with collector_paused(), contextlib.suppress(_TooManyErrors):
        dataset = _parse(text, display, builder, builder.build)
    if builder.errors:
        builder.errors.sort(key=lambda e: (e.line, e.col))
        # Past the cap the walk stopped: how many more there are is not known.
        raise InvalidDataset(builder.errors[:MAX_REPORTED_ERRORS],
                             -1 if len(builder.errors) > MAX_REPORTED_ERRORS else 0)
    assert dataset is not None
    return dataset


def _error(display: str, line: int, col: int, where: str, what: str) -> DatasetError:
    """The one place a loader error is made: every part of it printable, and bounded."""
    return DatasetError(printable(display, 1000), line, col, printable(where, 200),
                        printable(what, 400))


def _fail(display: str, line: int, col: int, where: str, what: str) -> None:
    raise InvalidDataset([_error(display, line, col, where, what)])


class _TooManyErrors(Exception):
    """The walk found more problems than are reported: the rest is not worth the work."""


def _refuse_anchors(text: str, builder: _Builder) -> None:
    """Report every anchor and alias at its own position (up to the cap), from the events.

    Runs once the composer has met one (see _parse), from the start of the file and instead of
    the checks, so an alias bomb or a file of aliases is never built into nodes.
    Each frame of ``stack`` is [is_mapping, where, key expected next (mapping) or index
    (list), the current key].
    """
    stack: list[list[Any]] = []

    def where_now() -> str:
        if not stack:
            return ""
        is_mapping, where, state, key = stack[-1]
        if not is_mapping:
            return f"{where}[{state}]"
        return where if state else (f"{where}.{key}" if where else str(key))

    def advance(key: Any) -> None:
        if stack:
            frame = stack[-1]
            if not frame[0]:
                frame[2] += 1
            elif frame[2]:
                frame[2], frame[3] = False, key
            else:
                frame[2] = True

    try:
        for event in yaml.parse(text, Loader=_YamlLoader):
            if isinstance(event, yaml.CollectionEndEvent):
                stack.pop()
                advance("?")
                continue
            if not isinstance(event, yaml.NodeEvent):
                continue
            where = where_now()
            if isinstance(event, yaml.AliasEvent):
                builder.error_at(event.start_mark, where,
                                 f"alias '*{_clip(event.anchor or '')}': {_NO_ANCHORS}")
            elif event.anchor is not None:
                builder.error_at(event.start_mark, where,
                                 f"anchor '&{_clip(event.anchor)}': {_NO_ANCHORS}")
            if isinstance(event, yaml.CollectionStartEvent):
                stack.append([isinstance(event, yaml.MappingStartEvent), where, True, None]
                             if isinstance(event, yaml.MappingStartEvent) else
                             [False, where, 0, None])
            else:
                advance(_clip(event.value, 60) if isinstance(event, yaml.ScalarEvent) else "?")
    except _TooManyErrors:
        pass
    except (yaml.YAMLError, RecursionError, UnicodeError, IndexError):
        pass  # the composer met an anchor before any syntax error; this pass found it too


_NO_ANCHORS = "anchors and aliases (&name, *name) are not supported: write the value out"


def _read_bytes(path: Path, display: str) -> bytes:
    try:
        info = os.stat(path)
    except FileNotFoundError:
        _fail(display, 0, 0, "", "no such file")
    except OSError as exc:
        _fail(display, 0, 0, "", f"cannot read it: {exc.strerror or exc}")
    if stat.S_ISDIR(info.st_mode):
        _fail(display, 0, 0, "", "is a directory: give the path of a .yaml file")
    if not stat.S_ISREG(info.st_mode):
        _fail(display, 0, 0, "", "is not a regular file: give the path of a .yaml file")
    if info.st_size > MAX_FILE_BYTES:
        _fail(display, 0, 0, "",
              f"the file is {info.st_size / 1048576:.1f} MiB; datasets may be at most 32 MiB")
    try:
        with open(path, "rb") as handle:
            raw = handle.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        _fail(display, 0, 0, "", f"cannot read it: {exc.strerror or exc}")
    if len(raw) > MAX_FILE_BYTES:
        _fail(display, 0, 0, "", "the file is larger than 32 MiB, the most a dataset may be")
    return raw


def _decode(raw: bytes, display: str) -> str:
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        _fail(display, 1, 1, "", "the file is UTF-16: save it as UTF-8")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line, col = _line_col_of_bytes(raw, exc.start)
        _fail(display, line, col, "",
              f"not valid UTF-8 (byte 0x{raw[exc.start]:02x}): save the file as UTF-8")
    raise AssertionError("unreachable")  # pragma: no cover


def _line_col_of_bytes(raw: bytes, offset: int) -> tuple[int, int]:
    line_start = raw.rfind(b"\n", 0, offset) + 1
    column = len(raw[line_start:offset].decode("utf-8", errors="replace")) + 1
    return raw.count(b"\n", 0, offset) + 1, column


def _line_col_of_text(text: str, offset: int) -> tuple[int, int]:
    line_start = text.rfind("\n", 0, offset) + 1
    return text.count("\n", 0, offset) + 1, offset - line_start + 1


MAX_NESTING = 200  # the deepest nesting accepted (a dataset needs six levels)


class _TooDeep(Exception):
    def __init__(self, mark: Any) -> None:  # yaml.Mark, or libyaml's own Mark class
        super().__init__()
        self.mark = mark


class _Anchored(Exception):
    """The document holds an anchor or an alias (at ``event``): _refuse_anchors reports it."""

    def __init__(self, event: Any) -> None:
        super().__init__()
        self.event = event


class _Collection:
    """A mapping or a list, read from the parser's events only as far as the Builder asks.

    ``items`` holds the children composed so far (a mapping's alternate key, value, key, ...);
    while ``stream`` is set, more of them are still unread in the event stream. A child the
    Builder has finished with is skipped, never composed, so that rejecting a file stops
    reading it.
    """

    __slots__ = ("is_mapping", "items", "start_mark", "stream")

    def __init__(self, start_mark: Any, is_mapping: bool, stream: Optional[_Events]) -> None:
        self.start_mark = start_mark
        self.is_mapping = is_mapping
        self.items: list[_Node] = []
        self.stream = stream

    def children(self) -> Iterator[_Node]:
        """A list's items in order; each is dropped when the next one is asked for."""
        stream = self.stream
        while stream is not None and self.stream is not None:
            child = stream.next_child(self, keep=False)
            if child is None:
                return
            yield child
        # Composed in full already (or meanwhile, by a reader that went past it).
        yield from self.items

    def pairs(self) -> Iterator[tuple[_Node, _Node]]:
        """A mapping's (key, value) pairs in order; values stay readable after the next."""
        stream = self.stream
        while stream is not None and self.stream is not None:
            key = stream.next_child(self, keep=True)
            if key is None:
                return
            if type(key) is _Collection:
                stream.drop(key)  # only its position is ever reported: "keys must be ..."
            value = stream.next_child(self, keep=True)
            assert value is not None  # the parser always gives a key a value, maybe empty
            yield key, value
        items = iter(self.items)
        yield from zip(items, items)

    def all(self) -> list[_Node]:
        """Every child, composed now (for a reader that needs to look at them twice)."""
        if self.stream is not None:
            self.stream.drop_inside(self, keep=True)
            self.stream.complete()
        return self.items


class _Events:
    """One YAML document's events, composed into nodes on demand.

    Scalars are the parser's ScalarEvents themselves (their tag resolved only when a reader
    asks, see _tag): the document is never composed whole, so a hostile file costs only the
    part of it read before the error cap is reached. ``open`` holds the collections whose
    children are still being read, outermost first. The first anchor or alias met raises
    _Anchored (anchors are refused, see _refuse_anchors), so no node is ever shared.
    """

    def __init__(self, loader: Any) -> None:
        self._get: Callable[[], Any] = loader.get_event
        self.open: list[_Collection] = []
        self.document_mark: Any = None

    def root(self) -> Optional[_Node]:
        self._get()  # StreamStartEvent
        event = self._get()
        if isinstance(event, yaml.StreamEndEvent):
            return None
        self.document_mark = event.start_mark
        return self._node(self._get())

    def end(self) -> None:
        """Read past whatever of the document is left; it must be the only one."""
        while self.open:
            self.drop(self.open[0])
        self._get()  # DocumentEndEvent
        event = self._get()
        if not isinstance(event, yaml.StreamEndEvent):
            raise yaml.composer.ComposerError(
                "expected a single document in the stream", self.document_mark,
                "but found another document", event.start_mark)

    def _node(self, event: Any) -> _Node:
        kind = type(event)
        if kind is yaml.AliasEvent or event.anchor is not None:
            raise _Anchored(event)
        if kind is yaml.ScalarEvent:
            return event
        if kind is yaml.MappingStartEvent or kind is yaml.SequenceStartEvent:
            if len(self.open) >= MAX_NESTING:
                raise _TooDeep(event.start_mark)
            node = _Collection(event.start_mark, kind is yaml.MappingStartEvent, self)
            self.open.append(node)
            return node
        raise self._unexpected(event)

    @staticmethod
    def _unexpected(event: Any) -> Exception:
        # Only an alias can come where a node belongs and be none of the above.
        return _Anchored(event)

    def next_child(self, node: _Collection, *, keep: bool) -> Optional[_Node]:
        """The next child of ``node`` (None after its last), past any child still open."""
        if self.open[-1] is not node:
            self.drop_inside(node, keep=keep)
        event = self._get()
        if isinstance(event, yaml.CollectionEndEvent):
            self.open.pop()
            node.stream = None
            return None
        return self._node(event)

    def drop_inside(self, node: _Collection, *, keep: bool) -> None:
        """Finish every collection open inside ``node``: composed (``keep``) or skipped."""
        while self.open[-1] is not node:
            if keep:
                self.complete()
            else:
                self.drop(self.open[-1])

    def drop(self, node: _Collection) -> None:
        """Read past the rest of ``node`` (a reader is done with it) without composing it."""
        if node.stream is None:
            return
        while self.open[-1] is not node:
            self.drop(self.open[-1])
        get = self._get
        depth = len(self.open)
        inner = 0
        while True:
            event = get()
            kind = type(event)
            if kind is yaml.ScalarEvent:
                if event.anchor is not None:
                    raise _Anchored(event)
                continue
            if kind is yaml.MappingStartEvent or kind is yaml.SequenceStartEvent:
                if event.anchor is not None:
                    raise _Anchored(event)
                inner += 1
                if depth + inner > MAX_NESTING:
                    raise _TooDeep(event.start_mark)
            elif kind is yaml.MappingEndEvent or kind is yaml.SequenceEndEvent:
                if not inner:
                    break
                inner -= 1
            else:
                raise self._unexpected(event)
        self.open.pop()
        node.stream = None

    def complete(self) -> None:
        """Compose the rest of the innermost open collection into its ``items``."""
        node = self.open[-1]
        get = self._get
        depth = len(self.open)
        chain = [node]
        items = node.items
        scalar, mapping_start, sequence_start = (yaml.ScalarEvent, yaml.MappingStartEvent,
                                                 yaml.SequenceStartEvent)
        while True:
            event = get()
            kind = type(event)
            if kind is scalar:
                if event.anchor is not None:
                    raise _Anchored(event)
                items.append(event)
            elif kind is mapping_start or kind is sequence_start:
                if event.anchor is not None:
                    raise _Anchored(event)
                if depth + len(chain) > MAX_NESTING:
                    raise _TooDeep(event.start_mark)
                child = _Collection(event.start_mark, kind is mapping_start, None)
                items.append(child)
                chain.append(child)
                items = child.items
            elif kind is yaml.MappingEndEvent or kind is yaml.SequenceEndEvent:
                chain.pop()
                if not chain:
                    break
                items = chain[-1].items
            else:
                raise self._unexpected(event)
        self.open.pop()
        node.stream = None


def _tag(node: yaml.ScalarEvent) -> str:
    """A scalar's tag as PyYAML's composer gives it: its own, or resolved from its text."""
    tag = node.tag
    if tag is None or tag == "!":
        tag = _resolve(yaml.ScalarNode, node.value, node.implicit)
    return tag


def _parse(text: str, display: str, builder: _Builder,
           build: Callable[[_Node], _T]) -> Optional[_T]:
    """``build(root)`` while the document is read; any YAML syntax error is reported alone.

    ``build`` pulls what it reads from the parser as it goes, so a _TooManyErrors from it
    leaves the rest of the file unread. What it found is dropped if the document turns out to
    hold an anchor or an alias (only those are reported, as _refuse_anchors finds them) or a
    syntax error (reported alone, raising InvalidDataset), both as long as that comes before
    the error cap.
    """
    try:
        loader = _YamlLoader(text)
        try:
            events = _Events(loader)
            root = events.root()
            if root is None:
                _fail(display, 0, 0, "",
                      "the file has no YAML document: a dataset starts with 'schema: 1'")
            assert root is not None
            result = build(root)
            events.end()
            return result
        except _Anchored as exc:
            anchored = exc
        finally:
            loader.dispose()
    except yaml.reader.ReaderError as exc:
        line, col = _line_col_of_text(text, exc.position)
        what = (f"control character U+{exc.character:04X} is not allowed: remove it"
                if isinstance(exc.character, int) else f"unreadable character: {exc.reason}")
        _fail(display, line, col, "", what)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (0, 0)
        problem = " ".join(str(exc.problem or "").split())
        context = " ".join(str(exc.context or "").split())
        what = f"YAML syntax error: {problem}" + (f" ({context})" if context else "")
        _fail(display, line, col, "", what)
    except yaml.YAMLError as exc:
        _fail(display, 0, 0, "", f"YAML error: {' '.join(str(exc).split())}")
    except (RecursionError, _TooDeep) as exc:
        mark = exc.mark if isinstance(exc, _TooDeep) else None
        line, col = (mark.line + 1, mark.column + 1) if mark else (0, 0)
        _fail(display, line, col, "", "the document is nested too deeply")
    except UnicodeError as exc:  # e.g. a lone surrogate in text handed to loads()
        _fail(display, 0, 0, "", f"text cannot be encoded: {getattr(exc, 'reason', exc)}")
    builder.errors.clear()
    _refuse_anchors(text, builder)
    if not builder.errors:  # pragma: no cover - the pass meets the same anchor first
        with contextlib.suppress(_TooManyErrors):
            builder.error_at(anchored.event.start_mark, "", _NO_ANCHORS)
    return None


# --------------------------------------------------------------------------- validation


_TOP_KEYS = ("schema", "title", "summary", "source", "subjects", "dimensions", "pros")
# A comparison written from scratch has no base comparison to attribute: source is optional.
_TOP_REQUIRED = ("schema", "title", "summary", "subjects", "dimensions", "pros")
_SOURCE_KEYS = ("title", "publisher", "url")
_SUBJECT_KEYS = ("id", "name", "tagline", "homepage")
_DIMENSION_KEYS = ("id", "title", "verdict", "descriptions", "notes", "commands", "sources")
_NOTE_KEYS = ("text", "source", "kind")
_COMMAND_KEYS = ("run", "does", "caution", "needs")
_COMMAND_REQUIRED = ("run", "does")
_PRO_KEYS = ("label", "votes")


class _Entries:
    """A mapping's entries by key, read from the file only as far as a reader asks.

    Readers look keys up in their own order and read each value at once when they get it.
    Going on past a value that was handed out skips what is left of it, so a long list is
    read item by item and reading stops at the error cap; a value passed over before it was
    asked for (its key comes earlier in the file than the reader's order) is composed whole,
    for later. ``close()`` reads the rest: every key is checked, missing ones reported.
    """

    __slots__ = ("_allowed", "_builder", "_done", "_handed", "_last", "_node", "_pairs",
                 "_required", "_where", "found")

    def __init__(self, builder: _Builder, node: _Collection, where: str, allowed: Sequence[str],
                 required: Sequence[str]) -> None:
        self._builder = builder
        self._node = node
        self._where = where
        self._allowed = allowed
        self._required = required
        self._pairs = node.pairs()
        self.found: dict[str, tuple[_Node, _Node]] = {}  # the usable keys read so far
        self._last: Optional[_Node] = None  # the value read last, and whether it was handed out
        self._handed = False
        self._done = False

    def _read_one(self) -> Optional[str]:
        """Read the next entry; its key if usable (else ""), None at the end (then closed)."""
        if self._done:
            return None
        if self._handed and self._last is not None:
            _drop(self._last)
        builder = self._builder
        try:
            key_node, value_node = next(self._pairs)
        except StopIteration:
            self._done = True
            for required in self._required:
                if required not in self.found:
                    builder.error(self._node, self._where, f"missing required key '{required}'")
            return None
        self._last, self._handed = value_node, False
        key = builder._key(key_node, value_node, self._where, self.found, self._allowed)
        if key is None:
            return ""
        self.found[key] = (key_node, value_node)
        return key

    def _read_until(self, wanted: Optional[str]) -> None:
        while (wanted is None or wanted not in self.found) and self._read_one() is not None:
            pass

    def __contains__(self, key: str) -> bool:
        self._read_until(key)
        return key in self.found

    def __getitem__(self, key: str) -> tuple[_Node, _Node]:
        self._read_until(key)
        pair = self.found[key]
        if pair[1] is self._last:
            self._handed = True
        return pair

    def close(self) -> None:
        self._read_until(None)

    def each(self) -> Iterator[tuple[str, _Node]]:
        """Every usable entry in file order, each handed out as it is read (and skipped past
        when the next is asked for): a reader that takes them so never waits on a value.
        Ends closed (missing keys reported)."""
        while True:
            key = self._read_one()
            if key is None:
                return
            if key:
                self._handed = True
                yield key, self.found[key][1]


class _Builder:
    """Walks the composed node tree once, collecting problems and building the model."""

    def __init__(self, display: str) -> None:
        self.display = display
        self.errors: list[DatasetError] = []
        self._suggestions: dict[tuple[str, int], Optional[str]] = {}

    # ---- reporting

    def error(self, node: _Node, where: str, what: str) -> None:
        self.error_at(node.start_mark, where, what)

    def error_at(self, mark: Any, where: str, what: str) -> None:
        self.errors.append(_error(self.display, mark.line + 1, mark.column + 1, where, what))
        if len(self.errors) > MAX_REPORTED_ERRORS:
            raise _TooManyErrors

    def suggest(self, key: str, candidates: Sequence[str]) -> Optional[str]:
        """The closest of ``candidates`` to ``key``: once per distinct key, and bounded."""
        cache_key = (key, id(candidates))
        if cache_key in self._suggestions:
            return self._suggestions[cache_key]
        close = None
        if len(self._suggestions) < MAX_SUGGESTIONS and len(key) <= 100:
            found = difflib.get_close_matches(key, candidates[:200], n=1, cutoff=0.6)
            close = found[0] if found else None
        self._suggestions[cache_key] = close
        return close

    # ---- typed readers

    def _key(self, key_node: _Node, value_node: _Node, where: str, seen: Container[str],
             allowed: Sequence[str]) -> Optional[str]:
        """The key of a mapping entry, or None (reported, its value skipped) if unusable."""
        key = None
        if type(key_node) is not yaml.ScalarEvent:
            self.error(key_node, where, "keys must be plain words")
        elif key_node.value in seen:
            self.error(key_node, where, f"duplicate key '{_clip(key_node.value)}'")
        elif allowed and key_node.value not in allowed:
            close = self.suggest(key_node.value, allowed)
            hint = f"did you mean '{close}'?" if close else f"allowed: {', '.join(allowed)}"
            self.error(key_node, where, f"unknown key '{_clip(key_node.value)}': {hint}")
        else:
            key = key_node.value
        if key is None:
            _drop(value_node)
        return key

    def entries(self, node: _Node, where: str, allowed: Sequence[str],
                required: Sequence[str]) -> Optional[_Entries]:
        """A mapping's entries by key (key node and value node), keys checked as they are
        read; the reader calls ``close()`` when done (see _Entries)."""
        if type(node) is not _Collection or not node.is_mapping:
            self.error(node, where, f"expected a mapping of keys ({', '.join(required) or '...'}), "
                                    f"found {_describe(node)}")
            return None
        return _Entries(self, node, where, allowed, required)

    def mapping(self, node: _Node, where: str, allowed: Sequence[str],
                required: Sequence[str]) -> Optional[dict[str, tuple[_Node, _Node]]]:
        """Every entry of a mapping at once, each value composed (for readers that look at
        them in any order)."""
        entries = self.entries(node, where, allowed, required)
        if entries is None:
            return None
        entries.close()
        return entries.found

    def free_mapping(self, node: _Node,
                     where: str) -> Optional[Iterator[tuple[str, _Node, _Node]]]:
        """A mapping whose keys are data (subject ids), entry by entry; duplicates are errors.

        Each value must be read before the next entry is asked for: it is skipped then.
        """
        if type(node) is not _Collection or not node.is_mapping:
            self.error(node, where, f"expected a mapping of subject ids, found {_describe(node)}")
            return None
        return self._free_entries(node, where)

    def _free_entries(self, node: _Collection, where: str) -> Iterator[tuple[str, _Node, _Node]]:
        seen: set[str] = set()
        for key_node, value_node in node.pairs():
            if type(key_node) is not yaml.ScalarEvent:
                self.error(key_node, where, "keys must be subject ids")
                _drop(value_node)
                continue
            if key_node.value in seen:
                self.error(key_node, where, f"duplicate key '{_clip(key_node.value)}'")
                _drop(value_node)
                continue
            seen.add(key_node.value)
            yield key_node.value, key_node, value_node
            _drop(value_node)

    def sequence(self, node: _Node, where: str, what: str) -> Iterator[_Node]:
        """A list's items, one at a time (each is dropped when the next is asked for)."""
        if type(node) is not _Collection or node.is_mapping:
            self.error(node, where, f"expected a list of {what}, found {_describe(node)}")
            return iter(())
        return node.children()

    def text(self, node: _Node, where: str, *, one_line: bool = False) -> Optional[str]:
        if type(node) is not yaml.ScalarEvent or _tag(node) not in _TEXTLIKE_TAGS:
            self.error(node, where, f"expected text, found {_describe(node)}")
            return None
        value: str = node.value.strip()
        if not value:
            self.error(node, where, "must not be empty")
            return None
        bad = FORBIDDEN_CHARS_RE.search(value)
        if bad:
            self.error(node, where, f"{_char_kind(bad.group())} at character "
                                    f"{bad.start() + 1} is not allowed: remove it")
            return None
        if one_line and "\n" in value:
            self.error(node, where, "must be a single line")
            return None
        return value

    def url(self, node: _Node, where: str) -> Optional[str]:
        value = self.text(node, where, one_line=True)
        if value is None:
            return None
        problem = url_problem(value)
        if problem:
            self.error(node, where, f"'{_clip(value)}' is not an http(s) URL: {problem}")
            return None
        return value

    def identifier(self, node: _Node, where: str) -> Optional[str]:
        value = self.text(node, where, one_line=True)
        if value is not None and not _ID_RE.match(value):
            self.error(node, where, f"id '{_clip(value)}' must use only a-z, 0-9 and single "
                                    "hyphens (e.g. 'live-migration')")
            return None
        return value

    def integer(self, node: _Node, where: str, *, minimum: int = 0) -> Optional[int]:
        if type(node) is not yaml.ScalarEvent or _tag(node) != _INT:
            self.error(node, where, f"expected a whole number, found {_describe(node)}")
            return None
        # Bounded on the text, before any conversion: a 5,000-digit number must cost nothing.
        digits = node.value.replace("_", "").lstrip("+-")
        if len(digits) > len(str(MAX_VOTES)) + 2:
            self.error(node, where, f"'{_clip(node.value)}' is too large: at most {MAX_VOTES}")
            return None
        try:
            value = int(yaml.constructor.SafeConstructor().construct_yaml_int(
                yaml.ScalarNode(_INT, node.value)))
        except (ValueError, TypeError):
            self.error(node, where, f"'{_clip(node.value)}' is not a whole number")
            return None
        if value > MAX_VOTES:
            self.error(node, where, f"'{_clip(node.value)}' is too large: at most {MAX_VOTES}")
            return None
        if value < minimum:
            self.error(node, where, f"must be {minimum} or more, found {value}")
            return None
        return value

    # ---- the document

    def build(self, root: _Node) -> Optional[Dataset]:
        if type(root) is not _Collection or not root.is_mapping:
            self.error(root, "", f"the top level must be a mapping (schema, title, ...), "
                                 f"found {_describe(root)}")
            return None
        # Each value is checked as soon as it is read, so that a hostile file is rejected at
        # the error cap without reading the rest. A value that depends on one not read yet
        # waits, composed in full: every value on the schema (another schema's keys would
        # only produce misleading errors), dimensions and pros on the subjects.
        top: dict[str, tuple[_Node, _Node]] = {}
        waiting: list[str] = []
        found: dict[str, Any] = {}

        def settle(final: bool) -> bool:
            """Check the waiting values that can be; False once the schema is refused."""
            for key in _TOP_KEYS:
                if key not in waiting:
                    continue
                if not final and ((key != "schema" and "schema" not in found)
                                  or (key in ("dimensions", "pros") and "subjects" not in found)):
                    continue
                waiting.remove(key)
                node = top[key][1]
                found[key] = self._top_value(key, node, found)
                _drop(node)
                if key == "schema" and found[key] is False:
                    waiting.clear()
                    return False
            return True

        refused = False
        for key_node, value_node in root.pairs():
            key = self._key(key_node, value_node, "", top, _TOP_KEYS)
            if key is None:
                continue
            top[key] = (key_node, value_node)
            if refused:
                _drop(value_node)
                continue
            waiting.append(key)
            refused = not settle(final=False)
        for key in _TOP_REQUIRED:
            if key not in top:
                self.error(root, "", f"missing required key '{key}'")
        if refused or not settle(final=True):
            return None
        title, summary = found.get("title"), found.get("summary")
        source = found.get("source")
        subjects = found["subjects"][0] if "subjects" in found else []
        if self.errors or title is None or summary is None or ("source" in top and source is None):
            return None
        return Dataset(
            title=title, summary=summary, source=source, subjects=tuple(subjects),
            dimensions=tuple(found.get("dimensions", ())), pros=found.get("pros", {}),
            path=self.display,
        )

    def _top_value(self, key: str, node: _Node, found: dict[str, Any]) -> Any:
        """One top-level value, read; for the schema, False if it is another schema."""
        subject_ids = found["subjects"][1] if "subjects" in found else None
        if key == "schema":
            schema = self.integer(node, "schema")
            if schema is not None and schema != SCHEMA_VERSION:
                self.error(node, "schema",
                           f"schema {schema} is not supported: this kvmq reads schema "
                           f"{SCHEMA_VERSION}; upgrade kvmq or convert the file")
                return False
            return schema
        if key == "title":
            return self.text(node, "title", one_line=True)
        if key == "summary":
            return self.text(node, "summary")
        if key == "source":
            return self._source(node)
        if key == "subjects":
            return self._subjects(node)
        if key == "dimensions":
            return self._dimensions(node, subject_ids)
        return self._pros(node, subject_ids)

    def _source(self, node: _Node) -> Optional[Source]:
        entries = self.entries(node, "source", _SOURCE_KEYS, ("title", "publisher"))
        if entries is None:
            return None
        title = self.text(entries["title"][1], "source.title", one_line=True) \
            if "title" in entries else None
        publisher = self.text(entries["publisher"][1], "source.publisher", one_line=True) \
            if "publisher" in entries else None
        url = self.url(entries["url"][1], "source.url") if "url" in entries else None
        entries.close()
        if title is None or publisher is None:
            return None
        return Source(title=title, publisher=publisher, url=url)

    def _subjects(self, node: _Node) -> tuple[list[Subject], Optional[list[str]]]:
        """The valid subjects, and every id declared (valid or not) to check keys against.

        The declared ids are None when the list itself is unusable, so that keys elsewhere
        are not reported as unknown subjects because of one upstream mistake.
        """
        subjects: list[Subject] = []
        if type(node) is not _Collection or node.is_mapping:
            self.sequence(node, "subjects", "subjects")
            return subjects, None
        declared: dict[str, None] = {}  # every id written, valid or not, in order
        seen: set[str] = set()
        count = 0
        for index, item in enumerate(node.children()):
            count += 1
            where = f"subjects[{index}]"
            entries = self.entries(item, where, _SUBJECT_KEYS, _SUBJECT_KEYS)
            if entries is None:
                continue
            if "id" in entries and type(entries["id"][1]) is yaml.ScalarEvent:
                declared[entries["id"][1].value] = None
            values = {
                "id": self.identifier(entries["id"][1], f"{where}.id") if "id" in entries else None,
                "name": self.text(entries["name"][1], f"{where}.name", one_line=True)
                if "name" in entries else None,
                "tagline": self.text(entries["tagline"][1], f"{where}.tagline", one_line=True)
                if "tagline" in entries else None,
                "homepage": self.url(entries["homepage"][1], f"{where}.homepage")
                if "homepage" in entries else None,
            }
            entries.close()
            subject_id = values["id"]
            if subject_id is not None:
                if subject_id in seen:
                    self.error(entries["id"][1], f"{where}.id", f"duplicate subject id '{subject_id}'")
                    continue
                seen.add(subject_id)
            if all(v is not None for v in values.values()):
                subjects.append(Subject(**values))  # type: ignore[arg-type]
        if count < 2:
            self.error(node, "subjects", f"a comparison needs two or more subjects, found {count}")
        return subjects, list(declared)

    def _dimensions(self, node: _Node, subject_ids: Optional[list[str]]) -> list[Dimension]:
        dimensions: list[Dimension] = []
        seen: set[str] = set()
        count = 0
        # One tuple shared by every dimension (each keeps a reference to it).
        shared_ids = None if subject_ids is None else tuple(subject_ids)
        for index, item in enumerate(self.sequence(node, "dimensions", "dimensions")):
            count += 1
            dimension = self._dimension(item, f"dimensions[{index}]", shared_ids, seen)
            if dimension is not None:
                dimensions.append(dimension)
        if type(node) is _Collection and not node.is_mapping and not count:
            self.error(node, "dimensions", "needs at least one dimension")
        return dimensions

    def _dimension(self, node: _Node, where: str, subject_ids: Optional[tuple[str, ...]],
                   seen: set[str]) -> Optional[Dimension]:
        # Read in file order: a long list (notes, sources, commands) is checked item by item
        # as it is read, and nothing waits for a key that comes later or not at all.
        entries = self.entries(node, where, _DIMENSION_KEYS, ("id", "title", "descriptions"))
        if entries is None:
            return None
        ok = True
        dimension_id: Optional[str] = None
        title: Optional[str] = None
        verdict: Optional[str] = None
        descriptions: dict[str, str] = {}
        notes: list[Note] = []
        commands: dict[str, tuple[Command, ...]] = {}
        sources: list[str] = []
        for key, value in entries.each():
            if key == "id":
                dimension_id = self.identifier(value, f"{where}.id")
                if dimension_id is not None:
                    if dimension_id in seen:
                        self.error(value, f"{where}.id", f"duplicate dimension id '{dimension_id}'")
                        ok = False
                    seen.add(dimension_id)
            elif key == "title":
                title = self.text(value, f"{where}.title", one_line=True)
            elif key == "verdict":
                verdict = self.text(value, f"{where}.verdict", one_line=True)
                ok = ok and verdict is not None
            elif key == "descriptions":
                found = self._by_subject(value, f"{where}.descriptions", subject_ids,
                                         lambda n, w: self.text(n, w))
                if found is None:
                    ok = False
                else:
                    missing = [sid for sid in subject_ids or () if sid not in found]
                    for sid in missing:
                        self.error(value, f"{where}.descriptions",
                                   f"missing entry for subject '{_clip(sid)}'")
                    ok = ok and not missing
                    descriptions = {sid: found[sid] for sid in subject_ids or found if sid in found}
            elif key == "notes":
                notes, notes_ok = self._each_item(value, f"{where}.notes", "notes", self._note)
                ok = ok and notes_ok
            elif key == "commands":
                found_cmds = self._by_subject(value, f"{where}.commands", subject_ids,
                                              self._command_list)
                if found_cmds is None:
                    ok = False
                else:
                    commands = {sid: found_cmds[sid] for sid in subject_ids or found_cmds
                                if sid in found_cmds}
            elif key == "sources":
                sources, sources_ok = self._each_item(value, f"{where}.sources", "URLs", self.url)
                ok = ok and sources_ok
        if not ok or dimension_id is None or title is None or not descriptions:
            return None
        if subject_ids is None:  # the subjects are in error: their problems are reported
            return None
        return Dimension(dimension_id, title, descriptions, verdict, notes, commands, sources,
                         subject_ids=subject_ids)

    def _each_item(self, node: _Node, where: str, what: str,
                   read: Callable[[_Node, str], Optional[_T]]) -> tuple[list[_T], bool]:
        """A list's items read one by one by ``read``: the good ones, and whether all were."""
        found: list[_T] = []
        ok = True
        for index, item in enumerate(self.sequence(node, where, what)):
            value = read(item, f"{where}[{index}]")
            if value is None:
                ok = False
            else:
                found.append(value)
        return found, ok

    def _by_subject(self, node: _Node, where: str, subject_ids: Optional[Sequence[str]],
                    read: Callable[[_Node, str], Any]) -> Optional[dict[str, Any]]:
        """A mapping keyed by subject id, each value read by ``read``; None if any is bad."""
        entries = self.free_mapping(node, where)
        if entries is None:
            return None
        out: dict[str, Any] = {}
        ok = True
        subject_set = set(subject_ids or ())
        for key, key_node, value_node in entries:
            if subject_ids is not None and key not in subject_set:
                close = self.suggest(key, subject_ids)
                hint = f"did you mean '{_clip(close)}'?" if close else \
                    f"subjects are {_some(subject_ids) or '(none valid)'}"
                self.error(key_node, where, f"'{_clip(key)}' is not a subject id: {hint}")
                ok = False
                continue
            value = read(value_node, f"{where}.{key}")
            if value is None:
                ok = False
            else:
                out[key] = value
        return out if ok else None

    def _note(self, node: _Node, where: str) -> Optional[Note]:
        entries = self.entries(node, where, _NOTE_KEYS, ("text",))
        if entries is None:
            return None
        text: Optional[str] = None
        source: Optional[str] = None
        source_bad = False
        kind: Optional[str] = "caveat"
        for key, value in entries.each():
            if key == "text":
                text = self.text(value, f"{where}.text")
            elif key == "source":
                source = self.url(value, f"{where}.source")
                source_bad = source is None
            elif key == "kind":
                kind = self.text(value, f"{where}.kind", one_line=True)
                if kind is not None and kind not in NOTE_KINDS:
                    self.error(value, f"{where}.kind",
                               f"kind '{_clip(kind)}' is not one of: {', '.join(NOTE_KINDS)}")
                    kind = None
        if text is None or kind is None or source_bad:
            return None
        return Note(text=text, source=source, kind=kind)

    def _command_list(self, node: _Node, where: str) -> Optional[tuple[Command, ...]]:
        commands: list[Command] = []
        ok = True
        for index, item in enumerate(self.sequence(node, where, "commands")):
            item_where = f"{where}[{index}]"
            entries = self.entries(item, item_where, _COMMAND_KEYS, _COMMAND_REQUIRED)
            if entries is None:
                ok = False
                continue
            run = self.text(entries["run"][1], f"{item_where}.run") if "run" in entries else None
            does = self.text(entries["does"][1], f"{item_where}.does", one_line=True) \
                if "does" in entries else None
            optional = {key: self.text(entries[key][1], f"{item_where}.{key}", one_line=True)
                        for key in ("caution", "needs") if key in entries}
            entries.close()
            if run is None or does is None or None in optional.values():
                ok = False
                continue
            commands.append(Command(run=run, does=does, **optional))
        return tuple(commands) if ok else None

    def _pros(self, node: _Node, subject_ids: Optional[list[str]]) -> dict[str, tuple[Pro, ...]]:
        found = self._by_subject(node, "pros", subject_ids, self._pro_list)
        if found is None:
            return {}
        return {sid: found.get(sid, ()) for sid in subject_ids or found}

    def _pro_list(self, node: _Node, where: str) -> Optional[tuple[Pro, ...]]:
        pros: list[Pro] = []
        ok = True
        for index, item in enumerate(self.sequence(node, where, "pros")):
            item_where = f"{where}[{index}]"
            entries = self.entries(item, item_where, _PRO_KEYS, _PRO_KEYS)
            if entries is None:
                ok = False
                continue
            label = self.text(entries["label"][1], f"{item_where}.label", one_line=True) \
                if "label" in entries else None
            votes = self.integer(entries["votes"][1], f"{item_where}.votes") \
                if "votes" in entries else None
            entries.close()
            if label is None or votes is None:
                ok = False
                continue
            pros.append(Pro(label=label, votes=votes))
        return tuple(pros) if ok else None


def _describe(node: Optional[_Node]) -> str:
    if type(node) is _Collection:
        return "a mapping" if node.is_mapping else "a list"
    if type(node) is yaml.ScalarEvent:
        tag = _tag(node)
        if tag == _NULL:
            return "nothing (an empty value)"
        if tag == _STR:
            return f"text '{_clip(node.value)}'"
        kind = _clip(tag.rsplit(":", 1)[-1], 30)
        return f"{kind} '{_clip(node.value)}'"
    return "something else"


def _drop(node: _Node) -> None:
    """A reader is done with ``node``: what is left of it in the file is skipped, unread."""
    if type(node) is _Collection and node.stream is not None:
        node.stream.drop(node)


def _clip(value: str, limit: int = 40) -> str:
    """Shorten a value quoted inside an error message, every character shown visibly."""
    return printable(value, limit)


def _some(items: Sequence[str]) -> str:
    """At most MAX_NAMED of ``items``, for an error line that must stay short."""
    shown = ", ".join(_clip(item) for item in items[:MAX_NAMED])
    more = len(items) - MAX_NAMED
    return f"{shown} and {more} more" if more > 0 else shown


def _char_kind(ch: str) -> str:
    """``ch`` named for an error message: its code point, what it is and its Unicode name."""
    code = ord(ch)
    name = unicodedata.name(ch, "")
    if code < 0x20 or 0x7F <= code < 0xA0:
        kind = "control character"
    elif 0xD800 <= code < 0xE000:
        kind = "lone surrogate"
    elif unicodedata.bidirectional(ch) in ("LRE", "RLE", "LRO", "RLO", "PDF", "LRI", "RLI",
                                           "FSI", "PDI") or code in (0x200E, 0x200F, 0x061C):
        kind = "bidirectional control character"
    elif code in (0x2028, 0x2029):
        kind = "line or paragraph separator"
    else:
        kind = "invisible character"
    return f"{kind} U+{code:04X}" + (f" ({name})" if name else "")


def url_problem(value: str) -> str:
    """Why ``value`` is not a well-formed http(s) URL, or "" when it is one."""
    if _PLAIN_URL_RE.match(value):
        return ""
    return url_problem_in_full(value)


def url_problem_in_full(value: str) -> str:
    """:func:`url_problem` for any text, the plain URLs included."""
    if not value:
        return "it is empty"
    if not _URL_CHARS_RE.match(value):
        bad = next(ch for ch in value if not _URL_CHARS_RE.match(ch))
        shown = "a space" if bad.isspace() else f"'{printable(bad)}'"
        return f"{shown} must be percent-encoded"
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises ValueError on a malformed port
    except ValueError as exc:
        return str(exc)
    if parts.scheme.lower() not in ("http", "https"):
        return "it must start with http:// or https://"
    host = parts.hostname or ""
    if not parts.netloc or not host:
        return "it names no host"
    if not _HOST_RE.match(host if ":" not in host else f"[{host}]"):
        return f"'{_clip(host)}' is not a host name"
    if re.search(r"%(?![0-9A-Fa-f]{2})", value):
        return "'%' must start a percent escape such as %20"
    return ""


