"""The dataset loader: every rejection rule (with exact positions), caution and needs, lookups, fuzzing.

What the shipped file must say is tested in test_data.py.
"""

from __future__ import annotations

import copy
import os
import re
import string
import time
from pathlib import Path
from typing import Any, Union

import pytest
import yaml
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from kvmq.dataset.loader import MAX_REPORTED_ERRORS, load, loads, packaged_data_path
from kvmq.dataset.model import Dataset, DatasetError, InvalidDataset
from kvmq.dataset.search import FilterIndex
from tests.helpers import iter_texts

HERE = Path(__file__).resolve().parent
DATASETS = HERE / "fixtures" / "datasets"
SHIPPED = HERE.parent / "data" / "kvm-vs-qemu.yaml"
MINIMAL = DATASETS / "minimal.yaml"
MINIMAL_TEXT = MINIMAL.read_text(encoding="utf-8")
SHIPPED_TEXT = SHIPPED.read_text(encoding="utf-8")

# What one error looks like: PATH:LINE:COL: where: what (where is left out at the top level).
ERROR_LINE_RE = re.compile(r"^(?P<path>[^\n]+?):(?P<line>[1-9]\d*):(?P<col>[1-9]\d*): (?P<rest>[^\n]+)$")
TERMINAL_UNSAFE_RE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def errors_of(source: Union[str, Path]) -> list[DatasetError]:
    """The errors a file (Path) or dataset text (str) is rejected with; fails if it loads."""
    with pytest.raises(InvalidDataset) as info:
        if isinstance(source, Path):
            load(source)
        else:
            loads(source, "test.yaml")
    errors = info.value.errors
    assert errors, "InvalidDataset must carry at least one error"
    return errors


def only_error(source: Union[str, Path]) -> DatasetError:
    errors = errors_of(source)
    assert len(errors) == 1, "\n".join(str(e) for e in errors)
    return errors[0]


def minimal_with(old: str, new: str) -> str:
    """The minimal fixture with one exact piece of text replaced."""
    assert MINIMAL_TEXT.count(old) == 1, f"{old!r} must occur exactly once in minimal.yaml"
    return MINIMAL_TEXT.replace(old, new)


def line_of(text: str, needle: str) -> int:
    """1-based line number of the only line containing ``needle``."""
    hits = [n for n, line in enumerate(text.splitlines(), start=1) if needle in line]
    assert len(hits) == 1, (needle, hits)
    return hits[0]


# --------------------------------------------------------------------------- the shipped dataset


@pytest.fixture(scope="module")
def shipped() -> Dataset:
    return load(SHIPPED)


def test_packaged_data_path_is_the_shipped_file() -> None:
    path = packaged_data_path()
    assert path.is_file()
    assert path.read_bytes() == SHIPPED.read_bytes()


def test_fixture_datasets_validate() -> None:
    assert [s.id for s in load(MINIMAL).subjects] == ["alpha", "beta"]
    assert len(load(MINIMAL).dimensions) == 2
    assert len(load(DATASETS / "three-subjects.yaml").subjects) == 3
    assert load(DATASETS / "markup.yaml").dimensions[0].id == "markup"


# --------------------------------------------------------------------------- rejection rules (files)

# file, line, column, where, a key phrase of the message
FILE_CASES = [
    ("bad-unknown-key", 21, 5, "dimensions[0]", "unknown key 'verdikt': did you mean 'verdict'?"),
    ("bad-missing-key", 14, 5, "subjects[1]", "missing required key 'homepage'"),
    ("bad-bad-id", 35, 9, "dimensions[1].id", "id 'Storage_Formats' must use only a-z, 0-9"),
    ("bad-duplicate-dimension", 35, 9, "dimensions[1].id", "duplicate dimension id 'speed'"),
    ("bad-missing-description", 38, 7, "dimensions[1].descriptions", "missing entry for subject 'beta'"),
    ("bad-unknown-subject", 41, 3, "pros", "'alpah' is not a subject id: did you mean 'alpha'?"),
    ("bad-unknown-command-subject", 30, 7, "dimensions[0].commands",
     "'gamma' is not a subject id: subjects are alpha, beta"),
    ("bad-negative-votes", 48, 14, "pros.beta[0].votes", "must be 0 or more, found -1"),
    ("bad-url", 17, 15, "subjects[1].homepage", "'ftp://example.org/beta' is not an http(s) URL"),
    ("bad-schema", 2, 9, "schema", "schema 2 is not supported"),
    ("bad-no-schema", 2, 1, "", "missing required key 'schema'"),
    ("bad-duplicate-key", 4, 1, "", "duplicate key 'title'"),
    ("bad-note-kind", 28, 15, "dimensions[0].notes[0].kind",
     "kind 'erratum' is not one of: caveat, correction"),
    ("bad-caution", 25, 11, "dimensions[0].commands.beta[0]",
     "unknown key 'cuation': did you mean 'caution'?"),
]


@pytest.mark.parametrize(("name", "line", "col", "where", "phrase"), FILE_CASES,
                         ids=[case[0] for case in FILE_CASES])
def test_rejected_file(name: str, line: int, col: int, where: str, phrase: str) -> None:
    path = DATASETS / f"{name}.yaml"
    error = only_error(path)
    assert (error.path, error.line, error.col, error.where) == (str(path), line, col, where), str(error)
    assert phrase in error.what
    assert str(error) == f"{path}:{line}:{col}: {where + ': ' if where else ''}{error.what}"


def test_duplicate_subject_id() -> None:
    path = DATASETS / "bad-duplicate-subject.yaml"
    errors = errors_of(path)
    first = errors[0]
    assert (first.line, first.col, first.where) == (14, 9, "subjects[1].id")
    assert "duplicate subject id 'alpha'" in first.what


def test_fewer_than_two_subjects() -> None:
    errors = errors_of(DATASETS / "bad-one-subject.yaml")
    first = errors[0]
    assert (first.line, first.col, first.where) == (10, 3, "subjects")
    assert "two or more subjects, found 1" in first.what
    # The keys naming the removed subject are reported too, in line order.
    assert [e.line for e in errors] == sorted(e.line for e in errors)
    assert any("'beta' is not a subject id" in e.what for e in errors[1:])


