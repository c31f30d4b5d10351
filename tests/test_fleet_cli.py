"""``kvmq fleet`` from the command line, and contrib/kvmq-report.py (the per-host collector)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import RunKvmq

FLEET = Path(__file__).parent / "fixtures" / "fleet"
REPORT_SCRIPT = Path(__file__).resolve().parents[1] / "contrib" / "kvmq-report.py"


def test_healthy_fleet_exits_0(run_kvmq: RunKvmq) -> None:
    done = run_kvmq("fleet", str(FLEET / "healthy"))
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1] == "Fleet: every host can run KVM and no VM runs on TCG"
    assert done.stderr == ""


@pytest.mark.parametrize("name", ["no-kvm", "tcg", "broken", "schemas", "lines", "ansible-json"])
def test_a_fleet_needing_attention_exits_1(run_kvmq: RunKvmq, name: str) -> None:
    done = run_kvmq("fleet", str(FLEET / name))
    assert done.returncode == 1, done.stderr
    assert "attention" in done.stdout.splitlines()[-1]
    assert "Traceback" not in done.stderr and done.stderr == ""


def test_every_broken_report_is_listed_with_its_reason(run_kvmq: RunKvmq) -> None:
    done = run_kvmq("fleet", str(FLEET / "broken"), "--only", "no-report", "--format", "json")
    data = json.loads(done.stdout)
    reasons = {host["host"]: host["reason"] for host in data["hosts"]}
    assert reasons["empty"] == "empty file"
    assert reasons["truncated"].startswith("truncated: ")
    assert reasons["not-json"].startswith("not JSON: ")
    assert all(host["state"] == "no-report" for host in data["hosts"])


@pytest.mark.parametrize("args", [
    ("fleet",),
    ("fleet", "/nonexistent/reports"),
    ("fleet", str(FLEET / "healthy"), "--only", "bogus"),
    ("fleet", str(FLEET / "healthy"), "--sort", "bogus"),
    ("fleet", str(FLEET / "healthy"), "--format", "yaml"),
])
def test_usage_errors_exit_2(run_kvmq: RunKvmq, args: tuple[str, ...]) -> None:
    done = run_kvmq(*args)
    assert done.returncode == 2
    assert "Traceback" not in done.stderr and done.stderr.startswith(("kvmq: error:", "usage:"))


def test_empty_folder_is_a_usage_error(run_kvmq: RunKvmq, tmp_path: Path) -> None:
    (tmp_path / "reports").mkdir()
    done = run_kvmq("fleet", str(tmp_path / "reports"))
    assert done.returncode == 2
    assert "no host reports in" in done.stderr


@pytest.mark.parametrize("fmt", ["markdown", "json", "csv"])
def test_formats(run_kvmq: RunKvmq, fmt: str) -> None:
    done = run_kvmq("fleet", str(FLEET / "tcg"), str(FLEET / "no-kvm"), "--only", "failing",
                    "--sort", "state", "--format", fmt)
    assert done.returncode == 1
    if fmt == "json":
        assert [h["host"] for h in json.loads(done.stdout)["hosts"]] == ["hv-old", "hv-slow"]
    elif fmt == "csv":
        assert [line.split(",")[0] for line in done.stdout.splitlines()] == ["host", "hv-old", "hv-slow"]
    else:
        assert done.stdout.startswith("# kvmq fleet")


def test_fleet_never_imports_textual_off_a_terminal(tmp_path: Path, cli_env: dict[str, str]) -> None:
    process = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "kvmq", "fleet", str(FLEET / "tcg")],
        capture_output=True, text=True, timeout=60, env=cli_env, cwd=tmp_path, stdin=subprocess.DEVNULL,
    )
    assert process.returncode == 1
    assert len([line for line in process.stderr.splitlines() if line.startswith("import time:")]) > 20
    assert not [line for line in process.stderr.splitlines() if "textual" in line]


# --------------------------------------------------------------------------- the collector


def fake_bundle(tmp_path: Path, check: str, vms: str, check_status: int = 0) -> Path:
    """A stand-in for kvmq.pyz that prints the given outputs."""
    bundle = tmp_path / "fake.pyz"
    bundle.write_text(
        "import os, sys\n"
        "assert os.environ['XDG_CACHE_HOME'].startswith(os.path.realpath(os.environ['TMP_BASE']))\n"
        f"outputs = {{'check': ({check!r}, {check_status}), 'vms': ({vms!r}, 0)}}\n"
        "text, status = outputs[sys.argv[1]]\n"
        "sys.stdout.write(text)\n"
        "sys.stderr.write('kvmq: error: something\\n' if status > 1 else '')\n"
        "sys.exit(status)\n")
    return bundle


def collect(tmp_path: Path, bundle: Path) -> dict:  # type: ignore[type-arg]
    scratch = tmp_path / "tmp"
    scratch.mkdir(exist_ok=True)
    env = {"PATH": "/usr/bin:/bin", "TMPDIR": str(scratch), "TMP_BASE": str(scratch)}
    done = subprocess.run([sys.executable, str(REPORT_SCRIPT), str(bundle), "--host", "h1",
                           "--collector", "test"], capture_output=True, text=True, timeout=60,
                          env=env, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.count("\n") == 1  # one line: the files are JSON Lines as well
    assert list(scratch.iterdir()) == []  # the unpack folder is gone
    return json.loads(done.stdout)  # type: ignore[no-any-return]


def test_collector_combines_both_outputs(tmp_path: Path) -> None:
    report = collect(tmp_path, fake_bundle(tmp_path, '{"checks": [], "verdict": {"kvm_available": false}}',
                                           '{"schema": 1, "vms": []}', check_status=1))
    assert report["schema"] == 1 and report["host"] == "h1" and report["collector"] == "test"
    assert report["check"]["verdict"]["kvm_available"] is False  # exit 1 is an answer
    assert report["vms"] == {"schema": 1, "vms": []}
    assert "errors" not in report


def test_collector_reports_failures_instead_of_failing(tmp_path: Path) -> None:
    report = collect(tmp_path, fake_bundle(tmp_path, "", "not json", check_status=2))
    assert report["check"] is None and report["vms"] is None
    assert report["errors"]["check"] == "kvmq check exited with status 2: kvmq: error: something"
    assert report["errors"]["vms"].startswith("kvmq vms printed no JSON")
    missing = collect(tmp_path, tmp_path / "nowhere.pyz")
    assert missing["errors"]["check"].startswith("no kvmq bundle at ")


def test_split_reports_from_salt_output(tmp_path: Path, run_kvmq: RunKvmq) -> None:
    """contrib/split-reports.py: Salt's --static JSON of cmd.script results to per-host files."""
    good = (FLEET / "tcg" / "hv-fast.json").read_text()
    run = {"minion-1": {"pid": 10, "retcode": 0, "stdout": json.dumps(json.loads(good)), "stderr": ""},
           "minion-2": {"pid": 11, "retcode": 127, "stdout": "", "stderr": "python3: not found"},
           "minion-3": good, "../evil": "no report here"}
    (tmp_path / "salt-run.json").write_text(json.dumps(run))
    reports = tmp_path / "reports"
    done = subprocess.run([sys.executable, str(REPORT_SCRIPT.with_name("split-reports.py")),
                           str(tmp_path / "salt-run.json"), str(reports)],
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in reports.iterdir()) == [
        "_evil.json", "minion-1.json", "minion-2.json", "minion-3.json"]
    data = json.loads(run_kvmq("fleet", str(reports), "--format", "json").stdout)
    hosts = {h["host"]: h for h in data["hosts"]}
    assert hosts["minion-1"]["state"] == "ok" and hosts["minion-3"]["state"] == "ok"
    assert "exit 127: python3: not found" in hosts["minion-2"]["reason"]
    assert hosts["../evil"]["reason"] == "no kvmq report in the output: no report here"
