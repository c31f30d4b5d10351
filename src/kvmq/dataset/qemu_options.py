"""What kvmq knows about QEMU's command line: the model of ``data/qemu-options.yaml`` and its loader.

Plain Python. The file is validated with the dataset loader's YAML machinery, so every
problem is reported as ``PATH:LINE:COL: where: what``; :func:`load_options` raises
:class:`~kvmq.dataset.model.InvalidDataset` with all of them.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping, Optional, Sequence

from kvmq.dataset import loader as _loader
from kvmq.dataset.model import InvalidDataset

OPTIONS_SCHEMA = 1
OPTIONS_FILE = "qemu-options.yaml"
SYNTAXES = ("flag", "value", "keyval", "cpu", "chardev", "global")
LEVELS = ("error", "warning", "note")


@dataclass(frozen=True)
class SubOptionInfo:
    """One ``key=`` of an option (or of one kind of it)."""

    key: str
    meaning: str
    values: Mapping[str, str] = field(default_factory=dict)
    deprecated: Optional[str] = None
    removed: Optional[str] = None


@dataclass(frozen=True)
class KindInfo:
    """One value of an option's implied key: ``-netdev tap``, ``-device virtio-blk-pci``."""

    name: str
    meaning: str
    suboptions: Mapping[str, SubOptionInfo] = field(default_factory=dict)
    findings: tuple[str, ...] = ()
    deprecated: Optional[str] = None
    removed: Optional[str] = None


@dataclass(frozen=True)
class OptionInfo:
    """One QEMU option: how it is parsed and what it and its parts mean."""

    name: str
    syntax: str
    meaning: str
    source: str
    aliases: tuple[str, ...] = ()
    implied: Optional[str] = None
    versions: Optional[str] = None
    suboptions: Mapping[str, SubOptionInfo] = field(default_factory=dict)
    kinds: Mapping[str, KindInfo] = field(default_factory=dict)  # by name and by alias
    findings: tuple[str, ...] = ()
    deprecated: Optional[str] = None
    removed: Optional[str] = None

    @property
    def takes_argument(self) -> bool:
        return self.syntax != "flag"

    def suboption(self, key: str, kind: Optional[KindInfo] = None) -> Optional[SubOptionInfo]:
        """The sub-option ``key`` of this option, the kind's own ones first."""
        if kind is not None and key in kind.suboptions:
            return kind.suboptions[key]
        return self.suboptions.get(key)


@dataclass(frozen=True)
class FindingInfo:
    """A finding the explainer can raise; ``message`` and ``fix`` are templates."""

    id: str
    level: str
    when: str
    message: str
    fix: str
    source: str


@dataclass(frozen=True)
class OptionTable:
    """The whole options file: options by name and alias, findings by id."""

    options: Mapping[str, OptionInfo]
    findings: Mapping[str, FindingInfo]
    chardev_backends: Mapping[str, str]
    versions: str
    path: str = ""

    def lookup(self, name: str) -> Optional[OptionInfo]:
        return self.options.get(name)

    def entries(self) -> list[OptionInfo]:
        """Each option once, in file order."""
        return list({id(info): info for info in self.options.values()}.values())


def packaged_options_path() -> Path:
    """``qemu-options.yaml`` inside the installed package, or in ``data/`` of a checkout."""
    return _loader.data_dir() / OPTIONS_FILE


_TABLE_CACHE: dict[str, OptionTable] = {}


def load_options(path: Optional[os.PathLike[str] | str] = None) -> OptionTable:
    """Read and validate an options file (the shipped one by default); cached per path.

    Raises:
        InvalidDataset: every problem found, each with file, line and column.
    """
    target = Path(path) if path is not None else packaged_options_path()
    display = str(target)
    cached = _TABLE_CACHE.get(display)
    if cached is not None:
        return cached
    raw = _loader._read_bytes(target, display)
    table = loads_options(_loader._decode(raw, display), display)
    _TABLE_CACHE[display] = table
    return table


