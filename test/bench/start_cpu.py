"""CPU cost of one user server start (issue 14): `docker run` of a notebook image as DockerSpawner
runs a user server (command jhlti-start, user 0, the start capabilities, no-new-privileges,
NB_UID, the JUPYTERHUB_* environment, a fresh home volume, the exchange volume, limits) until
the server answers HTTP on its `<prefix>api` (any status, as the hub's readiness check),
polled every 50 ms. Reports per start the wall time and the container's CPU-seconds (its
cgroup's CPU usage, read from the host the moment the server answers, and again --settle
seconds later, to catch work merely moved past the answer), N starts one after another.

No hub is needed: a stub answers the server's calls to the hub API (version check, activity).
It runs in its own container whose network namespace the server joins, so the server reaches it
on 127.0.0.1 and its CPU is not counted; the server's port is published on 127.0.0.1 only.

    .venv/bin/python test/bench/start_cpu.py IMAGE [-n 7] [--json out.json] [-- SERVER_ARGS...]

Stdlib only. Every container and volume it creates is named jhlti-cpu-<pid>-* and removed at
exit, also on failure, Ctrl-C or SIGTERM."""

from __future__ import annotations

import argparse
import http.client
import json
import math
import os
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from cgroup import read_seconds, usage_file  # noqa: E402

PREFIX = f"jhlti-cpu-{os.getpid()}"
SERVICE_PREFIX = "/user/u1/bench101/"
PORT, HUB_PORT = 8888, 8081
START_CAPABILITIES = ["CHOWN", "DAC_OVERRIDE", "FOWNER", "SETGID", "SETPCAP", "SETUID"]  # constructs/contract.ts
TOKEN = "0123456789abcdef" * 2
ENV = {  # what JupyterHub 5's Spawner.get_env and the project's spawner give a user server
    "NB_UID": "20001", "JHLTI_COURSE_ID": "bench101",
    "JUPYTERHUB_API_TOKEN": TOKEN, "JPY_API_TOKEN": TOKEN,
    "JUPYTERHUB_CLIENT_ID": "jupyterhub-user-u1-bench101",
    "JUPYTERHUB_COOKIE_HOST_PREFIX_ENABLED": "0", "JUPYTERHUB_HOST": "",
    "JUPYTERHUB_OAUTH_CALLBACK_URL": f"{SERVICE_PREFIX}oauth_callback",
    "JUPYTERHUB_OAUTH_SCOPES": '["access:servers!server=u1/bench101"]',
    "JUPYTERHUB_OAUTH_ACCESS_SCOPES": '["access:servers!server=u1/bench101"]',
    "JUPYTERHUB_OAUTH_CLIENT_ALLOWED_SCOPES": "[]",
    "JUPYTERHUB_USER": "u1", "JUPYTERHUB_SERVER_NAME": "bench101",
    "JUPYTERHUB_API_URL": f"http://127.0.0.1:{HUB_PORT}/hub/api",
    "JUPYTERHUB_ACTIVITY_URL": f"http://127.0.0.1:{HUB_PORT}/hub/api/users/u1/activity",
    "JUPYTERHUB_BASE_URL": "/", "JUPYTERHUB_SERVICE_PREFIX": SERVICE_PREFIX,
    "JUPYTERHUB_SERVICE_URL": f"http://0.0.0.0:{PORT}{SERVICE_PREFIX}",
    "JUPYTERHUB_PUBLIC_URL": "", "JUPYTERHUB_PUBLIC_HUB_URL": "https://localhost:28443/hub/",
}
ARGS = ["--ServerApp.shutdown_no_activity_timeout=3600", "--MappingKernelManager.cull_idle_timeout=3600",
        "--MappingKernelManager.cull_interval=60"]  # the spawner's idle-cull arguments
# The hub API as far as a starting server uses it: any call answers 200 with the hub's version.
HUB_STUB = f"""
import http.server, importlib.metadata
try: version = importlib.metadata.version("jupyterhub")
except Exception: version = "5.5.4"
class Hub(http.server.BaseHTTPRequestHandler):
    def answer(self):
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.send_response(200)
        self.send_header("X-JupyterHub-Version", version)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{{}}")
    do_GET = do_POST = answer
    def log_message(self, *args): pass
http.server.ThreadingHTTPServer(("127.0.0.1", {HUB_PORT}), Hub).serve_forever()
"""
CREATED: list[tuple[str, str]] = []  # ("container" | "volume", name), removed at exit


def docker(*args: str, timeout: float = 120) -> str:
    p = subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout)
    if p.returncode != 0:
        raise RuntimeError(f"docker {' '.join(args[:3])}: {p.stderr.strip()}")
    return p.stdout.strip()


def cleanup() -> None:
    for kind, name in reversed(CREATED):
        cmd = ["rm", "-f", "-v", name] if kind == "container" else ["volume", "rm", "-f", name]
        subprocess.run(["docker", *cmd], capture_output=True, timeout=120)
    CREATED.clear()


def answers(port: int) -> bool:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
    try:
        conn.request("GET", f"{SERVICE_PREFIX}api")
        conn.getresponse().read()
        return True
    except (OSError, http.client.HTTPException):
        return False  # docker-proxy accepts before the server listens, then drops the connection
    finally:
        conn.close()


