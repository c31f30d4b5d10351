"""A cache of parsed, validated datasets, keyed by the hash of the file's bytes.

Parsing and validating a large dataset costs about as much as libyaml takes to compose it;
reading the same result back with :mod:`marshal` costs a small part of that. An entry is used
only when all of these hold, else it is ignored (and rewritten on the next successful load):

- the cache folder and the entry are owned by the current user and writable by no one else,
  and the entry is a regular file (not a link, FIFO or device) no larger than the size its
  header announces;
- the SHA-256 of the dataset file's bytes, the kvmq version, the schema, the loader's own
  files and the Python/marshal format all match what it was written with;
- what it holds passes :meth:`Dataset.from_dict`, which checks keys, types, ranges, subject
  references and control characters as strictly as a parse (each dimension's packed form
  whole, against the one pattern every packed dimension of the dataset must match). A
  forged entry can therefore put nothing on a terminal that a valid dataset could not. The
  loader's spelling rules (URL shape, id characters, single-line fields, no surrounding
  spaces) are not repeated.

The cache is a convenience, never a source of errors: any failure falls back to parsing,
without a message. ``KVMQ_NO_CACHE=1`` turns it off. ``kvmq validate`` never uses it.

Where: ``$XDG_CACHE_HOME/kvmq/datasets`` or ``~/.cache/kvmq/datasets`` (relative values of
either variable are ignored, as the XDG rules say).
"""

from __future__ import annotations

import contextlib
import hashlib
import marshal
import os
import pwd
import stat
import sys
import zlib
from pathlib import Path
from typing import Any, BinaryIO, Callable, Iterable, Mapping, Optional

from kvmq import __version__
from kvmq.dataset.collector import collector_paused
from kvmq.dataset.model import SCHEMA_VERSION, Dataset, packed_batches

NO_CACHE_ENV_VAR = "KVMQ_NO_CACHE"
MAX_ENTRIES = 16
SUFFIX = ".kvmqc"
# File layout: MAGIC, the 32-byte digest of the dataset file, the body's length (8 bytes,
# big-endian), the CRC-32 of the body (4 bytes: accidental damage only; trust comes from the
# ownership rules and from_dict), then the body: records, each a 4-byte big-endian length
# and a marshal. The first holds (format tag, Dataset.to_dict() without "dimensions"), each
# later one up to DIMENSIONS_PER_RECORD of its dimensions, in order, in their packed form
# (ids, titles, packed strings; see model.packed_batches): a warm load holds one record's
# bytes at a time besides the dataset it builds, and builds no text it will not keep.
MAGIC = b"KVMQC\x00\x04\n"
DIMENSIONS_PER_RECORD = 1000
_HEADER = len(MAGIC) + 32 + 8 + 4
#: No entry may be larger than this, whatever its header says.
MAX_ENTRY_BYTES = 256 * 1024 * 1024


def _loader_stamp() -> str:
    # A development checkout changes the loader without bumping the version: the size and
    # mtime of the wing's files make such a change a miss (reinstalling costs one miss too).
    here = Path(__file__).resolve().parent
    parts = []
    for name in ("model.py", "loader.py", "cache.py"):
        try:
            info = os.stat(here / name)
        except OSError:
            return "?"
        parts.append(f"{info.st_size}:{info.st_mtime_ns}")
    return ",".join(parts)


# Everything besides the file's bytes that decides whether an entry can be reused.
FORMAT_TAG = (f"kvmq {__version__}; schema {SCHEMA_VERSION}; loader {_loader_stamp()}; "
              f"python {sys.version_info[0]}.{sys.version_info[1]}; marshal {marshal.version}")


def enabled() -> bool:
    """False when ``KVMQ_NO_CACHE`` is set to anything but ``""`` or ``"0"``."""
    return os.environ.get(NO_CACHE_ENV_VAR, "").strip() in ("", "0")


def home_dir() -> Path:
    """The user's home: ``$HOME`` when it is absolute, else the password database's entry."""
    home = os.environ.get("HOME", "")
    if os.path.isabs(home):
        return Path(home)
    try:
        return Path(pwd.getpwuid(os.getuid()).pw_dir)
    except KeyError:  # pragma: no cover - a uid with no entry
        return Path("/nonexistent")


