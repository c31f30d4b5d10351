"""A cache of parsed, validated datasets, keyed by the file's content hash.

Parsing and validating a large dataset costs about as much as libyaml takes to compose it
(0.5 s for 5,000 dimensions); re-reading the same result with :mod:`marshal` costs a few
per cent of that. An entry is only ever used when the hash (BLAKE2b-256) of the file's bytes, the kvmq
version, the dataset schema and the Python/marshal format all match what it was written
with, and its payload checksum is intact. Only datasets that validated are stored.

The cache is a convenience, never a source of errors: any failure to find, read, decode or
write it (read-only home, full disk, corrupt or foreign file) falls back to parsing, without
a message. ``KVMQ_NO_CACHE=1`` turns it off.

Where: ``$XDG_CACHE_HOME/kvmq/datasets`` (or ``~/.cache/kvmq/datasets``) on Linux and other
XDG systems, the platform's cache directory (through platformdirs, when installed) elsewhere. Plain Python on
purpose, like :mod:`kvmq.dataset`: the CLI imports it, so nothing here imports textual or
rich, and nothing slow (no tempfile, no platformdirs on Linux) is imported at all.
"""

from __future__ import annotations

import contextlib
import gc
import marshal
import os
import sys
import zlib
from pathlib import Path
from typing import Any, Callable, Optional

try:  # the builtin module: importing hashlib (OpenSSL) would cost the CLI ~4 ms
    from _blake2 import blake2b
except ImportError:  # pragma: no cover - Python built without its own hash modules
    from hashlib import blake2b

from kvmq import __version__
from kvmq import dataset as dataset_module
from kvmq.dataset import (
    SCHEMA_VERSION,
    Command,
    Dataset,
    Dimension,
    Note,
    Pro,
    Source,
    Subject,
    _search_text,
)

NO_CACHE_ENV_VAR = "KVMQ_NO_CACHE"
MAX_ENTRIES = 16
SUFFIX = ".kvmqc"
# File layout: MAGIC, the 32-byte content digest of the dataset file, the CRC-32 of the body
# (4 bytes, big-endian), then the body: marshal of (format tag, payload).
MAGIC = b"KVMQC\x00\x01\n"
_HEADER = len(MAGIC) + 32 + 4


def _loader_stamp() -> str:
    # A development checkout changes the loader without bumping the version: its size and
    # mtime make such a change a cache miss (reinstalling only costs one miss too).
    try:
        info = os.stat(dataset_module.__file__ or "")
    except (OSError, TypeError):
        return "?"
    return f"{info.st_size}:{info.st_mtime_ns}"


# Everything besides the file's bytes that decides whether an entry can be reused.
FORMAT_TAG = (f"kvmq {__version__}; schema {SCHEMA_VERSION}; loader {_loader_stamp()}; "
              f"python {sys.version_info[0]}.{sys.version_info[1]}; marshal {marshal.version}")


# --------------------------------------------------------------------------- public API


def enabled() -> bool:
    """False when ``KVMQ_NO_CACHE`` is set to anything but ``""`` or ``"0"``."""
    return os.environ.get(NO_CACHE_ENV_VAR, "").strip() in ("", "0")


def cache_dir() -> Path:
    """Where entries live; read from the environment on every call (tests change it)."""
    # A subdirectory of its own: kvmq's cache directory holds other things (bundles).
    if sys.platform.startswith(("linux", "freebsd", "openbsd", "netbsd")):
        return _xdg_cache_home() / "kvmq" / "datasets"
    try:  # macOS and Windows have their own conventions; platformdirs knows them
        import platformdirs
    except ImportError:  # pragma: no cover - textual depends on platformdirs
        return _xdg_cache_home() / "kvmq" / "datasets"
    return Path(platformdirs.user_cache_dir("kvmq", appauthor=False)) / "datasets"  # pragma: no cover


def content_digest(raw: bytes) -> bytes:
    """The 32-byte BLAKE2b hash of a dataset file's bytes: the part of the key that follows it.

    BLAKE2b rather than SHA-256: as strong, about as fast on large files, and its module
    is built in, where hashlib's SHA-256 would first load OpenSSL (measured: 4 ms, a few per
    cent of ``kvmq show``).
    """
    return blake2b(raw, digest_size=32).digest()


def entry_path(digest: bytes, directory: Optional[Path] = None) -> Path:
    """The cache file for a content digest (the name also covers :data:`FORMAT_TAG`)."""
    name = blake2b(digest + FORMAT_TAG.encode(), digest_size=20).hexdigest()
    return (directory or cache_dir()) / f"{name}{SUFFIX}"


def cached_load(raw: bytes, display: str, parse: Callable[[], Dataset]) -> Dataset:
    """The dataset for a file's bytes: from the cache when an entry matches, else ``parse()``.

    ``parse`` must parse and validate ``raw`` (raising on an invalid dataset, which is then
    never cached); the dataset it returns is stored for next time. ``display`` becomes
    :attr:`Dataset.path` of a dataset read from the cache: it is not part of the key, so the
    same file reached through another path still hits.
    """
    if not enabled():
        return parse()
    try:
        digest = content_digest(raw)
        path = entry_path(digest)
        dataset = read_entry(path, digest, display)
    except Exception:  # the cache must never be the reason loading fails
        return parse()
    if dataset is not None:
        return dataset
    dataset = parse()
    with contextlib.suppress(Exception):
        write_entry(path, digest, dataset)
    return dataset


