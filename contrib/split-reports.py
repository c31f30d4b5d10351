#!/usr/bin/env python3
"""Split one JSON document of many hosts' kvmq reports into per-host files, written atomically.

    python3 split-reports.py RUN.json REPORTS/

RUN.json maps each host to its result, as ``salt --static --out json '*' cmd.script ...``
prints it: the value is kvmq-report.py's output (a string, or an object with ``stdout`` and
``retcode``, or the report itself). Each host gets REPORTS/HOST.json, the per-host report of
docs/fleet.md, named and keyed by the host as the tool knows it; a host whose output is not a
report gets a report that says why, so ``kvmq fleet`` lists it. Standard library only.
"""
# ruff: noqa: UP031, SIM105
import json
import os
import re
import sys
import tempfile
import time


def report_for(host, result):
    stdout = result.get("stdout", "") if isinstance(result, dict) and "stdout" in result else result
    if isinstance(stdout, str):
        try:
            stdout = json.loads(stdout)
        except ValueError:
            pass
    if isinstance(stdout, dict) and "schema" in stdout:
        stdout["host"] = host
        return stdout
    why = "no kvmq report in the output"
    if isinstance(result, dict) and result.get("retcode"):
        why += " (exit %s: %s)" % (result.get("retcode"), str(result.get("stderr", "")).strip()[-300:])
    elif isinstance(stdout, str) and stdout.strip():
        why += ": " + stdout.strip()[-300:]
    return {"schema": 1, "host": host, "collected_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "collector": "split-reports", "check": None, "vms": None,
            "errors": {"check": why, "vms": "not run"}}


def main(argv):
    if len(argv) != 2:
        sys.exit(__doc__.split("\n\n")[1])
    with open(argv[0], encoding="utf-8") as handle:
        run = json.load(handle)
    folder = argv[1]
    os.makedirs(folder, exist_ok=True)
    for host, result in sorted(run.items()):
        name = re.sub(r"[^A-Za-z0-9._-]", "_", host).lstrip(".") or "_"
        fd, temporary = tempfile.mkstemp(prefix=".%s." % name, suffix=".tmp", dir=folder)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(json.dumps(report_for(host, result), separators=(",", ":")) + "\n")
        os.chmod(temporary, 0o644)
        os.replace(temporary, os.path.join(folder, name + ".json"))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
