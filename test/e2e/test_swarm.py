"""engine "swarm" on a real multi-node Docker Swarm (swarm.py): three engines joined as one
manager and two workers.

First the cluster itself is proven to give what a cluster gives a stack: every node pulls from
the cluster's registry, services on an overlay network reach each other across nodes by the
swarm's DNS (dnsrr: this kernel has no IPVS for virtual IPs), and the shared directory keeps
Unix ownership and modes across nodes (what nbgrader's exchange needs from a cluster filesystem).

Then the environment `sw` is deployed on it with the package's own CLI (DOCKER_HOST: the
manager), the same cdktf stack as on one host with `engine: swarm`: six students launch over
LTI 1.1 (signed by the `lti` package) and their servers spread over the workers, the nbgrader
round trip crosses nodes, a worker dies and its student's files follow her to the other one, a
redeploy keeps the servers, and destroy keeps the data.
"""

from __future__ import annotations

import json
import shlex
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import lti
import pytest
import requests

import swarm
from harness import ROOT, STAND_IN_IMAGES, Stack, docker, record_time, run, say, timed

PROBE = "jhlti-e2e-probe"
PROBE_NETWORK = "jhlti-e2e-probe-net"
PROBE_PORT = 7000
# Each task answers a TCP connection with its node's name (perl-base is in Debian's minbase).
LISTEN = (
    "perl -MIO::Socket::INET -e '"
    f"my $s = IO::Socket::INET->new(LocalPort => {PROBE_PORT}, Listen => 8, ReuseAddr => 1) or die $!; "
    "while (my $c = $s->accept) { print $c \"$ENV{NODE}\\n\"; close $c }'"
)


@pytest.fixture(scope="module")
def cluster():
    if run(["docker", "image", "inspect", swarm.DEBIAN_IMAGE], check=False, quiet=True).returncode != 0:
        pytest.fail(f"the swarm nodes' base image {swarm.DEBIAN_IMAGE} is missing (run bin/setup/all.sh)", pytrace=False)
    with timed("swarm: three engines in containers joined as one manager and two workers"):
        swarm.up()
    try:
        yield
    finally:
        with timed("swarm: probe removed, nodes stopped (engine data kept as cache)"):
            swarm.engine("manager", "service", "rm", PROBE, check=False)
            swarm.engine("manager", "network", "rm", PROBE_NETWORK, check=False)
            swarm.down()


def task_containers(node: str, service: str) -> list[str]:
    return swarm.engine(node, "ps", "-q", "--filter", f"label=com.docker.swarm.service.name={service}").split()


def in_task(node: str, script: str, *, user: str = "0", check: bool = True) -> str:
    [task] = task_containers(node, PROBE)
    return swarm.engine(node, "exec", "-u", user, task, "bash", "-c", script, check=check)


def test_nodes_joined(cluster):
    lines = swarm.engine("manager", "node", "ls", "--format", "{{json .}}").splitlines()
    nodes = {n["Hostname"]: n for n in map(json.loads, lines)}
    assert sorted(nodes) == sorted(swarm.container(n) for n in swarm.NODES), nodes
    assert all(n["Status"] == "Ready" and n["Availability"] == "Active" for n in nodes.values()), nodes
    assert nodes[swarm.container("manager")]["ManagerStatus"] == "Leader"
    assert all(nodes[swarm.container(w)]["ManagerStatus"] == "" for w in ("worker1", "worker2"))


