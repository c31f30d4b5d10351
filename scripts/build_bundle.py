#!/usr/bin/env python3
"""Build ``dist/kvmq.pyz``: kvmq in one file, for hosts with Python 3.9+ and no network.

Usage: ``python scripts/build_bundle.py [--output dist/kvmq.pyz]`` (``make bundle``).
Needs pip and access to a package index (or pip's configured mirrors) at build time only.

What goes in: the kvmq wheel (built from this checkout, so the dataset comes along as
``kvmq/data/kvm-vs-qemu.yaml``), and its dependencies resolved for the OLDEST supported
Python (3.9) as pure-Python ``py3-none-any`` wheels, so one file serves every Python from
3.9 on. PyYAML has no pure wheel: its pure-Python part (the ``yaml`` package) is taken from
a published wheel, which holds the same sources as the sdist, and its C extension is
dropped; kvmq's loader falls back from ``CSafeLoader`` to ``SafeLoader`` by itself.
The build fails if anything compiled is left, or if any bundled distribution's
Requires-Python or dependencies do not hold for both 3.9 and the newest tested Python.

How it runs: a zipapp with a ``#!/usr/bin/env python3`` shebang, whose ``__main__.py``
(scripts/bundle_main.py) unpacks the payload once into a versioned cache directory
(``~/.cache/kvmq/bundles/<version>-<hash>/``, atomically) and runs from there. Textual opens
its stylesheets (``CSS_PATH``) and kvmq its shipped dataset as real files, and zipimport
cannot keep compiled bytecode, so running straight from the zip would need changes to kvmq
and start slower every time; a small hand-written bootstrap does what shiv does without
adding anything to the bundle or to the build.

The archive is reproducible: members are sorted, timestamps fixed, and the bundle's name
(and cache directory) carries a hash of the payload.
"""

from __future__ import annotations

import argparse
import email.parser
import hashlib
import os
import re
import shutil
import stat
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BOOTSTRAP = Path(__file__).resolve().parent / "bundle_main.py"
DEFAULT_OUTPUT = ROOT / "dist" / "kvmq.pyz"
OLDEST_PYTHON = "3.9"
NEWEST_PYTHON = "3.13"
SHEBANG = b"#!/usr/bin/env python3\n"
# Any platform's PyYAML wheel holds the same pure-Python sources; only its .py files are used.
PYYAML_WHEEL_PLATFORM = "manylinux_2_17_x86_64"
PAYLOAD = "site/"
ZIP_DATE = (1980, 1, 1, 0, 0, 0)
COMPILED_SUFFIXES = (".so", ".pyd", ".dylib", ".dll")


def log(message: str) -> None:
    print(f"build_bundle: {message}", flush=True)


def pip(*args: str) -> None:
    command = [sys.executable, "-m", "pip", "--disable-pip-version-check", *args]
    result = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if result.returncode != 0:
        sys.stderr.write(result.stdout)
        raise SystemExit(f"build_bundle: failed ({result.returncode}): {' '.join(command)}")


def normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def read_metadata(wheel: Path) -> email.message.Message:
    with zipfile.ZipFile(wheel) as archive:
        name = next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
        return email.parser.BytesParser().parsebytes(archive.read(name))


def runtime_requirements(metadata: email.message.Message) -> list[str]:
    """Requires-Dist lines that are not behind an extra."""
    return [req for req in metadata.get_all("Requires-Dist", []) if "extra ==" not in req]


def download_wheels(work: Path) -> list[Path]:
    """The kvmq wheel and every dependency's wheel, resolved for the oldest Python."""
    own = work / "own"
    log("building the kvmq wheel")
    pip("wheel", "--quiet", "--no-deps", "--wheel-dir", str(own), str(ROOT))
    (kvmq_wheel,) = own.glob("kvmq-*.whl")
    requirements = runtime_requirements(read_metadata(kvmq_wheel))
    yaml_reqs = [r for r in requirements if normalize(re.split(r"[\s<>=!~;\[(]", r)[0]) == "pyyaml"]
    other_reqs = [r for r in requirements if r not in yaml_reqs]

    # `pip download` (unlike `pip install --target`) honours --python-version when checking
    # Requires-Python, so this picks e.g. the last markdown-it-py that still supports 3.9.
    target = ["--python-version", OLDEST_PYTHON, "--only-binary=:all:"]
    log(f"resolving {', '.join(other_reqs)} for Python {OLDEST_PYTHON}, pure-Python wheels only")
    pip("download", "--quiet", "--dest", str(work / "deps"), *target,
        "--implementation", "py", "--abi", "none", "--platform", "any", *other_reqs)
    wheels = [kvmq_wheel, *sorted((work / "deps").glob("*.whl"))]
    if yaml_reqs:
        log(f"fetching {', '.join(yaml_reqs)} (its pure-Python part is used)")
        abi = "cp" + OLDEST_PYTHON.replace(".", "")
        pip("download", "--quiet", "--no-deps", "--dest", str(work / "yaml"), *target,
            "--implementation", "cp", "--abi", abi, "--platform", PYYAML_WHEEL_PLATFORM, *yaml_reqs)
        wheels += sorted((work / "yaml").glob("*.whl"))
    return wheels


