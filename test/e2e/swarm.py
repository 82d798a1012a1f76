"""A real multi-node Docker Swarm on this one machine, for the e2e tier's swarm tests.

Three Debian docker.io engines in containers (test/e2e/swarm-node), joined as one manager and
two workers on their own bridge network with fixed addresses. What a cluster has and these
containers stand in for:
  - a shared filesystem mounted at the same path on every node: one host volume mounted at
    SHARED_ROOT in each node (uids and modes hold across nodes, as on NFS or CephFS);
  - a registry every node pulls from: docker-registry on the manager, plain HTTP, listed as an
    insecure registry by every node's engine;
  - the manager's Docker API for the operator: its socket, bind-mounted to MANAGER_SOCKET here.
The engines keep /var/lib/docker on volumes across runs (layer cache, registry content); `down`
removes the nodes, `down(purge=True)` also their engines' data and the shared directory.

What this kernel allows (TOOLCHAIN.md): no --privileged (so: every capability but
SYS_RESOURCE, unconfined seccomp/apparmor/system paths, all devices), no IPVS (services use
dnsrr endpoints and host-mode ports), no NFS.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import time
from pathlib import Path

from harness import ROOT, docker, run, say

PREFIX = "jhlti-swarm"
NODE_IMAGE = "localhost/jhlti-e2e/swarm-node"
NODE_CONTEXT = ROOT / "test" / "e2e" / "swarm-node"
DEBIAN_IMAGE = "localhost/jhlti-stand-in/debian:bookworm-minbase"  # bin/setup/base-images.sh
NETWORK = f"{PREFIX}-nodes"
SUBNET = "10.231.0.0/24"
NODES = {"manager": "10.231.0.10", "worker1": "10.231.0.11", "worker2": "10.231.0.12"}
REGISTRY = f"{NODES['manager']}:5000"
# Address pools inside the nodes, apart from the node network and from the host's own pools.
ENGINE_POOL = "10.232.0.0/16"
SWARM_POOL = "10.233.0.0/16"
SHARED_VOLUME = f"{PREFIX}-shared"
SHARED_ROOT = "/srv/jhlti-shared"
SOCKET_DIR = Path("/run/jhlti-swarm")
MANAGER_SOCKET = SOCKET_DIR / "manager" / "docker.sock"
HASH_LABEL = "org.jupyterhub-lti-stack.swarm-node.hash"
# Every capability but SYS_RESOURCE, which this host's bounding set lacks (--privileged fails).
NODE_SECURITY = [
    "--cap-add", "ALL", "--cap-drop", "SYS_RESOURCE",
    "--security-opt", "seccomp=unconfined", "--security-opt", "apparmor=unconfined",
    "--security-opt", "systempaths=unconfined", "--device-cgroup-rule", "a *:* rwm",
]


def container(node: str) -> str:
    return f"{PREFIX}-{node}"


def node_image() -> str:
    """The node image, built when its context or the Debian base changed (a label says which)."""
    base = docker("image", "inspect", "-f", "{{.Id}}", DEBIAN_IMAGE)
    h = hashlib.sha256(base.encode())
    for f in sorted(NODE_CONTEXT.iterdir()):
        h.update(f.name.encode() + b"\0" + f.read_bytes() + b"\0")
    digest = h.hexdigest()[:16]
    tag = f"{NODE_IMAGE}:{digest}"
    if docker("image", "ls", "-q", tag):
        return tag
    say(f"    building the swarm node image {tag}")
    run(["docker", "build", "-q", "--label", f"{HASH_LABEL}={digest}", "--build-arg", f"BASE_IMAGE={DEBIAN_IMAGE}",
         "-t", tag, str(NODE_CONTEXT)], env={**os.environ, "DOCKER_BUILDKIT": "0"}, timeout=900)
    return tag


def engine_command(node: str, *args: str, stdin: bool = False) -> list[str]:
    """The docker CLI against a node's own engine (the manager's through its socket here)."""
    if node == "manager":
        return ["docker", "-H", f"unix://{MANAGER_SOCKET}", *args]
    return ["docker", "exec", *(["-i"] if stdin else []), container(node), "docker", *args]


def engine(node: str, *args: str, check: bool = True, timeout: float = 300) -> str:
    """Run the docker CLI against a node's engine; its output."""
    return run(engine_command(node, *args), check=check, quiet=True, timeout=timeout).stdout.strip()


def wait_for(what: str, ok, timeout: float = 60.0, interval: float = 0.5):
    deadline = time.monotonic() + timeout
    while True:
        value = ok()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)


def _engine_answers(node: str) -> bool:
    try:
        return engine(node, "version", "-f", "{{.Server.Version}}", check=False, timeout=10) != ""
    except subprocess.TimeoutExpired:
        return False