def test_zero_subjects() -> None:
    text = MINIMAL_TEXT.split("subjects:")[0] + "subjects: []\ndimensions: []\npros: {}\n"
    errors = errors_of(text)
    assert any(e.where == "subjects" and "found 0" in e.what for e in errors)
    assert any(e.where == "dimensions" and "at least one dimension" in e.what for e in errors)


def test_missing_description_message_exactly() -> None:
    text = minimal_with("      beta: Beta warms up slowly but then keeps pace.\n", "")
    error = only_error(text)
    assert str(error) == (
        f"test.yaml:{line_of(text, 'alpha: Alpha starts')}:7: "
        "dimensions[0].descriptions: missing entry for subject 'beta'"
    )


def test_description_for_unknown_subject() -> None:
    text = minimal_with("      beta: Beta uses", "      bta: Beta uses")
    errors = errors_of(text)
    line = line_of(text, "bta: Beta uses")
    assert any(e.line == line and e.col == 7 and "did you mean 'beta'?" in e.what for e in errors)


# --------------------------------------------------------------------------- caution, needs, optional source

CAUTIONS = DATASETS / "cautions.yaml"


def test_commands_carry_caution_and_needs() -> None:
    dataset = load(CAUTIONS)
    wipe, status = dataset.find("wiping").commands["gamma"]
    assert (wipe.caution, wipe.needs) == ("Everything on DISK is gone for good.", "root")
    assert (status.caution, status.needs) == (None, None)
    (repair,) = dataset.find("checking").commands["delta"]
    assert (repair.caution, repair.needs) == (None, "the delta-tools package")
    # Markup-looking text is kept exactly as written.
    assert dataset.find("wiping").commands["delta"][0].caution == \
        "Stops the guest that uses DISK: [bold]no[/bold] warning is given."


def test_files_without_caution_or_needs_still_validate() -> None:
    for command in load(MINIMAL).find("speed").commands["beta"]:
        assert (command.caution, command.needs) == (None, None)


def test_top_level_source_is_optional() -> None:
    assert load(CAUTIONS).source is None
    text = minimal_with("source:\n  title: A test comparison\n  publisher: The kvmq tests\n"
                        "  url: https://example.org/alpha-vs-beta\n", "")
    assert loads(text).source is None
    assert loads(MINIMAL_TEXT).source is not None


def test_a_given_source_must_still_be_complete() -> None:
    text = minimal_with("  publisher: The kvmq tests\n", "")
    error = only_error(text)
    assert (error.line, error.col, error.where) == (line_of(text, "title: A test comparison"), 3, "source")
    assert "missing required key 'publisher'" in error.what


@pytest.mark.parametrize("key", ["caution", "needs"])
@pytest.mark.parametrize(("value", "phrase"), [
    ('""', "must not be empty"),
    ("[a, b]", "expected text, found a list"),
    ("{a: b}", "expected text, found a mapping"),
    ("|\n            two\n            lines", "must be a single line"),
    ('"bell \\a"', "control character U+0007"),
])
def test_caution_and_needs_must_be_one_line_of_text(key: str, value: str, phrase: str) -> None:
    text = minimal_with("          does: measures the startup time\n",
                        f"          does: measures the startup time\n          {key}: {value}\n")
    error = only_error(text)
    line, col = line_of(text, f"{key}: "), len(f"          {key}: ") + 1  # the value's first character
    assert (error.line, error.col, error.where) == (line, col, f"dimensions[0].commands.beta[0].{key}"), \
        str(error)
    assert phrase in error.what
    assert str(error).startswith(f"test.yaml:{line}:{col}: dimensions[0].commands.beta[0].{key}: ")


def test_a_command_still_needs_run_and_does() -> None:
    text = minimal_with("          does: measures the startup time\n", "          caution: careful\n")
    error = only_error(text)
    assert (error.line, error.col) == (line_of(text, "run: beta --benchmark"), 11)
    assert error.where == "dimensions[0].commands.beta[0]"
    assert "missing required key 'does'" in error.what


# --------------------------------------------------------------------------- rejection rules (inline)


@pytest.mark.parametrize(("votes", "found"), [
    ('"4"', "text '4'"), ("'4'", "text '4'"), ("1.5", "float '1.5'"), ("true", "bool 'true'"),
    ("4.0", "float '4.0'"), ("~", "nothing"), ("[1]", "a list"), ("{n: 1}", "a mapping"),
])
def test_votes_must_be_whole_numbers(votes: str, found: str) -> None:
    text = minimal_with("      votes: 1\n", f"      votes: {votes}\n")
    error = only_error(text)
    expected = (line_of(text, f"votes: {votes}"), 14, "pros.beta[0].votes")
    assert (error.line, error.col, error.where) == expected
    assert "expected a whole number" in error.what
    assert found in error.what


def test_zero_votes_are_fine() -> None:
    dataset = loads(minimal_with("      votes: 1\n", "      votes: 0\n"))
    assert dataset.pros["beta"][0].votes == 0


@pytest.mark.parametrize("url", ["ftp://example.org/x", "file:///etc/passwd", "javascript:alert(1)",
                                 "example.org", "https://", "http:// spaced.org", "mailto:x@example.org"])
def test_urls_must_be_http(url: str) -> None:
    text = minimal_with("      - https://example.org/benchmarks\n", f"      - \"{url}\"\n")
    error = only_error(text)
    assert (error.line, error.col, error.where) == (line_of(text, f'"{url}"'), 9, "dimensions[0].sources[0]")
    assert "is not an http(s) URL" in error.what


def test_note_source_must_be_http() -> None:
    text = minimal_with("        source: https://example.org/benchmarks\n",
                        "        source: www.example.org/benchmarks\n")
    error = only_error(text)
    assert (error.line, error.col, error.where) == (line_of(text, "www.example"), 17,
                                                    "dimensions[0].notes[0].source")