def unpack_wheel(wheel: Path, stage: Path) -> None:
    """Install a wheel's importable files into ``stage`` (no scripts, no bytecode)."""
    with zipfile.ZipFile(wheel) as archive:
        for name in archive.namelist():
            if name.endswith("/") or "/__pycache__/" in f"/{name}" or name.endswith(".pyc"):
                continue
            parts = name.split("/")
            if ".." in parts or name.startswith("/"):
                raise SystemExit(f"build_bundle: unsafe member {name!r} in {wheel.name}")
            if parts[0].endswith(".data"):  # purelib/platlib go to the root; the rest is not needed
                if len(parts) < 3 or parts[1] not in ("purelib", "platlib"):
                    continue
                parts = parts[2:]
            path = stage.joinpath(*parts)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(archive.read(name))


def strip_pyyaml(stage: Path) -> None:
    """Keep only PyYAML's pure-Python ``yaml`` package: drop its C extension and ``_yaml`` shim."""
    for path in (stage / "yaml").glob("_yaml*"):
        path.unlink()
    shutil.rmtree(stage / "_yaml", ignore_errors=True)


def check_stage(stage: Path) -> list[str]:
    """Refuse compiled files; check Requires-Python and dependencies for 3.9 and 3.13."""
    try:
        from packaging.requirements import Requirement
        from packaging.specifiers import SpecifierSet
    except ImportError:  # pip always carries a copy
        from pip._vendor.packaging.requirements import Requirement  # type: ignore[no-redef]
        from pip._vendor.packaging.specifiers import SpecifierSet  # type: ignore[no-redef]

    compiled = [str(p.relative_to(stage)) for p in stage.rglob("*") if p.suffix in COMPILED_SUFFIXES]
    if compiled:
        raise SystemExit(f"build_bundle: compiled files would not run everywhere: {compiled}")
    dists: dict[str, tuple[str, email.message.Message]] = {}
    for meta_file in sorted(stage.glob("*.dist-info/METADATA")):
        meta = email.parser.BytesParser().parsebytes(meta_file.read_bytes())
        dists[normalize(meta["Name"])] = (meta["Version"], meta)
    problems = []
    for python in (OLDEST_PYTHON, NEWEST_PYTHON):
        env = {"python_version": python, "python_full_version": f"{python}.0",
               "implementation_name": "cpython", "platform_python_implementation": "CPython",
               "sys_platform": "linux", "platform_system": "Linux", "os_name": "posix"}
        for name, (version, meta) in dists.items():
            requires_python = meta.get("Requires-Python")
            if requires_python and not SpecifierSet(requires_python).contains(f"{python}.0"):
                problems.append(f"{name} {version} needs Python {requires_python}, not {python}")
            for line in meta.get_all("Requires-Dist", []):
                req = Requirement(line)
                if req.marker and not req.marker.evaluate({**env, "extra": ""}):
                    continue  # another Python's dependency, or an extra's
                found = dists.get(normalize(req.name))
                if found is None:
                    problems.append(f"{name} needs {req} on Python {python}: not bundled")
                elif not req.specifier.contains(found[0], prereleases=True):
                    problems.append(f"{name} needs {req}, bundled {req.name} {found[0]}")
    if problems:
        raise SystemExit("build_bundle: the bundle would not work:\n  " + "\n  ".join(problems))
    return [f"{meta['Name']} {version}" for version, meta in dists.values()]


def payload_files(stage: Path) -> list[tuple[str, bytes]]:
    files = []
    for path in sorted(stage.rglob("*")):
        if path.is_file():
            files.append((PAYLOAD + path.relative_to(stage).as_posix(), path.read_bytes()))
    return files


def write_archive(output: Path, files: list[tuple[str, bytes]], version: str) -> str:
    digest = hashlib.sha256()
    # In the order of the names as strings: the bootstrap recomputes this from its manifest.
    for name, data in sorted(files):
        digest.update(name.encode() + b"\0" + hashlib.sha256(data).digest())
    bundle_name = f"{version}-{digest.hexdigest()[:16]}"
    bootstrap = BOOTSTRAP.read_text(encoding="utf-8").replace("@BUNDLE_NAME@", bundle_name)
    output.parent.mkdir(parents=True, exist_ok=True)
    partial = output.with_name(output.name + ".partial")
    with open(partial, "wb") as handle:
        handle.write(SHEBANG)
        with zipfile.ZipFile(handle, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
            for name, data in [("__main__.py", bootstrap.encode()), *files]:
                info = zipfile.ZipInfo(name, date_time=ZIP_DATE)
                info.external_attr = (stat.S_IFREG | 0o644) << 16
                info.compress_type = zipfile.ZIP_DEFLATED
                archive.writestr(info, data, compresslevel=9)
    partial.chmod(0o755)
    os.replace(partial, output)
    return bundle_name


def build(output: Path) -> Path:
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="kvmq-bundle-build-") as tmp:
        work = Path(tmp)
        stage = work / "stage"
        stage.mkdir()
        for wheel in download_wheels(work):
            unpack_wheel(wheel, stage)
        strip_pyyaml(stage)
        contents = check_stage(stage)
        version = next(c.split()[1] for c in contents if c.startswith("kvmq "))
        bundle_name = write_archive(output, payload_files(stage), version)
    size = output.stat().st_size
    log(f"bundled: {', '.join(sorted(contents, key=str.lower))}")
    log(f"wrote {output} ({size / 1e6:.1f} MB, bundle {bundle_name}) "
        f"in {time.monotonic() - started:.0f} s")
    return output


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT,
                        help=f"where to write the bundle (default: {DEFAULT_OUTPUT.relative_to(ROOT)})")
    args = parser.parse_args(argv)
    build(args.output.resolve())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
