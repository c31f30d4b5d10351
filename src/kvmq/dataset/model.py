"""The comparison model: immutable records, and the errors that name a file position.

Imports nothing else of kvmq, nor textual or rich: the CLI, the renderers and the explorer all
read the same :class:`Dataset`. :meth:`Dataset.to_dict` and :meth:`Dataset.from_dict` are each
other's inverse, and ``from_dict`` checks what it is given as strictly as the YAML loader does
for structure, types and control characters, so the cache can hand it data read back from
disk (the loader's spelling rules for URLs, ids and single-line fields are its own).
"""

from __future__ import annotations

import difflib
import operator
import re
from dataclasses import dataclass
from functools import partial
from itertools import repeat
from typing import Any, Callable, Iterable, Iterator, Mapping, NamedTuple, Optional, Sequence

SCHEMA_VERSION = 1
#: Vote counts and the schema number are bounded before any arithmetic or formatting.
MAX_VOTES = 10**9 - 1

# C0 controls except tab and newline, DEL, C1 controls, line/paragraph separators, the
# bidirectional marks, overrides and isolates, zero-width characters and tag characters:
# none of them may reach a terminal, or hide what a string says.
FORBIDDEN_CHARS_RE = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u2064"
    "\u2066-\u2069\ufeff\U000e0000-\U000e007f\ud800-\udfff]"
)

# The ASCII bytes a string may hold: everything but the C0 controls (tab and newline aside)
# and DEL. Deleting them from ASCII text leaves exactly the forbidden ones.
_ALLOWED_ASCII = bytes([9, 10, *range(32, 127)])


#: Texts checked per join: the joined copy (and its bytes) stay small beside the data.
_CHECKED_PER_JOIN = 4096


def find_forbidden(texts: Sequence[str]) -> Optional[str]:
    """A forbidden character (see :data:`FORBIDDEN_CHARS_RE`) in any of ``texts``, or None.

    ASCII text is checked with ``bytes.translate``, several times faster than the regular
    expression, which then only reads the strings that hold other characters.
    """
    if len(texts) > _CHECKED_PER_JOIN:
        for start in range(0, len(texts), _CHECKED_PER_JOIN):
            found = find_forbidden(texts[start:start + _CHECKED_PER_JOIN])
            if found is not None:
                return found
        return None
    joined = "\n".join(texts)
    if joined.isascii():
        left = joined.encode("ascii").translate(None, _ALLOWED_ASCII)
        return chr(left[0]) if left else None
    ascii_texts = [text for text in texts if text.isascii()]
    found = find_forbidden(ascii_texts)
    if found is not None:
        return found
    bad = FORBIDDEN_CHARS_RE.search("\n".join(text for text in texts if not text.isascii()))
    return bad.group() if bad else None


class DatasetError(Exception):
    """One problem in a dataset file, with the position of the offending value.

    ``str(error)`` is the one-line message: ``PATH:LINE:COL: where: what``.
    """

    def __init__(self, path: str, line: int, col: int, where: str, what: str) -> None:
        super().__init__(path, line, col, where, what)
        self.path = path
        self.line = line
        self.col = col
        self.where = where
        self.what = what

    def __str__(self) -> str:
        location = f"{self.path}:{self.line}:{self.col}" if self.line else self.path
        return f"{location}: {self.where}: {self.what}" if self.where else f"{location}: {self.what}"


class InvalidDataset(Exception):
    """A dataset that cannot be used; carries every problem found (up to a cap)."""

    def __init__(self, errors: Sequence[DatasetError], omitted: int = 0) -> None:
        super().__init__(errors)
        self.errors = list(errors)
        self.omitted = omitted  # -1: more, uncounted (the loader stops looking at its cap)

    def lines(self) -> list[str]:
        out = [str(error) for error in self.errors]
        if self.omitted < 0:
            out.append(f"... and more problems not shown: the first {len(self.errors)} "
                       "are listed; fix them and check again")
        elif self.omitted:
            out.append(f"... and {self.omitted} more problem(s) not shown")
        return out

    def __str__(self) -> str:
        return "\n".join(self.lines())


# --------------------------------------------------------------------------- model


@dataclass(frozen=True)
class Source:
    title: str
    publisher: str
    url: Optional[str] = None


@dataclass(frozen=True)
class Subject:
    id: str
    name: str
    tagline: str
    homepage: str


# Note, Command, Pro and Dimension, which a dataset holds by the thousand, are NamedTuples:
# as immutable as a frozen dataclass, but built in under half the time (a warm start builds
# every one) and half the size. Dataset, of which there is one, stays a dataclass.