def test_every_node_runs_a_task_from_the_registry(cluster):
    image = f"{swarm.REGISTRY}/jhlti-e2e/probe:{docker('image', 'inspect', '-f', '{{.Id}}', swarm.DEBIAN_IMAGE)[7:19]}"
    with timed("swarm: a probe image pushed to the cluster registry, a global service on an overlay network"):
        swarm.load([swarm.DEBIAN_IMAGE])
        swarm.engine("manager", "tag", swarm.DEBIAN_IMAGE, image)
        swarm.engine("manager", "push", image, timeout=600)
        swarm.engine("manager", "service", "rm", PROBE, check=False)
        swarm.engine("manager", "network", "rm", PROBE_NETWORK, check=False)
        swarm.engine("manager", "network", "create", "--driver", "overlay", "--attachable", PROBE_NETWORK)
        swarm.engine(
            "manager", "service", "create", "--detach", "--name", PROBE, "--mode", "global",
            "--endpoint-mode", "dnsrr", "--network", PROBE_NETWORK, "--env", "NODE={{.Node.Hostname}}",
            "--mount", f"type=bind,source={swarm.SHARED_ROOT},target=/shared", image, "bash", "-c", LISTEN,
        )
        swarm.wait_for("a running probe task on every node", lambda: all(task_containers(n, PROBE) for n in swarm.NODES), timeout=180)
    # Every node pulled the image itself: none had it before the service.
    for node in ("worker1", "worker2"):
        # (a service pins its image by digest, so the node's copy carries the repository, no tag)
        assert swarm.engine(node, "image", "ls", "-q", image.rsplit(":", 1)[0]), f"{node} has no {image}"


def test_tasks_reach_each_other_across_nodes(cluster):
    # The swarm's DNS learns the other nodes' tasks by gossip, within seconds.
    lookup = f"getent ahostsv4 tasks.{PROBE} | awk '{{print $1}}' | sort -u"
    addresses = swarm.wait_for("three task addresses in the swarm's DNS", lambda: (a := in_task("manager", lookup).split()) and len(a) == 3 and a,
                               timeout=60)
    answers = {}
    for address in addresses:
        answers[address] = swarm.wait_for(
            f"an answer from {address}",
            lambda: in_task("manager", f"exec 3<>/dev/tcp/{address}/{PROBE_PORT} && head -1 <&3", check=False),
            timeout=30,
        )
    assert sorted(answers.values()) == sorted(swarm.container(n) for n in swarm.NODES), answers


def test_shared_directory_keeps_owners_and_modes_across_nodes(cluster):
    in_task("manager", "rm -rf /shared/probe && mkdir -m 1777 /shared/probe")
    # uid 20001 on worker1 writes a private file; on worker2, uid 20002 is refused and 20001 reads it.
    in_task("worker1", "umask 077 && echo mine > /shared/probe/a.txt", user="20001")
    assert in_task("worker2", "stat -c '%u %a' /shared/probe/a.txt") == "20001 600"
    refused = run(swarm.engine_command("worker2", "exec", "-u", "20002", task_containers("worker2", PROBE)[0], "cat", "/shared/probe/a.txt"),
                  check=False, quiet=True)
    assert refused.returncode != 0 and "Permission denied" in refused.stderr, refused
    assert in_task("worker2", "cat /shared/probe/a.txt", user="20001") == "mine"
    in_task("manager", "rm -rf " + shlex.quote("/shared/probe"))


# ---- the environment `sw` on the swarm ------------------------------------------------------

ENV = "sw"
PORT = 18543
PUBLIC_URL = f"https://{swarm.NODES['manager']}:{PORT}"  # the proxy, published on the manager (host mode)
WORK = ROOT / ".gen" / "swarm"
COURSE = "algebra"
CONTEXT = "ctx-sw-algebra"
# Plain lower-case names: DockerSpawner escapes anything else in Docker names ("-" becomes "-2d").
STUDENTS = ["amira", "bodhi", "chen", "dara", "emil", "fatou"]
ASSIGNMENT = "ps1"
NOTEBOOK = {
    "cells": [
        {"cell_type": "code", "id": "answer", "execution_count": None, "outputs": [], "source": "def add(a, b):\n    ### BEGIN SOLUTION\n    return a + b\n    ### END SOLUTION\n",
         "metadata": {"nbgrader": {"schema_version": 3, "solution": True, "grade": False, "locked": False, "task": False, "grade_id": "answer"}}},
        {"cell_type": "code", "id": "tests", "execution_count": None, "outputs": [], "source": "assert add(1, 2) == 3\nassert add(-1, 1) == 0\n",
         "metadata": {"nbgrader": {"schema_version": 3, "solution": False, "grade": True, "locked": True, "task": False, "grade_id": "tests", "points": 2}}},
    ],
    "metadata": {"kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"}},
    "nbformat": 4, "nbformat_minor": 5,
}


