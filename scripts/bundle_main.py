# The ``__main__.py`` of the single-file bundle ``kvmq.pyz`` (scripts/build_bundle.py fills
# in the @...@ placeholders). It is the only code that runs from inside the zip.
#
# Why extract instead of importing from the zip: Textual reads stylesheets (CSS_PATH, e.g.
# kvmq/tui/app.tcss) with open() on a path next to the class's module, and kvmq opens its
# shipped dataset (kvmq/data/kvm-vs-qemu.yaml) the same way: neither path exists inside a
# zip. And zipimport cannot cache compiled bytecode, so every start would recompile textual,
# rich and pygments from source (about 1 s more). So, like shiv, the first run unpacks the
# payload (``site/`` in the zip: kvmq and its pure-Python dependencies) into
# ``$XDG_CACHE_HOME/kvmq/bundles/<version>-<hash>/`` (default ``~/.cache/kvmq/...``): into a
# private temporary directory first, then renamed into place, so concurrent first runs never
# see a half-written tree. Later runs only check that the directory exists, and Python keeps
# its bytecode there: each module is compiled when it is first imported, so a run that is
# thrown away with its folder (the Ansible report) compiles only what it uses. A new build has
# a new hash, hence a new directory; old ones can be deleted at any time. When the cache
# cannot be written (read-only home), the payload goes to a temporary directory that is
# removed on exit.
#
# Deliberately plain: no f-strings or annotations, so that an old python3 (3.6 on an old
# distribution, even 2.7) gets a clear message rather than a SyntaxError.
# ruff: noqa: UP031, RUF005
import os
import stat
import sys

BUNDLE_NAME = "@BUNDLE_NAME@"  # <kvmq version>-<first 16 hex digits of the payload's SHA-256>
PAYLOAD = "site/"
MARKER = ".kvmq-bundle-complete"
# One line per payload file, written at unpack: "<sha256> <size> <relative path>". Its
# hashes must give the digest in BUNDLE_NAME (so it describes this archive), and each file
# must still be there with its size (a cheap check, done on every start).
MANIFEST = ".kvmq-manifest"
MIN_PYTHON = (3, 9)


class Untrusted(Exception):
    """An unpacked folder that must not be run from (the reason is the message)."""


def _error(message, status):
    sys.stderr.write("kvmq: error: %s\n" % message)
    sys.stderr.flush()
    raise SystemExit(status)


def _cache_base():
    """kvmq's cache folder, as the dataset cache finds it: ``$XDG_CACHE_HOME/kvmq`` or
    ``~/.cache/kvmq`` (a relative XDG_CACHE_HOME or HOME is ignored, as the XDG spec says)."""
    base = os.environ.get("XDG_CACHE_HOME", "")
    if not os.path.isabs(base):
        home = os.environ.get("HOME", "")
        if not os.path.isabs(home):
            import pwd

            home = pwd.getpwuid(os.getuid()).pw_dir
        base = os.path.join(home, ".cache")
    return os.path.join(base, "kvmq")


def _cache_root():
    return os.path.join(_cache_base(), "bundles")


def _check_owned(path):
    """Raise Untrusted unless ``path`` is a real directory of ours that no one else can write."""
    info = os.lstat(path)
    if not stat.S_ISDIR(info.st_mode):
        raise Untrusted("%s is not a directory" % path)
    if info.st_uid != os.getuid():
        raise Untrusted("%s belongs to another user" % path)
    if info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        raise Untrusted("%s is writable by others" % path)


def _payload_digest(entries):
    """What build_bundle.py hashes into BUNDLE_NAME, from (name, sha256 hex) pairs."""
    import hashlib

    digest = hashlib.sha256()
    for name, hexdigest in sorted(entries):
        digest.update((PAYLOAD + name).encode() + b"\0" + bytes.fromhex(hexdigest))
    return digest.hexdigest()[:16]


def _verify(folder):
    """Raise Untrusted unless ``folder`` is a complete, untouched unpacking of this bundle.

    Checks ownership and modes of the folder and its parents up to kvmq's cache folder, then
    the manifest: that it matches this archive, and that every file is a regular file of ours
    with the recorded size. Sizes, not hashes, on each start: the folder is private, so this
    is about damage (a deleted or truncated file), and it stays cheap.
    """
    _verify_parents(folder)
    manifest = os.path.join(folder, MANIFEST)
    info = os.lstat(manifest)
    if not stat.S_ISREG(info.st_mode) or info.st_uid != os.getuid() or info.st_size > 1 << 22:
        raise Untrusted("its manifest is not a private regular file")
    entries = []
    with open(manifest, encoding="utf-8") as handle:
        for line in handle:
            hexdigest, size, name = line.rstrip("\n").split(" ", 2)
            entries.append((name, hexdigest, int(size)))
    if _payload_digest([(name, hexdigest) for name, hexdigest, _ in entries]) != \
            BUNDLE_NAME.rsplit("-", 1)[-1]:
        raise Untrusted("its manifest does not describe this bundle")
    uid = os.getuid()
    for name, _, size in entries:
        info = os.lstat(os.path.join(folder, *name.split("/")))
        if not stat.S_ISREG(info.st_mode) or info.st_size != size or info.st_uid != uid \
                or info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
            raise Untrusted("%s was changed" % name)


