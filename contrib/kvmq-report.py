#!/usr/bin/env python3
"""Run kvmq's host check and VM scan on this host and print one per-host fleet report.

    python3 kvmq-report.py KVMQ.PYZ [--host NAME] [--collector NAME]

Prints one line of JSON, the per-host report of docs/fleet.md:
``{"schema": 1, "host", "collected_at", "collector", "check": <kvmq check --format json>,
"vms": <kvmq vms --format json>, "errors": {...}}``. It always prints a report and exits 0:
when a command fails, its part is null and ``errors`` says why, so the control machine
lists the host with the reason instead of losing it.

The bundle unpacks into a temporary folder (XDG_CACHE_HOME) that is removed at the end, so
nothing is left on the host. Used by contrib/ansible/kvmq-fleet.yml and by the Salt and SSH
examples in contrib/ansible/README.md. Standard library only; plain enough that an old
python3 still prints a report that says what is wrong.
"""
# ruff: noqa: UP031
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

REPORT_SCHEMA = 1
TIMEOUT = 600  # seconds per command; `kvmq check` caps each program it runs at 3 s


def run(bundle, command, cache):
    """(parsed JSON output or None, error text or "") of ``kvmq COMMAND --format json``."""
    env = dict(os.environ, XDG_CACHE_HOME=cache, NO_COLOR="1", KVMQ_NO_CACHE="1")
    argv = [sys.executable, "-I", bundle, command, "--format", "json"]
    try:
        process = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE, env=env, cwd=cache)
    except OSError as error:
        return None, "cannot run %s: %s" % (sys.executable, error)
    try:
        out, err = process.communicate(timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        process.kill()
        process.communicate()
        return None, "kvmq %s did not finish within %d s" % (command, TIMEOUT)
    stderr = err.decode("utf-8", "replace").strip().splitlines()
    last = stderr[-1] if stderr else ""
    # 0 and 1 are answers (1: no KVM); anything else is a failure of the command itself.
    if process.returncode not in (0, 1):
        return None, "kvmq %s exited with status %d%s" % (
            command, process.returncode, ": " + last if last else "")
    try:
        parsed = json.loads(out.decode("utf-8"))
    except ValueError as error:
        return None, "kvmq %s printed no JSON (%s)%s" % (command, error, ": " + last if last else "")
    if not isinstance(parsed, dict):
        return None, "kvmq %s printed JSON that is not an object" % command
    return parsed, ""


def main(argv):
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("bundle", help="path of kvmq.pyz on this host")
    parser.add_argument("--host", default="", help="name in the report (default: this hostname)")
    parser.add_argument("--collector", default="script", help="what ran this (ansible, salt, ssh)")
    args = parser.parse_args(argv)
    report = {
        "schema": REPORT_SCHEMA,
        "host": args.host or socket.gethostname(),
        "collected_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "collector": args.collector,
        "python": "%d.%d.%d" % sys.version_info[:3],
        "check": None,
        "vms": None,
    }
    errors = {}
    cache = tempfile.mkdtemp(prefix="kvmq-report-")
    try:
        if not os.path.isfile(args.bundle):
            errors["check"] = errors["vms"] = "no kvmq bundle at %s" % args.bundle
        else:
            for command in ("check", "vms"):
                report[command], problem = run(os.path.abspath(args.bundle), command, cache)
                if problem:
                    errors[command] = problem
    finally:
        shutil.rmtree(cache, ignore_errors=True)
    if errors:
        report["errors"] = errors
    sys.stdout.write(json.dumps(report, separators=(",", ":"), sort_keys=False) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