@pytest.mark.parametrize("schema", ["2", "0", "100"])
def test_unknown_schema(schema: str) -> None:
    text = minimal_with("schema: 1\n", f"schema: {schema}\n")
    error = only_error(text)  # another schema's keys are not checked: one error only
    assert (error.line, error.col, error.where) == (2, 9, "schema")
    assert f"schema {schema} is not supported" in error.what


def test_schema_as_text() -> None:
    error = only_error(minimal_with("schema: 1\n", "schema: \"1\"\n"))
    assert (error.line, error.col, error.where) == (2, 9, "schema")
    assert "expected a whole number" in error.what


def test_schema_missing() -> None:
    text = minimal_with("schema: 1\n", "")
    error = only_error(text)
    assert (error.line, error.col, error.where) == (2, 1, "")
    assert error.what == "missing required key 'schema'"
    assert str(error) == "test.yaml:2:1: missing required key 'schema'"


def test_unknown_top_level_key_with_hint() -> None:
    text = minimal_with("summary: Alpha", "sumary: Alpha")
    errors = errors_of(text)
    line = line_of(text, "sumary:")
    assert any(e.line == line and e.col == 1 and "unknown key 'sumary': did you mean 'summary'?" in e.what
               for e in errors)
    assert any("missing required key 'summary'" in e.what for e in errors)


def test_unknown_key_without_close_match_lists_allowed_keys() -> None:
    text = minimal_with("    verdict: Alpha", "    zzz: Alpha")
    error = only_error(text)
    assert (error.line, error.col, error.where) == (line_of(text, "zzz:"), 5, "dimensions[0]")
    assert "unknown key 'zzz'" in error.what
    assert "allowed: id, title, verdict, descriptions" in error.what


def test_duplicate_key_in_nested_mapping() -> None:
    text = minimal_with("    title: Speed\n", "    title: Speed\n    title: Speed again\n")
    error = only_error(text)
    assert (error.line, error.col, error.where) == (line_of(text, "Speed again"), 5, "dimensions[0]")
    assert "duplicate key 'title'" in error.what


def test_duplicate_subject_key_in_descriptions() -> None:
    text = minimal_with("      beta: Beta warms", "      alpha: Alpha again\n      beta: Beta warms")
    errors = errors_of(text)
    assert any(e.line == line_of(text, "Alpha again") and e.col == 7 and "duplicate key 'alpha'" in e.what
               for e in errors)


@pytest.mark.parametrize(("old", "new", "where", "phrase"), [
    ("subjects:\n  - id: alpha", "subjects:\n  alpha:\n  - id: alpha", None, None),
    ("title: Alpha vs Beta", "title: [Alpha, Beta]", "title", "expected text, found a list"),
    ("title: Alpha vs Beta", "title: {a: b}", "title", "expected text, found a mapping"),
    ("title: Alpha vs Beta", "title:", "title", "expected text, found nothing"),
    ("source:\n  title: A test comparison\n  publisher: The kvmq tests\n  url: https://example.org/alpha-vs-beta",
     "source: [A test comparison]", "source", "expected a mapping of keys (title, publisher)"),
    ("    descriptions:\n      alpha: Alpha stores everything as plain files.\n"
     "      beta: Beta uses a compact binary format.",
     "    descriptions: [Alpha stores, Beta uses]", "dimensions[1].descriptions",
     "expected a mapping of subject ids, found a list"),
    ("    sources:\n      - https://example.org/benchmarks",
     "    sources: https://example.org/benchmarks", "dimensions[0].sources",
     "expected a list of URLs, found text"),
    ("    notes:\n      - text:", "    notes:\n      text:", None, None),
    ("  alpha:\n    - label: Quick", "  alpha:\n    label: Quick", None, None),
])
def test_wrong_types(old: str, new: str, where: Union[str, None], phrase: Union[str, None]) -> None:
    text = minimal_with(old, new)
    errors = errors_of(text)
    for error in errors:
        assert error.line >= 1 and error.col >= 1, str(error)
    if where is not None:
        first_line = new.split("\n", 1)[0]
        matching = [e for e in errors if e.where == where]
        assert matching, [str(e) for e in errors]
        assert phrase is not None and phrase in matching[0].what
        assert matching[0].line == text.splitlines().index(first_line) + 1


def test_list_of_dimensions_holding_a_scalar() -> None:
    text = MINIMAL_TEXT.split("dimensions:")[0] + "dimensions:\n  - speed\npros: {}\n"
    error = only_error(text)
    assert (error.line, error.col, error.where) == (line_of(text, "- speed"), 5, "dimensions[0]")
    assert "expected a mapping" in error.what and "found text 'speed'" in error.what


def test_pros_may_be_empty_and_subjects_may_be_left_out() -> None:
    dataset = loads(MINIMAL_TEXT.split("pros:")[0] + "pros: {}\n")
    assert dataset.pros == {"alpha": (), "beta": ()}
    assert dataset.max_votes() == 0


@pytest.mark.parametrize(("field", "old", "new"), [
    ("title", "title: Alpha vs Beta\n", "title: |\n  Alpha\n  vs Beta\n"),
    ("dimensions[0].verdict", "    verdict: Alpha is quicker at startup.\n",
     "    verdict: |\n      Alpha is\n      quicker\n"),
])
def test_one_line_fields(field: str, old: str, new: str) -> None:
    error = only_error(minimal_with(old, new))
    assert error.where == field
    assert error.what == "must be a single line"


def test_empty_text_value() -> None:
    text = minimal_with("    name: Beta\n", "    name: \"  \"\n")
    error = only_error(text)
    assert (error.line, error.col, error.where) == (line_of(text, 'name: "  "'), 11, "subjects[1].name")
    assert error.what == "must not be empty"


# --------------------------------------------------------------------------- whole-file problems


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.yaml"
    path.write_bytes(b"")
    error = only_error(path)
    assert (error.line, error.col) == (0, 0)
    assert "the file is empty" in error.what
    assert str(error) == f"{path}: the file is empty: a dataset starts with 'schema: 1'"


