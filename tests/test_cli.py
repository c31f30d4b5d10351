"""The ``kvmq`` command line, run as a real subprocess (``python -m kvmq``)."""

from __future__ import annotations

import io
import json
import os
import re
import select
import subprocess
import sys
import time
from html.parser import HTMLParser
from pathlib import Path
from typing import Callable, Optional

import pytest
import yaml
from markdown_it import MarkdownIt

HERE = Path(__file__).resolve().parent
DATASETS_DIR = HERE / "fixtures" / "datasets"
SHIPPED_DATASET = HERE.parent / "data" / "kvm-vs-qemu.yaml"

CONTROL_RE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")
ERROR_LINE_RE = re.compile(r"^kvmq: error: (?P<path>.+?):(?P<line>[1-9]\d*):(?P<col>[1-9]\d*): \S.*$")
MARKUP_STRINGS = ("[/]", "[bold]x", "qemu-system-x86_64 [options]", "[link=file:///etc/passwd]x[/link]",
                  "$ not a var", "*stars*", "<b>html</b>")
SHIPPED_YAML = yaml.safe_load(SHIPPED_DATASET.read_text(encoding="utf-8"))
ALL_TITLES = [d["title"] for d in SHIPPED_YAML["dimensions"]]
ALL_IDS = [d["id"] for d in SHIPPED_YAML["dimensions"]]
MARKUP = str(DATASETS_DIR / "markup.yaml")
MINIMAL = str(DATASETS_DIR / "minimal.yaml")
THREE = str(DATASETS_DIR / "three-subjects.yaml")

Kvmq = Callable[..., "subprocess.CompletedProcess[str]"]
RunKvmq = Kvmq


@pytest.fixture
def kvmq(run_kvmq: RunKvmq) -> Kvmq:
    """``run_kvmq`` plus the invariants every run must keep, whatever it was asked."""

    def run(*args: str, env: Optional[dict[str, str]] = None,
            input: Optional[str] = None) -> subprocess.CompletedProcess[str]:
        result = run_kvmq(*args, env=env, input=input)
        assert "Traceback" not in result.stderr, result.stderr
        assert "Traceback" not in result.stdout
        for stream in (result.stdout, result.stderr):
            bad = CONTROL_RE.search(stream)
            assert bad is None, f"control character {bad.group()!r} in output of {args}"
        assert result.returncode in (0, 2), (result.returncode, result.stderr)
        return result

    return run


def ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    return result.stdout


def usage_error(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert result.stdout == ""
    assert result.stderr.strip()
    return result.stderr


class _HtmlText(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.tags: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, Optional[str]]]) -> None:
        self.tags.add(tag)

    def handle_data(self, data: str) -> None:
        self.parts.append(data)


def rendered_markdown(markdown: str) -> _HtmlText:
    parsed = _HtmlText()
    parsed.feed(MarkdownIt("commonmark").enable("table").render(markdown))
    parsed.close()
    return parsed


# --------------------------------------------------------------------------- show


def test_show_all(kvmq: Kvmq) -> None:
    out = ok(kvmq("show"))
    assert out.startswith("KVM vs QEMU\n")
    positions = [out.index(f"{title} ─") for title in ALL_TITLES]
    assert positions == sorted(positions), "dimensions appear in dataset order"
    assert "⚠ Correction:" in out
    assert "$ qemu-img create -f qcow2 vm.qcow2 20G" in out


def test_show_one(kvmq: Kvmq) -> None:
    out = ok(kvmq("show", "performance"))
    assert "Performance ─" in out
    assert "Guest instructions execute directly" in out
    for title in ALL_TITLES:
        if title != "Performance":
            assert f"{title} ─" not in out


def test_show_several_in_the_order_given(kvmq: Kvmq) -> None:
    out = ok(kvmq("show", "licensing", "performance", "licensing"))
    assert out.count("Licensing ─") == 1
    assert out.index("Licensing ─") < out.index("Performance ─")
    assert "Architecture ─" not in out


@pytest.mark.parametrize(("name", "title"), [
    ("Guest support", "Guest support"), ("GUEST SUPPORT", "Guest support"), ("perf", "Performance"),
    ("Management interfaces", "Management interfaces"), ("disk", "Disk images and snapshots"),
    ("nested-virtualization", "Nested virtualization"),
])
def test_show_by_title_and_prefix(kvmq: Kvmq, name: str, title: str) -> None:
    out = ok(kvmq("show", name))
    assert f"{title} ─" in out
    assert sum(f"{t} ─" in out for t in ALL_TITLES) == 1


