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


def usage_file(cid: str) -> Path:
    """The file holding the container's cumulative CPU time (it disappears with the container)."""
    for path in (ROOT / "cpuacct" / "docker" / cid / "cpuacct.usage",
                 ROOT / "cpuacct" / "system.slice" / f"docker-{cid}.scope" / "cpuacct.usage",
                 ROOT / "cpu,cpuacct" / "docker" / cid / "cpuacct.usage",
                 ROOT / "docker" / cid / "cpu.stat",
                 ROOT / "system.slice" / f"docker-{cid}.scope" / "cpu.stat"):
        if path.exists():
            return path
    raise LookupError(f"no cgroup CPU accounting found for container {cid[:12]} under {ROOT}")


def read_seconds(path: Path) -> float:
    """CPU seconds (user + system, all cores) in a usage_file."""
    text = path.read_text()
    if path.name == "cpuacct.usage":
        return int(text.strip()) / 1e9
    return int(text.split("usage_usec", 1)[1].split()[0]) / 1e6


def cpu_seconds(name_or_id: str) -> float:
    """CPU seconds the container has used since it started."""
    cid = name_or_id if len(name_or_id) == 64 else container_id(name_or_id)
    try:
        return read_seconds(usage_file(cid))
    except OSError as e:  # gone between finding and reading
        raise LookupError(f"container {cid[:12]}: {e}") from e
