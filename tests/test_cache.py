"""The parsed-dataset cache: warm equals cold, and every failure falls back to parsing."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import zlib
from pathlib import Path
from typing import Optional

import pytest

from kvmq.dataset import cache
from kvmq.dataset import loader as ds
from kvmq.dataset.model import (
    FIELD_SEP,
    PART_SEP,
    Dataset,
    Dimension,
    InvalidDataset,
    packed_batches,
)
from kvmq.dataset.search import FilterIndex

SHIPPED = ds.packaged_data_path()


@pytest.fixture(autouse=True)
def cache_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "xdg-cache"
    monkeypatch.setenv("XDG_CACHE_HOME", str(home))
    monkeypatch.delenv(cache.NO_CACHE_ENV_VAR, raising=False)
    return home


class Parser:
    """The parse callback ``dataset.load`` passes to the cache, counting its calls."""

    def __init__(self, raw: bytes, display: str) -> None:
        self.raw = raw
        self.display = display
        self.calls = 0

    def __call__(self) -> Dataset:
        self.calls += 1
        return ds.loads(self.raw.decode("utf-8"), self.display)


def load_via_cache(path: Path) -> tuple[Dataset, Parser]:
    raw = path.read_bytes()
    parser = Parser(raw, str(path))
    return cache.cached_load(raw, str(path), parser), parser


def entries(home: Path) -> list[Path]:
    directory = home / "kvmq" / "datasets"
    return sorted(directory.glob(f"*{cache.SUFFIX}")) if directory.is_dir() else []


def copy_shipped(tmp_path: Path, name: str = "data.yaml") -> Path:
    target = tmp_path / name
    target.write_bytes(SHIPPED.read_bytes())
    return target


def test_cache_dir_follows_xdg_cache_home(cache_home: Path) -> None:
    assert cache.cache_dir() == cache_home / "kvmq" / "datasets"


def test_relative_xdg_cache_home_is_ignored(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/dir")
    assert cache.cache_dir() == Path.home() / ".cache" / "kvmq" / "datasets"


def test_relative_home_is_ignored(monkeypatch: pytest.MonkeyPatch) -> None:
    import pwd

    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", "relhome")
    expected = Path(pwd.getpwuid(os.getuid()).pw_dir) / ".cache" / "kvmq" / "datasets"
    assert cache.cache_dir() == expected


def test_warm_load_equals_cold_load(tmp_path: Path, cache_home: Path) -> None:
    path = copy_shipped(tmp_path)
    cold, parser = load_via_cache(path)
    assert parser.calls == 1
    assert len(entries(cache_home)) == 1
    warm, parser = load_via_cache(path)
    assert parser.calls == 0, "an unchanged file must come from the cache"
    assert warm == cold
    assert warm.to_dict() == cold.to_dict()
    assert warm.path == cold.path == str(path)
    # The rebuilt objects behave like the loaded ones.
    assert ([d.id for d in FilterIndex(warm).filter("memory")]
            == [d.id for d in FilterIndex(cold).filter("memory")])
    assert warm.find(cold.dimensions[0].id) == cold.dimensions[0]
    assert warm.pros_ranked("kvm") == cold.pros_ranked("kvm")
    assert all(type(d) is Dimension for d in warm.dimensions)


def test_an_entry_of_many_records_reads_back_whole(tmp_path: Path, cache_home: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """Dimensions are stored a few per record: every record is read, in order."""
    monkeypatch.setattr(cache, "DIMENSIONS_PER_RECORD", 2)
    path = copy_shipped(tmp_path)
    cold, _ = load_via_cache(path)
    assert len(cold.dimensions) > 4, "the shipped file must need several records"
    warm, parser = load_via_cache(path)
    assert parser.calls == 0
    assert [d.id for d in warm.dimensions] == [d.id for d in cold.dimensions]
    assert warm.to_dict() == cold.to_dict()


@pytest.mark.parametrize("damage", ["longer", "shorter", "extra"])
def test_an_entry_with_broken_record_framing_falls_back(tmp_path: Path, cache_home: Path,
                                                        monkeypatch: pytest.MonkeyPatch,
                                                        damage: str) -> None:
    """A record length that runs past the body or stops short of it, or a record repeated:
    each is dropped even when the header's length and checksum are made to fit. (A record
    left out is a smaller valid dataset, which anyone who can write the folder could write.)"""
    monkeypatch.setattr(cache, "DIMENSIONS_PER_RECORD", 2)
    path = copy_shipped(tmp_path)
    load_via_cache(path)
    [entry] = entries(cache_home)
    blob = entry.read_bytes()
    head, body = blob[:cache._HEADER - 12], blob[cache._HEADER:]
    records, at = [], 0
    while at < len(body):
        size = int.from_bytes(body[at:at + 4], "big")
        records.append(body[at + 4:at + 4 + size])
        at += 4 + size
    assert len(records) > 2

    def framed(parts: list[bytes]) -> bytes:
        return b"".join(len(part).to_bytes(4, "big") + part for part in parts)

    if damage == "longer":
        new_body = framed(records[:-1]) + (len(records[-1]) + 1).to_bytes(4, "big") + records[-1]
    elif damage == "shorter":
        new_body = framed(records[:-1]) + (len(records[-1]) - 1).to_bytes(4, "big") + records[-1]
    else:
        new_body = framed([*records, records[-1]])
    entry.write_bytes(head + len(new_body).to_bytes(8, "big")
                      + zlib.crc32(new_body).to_bytes(4, "big") + new_body)
    loaded, parser = load_via_cache(path)
    assert parser.calls == 1  # "extra" repeats two dimensions' ids, which a parse refuses
    assert loaded.title == "KVM vs QEMU"


def test_with_no_entry_the_file_is_read_once(tmp_path: Path, cache_home: Path) -> None:
    path = copy_shipped(tmp_path)
    reads: list[int] = []

    def read() -> bytes:
        reads.append(1)
        return path.read_bytes()

    parse = lambda raw: ds.loads(raw.decode("utf-8"), str(path))  # noqa: E731
    cache.load_through_cache(read, str(path), parse)
    assert len(reads) == 1, "a miss with no entry parses the bytes it hashed"
    cache.load_through_cache(read, str(path), parse)
    assert len(reads) == 2, "a hit reads the file once, to hash it"


def test_display_path_is_not_part_of_the_key(tmp_path: Path) -> None:
    first = copy_shipped(tmp_path, "one.yaml")
    second = copy_shipped(tmp_path, "two.yaml")
    load_via_cache(first)
    warm, parser = load_via_cache(second)
    assert parser.calls == 0
    assert warm.path == str(second)


def test_editing_the_file_invalidates_the_entry(tmp_path: Path, cache_home: Path) -> None:
    path = copy_shipped(tmp_path)
    before, _ = load_via_cache(path)
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("title: KVM vs QEMU", "title: KVM versus QEMU", 1),
                    encoding="utf-8")
    after, parser = load_via_cache(path)
    assert parser.calls == 1, "an edited file must be parsed again"
    assert after.title == "KVM versus QEMU" != before.title
    assert len(entries(cache_home)) == 2


def test_invalid_datasets_are_never_cached(tmp_path: Path, cache_home: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("schema: 1\ntitle: [not, text]\n", encoding="utf-8")
    for _ in range(2):
        with pytest.raises(InvalidDataset):
            load_via_cache(path)
    assert entries(cache_home) == []


def test_corrupt_entry_falls_back_to_parsing(tmp_path: Path, cache_home: Path) -> None:
    path = copy_shipped(tmp_path)
    cold, _ = load_via_cache(path)
    [entry] = entries(cache_home)
    blob = bytearray(entry.read_bytes())
    blob[len(blob) // 2] ^= 0xFF  # one flipped byte in the middle of the payload
    entry.write_bytes(bytes(blob))
    again, parser = load_via_cache(path)
    assert parser.calls == 1
    assert again.to_dict() == cold.to_dict()
    # The bad entry was replaced by a good one.
    warm, parser = load_via_cache(path)
    assert parser.calls == 0 and warm.to_dict() == cold.to_dict()


def test_an_unusable_entry_reads_the_file_again_and_caches_what_it_parsed(
        tmp_path: Path, cache_home: Path) -> None:
    # A hit lets go of the file's bytes before decoding the entry (memory), so a bad entry
    # means reading the file again; if it changed meanwhile, the new content is what counts.
    path = copy_shipped(tmp_path)
    load_via_cache(path)
    [old_entry] = entries(cache_home)
    old_entry.write_bytes(old_entry.read_bytes()[:-10])  # truncated: unusable
    old = path.read_bytes()
    new = old.replace(b"title: KVM vs QEMU", b"title: Edited meanwhile", 1)
    assert new != old
    reads = iter([old, new])
    dataset = cache.load_through_cache(lambda: next(reads), str(path),
                                       lambda raw: ds.loads(raw.decode("utf-8"), str(path)))
    assert dataset.title == "Edited meanwhile"
    assert cache.entry_path(cache.content_digest(new)).is_file()


@pytest.mark.parametrize("content", [b"", b"garbage", cache.MAGIC, cache.MAGIC + b"\x00" * 100])
def test_truncated_or_foreign_entry_falls_back(tmp_path: Path, cache_home: Path,
                                               content: bytes) -> None:
    path = copy_shipped(tmp_path)
    load_via_cache(path)
    [entry] = entries(cache_home)
    entry.write_bytes(content)
    again, parser = load_via_cache(path)
    assert parser.calls == 1
    assert again.title == "KVM vs QEMU"


def test_entry_with_a_mismatching_hash_is_ignored(tmp_path: Path, cache_home: Path) -> None:
    """An entry written for other content, put where this file's entry belongs, is not used."""
    path = copy_shipped(tmp_path)
    other = tmp_path / "other.yaml"
    other.write_text(path.read_text(encoding="utf-8").replace("title: KVM vs QEMU",
                                                             "title: Tampered", 1),
                     encoding="utf-8")
    load_via_cache(other)
    [other_entry] = entries(cache_home)
    own_entry = cache.entry_path(cache.content_digest(path.read_bytes()))
    own_entry.write_bytes(other_entry.read_bytes())
    loaded, parser = load_via_cache(path)
    assert parser.calls == 1
    assert loaded.title == "KVM vs QEMU"