def test_show_ambiguous(kvmq: Kvmq) -> None:
    err = usage_error(kvmq("show", "de"))
    assert "ambiguous" in err
    assert "device-emulation" in err and "device-passthrough" in err
    assert err.startswith("kvmq: error: ")


def test_show_unknown(kvmq: Kvmq) -> None:
    err = usage_error(kvmq("show", "performanse"))
    assert "did you mean" in err and "performance" in err
    assert err.count("\n") == 1


def test_show_one_known_one_unknown_prints_nothing(kvmq: Kvmq) -> None:
    usage_error(kvmq("show", "performance", "zzzzzz"))


def test_show_markdown(kvmq: Kvmq) -> None:
    out = ok(kvmq("show", "--format", "markdown"))
    assert out.startswith("# KVM vs QEMU\n")
    for title in ALL_TITLES:
        assert f"\n## {title}\n" in out
    assert "> **Correction:**" in out
    parsed = rendered_markdown(out)
    assert {"h1", "h2", "blockquote", "code"} <= parsed.tags


def test_show_markdown_one_dimension(kvmq: Kvmq) -> None:
    out = ok(kvmq("show", "performance", "--format", "markdown"))
    assert "## Performance" in out
    assert out.count("\n## ") == 1


def test_show_json(kvmq: Kvmq) -> None:
    data = json.loads(ok(kvmq("show", "--format", "json")))
    assert set(data) == set(SHIPPED_YAML)
    assert data["schema"] == 1
    assert [d["id"] for d in data["dimensions"]] == ALL_IDS
    assert len(data["dimensions"]) == 24
    for dimension, raw in zip(data["dimensions"], SHIPPED_YAML["dimensions"]):
        assert set(raw) <= set(dimension), dimension["id"]
        assert dimension["descriptions"] == {k: v.strip() for k, v in raw["descriptions"].items()}
    assert data["pros"] == SHIPPED_YAML["pros"]
    assert data["source"] == SHIPPED_YAML["source"]
    assert data["subjects"] == SHIPPED_YAML["subjects"]


def test_show_json_some_dimensions(kvmq: Kvmq) -> None:
    data = json.loads(ok(kvmq("show", "perf", "Licensing", "--format", "json")))
    assert [d["id"] for d in data["dimensions"]] == ["performance", "licensing"]
    assert [s["id"] for s in data["subjects"]] == ["kvm", "qemu"]


# --------------------------------------------------------------------------- pros and list


def test_pros_text(kvmq: Kvmq) -> None:
    out = ok(kvmq("pros"))
    # Long labels may wrap in their column: match on the part that stays on the first line.
    for label, votes in (("No license issues", 4), ("Very fast", 2), ("Flexible", 2),
                         ("Performance", 1), ("Easy to use", 1), ("Free", 1)):
        assert re.search(rf"{label}[a-z ]*\s+{votes}\s", out), label
    assert re.search(r"Total\s+8\b", out)
    assert re.search(r"Total\s+3\b", out)
    assert re.search(r"^KVM\s+QEMU\s*$", out, re.MULTILINE), "side by side at 100 columns"


def test_pros_text_ranked(kvmq: Kvmq, tmp_path: Path) -> None:
    out = ok(kvmq("pros", "--data", MINIMAL))
    assert out.index("Simple") < out.index("Quick"), "5 votes before 3, whatever the file order"
    assert re.search(r"Total\s+8\b", out) and re.search(r"Total\s+1\b", out)


def test_pros_json(kvmq: Kvmq) -> None:
    data = json.loads(ok(kvmq("pros", "--format", "json")))
    assert [s["id"] for s in data["subjects"]] == ["kvm", "qemu"]
    kvm = data["pros"]["kvm"]
    assert [(p["label"], p["votes"]) for p in kvm] == [
        ("No license issues", 4), ("Very fast", 2), ("Flexible network options", 2)]
    assert sum(p["votes"] for p in data["pros"]["qemu"]) == 3
    ranked = json.loads(ok(kvmq("pros", "--format", "json", "--data", MINIMAL)))
    assert [p["votes"] for p in ranked["pros"]["alpha"]] == [5, 3]


def test_pros_markdown(kvmq: Kvmq) -> None:
    out = ok(kvmq("pros", "--format", "markdown"))
    assert "| Pro | Votes |" in out
    assert "| No license issues | 4 |" in out
    assert "| **Total** | **8** |" in out and "| **Total** | **3** |" in out
    assert "table" in rendered_markdown(out).tags


def test_list_text(kvmq: Kvmq) -> None:
    out = ok(kvmq("list"))
    for dim_id, title in zip(ALL_IDS, ALL_TITLES):
        assert re.search(rf"^{re.escape(dim_id)}\s+{re.escape(title)}\s*$", out, re.MULTILINE), dim_id


