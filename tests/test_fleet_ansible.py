"""The real Ansible playbook (contrib/ansible/kvmq-fleet.yml) against local hosts, then ``kvmq fleet``.

One playbook run, shared by the module: the bundle is built by scripts/build_bundle.py (what
``make bundle`` runs), the inventory names two hosts on this machine
(``ansible_connection=local``) and one whose Python does not exist. HOME and TMPDIR point into
a scratch folder, so the tests can see that nothing is left behind. ``ansible-core`` comes with
the test extra; without ``ansible-playbook`` the module is skipped with a printed note.
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests import bundle_cache

ROOT = Path(__file__).resolve().parents[1]
PLAYBOOK = ROOT / "contrib" / "ansible" / "kvmq-fleet.yml"
# Two local hosts and a broken one: enough for forks, a dotted name and a failure.
LOCAL_HOSTS = ("hv-1.example.net", "hv-2")
BROKEN_HOST = "hv-nopython"

pytestmark = pytest.mark.slow


def ansible_playbook() -> str:
    beside = Path(sys.executable).with_name("ansible-playbook")
    return str(beside) if beside.exists() else (shutil.which("ansible-playbook") or "")


@dataclass(eq=False)  # hashed by identity: local_truth caches per run
class Run:
    scratch: Path
    bundle: Path
    reports: Path
    env: dict[str, str]
    playbook: subprocess.CompletedProcess[str]

    def ansible(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [ansible_playbook(), "-i", str(self.scratch / "inventory.ini"), str(PLAYBOOK),
             "-e", f"kvmq_bundle={self.bundle}", *args],
            capture_output=True, text=True, timeout=300, env=self.env, cwd=self.scratch, check=False)

    def kvmq(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "kvmq", *args], capture_output=True, text=True,
                              timeout=120, env={**self.env, "COLUMNS": "80", "NO_COLOR": "1"},
                              cwd=self.scratch, stdin=subprocess.DEVNULL, check=False)


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Run:
    if not ansible_playbook():
        message = "ansible-playbook not found (pip install -e '.[test]' installs ansible-core)"
        print(f"\nnote: {message}: the playbook tests do not run", file=sys.stderr)
        pytest.skip(message)
    scratch = tmp_path_factory.mktemp("ansible-fleet")
    bundle = scratch / "dist" / "kvmq.pyz"
    bundle.parent.mkdir()
    shutil.copy2(bundle_cache.build(), bundle)
    for name in ("home", "tmp", "ansible-local"):
        (scratch / name).mkdir()
    (scratch / "inventory.ini").write_text(
        "[hypervisors]\n" + "".join(f"{host}\n" for host in LOCAL_HOSTS)
        + f"{BROKEN_HOST} ansible_python_interpreter=/nonexistent/bin/python3\n"
        + "[hypervisors:vars]\nansible_connection=local\n"
        + f"ansible_python_interpreter={sys.executable}\n")
    env = {key: value for key, value in os.environ.items() if not key.startswith(("ANSIBLE_", "KVMQ_"))}
    env.update({
        "HOME": str(scratch / "home"), "TMPDIR": str(scratch / "tmp"),
        "XDG_CACHE_HOME": str(scratch / "home" / ".cache"),
        "ANSIBLE_LOCAL_TEMP": str(scratch / "ansible-local"),
        "ANSIBLE_REMOTE_TMP": str(scratch / "home" / ".ansible" / "tmp"),
        "ANSIBLE_NOCOLOR": "1", "ANSIBLE_FORCE_COLOR": "0", "ANSIBLE_RETRY_FILES_ENABLED": "0",
        "ANSIBLE_CONFIG": str(scratch / "no-ansible.cfg"),
        # Ansible refuses to start unless the locale's encoding is UTF-8.
        "LC_ALL": "C.UTF-8", "LANG": "C.UTF-8",
    })
    reports = scratch / "reports"
    partial = Run(scratch, bundle, reports, env, subprocess.CompletedProcess([], 0))
    partial.playbook = partial.ansible("-e", f"kvmq_reports={reports}", "--forks", "4")
    return partial


def fleet_json(run: Run, *args: str) -> dict:  # type: ignore[type-arg]
    done = run.kvmq("fleet", str(run.reports), "--format", "json", *args)
    assert done.returncode in (0, 1), done.stderr
    return json.loads(done.stdout)  # type: ignore[no-any-return]


@functools.cache
def local_truth(run: Run) -> tuple[bool, bool]:
    """(KVM available here, `kvmq vms` exists in this checkout), from the bundle itself
    (asked once: the answer is the same for every test of the module)."""
    env = {**run.env, "XDG_CACHE_HOME": str(run.scratch / "truth-cache")}
    check = subprocess.run([sys.executable, str(run.bundle), "check", "--format", "json"],
                           capture_output=True, text=True, timeout=120, env=env, check=False)
    vms = subprocess.run([sys.executable, str(run.bundle), "vms", "--format", "json"],
                         capture_output=True, text=True, timeout=120, env=env, check=False)
    return json.loads(check.stdout)["verdict"]["kvm_available"], vms.returncode in (0, 1)


def test_the_playbook_runs(run: Run) -> None:
    assert run.playbook.returncode == 0, run.playbook.stdout[-4000:] + run.playbook.stderr[-4000:]
    recap = run.playbook.stdout[run.playbook.stdout.index("PLAY RECAP"):]
    for host in (*LOCAL_HOSTS, BROKEN_HOST):
        assert f"{host} " in recap
    assert "failed=0" in recap


def test_one_report_file_per_host(run: Run) -> None:
    names = sorted(path.name for path in run.reports.iterdir())
    assert names == sorted(f"{host}.json" for host in (*LOCAL_HOSTS, BROKEN_HOST))
    for host in LOCAL_HOSTS:
        report = json.loads((run.reports / f"{host}.json").read_text())
        assert report["schema"] == 1 and report["host"] == host and report["collector"] == "ansible"
        assert report["check"]["verdict"]["kvm_available"] in (True, False)


def test_merged_report(run: Run) -> None:
    kvm_here, vms_here = local_truth(run)
    data = fleet_json(run)
    hosts = {host["host"]: host for host in data["hosts"]}
    assert sorted(hosts) == sorted((*LOCAL_HOSTS, BROKEN_HOST))
    for host in LOCAL_HOSTS:
        row = hosts[host]
        assert row["kvm_available"] is kvm_here
        assert row["age_seconds"] is not None and row["age_seconds"] < 600
        if not kvm_here:
            assert row["state"] == "no-kvm"
        elif vms_here:
            assert row["state"] in ("ok", "tcg") and row["vms"] is not None
        else:  # `kvmq vms` has not landed in this checkout: the scan's failure is named
            assert row["state"] == "incomplete" and "vms" in row["reason"]
    broken = hosts[BROKEN_HOST]
    assert broken["state"] == "no-report"
    assert "/nonexistent/bin/python3" in broken["reason"]
    assert data["summary"]["all_ok"] is False


def test_text_report_and_exit_status(run: Run) -> None:
    done = run.kvmq("fleet", str(run.reports))
    assert done.returncode == 1  # the host without Python has no usable report
    lines = done.stdout.splitlines()
    assert lines[0].split()[:2] == ["HOST", "STATE"]
    assert any(line.startswith(BROKEN_HOST) and "no usable report" in line for line in lines)
    assert all(any(line.startswith(host + " ") for line in lines) for host in LOCAL_HOSTS)
    assert "attention" in lines[-1]
    print("\n" + done.stdout)  # the merged table, for the log


def test_nothing_is_left_on_the_hosts(run: Run) -> None:
    assert list((run.scratch / "tmp").iterdir()) == []  # the temporary folders are gone
    assert not (run.scratch / "home" / ".cache" / "kvmq").exists()  # the bundle never unpacked there


def test_check_mode_with_limit_writes_nothing(run: Run) -> None:
    reports = run.scratch / "check-mode-reports"
    done = run.ansible("-e", f"kvmq_reports={reports}", "--check", "--limit", LOCAL_HOSTS[1])
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert f"ok: [{LOCAL_HOSTS[1]}]" in done.stdout and LOCAL_HOSTS[0] not in done.stdout
    assert not reports.exists() or list(reports.iterdir()) == []
    assert list((run.scratch / "tmp").iterdir()) == []


def test_the_local_fact(run: Run) -> None:
    facts = run.scratch / "facts.d"
    lib = run.scratch / "lib-kvmq"
    done = run.ansible("--tags", "kvmq_fact", "--limit", LOCAL_HOSTS[0], "-e", f"kvmq_facts_dir={facts}",
                       "-e", f"kvmq_install_dir={lib}")
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    fact = facts / "kvmq.fact"
    assert os.access(fact, os.X_OK) and str(lib / "kvmq.pyz") in fact.read_text()
    kvm_here, _ = local_truth(run)
    expected = "KVM acceleration available" if kvm_here else "QEMU will run without KVM"
    assert f"{LOCAL_HOSTS[0]}: {expected}" in done.stdout
    printed = json.loads(subprocess.run([str(fact)], capture_output=True, text=True, timeout=120,
                                        env=run.env, check=False).stdout)
    assert printed["kvm_available"] is kvm_here and printed["schema"] == 1
    removed = run.ansible("--tags", "kvmq_fact", "--limit", LOCAL_HOSTS[0], "-e", f"kvmq_facts_dir={facts}",
                          "-e", f"kvmq_install_dir={lib}", "-e", "kvmq_fact_state=absent")
    assert removed.returncode == 0
    assert not fact.exists() and not lib.exists()