def test_tampered_payload_with_recomputed_checksum_but_wrong_digest(tmp_path: Path,
                                                                   cache_home: Path) -> None:
    path = copy_shipped(tmp_path)
    load_via_cache(path)
    [entry] = entries(cache_home)
    blob = bytearray(entry.read_bytes())
    start = len(cache.MAGIC)
    blob[start:start + 32] = bytes(32)  # digest zeroed: the key no longer matches
    entry.write_bytes(bytes(blob))
    _, parser = load_via_cache(path)
    assert parser.calls == 1


def test_entry_from_another_format_tag_is_ignored(tmp_path: Path, cache_home: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    path = copy_shipped(tmp_path)
    raw = path.read_bytes()
    digest = cache.content_digest(raw)
    monkeypatch.setattr(cache, "FORMAT_TAG", "kvmq 0.0.0; schema 0")
    cache.write_entry(cache.entry_path(digest), digest, ds.loads(raw.decode(), str(path)))
    monkeypatch.undo()
    monkeypatch.setenv("XDG_CACHE_HOME", str(cache_home))
    # Same file name would only match by accident; force it to be read.
    stale = entries(cache_home)[0]
    assert cache.read_entry(stale, digest, str(path)) is None


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores directory permissions")
def test_read_only_cache_dir_falls_back(tmp_path: Path, cache_home: Path) -> None:
    cache_home.mkdir()
    cache_home.chmod(stat.S_IRUSR | stat.S_IXUSR)
    try:
        path = copy_shipped(tmp_path)
        for _ in range(2):
            loaded, parser = load_via_cache(path)
            assert parser.calls == 1
            assert loaded.title == "KVM vs QEMU"
    finally:
        cache_home.chmod(stat.S_IRWXU)


def test_unwritable_cache_location_falls_back(tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """Works as root too: the cache home is a regular file, so no directory can be made."""
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("x", encoding="utf-8")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocker))
    path = copy_shipped(tmp_path)
    for _ in range(2):
        loaded, parser = load_via_cache(path)
        assert parser.calls == 1
        assert loaded.title == "KVM vs QEMU"