def test_whitespace_only_file(tmp_path: Path) -> None:
    path = tmp_path / "blank.yaml"
    path.write_text("  \n\n\t \n")
    error = only_error(path)
    assert (error.line, error.col) == (0, 0)
    assert "the file is empty" in error.what


def test_comment_only_file() -> None:
    error = only_error("# just a comment\n")
    assert (error.line, error.col) == (0, 0)
    assert "has no YAML document" in error.what


def test_empty_explicit_document() -> None:
    error = only_error("---\n...\n")
    assert (error.line, error.col) == (2, 1)
    assert "the top level must be a mapping" in error.what and "found nothing" in error.what


def test_directory(tmp_path: Path) -> None:
    error = only_error(tmp_path)
    assert (error.path, error.line, error.col) == (str(tmp_path), 0, 0)
    assert "is a directory" in error.what


def test_a_fifo_is_refused_without_being_opened(tmp_path: Path) -> None:
    # Opening a FIFO with no writer would block forever: the one stat must catch it first.
    fifo = tmp_path / "data.yaml"
    os.mkfifo(fifo)
    error = only_error(fifo)
    assert (error.line, error.col) == (0, 0)
    assert "is not a regular file" in error.what


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.yaml"
    error = only_error(path)
    assert str(error) == f"{path}: no such file"


def test_missing_parent_directory(tmp_path: Path) -> None:
    error = only_error(tmp_path / "no" / "such" / "dir.yaml")
    assert "no such file" in error.what


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0,
                    reason="root can read a mode-000 file")
def test_unreadable_file(tmp_path: Path) -> None:
    path = tmp_path / "secret.yaml"
    path.write_text(MINIMAL_TEXT)
    path.chmod(0)
    try:
        error = only_error(path)
    finally:
        path.chmod(0o600)
    assert (error.line, error.col) == (0, 0)
    assert "cannot read it" in error.what
    assert "Permission denied" in error.what


def test_file_over_32_mib(tmp_path: Path) -> None:
    path = tmp_path / "huge.yaml"
    with path.open("wb") as handle:
        handle.truncate(33 * 1024 * 1024)  # sparse: cheap to create, never read
    started = time.monotonic()
    error = only_error(path)
    assert time.monotonic() - started < 5
    assert (error.line, error.col) == (0, 0)
    assert "33.0 MiB" in error.what and "at most 32 MiB" in error.what


def test_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "latin1.yaml"
    raw = minimal_with("Alpha starts in a blink", "Alpha starts in a blïnk").encode("latin-1")
    path.write_bytes(raw)
    error = only_error(path)
    text = MINIMAL_TEXT
    expected_line = line_of(text, "Alpha starts in a blink")
    expected_col = text.splitlines()[expected_line - 1].index("blink") + 3  # 1-based column of "ï"
    assert (error.line, error.col, error.where) == (expected_line, expected_col, "")
    assert "not valid UTF-8 (byte 0xef)" in error.what


def test_not_utf8_column_counts_characters_not_bytes(tmp_path: Path) -> None:
    path = tmp_path / "mixed.yaml"
    path.write_bytes(b"schema: 1\ntitle: \xc3\xa9t\xc3\xa9 \xff\n")
    error = only_error(path)
    assert (error.line, error.col) == (2, 12)  # "title: été " is 11 characters
    assert "byte 0xff" in error.what


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-16-be"])
def test_utf16(tmp_path: Path, encoding: str) -> None:
    path = tmp_path / "wide.yaml"
    data = MINIMAL_TEXT.encode(encoding)
    if encoding != "utf-16":
        data = ("\ufeff").encode(encoding) + data
    path.write_bytes(data)
    error = only_error(path)
    assert (error.line, error.col) == (1, 1)
    assert "UTF-16" in error.what


def test_utf8_bom_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "bom.yaml"
    path.write_bytes(b"\xef\xbb\xbf" + MINIMAL_TEXT.encode())
    assert load(path).title == "Alpha vs Beta"


def test_yaml_syntax_error() -> None:
    text = minimal_with("title: Alpha vs Beta\n", "title: [Alpha vs Beta\n")
    error = only_error(text)
    # The unclosed list is noticed at the ':' of the next line, which is where the error points.
    assert (error.line, error.col, error.where) == (line_of(text, "title: [Alpha") + 1, 8, "")
    assert error.what.startswith("YAML syntax error: ")
    assert "\n" not in str(error)


def test_yaml_syntax_error_mapping_value() -> None:
    error = only_error("schema: 1\ntitle: a: b\n")
    assert (error.line, error.col) == (2, 9)
    assert "YAML syntax error: mapping values are not allowed" in error.what


def test_tab_indentation_is_a_syntax_error() -> None:
    error = only_error("schema: 1\nsource:\n\ttitle: x\n")
    assert error.line == 3
    assert "YAML syntax error" in error.what


@pytest.mark.parametrize(("text", "found"), [
    ("- schema: 1\n- title: x\n", "found a list"),
    ("hello\n", "found text 'hello'"),
    ("42\n", "found int '42'"),
    ("true\n", "found bool 'true'"),
])
def test_top_level_not_a_mapping(text: str, found: str) -> None:
    error = only_error(text)
    assert (error.line, error.col, error.where) == (1, 1, "")
    assert "the top level must be a mapping" in error.what and found in error.what


def test_deep_nesting_is_rejected_not_crashing() -> None:
    for text in ("a: " + "[" * 50_000 + "]" * 50_000, "a: " + "{a: " * 20_000 + "}" * 20_000,
                 "- " * 20_000 + "x\n"):
        errors = errors_of(text)
        assert errors[0].line >= 1


# --------------------------------------------------------------------------- anchors and aliases


def billion_laughs(levels: int = 9) -> str:
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    names = string.ascii_lowercase
    for index in range(1, levels):
        name, prev = names[index], names[index - 1]
        lines.append(f"{name}: &{name} [" + ", ".join([f"*{prev}"] * 9) + "]")
    return "\n".join(lines) + "\n"