def cache_root() -> Path:
    """kvmq's cache folder (datasets, probe results, bundles live below it)."""
    value = os.environ.get("XDG_CACHE_HOME", "")
    base = Path(value) if value and os.path.isabs(value) else home_dir() / ".cache"
    return base / "kvmq"


def cache_dir() -> Path:
    """Where dataset entries live; read from the environment on every call (tests change it)."""
    return cache_root() / "datasets"


def content_digest(raw: bytes) -> bytes:
    """The 32-byte SHA-256 of a dataset file's bytes: the part of the key that follows it."""
    return hashlib.sha256(raw).digest()


def entry_path(digest: bytes, directory: Optional[Path] = None) -> Path:
    """The cache file for a content digest (the name also covers :data:`FORMAT_TAG`)."""
    name = hashlib.sha256(digest + FORMAT_TAG.encode()).hexdigest()[:40]
    return (directory or cache_dir()) / f"{name}{SUFFIX}"


def private_to_me(info: os.stat_result) -> bool:
    """Owned by the current user and writable by neither group nor others."""
    return info.st_uid == os.getuid() and not info.st_mode & (stat.S_IWGRP | stat.S_IWOTH)


def cached_load(raw: bytes, display: str, parse: Callable[[], Dataset]) -> Dataset:
    """The dataset for a file's bytes: from the cache when a trusted entry matches, else
    ``parse()`` (which must validate, raising on an invalid dataset, which is never cached).

    ``display`` becomes :attr:`Dataset.path`; it is not part of the key.
    """
    return load_through_cache(lambda: raw, display, lambda _raw: parse())


def load_through_cache(read: Callable[[], bytes], display: str,
                       parse: Callable[[bytes], Dataset]) -> Dataset:
    """Like :func:`cached_load`, for a file that ``read()`` reads (again, if need be).

    When an entry exists, the file's bytes are let go once hashed, so they are not held
    while the entry is decoded: what a warm start holds at its peak is the entry and the
    dataset being built. If that entry turns out unusable, the file is read again and parsed;
    with no entry at all, the bytes first read are parsed.
    """
    raw = read()
    if not enabled():
        return parse(raw)
    try:
        digest = content_digest(raw)
        path = entry_path(digest)
        has_entry = os.path.lexists(path)
    except Exception:  # the cache must never be the reason loading fails
        return parse(raw)
    if has_entry:
        del raw
        try:
            dataset = read_entry(path, digest, display)
        except Exception:
            dataset = None
        if dataset is not None:
            return dataset
        raw = read()
        digest = content_digest(raw)  # it may have changed since: the entry is for what is parsed
        path = entry_path(digest)
    # The parse pauses the collector while it builds; keeping it paused through the write
    # (whose to_dict allocates) leaves the new objects' first collection to after the load,
    # as it is after a warm load or a plain yaml.load, instead of inside the write.
    with collector_paused():
        dataset = parse(raw)
        with contextlib.suppress(Exception):
            write_entry(path, digest, dataset)
    return dataset


def read_entry(path: Path, digest: bytes, display: str) -> Optional[Dataset]:
    """The dataset stored at ``path`` if it is trusted and was written for ``digest``; else None.

    Never raises for a missing, foreign, unsafe, truncated or corrupt entry.
    """
    try:
        if not private_to_me(os.stat(path.parent)):
            return None
        # O_NOFOLLOW: no links; O_NONBLOCK: a FIFO planted there cannot hang the open.
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode) or not private_to_me(info):
            return None
        if not _HEADER <= info.st_size <= MAX_ENTRY_BYTES:
            return None
        with os.fdopen(fd, "rb") as handle:
            fd = -1
            header = handle.read(_HEADER)
            if len(header) != _HEADER or not header.startswith(MAGIC):
                return None
            if header[len(MAGIC):len(MAGIC) + 32] != digest:
                return None
            length = int.from_bytes(header[len(MAGIC) + 32:len(MAGIC) + 40], "big")
            crc = int.from_bytes(header[len(MAGIC) + 40:], "big")
            if _HEADER + length != info.st_size:
                return None
            records = _RecordReader(handle, length)
            with collector_paused():
                tag, top = marshal.loads(next(records))
                if tag != FORMAT_TAG:
                    return None
                dataset = Dataset.from_dict(top, display,
                                            dimension_batches=map(marshal.loads, records))
            if records.left or records.crc != crc:
                return None
    except Exception:  # I/O, marshal's errors and from_dict's ValueError alike: not ours
        return None
    finally:
        if fd >= 0:
            os.close(fd)
    with contextlib.suppress(OSError):  # mark it recently used, for the pruning
        os.utime(path)
    return dataset