def config(idle_cull_seconds: int = 3600) -> dict:
    return {"version": 1, "environments": [{
        "name": ENV, "hostname": swarm.NODES["manager"], "port": PORT,
        "engine": "swarm",
        "swarm": {"registry": {"address": swarm.REGISTRY, "auth": "none", "plainHttp": True},
                  "sharedRoot": swarm.SHARED_ROOT,
                  # this kernel has no IPVS: no virtual IPs, no routing mesh
                  "endpointMode": "dnsrr", "publishMode": "host"},
        "lti11": {"enabled": True},
        "limits": {"memory": "1G", "cpus": 1},
        "idleCullSeconds": idle_cull_seconds,
        "courses": [{"id": COURSE, "title": "Linear Algebra (swarm)", "contexts": [CONTEXT]}],
    }]}


# The package's CLI and Terraform against the manager's engine (harness.Stack, as on one host).
STACK = Stack(WORK / "config.json", name=ENV, outdir=WORK / "cdktf.out", engine_env={"DOCKER_HOST": f"unix://{swarm.MANAGER_SOCKET}"})


def deploy(**settings) -> None:
    (WORK / "config.json").write_text(json.dumps(config(**settings), indent=2) + "\n")
    STACK.deploy()


def plan_exitcode() -> int:
    code, out = STACK.plan_exitcode()
    if code == 2:
        say(out[-4000:])
    return code


def service_tasks(service: str) -> list[dict]:
    """The running tasks of a service: node and container id."""
    out = swarm.engine("manager", "service", "ps", service, "--filter", "desired-state=running", "--no-trunc", "--format", "{{json .}}", check=False)
    return [json.loads(line) for line in out.splitlines() if line.strip()]


def node_of(service: str) -> str:
    """The node (manager, worker1, worker2) whose running task serves `service`."""
    tasks = [t for t in service_tasks(service) if t["CurrentState"].startswith("Running")]
    assert len(tasks) == 1, (service, tasks)
    return next(n for n in swarm.NODES if swarm.container(n) == tasks[0]["Node"])


def task_exec(service: str, script: str, *, user: str | int | None = None, workdir: str | None = None, check: bool = True):
    """A shell in the service's running task, on its node, as `user` (a user's terminal)."""
    node = node_of(service)
    ids = swarm.engine(node, "ps", "-q", "--filter", f"label=com.docker.swarm.service.name={service}")
    assert len(ids.split()) == 1, (service, node, ids)
    args = ["exec", *(["-u", str(user)] if user is not None else []), *(["-w", workdir] if workdir else []),
            "-e", "HOME=/home/jovyan", ids.strip(), "bash", "-c", script]
    return run(swarm.engine_command(node, *args), check=check, quiet=True)


@dataclass
class Student:
    name: str
    session: requests.Session

    @property
    def service(self) -> str:
        return f"jhlti-{ENV}-nb-{self.name}--{COURSE}"


class Class:
    students: dict[str, Student] = {}
    spawn_seconds: list[float] = []


def browser(cert: Path) -> requests.Session:
    s = requests.Session()
    s.trust_env = False  # the environment's CA bundle would override the session's trust
    s.verify = str(cert)
    return s


