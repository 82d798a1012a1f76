"""CPU the whole host spent over a window of the benchmark (stdlib only, Linux /proc/stat), and how
much of it was the benchmark's own: its threads (the simulated browsers) and the commands it ran
and waited for (docker CLI). The rest is what the stack and the Docker engine used: the work a
rush of N starts costs the machine.

With that work and the cores, a rush cannot do better than work conservation allows: the k-th
server to answer needs at least k starts' work done on `cores` CPUs, so p95 >= ceil(0.95 N) x
(work per start) / cores when every start's work happens before its server answers (an estimate:
work after an answer, e.g. a server's first activity report, is counted too)."""

from __future__ import annotations

import math
import os
import time

TICK = os.sysconf("SC_CLK_TCK")


def busy_seconds() -> float:
    """Non-idle CPU seconds of all CPUs since boot (user, nice, system, irq, softirq, steal)."""
    with open("/proc/stat") as f:
        fields = [int(x) for x in f.readline().split()[1:9]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = fields
    return (user + nice + system + irq + softirq + steal) / TICK


def own_seconds() -> float:
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


class HostCpu:
    """Started at construction; `result(starts)` closes the window."""

    def __init__(self):
        self.t0, self.busy0, self.own0 = time.monotonic(), busy_seconds(), own_seconds()

    def result(self, starts: int) -> dict:
        wall = time.monotonic() - self.t0
        busy, own = busy_seconds() - self.busy0, own_seconds() - self.own0
        cores = os.cpu_count() or 1
        stack = max(busy - own, 0.0)
        per_start = stack / starts if starts else None
        k = math.ceil(0.95 * starts)
        return {"wall": wall, "cores": cores, "busy_seconds": busy, "bench_seconds": own, "stack_seconds": stack,
                "utilization": busy / (wall * cores) if wall > 0 else None, "per_start": per_start,
                "cpu_bound_p95": k * per_start / cores if per_start is not None else None}