class Note(NamedTuple):
    text: str
    source: Optional[str] = None
    kind: str = "caveat"  # "correction" marks an error in the base comparison

    @property
    def is_correction(self) -> bool:
        return self.kind == "correction"


class Command(NamedTuple):
    run: str
    does: str
    #: What can go wrong (data lost, a guest stopped, a reboot): shown highlighted with the command.
    caution: Optional[str] = None
    #: What the command needs that is not obvious: root, a package, another host.
    needs: Optional[str] = None


# A dimension keeps everything but its id and title in one packed string (see
# Dimension.packed): at 20,000 dimensions the records and dicts of twelve texts each took
# 52 MB, the packed form takes 26. The separators are control characters no text may hold
# (FORBIDDEN_CHARS_RE), so a text can never be mistaken for one.
FIELD_SEP = "\x1e"    # between the five parts: verdict, descriptions, notes, commands, sources
ITEM_SEP = "\x1d"     # between the notes of a dimension, or the commands of one subject
PART_SEP = "\x1f"     # between the texts of one item (a note's text, source and kind, ...)
SUBJECT_SEP = "\x1c"  # between the subjects' command lists


class _DimensionRecord(NamedTuple):
    id: str
    title: str
    #: The dataset's subject ids, in order (one tuple shared by all its dimensions).
    subject_ids: tuple[str, ...]
    #: verdict, descriptions (in subject order), notes (text, source, "correction" or ""),
    #: commands (one list per subject, in order; run, does, caution, needs) and sources,
    #: joined by the separators above; an absent text is "".
    packed: str


class Dimension(_DimensionRecord):
    """One row of the comparison: an id, a title and what each subject says about it.

    Built like a record, ``Dimension(id, title, descriptions, verdict, notes, commands,
    sources)``; :attr:`descriptions`, :attr:`verdict`, :attr:`notes`, :attr:`commands` and
    :attr:`sources` are read back from :attr:`packed` each time, in microseconds, which is
    what a view showing one dimension at a time can afford many times over.
    """

    __slots__ = ()

    def __new__(cls, id: str, title: str, descriptions: Mapping[str, str],
                verdict: Optional[str] = None, notes: Sequence[Note] = (),
                commands: Optional[Mapping[str, Sequence[Command]]] = None,
                sources: Sequence[str] = (), *,
                subject_ids: Optional[tuple[str, ...]] = None) -> Dimension:
        """``subject_ids``: the dataset's subjects, in order (default: the descriptions'
        keys); every one needs a description, and commands may name no other. The texts
        are packed as given: the loader and ``from_dict`` have already refused the control
        characters that separate them."""
        ids = tuple(descriptions) if subject_ids is None else subject_ids
        commands = commands or {}
        if set(descriptions) != set(ids) or not set(commands) <= set(ids):
            raise ValueError("descriptions and commands must be keyed by the subject ids")
        packed = FIELD_SEP.join((
            verdict or "",
            PART_SEP.join([descriptions[sid] for sid in ids]),
            ITEM_SEP.join([PART_SEP.join((note.text, note.source or "",
                                          "correction" if note.is_correction else ""))
                           for note in notes]),
            SUBJECT_SEP.join([ITEM_SEP.join([
                PART_SEP.join((c.run, c.does, c.caution or "", c.needs or ""))
                for c in commands.get(sid, ())]) for sid in ids]),
            PART_SEP.join(sources),
        ))
        return tuple.__new__(cls, (id, title, ids, packed))

    def __reduce__(self) -> tuple[Any, ...]:  # copy and pickle rebuild from the packed form
        return (Dimension._make, (tuple(self),))

    def __repr__(self) -> str:
        return (f"Dimension(id={self.id!r}, title={self.title!r}, "
                f"descriptions={self.descriptions!r}, verdict={self.verdict!r}, "
                f"notes={self.notes!r}, commands={self.commands!r}, sources={self.sources!r})")

    @property
    def verdict(self) -> Optional[str]:
        return self.packed.partition(FIELD_SEP)[0] or None

    @property
    def descriptions(self) -> dict[str, str]:
        """By subject id, in the dataset's order (a new dict each time)."""
        return dict(zip(self.subject_ids, self.packed.split(FIELD_SEP, 2)[1].split(PART_SEP)))

    @property
    def notes(self) -> tuple[Note, ...]:
        packed = self.packed.split(FIELD_SEP, 3)[2]
        if not packed:
            return ()
        return tuple(Note(text, source or None, "correction" if kind else "caveat")
                     for text, source, kind in (item.split(PART_SEP)
                                                for item in packed.split(ITEM_SEP)))

    @property
    def commands(self) -> dict[str, tuple[Command, ...]]:
        """By subject id, in the dataset's order; a subject with no commands has no key."""
        packed = self.packed.split(FIELD_SEP, 4)[3]
        out = {}
        for sid, listed in zip(self.subject_ids, packed.split(SUBJECT_SEP)):
            if listed:
                out[sid] = tuple(Command._make([part or None for part in item.split(PART_SEP)])
                                 for item in listed.split(ITEM_SEP))
        return out

    @property
    def sources(self) -> tuple[str, ...]:
        packed = self.packed.rpartition(FIELD_SEP)[2]
        return tuple(packed.split(PART_SEP)) if packed else ()

    @property
    def searchable_text(self) -> str:
        """The title, verdict, descriptions, notes (with their sources) and commands, in one
        string (sources aside); the separators between them are whitespace to ``str.split``."""
        return self.title + FIELD_SEP + self.packed.rpartition(FIELD_SEP)[0]

    def replace(self, **changes: Any) -> Dimension:
        """A copy with some fields changed, by the names ``Dimension()`` takes."""
        fields: dict[str, Any] = {
            "id": self.id, "title": self.title, "descriptions": self.descriptions,
            "verdict": self.verdict, "notes": self.notes, "commands": self.commands,
            "sources": self.sources, "subject_ids": self.subject_ids,
        }
        fields.update(changes)
        return Dimension(**fields)