def test_list_json(kvmq: Kvmq) -> None:
    data = json.loads(ok(kvmq("list", "--format", "json")))
    assert data == [{"id": i, "title": t} for i, t in zip(ALL_IDS, ALL_TITLES)]


def test_list_markdown(kvmq: Kvmq) -> None:
    out = ok(kvmq("list", "--format", "markdown"))
    assert out.splitlines() == [f"- `{i}`: {t}" for i, t in zip(ALL_IDS, ALL_TITLES)]


# --------------------------------------------------------------------------- validate


def test_validate_shipped(kvmq: Kvmq) -> None:
    out = ok(kvmq("validate"))
    assert out.count("\n") == 1 and out.endswith("\n")
    assert "OK" in out
    assert "24 dimensions" in out and "2 subjects" in out
    assert str(SHIPPED_DATASET.resolve()) in out or "kvm-vs-qemu.yaml" in out
    assert ok(kvmq("validate", str(SHIPPED_DATASET))).count("\n") == 1


@pytest.mark.parametrize("name", ["bad-one-subject", "bad-unknown-key", "bad-negative-votes",
                                  "bad-duplicate-subject"])
def test_validate_broken(kvmq: Kvmq, name: str) -> None:
    from kvmq.dataset.loader import load
    from kvmq.dataset.model import InvalidDataset

    path = str(DATASETS_DIR / f"{name}.yaml")
    with pytest.raises(InvalidDataset) as info:
        load(path)
    err = usage_error(kvmq("validate", path))
    lines = err.splitlines()
    assert len(lines) == len(info.value.errors)
    for line, error in zip(lines, info.value.errors):
        match = ERROR_LINE_RE.match(line)
        assert match, line
        assert (match["path"], int(match["line"]), int(match["col"])) == (path, error.line, error.col)
        assert line == f"kvmq: error: {error}"


def test_validate_reports_omitted_count(kvmq: Kvmq, tmp_path: Path) -> None:
    base = Path(MINIMAL).read_text().split("dimensions:")[0]
    dims = "".join(f"  - id: Bad_{n}\n    title: T\n    descriptions: {{alpha: a, beta: b}}\n"
                   for n in range(60))
    path = tmp_path / "many.yaml"
    path.write_text(base + "dimensions:\n" + dims + "pros: {}\n")
    lines = usage_error(kvmq("validate", str(path))).splitlines()
    assert len(lines) == 51
    assert all(ERROR_LINE_RE.match(line) for line in lines[:50])
    assert "more problems not shown" in lines[-1]


