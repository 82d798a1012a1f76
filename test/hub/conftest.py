"""Fixtures for the hub-layer tier: a real JupyterHub (generated config, real
ltiauthenticator) behind a real configurable-http-proxy, all on 127.0.0.1."""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

import pytest
import requests

ROOT = Path(__file__).resolve().parents[2]
HUB_DIR = ROOT / "images" / "hub"
HUB_CONFIG = HUB_DIR / "jupyterhub_config.py"
NOTEBOOK_DIR = ROOT / "images" / "notebook"
CHP = ROOT / ".venv" / "chp" / "node_modules" / ".bin" / "configurable-http-proxy"
# images/hub is a Docker build context whose content hash Terraform tracks: keep it free of
# __pycache__ both in this process and in the hub subprocess (PYTHONDONTWRITEBYTECODE below).
# The jupyterhub_lti_stack package itself is installed (editable) by setup-venv.sh.
sys.dont_write_bytecode = True
sys.path.append(str(ROOT / "test" / "peers"))  # the LMS-side peers (lms_hub)
# The notebook image's modules (jhlti_nbgrader, jhlti_passback), which it copies into
# site-packages; they read the contract from where that image puts it, here from the build context.
sys.path.insert(0, str(NOTEBOOK_DIR))
os.environ["JHLTI_CONTRACT_FILE"] = str(NOTEBOOK_DIR / "jhlti_contract.json")

from jupyterhub_lti_stack.contract import SECRET_FILES  # noqa: E402
from cryptography.hazmat.primitives import serialization  # noqa: E402
from jupyterhub_lti_stack.stack import parse_stack, required_secrets, signing_key_files  # noqa: E402
from lti_platform import Lti11Consumer, Lti13Platform, _new_key  # noqa: E402

GOLDEN = ROOT / "test" / "fixtures" / "contract"
# The hub tier's environment is the golden stack.json the constructs write for
# test/fixtures/contract.yaml; only the addresses change (everything runs on 127.0.0.1 here).
HUBTEST = json.loads((GOLDEN / "hubtest.stack.json").read_text())
ISSUER = HUBTEST["lti13"]["platforms"][0]["issuer"]
CLIENT_ID = HUBTEST["lti13"]["platforms"][0]["client_ids"][0]
DEPLOYMENT_ID = HUBTEST["lti13"]["platforms"][0]["deployment_ids"][0]
INTRO_IMAGE = HUBTEST["courses"][0]["image"]
INTRO_R_IMAGE = HUBTEST["courses"][0]["allowed_images"][0]
CONTEXT_IDS = {c["id"]: c["context_ids"][0] for c in HUBTEST["courses"]}
FORGERIES: list[tuple[str, int, str]] = []


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def stack_document(ports: dict, platform: Lti13Platform) -> dict:
    doc = json.loads(json.dumps(HUBTEST))
    local = lambda port: f"http://127.0.0.1:{port}"  # noqa: E731
    doc.update(public_url=local(ports["public"]), hub_bind_url=local(ports["hub"]),
               hub_connect_url=local(ports["hub"]), proxy_api_url=local(ports["api"]))
    doc["lti13"]["platforms"][0].update(authorize_url=platform.authorize_url, jwks_url=platform.jwks_url)
    for course, port in zip(doc["courses"], (ports["grader1"], ports["grader2"])):
        course["grader_url"] = local(port)
    return doc


TEST_CONFIG = """\
# Test tier only: the generated production config, with a local-process spawner in
# place of Docker, a temp database, and an API client for the tests to inspect the hub.
c = get_config()  # noqa: F821
load_subconfig({hub_config!r})  # noqa: F821
c.JupyterHub.db_url = "sqlite:///{tmp}/jupyterhub.sqlite"
c.JupyterHub.spawner_class = "standin_spawner.LocalCourseSpawner"
c.LocalCourseSpawner.record_dir = "{tmp}/spawns"
c.LocalCourseSpawner.uid_map_dir = "{tmp}/uids"
c.LocalCourseSpawner.home_dir_template = "{tmp}/home/{{username}}"
c.Spawner.start_timeout = 60
c.LtiStackAuthenticator.launch_db = "{tmp}/launches.sqlite"
# The courses' last pre-warms: the handler's file and the schedule's (its last argument).
c.JupyterHub.tornado_settings["jhlti_prewarm_outcomes"] = "{tmp}/jhlti-prewarm.json"
for service in c.JupyterHub.services:
    if service["name"] == "jhlti-prewarm":
        service["command"][-1] = "{tmp}/jhlti-prewarm.json"
c.LtiStackAuthenticator.courses_root = "{tmp}/courses"
c.LocalCourseSpawner.args = ["--allow-root"]  # the test runner may be root
# The servers run the notebook image's user-server config (first, as jhlti-start puts it), its
# global nbgrader config (in /etc/jupyter there) and its modules.
c.LocalCourseSpawner.environment = {{
    "JUPYTER_CONFIG_PATH": "{notebook}/user-config:{notebook}",
    "PYTHONPATH": "{notebook}",
    "PYTHONDONTWRITEBYTECODE": "1",  # images/notebook is a build context: no __pycache__ there
    "JHLTI_CONTRACT_FILE": "{contract}",
}}
# The hub's managed services (the idle culler, the pre-warm schedule) get only the environment
# JupyterHub gives them: no __pycache__ in images/hub from them either.
for service in c.JupyterHub.services:
    if "command" in service:
        service["environment"] = {{**service.get("environment", {{}}), "PYTHONDONTWRITEBYTECODE": "1"}}
c.JupyterHub.services.append({{"name": "test-inspector", "api_token": {token!r}}})
c.JupyterHub.load_roles.append(
    {{"name": "test-inspector", "scopes": ["admin:users", "admin:servers", "admin:groups"],
      "services": ["test-inspector"]}}
)
"""


