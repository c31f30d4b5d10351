"""Hostile datasets (issue 17): every one is rejected with a printable, bounded, positioned
message, with libyaml and with the bundle's pure-Python loader alike, and without the work
an honest file would need. Time and memory at 32 MiB are measured by
``benchmarks/hostile.py``; the tests here use sizes that keep them quick."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable, Iterator

import pytest
import yaml

import kvmq.dataset.loader as loader
from kvmq.dataset.loader import MAX_REPORTED_ERRORS, loads
from kvmq.dataset.model import DatasetError, InvalidDataset
from kvmq.text import printable

HERE = Path(__file__).resolve().parent
MINIMAL_TEXT = (HERE / "fixtures" / "datasets" / "minimal.yaml").read_text(encoding="utf-8")
sys.path.insert(0, str(HERE.parent / "benchmarks"))
from hostile import GENERATORS  # noqa: E402


@pytest.fixture(params=["libyaml", "pure"])
def yaml_loader(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Each test runs with libyaml's parser and with PyYAML's pure-Python one (the bundle's)."""
    loader._import_yaml()
    if request.param == "pure":
        monkeypatch.setattr(loader, "_YamlLoader", yaml.SafeLoader)
    elif not hasattr(yaml, "CSafeLoader"):
        pytest.skip("PyYAML built without libyaml")
    yield request.param


def errors(text: str) -> list[DatasetError]:
    with pytest.raises(InvalidDataset) as info:
        loads(text, "hostile.yaml")
    return info.value.errors


def minimal_with(old: str, new: str) -> str:
    assert old in MINIMAL_TEXT
    return MINIMAL_TEXT.replace(old, new, 1)


def assert_printable(errors_found: list[DatasetError]) -> None:
    for error in errors_found:
        line = str(error)
        assert line == printable(line), repr(line)
        assert len(line) < 1200, len(line)


# --------------------------------------------------------------------------- item 1: injection


def test_a_tag_with_escapes_cannot_reach_the_terminal(yaml_loader: str) -> None:
    text = minimal_with("title: Alpha vs Beta",
                        "title: !x%1B%5D0%3BPWNED%07%1B%5B2J%0Afake%20line x")
    (error,) = errors(text)
    assert "\x1b" not in str(error) and "\n" not in str(error) and "\x07" not in str(error)
    assert "\\x1b]0;PWNED\\x07" in error.what  # shown, visibly
    assert_printable([error])


def test_keys_in_the_where_part_are_escaped(yaml_loader: str) -> None:
    text = minimal_with("pros:", 'pros:\n  "\\e]52;c;ZXZpbA==\\a": []\npros_again:')
    found = errors(text)
    assert found and all("\x1b" not in str(e) and "\x07" not in str(e) for e in found)
    assert_printable(found)


def test_file_names_are_escaped_in_errors(tmp_path: Path) -> None:
    path = tmp_path / "evil\x1b]0;x\x07\nname.yaml"
    path.write_text("schema: 1\n", encoding="utf-8")
    with pytest.raises(InvalidDataset) as info:
        loader.load(path, use_cache=False)
    line = str(info.value.errors[0])
    assert "\x1b" not in line and "\n" not in line and "\\x1b]0;x\\x07\\nname.yaml" in line


@pytest.mark.parametrize(("escape", "name"), [
    ("\\u200e", "LEFT-TO-RIGHT MARK"), ("\\u200f", "RIGHT-TO-LEFT MARK"),
    ("\\u061c", "ARABIC LETTER MARK"), ("\\u200b", "ZERO WIDTH SPACE"),
    ("\\u2060", "WORD JOINER"), ("\\U000e0041", "TAG LATIN CAPITAL LETTER A"),
    ("\\u202e", "RIGHT-TO-LEFT OVERRIDE"),
])
def test_invisible_characters_are_named(yaml_loader: str, escape: str, name: str) -> None:
    (error,) = errors(minimal_with("title: Alpha vs Beta", f'title: "Alpha {escape}vs Beta"'))
    assert (error.line, error.col, error.where) == (3, 8, "title")
    assert f"({name}) at character 7 is not allowed" in error.what


# --------------------------------------------------------------------------- item 4: URLs


@pytest.mark.parametrize("url", [
    "http://[::1", "https://exa mple.org/", "https://example.org/a>b", "https://example.org/\"x",
    "https://", "http:///path", "https://example.org:99999/", "https://example.org:port/",
    "javascript:alert(1)", "https://exa_mple.org/", "https://example.org/%zz",
    "https://example.org/`x`", "https://example.org/\\x", "https://bücher.example/",
])
def test_malformed_urls_are_rejected(yaml_loader: str, url: str) -> None:
    quoted = url.replace("\\", "\\\\").replace('"', '\\"')
    (error,) = errors(minimal_with("homepage: https://example.org/alpha", f'homepage: "{quoted}"'))
    assert error.where == "subjects[0].homepage"
    assert "is not an http(s) URL" in error.what