@pytest.mark.parametrize("content", [b"", b"\xff\xfe", b"schema: [\n", b"- a\n"])
def test_validate_unreadable_content(kvmq: Kvmq, tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "broken.yaml"
    path.write_bytes(content)
    err = usage_error(kvmq("validate", str(path)))
    assert err.startswith(f"kvmq: error: {path}")


def test_validate_missing_file_and_directory(kvmq: Kvmq, tmp_path: Path) -> None:
    assert "no such file" in usage_error(kvmq("validate", str(tmp_path / "nope.yaml")))
    assert "is a directory" in usage_error(kvmq("validate", str(tmp_path)))


def test_every_command_refuses_an_invalid_dataset(kvmq: Kvmq) -> None:
    bad = str(DATASETS_DIR / "bad-negative-votes.yaml")
    for args in (("show",), ("pros",), ("list",), ("show", "--format", "json"), ()):
        err = usage_error(kvmq("--data", bad, *args))
        assert ERROR_LINE_RE.match(err.splitlines()[0])


# --------------------------------------------------------------------------- choosing the dataset


def test_data_option_and_environment(kvmq: Kvmq) -> None:
    by_option = json.loads(ok(kvmq("--data", MINIMAL, "show", "--format", "json")))
    assert by_option["title"] == "Alpha vs Beta"
    by_env = json.loads(ok(kvmq("show", "--format", "json", env={"KVMQ_DATA": THREE})))
    assert len(by_env["subjects"]) == 3
    both = json.loads(ok(kvmq("--data", MINIMAL, "show", "--format", "json", env={"KVMQ_DATA": THREE})))
    assert both["title"] == "Alpha vs Beta", "--data wins over KVMQ_DATA"
    default = json.loads(ok(kvmq("show", "--format", "json")))
    assert default["title"] == "KVM vs QEMU"


def test_data_environment_for_validate(kvmq: Kvmq) -> None:
    err = usage_error(kvmq("validate", env={"KVMQ_DATA": str(DATASETS_DIR / "bad-url.yaml")}))
    assert "bad-url.yaml:17:15" in err
    assert "Alpha" in ok(kvmq("--data", MINIMAL, "validate"))


@pytest.mark.parametrize("args", [
    ("--data", MINIMAL, "list", "--format", "json"),
    ("list", "--data", MINIMAL, "--format", "json"),
    ("list", "--format", "json", "--data", MINIMAL),
    ("--format", "json", "--data", MINIMAL, "list"),
])
def test_data_before_or_after_the_command(kvmq: Kvmq, args: tuple[str, ...]) -> None:
    assert json.loads(ok(kvmq(*args))) == [{"id": "speed", "title": "Speed"},
                                           {"id": "storage", "title": "Storage formats"}]


def test_data_relative_to_working_directory(kvmq: Kvmq, tmp_path: Path) -> None:
    (tmp_path / "cwd").mkdir(exist_ok=True)
    (tmp_path / "cwd" / "mine.yaml").write_text(Path(MINIMAL).read_text())
    assert "Speed" in ok(kvmq("--data", "mine.yaml", "list"))


# --------------------------------------------------------------------------- version, help, usage


def test_version(kvmq: Kvmq) -> None:
    from kvmq import __version__

    out = ok(kvmq("--version"))
    assert __version__ in out
    assert "schema 1" in out
    assert out.count("\n") == 1


def test_help(kvmq: Kvmq) -> None:
    out = ok(kvmq("--help"))
    for word in ("show", "pros", "list", "validate", "--data", "--format", "--version"):
        assert word in out
    assert "--format" in ok(kvmq("show", "--help"))


@pytest.mark.parametrize("args", [
    ("--bogus",), ("show", "--bogus"), ("show", "--format", "xml"), ("--format", "yaml", "show"),
    ("nosuchcommand",), ("pros", "extra"), ("list", "--format"), ("validate", "a", "b"),
])
def test_bad_usage(kvmq: Kvmq, args: tuple[str, ...]) -> None:
    err = usage_error(kvmq(*args))
    assert "usage:" in err or "error:" in err


# --------------------------------------------------------------------------- plain `kvmq` on a pipe


def test_plain_kvmq_on_a_pipe_is_show(kvmq: Kvmq) -> None:
    started = time.monotonic()
    plain = ok(kvmq())
    assert time.monotonic() - started < 20, "must not start the explorer"
    assert plain == ok(kvmq("show"))
    assert ok(kvmq("--data", MINIMAL)) == ok(kvmq("show", "--data", MINIMAL))


def test_plain_kvmq_with_format(kvmq: Kvmq) -> None:
    assert json.loads(ok(kvmq("--format", "json")))["title"] == "KVM vs QEMU"


# --------------------------------------------------------------------------- layout


def test_stacked_when_narrow_side_by_side_when_wide(kvmq: Kvmq) -> None:
    narrow = ok(kvmq("show", "performance", env={"COLUMNS": "60"}))
    wide = ok(kvmq("show", "performance", env={"COLUMNS": "120"}))
    # Only a URL (never broken) may run past the edge.
    assert max(len(line) for line in narrow.splitlines() if "://" not in line) <= 60
    assert max(len(line) for line in wide.splitlines() if "://" not in line) <= 120
    assert any(len(line) > 100 for line in wide.splitlines())
    assert re.search(r"^KVM\s{2,}QEMU\s*$", wide, re.MULTILINE)
    assert not re.search(r"^KVM\s{2,}QEMU\s*$", narrow, re.MULTILINE)
    narrow_lines = [line.rstrip() for line in narrow.splitlines()]
    assert "KVM" in narrow_lines and "QEMU" in narrow_lines
    assert narrow_lines.index("KVM") < narrow_lines.index("QEMU")
    # Stacked: the KVM description comes before the QEMU heading.
    kvm_text = narrow.index("Guest instructions")
    assert narrow.index("\nKVM\n") < kvm_text < narrow.index("\nQEMU\n")


def test_three_subjects_three_columns(kvmq: Kvmq) -> None:
    out = ok(kvmq("--data", THREE, "show", env={"COLUMNS": "120"}))
    assert re.search(r"^Firecracker\s{2,}CloudHypervisor\s{2,}crosvm\s*$", out, re.MULTILINE)
    row = next(line for line in out.splitlines() if "FCDESC" in line)
    assert row.index("FCDESC") < row.index("CHDESC") < row.index("CVDESC")
    pros = ok(kvmq("--data", THREE, "pros", env={"COLUMNS": "120"}))
    assert "(no pros" in pros
    assert re.search(r"^Firecracker\s{2,}CloudHypervisor\s{2,}crosvm\s*$", pros, re.MULTILINE)


# --------------------------------------------------------------------------- literal text


def test_markup_text_is_printed_literally(kvmq: Kvmq) -> None:
    out = ok(kvmq("--data", MARKUP, "show", env={"COLUMNS": "200"}))
    for needle in MARKUP_STRINGS:
        assert needle in out, needle
    assert "Title [/] and [bold]x" in out
    assert "$ qemu-system-x86_64 [options]" in out
    pros = ok(kvmq("--data", MARKUP, "pros", env={"COLUMNS": "200"}))
    for needle in ("[bold]x", "[link=file:///etc/passwd]x[/link]", "<b>html</b> and *stars*"):
        assert needle in pros
    listing = ok(kvmq("--data", MARKUP, "list"))
    assert "Title [/] and [bold]x" in listing


def test_markup_text_in_markdown_renders_literally(kvmq: Kvmq) -> None:
    for command in ("show", "pros", "list"):
        out = ok(kvmq("--data", MARKUP, command, "--format", "markdown"))
        parsed = rendered_markdown(out)
        text = "".join(parsed.parts)
        assert "b" not in parsed.tags, command
        assert "Title [/] and [bold]x" in text or command == "pros"
        if command != "list":
            assert "[link=file:///etc/passwd]x[/link]" in text and "<b>html</b>" in text, command


def test_markup_text_in_json(kvmq: Kvmq) -> None:
    data = json.loads(ok(kvmq("--data", MARKUP, "show", "--format", "json")))
    assert data == json.loads(json.dumps(_loaded_dict(MARKUP)))
    pros = json.loads(ok(kvmq("--data", MARKUP, "pros", "--format", "json")))
    assert pros["pros"]["fancy"][0]["label"] == "[link=file:///etc/passwd]x[/link]"


def _loaded_dict(path: str) -> dict[str, object]:
    from kvmq.dataset.loader import load

    return load(path).to_dict()


def test_error_messages_are_terminal_safe(kvmq: Kvmq, tmp_path: Path) -> None:
    """Hostile text in a broken file reaches stderr neutralised (the kvmq fixture checks)."""
    path = tmp_path / "hostile.yaml"
    text = Path(MINIMAL).read_text()
    text = text.replace("    verdict: Alpha", '    "\\e]0;pwned\\a\\e[2J": Alpha')
    text = text.replace("title: Speed", 'title: "Speed \\x9b31m"')
    path.write_text(text)
    err = usage_error(kvmq("validate", str(path)))
    assert len(err.splitlines()) == 2


def test_raw_escape_in_file(kvmq: Kvmq, tmp_path: Path) -> None:
    path = tmp_path / "esc.yaml"
    path.write_text(Path(MINIMAL).read_text().replace("Alpha starts", "Alpha \x1b[31mstarts"))
    err = usage_error(kvmq("show", "--data", str(path)))
    assert "U+001B" in err


# --------------------------------------------------------------------------- pipes and imports


def _big_dataset(tmp_path: Path) -> Path:
    base = Path(MINIMAL).read_text().split("dimensions:")[0]
    dims = "".join(
        f"  - id: dim-{n}\n    title: Dimension {n}\n    descriptions:\n"
        f"      alpha: {'Alpha text that fills the column. ' * 6}\n"
        f"      beta: {'Beta text that fills the other column. ' * 6}\n"
        for n in range(400)
    )
    path = tmp_path / "big.yaml"
    path.write_text(base + "dimensions:\n" + dims + "pros: {}\n")
    return path


@pytest.mark.parametrize("fmt", ["text", "markdown", "json"])
def test_broken_pipe_is_quiet(tmp_path: Path, cli_env: dict[str, str], fmt: str) -> None:
    big = _big_dataset(tmp_path)
    process = subprocess.Popen(
        [sys.executable, "-m", "kvmq", "show", "--format", fmt, "--data", str(big)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, cwd=tmp_path,
        env=cli_env,
    )
    assert process.stdout is not None and process.stderr is not None
    first = process.stdout.readline()
    assert first.strip()
    process.stdout.close()  # like `kvmq show | head -1`
    try:
        process.wait(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    stderr = process.stderr.read().decode()
    process.stderr.close()
    assert "Traceback" not in stderr
    assert "Exception ignored" not in stderr
    assert stderr == ""
    assert process.returncode == 0


@pytest.mark.parametrize("args", [("show", "performance"), ("pros",), ("list",), ("validate",),
                                  ("show", "--format", "json"), ("show", "--format", "markdown")])
def test_cli_paths_never_import_textual(tmp_path: Path, cli_env: dict[str, str],
                                        args: tuple[str, ...]) -> None:
    process = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "kvmq", *args],
        capture_output=True, text=True, timeout=60, env=cli_env, cwd=tmp_path, stdin=subprocess.DEVNULL,
    )
    assert process.returncode == 0, process.stderr
    imported = [line for line in process.stderr.splitlines() if line.startswith("import time:")]
    assert len(imported) > 20, "-X importtime produced no report"
    assert not [line for line in process.stderr.splitlines() if "textual" in line]
    assert "Traceback" not in process.stderr


# --------------------------------------------------------------------------- issues 16 and 17


LONG_RUN = ("qemu-system-x86_64 -accel kvm -cpu host -m 2G -smp 4 -drive "
            "file=/var/lib/images/a-rather-long-disk-image-name.qcow2,if=virtio,cache=none "
            "-netdev user,id=n0 -device virtio-net-pci,netdev=n0")
LONG_URL = "https://example.org/a/very/long/path/that/goes/on/and/on/past/eighty/columns/page.html"


def long_commands_dataset(tmp_path: Path) -> str:
    text = Path(MINIMAL).read_text(encoding="utf-8")
    text = text.replace("        - run: beta --benchmark quokka", f"        - run: {LONG_RUN}")
    text = text.replace("      - https://example.org/benchmarks", f"      - {LONG_URL}")
    path = tmp_path / "long.yaml"
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_show_wraps_commands_at_spaces_with_a_continuation(kvmq: Kvmq, tmp_path: Path) -> None:
    out = ok(kvmq("--data", long_commands_dataset(tmp_path), "show", "speed",
                  env={"COLUMNS": "80"}))
    lines = out.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("$ qemu-system"))
    block = [lines[start]]
    while block[-1].endswith(" \\"):
        block.append(lines[start + len(block)])
    assert len(block) > 1
    # Broken only at spaces: a line is longer than 80 only when it is a single word.
    assert all(len(line) <= 80 or len(line.removesuffix(" \\").split()) == 1 for line in block)
    # Joined back at the continuations, the command is exactly what the dataset says.
    rejoined = " ".join(line.removesuffix(" \\").strip() for line in block)
    assert rejoined == "$ " + LONG_RUN
    # Every URL stands whole on a line of its own.
    stripped = [line.strip() for line in lines]
    assert LONG_URL in stripped
    assert "https://example.org/benchmarks" in stripped