def test_billion_laughs_is_rejected_quickly() -> None:
    started = time.monotonic()
    errors = errors_of(billion_laughs())
    assert time.monotonic() - started < 5  # a hang guard; it really takes milliseconds
    assert len(errors) <= MAX_REPORTED_ERRORS


def test_billion_laughs_inside_the_dataset_is_rejected_quickly() -> None:
    anchors = ['&a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for index in range(1, 12):
        anchors.append(f"&{string.ascii_lowercase[index]} [" +
                       ", ".join([f"*{string.ascii_lowercase[index - 1]}"] * 9) + "]")
    bomb = "dimensions: [" + ", ".join(anchors) + ", *l, *l, *l]\n"
    text = MINIMAL_TEXT.split("dimensions:")[0] + bomb + "pros:\n  alpha: *l\n  beta: [*l]\n"
    started = time.monotonic()
    with pytest.raises(InvalidDataset) as info:
        loads(text, "bomb.yaml")
    assert time.monotonic() - started < 5
    messages = [e.what for e in info.value.errors]
    assert any("anchors and aliases" in m for m in messages)


def test_plain_anchor_and_alias_rejected_each_where_it_is() -> None:
    text = minimal_with("      alpha: Alpha starts", "      alpha: &same Alpha starts")
    text = text.replace("      beta: Beta warms up slowly but then keeps pace.", "      beta: *same")
    anchor, alias = errors_of(text)
    assert (anchor.line, anchor.col, anchor.where) == (
        line_of(text, "&same"), 14, "dimensions[0].descriptions.alpha")
    assert "anchor '&same': anchors and aliases (&name, *name) are not supported" in anchor.what
    # The alias is reported where it is written, not at the anchor it refers to.
    assert (alias.line, alias.col, alias.where) == (
        line_of(text, "*same"), 13, "dimensions[0].descriptions.beta")
    assert "alias '*same'" in alias.what


def test_aliased_mapping_rejected() -> None:
    text = minimal_with("  - id: storage\n", "  - &dup\n    id: storage\n")
    text = text.replace("pros:\n", "  - *dup\npros:\n")
    errors = errors_of(text)
    assert any(e.where == "dimensions[2]" and "alias '*dup'" in e.what
               and e.line == line_of(text, "*dup") for e in errors)
    assert any(e.where == "dimensions[1]" and "anchor '&dup'" in e.what for e in errors)


def test_anchor_alone_is_rejected_as_documented() -> None:
    text = minimal_with("title: Alpha vs Beta", "title: &t Alpha vs Beta")
    error = only_error(text)
    assert (error.line, error.col, error.where) == (line_of(text, "&t"), 8, "title")
    assert "anchor '&t'" in error.what


def test_ampersands_and_stars_in_text_are_not_anchors() -> None:
    text = minimal_with("title: Alpha vs Beta", "title: R&D vs *stars* & more")
    assert loads(text).title == "R&D vs *stars* & more"


def test_an_alias_flood_stops_at_the_cap_without_composing() -> None:
    text = minimal_with("pros:", "junk: &a x\nmore: [" + ", ".join(["*a"] * 100_000) + "]\npros:")
    with pytest.raises(InvalidDataset) as info:
        loads(text)
    assert len(info.value.errors) == MAX_REPORTED_ERRORS
    assert info.value.omitted == -1


# --------------------------------------------------------------------------- control characters


def test_raw_escape_in_file(tmp_path: Path) -> None:
    path = tmp_path / "esc.yaml"
    text = minimal_with("Alpha starts in", "Alpha \x1b[31mstarts in")
    path.write_text(text, encoding="utf-8")
    error = only_error(path)
    line = line_of(text, "\x1b[31m")
    col = text.splitlines()[line - 1].index("\x1b") + 1
    assert (error.path, error.line, error.col) == (str(path), line, col)
    assert "control character U+001B is not allowed" in error.what
    assert "\x1b" not in str(error)


@pytest.mark.parametrize(("raw", "code"), [("\x7f", "007F"), ("\x00", "0000"), ("\x07", "0007"),
                                           ("\x9b", "009B")])
def test_raw_control_characters(raw: str, code: str) -> None:
    text = minimal_with("Alpha starts in", f"Alpha {raw}starts in")
    error = only_error(text)
    line = line_of(text, "zebra cache")
    assert (error.line, error.col) == (line, 20)
    assert f"U+{code}" in error.what
    assert not TERMINAL_UNSAFE_RE.search(str(error))


@pytest.mark.parametrize(("escape", "code"), [
    (r"\e[31m", "001B"), (r"\x07", "0007"), (r"\x9b", "009B"), (r"\u202e", "202E"),
    (r"\x7f", "007F"), (r"\u2028", "2028"), (r"\x1b]0;title\x07", "001B"), (r"\0", "0000"),
    (r"\u2066", "2066"), (r"\r", "000D"), (r"\u200e", "200E"), (r"\u200f", "200F"),
    (r"\u061c", "061C"), (r"\u200b", "200B"), (r"\U000e0041", "E0041"), (r"\ufeff", "FEFF"),
])
def test_escaped_control_characters_in_double_quotes(escape: str, code: str) -> None:
    text = minimal_with("      alpha: Alpha starts in a blink thanks to its zebra cache.",
                        f'      alpha: "Alpha {escape} starts"')
    error = only_error(text)
    assert (error.line, error.col, error.where) == (
        line_of(text, "alpha: \"Alpha"), 14, "dimensions[0].descriptions.alpha")
    assert f" U+{code} (" in error.what or f" U+{code} at" in error.what
    assert "at character 7 is not allowed" in error.what
    assert not TERMINAL_UNSAFE_RE.search(str(error))


@pytest.mark.parametrize("where", ["title", "pro", "command", "subject name", "key"])
def test_control_characters_rejected_everywhere(where: str) -> None:
    replacements = {
        "title": ("title: Alpha vs Beta", 'title: "Alpha \\e[2J vs Beta"'),
        "pro": ("label: Compact", 'label: "Com\\x9bpact"'),
        "command": ("run: beta --benchmark quokka", 'run: "beta \\e]8;;file:///\\a --benchmark"'),
        "subject name": ("name: Beta", 'name: "Be\\u202eta"'),
        "key": ("    verdict: Alpha", '    "verd\\e[1mict": Alpha'),
    }
    error = only_error(minimal_with(*replacements[where]))
    assert not TERMINAL_UNSAFE_RE.search(str(error))
    assert "control character" in error.what or "unknown key" in error.what


def test_tab_and_newline_are_allowed_in_descriptions() -> None:
    dataset = loads(minimal_with("      alpha: Alpha starts in a blink thanks to its zebra cache.",
                                 '      alpha: "Alpha\\tstarts\\nin a blink"'))
    assert dataset.dimensions[0].descriptions["alpha"] == "Alpha\tstarts\nin a blink"


def test_error_hints_never_carry_control_characters() -> None:
    text = minimal_with("  - id: beta\n", '  - id: "\\e]0;pwned\\a"\n')
    errors = errors_of(text)
    for error in errors:
        assert not TERMINAL_UNSAFE_RE.search(str(error)), repr(str(error))
        assert "\n" not in str(error)


def test_loads_lone_surrogate_is_invalid_dataset() -> None:
    with pytest.raises(InvalidDataset):
        loads("schema: 1\ntitle: \ud800\n")


# --------------------------------------------------------------------------- reporting


def test_many_errors_at_once_sorted_by_position() -> None:
    text = (MINIMAL_TEXT
            .replace("summary: Alpha", "sumary: Alpha")          # unknown key + missing 'summary' at 2:1
            .replace("votes: 3", "votes: -3")
            .replace("  - id: storage\n", "  - id: Storage\n")
            .replace("homepage: https://example.org/alpha", "homepage: example.org/alpha"))
    errors = errors_of(text)
    positions = [(e.line, e.col) for e in errors]
    assert positions == sorted(positions)
    assert len(errors) == 5, [str(e) for e in errors]
    assert errors[0].line == 2 and "missing required key 'summary'" in errors[0].what
    whats = " | ".join(e.what for e in errors)
    for phrase in ("did you mean 'summary'", "is not an http(s) URL", "id 'Storage' must use",
                   "must be 0 or more, found -3"):
        assert phrase in whats


def test_errors_capped_at_fifty() -> None:
    dims = "".join(
        f"  - id: Bad_{n}\n    title: T{n}\n    descriptions:\n      alpha: a\n      beta: b\n"
        for n in range(60)
    )
    text = MINIMAL_TEXT.split("dimensions:")[0] + "dimensions:\n" + dims + "pros: {}\n"
    with pytest.raises(InvalidDataset) as info:
        loads(text, "many.yaml")
    exc = info.value
    assert len(exc.errors) == MAX_REPORTED_ERRORS == 50
    assert exc.omitted == -1  # the walk stopped at the cap: the rest were never looked at
    assert [e.line for e in exc.errors] == sorted(e.line for e in exc.errors)
    assert "id 'Bad_0' must use" in exc.errors[0].what  # the first 50 are kept, not any 50
    assert "id 'Bad_49' must use" in exc.errors[-1].what
    lines = exc.lines()
    assert len(lines) == 51
    assert lines[-1].startswith("... and more problems not shown")
    assert str(exc) == "\n".join(lines)


def test_error_string_format() -> None:
    text = minimal_with("    name: Beta\n", "    name: [Beta]\n")
    error = only_error(text)
    rendered = str(error)
    assert "\n" not in rendered
    assert rendered == f"test.yaml:{line_of(text, 'name: [Beta]')}:11: subjects[1].name: " \
                       "expected text, found a list"
    match = ERROR_LINE_RE.match(rendered)
    assert match and match["path"] == "test.yaml"


def test_error_values_are_clipped() -> None:
    long_id = "x" * 300
    text = minimal_with("pros:\n  alpha:", f"pros:\n  {long_id}:")
    errors = errors_of(text)
    assert all(len(str(e)) < 300 for e in errors)


# --------------------------------------------------------------------------- verbatim text


MARKUP_STRINGS = ("[/]", "[bold]x", "qemu-system-x86_64 [options]", "[link=file:///etc/passwd]x[/link]",
                  "$ not a var", "*stars*", "<b>html</b>")


def test_markup_looking_text_loads_verbatim() -> None:
    dataset = load(DATASETS / "markup.yaml")
    assert dataset.title == "Markup [bold]x vs [/] test"
    assert [s.name for s in dataset.subjects] == ["[bold]x", "<b>html</b>"]
    dimension = dataset.dimensions[0]
    assert dimension.title == "Title [/] and [bold]x"
    assert dimension.descriptions["plain"] == (
        "Run qemu-system-x86_64 [options] then [link=file:///etc/passwd]x[/link] here.")
    assert dimension.notes[0].text == "Note with [bold]x and [link=file:///etc/passwd]x[/link]."
    assert dimension.commands["plain"][0].run == "qemu-system-x86_64 [options]"
    assert [p.label for p in dataset.pros["fancy"]] == ["[link=file:///etc/passwd]x[/link]",
                                                        "<b>html</b> and *stars*"]
    everything = "\n".join([*iter_texts(dataset), *(p.label for ps in dataset.pros.values() for p in ps)])
    for needle in MARKUP_STRINGS:
        assert needle in everything, needle


def test_values_are_stripped_and_folded() -> None:
    dataset = load(SHIPPED)
    assert not dataset.summary.endswith("\n")
    assert "\n" not in dataset.find("architecture").descriptions["kvm"]


# --------------------------------------------------------------------------- find and filter


@pytest.mark.parametrize(("query", "expected"), [
    ("performance", "performance"), ("Performance", "performance"), ("PERFORMANCE", "performance"),
    ("Guest support", "guest-support"), ("guest SUPPORT", "guest-support"), ("  management  ", "management"),
    ("Management interfaces", "management"), ("perf", "performance"), ("Disk", "disk-images"),
    ("live migration", "live-migration"), ("nested virt", "nested-virtualization"), ("net", "networking"),
    ("user", "user-mode-emulation"), ("Security and", "security"),
])
def test_find(shipped: Dataset, query: str, expected: str) -> None:
    assert shipped.find(query).id == expected


@pytest.mark.parametrize(("query", "candidates"), [
    ("d", {"device-emulation", "disk-images", "device-passthrough"}),
    ("de", {"device-emulation", "device-passthrough"}),
    ("a", {"architecture", "accelerators"}),
])
def test_find_ambiguous_prefix(shipped: Dataset, query: str, candidates: set[str]) -> None:
    with pytest.raises(LookupError) as info:
        shipped.find(query)
    message = str(info.value)
    assert "ambiguous" in message
    for candidate in candidates:
        assert candidate in message
    others = {d.id for d in shipped.dimensions} - candidates
    assert not any(re.search(rf"\b{re.escape(o)}\b", message) for o in others)


@pytest.mark.parametrize(("query", "hint"), [("performanse", "performance"), ("netwrking", "networking"),
                                             ("licence", "licensing")])
def test_find_unknown_suggests(shipped: Dataset, query: str, hint: str) -> None:
    with pytest.raises(LookupError) as info:
        shipped.find(query)
    message = str(info.value)
    assert f"no dimension matches '{query}'" in message
    assert "did you mean" in message and hint in message


@pytest.mark.parametrize("query", ["zzzzqqq", "", "   "])
def test_find_nothing_close(shipped: Dataset, query: str) -> None:
    with pytest.raises(LookupError):
        shipped.find(query)


def test_find_hint_names_each_dimension_once(shipped: Dataset) -> None:
    with pytest.raises(LookupError) as info:
        shipped.find("performanc3")
    assert str(info.value).count("'performance'") == 1, str(info.value)


def test_find_exact_match_beats_prefix() -> None:
    dataset = loads(minimal_with("    title: Storage formats\n", "    title: Speed test\n"))
    assert dataset.find("speed").id == "speed"  # also a prefix of "Speed test", but exact wins


def test_filter_every_word_must_match(shipped: Dataset) -> None:
    assert [d.id for d in FilterIndex(shipped).filter("qemu-img")] == ["disk-images"]
    assert [d.id for d in FilterIndex(shipped).filter("virsh migrate")] == ["live-migration"]
    vfio = {d.id for d in FilterIndex(shipped).filter("vfio")}
    both = {d.id for d in FilterIndex(shipped).filter("vfio passthrough")}
    assert {"device-passthrough", "device-emulation"} <= vfio
    assert both <= vfio
    assert not FilterIndex(shipped).filter("vfio zzzznotthere")


def test_filter_is_case_insensitive(shipped: Dataset) -> None:
    assert FilterIndex(shipped).filter("FIRECRACKER") == FilterIndex(shipped).filter("firecracker")
    assert [d.id for d in FilterIndex(shipped).filter("FireCracker")] == ["integration"]


def test_filter_searches_verdicts_descriptions_notes_and_commands() -> None:
    dataset = load(MINIMAL)
    assert [d.id for d in FilterIndex(dataset).filter("quicker")] == ["speed"]        # the verdict
    assert [d.id for d in FilterIndex(dataset).filter("correction")] == ["speed"]     # shown as such
    assert [d.id for d in FilterIndex(dataset).filter("zebra")] == ["speed"]          # a description
    assert [d.id for d in FilterIndex(dataset).filter("in fact")] == ["speed"]        # a note
    assert [d.id for d in FilterIndex(dataset).filter("quokka")] == ["speed"]         # a command line
    assert [d.id for d in FilterIndex(dataset).filter("startup time")] == ["speed"]   # what a command does
    assert [d.id for d in FilterIndex(dataset).filter("binary")] == ["storage"]
    assert [d.id for d in FilterIndex(dataset).filter("")] == ["speed", "storage"]
    assert [d.id for d in FilterIndex(dataset).filter("   ")] == ["speed", "storage"]
    assert FilterIndex(dataset).filter("zebra binary") == []


def test_filter_keeps_dataset_order(shipped: Dataset) -> None:
    found = FilterIndex(shipped).filter("qemu")
    order = [d.id for d in shipped.dimensions]
    assert [d.id for d in found] == [i for i in order if i in {d.id for d in found}]


# --------------------------------------------------------------------------- fuzzing


@pytest.fixture(scope="module")
def fuzz_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fuzz")


def _load_or_invalid(load_it: Any) -> None:
    try:
        dataset = load_it()
    except InvalidDataset as exc:
        assert exc.errors
        for error in exc.errors:
            assert isinstance(error, DatasetError)
            assert isinstance(str(error), str)
    else:
        assert isinstance(dataset, Dataset)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.binary(max_size=400))