def lti11_launch(student: Student, out: dict) -> float:
    """What the LMS page and the browser do: post the signed launch, follow the hub into the
    course's server through the progress page, until JupyterLab answers; the seconds it took."""
    params = {"lti_message_type": "basic-lti-launch-request", "lti_version": "LTI-1p0", "resource_link_id": "rl-sw-1",
              "user_id": student.name, "roles": ["Learner"], "context_id": CONTEXT}
    launch_url = f"{PUBLIC_URL}/hub/lti/launch"
    data = lti.ToolConsumer(out["lti11_consumer_key"], out["lti11_shared_secret"], launch_url=launch_url, params=params).generate_launch_data()
    t0 = time.monotonic()
    r = student.session.post(launch_url, data=data, allow_redirects=False, timeout=30)
    assert r.status_code == 302, (r.status_code, r.text[:300])
    url = urljoin(PUBLIC_URL, r.headers["Location"])
    while True:
        r = student.session.get(url, allow_redirects=False, timeout=60)
        if r.status_code in (301, 302, 303, 307):
            url = urljoin(r.url, r.headers["Location"])
            continue
        if (r.status_code == 200 and "/hub/spawn-pending/" in r.url) or r.status_code in (502, 503):
            assert time.monotonic() - t0 < 240, f"{student.name}: not in JupyterLab after 240 s ({r.status_code} {r.url})"
            time.sleep(0.5)
            continue
        break
    assert r.status_code == 200 and urlsplit(r.url).path == f"/user/{student.name}/{COURSE}/lab" and "JupyterLab" in r.text, (r.status_code, r.url)
    return time.monotonic() - t0


def server_answers(student: Student) -> bool:
    r = student.session.get(f"{PUBLIC_URL}/user/{student.name}/{COURSE}/api/status", allow_redirects=False, timeout=30)
    return r.status_code == 200


def as_grader(script: str, **kw):
    return task_exec(f"jhlti-{ENV}-grader-{COURSE}", script, user=int(task_exec(f"jhlti-{ENV}-grader-{COURSE}", "echo $NB_UID").stdout.strip()),
                     workdir=f"/srv/nbgrader/courses/{COURSE}", **kw)


def as_student(student: Student, script: str, **kw):
    uid = task_exec(student.service, "echo $NB_UID").stdout.strip()
    return task_exec(student.service, script, user=int(uid), workdir="/home/jovyan", **kw)


@pytest.fixture(scope="module")
def stack(cluster):
    """`sw` deployed on the swarm (its images built on the manager and pushed to the registry)."""
    swarm.engine("manager", "service", "rm", PROBE, check=False)
    for leftover in swarm.engine("manager", "service", "ls", "--format", "{{.Name}}").split():
        if leftover.startswith(f"jhlti-{ENV}-"):
            swarm.engine("manager", "service", "rm", leftover, check=False)
    run(["docker", "exec", swarm.container("manager"), "rm", "-rf", f"{swarm.SHARED_ROOT}/jhlti-{ENV}"], quiet=True)
    if WORK.exists():
        run(["rm", "-rf", str(WORK)], quiet=True)
    WORK.mkdir(parents=True)
    with timed("swarm: the stand-in base images into the manager (docker save | docker load)"):
        swarm.load(STAND_IN_IMAGES[:3])
    with timed("swarm: deploy sw (engine swarm, cold: no state) with the CLI against the manager"):
        deploy()
    out = STACK.outputs(secrets=True)
    cert = WORK / "tls.pem"
    cert.write_text(out["tls_certificate_pem"])
    yield {"out": out, "cert": cert}
    with timed("swarm: destroy sw --purge"):
        STACK.destroy(purge=True)
        run(["docker", "exec", swarm.container("manager"), "rm", "-rf", f"{swarm.SHARED_ROOT}/jhlti-{ENV}"], quiet=True)


def test_sw_deployed_hub_and_proxy_on_the_manager_grader_on_a_worker(stack):
    r = browser(stack["cert"]).get(f"{PUBLIC_URL}/hub/health", timeout=30)
    assert r.status_code == 200, r.status_code
    assert node_of(f"jhlti-{ENV}-hub") == "manager" and node_of(f"jhlti-{ENV}-proxy") == "manager"
    assert node_of(f"jhlti-{ENV}-grader-{COURSE}").startswith("worker")
    # Images come from the registry: the workers never built anything.
    for worker in ("worker1", "worker2"):
        assert "jhlti/sw-" not in swarm.engine(worker, "image", "ls", "--format", "{{.Repository}}") or \
            all(r.startswith(swarm.REGISTRY) for r in swarm.engine(worker, "image", "ls", "--format", "{{.Repository}}").split() if "jhlti/sw-" in r)
    with timed("swarm: terraform plan -detailed-exitcode after the first deploy", step=False):
        assert plan_exitcode() == 0, "a fresh deploy plans changes"