def test_show_separates_the_parts_of_a_dimension(kvmq: Kvmq) -> None:
    out = ok(kvmq("--data", MINIMAL, "show", "speed"))
    lines = out.splitlines()
    for heading in ("Beta commands", "Sources"):
        index = lines.index(heading)
        assert lines[index - 1] == "", heading
    note = next(i for i, line in enumerate(lines) if "Correction:" in line)
    assert lines[note - 1] == ""


@pytest.mark.parametrize("command", [("show",), ("pros",), ("list",), ("show", "performance")])
@pytest.mark.parametrize("width", ["60", "80", "120"])
def test_text_output_has_no_trailing_spaces(kvmq: Kvmq, command: tuple[str, ...],
                                            width: str) -> None:
    out = ok(kvmq(*command, env={"COLUMNS": width}))
    assert [line for line in out.splitlines() if line != line.rstrip()] == []


def test_pros_at_80_columns_are_stacked_with_whole_labels(kvmq: Kvmq) -> None:
    out = ok(kvmq("pros", env={"COLUMNS": "80"}))
    assert not re.search(r"^KVM\s+QEMU\s*$", out, re.MULTILINE)
    assert re.search(r"^Flexible network options\s+2\s", out, re.MULTILINE)
    totals = [line for line in out.splitlines() if line.startswith("Total")]
    assert len(totals) == 2


