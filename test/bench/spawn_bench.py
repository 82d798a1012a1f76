"""Spawn benchmark (issue 6): deploys the environment `bench` (https://localhost:28443 on
127.0.0.1, one course, LTI 1.1) on the local Docker engine with the real cdktf CLI, reusing the
e2e harness, and measures:

  floor     `docker run` of the course image (same image, command, env, user, caps, limits,
            volumes and network a user server gets) until its server answers HTTP
  single    LTI 1.1 launch -> user server answering through the proxy, distinct users, warm images
  rush      N simultaneous signed LTI 1.1 launches of distinct users (threads), hub CPU/memory
  prewarm   an instructor pre-warms the course (its known students: the N=30 rush's users), then
            the same N launch at once: LTI launch -> their server answering through the proxy
  CPU       of every start: the user container's cgroup CPU when its server first answers, and
            the hub container's CPU over the launch (its share), from the host's cgroup files
  redeploy  apply after a config-only change (idleCullSeconds) while the rush servers run
  plan      `terraform plan` with no changes (deployed stack) and for 20 courses (no state)
  synth     `npm run bench:synth`

then purges the stack (also on failure). Run with `bash test/bench/run` (env.sh sourced there).
Only loopback and the stack's own containers are contacted; every wait is bounded.
Results: printed, and written to .gen/bench/results.json and .gen/bench/results.md."""

from __future__ import annotations

import json
import math
import os
import re
import signal
import statistics
import subprocess
import sys
import threading
import time
import traceback
from urllib.parse import urlsplit
from pathlib import Path

import requests

sys.dont_write_bytecode = True
E2E_DIR = Path(__file__).resolve().parents[1] / "e2e"
sys.path.insert(0, str(E2E_DIR))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from cgroup import cpu_seconds  # noqa: E402
from host_cpu import HostCpu  # noqa: E402

# The e2e modules read the environment's name and port from stack_config at import: point them
# at the bench environment before anything else imports them.
import stack_config  # noqa: E402

stack_config.ENV = "bench"
stack_config.PREFIX = "jhlti-bench"
stack_config.PORT = int(os.environ.get("JHLTI_BENCH_PORT", "28443"))
stack_config.PUBLIC_URL = f"https://{stack_config.HOSTNAME}:{stack_config.PORT}"

import harness  # noqa: E402
from harness import WORK_DIR, Stack, docker, inspect, names, prerequisite_problems, say, wipe_everything  # noqa: E402
from lti_platform import Lti11Consumer  # noqa: E402

ENV, PREFIX, PORT, PUBLIC_URL = stack_config.ENV, stack_config.PREFIX, stack_config.PORT, stack_config.PUBLIC_URL
assert harness.WORK_DIR == harness.ROOT / ".gen" / "bench", harness.WORK_DIR
ROOT = harness.ROOT
COURSE, CONTEXT = "bench101", "ctx-bench-101"
USERS_NETWORK = f"{PREFIX}-users"
FLOOR_RUNS = int(os.environ.get("BENCH_FLOOR_RUNS", "10"))
SINGLE_RUNS = int(os.environ.get("BENCH_SINGLE_RUNS", "10"))
FLOOR_CONCURRENT = [int(n) for n in os.environ.get("BENCH_FLOOR_CONCURRENT", "10,30").split(",") if n]
RUSH_SIZES = [int(n) for n in os.environ.get("BENCH_RUSH", "10,20,30").split(",")]
PREWARM_CONCURRENCY = int(os.environ.get("BENCH_PREWARM_CONCURRENCY", "2"))
READY_TIMEOUT = 300.0  # per launch, seconds
RESULTS: dict = {}
# The floor runs the course image alternately with the notebook image of this commit (the last
# before the start-of-class work, issue 14), built from git the same way: CPU per start side by
# side in one run (the machine's speed drifts between runs by up to 2x).
BASELINE_REF = os.environ.get("BENCH_BASELINE_REF", "930fcdb")
# The last recorded runs before the start-of-class work (BENCHMARKS.md), for the other columns.
BEFORE = {"single_ratio": 1.35, "rush30_p95": 65.0, "rush30_single_ratio": 14.3}


# --- config, stack ------------------------------------------------------------------------

def config(courses: list[tuple[str, str]], *, idle_cull_seconds: int) -> dict:
    return {
        "version": 1,
        "environments": [{
            "name": ENV,
            "hostname": stack_config.HOSTNAME,
            "port": PORT,
            "bindAddress": "127.0.0.1",
            "lti11": {"enabled": True},
            "limits": {"memory": "1G", "cpus": 1},
            "idleCullSeconds": idle_cull_seconds,
            # Pre-warm on the instructor's request (no weekly sessions), PREWARM_CONCURRENCY at once.
            "courses": [{"id": c, "title": f"Bench {c}", "contexts": [ctx], "prewarm": {"concurrency": PREWARM_CONCURRENCY}}
                        for c, ctx in courses],
        }],
    }


def write_config(path: Path, courses, *, idle_cull_seconds: int) -> Path:
    path.write_text(json.dumps(config(courses, idle_cull_seconds=idle_cull_seconds), indent=2) + "\n")
    return path


