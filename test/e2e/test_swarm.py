"""The e2e tier's multi-node Docker Swarm (swarm.py): three engines joined as one manager and
two workers, proven to give what a cluster gives a stack: every node pulls from the cluster's
registry, services on an overlay network reach each other across nodes by the swarm's DNS
(dnsrr: this kernel has no IPVS for virtual IPs), and the shared directory keeps Unix
ownership and modes across nodes (what nbgrader's exchange needs from a cluster filesystem).
"""

from __future__ import annotations

import json
import shlex

import pytest

import swarm
from harness import docker, run, timed

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
