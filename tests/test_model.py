"""The model: to_dict and from_dict are each other's inverse, and from_dict is strict."""

from __future__ import annotations

import copy
import gc
import threading
from pathlib import Path

import pytest

from kvmq.dataset import loader
from kvmq.dataset.collector import collector_paused
from kvmq.dataset.model import (
    FIELD_SEP,
    FORBIDDEN_CHARS_RE,
    PART_SEP,
    Command,
    Dataset,
    Dimension,
    Note,
    find_forbidden,
    packed_batches,
    packed_dimension_pattern,
)

DATASETS = Path(__file__).resolve().parent / "fixtures" / "datasets"


@pytest.mark.parametrize("path", [loader.packaged_data_path(), *sorted(DATASETS.glob("[!b]*.yaml"))],
                         ids=lambda p: p.name)
def test_from_dict_inverts_to_dict(path: Path) -> None:
    try:
        dataset = loader.load(path, use_cache=False)
    except Exception:
        pytest.skip(f"{path.name} is not a valid dataset")
    rebuilt = Dataset.from_dict(dataset.to_dict(), dataset.path)
    assert rebuilt == dataset
    assert rebuilt.to_dict() == dataset.to_dict()
    # What the cache does: the same result, the input's dimensions let go as they are built.
    data = dataset.to_dict()
    assert Dataset.from_dict(data, dataset.path, consume=True) == dataset
    assert data["dimensions"] == [None] * len(dataset.dimensions)


@pytest.mark.parametrize("change", [
    lambda d: d.update(schema=2),
    lambda d: d.update(schema="1"),
    lambda d: d.update(title=""),
    lambda d: d.update(title="bell\x07"),
    lambda d: d.update(title="rtl\u202eoverride"),
    lambda d: d.update(summary=None),
    lambda d: d["subjects"].pop(),
    lambda d: d["subjects"][0].update(id=d["subjects"][1]["id"]),
    lambda d: d["dimensions"].clear(),
    lambda d: d["dimensions"][0]["descriptions"].popitem(),
    lambda d: d["dimensions"][0].update(sources="https://example.org"),
    lambda d: d["pros"].update(nobody=[]),
    lambda d: d["pros"][next(iter(d["pros"]))].append({"label": "x", "votes": -1}),
    lambda d: d["pros"][next(iter(d["pros"]))].append({"label": "x", "votes": True}),
    lambda d: d["pros"][next(iter(d["pros"]))].append({"label": "x"}),
    lambda d: d["dimensions"][0]["commands"]["kvm"][0].update(caution=3),
    lambda d: d["dimensions"][0]["commands"]["kvm"][0].update(caution=""),
    lambda d: d["dimensions"][0]["commands"]["kvm"][0].update(needs="root\x1b[2J"),
    lambda d: d["dimensions"][0]["commands"]["kvm"][0].update(cuation="x"),
    lambda d: d["dimensions"][0]["commands"]["kvm"][0].pop("does"),
    lambda d: d["dimensions"][0]["commands"]["kvm"][0].update(run=None),
    lambda d: d["dimensions"][0]["commands"]["kvm"][0].update(does=["a list"]),
    lambda d: d["dimensions"][0]["commands"]["kvm"].__setitem__(0, ["run", "does", None, None]),
    lambda d: d["dimensions"][0]["commands"]["kvm"].__setitem__(0, "run does"),
    lambda d: d["dimensions"][0]["commands"].update(kvm={"run": "x", "does": "y"}),
    lambda d: d["dimensions"][-1]["commands"]["qemu"][-1].update(needs="\x9b"),
    lambda d: d.update(source={"title": "no publisher"}),
    lambda d: d["dimensions"][1]["descriptions"].update(kvm="del\x7f"),
    lambda d: d["dimensions"][1]["descriptions"].update(qemu="arrow \u2192 then C1 \x85"),
    lambda d: d["dimensions"][2].update(sources=["https://example.org/\u200b"]),
    lambda d: d["dimensions"][1].update(id=d["dimensions"][0]["id"]),
])
def test_from_dict_refuses_what_a_parse_would_refuse(change) -> None:
    data = copy.deepcopy(loader.load(loader.packaged_data_path(), use_cache=False).to_dict())
    change(data)
    with pytest.raises(ValueError):
        Dataset.from_dict(data)


def test_from_dict_takes_the_dimensions_in_batches() -> None:
    """The cache's packed form, in batches, gives the same dataset."""
    dataset = loader.load(loader.packaged_data_path(), use_cache=False)
    top = dataset.to_dict(with_dimensions=False)
    batches = list(packed_batches(dataset.dimensions, 2))
    assert len(batches) == (len(dataset.dimensions) + 1) // 2
    batches.insert(1, ([], [], []))
    rebuilt = Dataset.from_dict(top, dataset.path, dimension_batches=iter(batches))
    assert rebuilt == dataset and rebuilt.to_dict() == dataset.to_dict()
    with pytest.raises(ValueError, match="twice"):
        Dataset.from_dict(dataset.to_dict(), dimension_batches=[])
    with pytest.raises(ValueError):
        Dataset.from_dict(top, dimension_batches=[{"id": "not-a-list"}])


