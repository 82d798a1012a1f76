"""engine "swarm" in the hub: the production jupyterhub_config.py read with the golden stack.json
the constructs write for test/fixtures/swarm.yaml, and the course servers' Swarm services as
dockerspawner's SwarmSpawner would create them (its real code, with the Docker API call
recorded instead of sent)."""

from __future__ import annotations

import asyncio
import json
import stat
from pathlib import Path
from types import SimpleNamespace

import pytest
from docker.types import DriverConfig, Mount
from traitlets.config import PyFileConfigLoader

from jupyterhub_lti_stack import contract
from jupyterhub_lti_stack.contract import SHARED_LAYOUT, START_CAPABILITIES
from jupyterhub_lti_stack.spawner import NO_HEALTHCHECK, CourseSwarmSpawner, prepare_shared_directories
from jupyterhub_lti_stack.stack import parse_stack

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = ROOT / "test" / "fixtures" / "contract" / "cluster.stack.json"
HUB_CONFIG = ROOT / "images" / "hub" / "jupyterhub_config.py"


@pytest.fixture
def shared(tmp_path, monkeypatch):
    """The shared filesystem as the hub mounts it, in a temp directory."""
    root = tmp_path / "shared"
    root.mkdir()
    monkeypatch.setitem(contract.PATHS, "hub_shared_root", str(root))
    return root


@pytest.fixture
def stack():
    return parse_stack(json.loads(GOLDEN.read_text()))


def test_the_golden_stack_is_a_swarm(stack):
    assert stack.swarm is not None
    assert (stack.swarm.shared_root, stack.swarm.environment_dir, stack.swarm.endpoint_mode) == ("/mnt/cephfs/jupyter", "jhlti-cluster", "vip")
    assert stack.swarm.node_path("exchange") == "/mnt/cephfs/jupyter/jhlti-cluster/exchange"


def test_shared_directories_made_once_root_owned(shared, stack):
    made = prepare_shared_directories(stack)
    env = shared / "jhlti-cluster"
    assert sorted(Path(p).relative_to(env).as_posix() for p in made) == sorted(
        [SHARED_LAYOUT["exchange"], SHARED_LAYOUT["uid_map"], SHARED_LAYOUT["homes"], *(f"courses/{c.id}" for c in stack.courses)]
    )
    for path in made:
        mode = stat.S_IMODE(Path(path).stat().st_mode)
        assert mode & 0o022 == 0, (path, oct(mode))  # nobody else writes there before the owner's start
    assert prepare_shared_directories(stack) == []  # a restart keeps what is there
    (env / "courses" / "stats" / "gradebook.db").write_text("kept")
    prepare_shared_directories(stack)
    assert (env / "courses" / "stats" / "gradebook.db").read_text() == "kept"


def test_production_config_on_a_swarm(shared, stack, tmp_path, monkeypatch):
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    for name in ("cookie_secret", "crypt_key", "proxy_token", "lti11_consumer_key", "lti11_shared_secret", "service-token-idle-culler",
                 *(f"service-token-{c.id}" for c in stack.courses)):
        (secrets / name).write_text("ab" * 32)
    monkeypatch.setenv("JHLTI_STACK_FILE", str(GOLDEN))
    monkeypatch.setenv("JHLTI_SECRETS_DIR", str(secrets))
    c = PyFileConfigLoader(HUB_CONFIG.name, path=str(HUB_CONFIG.parent)).load_config()
    assert c.JupyterHub.spawner_class is CourseSwarmSpawner
    env = shared / "jhlti-cluster"
    assert c.CourseSpawnerMixin.uid_map_dir == str(env / "uids")
    assert c.LtiStackAuthenticator.courses_root == str(env / "courses")
    assert (env / "exchange").is_dir() and (env / "courses" / "data_lab").is_dir()
    assert c.SwarmSpawner.pull_policy == "skip"
    assert c.SwarmSpawner.extra_create_kwargs == {}  # the single host's {"user": "0"} is no create_service argument
    assert c.SwarmSpawner.extra_endpoint_spec == {"mode": "vip"}
    assert c.SwarmSpawner.extra_placement_spec == {"constraints": ["node.role==worker"]}
    assert c.SwarmSpawner.extra_container_spec == {"user": "0", "cap_drop": ["ALL"], "cap_add": [f"CAP_{x}" for x in START_CAPABILITIES],
                                                   "healthcheck": {"Test": ["NONE"]}}
    assert c.SwarmSpawner.extra_task_spec["restart_policy"]["Condition"] == "on-failure"
    assert "volumes" not in c.DockerSpawner  # no Docker volumes: the homes are on the shared filesystem
    assert c.DockerSpawner.network_name == stack.docker.network