class Bench:
    def __init__(self):
        self.stack = Stack(WORK_DIR / "config.json")
        self.cert_file = WORK_DIR / "proxy-cert.pem"
        self.consumer: Lti11Consumer | None = None

    def url(self, path: str) -> str:
        return PUBLIC_URL + path

    def browser(self) -> requests.Session:
        s = requests.Session()
        s.verify = str(self.cert_file)
        s.trust_env = False  # loopback only, no proxies from the environment
        return s

    def wait_for_hub(self, timeout: float = 180) -> float:
        self.cert_file.write_text(self.stack.output("tls_certificate_pem"))
        t0 = time.monotonic()
        deadline = t0 + timeout
        while True:
            try:
                if self.browser().get(self.url("/hub/health"), timeout=10).status_code == 200:
                    return time.monotonic() - t0
            except requests.RequestException:
                pass
            if time.monotonic() > deadline:
                raise AssertionError("hub not healthy:\n" + docker("logs", "--tail", "60", f"{PREFIX}-hub", check=False))
            time.sleep(0.25)


class User:
    def __init__(self, bench: Bench, name: str):
        self.bench, self.name = bench, name
        self.session = bench.browser()
        self.error = ""
        self.seconds = None
        self.cpu = None  # CPU seconds of its container when its server first answered
        self.attached = False  # its server was running at the launch (the launch led straight to it)

    @property
    def container(self) -> str:
        return f"{PREFIX}-nb-{self.name}--{COURSE}"  # the course's server (its id is a valid server name)

    def launch_until_ready(self, timeout: float = READY_TIMEOUT) -> float:
        """Signed LTI 1.1 launch, follow its redirect into the course's server (what the browser
        does), then wait until the server answers through the proxy (/user/<name>/<course>/lab
        200, the server's own OAuth cookie set on the way). A server that runs already (pre-warmed)
        is reached as a browser reaches it: the launch redirects to the server, whose redirects
        (the hub's OAuth, then /lab) are followed. One that starts is waited for as the
        hub's progress page waits (its event stream), then reached the same way."""
        b = self.bench
        self.cpu = None
        self.attached = running(self.container)  # before the clock starts: not part of the launch
        t0 = time.monotonic()
        deadline = t0 + timeout
        body = b.consumer.sign({"user_id": self.name, "roles": "Learner", "context_id": CONTEXT,
                                "resource_link_id": f"rl-{CONTEXT}", "launch_presentation_document_target": "window"})
        r = b.consumer.post(self.session, body)
        server_url = f"/user/{self.name}/{COURSE}/"
        # The launch names a running server directly, any other through the hub's spawn page.
        expected = server_url if self.attached else f"/hub/spawn/{self.name}/{COURSE}"
        assert r.status_code == 302 and r.headers["Location"] == expected, (r.status_code, r.headers)
        if r.headers["Location"] != server_url:
            r = self.session.get(b.url(r.headers["Location"]), allow_redirects=False, timeout=60)
            assert r.status_code == 302, (r.status_code, r.text[:300])
        location = urlsplit(r.headers["Location"]).path
        if location != server_url:
            # Starting (a running server, or one started quickly, is redirected to directly): the
            # browser shows the hub's progress page, whose script follows the server's progress
            # events (one event stream, no polling) and goes to the server when the hub says it is
            # ready.
            assert location == f"/hub/spawn-pending/{self.name}/{COURSE}", (location, r.headers)
            page = self.session.get(b.url(location), timeout=60)
            assert page.status_code == 200, (page.status_code, page.text[:300])
            self.wait_ready(deadline)
            # Reading the cgroup needs `docker inspect` (~0.1 s): left out of the launch time.
            c0 = time.monotonic()
            self.read_cpu()
            t0 += time.monotonic() - c0
        r = self.session.get(b.url(server_url), timeout=60)
        assert r.status_code == 200 and r.url.endswith(f"{server_url}lab"), (r.status_code, r.url)
        self.seconds = time.monotonic() - t0
        if location == server_url:
            self.read_cpu()
        return self.seconds

    def read_cpu(self) -> None:
        """The CPU-seconds of its container so far (None if it is gone: counted as a failure)."""
        try:
            self.cpu = cpu_seconds(self.container)
        except LookupError:
            self.cpu = None

    def wait_ready(self, deadline: float) -> None:
        """Reads the hub's progress events of the server (what the progress page's EventSource
        reads) until one says it is ready; fails on a failed spawn or at the deadline."""
        url = self.bench.url(f"/hub/api/users/{self.name}/servers/{COURSE}/progress")
        with self.session.get(url, headers={"Accept": "text/event-stream"}, stream=True,
                              timeout=(30, max(1.0, deadline - time.monotonic()))) as r:
            assert r.status_code == 200, (r.status_code, r.text[:300])
            for line in r.iter_lines(decode_unicode=True):
                if not line or not line.startswith("data:"):
                    continue
                event = json.loads(line[5:])
                if event.get("failed"):
                    raise AssertionError(f"{self.name}: spawn failed: {event.get('message')}")
                if event.get("ready"):
                    return
                if time.monotonic() > deadline:
                    break
        raise AssertionError(f"{self.name}: not ready before the deadline (progress stream ended)")

    def status(self) -> int:
        return self.session.get(self.bench.url(f"/user/{self.name}/{COURSE}/api/status"), allow_redirects=False,
                                timeout=30).status_code

    def stop(self) -> int:
        """DELETE its own server through the hub API with its cookie (and the hub's XSRF token)."""
        xsrf = next((c.value for c in self.session.cookies if c.name == "_xsrf" and c.path.startswith("/hub")), "")
        r = self.session.delete(self.bench.url(f"/hub/api/users/{self.name}/servers/{COURSE}"),
                                headers={"X-XSRFToken": xsrf, "Referer": self.bench.url("/hub/home")}, timeout=60)
        return r.status_code


def running(container: str) -> bool:
    p = subprocess.run(["docker", "inspect", "-f", "{{.State.Running}}", container], capture_output=True, text=True, timeout=60)
    return p.returncode == 0 and p.stdout.strip() == "true"