def packed_dimension_pattern(subject_count: int) -> re.Pattern[str]:
    """What :attr:`Dimension.packed` can hold for a dataset of ``subject_count`` subjects:
    its layout, a non-empty text wherever one is required, and no forbidden character in any
    text. One ``fullmatch`` per dimension checks a packed form read back from disk."""
    text = "[^" + FORBIDDEN_CHARS_RE.pattern[1:]
    given, optional = text + "+", text + "*"
    note = f"{given}{PART_SEP}{optional}{PART_SEP}(?:correction)?"
    command = f"{given}{PART_SEP}{given}{PART_SEP}{optional}{PART_SEP}{optional}"
    listed = f"(?:{command}(?:{ITEM_SEP}{command})*)?"
    rest = subject_count - 1
    return re.compile(FIELD_SEP.join((
        optional,
        f"{given}(?:{PART_SEP}{given}){{{rest}}}",
        f"(?:{note}(?:{ITEM_SEP}{note})*)?",
        f"{listed}(?:{SUBJECT_SEP}{listed}){{{rest}}}",
        f"(?:{given}(?:{PART_SEP}{given})*)?",
    )))


class Pro(NamedTuple):
    label: str
    votes: int


@dataclass(frozen=True)
class Dataset:
    title: str
    summary: str
    #: The base comparison the dataset starts from; None for a comparison written from scratch.
    source: Optional[Source]
    subjects: tuple[Subject, ...]
    dimensions: tuple[Dimension, ...]
    pros: Mapping[str, tuple[Pro, ...]]
    path: str = ""
    schema: int = SCHEMA_VERSION

    def subject(self, subject_id: str) -> Subject:
        for subject in self.subjects:
            if subject.id == subject_id:
                return subject
        raise KeyError(subject_id)

    def pros_ranked(self, subject_id: str) -> list[Pro]:
        """A subject's pros, most votes first (file order among equals)."""
        return sorted(self.pros.get(subject_id, ()), key=lambda pro: -pro.votes)

    def max_votes(self) -> int:
        return max((pro.votes for pros in self.pros.values() for pro in pros), default=0)

    def find(self, query: str) -> Dimension:
        """The dimension named by an id, a title, or an unambiguous prefix of either.

        Raises:
            LookupError: no match or an ambiguous one; the message suggests names.
        """
        wanted = query.strip().casefold()
        if not wanted:
            raise LookupError("an empty dimension name matches nothing")
        for dimension in self.dimensions:
            if wanted in (dimension.id.casefold(), dimension.title.casefold()):
                return dimension
        prefixed = [
            d for d in self.dimensions
            if d.id.casefold().startswith(wanted) or d.title.casefold().startswith(wanted)
        ]
        if len(prefixed) == 1:
            return prefixed[0]
        if prefixed:
            names = ", ".join(d.id for d in prefixed[:8])
            raise LookupError(f"'{query}' is ambiguous: it could be {names}")
        # Suggest ids (what to type), matching against ids and titles alike.
        id_of = {d.title.casefold(): d.id for d in self.dimensions}
        id_of.update({d.id: d.id for d in self.dimensions})
        matches = difflib.get_close_matches(wanted, list(id_of), n=6, cutoff=0.5)
        close = list(dict.fromkeys(id_of[m] for m in matches))[:3]
        hint = f"; did you mean {_or_list(close)}?" if close else "; try 'kvmq list'"
        raise LookupError(f"no dimension matches '{query}'{hint}")

    def to_dict(self, *, with_dimensions: bool = True) -> dict[str, Any]:
        """The normalized dataset: the YAML's keys, defaults filled in, stable order
        (``with_dimensions=False``: all but "dimensions", which the cache stores packed)."""
        source: Optional[dict[str, Any]] = None
        if self.source is not None:
            source = {"title": self.source.title, "publisher": self.source.publisher}
            if self.source.url:
                source["url"] = self.source.url
        out: dict[str, Any] = {
            "schema": self.schema,
            "title": self.title,
            "summary": self.summary,
            "source": source,
            "subjects": [subject_to_dict(s) for s in self.subjects],
        }
        if with_dimensions:
            out["dimensions"] = [dimension_to_dict(d) for d in self.dimensions]
        out["pros"] = {
            sid: [{"label": p.label, "votes": p.votes} for p in pros]
            for sid, pros in self.pros.items()
        }
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], path: str = "", *,
                  consume: bool = False,
                  dimension_batches: Optional[Iterable[Any]] = None) -> Dataset:
        """The inverse of :meth:`to_dict`, its structure, types and texts checked as a parse
        checks them (the loader's spelling rules for URLs, ids and single lines aside).

        ``consume=True`` empties ``data["dimensions"]`` item by item as each is built, so that
        a caller holding nothing else of ``data`` (the cache, just after unmarshalling) never
        has the whole input and the whole result in memory at once.

        ``dimension_batches``: the dimensions arrive in their packed form instead of under
        ``data["dimensions"]`` (which must then be absent): batches, in order, of three
        equal-length lists, the dimensions' ids, titles and :attr:`Dimension.packed`
        strings (see :func:`packed_batches`). The cache stores them so and reads them one
        batch at a time; each packed string is checked whole against
        :func:`packed_dimension_pattern`, which refuses what the mapping form refuses.

        Raises:
            ValueError: a value of the wrong type, an out-of-range number, a control
                character, or a key that does not belong: the data is not a dataset this
                kvmq wrote.
        """
        try:
            return _DictReader(consume).dataset(data, path, dimension_batches)
        except (TypeError, KeyError, AttributeError) as exc:  # a missing or surplus field
            raise ValueError(f"not a dataset: {exc}") from None