@dataclass
class Hub:
    url: str  # public URL, through configurable-http-proxy
    tmp: Path
    log: Path
    lti11: Lti11Consumer
    lti13: Lti13Platform
    api_token: str
    secrets: dict = field(default_factory=dict)

    def api(self, method: str, path: str, **kw) -> requests.Response:
        headers = {"Authorization": f"token {self.api_token}"}
        return requests.request(method, f"{self.url}/hub/api{path}", headers=headers, timeout=30, **kw)

    def user(self, name: str) -> dict | None:
        r = self.api("GET", f"/users/{name}")
        if r.status_code == 404:
            return None
        r.raise_for_status()
        return r.json()

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")

    def last_error(self) -> str:
        """The reason the hub logged for the latest rejected request."""
        errors = re.findall(r"web:\d+\] \d{3} \w+ \S+ \([^)]*\): (.*)", self.log_text())
        return errors[-1] if errors else ""


def _wait_for(url: str, proc: subprocess.Popen, log: Path, what: str, timeout=90, headers=None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"{what} exited with {proc.returncode}:\n{log.read_text()[-6000:]}")
        try:
            if requests.get(url, timeout=2, headers=headers).status_code < 500:
                return
        except requests.ConnectionError:
            pass
        time.sleep(0.2)
    pytest.fail(f"{what} not answering at {url} after {timeout}s:\n{log.read_text()[-6000:]}")


def _stop(proc: subprocess.Popen):
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@contextmanager
def running_hub(tmp: Path, make_stack: Callable[[dict], dict]) -> Iterator[tuple[str, dict, Path]]:
    """The generated hub config in a real JupyterHub behind a real configurable-http-proxy, with
    the stack.json make_stack(ports) returns; yields (public URL, secret values, hub log)."""
    if not HUB_CONFIG.is_file():
        pytest.fail(f"hub config missing: {HUB_CONFIG}")
    if not CHP.exists():
        pytest.fail(f"configurable-http-proxy missing at {CHP}: run test/hub/setup-venv.sh")
    if not shutil.which("node"):
        pytest.fail("node is needed to run configurable-http-proxy")
    (tmp / "spawns").mkdir()
    ports = {k: _free_port() for k in ("public", "api", "hub", "grader1", "grader2")}
    stack_doc = make_stack(ports)
    (tmp / "stack.json").write_text(json.dumps(stack_doc, indent=2))
    secret_dir = tmp / "secrets"
    secret_dir.mkdir()
    stack = parse_stack(stack_doc)
    values = {name: secrets.token_hex(32) for name in required_secrets(stack)}
    values[SECRET_FILES["lti11_consumer_key"]] = secrets.token_hex(16)
    for name in signing_key_files(stack):  # what Terraform's tls_private_key gives the hub
        values[name] = _new_key().private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()
        ).decode("ascii")
    for name, value in values.items():
        (secret_dir / name).write_text(value)
        (secret_dir / name).chmod(0o600)
    api_token = values["test-inspector"] = secrets.token_hex(32)
    config = tmp / "test_config.py"
    config.write_text(TEST_CONFIG.format(hub_config=str(HUB_CONFIG), tmp=tmp, token=api_token, notebook=NOTEBOOK_DIR,
                                          contract=os.environ["JHLTI_CONTRACT_FILE"]))

    env = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        # standin_spawner; a caller's PYTHONPATH after it (a checkout's images/hub in place of
        # the one the virtualenv has installed)
        "PYTHONPATH": os.pathsep.join(filter(None, [str(Path(__file__).parent), os.environ.get("PYTHONPATH")])),
        "PYTHONDONTWRITEBYTECODE": "1",
        "JHLTI_STACK_FILE": str(tmp / "stack.json"),
        "JHLTI_SECRETS_DIR": str(secret_dir),
        "CONFIGPROXY_AUTH_TOKEN": values["proxy_token"],
    }
    proxy_log, hub_log = tmp / "proxy.log", tmp / "hub.log"
    proxy = subprocess.Popen(
        [str(CHP), "--ip", "127.0.0.1", "--port", str(ports["public"]),
         "--api-ip", "127.0.0.1", "--api-port", str(ports["api"]),
         "--default-target", f"http://127.0.0.1:{ports['hub']}",
         "--error-target", f"http://127.0.0.1:{ports['hub']}/hub/error"],
        env=env, stdout=proxy_log.open("w"), stderr=subprocess.STDOUT,
    )
    hub_proc = None
    try:
        _wait_for(f"http://127.0.0.1:{ports['api']}/api/routes", proxy, proxy_log, "configurable-http-proxy", 30,
                  headers={"Authorization": f"token {values['proxy_token']}"})
        hub_proc = subprocess.Popen(
            [sys.executable, "-m", "jupyterhub", "-f", str(config), "--debug"],
            cwd=tmp, env=env, stdout=hub_log.open("w"), stderr=subprocess.STDOUT,
        )
        _wait_for(f"http://127.0.0.1:{ports['hub']}/hub/api/", hub_proc, hub_log, "JupyterHub")
        url = f"http://127.0.0.1:{ports['public']}"
        # the hub registers its own route with the proxy; wait until it is served there
        _wait_for(url + "/hub/api/", hub_proc, hub_log, "JupyterHub through the proxy", 30)
        yield url, values, hub_log
    finally:
        if hub_proc is not None:
            _stop(hub_proc)
        _stop(proxy)