def test_six_students_spread_over_the_workers(stack):
    with timed("swarm: six LTI 1.1 launches until each JupyterLab answers"):
        for name in STUDENTS:
            student = Student(name, browser(stack["cert"]))
            seconds = lti11_launch(student, stack["out"])
            Class.students[name] = student
            Class.spawn_seconds.append(seconds)
            record_time(f"launch -> JupyterLab on the swarm: {name} on {node_of(student.service)}", seconds)
    nodes = {name: node_of(s.service) for name, s in Class.students.items()}
    say(f"    servers by node: {json.dumps(nodes)}")
    assert set(nodes.values()) <= {"worker1", "worker2"}, nodes  # node.role==worker
    assert len(set(nodes.values())) == 2, f"six servers on one node: {nodes}"
    # Each its own uid, its own home on the shared filesystem.
    uids = {name: as_student(s, "id -u").stdout.strip() for name, s in Class.students.items()}
    assert len(set(uids.values())) == 6, uids
    # The server runs as the user, without capabilities or new privileges (the start script's
    # setpriv: a swarm service takes no security options).
    status = as_student(Class.students[STUDENTS[0]], "for p in /proc/[0-9]*; do if tr '\\0' ' ' < $p/cmdline | grep -q '[j]hlti-singleuser'; then "
                                                      "grep -E '^(Uid|CapEff|NoNewPrivs):' $p/status; break; fi; done").stdout
    assert "CapEff:\t0000000000000000" in status and "NoNewPrivs:\t1" in status and f"Uid:\t{uids[STUDENTS[0]]}" in status, status
    homes = run(["docker", "exec", swarm.container("manager"), "stat", "-c", "%n %u %a",
                 *(f"{swarm.SHARED_ROOT}/jhlti-{ENV}/homes/{COURSE}/{n}" for n in STUDENTS)], quiet=True).stdout.split("\n")
    for line in filter(None, homes):
        path, uid, _mode = line.split()
        assert uid == uids[path.rsplit("/", 1)[1]], (line, uids)


def test_nbgrader_round_trip_across_nodes(stack):
    grader_node = node_of(f"jhlti-{ENV}-grader-{COURSE}")
    right = [n for n, s in Class.students.items() if node_of(s.service) != grader_node][:2]
    wrong = next(n for n, s in Class.students.items() if n not in right)
    say(f"    grader on {grader_node}; right answers from {right} ({[node_of(Class.students[n].service) for n in right]}), wrong from {wrong}")
    with timed("swarm: nbgrader round trip (release, fetch/answer/submit x3, collect, autograde) across nodes"):
        as_grader(f"""set -e
mkdir -p source/{ASSIGNMENT}
cat > source/{ASSIGNMENT}/{ASSIGNMENT}.ipynb <<'NOTEBOOK'
{json.dumps(NOTEBOOK)}
NOTEBOOK
nbgrader generate_assignment {ASSIGNMENT} --force
nbgrader release_assignment {ASSIGNMENT} --force
""")
        for name in [*right, wrong]:
            answer = "def add(a, b):\n    return a + b\n" if name in right else "def add(a, b):\n    return a - b\n"
            as_student(Class.students[name], f"""set -e
nbgrader fetch_assignment {ASSIGNMENT} --course {COURSE}
python3 - <<'PY'
import nbformat
path = "{COURSE}/{ASSIGNMENT}/{ASSIGNMENT}.ipynb"
nb = nbformat.read(path, as_version=4)
nb.cells[0].source = {answer!r}
nbformat.write(nb, path)
PY
nbgrader submit {ASSIGNMENT} --course {COURSE}
""")
        as_grader(f"set -e\nnbgrader collect {ASSIGNMENT}\nnbgrader autograde {ASSIGNMENT}\n")
    scores = gradebook()
    say(f"    gradebook: {scores}")
    assert scores == {**{n: (2.0, 2.0) for n in right}, wrong: (0.0, 2.0)}, scores