def test_fuzz_random_bytes(fuzz_dir: Path, data: bytes) -> None:
    path = fuzz_dir / "random.yaml"
    path.write_bytes(data)
    _load_or_invalid(lambda: load(path))


_KEYS = st.sampled_from(["schema", "title", "summary", "source", "subjects", "dimensions", "pros", "id",
                         "name", "tagline", "homepage", "descriptions", "notes", "commands", "sources",
                         "text", "kind", "run", "does", "label", "votes", "url", "publisher", "verdict",
                         "kvm", "qemu"])
_SCALARS = (st.none() | st.booleans() | st.integers(min_value=-(10**30), max_value=10**30)
            | st.floats(allow_nan=True, allow_infinity=True)
            | st.text(max_size=20) | st.sampled_from(["https://example.org/", "kvm", "correction", "1"]))
_DOCS = st.recursive(
    _SCALARS,
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(_KEYS | st.text(max_size=8), children, max_size=5),
    max_leaves=25,
)


@settings(max_examples=200, deadline=None)
@given(_DOCS)
def test_fuzz_random_documents(document: Any) -> None:
    text = yaml.safe_dump(document, allow_unicode=True)
    _load_or_invalid(lambda: loads(text, "fuzz.yaml"))


_SMALL_DOCS = st.recursive(
    _SCALARS,
    lambda children: st.lists(children, max_size=3) | st.dictionaries(_KEYS, children, max_size=3),
    max_leaves=6,
)


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(_KEYS, _SMALL_DOCS, max_size=7))
def test_fuzz_random_top_level_mappings(document: dict[str, Any]) -> None:
    _load_or_invalid(lambda: loads(yaml.safe_dump(document, allow_unicode=True), "fuzz.yaml"))