def lookup(path: Path, display: Optional[str] = None) -> Optional[Dataset]:
    """The cached dataset for the file at ``path`` if there is a valid entry; else None.

    Never parses and never raises: for callers that only want the fast path (the explorer
    decides with it whether a large file needs the loading screen).
    """
    if not enabled():
        return None
    try:
        with open(path, "rb") as handle:
            raw = handle.read(dataset_module.MAX_FILE_BYTES + 1)
        if len(raw) > dataset_module.MAX_FILE_BYTES:
            return None
        digest = content_digest(raw)
        del raw  # not needed any more: keep it out of the peak memory of the read
        return read_entry(entry_path(digest), digest, str(path) if display is None else display)
    except Exception:
        return None


# --------------------------------------------------------------------------- entries


def read_entry(path: Path, digest: bytes, display: str) -> Optional[Dataset]:
    """The dataset stored at ``path`` if it was written for ``digest``; else None.

    Never raises for a missing, unreadable, truncated, corrupt or foreign entry.
    """
    try:
        with open(path, "rb") as handle:
            blob = handle.read()
    except OSError:
        return None
    if len(blob) < _HEADER or not blob.startswith(MAGIC):
        return None
    stored_digest = blob[len(MAGIC):len(MAGIC) + 32]
    stored_crc = int.from_bytes(blob[len(MAGIC) + 32:_HEADER], "big")
    body = memoryview(blob)[_HEADER:]
    if stored_digest != digest or zlib.crc32(body) != stored_crc:
        return None
    gc_was_enabled = gc.isenabled()
    gc.disable()  # tens of thousands of small objects: the collector would only slow it down
    try:
        tag, payload = marshal.loads(body)
        body.release()
        del blob  # a few MB that need not stay alive while the objects are built
        if tag != FORMAT_TAG:
            return None
        dataset = dataset_from_payload(payload, display)
    except Exception:
        return None
    finally:
        if gc_was_enabled:
            gc.enable()
    with contextlib.suppress(OSError):  # mark it recently used, for the pruning
        os.utime(path)
    return dataset


def write_entry(path: Path, digest: bytes, dataset: Dataset) -> None:
    """Store ``dataset`` atomically (temporary file in the same directory, then rename).

    Raises OSError (or ValueError) on failure; :func:`cached_load` swallows both.
    """
    body = marshal.dumps((FORMAT_TAG, dataset_payload(dataset)))
    blob = b"".join((MAGIC, digest, zlib.crc32(body).to_bytes(4, "big"), body))
    directory = path.parent
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    temporary = directory / f".{path.name}.{os.getpid()}.{os.urandom(4).hex()}.tmp"
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
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
                        entries.append((item.stat().st_mtime, item.path))
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


# --------------------------------------------------------------------------- payload


def dataset_payload(dataset: Dataset) -> dict[str, Any]:
    """What is stored: :meth:`Dataset.to_dict` plus each dimension's search text."""
    return {
        "dataset": dataset.to_dict(),
        "search_text": [dimension.search_text for dimension in dataset.dimensions],
    }


def dataset_from_payload(payload: dict[str, Any], display: str) -> Dataset:
    """Rebuild the :class:`Dataset` the loader built, without validating again.

    Only for payloads this module wrote after a successful validation (the entry's hash and
    checksum are checked before this runs). Objects are created without going through the
    frozen dataclasses' ``__init__`` (the fields are set directly), which is several times
    faster; the result compares equal to the loaded dataset, ``search_text`` included.
    """
    data = payload["dataset"]
    search_texts = payload.get("search_text")
    new = object.__new__
    source_data = data["source"]
    source = _make(Source, {"title": source_data["title"], "publisher": source_data["publisher"],
                            "url": source_data.get("url")})
    subjects = tuple(_make(Subject, dict(s)) for s in data["subjects"])
    dimensions = []
    for index, d in enumerate(data["dimensions"]):
        notes = tuple(_make(Note, n) for n in d["notes"])
        commands = {}
        for sid, cmds in d["commands"].items():
            built = []
            for c in cmds:
                command = new(Command)
                command.__dict__.update(c)
                built.append(command)
            commands[sid] = tuple(built)
        descriptions = d["descriptions"]
        title = d["title"]
        search_text = (search_texts[index] if search_texts is not None
                       else _search_text(title, descriptions, notes, commands))
        dimension = new(Dimension)
        dimension.__dict__.update({
            "id": d["id"], "title": title, "descriptions": descriptions,
            "verdict": d.get("verdict"), "notes": notes, "commands": commands,
            "sources": tuple(d["sources"]), "search_text": search_text,
        })
        dimensions.append(dimension)
    pros = {sid: tuple(_make(Pro, p) for p in items) for sid, items in data["pros"].items()}
    return _make(Dataset, {
        "title": data["title"], "summary": data["summary"], "source": source,
        "subjects": subjects, "dimensions": tuple(dimensions), "pros": pros,
        "path": display, "schema": data["schema"],
    })


def _is_temporary(name: str) -> bool:
    # Only this module's own temporary files: ".<entry>.kvmqc.<pid>.<random>.tmp".
    return name.startswith(".") and name.endswith(".tmp") and f"{SUFFIX}." in name


def _make(cls: type, fields: dict[str, Any]) -> Any:
    obj = object.__new__(cls)
    obj.__dict__.update(fields)
    return obj


def _xdg_cache_home() -> Path:
    # The XDG base directory rules: a relative $XDG_CACHE_HOME is invalid and ignored.
    value = os.environ.get("XDG_CACHE_HOME", "")
    if value and os.path.isabs(value):
        return Path(value)
    return Path.home() / ".cache"