def test_a_course_server_service(shared, stack, monkeypatch):
    """SwarmSpawner.create_object with our mounts and the config's specs; the API call recorded."""
    course = stack.courses[0]
    user = SimpleNamespace(name="alice@example.org", id=7, groups=[SimpleNamespace(name=course.student_group)],
                           spawners={}, url="/user/alice@example.org/", get_auth_state=lambda: asyncio.sleep(0, result={}))
    spawner = CourseSwarmSpawner(
        stack=stack, user=user, orm_spawner=SimpleNamespace(name=course.server_name, server=None, state=None, id=1), hub=SimpleNamespace(api_url="http://jhlti-cluster-hub:8081/hub/api", public_host="", url="/hub/"),
        network_name=stack.docker.network, use_internal_ip=True, extra_create_kwargs={},
        extra_endpoint_spec={"mode": stack.swarm.endpoint_mode}, extra_placement_spec={"constraints": list(stack.swarm.constraints)},
        extra_container_spec={"user": "0", "cap_drop": ["ALL"], "cap_add": [f"CAP_{x}" for x in START_CAPABILITIES],
                              "healthcheck": NO_HEALTHCHECK},
        name_template=stack.docker.server_name_template, uid_map_dir=str(shared / "uids"),
    )
    calls = []

    async def docker(method, *args, **kwargs):
        calls.append((method, kwargs))
        return {"ID": "svc"} if method == "create_service" else [{"ID": "task"}]

    monkeypatch.setattr(spawner, "docker", docker)
    monkeypatch.setattr(spawner, "get_command", lambda: asyncio.sleep(0, result=["/usr/local/bin/jhlti-start"]))
    monkeypatch.setattr(spawner, "get_env", lambda: {"NB_UID": str(spawner.nb_uid)})

    async def go():
        await spawner.prepare()
        spawner.image = spawner.course_image
        return await spawner.create_object()

    asyncio.run(go())
    [(method, kwargs)] = [c for c in calls if c[0] == "create_service"]
    task = kwargs["task_template"]
    container = task["ContainerSpec"]
    home = f"/mnt/cephfs/jupyter/jhlti-cluster/homes/{course.server_name}/{spawner.escaped_name}"
    assert container["Mounts"] == [
        Mount(target="/home/jovyan", source=home, type="bind"),
        Mount(target="/srv/nbgrader/exchange", source="/mnt/cephfs/jupyter/jhlti-cluster/exchange", type="bind"),
    ]
    assert container["Image"] == course.image and course.image.startswith("registry.example.test:5000/")
    assert (container["User"], container["CapabilityDrop"], container["CapabilityAdd"]) == ("0", ["ALL"], [f"CAP_{x}" for x in START_CAPABILITIES])
    assert container["Healthcheck"] == {"Test": ["NONE"]}  # not the image's (docker-stacks declare one)
    assert task["Placement"]["Constraints"] == ["node.role==worker"]
    assert task["Resources"]["Limits"] == {"MemoryBytes": course.limits.memory_bytes, "NanoCPUs": int(course.limits.cpus * 1e9)}
    assert kwargs["endpoint_spec"]["Mode"] == "vip" and "Ports" not in kwargs["endpoint_spec"]  # reached by service name only
    assert kwargs["name"] == f"jhlti-cluster-nb-{spawner.escaped_name}--{course.server_name}"
    # The home's directory exists before the service does (a missing bind source rejects the task).
    assert (shared / "jhlti-cluster" / "homes" / course.server_name / spawner.escaped_name).is_dir()


def test_nfs_storage_mounts_nfs_volumes(shared):
    """swarm.nfs: the home and the exchange are NFS volumes of the local driver, each named after
    its directory (so a node's engine keeps one definition per home), under the export."""
    stack = parse_stack(json.loads((GOLDEN.parent / "nfsclass.stack.json").read_text()))
    spawner = CourseSwarmSpawner(stack=stack, user=SimpleNamespace(name="bob", id=3),
                                 orm_spawner=SimpleNamespace(name=stack.courses[0].server_name, server=None, state=None, id=2))
    options = {"type": "nfs", "o": "addr=10.20.30.40,nfsvers=4.1,hard"}
    home, exchange = spawner.mounts
    assert home == Mount(target="/home/jovyan", source=f"jhlti-nfsclass-nfs-homes--{stack.courses[0].server_name}--bob", type="volume",
                         driver_config=DriverConfig("local", {**options, "device": f":/export/jupyter/jhlti-nfsclass/homes/{stack.courses[0].server_name}/bob"}))
    assert exchange == Mount(target="/srv/nbgrader/exchange", source="jhlti-nfsclass-nfs-exchange", type="volume",
                             driver_config=DriverConfig("local", {**options, "device": ":/export/jupyter/jhlti-nfsclass/exchange"}))