MINIMAL_DOC = yaml.safe_load(MINIMAL_TEXT)


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_fuzz_one_value_replaced_in_a_valid_document(data: st.DataObject) -> None:
    """Deep in an otherwise valid dataset, one value becomes something random."""
    document = copy.deepcopy(MINIMAL_DOC)
    node: Any = document
    while True:
        keys = list(node) if isinstance(node, dict) else list(range(len(node)))
        key = data.draw(st.sampled_from(keys))
        child = node[key]
        if not isinstance(child, (dict, list)) or not child or data.draw(st.booleans()):
            node[key] = data.draw(_SMALL_DOCS)
            break
        node = child
    _load_or_invalid(lambda: loads(yaml.safe_dump(document, allow_unicode=True), "fuzz.yaml"))


_EDIT_CHARS = st.characters(blacklist_categories=("Cs",)) | st.sampled_from(list(":-[]{}&*!|>'\"#%@ \n\t"))


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_fuzz_mutated_minimal_dataset(data: st.DataObject) -> None:
    _load_or_invalid(lambda: loads(_mutate(data, MINIMAL_TEXT), "mutated.yaml"))


@settings(max_examples=100, deadline=None)
@given(st.data())
def test_fuzz_mutated_shipped_dataset(data: st.DataObject) -> None:
    _load_or_invalid(lambda: loads(_mutate(data, SHIPPED_TEXT), "mutated.yaml"))