def start_stub(image: str) -> tuple[str, int]:
    name = f"{PREFIX}-hub"
    CREATED.append(("container", name))
    docker("run", "-d", "--name", name, "-p", f"127.0.0.1::{PORT}", "--entrypoint", "python3", image, "-c", HUB_STUB)
    port = int(docker("port", name, f"{PORT}/tcp").splitlines()[0].rsplit(":", 1)[1])
    return name, port


def one_start(image: str, i: int, stub: str, port: int, opts: argparse.Namespace) -> dict:
    name, home = f"{PREFIX}-{i}", f"{PREFIX}-home-{i}"
    CREATED.extend([("volume", home), ("container", name)])
    cmd = ["run", "-d", "--name", name, "--network", f"container:{stub}", "--user", "0", "--cap-drop", "ALL",
           *[a for cap in START_CAPABILITIES for a in ("--cap-add", cap)], "--security-opt", "no-new-privileges",
           "--memory", opts.memory, "--cpus", opts.cpus, "-v", f"{home}:/home/jovyan",
           "-v", f"{PREFIX}-exchange:/srv/nbgrader/exchange",
           *[a for k, v in ENV.items() for a in ("-e", f"{k}={v}")], image, "/usr/local/bin/jhlti-start", *ARGS, *opts.server_args]
    t0 = time.monotonic()
    cid = docker(*cmd)
    usage = usage_file(cid)
    while not answers(port):
        if not usage.exists() or time.monotonic() - t0 > opts.timeout:
            logs = subprocess.run(["docker", "logs", "--tail", "30", name], capture_output=True, text=True).stderr
            raise RuntimeError(f"{name} never answered {SERVICE_PREFIX}api (exited or timed out):\n{logs}")
        time.sleep(0.05)
    wall, cpu = time.monotonic() - t0, read_seconds(usage)
    time.sleep(opts.settle)
    settled = read_seconds(usage)
    docker("rm", "-f", "-v", name)
    docker("volume", "rm", home)
    return {"wall_s": round(wall, 3), "cpu_s": round(cpu, 3), "cpu_settled_s": round(settled, 3)}


def percentile(values: list[float], q: float) -> float:
    """Nearest rank (never interpolated): with fewer than 20 runs p95 is the largest."""
    return sorted(values)[max(0, math.ceil(q * len(values)) - 1)]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("image")
    ap.add_argument("-n", type=int, default=7, help="sequential starts (default 7)")
    ap.add_argument("--warmup", type=int, default=1, help="starts before those, not counted (default 1)")
    ap.add_argument("--cpus", default="1", help="CPU limit of the server (default 1, the config's default)")
    ap.add_argument("--memory", default="2g", help="memory limit (default 2g, the config's default)")
    ap.add_argument("--settle", type=float, default=3.0, help="seconds after the answer for cpu_settled (default 3)")
    ap.add_argument("--timeout", type=float, default=120.0, help="seconds one start may take (default 120)")
    ap.add_argument("--json", type=Path, help="also write the results there")
    argv = sys.argv[1:]
    cut = argv.index("--") if "--" in argv else len(argv)  # after --: more server arguments (experiments)
    opts = ap.parse_args(argv[:cut])
    opts.server_args = argv[cut + 1:]
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # unwinds through the finally below
    runs, load_before = [], os.getloadavg()
    try:
        CREATED.append(("volume", f"{PREFIX}-exchange"))
        stub, port = start_stub(opts.image)
        for i in range(opts.warmup + opts.n):
            r = one_start(opts.image, i, stub, port, opts)
            what = f"start {i + 1 - opts.warmup}/{opts.n}" if i >= opts.warmup else "warm-up start"
            print(f"{what}: wall {r['wall_s']:.2f} s, CPU {r['cpu_s']:.2f} s "
                  f"({r['cpu_settled_s']:.2f} s {opts.settle:g} s later)", file=sys.stderr, flush=True)
            if i >= opts.warmup:
                runs.append(r)
    finally:
        cleanup()
    load = os.getloadavg()
    summary = {key: {"p50": round(statistics.median(r[key] for r in runs), 3),
                     "p95": round(percentile([r[key] for r in runs], 0.95), 3)}
               for key in ("wall_s", "cpu_s", "cpu_settled_s")}
    result = {"image": opts.image, "server_args": opts.server_args, "n": opts.n, "cpus": opts.cpus, "memory": opts.memory,
              "loadavg": {"before": [round(x, 2) for x in load_before], "after": [round(x, 2) for x in load]},
              "summary": summary, "runs": runs}
    print(f"\n{opts.image}: {opts.n} starts (limits cpus={opts.cpus} memory={opts.memory}; "
          f"1-min load {load_before[0]:.2f} before, {load[0]:.2f} after)")
    print(f"{'':24}{'p50':>8}{'p95':>8}")
    for key, label in (("wall_s", "wall (s)"), ("cpu_s", "CPU at answer (s)"),
                       ("cpu_settled_s", f"CPU +{opts.settle:g} s (s)")):
        print(f"{label:24}{summary[key]['p50']:8.2f}{summary[key]['p95']:8.2f}")
    print(json.dumps(result))
    if opts.json:
        opts.json.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