def test_side_by_side_pros_align_their_totals(kvmq: Kvmq) -> None:
    out = ok(kvmq("pros", env={"COLUMNS": "120"}))
    (line,) = [line for line in out.splitlines() if line.startswith("Total")]
    assert line.count("Total") == 2


def test_a_mistyped_command_gets_a_suggestion(kvmq: Kvmq) -> None:
    err = usage_error(kvmq("shwo"))
    assert "kvmq: error: unknown command 'shwo': did you mean 'show'?" in err
    assert "did you mean 'validate'?" in usage_error(kvmq("--data", MINIMAL, "valdate"))


@pytest.mark.parametrize("args", [("--format", "markdown", "check"), ("check", "--format", "markdown"),
                                  ("--format", "json", "validate", MINIMAL)])
def test_format_means_the_same_wherever_it_is_given(kvmq: Kvmq, args: tuple[str, ...]) -> None:
    err = usage_error(kvmq(*args))
    assert "no markdown output" in err or "no json output" in err


def test_help_examples_are_not_joined_by_pipes(kvmq: Kvmq) -> None:
    out = ok(kvmq("--help"))
    examples = out.split("examples:")[1]
    assert "kvmq show performance\n" in examples and " | kvmq" not in examples


@pytest.mark.parametrize("args", [("--data", "", "list"), ("validate", ""), ("--data", " ", "show")])
def test_an_empty_path_is_an_error(kvmq: Kvmq, args: tuple[str, ...]) -> None:
    assert "not an empty string" in usage_error(kvmq(*args))


