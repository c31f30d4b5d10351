"""The model: to_dict and from_dict are each other's inverse, and from_dict is strict."""

from __future__ import annotations

import copy
import gc
import threading
from pathlib import Path

import pytest

from kvmq.dataset import loader
from kvmq.dataset.collector import collector_paused
from kvmq.dataset.model import FORBIDDEN_CHARS_RE, Dataset, find_forbidden

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
    """The cache's streaming form gives the same dataset; each batch is emptied as it is read."""
    dataset = loader.load(loader.packaged_data_path(), use_cache=False)
    top = dataset.to_dict()
    dimensions = top.pop("dimensions")
    batches = [dimensions[:2], dimensions[2:3], [], dimensions[3:]]
    assert Dataset.from_dict(top, dataset.path, dimension_batches=iter(batches)) == dataset
    assert all(item is None for batch in batches for item in batch)
    with pytest.raises(ValueError, match="twice"):
        Dataset.from_dict(dataset.to_dict(), dimension_batches=[])
    with pytest.raises(ValueError):
        Dataset.from_dict(top, dimension_batches=[{"id": "not-a-list"}])


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