@pytest.fixture(scope="session")
def hub(tmp_path_factory) -> Hub:
    """The hub with this tier's own LTI 1.3 test platform (test/hub/lti_platform.py), which
    can sign forgeries; LMS-side behaviour is proven with lms_hub."""
    tmp = tmp_path_factory.mktemp("hub")
    platform = Lti13Platform(ISSUER, CLIENT_ID, DEPLOYMENT_ID)
    try:
        with running_hub(tmp, lambda ports: stack_document(ports, platform)) as (url, values, log):
            yield Hub(
                url=url, tmp=tmp, log=log, api_token=values["test-inspector"], secrets=values,
                lti11=Lti11Consumer(url + "/hub/lti/launch", values[SECRET_FILES["lti11_consumer_key"]],
                                    values[SECRET_FILES["lti11_shared_secret"]]),
                lti13=platform,
            )
    finally:
        platform.close()


@dataclass
class LmsHub:
    """A hub whose LMS is code this project did not write: an lti1p3platform platform (launches,
    strict token endpoint, AGS) and an `lti` consumer (launches, Basic Outcomes), test/peers/."""

    url: str
    tmp: Path
    log: Path
    secrets: dict
    platform: object  # test/peers/lti13_platform.Lti13Platform
    consumer: object  # test/peers/lti11_consumer.Lti11Consumer

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")


@pytest.fixture(scope="session")
def lms_hub(tmp_path_factory) -> LmsHub:
    from lti11_consumer import Lti11Consumer as PeerConsumer
    from lti13_platform import AGS_SCOPES, NRPS_SCOPE
    from lti13_platform import Lti13Platform as PeerPlatform

    tmp = tmp_path_factory.mktemp("lms-hub")
    platform = PeerPlatform(issuer=ISSUER, client_id=CLIENT_ID, deployment_id=DEPLOYMENT_ID,
                            offered_scopes=(*AGS_SCOPES, NRPS_SCOPE)).start()
    consumer = None
    try:
        def make_stack(ports: dict) -> dict:
            doc = stack_document(ports, platform)
            doc["lti13"]["platforms"][0]["token_url"] = platform.token_url
            return doc

        with running_hub(tmp, make_stack) as (url, values, log):
            platform.register_tool(tool_url=url)
            consumer = PeerConsumer(values[SECRET_FILES["lti11_consumer_key"]], values[SECRET_FILES["lti11_shared_secret"]]).start()
            yield LmsHub(url=url, tmp=tmp, log=log, secrets=values, platform=platform, consumer=consumer)
    finally:
        if consumer is not None:
            consumer.close()
        platform.close()


def record_forgery(name: str, status: int, reason: str = ""):
    FORGERIES.append((name, status, reason))


def pytest_terminal_summary(terminalreporter):
    if FORGERIES:
        terminalreporter.section("forged launches and the status each got")
        for name, status, reason in FORGERIES:
            terminalreporter.write_line(f"{status}  {name}" + (f"  ({reason})" if reason else ""))


def login_cookie(session: requests.Session) -> bool:
    return any(c.name == "jupyterhub-hub-login" for c in session.cookies)