class _RecordReader:
    """The body's records, one at a time: each is a 4-byte big-endian length and that many
    bytes. Keeps the running CRC-32 and refuses a record that runs past the body's end."""

    def __init__(self, handle: BinaryIO, length: int) -> None:
        self.handle = handle
        self.left = length
        self.crc = 0

    def __iter__(self) -> _RecordReader:
        return self

    def __next__(self) -> bytes:
        if self.left == 0:
            raise StopIteration
        prefix = self.handle.read(4)
        size = int.from_bytes(prefix, "big")
        if len(prefix) != 4 or size > self.left - 4:
            raise ValueError("a record runs past the end of the entry")
        record = self.handle.read(size)
        if len(record) != size:
            raise ValueError("the entry is shorter than its header says")
        self.left -= 4 + size
        self.crc = zlib.crc32(record, zlib.crc32(prefix, self.crc))
        return record


def entry_bytes(digest: bytes, top: Mapping[str, Any], dimension_batches: Iterable[Any]) -> bytes:
    """An entry's whole content for a dataset file's digest: ``top`` is ``Dataset.to_dict()``
    without "dimensions", ``dimension_batches`` the dimensions' packed form
    (:func:`~kvmq.dataset.model.packed_batches`)."""
    records = [marshal.dumps((FORMAT_TAG, dict(top)))]
    records += [marshal.dumps(batch) for batch in dimension_batches]
    body = b"".join(part for record in records for part in (len(record).to_bytes(4, "big"),
                                                             record))
    return b"".join((MAGIC, digest, len(body).to_bytes(8, "big"),
                     zlib.crc32(body).to_bytes(4, "big"), body))


def dataset_entry_bytes(digest: bytes, dataset: Dataset) -> bytes:
    top = dataset.to_dict(with_dimensions=False)
    return entry_bytes(digest, top, packed_batches(dataset.dimensions, DIMENSIONS_PER_RECORD))


def write_entry(path: Path, digest: bytes, dataset: Dataset) -> None:
    """Store ``dataset`` atomically (temporary file in the same directory, then rename).

    Raises OSError (or ValueError) on failure; :func:`cached_load` swallows both.
    """
    blob = dataset_entry_bytes(digest, dataset)
    directory = path.parent
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    if not private_to_me(os.stat(directory)):
        raise PermissionError(f"{directory} is not private to this user")
    temporary = directory / f".{path.name}.{os.getpid()}.{os.urandom(4).hex()}.tmp"
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(blob)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
    prune(directory, keep=MAX_ENTRIES)


def prune(directory: Path, keep: int = MAX_ENTRIES) -> None:
    """Delete all but the ``keep`` most recently used entries (and stale temporary files)."""
    entries: list[tuple[float, str]] = []
    try:
        with os.scandir(directory) as scan:
            for item in scan:
                if item.name.endswith(SUFFIX) or _is_temporary(item.name):
                    try:
                        entries.append((item.stat(follow_symlinks=False).st_mtime, item.path))
                    except OSError:
                        continue
    except OSError:
        return
    entries.sort(reverse=True)
    for _, stale in entries[keep:]:
        with contextlib.suppress(OSError):
            os.unlink(stale)


def clear() -> int:
    """Delete every entry; returns how many were removed."""
    removed = 0
    try:
        with os.scandir(cache_dir()) as scan:
            for item in scan:
                if item.name.endswith(SUFFIX):
                    try:
                        os.unlink(item.path)
                        removed += 1
                    except OSError:
                        pass
    except OSError:
        pass
    return removed


def _is_temporary(name: str) -> bool:
    # Only this module's own temporary files: ".<entry>.kvmqc.<pid>.<random>.tmp".
    return name.startswith(".") and name.endswith(".tmp") and f"{SUFFIX}." in name