def loads_options(text: str, display: str = "<string>") -> OptionTable:
    """Parse and validate options-file text; ``display`` names it in error messages."""
    if not text.strip():
        _loader._fail(display, 0, 0, "", "the file is empty: an options file starts with 'schema: 1'")
    _loader._import_yaml()
    builder = _OptionsBuilder(display)
    table = None
    with contextlib.suppress(_loader._TooManyErrors):  # the builder stops at the error cap
        table = _loader._parse(text.lstrip("\ufeff"), display, builder, builder.build)
    if builder.errors or table is None:
        errors = sorted(builder.errors, key=lambda e: (e.line, e.col))
        limit = _loader.MAX_REPORTED_ERRORS
        raise InvalidDataset(errors[:limit], -1 if len(errors) > limit else 0)
    return table


_TOP = ("schema", "kind", "versions", "sections", "shared", "chardev-backends", "findings", "options")
_OPTION = ("name", "aliases", "syntax", "implied", "meaning", "source", "versions", "findings",
           "suboptions", "uses", "kinds", "kinds_from", "deprecated", "removed")
_KIND = ("name", "aliases", "meaning", "suboptions", "uses", "findings", "deprecated", "removed")
_SUB = ("key", "aliases", "meaning", "values", "deprecated", "removed")
_FINDING = ("id", "level", "when", "message", "fix", "source")


