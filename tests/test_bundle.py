"""The single-file bundle (``make bundle``, scripts/build_bundle.py).

Built once per session into a temporary directory, then run the way an operator on an
air-gapped host would: with the oldest and newest Pythons this machine has (3.9 and 3.13),
each from a fresh venv with no packages at all, in isolated mode (``python -I``), from an
empty working directory, with ``HOME`` and ``XDG_CACHE_HOME`` pointing into a temporary
directory. A missing interpreter skips its tests with the reason, never silently.
"""

from __future__ import annotations

import glob
import importlib.util
import json
import os
import pty
import re
import select
import shutil
import signal
import stat
import struct
import subprocess
import time
import zipfile
from pathlib import Path
from typing import Callable, Optional

import pytest

from kvmq import __version__
from kvmq.dataset.loader import load
from kvmq.dataset.model import SCHEMA_VERSION
from tests import bundle_cache

REPO_ROOT = Path(__file__).resolve().parents[1]
SHIPPED_DATASET = REPO_ROOT / "data" / "kvm-vs-qemu.yaml"
PYTHONS = ("3.9", "3.13")  # the oldest and newest supported: what the bundle must serve
MAX_BUNDLE_BYTES = 8_000_000  # 2.6 MB when written; a jump means something big crept in

pytestmark = pytest.mark.slow

Run = Callable[..., "subprocess.CompletedProcess[str]"]