@pytest.mark.parametrize("value", ["0", "-3", "abc", "", "10000000", "99999999999999999999", "5"])
def test_columns_is_clamped_and_nonsense_ignored(kvmq: Kvmq, value: str) -> None:
    started = time.monotonic()
    out = ok(kvmq("show", "performance", env={"COLUMNS": value}))
    assert time.monotonic() - started < 20
    assert "Performance" in out
    widest = max(len(line) for line in out.splitlines() if "://" not in line)
    assert 20 <= widest <= 1000


def test_output_width_rules() -> None:
    from kvmq.cli import output_width

    assert output_width({"COLUMNS": "5"}) == 20
    assert output_width({"COLUMNS": "10000000"}) == 1000
    assert output_width({"COLUMNS": "132"}) == 132
    assert 20 <= output_width({"COLUMNS": "1e3"}) <= 1000


@pytest.mark.parametrize("env", [{"PYTHONIOENCODING": "ascii"}, {"PYTHONIOENCODING": "latin-1"},
                                 {"LANG": "C", "LC_ALL": "C", "PYTHONCOERCECLOCALE": "0",
                                  "PYTHONUTF8": "0", "PYTHONIOENCODING": ""}])
@pytest.mark.parametrize("command", [("show",), ("pros",), ("list",), ("show", "--format", "json"),
                                     ("show", "--format", "markdown")])
def test_legacy_output_encodings_write_what_they_can(env: dict[str, str],
                                                    command: tuple[str, ...]) -> None:
    from tests.conftest import kvmq_env

    full_env = kvmq_env(env)
    if not full_env.get("PYTHONIOENCODING"):
        full_env.pop("PYTHONIOENCODING", None)
    result = subprocess.run([sys.executable, "-m", "kvmq", *command], capture_output=True,
                            timeout=60, env=full_env, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stderr == b""
    out = result.stdout.decode("latin-1")
    if command[-1] == "json":
        assert json.loads(out)["title"] == "KVM vs QEMU"
    elif command == ("show",):
        assert "! Correction:" in out  # the ASCII stand-in for the warning sign
    assert "Architecture" in out or "KVM" in out


# Textual's driver switches to the alternate screen first thing: the explorer has started.
_ALTERNATE_SCREEN = b"\x1b[?1049h"


def _run_in_a_terminal(args: list[str], env: dict[str, str]) -> tuple[int, str]:
    """Run kvmq on a pseudo-terminal until it exits, or until it has started the explorer
    (then it is killed: it would wait for keys). 60 s is a hang guard, never waited out."""
    import pty

    main, secondary = pty.openpty()
    try:
        # All three on the terminal, as in a shell (Textual draws on stderr).
        process = subprocess.Popen([sys.executable, "-m", "kvmq", *args], stdin=secondary,
                                   stdout=secondary, stderr=secondary, env=env)
        os.close(secondary)
        output = b""
        deadline = time.monotonic() + 60
        while (time.monotonic() < deadline and process.poll() is None
               and _ALTERNATE_SCREEN not in output):
            if select.select([main], [], [], 0.2)[0]:
                try:
                    output += os.read(main, 65536)
                except OSError:
                    break
        if process.poll() is None:  # it waits for keys: the explorer started
            process.kill()
        process.wait(timeout=30)
        while select.select([main], [], [], 0.1)[0]:
            try:
                chunk = os.read(main, 65536)
            except OSError:
                break
            if not chunk:
                break
            output += chunk
    finally:
        os.close(main)
    return process.returncode, output.decode("utf-8", "replace")


def test_dumb_terminal_gets_show_not_the_explorer(cli_env: dict[str, str]) -> None:
    status, out = _run_in_a_terminal([], {**cli_env, "TERM": "dumb"})
    assert status == 0
    assert "\x1b[?1049h" not in out  # no alternate screen: the explorer never started
    assert "Performance" in out and "KVM vs QEMU" in out


def test_check_reports_its_verdict_into_a_closed_pipe(cli_env: dict[str, str]) -> None:
    command = [sys.executable, "-m", "kvmq", "check"]
    verdict = subprocess.run(command, capture_output=True, env=cli_env, timeout=120,
                             check=False).returncode
    assert verdict in (0, 1)
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=cli_env)
    assert process.stdout is not None
    process.stdout.close()  # the reader is gone before kvmq writes a byte
    _, err = process.communicate(timeout=120)
    assert process.returncode == verdict, err
    assert b"Traceback" not in err
    closed = subprocess.run(["sh", "-c", '"$@" >&-', "sh", *command], capture_output=True,
                            env=cli_env, timeout=120, check=False)
    assert closed.returncode == verdict, closed.stderr