@pytest.mark.parametrize("url", ["https://example.org/", "http://[::1]:8080/x?y=1#z",
                                 "https://en.wikipedia.org/wiki/QEMU_(software)",
                                 "https://example.org/a%20b", "http://192.0.2.1/"])
def test_well_formed_urls_pass(url: str) -> None:
    text = minimal_with("homepage: https://example.org/alpha", f"homepage: '{url}'")
    assert loads(text).subjects[0].homepage == url


# --------------------------------------------------------------------------- item 5: integers


@pytest.mark.parametrize("value", ["0x" + "F" * 5000, "-0x" + "F" * 5000, "9" * 5000,
                                   "-" + "9" * 5000, "0b" + "1" * 5000, "0" + "7" * 5000,
                                   "1_000_000_000", "0x3B9ACA00"],
                         ids=["hex", "negative-hex", "decimal", "negative", "binary", "octal",
                              "underscores", "short-hex"])
@pytest.mark.parametrize("field", ["votes", "schema"])
def test_huge_integers_are_refused_before_conversion(yaml_loader: str, value: str,
                                                     field: str) -> None:
    text = (minimal_with("votes: 3", f"votes: {value}") if field == "votes"
            else minimal_with("schema: 1", f"schema: {value}"))
    found = errors(text)
    assert found, value
    assert any("too large" in e.what or "must be 0 or more" in e.what for e in found)
    assert_printable(found)


def test_huge_integers_cost_nothing_without_the_int_string_limit(tmp_path: Path) -> None:
    """On Pythons without the limit (3.9.0-3.9.13, or PYTHONINTMAXSTRDIGITS=0) too."""
    entries = "".join(f"    - label: p{n}\n      votes: 0x{'F' * 5000}\n" for n in range(200))
    path = tmp_path / "ints.yaml"
    path.write_text(minimal_with("  beta:\n    - label: Compact", "  beta:\n" + entries
                                 + "    - label: Compact"), encoding="utf-8")
    env = {**os.environ, "PYTHONINTMAXSTRDIGITS": "0", "KVMQ_NO_CACHE": "1"}
    started = time.monotonic()
    result = subprocess.run([sys.executable, "-m", "kvmq", "validate", str(path)], env=env,
                            capture_output=True, text=True, timeout=60, check=False)
    assert time.monotonic() - started < 30  # generous: the fix makes it well under a second
    assert result.returncode == 2, result.stderr
    assert "too large" in result.stderr and "Traceback" not in result.stderr


# --------------------------------------------------------------------------- item 14: surrogates


@pytest.mark.parametrize("escape", ["\\ud800", "\\udfff", "\\ud83d\\ude00"])
def test_lone_surrogates_are_rejected_with_a_position(yaml_loader: str, escape: str) -> None:
    (error,) = errors(minimal_with("title: Alpha vs Beta", f'title: "A {escape} B"'))
    assert (error.line, error.col) == (3, 8 if yaml_loader == "pure" else error.col)
    assert error.line == 3 and error.col > 0
    assert_printable([error])


# --------------------------------------------------------------------------- item 6: bounded work


@pytest.mark.parametrize("name", sorted(GENERATORS))
def test_hostile_files_stop_at_the_cap_with_short_lines(yaml_loader: str, name: str) -> None:
    generate: Callable[[int], str] = GENERATORS[name]
    text = generate(256 * 1024)
    started = time.monotonic()
    with pytest.raises(InvalidDataset) as info:
        loads(text, "hostile.yaml")
    elapsed = time.monotonic() - started
    found = info.value.errors
    assert 0 < len(found) <= MAX_REPORTED_ERRORS
    assert_printable(found)
    assert all(len(str(e)) < 400 for e in found), max(len(str(e)) for e in found)
    assert elapsed < 20, elapsed  # generous; benchmarks/hostile.py measures the real figures