def find_python(version: str) -> Optional[str]:
    """An interpreter for ``version`` that really runs (pyenv shims may not), or None."""
    candidates = [shutil.which(f"python{version}")]
    try:
        root = subprocess.run(["pyenv", "root"], capture_output=True, text=True, timeout=20,
                              check=False).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        root = ""
    if root:
        found = glob.glob(os.path.join(root, "versions", f"{version}.*", "bin", f"python{version}"))
        candidates += sorted(found, key=lambda p: [int(n) for n in re.findall(r"\d+", p)[-3:]],
                             reverse=True)
    for candidate in filter(None, candidates):
        try:
            result = subprocess.run([candidate, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
                                    capture_output=True, text=True, timeout=30, check=False)
        except (OSError, subprocess.SubprocessError):
            continue
        if result.returncode == 0 and result.stdout.strip() == version:
            return candidate
    return None


@pytest.fixture(scope="session")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``kvmq.pyz`` built from this checkout by the build script (what ``make bundle`` runs),
    once for every test that needs it (tests/bundle_cache.py)."""
    built = bundle_cache.build()
    # A copy of its own: the tests change its mode and run it; the shared one stays as built.
    output = tmp_path_factory.mktemp("bundle") / "kvmq.pyz"
    shutil.copy2(built, output)
    return output


@pytest.fixture(scope="session")
def expected() -> dict:
    dataset = load(SHIPPED_DATASET)
    return {"dimensions": [d.id for d in dataset.dimensions],
            "first_title": dataset.dimensions[0].title, "title": dataset.title}


class BundleHost:
    """A fresh, package-less venv of one Python, and a sandbox to run the bundle in."""

    def __init__(self, root: Path, python: str, bundle: Path) -> None:
        self.venv = root / "venv"
        subprocess.run([python, "-m", "venv", "--without-pip", str(self.venv)], check=True,
                       capture_output=True, timeout=120)
        self.python = self.venv / "bin" / "python"
        self.bundle = bundle
        self.home = root / "home"
        self.cache = root / "cache"
        self.cwd = root / "work"
        for directory in (self.home, self.cache, self.cwd):
            directory.mkdir()

    def env(self, **extra: str) -> dict[str, str]:
        env = {"PATH": f"{self.venv / 'bin'}:/usr/bin:/bin", "HOME": str(self.home),
               "XDG_CACHE_HOME": str(self.cache), "LANG": "C.UTF-8", "TERM": "dumb",
               "COLUMNS": "100", "TMPDIR": str(self.cwd)}
        env.update(extra)
        return env

    def run(self, *args: str, isolated: bool = True, **extra_env: str) -> subprocess.CompletedProcess[str]:
        flags = ["-I"] if isolated else []
        return subprocess.run([str(self.python), *flags, str(self.bundle), *args], cwd=self.cwd,
                              env=self.env(**extra_env), capture_output=True, text=True,
                              timeout=120, check=False)


@pytest.fixture(scope="module", params=PYTHONS, ids=[f"py{v}" for v in PYTHONS])
def host(request: pytest.FixtureRequest, bundle: Path,
         tmp_path_factory: pytest.TempPathFactory) -> BundleHost:
    python = find_python(request.param)
    if python is None:
        pytest.skip(f"python{request.param} not found (not on PATH, not under `pyenv root`): "
                    "the bundle is not tested with it")
    return BundleHost(tmp_path_factory.mktemp(f"py{request.param}"), python, bundle)


# What the trust tests' bundle holds: the CLI's own imports (``kvmq list`` needs yaml and
# rich), without the explorer's (textual and pygments are three quarters of the payload).
CLI_PACKAGES = ("kvmq", "yaml", "rich")


@pytest.fixture(scope="session")
def cli_bundle(bundle: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The real bundle's bootstrap with the CLI part of its payload, written by the build
    script's own archive writer: each run of the trust tests below unpacks afresh, several
    times, and this unpacks in a fraction of the time."""
    spec = importlib.util.spec_from_file_location("build_bundle", REPO_ROOT / "scripts" / "build_bundle.py")
    assert spec is not None and spec.loader is not None
    build_bundle = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(build_bundle)
    with zipfile.ZipFile(bundle) as archive:
        files = [(name, archive.read(name)) for name in archive.namelist()
                 if name.split("/")[1:2] and name.split("/")[1] in CLI_PACKAGES
                 and name.startswith(build_bundle.PAYLOAD) and not name.endswith("/")]
    output = tmp_path_factory.mktemp("cli-bundle") / "kvmq.pyz"
    build_bundle.write_archive(output, files, __version__)
    return output


@pytest.fixture(scope="module")
def one_host(cli_bundle: Path, tmp_path_factory: pytest.TempPathFactory) -> BundleHost:
    """One Python for the trust rules of the unpack folder: the bootstrap's checks use only
    os and stat calls that behave alike on every supported Python (the every-command tests
    above run both), and these tests unpack the payload several times each."""
    for version in PYTHONS:
        python = find_python(version)
        if python is not None:
            return BundleHost(tmp_path_factory.mktemp(f"trust-py{version}"), python, cli_bundle)
    pytest.skip(f"none of python{', python'.join(PYTHONS)} found: the bundle is not tested")


def assert_clean(result: subprocess.CompletedProcess[str], allowed: tuple[int, ...] = (0,)) -> str:
    detail = f"exit {result.returncode}\nstdout:\n{result.stdout}\nstderr:\n{result.stderr}"
    assert result.returncode in allowed, detail
    assert "Traceback" not in result.stdout + result.stderr, detail
    return result.stdout


# --------------------------------------------------------------------------- the file itself


def test_bundle_is_one_executable_pure_python_file(bundle: Path) -> None:
    assert bundle.read_bytes().startswith(b"#!/usr/bin/env python3\n")
    assert bundle.stat().st_mode & stat.S_IXUSR
    assert bundle.stat().st_size < MAX_BUNDLE_BYTES, f"{bundle.stat().st_size} bytes"
    with zipfile.ZipFile(bundle) as archive:
        names = archive.namelist()
    assert "__main__.py" in names
    payload = {name[len("site/"):] for name in names if name.startswith("site/")}
    assert len(payload) == len(names) - 1, "everything but the bootstrap is under site/"
    for needed in ("kvmq/data/kvm-vs-qemu.yaml", "kvmq/tui/app.tcss", "textual/__init__.py",
                   "rich/__init__.py", "yaml/__init__.py", "pygments/__init__.py",
                   f"kvmq-{__version__}.dist-info/METADATA"):
        assert needed in payload
    compiled = [n for n in payload if n.endswith((".so", ".pyd", ".dylib", ".pyc"))]
    assert not compiled
    assert not [n for n in payload if n.startswith("_yaml/")]


# --------------------------------------------------------------------------- every command


def test_show_json(host: BundleHost, expected: dict) -> None:
    document = json.loads(assert_clean(host.run("show", "--format", "json")))
    assert [d["id"] for d in document["dimensions"]] == expected["dimensions"]
    # The first run unpacked the payload into the (versioned) cache and ran from there.
    (unpacked,) = (host.cache / "kvmq" / "bundles").iterdir()
    assert unpacked.name.startswith(f"{__version__}-")
    assert (unpacked / "kvmq" / "tui" / "app.tcss").is_file()


def test_version(host: BundleHost) -> None:
    assert assert_clean(host.run("--version")) == f"kvmq {__version__} (dataset schema {SCHEMA_VERSION})\n"


def test_list_pros_validate_check(host: BundleHost, expected: dict) -> None:
    listed = json.loads(assert_clean(host.run("list", "--format", "json")))
    assert [d["id"] for d in listed] == expected["dimensions"]
    assert expected["first_title"] in assert_clean(host.run("list"))
    pros = json.loads(assert_clean(host.run("pros", "--format", "json")))
    assert pros["pros"]
    assert "Votes" in assert_clean(host.run("pros"))
    assert "OK: schema" in assert_clean(host.run("validate"))
    # Exit 1 only says that this machine cannot use KVM; the report must still be complete.
    report = json.loads(assert_clean(host.run("check", "--format", "json"), allowed=(0, 1)))
    assert report


def test_runs_as_an_executable_through_its_shebang(host: BundleHost) -> None:
    # `./kvmq.pyz`: /usr/bin/env finds python3 first in PATH, i.e. this venv's interpreter.
    result = subprocess.run([str(host.bundle), "--version"], cwd=host.cwd, env=host.env(),
                            capture_output=True, text=True, timeout=120, check=False)
    assert assert_clean(result).startswith(f"kvmq {__version__} ")


def test_unwritable_cache_falls_back_to_a_temporary_directory(host: BundleHost, tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    tmpdir = tmp_path / "tmp"
    tmpdir.mkdir()
    result = host.run("list", HOME=str(blocker), XDG_CACHE_HOME=str(blocker / "cache"),
                      TMPDIR=str(tmpdir))
    assert "architecture" in assert_clean(result)
    assert list(tmpdir.iterdir()) == [], "the temporary copy is removed on exit"


def test_explorer_starts_and_quits(host: BundleHost, expected: dict) -> None:
    """The explorer in a real pseudo-terminal: wait for the first dimension, press q."""
    screen, status = drive_in_pty(
        [str(host.python), "-I", str(host.bundle)], cwd=host.cwd,
        env=host.env(TERM="xterm-256color"),
        ready=lambda text: expected["first_title"] in text and expected["title"] in text,
        keys=b"q")
    assert status == 0, screen[-3000:]
    assert "Traceback" not in screen, screen[-3000:]
    # The explorer's modules are compiled now, for the next start.
    assert list(unpacked_folder(host.cache).glob("textual/__pycache__/app.*.pyc"))


def test_too_old_python_gets_a_clear_message(bundle: Path, tmp_path: Path) -> None:
    python = find_python("3.8")
    if python is None:
        pytest.skip("python3.8 not found: cannot show the message for a too-old Python")
    result = subprocess.run([python, "-I", str(bundle), "--version"], cwd=tmp_path,
                            capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 1
    assert "kvmq needs Python 3.9 or newer; this is 3.8" in result.stderr
    assert "Traceback" not in result.stderr


# --------------------------------------------------------------------------- the unpack folder


def unpacked_folder(cache: Path) -> Path:
    (folder,) = [p for p in (cache / "kvmq" / "bundles").iterdir() if not p.name.startswith(".")]
    return folder


def test_what_a_run_imports_is_compiled_even_with_dontwritebytecode(host: BundleHost,
                                                                    tmp_path: Path) -> None:
    """Bytecode lands in the unpacked folder for each module a run imports, and only those
    (``-I`` would ignore the variable, so this run is not isolated)."""
    cache = tmp_path / "cache"
    assert_clean(host.run("list", isolated=False, XDG_CACHE_HOME=str(cache), PYTHONDONTWRITEBYTECODE="1"))
    folder = unpacked_folder(cache)
    compiled = {path.relative_to(folder).parts[0] for path in folder.rglob("*.pyc")}
    assert {"kvmq", "rich", "yaml"} <= compiled, sorted(compiled)
    assert "textual" not in compiled  # `kvmq list` never imports the explorer
    assert list(folder.glob("kvmq/__pycache__/cli.*.pyc"))
    assert (folder / ".kvmq-manifest").is_file()
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700


def test_a_damaged_unpacking_is_replaced_never_a_traceback(one_host: BundleHost, tmp_path: Path) -> None:
    host = one_host
    cache = tmp_path / "cache"
    assert_clean(host.run("--version", XDG_CACHE_HOME=str(cache)))
    folder = unpacked_folder(cache)
    (folder / "kvmq" / "cli.py").unlink()
    assert "architecture" in assert_clean(host.run("list", XDG_CACHE_HOME=str(cache)))
    assert (unpacked_folder(cache) / "kvmq" / "cli.py").is_file()
    # Truncated, or a changed size: the same.
    (unpacked_folder(cache) / "kvmq" / "__init__.py").write_text("raise SystemExit('planted')\n")
    assert "architecture" in assert_clean(host.run("list", XDG_CACHE_HOME=str(cache)))


def test_a_folder_others_can_write_is_never_run_from(one_host: BundleHost, tmp_path: Path) -> None:
    host = one_host
    cache = tmp_path / "cache"
    assert_clean(host.run("--version", XDG_CACHE_HOME=str(cache)))
    folder = unpacked_folder(cache)
    init = folder / "kvmq" / "__init__.py"
    size = init.stat().st_size
    # A planted module of the same size, in a folder that anyone may write to.
    planted = "import sys; sys.stdout.write('PLANTED'); sys.exit(9)\n"
    init.write_text(planted + "#" * (size - len(planted) - 1) + "\n")
    assert init.stat().st_size == size
    for path in (folder, folder.parent):
        path.chmod(0o777)
        out = assert_clean(host.run("--version", XDG_CACHE_HOME=str(cache)))
        assert "PLANTED" not in out and out.startswith(f"kvmq {__version__}")
        path.chmod(0o700)


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to give a folder to another user")
def test_a_folder_of_another_user_is_never_run_from(one_host: BundleHost, tmp_path: Path) -> None:
    host = one_host
    cache = tmp_path / "cache"
    assert_clean(host.run("--version", XDG_CACHE_HOME=str(cache)))
    folder = unpacked_folder(cache)
    (folder / "kvmq" / "__init__.py").write_text("import sys; sys.stdout.write('PLANTED')\n")
    for path in [folder, *folder.rglob("*")]:
        os.lchown(path, 4242, 4242)
    out = assert_clean(host.run("--version", XDG_CACHE_HOME=str(cache)))
    assert "PLANTED" not in out and out.startswith(f"kvmq {__version__}")
    # The bundles folder itself belonging to someone else: a private temporary copy is used.
    bundles = folder.parent
    os.lchown(bundles, 4242, 4242)
    out = assert_clean(host.run("--version", XDG_CACHE_HOME=str(cache)))
    assert "PLANTED" not in out and out.startswith(f"kvmq {__version__}")


# --------------------------------------------------------------------------- helpers

_ESCAPES = re.compile(r"\x1b\[[0-9;?<>=]*[ -/]*[@-~]|\x1b[\]P_^][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b.")


def drive_in_pty(argv: list[str], *, cwd: Path, env: dict[str, str],
                 ready: Callable[[str], bool], keys: bytes, timeout: float = 60.0,
                 size: tuple[int, int] = (40, 160)) -> tuple[str, int]:
    """Run ``argv`` on a pseudo-terminal; once ``ready(screen text)``, type ``keys``.

    Returns the output with escape sequences removed, and the exit status.
    """
    import fcntl
    import termios

    pid, fd = pty.fork()
    if pid == 0:  # the child: exec at once, never return into pytest
        try:
            os.chdir(cwd)
            os.execve(argv[0], argv, env)
        finally:
            os._exit(127)
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", size[0], size[1], 0, 0))
    output = b""
    sent = False
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            readable, _, _ = select.select([fd], [], [], 0.1)
            if readable:
                try:
                    chunk = os.read(fd, 65536)
                except OSError:  # EIO: the child closed the terminal
                    break
                if not chunk:
                    break
                output += chunk
            if not sent and ready(_ESCAPES.sub("", output.decode("utf-8", "replace"))):
                os.write(fd, keys)
                sent = True
        else:
            os.kill(pid, signal.SIGKILL)
        _, status = os.waitpid(pid, 0)
    finally:
        os.close(fd)
    text = _ESCAPES.sub("", output.decode("utf-8", "replace"))
    assert sent, f"never became ready within {timeout} s:\n{text[-3000:]}"
    return text, os.waitstatus_to_exitcode(status)
