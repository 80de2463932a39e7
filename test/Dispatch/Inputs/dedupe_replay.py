#!/usr/bin/env python3
"""replay_schedule.py with kiln-dedupe-dispatches after dispatch formation: the repeated layers
of a small GPT-2 share their dispatch functions, the schedule names the survivors, only those
are compiled, and the replayed logits must still match the numpy GPT-2. Prints the number of
dispatch steps in the schedule and of distinct functions compiled.

    dedupe_replay.py <the options of replay_schedule.py>
"""
import json
import os
import sys

sys.dont_write_bytecode = True  # keep the source tree clean
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import replay_schedule as replay  # noqa: E402

_run = replay.run
schedules = []


def run(cmd, stdin=None):
    # The formation command gains the dedupe pass; everything else runs as replay_schedule does.
    if any(a.startswith("--kiln-form-dispatches") for a in cmd):
        cmd = cmd + ["--kiln-dedupe-dispatches"]
    out = _run(cmd, stdin)
    if "--kiln-print-dispatch-schedule" in cmd:
        schedules.append(json.loads(out))
    if "--kiln-extract-dispatches" in cmd:
        functions = [l for l in out.splitlines() if l.lstrip().startswith("func.func")]
        print(f"distinct dispatch functions compiled: {len(functions)}")
    return out


replay.run = run

if __name__ == "__main__":
    rc = replay.main()
    steps = [d["dispatch"] for d in schedules[0]["dispatches"]]
    print(f"schedule: {len(steps)} steps over {len(set(steps))} functions")
    sys.exit(rc)
