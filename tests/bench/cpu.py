"""CPU seconds used by the processes of a local run, from /proc: what the cores share.

Grouped by role: the function's runtimes (awslambdaric under the emulator), the emulators
themselves (aws-lambda-rie), moto server, and this process (the local Lambda service: its
S3 poller, its Lambda API for the Step Functions interpreter, the backfill's watcher).
"""

from __future__ import annotations

import os
from pathlib import Path

ROLES = ("function", "emulator", "moto", "service")


def cpu_seconds(moto_pid: int) -> dict[str, float]:
    """CPU seconds (user + system) used so far by each role's live processes."""
    tick = os.sysconf("SC_CLK_TCK")
    used = dict.fromkeys(ROLES, 0.0)
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        program = cmd.split(b"\0", 1)[0]
        who = ("moto" if int(pid) == moto_pid else "service" if int(pid) == os.getpid()
               else "emulator" if b"aws-lambda-rie" in program  # its arguments name the runtime
               else "function" if b"awslambdaric" in cmd else None)  # fmt: skip
        if who:
            used[who] += (int(stat[11]) + int(stat[12])) / tick
    return used


def since(before: dict[str, float], moto_pid: int) -> dict[str, float]:
    """CPU seconds each role used since `before` (an earlier cpu_seconds)."""
    now = cpu_seconds(moto_pid)
    return {k: now[k] - before[k] for k in now}
