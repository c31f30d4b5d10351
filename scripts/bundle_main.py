# The ``__main__.py`` of the single-file bundle ``kvmq.pyz`` (scripts/build_bundle.py fills
# in the @...@ placeholders). It is the only code that runs from inside the zip.
#
# Why extract instead of importing from the zip: Textual reads stylesheets (CSS_PATH, e.g.
# kvmq/tui/app.tcss) with open() on a path next to the class's module, and kvmq opens its
# shipped dataset (kvmq/data/kvm-vs-qemu.yaml) the same way: neither path exists inside a
# zip. And zipimport cannot cache compiled bytecode, so every start would recompile textual,
# rich and pygments from source (about 1 s more). So, like shiv, the first run unpacks the
# payload (``site/`` in the zip: kvmq and its pure-Python dependencies) into
# ``$XDG_CACHE_HOME/kvmq/bundles/<version>-<hash>/`` (default ``~/.cache/kvmq/...``):
# into a private temporary directory first, then renamed into place, so concurrent first
# runs never see a half-written tree. Later runs only check that the directory exists, and
# Python keeps its bytecode there. A new build has a new hash, hence a new directory; old
# ones can be deleted at any time. When the cache cannot be written (read-only home), the
# payload goes to a temporary directory that is removed on exit.
#
# Deliberately plain: no f-strings or annotations, so that an old python3 (3.6 on an old
# distribution, even 2.7) gets a clear message rather than a SyntaxError.
# ruff: noqa: UP031, RUF005
import os
import sys

BUNDLE_NAME = "@BUNDLE_NAME@"  # <kvmq version>-<first 16 hex digits of the payload's SHA-256>
PAYLOAD = "site/"
MARKER = ".kvmq-bundle-complete"
MIN_PYTHON = (3, 9)


def _error(message, status):
    sys.stderr.write("kvmq: error: %s\n" % message)
    sys.stderr.flush()
    raise SystemExit(status)


def _cache_root():
    base = os.environ.get("XDG_CACHE_HOME", "")
    if not os.path.isabs(base):  # the XDG spec says to ignore relative paths
        base = os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "kvmq", "bundles")


def _unpack(archive, target):
    """Write the payload of ``archive`` into the new, empty directory ``target``."""
    import shutil
    import zipfile

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
            with bundle.open(info) as source, open(path, "wb") as sink:
                shutil.copyfileobj(source, sink)
    with open(os.path.join(target, MARKER), "w") as marker:
        marker.write(BUNDLE_NAME + "\n")


def _cached(archive):
    """The unpacked payload in the user's cache, unpacking it on first use."""
    import shutil
    import tempfile

    root = _cache_root()
    final = os.path.join(root, BUNDLE_NAME)
    if os.path.isfile(os.path.join(final, MARKER)):
        return final
    os.makedirs(root, mode=0o700, exist_ok=True)
    partial = tempfile.mkdtemp(prefix=".unpacking-" + BUNDLE_NAME + "-", dir=root)
    try:
        _unpack(archive, partial)
        try:
            os.rename(partial, final)
        except OSError:  # another run got there first, or a broken leftover is in the way
            if os.path.isfile(os.path.join(final, MARKER)):
                shutil.rmtree(partial, ignore_errors=True)
                return final
            shutil.rmtree(final, ignore_errors=True)
            os.rename(partial, final)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    return final


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
    except OSError:
        try:
            return _temporary(archive)
        except OSError as exc:
            _error("cannot unpack %s: %s" % (archive, exc), 70)


def main():
    if sys.version_info < MIN_PYTHON:
        _error("kvmq needs Python %d.%d or newer; this is %s (%s)" % (
            MIN_PYTHON + (sys.version.split()[0], sys.executable)), 1)
    archive = os.path.dirname(os.path.abspath(__file__))
    site = _site(archive)
    # The payload goes first, ahead of any other installed copies of the same packages,
    # and the archive itself leaves sys.path (nothing is imported from the zip).
    sys.path[:] = [site] + [entry for entry in sys.path if os.path.abspath(entry or ".") != archive]
    from kvmq.cli import main as kvmq_main

    raise SystemExit(kvmq_main())


if __name__ == "__main__":
    main()