def test_suggestions_are_computed_once_per_distinct_key(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []
    real = loader.difflib.get_close_matches

    def counting(word: str, *args: object, **kwargs: object) -> list[str]:
        calls.append(word)
        return real(word, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(loader.difflib, "get_close_matches", counting)
    text = minimal_with("pros:", "".join(f"titel{n % 3}: x\n" for n in range(40)) + "pros:")
    found = errors(text)
    assert len(found) >= 40 - 3 * 13  # duplicates are errors too
    assert len(calls) <= 3


# Every kind whose errors are found by the Builder (an alias flood is stopped by the event
# pass that looks for anchors, before any of this).
_BUILDER_KINDS = sorted(name for name in GENERATORS if name != "alias_flood")


@pytest.mark.parametrize("name", _BUILDER_KINDS)
def test_the_rest_of_a_hostile_file_is_never_read(yaml_loader: str, name: str) -> None:
    """Past the 50th problem the loader stops reading: a syntax error at the end of the file
    is never reached, so the problems found are what is reported, not the syntax error."""
    text = GENERATORS[name](256 * 1024) + "broken: [unclosed\n"
    found = errors(text)
    assert len(found) == MAX_REPORTED_ERRORS
    assert not any("syntax error" in e.what for e in found), found[0]


@pytest.mark.parametrize("name", _BUILDER_KINDS)
def test_rejection_reads_only_a_prefix_of_the_file(monkeypatch: pytest.MonkeyPatch,
                                                   name: str) -> None:
    """Seen from the pure-Python parser (libyaml's own composer would not show its reads):
    the last event it is asked for lies in the first quarter of the file."""
    text = GENERATORS[name](1024 * 1024)
    reached = [0]

    class Watched(yaml.SafeLoader):
        def get_event(self) -> yaml.Event:
            event = super().get_event()
            reached[0] = max(reached[0], event.end_mark.index)
            return event  # type: ignore[no-any-return]

    loader._import_yaml()
    monkeypatch.setattr(loader, "_YamlLoader", Watched)
    assert len(errors(text)) == MAX_REPORTED_ERRORS
    assert 0 < reached[0] < len(text) // 4, (reached[0], len(text))


def test_a_syntax_error_before_the_cap_is_still_reported_alone(yaml_loader: str) -> None:
    text = minimal_with("pros:", "titel: x\nbroken: [unclosed\npros:")
    (error,) = errors(text)
    assert "YAML syntax error" in error.what and error.line > 1


def test_a_second_document_is_still_refused(yaml_loader: str) -> None:
    (error,) = errors(MINIMAL_TEXT + "---\nschema: 1\n")
    assert "but found another document" in error.what
    assert (error.line, error.col) == (MINIMAL_TEXT.count("\n") + 1, 1)


def test_keys_in_any_order_give_the_same_dataset(yaml_loader: str) -> None:
    """Values that depend on later ones (everything on schema, dimensions and pros on the
    subjects) wait for them: the order of the top-level keys changes nothing."""
    _, rest = MINIMAL_TEXT.split("schema: 1\n")
    blocks = {}
    current = ""
    for line in rest.splitlines(keepends=True):
        if line[:1].isalpha():
            current = line.split(":")[0]
            blocks[current] = ""
        blocks[current] += line
    reordered = "".join(blocks[key] for key in reversed(list(blocks))) + "schema: 1\n"
    assert loads(reordered) == loads(MINIMAL_TEXT)

    def problems(text: str) -> set[tuple[str, str]]:
        return {(e.where, e.what) for e in errors(text.replace("\n      alpha: Alpha starts",
                                                                "\n      gamma: Alpha starts")
                                                  .replace("title: Storage formats", "title: [x]")
                                                  .replace("votes: 5", "votes: -5"))}

    assert problems(reordered) == problems(MINIMAL_TEXT)
    assert len(problems(reordered)) == 3


def test_another_schema_still_stops_the_checks_wherever_it_is(yaml_loader: str) -> None:
    text = minimal_with("schema: 1\n", "").replace("pros:", "schema: 2\ntitel: x\npros:") \
        .replace("title: Alpha vs Beta", "title: [not text]")
    found = errors(text)
    assert [e.where for e in found] == ["schema", ""]
    assert "schema 2 is not supported" in found[0].what and "unknown key 'titel'" in found[1].what


def test_text_that_only_looks_like_an_anchor_costs_no_anchor_pass(
        yaml_loader: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Anchors are found by the composer itself: a '&&' in a command (as in the shipped
    dataset) no longer makes every load parse the whole file once more to look for them."""
    passes: list[str] = []
    monkeypatch.setattr(loader, "_refuse_anchors", lambda text, builder: passes.append(text))
    text = minimal_with("run: beta --benchmark quokka", "run: beta --warm && beta *.txt &")
    assert loads(text).dimensions[0].commands["beta"][0].run.endswith("&& beta *.txt &")
    assert passes == []