class _OptionsBuilder(_loader._Builder):
    """Builds an :class:`OptionTable` from the composed YAML, collecting every problem."""

    def build(self, root: _loader._Node) -> Optional[OptionTable]:  # type: ignore[override]
        top = self.mapping(root, "", _TOP, ("schema", "kind", "versions", "findings", "options"))
        if top is None:
            return None
        schema_node = top["schema"][1] if "schema" in top else None
        if schema_node is not None:
            schema = self.integer(schema_node, "schema")
            if schema is not None and schema != OPTIONS_SCHEMA:
                self.error(schema_node, "schema", f"schema {schema} is not supported: this kvmq "
                                                  f"reads options schema {OPTIONS_SCHEMA}")
                return None
        if "kind" in top:
            kind = self.text(top["kind"][1], "kind", one_line=True)
            if kind is not None and kind != "qemu-options":
                self.error(top["kind"][1], "kind", f"expected 'qemu-options', found '{kind}'")
        versions = self.text(top["versions"][1], "versions", one_line=True) if "versions" in top else ""
        self.sections = self._sections(top["sections"][1]) if "sections" in top else {}
        self.shared = self._shared(top["shared"][1]) if "shared" in top else {}
        backends = self._backends(top["chardev-backends"][1]) if "chardev-backends" in top else {}
        findings = self._findings(top["findings"][1]) if "findings" in top else {}
        self.finding_ids = set(findings)
        options = self._options(top["options"][1]) if "options" in top else {}
        if self.errors:
            return None
        return OptionTable(options=options, findings=findings, chardev_backends=backends,
                           versions=versions or "", path=self.display)

    # ---- pieces

    def _source_url(self, node: _loader._Node, where: str) -> Optional[str]:
        value = self.text(node, where, one_line=True)
        if value is None:
            return None
        if value in self.sections:
            return self.sections[value]
        if _loader.url_problem(value):
            names = ", ".join(sorted(self.sections)) or "(none)"
            self.error(node, where, f"'{_loader._clip(value)}' is neither an http(s) URL nor a "
                                    f"section name ({names})")
            return None
        return value

    def _sections(self, node: _loader._Node) -> dict[str, str]:
        out: dict[str, str] = {}
        for name, _key_node, value_node in self.free_mapping(node, "sections") or ():
            url = self.url(value_node, f"sections.{name}")
            if url is not None:
                out[name] = url
        return out

    def _backends(self, node: _loader._Node) -> dict[str, str]:
        out: dict[str, str] = {}
        for name, _key_node, value_node in self.free_mapping(node, "chardev-backends") or ():
            meaning = self.text(value_node, f"chardev-backends.{name}", one_line=True)
            if meaning is not None:
                out[name] = meaning
        return out

    def _shared(self, node: _loader._Node) -> dict[str, dict[str, SubOptionInfo]]:
        out: dict[str, dict[str, SubOptionInfo]] = {}
        for name, _key_node, value_node in self.free_mapping(node, "shared") or ():
            out[name] = self._suboptions(value_node, f"shared.{name}")
        return out

    def _findings(self, node: _loader._Node) -> dict[str, FindingInfo]:
        out: dict[str, FindingInfo] = {}
        for index, item in enumerate(self.sequence(node, "findings", "findings")):
            where = f"findings[{index}]"
            entries = self.mapping(item, where, _FINDING, _FINDING)
            if entries is None:
                continue
            values = {key: self.text(entries[key][1], f"{where}.{key}", one_line=True)
                      for key in _FINDING if key in entries and key != "source"}
            source = self._source_url(entries["source"][1], f"{where}.source") \
                if "source" in entries else None
            level = values.get("level")
            if level is not None and level not in LEVELS:
                self.error(entries["level"][1], f"{where}.level",
                           f"level '{_loader._clip(level)}' is not one of: {', '.join(LEVELS)}")
                continue
            finding_id = values.get("id")
            if finding_id is not None and finding_id in out:
                self.error(entries["id"][1], f"{where}.id", f"duplicate finding id '{finding_id}'")
                continue
            if None in values.values() or source is None or len(values) < len(_FINDING) - 1:
                continue
            out[finding_id] = FindingInfo(source=source, **values)  # type: ignore[arg-type, index]
        return out

    def _names(self, entries: dict, key: str, where: str) -> tuple[str, ...]:
        if key not in entries:
            return ()
        names = []
        for index, item in enumerate(self.sequence(entries[key][1], f"{where}.{key}", "names")):
            name = self.text(item, f"{where}.{key}[{index}]", one_line=True)
            if name is not None:
                names.append(name)
        return tuple(names)

    def _finding_refs(self, entries: dict, where: str) -> tuple[str, ...]:
        refs = self._names(entries, "findings", where)
        for ref in refs:
            if ref not in self.finding_ids:
                self.error(entries["findings"][1], f"{where}.findings",
                           f"'{_loader._clip(ref)}' is not a finding id declared under 'findings'")
        return refs

    def _optional_text(self, entries: dict, key: str, where: str) -> Optional[str]:
        return self.text(entries[key][1], f"{where}.{key}", one_line=True) if key in entries else None

    def _suboptions(self, node: Optional[_loader._Node], where: str,
                    uses: Sequence[str] = ()) -> dict[str, SubOptionInfo]:
        out: dict[str, SubOptionInfo] = {}
        for name in uses:
            out.update(self.shared.get(name, {}))
        if node is None:
            return out
        for index, item in enumerate(self.sequence(node, where, "sub-options")):
            item_where = f"{where}[{index}]"
            entries = self.mapping(item, item_where, _SUB, ("key", "meaning"))
            if entries is None:
                continue
            key = self._optional_text(entries, "key", item_where)
            meaning = self._optional_text(entries, "meaning", item_where)
            values: dict[str, str] = {}
            if "values" in entries:
                for value, _kn, value_node in self.free_mapping(entries["values"][1],
                                                                f"{item_where}.values") or ():
                    text = self.text(value_node, f"{item_where}.values.{value}", one_line=True)
                    if text is not None:
                        values[value] = text
            if key is None or meaning is None:
                continue
            if key in out and not uses:
                self.error(entries["key"][1], f"{item_where}.key", f"duplicate sub-option '{key}'")
            info = SubOptionInfo(key=key, meaning=meaning, values=values,
                                 deprecated=self._optional_text(entries, "deprecated", item_where),
                                 removed=self._optional_text(entries, "removed", item_where))
            out[key] = info
            for alias in self._names(entries, "aliases", item_where):
                out[alias] = info
        return out

    def _uses(self, entries: dict, where: str) -> tuple[str, ...]:
        uses = self._names(entries, "uses", where)
        for name in uses:
            if name not in self.shared:
                self.error(entries["uses"][1], f"{where}.uses",
                           f"'{_loader._clip(name)}' is not a list under 'shared'")
        return uses

    def _kinds(self, node: _loader._Node, where: str) -> dict[str, KindInfo]:
        out: dict[str, KindInfo] = {}
        for index, item in enumerate(self.sequence(node, where, "kinds")):
            item_where = f"{where}[{index}]"
            entries = self.mapping(item, item_where, _KIND, ("name", "meaning"))
            if entries is None:
                continue
            name = self._optional_text(entries, "name", item_where)
            meaning = self._optional_text(entries, "meaning", item_where)
            uses = self._uses(entries, item_where)
            subs = self._suboptions(entries["suboptions"][1] if "suboptions" in entries else None,
                                    f"{item_where}.suboptions", uses)
            refs = self._finding_refs(entries, item_where)
            aliases = self._names(entries, "aliases", item_where)
            if name is None or meaning is None:
                continue
            for spelled in (name, *aliases):
                if spelled in out:
                    self.error(entries["name"][1], f"{item_where}.name", f"duplicate kind '{spelled}'")
            info = KindInfo(name=name, meaning=meaning, suboptions=subs, findings=refs,
                            deprecated=self._optional_text(entries, "deprecated", item_where),
                            removed=self._optional_text(entries, "removed", item_where))
            for spelled in (name, *aliases):
                out[spelled] = info
        return out

    def _options(self, node: _loader._Node) -> dict[str, OptionInfo]:
        out: dict[str, OptionInfo] = {}
        pending_kinds: list[tuple[str, str, _loader._Node]] = []
        for index, item in enumerate(self.sequence(node, "options", "options")):
            where = f"options[{index}]"
            entries = self.mapping(item, where, _OPTION, ("name", "syntax", "meaning", "source"))
            if entries is None:
                continue
            name = self._optional_text(entries, "name", where)
            if name is not None:
                where = f"options[{index}] (-{name})"
            syntax = self._optional_text(entries, "syntax", where)
            if syntax is not None and syntax not in SYNTAXES:
                self.error(entries["syntax"][1], f"{where}.syntax",
                           f"syntax '{_loader._clip(syntax)}' is not one of: {', '.join(SYNTAXES)}")
                syntax = None
            implied = self._optional_text(entries, "implied", where)
            if implied is not None and syntax != "keyval":
                self.error(entries["implied"][1], f"{where}.implied",
                           "only a keyval option has an implied key")
            meaning = self._optional_text(entries, "meaning", where)
            source = self._source_url(entries["source"][1], f"{where}.source") \
                if "source" in entries else None
            uses = self._uses(entries, where)
            subs = self._suboptions(entries["suboptions"][1] if "suboptions" in entries else None,
                                    f"{where}.suboptions", uses)
            kinds = self._kinds(entries["kinds"][1], f"{where}.kinds") if "kinds" in entries else {}
            if "kinds_from" in entries:
                other = self._optional_text(entries, "kinds_from", where)
                if other is not None:
                    pending_kinds.append((name or "", other, entries["kinds_from"][1]))
            refs = self._finding_refs(entries, where)
            aliases = self._names(entries, "aliases", where)
            if None in (name, syntax, meaning, source):
                continue
            info = OptionInfo(
                name=name, syntax=syntax, meaning=meaning, source=source,  # type: ignore[arg-type]
                aliases=aliases, implied=implied, suboptions=subs, kinds=kinds, findings=refs,
                versions=self._optional_text(entries, "versions", where),
                deprecated=self._optional_text(entries, "deprecated", where),
                removed=self._optional_text(entries, "removed", where),
            )
            for spelled in (name, *aliases):
                if spelled in out:
                    self.error(entries["name"][1], f"{where}.name", f"duplicate option '-{spelled}'")
                out[spelled] = info  # type: ignore[index]
        for name, other, ref_node in pending_kinds:
            source_option = out.get(other)
            if source_option is None or not source_option.kinds:
                self.error(ref_node, f"options (-{name}).kinds_from",
                           f"'{_loader._clip(other)}' is not an option with kinds")
                continue
            target = out[name]
            replacement = OptionInfo(**{**target.__dict__, "kinds": source_option.kinds})
            for spelled in (target.name, *target.aliases):
                out[spelled] = replacement
        return out