def user_containers() -> list[str]:
    return [n for n in names("container") if n.startswith(f"{PREFIX}-nb-")]


def stop_all(users: list[User], timeout: float = 180) -> float:
    t0 = time.monotonic()
    codes = {}
    threads = [threading.Thread(target=lambda u=u: codes.__setitem__(u.name, u.stop())) for u in users]
    for t in threads:
        t.start()
    for t in threads:
        t.join(90)
    bad = {n: c for n, c in codes.items() if c not in (202, 204)}
    if bad:
        say(f"    stop via hub API refused: {bad}")
    deadline = t0 + timeout
    while user_containers():
        if time.monotonic() > deadline:
            raise AssertionError(f"servers still running after stop: {user_containers()}")
        time.sleep(0.5)
    return time.monotonic() - t0


# --- statistics ---------------------------------------------------------------------------

def pct(values: list[float], p: float) -> float:
    """Nearest-rank percentile."""
    v = sorted(values)
    k = max(0, min(len(v) - 1, int(-(-p * len(v) // 100)) - 1))
    return v[k]


def summary(values: list[float]) -> dict:
    return {"n": len(values), "p50": statistics.median(values), "p95": pct(values, 95), "max": max(values),
            "min": min(values), "values": [round(x, 3) for x in values]}


class HubSampler(threading.Thread):
    """docker stats of the hub container, sampled until stopped (each sample takes ~1-2 s)."""

    def __init__(self):
        super().__init__(daemon=True)
        self.stop_event = threading.Event()
        self.cpu: list[float] = []
        self.mem: list[float] = []  # MiB

    def run(self):
        end = time.monotonic() + READY_TIMEOUT + 60
        while not self.stop_event.is_set() and time.monotonic() < end:
            p = subprocess.run(["docker", "stats", "--no-stream", "--format", "{{.CPUPerc}} {{.MemUsage}}",
                                f"{PREFIX}-hub"], capture_output=True, text=True, timeout=30)
            try:
                cpu, mem = p.stdout.split()[:2]
                self.cpu.append(float(cpu.rstrip("%")))
                self.mem.append(mib(mem))
            except (ValueError, IndexError):
                pass

    def result(self) -> dict:
        self.stop_event.set()
        self.join(40)
        return {"samples": len(self.cpu),
                "cpu_max": max(self.cpu, default=float("nan")),
                "cpu_mean": statistics.mean(self.cpu) if self.cpu else float("nan"),
                "mem_max_mib": max(self.mem, default=float("nan")),
                "mem_first_mib": self.mem[0] if self.mem else float("nan")}


def mib(text: str) -> float:
    units = {"KiB": 1 / 1024, "MiB": 1, "GiB": 1024, "kB": 1 / 1024 / 1.024 * 1.0, "MB": 1 / 1.048576, "GB": 1000 / 1.048576, "B": 1 / 1024 / 1024}
    for u in sorted(units, key=len, reverse=True):
        if text.endswith(u):
            return float(text[: -len(u)]) * units[u]
    return float(text)


# --- the measurements -----------------------------------------------------------------------

def measure_floor(bench: Bench, warm: User) -> dict:
    """The raw container floor: the exact container the spawner made for `warm` (image, cmd,
    env, user, caps, security options, limits, volumes, network), re-created with `docker run`
    until its server answers HTTP on its API path (any status, as the hub's own check)."""
    info = inspect(warm.container)
    cfg, host = info["Config"], info["HostConfig"]
    env = cfg["Env"]
    prefix = next(e.split("=", 1)[1] for e in env if e.startswith("JUPYTERHUB_SERVICE_PREFIX="))
    port = 8888
    for e in env:
        if e.startswith("JUPYTERHUB_SERVICE_URL="):
            port = int(e.rsplit(":", 1)[1].split("/")[0])
    home = f"{PREFIX}-home-{warm.name}--{COURSE}"
    mounts = [(m["Name"], m["Destination"]) for m in info["Mounts"] if m.get("Name")]
    code = warm.stop()
    say(f"    floor template: {warm.container} image {cfg['Image']} cmd {cfg['Cmd']} port {port} (its server stopped: {code})")
    deadline = time.monotonic() + 120
    while warm.container in user_containers():
        assert time.monotonic() < deadline, "warm-up server did not stop"
        time.sleep(0.5)
    args = ["run", "-d", "--network", USERS_NETWORK, "--user", cfg.get("User") or "0",
            "--memory", str(host["Memory"])]
    if host.get("NanoCpus"):
        args += ["--cpus", str(host["NanoCpus"] / 1e9)]
    elif host.get("CpuQuota"):
        args += ["--cpu-quota", str(host["CpuQuota"]), "--cpu-period", str(host["CpuPeriod"])]
    for cap in host.get("CapDrop") or []:
        args += ["--cap-drop", cap]
    for cap in host.get("CapAdd") or []:
        args += ["--cap-add", cap]
    for opt in host.get("SecurityOpt") or []:
        args += ["--security-opt", opt]
    def volumes(name: str) -> list[str]:
        """A new user's server gets a new home volume (Docker copies the image's /home/jovyan
        into it): each floor container gets its own fresh one too."""
        out = []
        for vol, dest in mounts:
            out += ["-v", f"{name}-home:{dest}" if vol == home else f"{vol}:{dest}"]
        return out
    for e in env:
        args += ["-e", e]
    baseline = build_baseline(bench)
    times, cpu = [], []
    base_times, base_cpu = [], []
    for i, image in ((i, image) for i in range(FLOOR_RUNS) for image in (baseline, cfg["Image"])):
        name = f"{PREFIX}-floor-{i}"
        t0 = time.monotonic()
        cid = subprocess.run(["docker", *args, *volumes(name), "--name", name, image, *cfg["Cmd"]],
                             capture_output=True, text=True, timeout=120)
        assert cid.returncode == 0, cid.stderr
        ip = docker("inspect", "--format", "{{(index .NetworkSettings.Networks \"%s\").IPAddress}}" % USERS_NETWORK, name)
        url = f"http://{ip}:{port}{prefix}api"
        s = requests.Session()
        s.trust_env = False
        while True:
            try:
                s.get(url, timeout=5, allow_redirects=False)
                break
            except requests.RequestException:
                pass
            if time.monotonic() - t0 > 120:
                raise AssertionError(f"floor container {name} never answered {url}:\n" + docker("logs", name, check=False))
            time.sleep(0.05)
        wall, used = time.monotonic() - t0, cpu_seconds(name)
        docker("rm", "-f", name)
        docker("volume", "rm", f"{name}-home")
        if image == baseline:
            base_times.append(wall)
            base_cpu.append(used)
        else:
            times.append(wall)
            cpu.append(used)
            say(f"    floor run {i + 1}: {wall:.2f} s, {used:.2f} CPU-s (the image of {BASELINE_REF} just before: "
                f"{base_times[-1]:.2f} s, {base_cpu[-1]:.2f} CPU-s)")
    result = {**summary(times), "cpu": summary(cpu), "baseline": {"ref": BASELINE_REF, "image": baseline,
                                                                   **summary(base_times), "cpu": summary(base_cpu)}}
    # The same, N at once: what the machine itself allows for a rush (no hub involved)
    result["concurrent"] = {}
    for n in FLOOR_CONCURRENT:
        done: dict[int, float] = {}

        def one(i: int, t0: float):
            name = f"{PREFIX}-floorc-{i}"
            p = subprocess.run(["docker", *args, *volumes(name), "--name", name, cfg["Image"], *cfg["Cmd"]],
                               capture_output=True, text=True, timeout=300)
            if p.returncode != 0:
                return
            ip = docker("inspect", "--format", "{{(index .NetworkSettings.Networks \"%s\").IPAddress}}" % USERS_NETWORK, name)
            s = requests.Session()
            s.trust_env = False
            while time.monotonic() - t0 < 300:
                try:
                    s.get(f"http://{ip}:{port}{prefix}api", timeout=5, allow_redirects=False)
                    done[i] = time.monotonic() - t0
                    return
                except requests.RequestException:
                    time.sleep(0.1)

        window = HostCpu()
        t0 = time.monotonic()
        threads = [threading.Thread(target=one, args=(i, t0)) for i in range(n)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(360)
        host_result = window.result(n)
        for i in range(n):
            docker("rm", "-f", f"{PREFIX}-floorc-{i}", check=False)
            docker("volume", "rm", f"{PREFIX}-floorc-{i}-home", check=False)
        vals = list(done.values())
        result["concurrent"][n] = {"ok": len(vals), **(summary(vals) if vals else {}), "host": host_result}
        say(f"    floor, {n} at once: {len(vals)}/{n} answered; p50 {statistics.median(vals) if vals else float('nan'):.1f} s, "
            f"max {max(vals, default=float('nan')):.1f} s")
    return result


def hub_cpu() -> float:
    return cpu_seconds(f"{PREFIX}-hub")


def build_baseline(bench: Bench) -> str:
    """The course's notebook image as BASELINE_REF built it: the same base and CA bundle as the
    course image in the synthesized stack, images/notebook from git."""
    stack = json.loads((harness.OUTDIR / "stacks" / ENV / "cdk.tf.json").read_text())
    build = next(v["build"] for k, v in stack["resource"]["docker_image"].items() if k.startswith(f"course-{COURSE}_notebook-image"))
    context = Path(build["context"])
    context = context if context.is_absolute() else harness.OUTDIR / "stacks" / ENV / context
    tag = f"jhlti/{ENV}-baseline-notebook:{BASELINE_REF}"
    work = WORK_DIR / "baseline-context"
    subprocess.run(["rm", "-rf", str(work)], check=True)
    work.mkdir(parents=True)
    archive = subprocess.run(["git", "archive", BASELINE_REF, "images/notebook"], cwd=ROOT, capture_output=True, timeout=60)
    assert archive.returncode == 0, f"git archive {BASELINE_REF}: {archive.stderr.decode()[-500:]} (a clone with history is needed)"
    subprocess.run(["tar", "-x", "-C", str(work), "--strip-components=2"], input=archive.stdout, check=True, timeout=60)
    (work / "ca-bundle.crt").write_bytes((context / "ca-bundle.crt").read_bytes())
    t0 = time.monotonic()
    harness.run(["docker", "build", "-q", "--build-arg", f"BASE_IMAGE={build['build_args']['BASE_IMAGE']}", "-t", tag, str(work)],
                quiet=True, timeout=1800)
    say(f"    baseline image {tag} (images/notebook of {BASELINE_REF}) built in {time.monotonic() - t0:.0f} s")
    return tag


def measure_single(bench: Bench) -> dict:
    times, cpu, hub = [], [], []
    users = []
    for i in range(SINGLE_RUNS):
        u = User(bench, f"single{i:02d}")
        users.append(u)
        h0 = hub_cpu()
        times.append(u.launch_until_ready())
        hub.append(hub_cpu() - h0)
        assert u.status() == 200 and u.cpu is not None
        cpu.append(u.cpu)
        say(f"    single launch {u.name}: {times[-1]:.2f} s; CPU-s: server {u.cpu:.2f}, hub {hub[-1]:.2f}")
    stop_all(users)
    return {**summary(times), "cpu": summary(cpu), "hub_cpu": summary(hub)}


def measure_rush(bench: Bench, n: int, tag: str, *, keep: bool = False, names: list[str] | None = None) -> tuple[dict, list[User]]:
    users = [User(bench, name) for name in names] if names else [User(bench, f"{tag}n{n}u{i:02d}") for i in range(n)]
    h0 = hub_cpu()
    sampler = HubSampler()
    sampler.start()
    barrier = threading.Barrier(n)
    window = HostCpu()

    def go(u: User):
        try:
            barrier.wait(30)
            u.launch_until_ready()
        except Exception as e:  # noqa: BLE001 - recorded as a failed launch
            u.error = f"{type(e).__name__}: {str(e)[:300]}"

    t0 = time.monotonic()
    threads = [threading.Thread(target=go, args=(u,)) for u in users]
    for t in threads:
        t.start()
    for t in threads:
        t.join(READY_TIMEOUT + 120)
    wall = time.monotonic() - t0
    ok = [u.seconds for u in users if u.seconds is not None and not u.error]
    host_result = window.result(len(ok))
    hub = sampler.result()
    hub["cpu_seconds"] = hub_cpu() - h0
    cpu = [u.cpu for u in users if u.cpu is not None and not u.error]
    errors = [f"{u.name}: {u.error}" for u in users if u.error]
    for e in errors[:5]:
        say(f"    FAILED {e}")
    result = {**(summary(ok) if ok else {}), "n": n, "ok": len(ok), "success": len(ok) / n, "wall": wall,
              "attached": sum(u.attached for u in users),
              "hub": hub, "host": host_result, "errors": errors, "cpu": summary(cpu) if cpu else None,
              "cpu_per_start": (sum(cpu) + hub["cpu_seconds"]) / len(cpu) if cpu else None}
    say(f"    rush N={n}: {len(ok)}/{n} ready; p50 {result.get('p50', float('nan')):.1f} s, p95 "
        f"{result.get('p95', float('nan')):.1f} s, max {result.get('max', float('nan')):.1f} s; hub CPU max "
        f"{hub['cpu_max']:.0f}% mean {hub['cpu_mean']:.0f}%, mem max {hub['mem_max_mib']:.0f} MiB")
    if not keep:
        result["stop_seconds"] = stop_all(users)
    return result, users


def instructor(bench: Bench) -> requests.Session:
    """The course's instructor, logged in by an LTI 1.1 launch (its redirect not followed)."""
    s = bench.browser()
    body = bench.consumer.sign({"user_id": "instructor", "roles": "Instructor", "context_id": CONTEXT,
                                "resource_link_id": f"rl-{CONTEXT}", "launch_presentation_document_target": "window"})
    r = bench.consumer.post(s, body)
    assert r.status_code == 302, (r.status_code, r.text[:300])
    return s


def measure_prewarm(bench: Bench, names: list[str]) -> dict:
    """The instructor presses "Start the servers now" (/hub/jhlti/prewarm/<course>); when every
    known student's server runs, the N students launch at once as at the start of class."""
    s = instructor(bench)
    url = bench.url(f"/hub/jhlti/prewarm/{COURSE}")
    page = s.get(url, timeout=60)
    assert page.status_code == 200, (page.status_code, page.text[:300])
    xsrf = re.search(r'name="_xsrf" value="([^"]+)"', page.text).group(1)
    h0, t0 = hub_cpu(), time.monotonic()
    r = s.post(url, data={"_xsrf": xsrf}, allow_redirects=False, timeout=60)
    assert r.status_code == 302, (r.status_code, r.text[:300])
    while True:
        state = s.get(url, headers={"Accept": "application/json"}, timeout=60).json()
        if not state["warming"] and state["last"] is not None:
            break
        assert time.monotonic() - t0 < 900, f"pre-warm not done after 900 s: {state}"
        time.sleep(1)
    warm_s, warm_hub_cpu = time.monotonic() - t0, hub_cpu() - h0
    last = state["last"]
    assert not last["failed"] and set(names) <= set(last["started"]), last
    cpu = [cpu_seconds(f"{PREFIX}-nb-{n}--{COURSE}") for n in last["started"]]
    say(f"    pre-warm: {len(last['started'])} servers of {last['students']} known students in {warm_s:.1f} s "
        f"({len(cpu) / warm_s * 60:.0f} per minute); CPU-s per server {statistics.median(cpu):.2f} + hub {warm_hub_cpu / len(cpu):.2f}")
    # The servers stay up (the purge at the end removes them): every known student's is running.
    res, _ = measure_rush(bench, len(names), "p", keep=True, names=names)
    res["prewarm"] = {"students": last["students"], "started": len(last["started"]), "seconds": warm_s,
                      "cpu": summary(cpu), "hub_cpu_seconds": warm_hub_cpu,
                      "cpu_per_start": (sum(cpu) + warm_hub_cpu) / len(cpu)}
    return res


def image_ids() -> dict[str, str]:
    out = docker("image", "ls", "--no-trunc", "--format", "{{.Repository}}:{{.Tag}} {{.ID}}")
    return dict(line.split() for line in out.splitlines() if line.startswith(f"jhlti/{ENV}-"))


def measure_redeploy(bench: Bench, running: list[User]) -> dict:
    before_images = image_ids()
    before = {u.name: inspect(u.container, "{{.Id}}") for u in running}
    hub_before = inspect(f"{PREFIX}-hub", "{{.Id}}")
    write_config(bench.stack.config_file, [(COURSE, CONTEXT)], idle_cull_seconds=3000)
    t0 = time.monotonic()
    bench.stack.deploy()
    apply_s = time.monotonic() - t0
    health_s = bench.wait_for_hub()
    after_images = image_ids()
    rebuilt = sorted(k for k, v in after_images.items() if before_images.get(k) != v)
    lost = []
    for u in running:
        cid = inspect(u.container, "{{.Id}}") if u.container in user_containers() else None
        if cid != before[u.name]:
            lost.append(u.name)
            continue
        code = 0
        for _ in range(20):  # bounded: the hub re-adds routes on start
            code = u.status()
            if code == 200:
                break
            time.sleep(0.5)
        if code != 200:
            lost.append(f"{u.name} ({code})")
    return {"apply_seconds": apply_s, "health_seconds": health_s, "wall_seconds": apply_s + health_s,
            "hub_replaced": inspect(f"{PREFIX}-hub", "{{.Id}}") != hub_before,
            "images_before": before_images, "images_after": after_images, "images_rebuilt": rebuilt,
            "servers": len(running), "servers_lost": lost}


def measure_plans(bench: Bench) -> dict:
    out = {}
    bench.stack.init()
    t0 = time.monotonic()
    code, _ = bench.stack.plan_exitcode()
    out["deployed_plan_seconds"] = time.monotonic() - t0
    out["deployed_plan_exitcode"] = code
    # 20 courses, synthesized into its own directory; planned against the engine with no state
    d = WORK_DIR / "plan20"
    d.mkdir(parents=True, exist_ok=True)
    cfg = write_config(d / "config.json", [(f"c{i:02d}", f"ctx-c{i:02d}") for i in range(20)], idle_cull_seconds=3600)
    env = bench.stack.env(JHLTI_CONFIG=str(cfg))
    t0 = time.monotonic()
    harness.run(["npx", "cdktf", "synth", "--output", str(d / "cdktf.out")], env=env)
    out["plan20_synth_seconds"] = time.monotonic() - t0
    sd = d / "cdktf.out" / "stacks" / ENV
    harness.run([bench.stack.terraform, f"-chdir={sd}", "init", "-input=false"], env=env, quiet=True)
    t0 = time.monotonic()
    p = harness.run([bench.stack.terraform, f"-chdir={sd}", "plan", "-input=false", "-no-color", "-detailed-exitcode",
                     "-lock=false", "-refresh=true"], env=env, check=False)
    out["plan20_seconds"] = time.monotonic() - t0
    out["plan20_exitcode"] = p.returncode
    summary_line = next((line for line in p.stdout.splitlines() if line.startswith("Plan:")), p.stderr[-300:])
    out["plan20_summary"] = summary_line
    assert p.returncode == 2, p.stdout[-2000:] + p.stderr[-2000:]
    return out


def synth_bench() -> dict:
    t0 = time.monotonic()
    p = subprocess.run(["npm", "run", "--silent", "bench:synth"], cwd=ROOT, capture_output=True, text=True, timeout=900)
    return {"seconds": time.monotonic() - t0, "exitcode": p.returncode, "output": p.stdout.strip() + ("\n" + p.stderr.strip() if p.returncode else "")}


# --- report ---------------------------------------------------------------------------------

def f(x, d=1):
    return "n/a" if x is None else f"{x:.{d}f}"


def targets(r: dict) -> list[str]:
    """Issue 14's targets: this run next to the last run before the start-of-class work."""
    floor, single = r.get("floor"), r.get("single")
    cold = next((x for rounds in r.get("rush", {}).values() for x in rounds if x["n"] == 30), None)
    warm = r.get("prewarmed")
    cpu = statistics.median([a + b for a, b in zip(single["cpu"]["values"], single["hub_cpu"]["values"])]) if single else None
    ratio = single["p50"] / floor["p50"] if single and floor else None
    cold95 = cold.get("p95") if cold else None
    rel = cold95 / single["p50"] if cold95 and single else None
    warm95 = warm.get("p95") if warm else None
    met = lambda ok: "n/a" if ok is None else ("yes" if ok else "**no**")  # noqa: E731
    base = floor.get("baseline") if floor else None
    base_cpu, now_cpu = (base["cpu"]["p50"], floor["cpu"]["p50"]) if base else (None, None)
    rows = [
        ("CPU-seconds per server start (floor `docker run`, p50; before = the image of "
         f"{BASELINE_REF}, alternating in this run)", f(base_cpu, 2), f(now_cpu, 2), f"<= {f(base_cpu / 2, 2) if base_cpu else 'n/a'}",
         met(None if base_cpu is None else now_cpu <= base_cpu / 2)),
        ("wall time per server start (floor `docker run`, p50)", f(base["p50"], 2) if base else "n/a", f(floor["p50"], 2) if floor else "n/a", "", ""),
        ("CPU-seconds per launch (single launch p50: server container + the hub's share)", "", f(cpu, 2), "", ""),
        ("single launch p50 / floor p50", f"{BEFORE['single_ratio']}x", f"{f(ratio, 2)}x", "<= 1.5x", met(None if ratio is None else ratio <= 1.5)),
        ("rush N=30 cold: success", "100%", f"{100 * cold['success']:.0f}%" if cold else "n/a", "100%", met(None if cold is None else cold["success"] == 1)),
        ("rush N=30 cold: p95", f"{BEFORE['rush30_p95']} s", f"{f(cold95)} s", "<= 30 s", met(None if cold95 is None else cold95 <= 30)),
        ("rush N=30 cold: p95 / single p50", f"{BEFORE['rush30_single_ratio']}x", f"{f(rel)}x", "<= 10x", met(None if rel is None else rel <= 10)),
        ("rush N=30 pre-warmed: p95 LTI launch -> server answers", "", f"{f(warm95, 2)} s", "<= 3 s", met(None if warm95 is None else warm95 <= 3)),
    ]
    out = ["| start of class (issue 14) | before | this run | target | met |", "|---|---|---|---|---|"]
    out += [f"| {a} | {b} | {c} | {d} | {e} |" for a, b, c, d, e in rows]
    w = (cold or {}).get("host") or {}
    if w.get("per_start") and single:
        need = 10 * single["p50"] * w["cores"] / math.ceil(0.95 * cold["n"])
        out += ["", f"Cold rush of {cold['n']}: the host's {w['cores']} cores were {100 * w['utilization']:.0f}% busy; the stack and the "
                f"engine used {f(w['per_start'], 2)} CPU-s per start (all processes but the benchmark's own clients), so "
                f"{math.ceil(0.95 * cold['n'])} starts need {f(w['cpu_bound_p95'])} s of these cores whatever the order "
                f"({f(w['cpu_bound_p95'] / single['p50'])}x the single launch p50). p95 <= 10x the single launch "
                f"({f(10 * single['p50'])} s) needs at most {f(need, 2)} CPU-s per start at this single launch."]
    if warm:
        p = warm["prewarm"]
        out += ["", f"Pre-warm: {p['started']} servers of {p['students']} known students started in {f(p['seconds'])} s "
                f"({PREWARM_CONCURRENCY} at once), {f(p['cpu_per_start'], 2)} CPU-s per server incl. the hub's share; "
                f"then {warm.get('attached', 'n/a')}/{warm['n']} launches found their server running (the launch led "
                f"the browser straight to it, followed as a browser does), {warm['ok']}/{warm['n']} reached JupyterLab: p50 {f(warm.get('p50'), 2)} s, p95 {f(warm95, 2)} s, max {f(warm.get('max'), 2)} s."]
    return out


def host_note(w: dict | None) -> str:
    if not w or w.get("per_start") is None:
        return ""
    return (f"; host {f(w['per_start'], 2)} CPU-s per start (all but the bench's own), cores busy "
            f"{100 * w['utilization']:.0f}%, p95 the CPU alone needs {f(w['cpu_bound_p95'])} s")


def report() -> str:
    r = RESULTS
    lines = targets(r) + [""]
    add = lines.append
    floor, single = r.get("floor"), r.get("single")
    add("| measurement | n | p50 (s) | p95 (s) | max (s) | notes |")
    add("|---|---|---|---|---|---|")
    if floor:
        add(f"| floor: `docker run` course image -> server answers HTTP | {floor['n']} | {f(floor['p50'], 2)} | {f(floor['p95'], 2)} | {f(floor['max'], 2)} | same image/cmd/env/user/caps/limits/volumes/network as a user server; CPU-s p50 {f(floor['cpu']['p50'], 2)} |")
        for n, c in floor.get("concurrent", {}).items():
            add(f"| floor, {n} `docker run` at once (no hub) -> all answer | {c['ok']}/{n} | {f(c.get('p50'), 1)} | {f(c.get('p95'), 1)} | {f(c.get('max'), 1)} | what the machine allows a rush of {n}{host_note(c.get('host'))} |")
    else:
        add("| floor | not measured | | | | |")
    if single:
        ratio = single["p50"] / floor["p50"] if floor else None
        ratio95 = single["p95"] / floor["p95"] if floor else None
        add(f"| single launch: LTI 1.1 launch -> server answers through proxy | {single['n']} | {f(single['p50'], 2)} | {f(single['p95'], 2)} | {f(single['max'], 2)} | ratio to floor: p50 {f(ratio, 2)}x, p95 {f(ratio95, 2)}x (target <= 1.5x); CPU-s p50: server {f(single['cpu']['p50'], 2)}, hub {f(single['hub_cpu']['p50'], 2)} |")
    else:
        add("| single launch | not measured | | | | |")
    for tag, rounds in r.get("rush", {}).items():
        add("")
        add(f"Rush ({tag}):")
        add("")
        add("| N | success | p50 (s) | p95 (s) | max (s) | round wall (s) | CPU-s per start (server p50 + hub share) | host CPU-s per start (all but the bench) / cores busy | p95 the CPU alone needs | hub CPU max / mean (%) | hub mem first / max (MiB) | p95 / single p50 |")
        add("|---|---|---|---|---|---|---|---|---|---|---|---|")
        for x in rounds:
            h = x["hub"]
            rel = x["p95"] / single["p50"] if single and "p95" in x else None
            cpu = f"{f(x.get('cpu_per_start'), 2)} ({f(x['cpu']['p50'], 2)} + {f(h['cpu_seconds'] / max(x['ok'], 1), 2)})" if x.get("cpu") else "n/a"
            w = x.get("host") or {}
            busy = f"{f(w.get('per_start'), 2)} / {100 * w['utilization']:.0f}%" if w.get("utilization") is not None else "n/a"
            add(f"| {x['n']} | {x['ok']}/{x['n']} ({100 * x['success']:.0f}%) | {f(x.get('p50'))} | {f(x.get('p95'))} | {f(x.get('max'))} | {f(x['wall'])} | {cpu} | {busy} | {f(w.get('cpu_bound_p95'))} | {h['cpu_max']:.0f} / {h['cpu_mean']:.0f} ({h['samples']} samples) | {h['mem_first_mib']:.0f} / {h['mem_max_mib']:.0f} | {f(rel)}x |")
    rd = r.get("redeploy")
    add("")
    if rd:
        add("| redeploy (idleCullSeconds 3600 -> 3000, servers running) | value | target |")
        add("|---|---|---|")
        add(f"| `cdktf deploy` wall time | {f(rd['apply_seconds'])} s (+ {f(rd['health_seconds'])} s until /hub/health 200) | |")
        add(f"| hub container replaced | {rd['hub_replaced']} | |")
        add(f"| images rebuilt (image ids of jhlti/{ENV}-* before/after) | {len(rd['images_rebuilt'])} {rd['images_rebuilt'] or ''} of {len(rd['images_before'])} | 0 |")
        add(f"| running servers lost (same container id, /api/status 200 through the proxy) | {len(rd['servers_lost'])} of {rd['servers']} {rd['servers_lost'] or ''} | 0 |")
    else:
        add("redeploy: not measured")
    pl = r.get("plans")
    add("")
    if pl:
        add("| plan | wall (s) | result |")
        add("|---|---|---|")
        add(f"| `terraform plan` deployed bench stack, no changes (refresh against the engine) | {f(pl['deployed_plan_seconds'])} | exit {pl['deployed_plan_exitcode']} (0 = no changes) |")
        add(f"| `terraform plan` 20 courses, synthesized ({f(pl['plan20_synth_seconds'])} s `cdktf synth`), no state, against the engine | {f(pl['plan20_seconds'])} | {pl['plan20_summary']} |")
    else:
        add("plan: not measured")
    sy = r.get("synth")
    if sy:
        add("")
        add(f"`npm run bench:synth` ({f(sy['seconds'])} s, exit {sy['exitcode']}):")
        add("")
        add("```")
        add(sy["output"])
        add("```")
    return "\n".join(lines)


def save():
    (WORK_DIR / "results.json").write_text(json.dumps(RESULTS, indent=2, default=str) + "\n")
    (WORK_DIR / "results.md").write_text(report() + "\n")


def main() -> int:
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # SIGTERM still purges the stack
    problems = prerequisite_problems()
    if problems:
        print("bench prerequisites missing:\n  - " + "\n  - ".join(problems), file=sys.stderr)
        return 2
    t_start = time.monotonic()
    RESULTS["started"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    RESULTS["machine"] = {
        "nproc": os.cpu_count(),
        "mem": subprocess.run(["free", "-h"], capture_output=True, text=True).stdout.splitlines()[1],
        "docker": docker("version", "--format", "{{.Server.Version}}"),
        "kernel": os.uname().release,
    }
    with harness.timed("cleanup of any earlier bench stack"):
        wipe_everything()
        WORK_DIR.mkdir(parents=True)
    bench = Bench()
    write_config(bench.stack.config_file, [(COURSE, CONTEXT)], idle_cull_seconds=3600)
    failed = False
    try:
        with harness.timed("deploy bench stack"):
            t0 = time.monotonic()
            bench.stack.deploy()
            RESULTS["deploy_seconds"] = time.monotonic() - t0
            RESULTS["deploy_health_seconds"] = bench.wait_for_hub()
        bench.consumer = Lti11Consumer(bench.stack.output("lti11_launch_url"),
                                       bench.stack.output("lti11_consumer_key"),
                                       bench.stack.output("lti11_shared_secret"))
        with harness.timed("warm-up launch"):
            warm = User(bench, "warmup")
            RESULTS["warmup_seconds"] = warm.launch_until_ready()
        with harness.timed(f"floor: docker run x{FLOOR_RUNS}"):
            RESULTS["floor"] = measure_floor(bench, warm)
        save()
        with harness.timed(f"single launches x{SINGLE_RUNS}"):
            RESULTS["single"] = measure_single(bench)
        save()
        tag = os.environ.get("BENCH_TAG", "as configured")
        RESULTS["rush"] = {tag: []}
        last_users: list[User] = []
        for i, n in enumerate(RUSH_SIZES):
            keep = i == len(RUSH_SIZES) - 1
            with harness.timed(f"rush N={n}"):
                res, last_users = measure_rush(bench, n, "r", keep=keep)
                RESULTS["rush"][tag].append(res)
            save()
        running = [u for u in last_users if u.seconds is not None and not u.error]
        with harness.timed(f"redeploy with {len(running)} servers running"):
            RESULTS["redeploy"] = measure_redeploy(bench, running)
        save()
        # Their servers stop; the instructor pre-warms the course; the same students launch at once.
        stop_all(running)
        with harness.timed(f"pre-warm, then rush N={len(running)}"):
            RESULTS["prewarmed"] = measure_prewarm(bench, [u.name for u in running])
        save()
        with harness.timed("terraform plan timings"):
            RESULTS["plans"] = measure_plans(bench)
        save()
    except BaseException:
        failed = True
        traceback.print_exc()
        RESULTS["error"] = traceback.format_exc()[-3000:]
    finally:
        with harness.timed("purge bench stack"):
            try:
                bench.stack.destroy(purge=True)
            except Exception:  # noqa: BLE001 - the wipe below removes what is left
                traceback.print_exc()
            try:
                wipe_everything(keep_work_dir=True)
            except Exception:  # noqa: BLE001 - the run failed, but its measurements are printed below
                failed = True
                traceback.print_exc()
                RESULTS["error"] = (RESULTS.get("error", "") + "\npurge: " + traceback.format_exc()[-2000:]).strip()
            left = [n for k in ("container", "network", "volume") for n in names(k)]
            RESULTS["left_after_purge"] = left
        save()
    if os.environ.get("BENCH_SKIP_SYNTH") != "1":
        with harness.timed("npm run bench:synth"):
            RESULTS["synth"] = synth_bench()
    RESULTS["total_seconds"] = time.monotonic() - t_start
    save()
    say("\n" + "=" * 100)
    say(f"machine: {RESULTS['machine']}")
    say(report())
    say(f"\ntotal {RESULTS['total_seconds']:.0f} s; results in {WORK_DIR}/results.json and results.md")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