def packed_batches(dimensions: Sequence[Dimension],
                   size: int) -> Iterator[tuple[list[str], list[str], list[str]]]:
    """``dimensions`` in the packed form ``Dataset.from_dict(dimension_batches=...)`` reads:
    batches of at most ``size``, each the ids, titles and packed strings of its dimensions."""
    for start in range(0, len(dimensions), size):
        batch = dimensions[start:start + size]
        yield ([d.id for d in batch], [d.title for d in batch], [d.packed for d in batch])


def subject_to_dict(subject: Subject) -> dict[str, str]:
    return {
        "id": subject.id, "name": subject.name,
        "tagline": subject.tagline, "homepage": subject.homepage,
    }


def dimension_to_dict(dimension: Dimension) -> dict[str, Any]:
    out: dict[str, Any] = {"id": dimension.id, "title": dimension.title}
    if dimension.verdict is not None:
        out["verdict"] = dimension.verdict
    out["descriptions"] = dict(dimension.descriptions)
    out["notes"] = [
        {"text": n.text, "source": n.source, "kind": n.kind} for n in dimension.notes
    ]
    out["commands"] = {
        sid: [command_to_dict(c) for c in cmds]
        for sid, cmds in dimension.commands.items()
    }
    out["sources"] = list(dimension.sources)
    return out


def command_to_dict(command: Command) -> dict[str, Optional[str]]:
    return {"run": command.run, "does": command.does,
            "caution": command.caution, "needs": command.needs}


NOTE_KINDS = ("caveat", "correction")


def _or_list(items: Sequence[str]) -> str:
    quoted = [f"'{item}'" for item in items]
    return quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + " or " + quoted[-1]