def _unpack(archive, target):
    """Write the payload of ``archive`` into the new, empty, private directory ``target``,
    with its manifest. Nothing is compiled here: see main()."""
    import hashlib
    import zipfile

    lines = []
    old_umask = os.umask(0o077)  # everything private, whatever the caller's umask
    try:
        with zipfile.ZipFile(archive) as bundle:
            for info in bundle.infolist():
                name = info.filename
                if not name.startswith(PAYLOAD) or name.endswith("/"):
                    continue
                relative = name[len(PAYLOAD):]
                parts = relative.split("/")
                if relative.startswith("/") or ".." in parts or "\\" in relative:
                    _error("corrupt bundle: unsafe member name %r" % name, 70)
                path = os.path.join(target, *parts)
                os.makedirs(os.path.dirname(path), exist_ok=True)
                digest = hashlib.sha256()
                with bundle.open(info) as source, open(path, "xb") as sink:
                    while True:
                        chunk = source.read(1 << 16)
                        if not chunk:
                            break
                        digest.update(chunk)
                        sink.write(chunk)
                lines.append("%s %d %s\n" % (digest.hexdigest(), info.file_size, relative))
        with open(os.path.join(target, MANIFEST), "w", encoding="utf-8") as manifest:
            manifest.writelines(sorted(lines, key=lambda line: line.split(" ", 2)[2]))
        with open(os.path.join(target, MARKER), "w") as marker:
            marker.write(BUNDLE_NAME + "\n")
    finally:
        os.umask(old_umask)


def _cached(archive):
    """The unpacked payload in the user's cache, unpacking it afresh unless it is trusted."""
    import shutil
    import tempfile

    root = _cache_root()
    final = os.path.join(root, BUNDLE_NAME)
    try:
        _verify(final)
        return final
    except (OSError, ValueError, Untrusted):
        pass
    old_umask = os.umask(0o077)
    try:
        os.makedirs(root, mode=0o700, exist_ok=True)
    finally:
        os.umask(old_umask)
    _verify_parents(root)
    partial = tempfile.mkdtemp(prefix=".unpacking-" + BUNDLE_NAME + "-", dir=root)
    try:
        _unpack(archive, partial)
        try:
            os.rename(partial, final)
        except OSError:  # another run got there first, or a broken leftover is in the way
            try:
                _verify(final)
                shutil.rmtree(partial, ignore_errors=True)
                return final
            except (OSError, ValueError, Untrusted):
                pass
            _move_aside(final)
            os.rename(partial, final)
        _verify(final)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    return final


def _verify_parents(path):
    """Raise Untrusted unless ``path`` and every folder above it below kvmq's cache folder
    are ours and writable by no one else, and the cache folder itself is ours."""
    base = os.path.abspath(_cache_base())
    current = os.path.abspath(path)
    while current.startswith(base + os.sep):
        _check_owned(current)
        current = os.path.dirname(current)
    if os.lstat(base).st_uid != os.getuid():
        raise Untrusted("%s belongs to another user" % base)


def _move_aside(path):
    """Get a broken or foreign unpacking out of the way (deleting it if it is ours)."""
    import shutil

    try:
        info = os.lstat(path)
    except OSError:
        return
    if stat.S_ISDIR(info.st_mode) and info.st_uid == os.getuid():
        shutil.rmtree(path, ignore_errors=True)
    if os.path.lexists(path):
        # Not ours, or not removable: rename() below fails and the caller falls back.
        os.rename(path, path + ".broken-%d" % os.getpid())


def _temporary(archive):
    """The payload unpacked into a private temporary directory, removed at exit."""
    import atexit
    import shutil
    import tempfile

    target = tempfile.mkdtemp(prefix="kvmq-bundle-")
    atexit.register(shutil.rmtree, target, True)
    _unpack(archive, target)
    return target


def _site(archive):
    if os.path.isdir(archive):  # an unzipped bundle (debugging): run the payload in place
        return os.path.join(archive, PAYLOAD)
    try:
        return _cached(archive)
    except (OSError, ValueError, Untrusted):
        try:
            return _temporary(archive)
        except OSError as exc:
            _error("cannot unpack %s: %s" % (archive, exc), 70)


def main():
    if sys.version_info < MIN_PYTHON:
        _error("kvmq needs Python %d.%d or newer; this is %s (%s)" % (
            MIN_PYTHON + (sys.version.split()[0], sys.executable)), 1)
    archive = os.path.dirname(os.path.abspath(__file__))
    try:
        site = _site(archive)
    except SystemExit:
        raise
    except Exception as exc:  # never a traceback from the bootstrap
        _error("cannot start the bundle: %s: %s" % (type(exc).__name__, exc), 70)
    # Python writes each module's bytecode beside it in the unpacked folder as it first
    # imports it, even under PYTHONDONTWRITEBYTECODE=1 or -B (common in containers): the
    # folder is kvmq's own cache, and without bytecode every start would compile textual
    # and rich again (about 1 s). Compiling the whole payload at unpack instead cost a
    # throwaway run, such as the Ansible report's, 1.6 s of CPU per host for modules that
    # `kvmq check` never imports. (A module of Python's own library lacking its bytecode
    # gets it written too, where that folder is writable, as without the variable.)
    sys.dont_write_bytecode = False
    # The payload goes first, ahead of any other installed copies of the same packages,
    # and the archive itself leaves sys.path (nothing is imported from the zip).
    sys.path[:] = [site] + [entry for entry in sys.path if os.path.abspath(entry or ".") != archive]
    try:
        from kvmq.cli import main as kvmq_main
    except ImportError as exc:
        _error("the unpacked bundle in %s is incomplete (%s): delete that folder" % (site, exc), 70)

    raise SystemExit(kvmq_main())


if __name__ == "__main__":
    main()