@pytest.mark.parametrize("hostile", ["\x1b]0;PWNED\x07", "a\nkvmq: error: fake", "\u202eevil",
                                     "\x1b]52;c;ZXZpbA==\x07"])
def test_arguments_reach_messages_escaped(kvmq: Kvmq, tmp_path: Path, hostile: str) -> None:
    # (the kvmq fixture fails on any control character in the output)
    for args in (("show", hostile), ("--data", str(tmp_path / f"{hostile}.yaml"), "list"),
                 ("validate", str(tmp_path / hostile)), (hostile,), ("show", "--format", hostile)):
        err = usage_error(kvmq(*args))
        assert len(err.strip().splitlines()) <= 3, err  # usage line(s) and one error line
        assert "\u202e" not in err


def test_validate_ok_line_escapes_the_file_name(kvmq: Kvmq, tmp_path: Path) -> None:
    path = tmp_path / "new\nline\x1b[2J.yaml"
    path.write_text(Path(MINIMAL).read_text(encoding="utf-8"), encoding="utf-8")
    out = ok(kvmq("validate", str(path)))
    assert out.count("\n") == 1 and "new\\nline\\x1b[2J.yaml: OK" in out


def test_validate_counts_in_the_singular(kvmq: Kvmq, tmp_path: Path) -> None:
    text = Path(MINIMAL).read_text(encoding="utf-8")
    text = text[:text.index("  - id: storage")] + text[text.index("pros:"):]
    text = text.replace("    - label: Simple\n      votes: 5\n", "").replace(
        "  beta:\n    - label: Compact\n      votes: 1\n", "  beta: []\n")
    path = tmp_path / "one.yaml"
    path.write_text(text, encoding="utf-8")
    out = ok(kvmq("validate", str(path)))
    assert "1 dimension, 1 note, 1 pro\n" in out, out


class _ClosedPipe(io.StringIO):
    """A stdout whose reader has gone: every write fails as a closed pipe does."""

    def write(self, text: str) -> int:
        raise BrokenPipeError(32, "Broken pipe")

    def isatty(self) -> bool:
        return False


@pytest.mark.parametrize("fmt", ["text", "json"])
@pytest.mark.parametrize("available", [True, False])
def test_check_exit_status_is_the_verdict_into_a_closed_stdout(
        monkeypatch: pytest.MonkeyPatch, fmt: str, available: bool) -> None:
    import dataclasses

    from kvmq import cli
    from kvmq.host import checks

    real = checks.run_checks()
    report = dataclasses.replace(real, verdict=dataclasses.replace(real.verdict,
                                                                   kvm_available=available))
    monkeypatch.setattr(checks, "run_checks", lambda: report)
    monkeypatch.setattr(cli, "_silence_stdout", lambda: None)
    for stdout in (_ClosedPipe(), None):
        monkeypatch.setattr(sys, "stdout", stdout)
        assert cli.main(["check", "--format", fmt]) == (0 if available else 1)


def test_a_legacy_encoding_terminal_gets_show_and_a_note(cli_env: dict[str, str]) -> None:
    """Textual has no ASCII mode: on an ASCII terminal the explorer would be all escapes."""
    env = {**cli_env, "TERM": "xterm-256color", "LANG": "C", "LC_ALL": "C",
           "PYTHONCOERCECLOCALE": "0", "PYTHONUTF8": "0", "PYTHONIOENCODING": ""}
    status, out = _run_in_a_terminal([], env)
    assert status == 0  # it printed and exited; the explorer would wait for keys
    assert "\\u2" not in out
    assert "Performance" in out


def test_a_utf8_terminal_starts_the_explorer(cli_env: dict[str, str]) -> None:
    """The control for the test above: the same terminal with UTF-8 gets the explorer."""
    env = {**cli_env, "TERM": "xterm-256color", "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8"}
    status, out = _run_in_a_terminal([], env)
    # The explorer started (and was killed while it waited for keys); nothing was printed.
    assert "\x1b[?1049h" in out
    assert status != 0 and "Performance" not in out