_TOP_KEYS = frozenset(("schema", "title", "summary", "source", "subjects", "dimensions", "pros"))
_SOURCE_KEYS = frozenset(("title", "publisher", "url"))
_SUBJECT_KEYS = frozenset(("id", "name", "tagline", "homepage"))
_PRO_KEYS = frozenset(("label", "votes"))
# A to_dict command mapping's values, in Command's order (a missing key raises KeyError).
_COMMAND_FIELDS = operator.itemgetter(*Command._fields)
_command_of = Command._make
_RUN, _DOES, _CAUTION, _NEEDS = map(operator.attrgetter, Command._fields)
_is_given = partial(operator.is_not, None)
_NOTE_KEYS = frozenset(("text", "source", "kind"))
_DIMENSION_KEYS = frozenset(("id", "title", "verdict", "descriptions", "notes", "commands",
                             "sources"))


class _DictReader:
    """Rebuilds the model from :meth:`Dataset.to_dict` output, refusing anything else.

    Every string is kept aside and checked (type, emptiness, forbidden characters) in bulk
    after each batch of dimensions and at the end: one pass over all of them is many times
    faster than a check per string.
    """

    def __init__(self, consume: bool = False) -> None:
        self.texts: list[str] = []
        #: The batch's commands, and the mappings they were read from, checked in bulk too.
        self.batch_commands: list[Command] = []
        self.batch_command_mappings: list[Any] = []
        self.consume = consume

    def text(self, value: Any, *, optional: bool = False) -> Any:
        if value is None and optional:
            return None
        if type(value) is not str or not value:
            raise ValueError("expected non-empty text")
        self.texts.append(value)
        return value

    def mapping(self, value: Any, keys: frozenset[str]) -> Mapping[str, Any]:
        if type(value) is not dict or not value.keys() <= keys:
            raise ValueError(f"expected a mapping with keys from {', '.join(sorted(keys))}")
        return value

    def items(self, value: Any) -> list[Any]:
        if type(value) is not list:
            raise ValueError("expected a list")
        return value

    def by_subject(self, value: Any, subject_ids: frozenset[str]) -> dict[str, Any]:
        if type(value) is not dict or not value.keys() <= subject_ids:
            raise ValueError("expected a mapping keyed by subject id")
        return value

    def check_texts(self) -> None:
        """Every text gathered since the last check is a non-empty str without a forbidden
        character; then they are let go. Checked in bulk: one pass of C over the list is
        far cheaper than a test per field."""
        texts = self.texts
        commands, mappings = self.batch_commands, self.batch_command_mappings
        if commands:
            # Each was read with _COMMAND_FIELDS, so a dict of four keys has exactly those.
            if set(map(type, mappings)) != {dict} or set(map(len, mappings)) != {4}:
                raise ValueError("expected a command mapping")
            texts.extend(map(_RUN, commands))
            texts.extend(map(_DOES, commands))
            texts.extend(filter(_is_given, map(_CAUTION, commands)))
            texts.extend(filter(_is_given, map(_NEEDS, commands)))
            commands.clear()
            mappings.clear()
        if texts and (not all(texts) or set(map(type, texts)) != {str}):
            raise ValueError("expected non-empty text")
        bad = find_forbidden(texts)
        if bad is not None:
            raise ValueError(f"control character U+{ord(bad):04X} in the data")
        texts.clear()

    def dataset(self, data: Any, path: str,
                dimension_batches: Optional[Iterable[Any]] = None) -> Dataset:
        top = self.mapping(data, _TOP_KEYS)
        if top.get("schema") != SCHEMA_VERSION or type(top.get("schema")) is not int:
            raise ValueError("unsupported schema")
        source = None
        if top.get("source") is not None:
            source_data = self.mapping(top.get("source"), _SOURCE_KEYS)
            source = Source(self.text(source_data.get("title")),
                            self.text(source_data.get("publisher")),
                            self.text(source_data.get("url"), optional=True))
        subjects = tuple(
            Subject(**{key: self.text(value) for key, value in
                       self.mapping(item, _SUBJECT_KEYS).items()})
            for item in self.items(top.get("subjects"))
        )
        ids = [subject.id for subject in subjects]
        if len(set(ids)) != len(ids) or len(ids) < 2:
            raise ValueError("subject ids must be unique, two or more")
        id_set = frozenset(ids)
        subject_ids = tuple(ids)
        built_dimensions: list[Dimension] = []
        if dimension_batches is None:
            items = self.items(top.get("dimensions"))
            for index, item in enumerate(items):
                built_dimensions.append(self.dimension(item, subject_ids, id_set))
                if self.consume:
                    items[index] = None  # its containers are freed now (the strings live on)
            del items
            self.check_texts()
        elif "dimensions" in top:
            raise ValueError("dimensions given twice")
        else:
            fits = packed_dimension_pattern(len(subject_ids)).fullmatch
            for batch in dimension_batches:
                built_dimensions.extend(self.packed_batch(batch, subject_ids, fits))
                del batch
                self.check_texts()
        dimensions = tuple(built_dimensions)
        del built_dimensions
        if not dimensions:
            raise ValueError("no dimensions")
        if len({dimension.id for dimension in dimensions}) != len(dimensions):
            raise ValueError("dimension ids must be unique")  # as the loader requires
        pros = {}
        for sid, items in self.by_subject(top.get("pros"), id_set).items():
            built = []
            for item in self.items(items):
                entry = self.mapping(item, _PRO_KEYS)
                votes = entry.get("votes")
                if type(votes) is not int or not 0 <= votes <= MAX_VOTES:
                    raise ValueError("votes out of range")
                built.append(Pro(self.text(entry.get("label")), votes))
            pros[sid] = tuple(built)
        dataset = Dataset(title=self.text(top.get("title")), summary=self.text(top.get("summary")),
                          source=source, subjects=subjects, dimensions=dimensions,
                          pros={sid: pros.get(sid, ()) for sid in ids}, path=path)
        self.check_texts()
        return dataset

    def dimension(self, data: Any, subject_ids: tuple[str, ...], id_set: frozenset[str]) -> Dimension:
        # The hot path of a warm start (one call per dimension): the structure is checked
        # here, every text it holds by check_texts once the batch is built.
        if type(data) is not dict or not data.keys() <= _DIMENSION_KEYS:
            raise ValueError(f"expected a mapping with keys from {', '.join(sorted(_DIMENSION_KEYS))}")
        get = data.get
        texts = self.texts
        described = get("descriptions")
        if type(described) is not dict or described.keys() != id_set:
            raise ValueError("expected a description for every subject")
        descriptions = {sid: described[sid] for sid in subject_ids}
        texts.extend(descriptions.values())
        notes = []
        for item in self.items(get("notes", [])):
            note = self.mapping(item, _NOTE_KEYS)
            kind = note.get("kind", "caveat")
            if kind not in NOTE_KINDS:
                raise ValueError("unknown note kind")
            notes.append(Note(self.text(note.get("text")),
                              self.text(note.get("source"), optional=True), kind))
        commands = {}
        by_subject = self.by_subject(get("commands", {}), id_set)
        if by_subject:
            # Built by map() over itemgetter and Command._make, no Python loop per command;
            # what they hold, and that each mapping has exactly to_dict's four keys, is
            # checked with the batch (check_texts).
            for sid in subject_ids:
                if sid in by_subject:
                    mappings = self.items(by_subject[sid])
                    built = commands[sid] = tuple(map(_command_of, map(_COMMAND_FIELDS, mappings)))
                    self.batch_commands.extend(built)
                    self.batch_command_mappings.extend(mappings)
        sources = self.items(get("sources", []))
        texts.extend(sources)
        identifier, title, verdict = data["id"], data["title"], get("verdict")
        texts.append(identifier)
        texts.append(title)
        if verdict is not None:
            texts.append(verdict)
        return Dimension(identifier, title, descriptions, verdict, notes, commands, sources,
                         subject_ids=subject_ids)

    def packed_batch(self, batch: Any, subject_ids: tuple[str, ...],
                     fits: Callable[[str], Any]) -> list[Dimension]:
        """Dimensions from their packed form: ``(ids, titles, packed)``, three lists of equal
        length, as the cache stores them. Ids and titles are checked with the other texts;
        each packed form is checked whole by ``fits`` (see :func:`packed_dimension_pattern`)."""
        identifiers, titles, packed = batch
        if not (type(identifiers) is type(titles) is type(packed) is list) or not (
                len(identifiers) == len(titles) == len(packed)):
            raise ValueError("expected three lists of equal length")
        if set(map(type, packed)) - {str} or not all(map(fits, packed)):
            raise ValueError("a packed dimension that no dataset could hold")
        self.texts.extend(identifiers)
        self.texts.extend(titles)
        return list(map(Dimension._make, zip(identifiers, titles, repeat(subject_ids), packed)))