def _mutate(data: st.DataObject, text: str) -> str:
    edits = data.draw(st.lists(st.tuples(st.booleans(), st.integers(0, len(text)), _EDIT_CHARS),
                               min_size=1, max_size=6))
    for insert, position, char in edits:
        position = min(position, len(text))
        text = text[:position] + char + text[position:] if insert else text[:position] + text[position + 1:]
    return text


@pytest.mark.parametrize(("query", "previous", "expected"), [
    ("kern", "ker", True),
    ("ker", "kern", False),
    ("kvm qemu", "kvm", True),
    ("qemu kvm", "kvm q", True),
    ("KVM", "kv", True),
    ("kvm", "", False),
    ("", "kvm", False),
    ("qemu", "kvm", False),
])
def test_narrows_tells_when_a_query_can_only_find_fewer(query: str, previous: str,
                                                        expected: bool) -> None:
    from kvmq.dataset.search import narrows

    assert narrows(query, previous) is expected


def test_searching_within_a_narrowed_result_finds_the_same(shipped: Dataset) -> None:
    from kvmq.dataset.search import narrows

    typed = ["k", "kv", "kvm", "kvm ", "kvm q", "kvm qe", "kvm qemu", "kvm qemux", "v", "vi",
             "vir", "virt", "virtio", "virtio n", "virtio ne"]
    for previous, query in zip(typed, typed[1:]):
        if narrows(query, previous):
            index = FilterIndex(shipped)
            assert index.filter(query, index.filter(previous)) == index.filter(query)


def test_the_example_in_the_dataset_guide_validates() -> None:
    guide = (HERE.parent / "docs" / "dataset.md").read_text(encoding="utf-8")
    (example,) = [block for block in re.findall(r"```yaml\n(.*?)```", guide, re.S)
                  if block.startswith("schema: 1")]
    dataset = loads(example, "dataset.md")
    assert dataset.source is None and len(dataset.subjects) == 3
    (command,) = dataset.dimensions[0].commands["firecracker"]
    assert command.caution and command.needs


_URL_PIECES = st.sampled_from(["http", "https", "HTTP", "ftp", "://", ":", "/", ".", "-", "a",
                               "b9", "example", "com", "%", "%2F", "%zz", "?", "#", "=", "&",
                               "@", "[", "]", "::1", ":8080", ":99999", "~", " ", "é", "_"])


_URL_LIKE = st.lists(_URL_PIECES, max_size=12).map("".join)
# A usual URL with one piece put in somewhere: most land on the quick path's edges.
_USUAL_URLS = ("https://example.com/a/b?c=d#e", "http://a.b9.x-y.com", "https://a./",
               "http://example.com:8080/x")
_URL_SHAPED = st.tuples(st.sampled_from(_USUAL_URLS), st.integers(0, 30),
                        st.lists(_URL_PIECES, max_size=2).map("".join)).map(
    lambda parts: parts[0][:parts[1]] + parts[2] + parts[0][parts[1]:])


@settings(max_examples=600, deadline=None)
@given(_URL_SHAPED | _URL_LIKE)
@example("https://_x/")
@example("http://a:99999/")
@example("https://a/%zz")
@example("https://a b/")
@example("https://user@a/")
@example("https://[::1]/")
@example("HTTPS://a/")
def test_the_quick_url_check_agrees_with_the_full_one(value: str) -> None:
    """The one-match path for the usual URL never passes what the full check refuses."""
    from kvmq.dataset.loader import url_problem, url_problem_in_full

    assert url_problem(value) == url_problem_in_full(value)


@pytest.mark.parametrize("url", [
    "https://www.kernel.org/doc/html/latest/virt/kvm/api.html#kvm-create-vm",
    "http://example.com", "https://a.b.", "https://example.com/a?b=c&d=e#f",
])
def test_usual_urls_pass_both_checks(url: str) -> None:
    from kvmq.dataset.loader import url_problem, url_problem_in_full

    assert url_problem(url) == url_problem_in_full(url) == ""