def test_unreadable_entry_falls_back(tmp_path: Path, cache_home: Path) -> None:
    path = copy_shipped(tmp_path)
    load_via_cache(path)
    [entry] = entries(cache_home)
    entry.unlink()
    entry.mkdir()  # reading a directory fails with an OSError, as a permission error would
    loaded, parser = load_via_cache(path)
    assert parser.calls == 1 and loaded.title == "KVM vs QEMU"


def test_no_cache_env_var_writes_nothing(tmp_path: Path, cache_home: Path,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(cache.NO_CACHE_ENV_VAR, "1")
    path = copy_shipped(tmp_path)
    for _ in range(2):
        _, parser = load_via_cache(path)
        assert parser.calls == 1
    assert not cache_home.exists()


def test_no_cache_zero_means_enabled(tmp_path: Path, cache_home: Path,
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(cache.NO_CACHE_ENV_VAR, "0")
    load_via_cache(copy_shipped(tmp_path))
    assert len(entries(cache_home)) == 1


def test_writes_are_atomic_and_leave_no_temporary_files(tmp_path: Path, cache_home: Path) -> None:
    load_via_cache(copy_shipped(tmp_path))
    names = os.listdir(cache.cache_dir())
    assert len(names) == 1 and names[0].endswith(cache.SUFFIX)


def test_pruning_leaves_other_files_alone(tmp_path: Path, cache_home: Path) -> None:
    """kvmq's cache directory is shared (bundles live there too): only entries are pruned."""
    directory = cache.cache_dir()
    directory.mkdir(parents=True)
    foreign = [directory / "notes.tmp", directory / "other.txt", cache_home / "kvmq" / "x.tmp"]
    for path in foreign:
        path.write_text("x", encoding="utf-8")
    cache.prune(directory, keep=0)
    assert all(path.exists() for path in foreign)


def test_cache_size_is_bounded(tmp_path: Path, cache_home: Path) -> None:
    text = SHIPPED.read_text(encoding="utf-8")
    path = tmp_path / "data.yaml"
    for n in range(cache.MAX_ENTRIES + 4):
        path.write_text(text.replace("title: KVM vs QEMU", f"title: KVM vs QEMU {n}", 1),
                        encoding="utf-8")
        load_via_cache(path)
    assert len(entries(cache_home)) == cache.MAX_ENTRIES


def test_cache_module_stays_light() -> None:
    """The CLI imports it: no textual, rich or platformdirs."""
    code = ("import sys, kvmq.dataset.cache; print(' '.join(m for m in ('textual', 'rich', "
            "'platformdirs') if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == ""


def test_dataset_load_uses_the_cache(tmp_path: Path, cache_home: Path,
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    path = copy_shipped(tmp_path)
    cold = ds.load(path)
    assert len(entries(cache_home)) == 1
    calls: list[str] = []
    real_loads = ds.loads
    monkeypatch.setattr(ds, "loads", lambda *a, **k: calls.append("parse") or real_loads(*a, **k))
    warm = ds.load(path)
    assert calls == [] and warm == cold and warm.to_dict() == cold.to_dict()
    path.write_text(path.read_text(encoding="utf-8") + "\n# edited\n", encoding="utf-8")
    ds.load(path)
    assert calls == ["parse"]


def forge_entry(path: Path, payload: dict, batches: Optional[list] = None) -> None:
    """Write an entry for ``path``'s bytes as anyone who can write the folder could:
    ``payload`` is to_dict() output, ``batches`` replaces its dimensions' packed form."""
    digest = cache.content_digest(path.read_bytes())
    entry = cache.entry_path(digest)
    entry.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    top = {key: value for key, value in payload.items() if key != "dimensions"}
    if batches is None:
        batches = list(packed_batches(Dataset.from_dict(payload).dimensions, 10))
    entry.write_bytes(cache.entry_bytes(digest, top, batches))
    entry.chmod(0o600)


def with_part(packed: str, index: int, value: str) -> str:
    """``packed`` with its part ``index`` (0 verdict ... 4 sources) replaced by ``value``."""
    parts = packed.split(FIELD_SEP)
    parts[index] = value
    return FIELD_SEP.join(parts)


def packed_form(path: Path) -> list:
    """The dimensions of ``path`` as one packed batch, for a test to tamper with."""
    return list(packed_batches(ds.load(path).dimensions, 10**6))


@pytest.mark.parametrize("tamper", [
    lambda d, ids, titles, packed: d.update(title="\x1b]0;PWNED\x07\x1b[2J"),
    lambda d, ids, titles, packed: titles.__setitem__(0, "\x1b]52;c;ZXZpbA==\x07"),
    lambda d, ids, titles, packed: d["pros"][next(iter(d["pros"]))][0].update(votes="many"),
    lambda d, ids, titles, packed: d["pros"][next(iter(d["pros"]))][0].update(votes=10**40),
    lambda d, ids, titles, packed: d.update(subjects=[1, 2]),
    lambda d, ids, titles, packed: packed.__setitem__(0, FIELD_SEP.join(["", "", "", "", ""])),
    lambda d, ids, titles, packed: d.update(extra="field"),
    lambda d, ids, titles, packed: packed.__setitem__(
        0, with_part(packed[0], 2, "x" + PART_SEP + PART_SEP + "nonsense")),
    lambda d, ids, titles, packed: packed.__setitem__(0, packed[0] + "\x1b[2J"),
])
def test_a_forged_entry_is_checked_as_strictly_as_a_parse(tmp_path: Path, cache_home: Path,
                                                          tamper) -> None:
    path = copy_shipped(tmp_path)
    data = ds.load(path).to_dict()
    [batch] = packed_form(path)
    tamper(data, *batch)
    forge_entry(path, data, [batch])
    loaded, parser = load_via_cache(path)
    assert parser.calls == 1, "a forged entry must be dropped and the file parsed"
    assert loaded.title == "KVM vs QEMU"


def test_a_valid_forged_entry_is_used(tmp_path: Path, cache_home: Path) -> None:
    """The control: a well-formed entry passes, so the test above fails for the right reason."""
    path = copy_shipped(tmp_path)
    data = ds.load(path).to_dict()
    data["title"] = "Forged but harmless"
    [batch] = packed_form(path)
    batch[1][0] = "A forged title"
    forge_entry(path, data, [batch])
    loaded, parser = load_via_cache(path)
    assert parser.calls == 0 and loaded.title == "Forged but harmless"
    assert loaded.dimensions[0].title == "A forged title"


@pytest.mark.parametrize("mode", [0o620, 0o602])
def test_an_entry_others_can_write_is_ignored(tmp_path: Path, cache_home: Path, mode: int) -> None:
    path = copy_shipped(tmp_path)
    load_via_cache(path)
    [entry] = entries(cache_home)
    entry.chmod(mode)
    _, parser = load_via_cache(path)
    assert parser.calls == 1


def test_a_cache_folder_others_can_write_is_ignored(tmp_path: Path, cache_home: Path) -> None:
    path = copy_shipped(tmp_path)
    load_via_cache(path)
    cache.cache_dir().chmod(0o777)
    try:
        _, parser = load_via_cache(path)
        assert parser.calls == 1
    finally:
        cache.cache_dir().chmod(0o700)


def test_an_entry_owned_by_someone_else_is_ignored(tmp_path: Path, cache_home: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    path = copy_shipped(tmp_path)
    load_via_cache(path)
    real_uid = os.getuid()
    monkeypatch.setattr(cache.os, "getuid", lambda: real_uid + 1)
    _, parser = load_via_cache(path)
    assert parser.calls == 1


def test_links_and_fifos_in_place_of_an_entry_are_never_read(tmp_path: Path,
                                                             cache_home: Path) -> None:
    path = copy_shipped(tmp_path)
    load_via_cache(path)
    [entry] = entries(cache_home)
    entry.unlink()
    entry.symlink_to("/dev/zero")
    _, parser = load_via_cache(path)
    assert parser.calls == 1
    entry.unlink(missing_ok=True)
    os.mkfifo(entry, 0o600)
    _, parser = load_via_cache(path)  # would hang if the FIFO were opened for reading blocking
    assert parser.calls == 1


def test_validate_never_trusts_the_cache(tmp_path: Path, cache_home: Path, run_kvmq) -> None:
    """A forged entry for an invalid file makes `load` no wiser, and `validate` still says no."""
    path = tmp_path / "bad.yaml"
    path.write_text(SHIPPED.read_text(encoding="utf-8").replace("schema: 1", "schema: 1\nextra: x", 1),
                    encoding="utf-8")
    good = ds.load(SHIPPED).to_dict()
    forge_entry(path, good)
    assert ds.load(path).title == good["title"]  # the forged entry is well-formed: load uses it
    result = run_kvmq("validate", str(path), env={"XDG_CACHE_HOME": str(cache_home),
                                                  "KVMQ_NO_CACHE": ""})
    assert result.returncode == 2, result.stdout
    assert "unknown key 'extra'" in result.stderr