def _swap_description(packed: str, new: str) -> str:
    verdict, descriptions, rest = packed.split(FIELD_SEP, 2)
    return FIELD_SEP.join((verdict, PART_SEP.join([new, *descriptions.split(PART_SEP)[1:]]), rest))


@pytest.mark.parametrize("change", [
    lambda ids, titles, packed: titles.__setitem__(0, "\x1b]0;PWNED\x07"),
    lambda ids, titles, packed: ids.__setitem__(0, ""),
    lambda ids, titles, packed: packed.__setitem__(0, _swap_description(packed[0], "esc \x1b[2J")),
    lambda ids, titles, packed: packed.__setitem__(0, _swap_description(packed[0], "")),
    lambda ids, titles, packed: packed.__setitem__(0, _swap_description(packed[0], "bidi \u202e")),
    lambda ids, titles, packed: packed.__setitem__(0, packed[0] + FIELD_SEP),
    lambda ids, titles, packed: packed.__setitem__(0, packed[0].replace(PART_SEP, "", 1)),
    lambda ids, titles, packed: packed.__setitem__(0, packed[0] + PART_SEP + "\u200b"),
    lambda ids, titles, packed: packed.__setitem__(0, 42),
    lambda ids, titles, packed: packed.pop(),
    lambda ids, titles, packed: ids.__setitem__(1, ids[0]),
])
def test_from_dict_refuses_a_packed_form_no_dataset_could_hold(change) -> None:
    dataset = loader.load(loader.packaged_data_path(), use_cache=False)
    [batch] = packed_batches(dataset.dimensions, len(dataset.dimensions))
    change(*batch)
    with pytest.raises(ValueError):
        Dataset.from_dict(dataset.to_dict(with_dimensions=False), dimension_batches=[batch])


def test_a_note_kind_and_command_fields_survive_packing() -> None:
    """What the packed form says about notes and commands reads back as it was built."""
    notes = (Note("checked", "https://example.org/a", "correction"), Note("plain"))
    commands = {"b": (Command("run it", "does it", caution="loses data", needs="root"),
                      Command("two", "second"))}
    dimension = Dimension("x", "X", {"a": "first", "b": "second"}, "short", notes, commands,
                          ("https://example.org/s",))
    assert dimension.notes == notes and dimension.notes[0].is_correction
    assert dimension.commands == commands and dimension.verdict == "short"
    assert dimension.descriptions == {"a": "first", "b": "second"}
    assert dimension.sources == ("https://example.org/s",)
    assert dimension.replace(verdict=None).verdict is None
    assert dimension.replace(title="Y").notes == notes
    assert copy.deepcopy(dimension) == dimension
    packed = packed_dimension_pattern(2)
    assert packed.fullmatch(dimension.packed)
    assert not packed_dimension_pattern(3).fullmatch(dimension.packed)
    with pytest.raises(ValueError):
        Dimension("x", "X", {"a": "first"}, commands={"b": ()}, subject_ids=("a",))


def test_the_shipped_dataset_is_named_in_one_place(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Another YAML file in data/ (sorting first, even) never changes what ships."""
    data = tmp_path / "data"
    data.mkdir()
    (data / "aaa-other.yaml").write_text("schema: 1\n", encoding="utf-8")
    (data / "mine.yaml").write_text("x", encoding="utf-8")
    (data / loader.SHIPPED_MANIFEST).write_text("mine.yaml\n", encoding="utf-8")
    monkeypatch.setattr(loader, "data_dir", lambda: data)
    assert loader.packaged_data_path() == data / "mine.yaml"
    assert (Path(loader.__file__).resolve().parents[3] / "data" / loader.SHIPPED_MANIFEST).is_file()


def test_collector_pauses_never_leave_it_off() -> None:
    """Overlapping loads on several threads restore the collector when the last one ends."""
    assert gc.isenabled()
    inside = threading.Barrier(4)

    def pause() -> None:
        with collector_paused():
            inside.wait(timeout=10)

    threads = [threading.Thread(target=pause) for _ in range(3)]
    for thread in threads:
        thread.start()
    with collector_paused():
        inside.wait(timeout=10)
        assert not gc.isenabled()
    for thread in threads:
        thread.join()
    assert gc.isenabled()


def test_find_forbidden_agrees_with_the_pattern_on_ascii_and_other_text() -> None:
    # The ASCII fast path and the pattern must accept and refuse exactly the same strings.
    samples = [chr(c) for c in (*range(0, 0x250), 0x61C, 0x200B, 0x200E, 0x2028, 0x202E,
                                0x2060, 0x2066, 0xFEFF, 0xE0001, 0xD800, 0x2192)]
    for ascii_only in (True, False):
        for index, char in enumerate(samples):
            if ascii_only and not char.isascii():
                continue
            texts = ["plain", f"x{char}y", "tail" if ascii_only else "t\u00e9"]
            expected = FORBIDDEN_CHARS_RE.search("\n".join(texts))
            found = find_forbidden(texts)
            assert (found is None) == (expected is None), (index, char)
            assert found is None or FORBIDDEN_CHARS_RE.fullmatch(found)
    assert find_forbidden([]) is None