def up() -> None:
    """Nodes running, their engines answering, joined as one swarm, the registry serving."""
    image = node_image()
    if not docker("network", "ls", "-q", "--filter", f"name=^{NETWORK}$"):
        docker("network", "create", "--driver", "bridge", "--subnet", SUBNET, "--label", f"{PREFIX}=1", NETWORK)
    docker("volume", "create", "--label", f"{PREFIX}=1", SHARED_VOLUME)
    created = False
    for node, ip in NODES.items():
        name = container(node)
        running = docker("ps", "-q", "--filter", f"name=^{name}$")
        if running and docker("inspect", "-f", "{{.Config.Image}}", name) == image:
            continue
        created = True
        docker("rm", "-f", name, check=False)
        sockets = SOCKET_DIR / node
        sockets.mkdir(parents=True, exist_ok=True)
        flags = [f"--insecure-registry={REGISTRY}", f"--default-address-pool=base={ENGINE_POOL},size=24"]
        docker(
            "run", "-d", "--name", name, "--hostname", name, "--network", NETWORK, "--ip", ip,
            "--label", f"{PREFIX}=1", *NODE_SECURITY,
            "-e", f"JHLTI_NODE_REGISTRY={1 if node == 'manager' else 0}",
            "-v", f"{PREFIX}-{node}-docker:/var/lib/docker",
            "-v", f"{SHARED_VOLUME}:{SHARED_ROOT}",
            "-v", f"{sockets}:/run/jhlti-node",
            image, *flags,
        )
    for node in NODES:
        wait_for(f"the engine of node {node}", lambda: _engine_answers(node), timeout=60)
    if created:
        # A new node container may find an old swarm's state on its engine volume (a run that
        # ended without `down`): every node starts a new swarm instead.
        for node in [*NODES][::-1]:
            engine(node, "swarm", "leave", "--force", check=False)
    _join()
    wait_for("the registry on the manager", lambda: _registry_answers(), timeout=30)


def _registry_answers() -> bool:
    p = run(["docker", "exec", container("manager"), "bash", "-c",
             "exec 3<>/dev/tcp/127.0.0.1/5000 && printf 'GET /v2/ HTTP/1.0\\r\\n\\r\\n' >&3 && head -1 <&3"],
            check=False, quiet=True, timeout=10)
    return " 200 " in p.stdout


def _swarm_state(node: str) -> dict:
    return json.loads(engine(node, "info", "-f", "{{json .Swarm}}"))


def _join() -> None:
    manager = _swarm_state("manager")
    if manager["LocalNodeState"] != "active" or not manager.get("ControlAvailable"):
        engine("manager", "swarm", "leave", "--force", check=False)
        engine("manager", "swarm", "init", "--advertise-addr", NODES["manager"], "--default-addr-pool", SWARM_POOL)
    cluster_id = _swarm_state("manager")["Cluster"]["ID"]
    token = engine("manager", "swarm", "join-token", "-q", "worker")
    for node in NODES:
        if node == "manager":
            continue
        state = _swarm_state(node)
        if state["LocalNodeState"] == "active" and state.get("Cluster", {}).get("ID") in (None, cluster_id) \
                and state.get("NodeAddr") == NODES[node] and _manager_lists(node):
            continue
        engine(node, "swarm", "leave", "--force", check=False)
        engine(node, "swarm", "join", "--token", token, "--advertise-addr", NODES[node], f"{NODES['manager']}:2377")
    # Nodes that left for good (a worker container replaced) are listed Down: forget them.
    for line in engine("manager", "node", "ls", "--format", "{{.ID}} {{.Hostname}} {{.Status}}").splitlines():
        node_id, hostname, status = line.split()
        if status == "Down":
            engine("manager", "node", "rm", "--force", node_id, check=False)
    wait_for("every node Ready in the swarm", lambda: sorted(ready_nodes()) == sorted(container(n) for n in NODES), timeout=60)


def _manager_lists(node: str) -> bool:
    lines = engine("manager", "node", "ls", "--format", "{{.Hostname}} {{.Status}}").splitlines()
    return f"{container(node)} Ready" in lines


def ready_nodes() -> list[str]:
    lines = engine("manager", "node", "ls", "--format", "{{.Hostname}} {{.Status}} {{.Availability}}").splitlines()
    return [line.split()[0] for line in lines if line.split()[1:] == ["Ready", "Active"]]


def load(images: list[str], node: str = "manager") -> None:
    """Images of the host's engine into a node's engine (docker save | docker load)."""
    missing = [i for i in images if engine(node, "image", "inspect", "-f", "{{.Id}}", i, check=False)
               != docker("image", "inspect", "-f", "{{.Id}}", i)]
    if not missing:
        return
    say(f"    loading {', '.join(missing)} into {node}")
    target = engine_command(node, "load", "-q", stdin=True)
    save = subprocess.Popen(["docker", "save", *missing], stdout=subprocess.PIPE)
    loaded = subprocess.run(target, stdin=save.stdout, capture_output=True, text=True, timeout=900)
    save.stdout.close()
    if save.wait() != 0 or loaded.returncode != 0:
        raise AssertionError(f"docker save | load into {node} failed: {loaded.stderr[-2000:]}")


def stop_node(node: str) -> None:
    """A worker dies: its container stops (the swarm sees the node Down)."""
    docker("stop", "-t", "5", container(node))


def start_node(node: str) -> None:
    docker("start", container(node))
    wait_for(f"the engine of node {node}", lambda: _engine_answers(node), timeout=60)
    wait_for(f"{node} Ready again", lambda: container(node) in ready_nodes(), timeout=60)


def down(*, purge: bool = False) -> None:
    """Nodes and their network gone; with purge also the engines' data and the shared directory.
    The engines leave the swarm first: a later `up` forms a new one (their volumes keep images only)."""
    for node in [*NODES][::-1]:
        if docker("ps", "-q", "--filter", f"name=^{container(node)}$"):
            engine(node, "swarm", "leave", "--force", check=False)
    for node in NODES:
        docker("rm", "-f", "-v", container(node), check=False)
    docker("network", "rm", NETWORK, check=False)
    if purge:
        for node in NODES:
            docker("volume", "rm", f"{PREFIX}-{node}-docker", check=False)
        docker("volume", "rm", SHARED_VOLUME, check=False)
