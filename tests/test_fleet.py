"""kvmq.host.fleet: reading per-host reports and merging them (fixtures in tests/fixtures/fleet/)."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

import pytest

from kvmq.host.fleet import (
    REPORT_SCHEMA,
    Fleet,
    FleetError,
    HostRow,
    State,
    format_age,
    parse_time,
    printable,
    read_fleet,
    select,
)

FLEET = Path(__file__).parent / "fixtures" / "fleet"
BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"
NOW = parse_time("2026-12-01T12:00:00Z")


def generator() -> ModuleType:
    """benchmarks/fleet_reports.py, which made the fixtures and makes the 5,000-host set."""
    spec = importlib.util.spec_from_file_location("fleet_reports", BENCHMARKS / "fleet_reports.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("fleet_reports", module)
    spec.loader.exec_module(module)
    return module


def by_host(fleet: Fleet) -> dict[str, HostRow]:
    return {row.host: row for row in fleet.hosts}


def read(name: str) -> dict[str, HostRow]:
    return by_host(read_fleet([FLEET / name], now=NOW))


def test_healthy_fleet_is_ok() -> None:
    fleet = read_fleet([FLEET / "healthy"], now=NOW)
    assert fleet.ok
    assert [row.host for row in fleet.hosts] == ["hv-a.example.net", "hv-b.example.net",
                                                 "hv-c.example.net"]
    row = fleet.hosts[0]
    assert row.state is State.OK and row.kvm_available is True
    assert row.vms is not None and (row.vms.kvm, row.vms.tcg, row.vms.unknown) == (3, 0, 0)
    assert row.failing == () and row.warnings == ()
    assert row.age(NOW) == 600  # collected 11:50, read at 12:00
    assert fleet.summary()["kvm_available"] == 3


def test_no_kvm_host_fails_the_fleet() -> None:
    rows = read("no-kvm")
    old = rows["hv-old"]
    assert old.state is State.NO_KVM and old.kvm_available is False
    assert old.failing == ("kvm.modules", "kvm.device", "kvm.api")
    assert old.reason == "/dev/kvm does not exist"
    # Its VM runs on TCG, but KVM does not work there: not a "TCG where KVM works" VM.
    assert old.vms is not None and old.vms.tcg == 1 and old.vms.tcg_while_kvm_works == 0
    assert rows["hv-ok"].state is State.OK
    assert not read_fleet([FLEET / "no-kvm"]).ok


def test_vm_on_tcg_where_kvm_works_fails_the_fleet() -> None:
    fleet = read_fleet([FLEET / "tcg"], now=NOW)
    slow = by_host(fleet)["hv-slow"]
    assert slow.state is State.TCG and slow.kvm_available is True
    assert slow.vms is not None
    assert (slow.vms.kvm, slow.vms.tcg, slow.vms.unknown, slow.vms.tcg_while_kvm_works) == (1, 1, 1, 1)
    assert slow.warnings == ("iommu.kernel",)
    assert not fleet.ok
    assert fleet.vm_totals().tcg_while_kvm_works == 1


BROKEN_REASONS = {
    "empty": "empty file",
    "truncated": "truncated: the JSON ends early (line 1, column 690)",
    "not-json": "not JSON: Expecting value at line 1, column 1",
    "latin1": "not JSON: not UTF-8 (byte 26)",
    "array": "not a kvmq report: the file holds a list",
    "other-shape": 'not a kvmq report (no "schema"; see docs/fleet.md)',
    "no-check": "kvmq check exited with status 127: python3: not found",
    "check-bad-verdict": "the host check has no verdict (kvm_available)",
}


def test_every_broken_file_is_a_host_with_its_reason() -> None:
    rows = read("broken")
    for host, reason in BROKEN_REASONS.items():
        assert rows[host].state is State.NO_REPORT, host
        assert rows[host].reason == reason, host
        assert rows[host].label == "no usable report"
    # Unaffected neighbours; files that are not reports are not read at all.
    assert rows["good"].state is State.OK
    assert rows["no-vms"].state is State.INCOMPLETE
    assert rows["no-vms"].reason == "VM scan: kvmq vms exited with status 2: invalid choice: 'vms'"
    assert "README" not in rows and ".hv-tmp" not in rows
    # A broken file is as old as the file.
    assert rows["empty"].collected_at == pytest.approx((FLEET / "broken" / "empty.json").stat().st_mtime)


def test_hostnames_and_findings_are_data() -> None:
    rows = read("broken")
    hostile = next(row for row in rows.values() if "red" in row.host)
    # Escapes and bidi overrides become visible text; markup stays as typed.
    assert hostile.host == "\\e[31mred\\e[0m[bold]host[/bold]\\u202e"
    assert "\x1b" not in hostile.search_text()
    assert printable("a\nb\tc\u2066") == "a\\nb\\tc\\u2066"


def test_two_schema_versions() -> None:
    rows = read("schemas")
    assert rows["v1"].state is State.OK
    assert rows["v2"].state is State.NO_REPORT
    assert rows["v2"].reason.startswith("report schema 2; this kvmq reads schema 1")
    # The first `kvmq check --format json` had no schema: still read.
    assert rows["check-v0"].state is State.OK
    assert rows["check-v7"].reason.startswith("host check schema 7; this kvmq reads schema 1")
    assert rows["vms-v3"].state is State.INCOMPLETE
    assert "VM scan schema 3" in rows["vms-v3"].reason


def test_json_lines_with_a_broken_line() -> None:
    rows = read("lines")
    assert sorted(rows) == ["fleet:3", "line-0", "line-1", "line-2"]
    assert rows["line-2"].vms is not None and rows["line-2"].vms.kvm == 2
    assert rows["line-2"].source.endswith("fleet.jsonl:4")
    assert rows["fleet:3"].reason == "line 3: truncated: the JSON ends early (column 47)"


def test_concatenated_documents(tmp_path: Path) -> None:
    """Documents one after another, pretty-printed (Salt's output without --static)."""
    gen = generator()
    text = "".join(json.dumps(gen.healthy(f"salt-{n}", n), indent=2) + "\n" for n in range(3))
    (tmp_path / "salt.json").write_text(text)
    rows = by_host(read_fleet([tmp_path / "salt.json"]))
    assert sorted(rows) == ["salt-0", "salt-1", "salt-2"]
    assert all(row.ok for row in rows.values())


def test_ansible_json_callback_output() -> None:
    rows = read("ansible-json")
    assert rows["ans-ok"].state is State.OK and rows["ans-ok"].vms is not None
    assert rows["ans-nokvm"].state is State.NO_KVM
    assert rows["ans-down"].reason == "unreachable: Failed to connect to the host via ssh: No route to host"
    assert rows["ans-failed"].reason == "failed: non-zero return code"
    assert rows["ans-silent"].reason == "no kvmq output for this host in the Ansible run"
    # An ad-hoc `kvmq check` run: the verdict is known, the VM scan is missing.
    assert rows["ans-adhoc"].state is State.INCOMPLETE and rows["ans-adhoc"].kvm_available is True


def test_bare_check_output_is_read(tmp_path: Path) -> None:
    gen = generator()
    (tmp_path / "plain.json").write_text(json.dumps(gen.check_doc("plain", kvm=False)))
    row = read_fleet([tmp_path]).hosts[0]
    assert row.host == "plain" and row.state is State.NO_KVM


def test_collector_errors_name_the_failure(tmp_path: Path) -> None:
    gen = generator()
    doc = gen.report("down", None, None, errors={"check": "unreachable: no route", "vms": "not run"})
    (tmp_path / "down.json").write_text(json.dumps(doc))
    row = read_fleet([tmp_path]).hosts[0]
    assert (row.state, row.reason) == (State.NO_REPORT, "unreachable: no route")


def test_the_newest_report_of_a_host_wins(tmp_path: Path) -> None:
    gen = generator()
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    older = gen.healthy("h", 1, collected_at="2026-12-01T10:00:00Z")
    (tmp_path / "a" / "h.json").write_text(json.dumps(older))
    newer = gen.report("h", gen.check_doc("h", kvm=False), gen.vms_doc([]),
                       collected_at="2026-12-01T11:00:00Z")
    (tmp_path / "b" / "h.json").write_text(json.dumps(newer))
    for order in ([tmp_path / "a", tmp_path / "b"], [tmp_path / "b", tmp_path / "a"]):
        fleet = read_fleet(order)
        assert len(fleet.hosts) == 1 and fleet.hosts[0].state is State.NO_KVM
        assert fleet.duplicates == 1


def test_unreadable_paths_are_usage_errors(tmp_path: Path) -> None:
    with pytest.raises(FleetError, match="no such file or folder"):
        read_fleet([tmp_path / "missing"])
    with pytest.raises(FleetError, match="no host reports"):
        read_fleet([tmp_path])


def test_unreadable_file_is_a_host(tmp_path: Path) -> None:
    (tmp_path / "locked.json").mkdir()  # a folder where a file should be: os.open fails
    (tmp_path / "ok.json").write_text(json.dumps(generator().healthy("ok")))
    rows = by_host(read_fleet([tmp_path / "locked.json", tmp_path / "ok.json"]))
    assert rows["ok"].ok


def test_deeply_nested_json_is_not_a_crash(tmp_path: Path) -> None:
    (tmp_path / "deep.json").write_text("[" * 100_000 + "]" * 100_000)
    row = read_fleet([tmp_path]).hosts[0]
    assert row.state is State.NO_REPORT and "nested too deeply" in row.reason


def test_select_only_and_sort() -> None:
    fleet = read_fleet([FLEET / "no-kvm", FLEET / "tcg", FLEET / "broken"], now=NOW)
    failing = select(fleet, "failing", "state")
    assert failing and all(not row.ok for row in failing)
    assert failing[0].state is State.NO_REPORT and failing[-1].state is State.INCOMPLETE
    assert [row.host for row in select(fleet, "tcg")] == ["hv-slow"]
    assert [row.host for row in select(fleet, "no-kvm")] == ["hv-old"]
    assert select(fleet, sort="failing")[0].host == "hv-old"
    assert select(fleet, sort="tcg")[0].host == "hv-slow"
    ages = [row.collected_at for row in select(fleet, sort="age")]
    assert ages == sorted(ages, key=lambda t: t or 0.0)


def test_to_dict_shape() -> None:
    fleet = read_fleet([FLEET / "tcg"], now=NOW)
    data = fleet.to_dict()
    assert data["schema"] == REPORT_SCHEMA and data["read_at"] == "2026-12-01T12:00:00Z"
    assert data["summary"]["hosts"] == 2 and not data["summary"]["all_ok"]
    assert data["summary"]["states"] == {"no-report": 0, "no-kvm": 0, "tcg": 1, "incomplete": 0, "ok": 1}
    slow = next(h for h in data["hosts"] if h["host"] == "hv-slow")
    assert slow["vms"] == {"kvm": 1, "tcg": 1, "unknown": 1, "tcg_while_kvm_works": 1}
    assert slow["age_seconds"] == 600 and slow["collected_at"] == "2026-12-01T11:50:00Z"


def test_times_and_ages() -> None:
    assert parse_time("2026-12-01T12:00:00Z") == parse_time("2026-12-01T13:00:00+01:00")
    assert parse_time("2026-12-01T12:00:00") == parse_time("2026-12-01T12:00:00Z")
    assert parse_time("yesterday") is None and parse_time(5) is None
    assert [format_age(s) for s in (None, 5, 125, 7200, 200000)] == ["?", "5s", "2m", "2h", "2d"]


def test_a_thousand_generated_hosts(tmp_path: Path) -> None:
    # The generator `make bench` merges 5,000 of (its speed is measured there, not here).
    folder = generator().write_fleet(tmp_path / "fleet", 1000)
    fleet = read_fleet([folder])
    assert len(fleet.hosts) == 1000
    summary = fleet.summary()
    counts = summary["states"]
    assert summary["all_ok"] is False and summary["hosts"] == sum(counts.values())
    assert counts["no-report"] > 0 and counts["no-kvm"] > 0 and counts["tcg"] > 0


@pytest.mark.parametrize("name", ["json-callback.json", "jsonl-callback.jsonl"])
def test_real_ansible_posix_callback_output(name: str) -> None:
    """Recorded from the real callbacks (tests/fixtures/fleet/ansible-posix/README.md)."""
    rows = by_host(read_fleet([FLEET / "ansible-posix" / name]))
    assert sorted(rows) == ["hv-a", "hv-b", "hv-nopy"]
    for host in ("hv-a", "hv-b"):
        assert rows[host].kvm_available is True and rows[host].state is State.INCOMPLETE
        assert "invalid choice: 'vms'" in rows[host].reason
    assert rows["hv-nopy"].state is State.NO_REPORT
    assert "/nonexistent/python3" in rows["hv-nopy"].reason


def test_real_reports_with_real_vms() -> None:
    """Recorded from the playbook with real guests (tests/fixtures/fleet/real-vms/README.md)."""
    rows = read("real-vms")
    host = rows["hv-a"]
    assert host.state is State.TCG and host.kvm_available is True
    assert host.vms is not None
    assert (host.vms.kvm, host.vms.tcg, host.vms.tcg_while_kvm_works) == (1, 1, 1)
    assert rows["hv-nopy"].state is State.NO_REPORT


def test_empty_streams_are_hosts_with_a_reason(tmp_path: Path) -> None:
    (tmp_path / "blank.jsonl").write_text("\n\n")
    (tmp_path / "events.jsonl").write_text('{"_event": "v2_playbook_on_start"}\n')
    rows = read_fleet([tmp_path]).hosts
    assert [(row.host, row.reason) for row in rows] == [("blank", "empty file"),
                                                        ("events", "no report in the file")]
