"""CPU time of a Docker container from its cgroup, read on the host (stdlib only).

cgroup v1 (cpuacct.usage, nanoseconds) and v2 (cpu.stat usage_usec), with the cgroupfs
(`docker/<id>`) and systemd (`system.slice/docker-<id>.scope`) drivers. The usage counts from
the container's start, so read at a moment (e.g. when its server first answers) it is the CPU
the container spent to get there."""

from __future__ import annotations

import subprocess
from pathlib import Path

ROOT = Path("/sys/fs/cgroup")


def container_id(name: str) -> str:
    p = subprocess.run(["docker", "inspect", "--format", "{{.Id}}", name], capture_output=True, text=True, timeout=30)
    if p.returncode != 0:
        raise LookupError(f"no container {name}: {p.stderr.strip()}")
    return p.stdout.strip()


def _candidates(cid: str) -> list[tuple[Path, str]]:
    return [
        (ROOT / "cpuacct" / "docker" / cid / "cpuacct.usage", "v1"),
        (ROOT / "cpuacct" / "system.slice" / f"docker-{cid}.scope" / "cpuacct.usage", "v1"),
        (ROOT / "cpu,cpuacct" / "docker" / cid / "cpuacct.usage", "v1"),
        (ROOT / "docker" / cid / "cpu.stat", "v2"),
        (ROOT / "system.slice" / f"docker-{cid}.scope" / "cpu.stat", "v2"),
    ]


def cpu_seconds(name_or_id: str) -> float:
    """CPU seconds (user + system, all cores) the container has used since it started."""
    cid = name_or_id if len(name_or_id) == 64 else container_id(name_or_id)
    for path, kind in _candidates(cid):
        try:
            text = path.read_text()
        except OSError:
            continue
        if kind == "v1":
            return int(text.strip()) / 1e9
        for line in text.splitlines():
            key, _, value = line.partition(" ")
            if key == "usage_usec":
                return int(value) / 1e6
    raise LookupError(f"no cgroup CPU accounting found for container {cid[:12]} under {ROOT}")