def gradebook() -> dict:
    p = as_grader(f"""python3 - <<'PY'
import json
from nbgrader.api import Gradebook
with Gradebook("sqlite:////srv/nbgrader/courses/{COURSE}/gradebook.db", course_id="{COURSE}") as gb:
    print(json.dumps({{s.student_id: [s.score, s.max_score] for s in gb.assignment_submissions("{ASSIGNMENT}")}}))
PY
""")
    return {k: tuple(v) for k, v in json.loads(p.stdout.strip().splitlines()[-1]).items()}


def test_a_students_files_follow_her_when_her_worker_dies(stack):
    """The swarm starts the servers of a node that died on another one (their restart policy),
    from the same home on the shared filesystem; the student's next launch lands there."""
    name, student = next((n, s) for n, s in Class.students.items() if node_of(s.service) == "worker1")
    as_student(student, "echo 'written on worker1' > notes.txt")
    with timed("swarm: worker1 dies; its student's server starts again on worker2 with her files"):
        t0 = time.monotonic()
        swarm.stop_node("worker1")
        try:
            def moved() -> bool:
                tasks = [t for t in service_tasks(student.service) if t["CurrentState"].startswith("Running")]
                return len(tasks) == 1 and tasks[0]["Node"] == swarm.container("worker2")
            swarm.wait_for(f"{name}'s server running on worker2", moved, timeout=120, interval=1)
            record_time(f"worker1 stopped -> {name}'s server running on worker2", time.monotonic() - t0)
            seconds = lti11_launch(student, stack["out"])
            say(f"    {name}: launch after her node died -> JupyterLab in {seconds:.1f} s on {node_of(student.service)}")
            assert as_student(student, "cat notes.txt").stdout.strip() == "written on worker1"
            assert as_student(student, f"ls {COURSE}/{ASSIGNMENT}/{ASSIGNMENT}.ipynb").returncode == 0
        finally:
            swarm.start_node("worker1")


def test_redeploy_keeps_running_servers(stack):
    before = {n: service_tasks(s.service)[0]["ID"] for n, s in Class.students.items()}
    with timed("swarm: redeploy with idleCullSeconds 3600 -> 1800 while six servers run"):
        deploy(idle_cull_seconds=1800)
    after = {n: service_tasks(s.service)[0]["ID"] for n, s in Class.students.items()}
    assert after == before, "a redeploy replaced user servers"
    for name, student in Class.students.items():
        assert swarm.wait_for(f"{name}'s server through the proxy", lambda: server_answers(student), timeout=60)
    assert plan_exitcode() == 0


def test_destroy_keeps_data(stack):
    with timed("swarm: destroy sw (data kept), deploy again onto it"):
        STACK.destroy(purge=False)
        assert not [s for s in swarm.engine("manager", "service", "ls", "--format", "{{.Name}}").split() if s.startswith(f"jhlti-{ENV}-")]
        kept = run(["docker", "exec", swarm.container("manager"), "ls", f"{swarm.SHARED_ROOT}/jhlti-{ENV}/homes/{COURSE}"], quiet=True).stdout.split()
        assert sorted(kept) == sorted(STUDENTS), kept
        assert swarm.engine("manager", "volume", "ls", "-q", "--filter", f"name=jhlti-{ENV}-hub-data")
        deploy(idle_cull_seconds=1800)
    scores = gradebook()
    assert sorted(v for v in scores.values()) == [(0.0, 2.0), (2.0, 2.0), (2.0, 2.0)], scores
