"""End-to-end tier: deploys the `e2e` environment on the local Docker engine with the real
cdktf CLI and Terraform, then drives it like an LMS, a browser and a terminal would.

    .venv/bin/python -m pytest test/e2e -q -x

Needs the offline toolchain (bin/setup/all.sh): a Docker engine, the stand-in base images,
TERRAFORM_BINARY_NAME and TF_CLI_CONFIG_FILE in the environment. A missing prerequisite fails
the tier. Everything of a previous run (containers, networks and volumes named jhlti-e2e-*,
.gen/e2e) is removed first, and again after a failure (JHLTI_E2E_KEEP=1 keeps a failed stack
for debugging). Only loopback and the stack's own containers are contacted."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import requests

sys.dont_write_bytecode = True  # keep test/hub (imported from here) free of __pycache__
sys.path.insert(0, str(Path(__file__).parent))

import harness  # noqa: E402
from harness import TIMINGS, WORK_DIR, Stack, prerequisite_problems, say, wipe_everything  # noqa: E402
from certs import make_test_ca  # noqa: E402
from stack_config import (COURSES, LMS_BROWSER_URL, LMS_PORT, LTI13_CLIENT_ID, LTI13_DEPLOYMENT_ID,  # noqa: E402
                          LTI13_ISSUER, PLATFORM_HOST, PREFIX, PUBLIC_URL, Course, write_config)

sys.path.append(str(harness.ROOT / "test" / "peers"))
from lti13_platform import AGS_SCOPES, NRPS_SCOPE  # noqa: E402
from peer_container import PeerClient, PeerContainer  # noqa: E402


@dataclass
class User:
    name: str
    course: str
    role: str  # "instructor" | "student"
    protocol: str  # "lti11" | "lti13"
    session: requests.Session = None  # the user's browser
    server: str = ""  # the course's server name
    container: str = ""
    uid: int = 0
    launch_to_ready: float = 0.0


@dataclass
class E2E:
    """What the steps share: the stack, its config knobs, the LMS and the users."""

    stack: Stack
    platform_ca: Path
    lms_container: PeerContainer | None = None
    lms: PeerClient | None = None  # the LMS: lms.lti13 (platform), lms.lti11 (consumer)
    cert_file: Path = WORK_DIR / "proxy-cert.pem"
    courses: list[Course] = field(default_factory=lambda: list(COURSES))
    idle_cull_seconds: int = 3600
    users: dict[str, User] = field(default_factory=dict)
    platforms: list[dict] = field(default_factory=list)  # lti13.platforms beyond the first
    facts: dict = field(default_factory=dict)  # results one step leaves for later ones

    def start_lms(self, network: str) -> None:
        """The LMS peers in a container on the users network; the LTI 1.1 consumer gets the key
        and secret of the deployed stack, the platform fetches the tool's keyset from the hub."""
        directory = self.platform_ca.parent
        self.lms_container = PeerContainer(
            name=PLATFORM_HOST, network=network, tls_cert=directory / "tls.crt", tls_key=directory / "tls.key",
            ca_bundle=self.platform_ca,
            lti13=dict(issuer=LTI13_ISSUER, client_id=LTI13_CLIENT_ID, deployment_id=LTI13_DEPLOYMENT_ID,
                       tool_url=PUBLIC_URL, tool_jwks_url=f"http://{PREFIX}-hub:8081/hub/lti13/jwks",
                       browser_url=LMS_BROWSER_URL,
                       # grades (AGS) and the course roster (NRPS: pre-warm, test_roster.py)
                       offered_scopes=[*AGS_SCOPES, NRPS_SCOPE]),
            lti11=dict(key=self.stack.output("lti11_consumer_key"), secret=self.stack.output("lti11_shared_secret")),
            host_port=LMS_PORT,
        )
        self.lms = self.lms_container.start(log=say)

    def stop_lms(self) -> None:
        if self.lms_container is not None:
            self.lms_container.stop()
        self.lms = None

    def write_config(self) -> None:
        write_config(self.stack.config_file, self.courses, idle_cull_seconds=self.idle_cull_seconds,
                     platform_ca=self.platform_ca, platforms=self.platforms)

    def browser(self) -> requests.Session:
        session = requests.Session()
        session.verify = str(self.cert_file)  # exactly the stack's certificate, nothing else
        session.trust_env = False  # no proxies or CA bundles from the environment: loopback only
        return session

    def url(self, path: str) -> str:
        return PUBLIC_URL + path


_failed = False


def pytest_configure(config):
    config.addinivalue_line("markers", "during_class: a step of another file that needs the class of test_e2e.py "
                                       f"in session; runs right before {DURING_CLASS_UNTIL}")
    # Progress goes straight to the terminal, also under -q and output capture.
    capman = config.pluginmanager.getplugin("capturemanager")

    def printer(message: str) -> None:
        if capman is None:
            print(message, flush=True)
            return
        with capman.global_and_fixture_disabled():
            sys.stdout.write(message + "\n")
            sys.stdout.flush()

    harness.PRINT = printer


# test_e2e.py ends with destroy and purge, so a step of another file that needs its class in
# session (deployed, users launched, servers running) is marked `during_class` and runs after its
# last step that changes the class and before the destroy.
DURING_CLASS_UNTIL = "test_7_destroy_keeps_data"


def pytest_collection_modifyitems(config, items):
    during = [item for item in items if item.get_closest_marker("during_class")]
    rest = [item for item in items if not item.get_closest_marker("during_class")]
    at = next((i for i, item in enumerate(rest) if item.name == DURING_CLASS_UNTIL), None)
    if during and at is not None:
        items[:] = rest[:at] + during + rest[at:]


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    global _failed
    outcome = yield
    if outcome.get_result().failed:
        _failed = True


@pytest.fixture(scope="session")
def e2e() -> E2E:
    problems = prerequisite_problems()
    if problems:
        pytest.fail("e2e prerequisites missing:\n  - " + "\n  - ".join(problems), pytrace=False)
    with harness.timed("cleanup of any earlier e2e stack"):
        wipe_everything()
        WORK_DIR.mkdir(parents=True)
    ca = make_test_ca(WORK_DIR / "platform")
    run = E2E(stack=Stack(WORK_DIR / "config.json"), platform_ca=ca)
    run.write_config()
    try:
        yield run
    finally:
        if _failed and os.environ.get("JHLTI_E2E_KEEP") == "1":
            say(f"\nJHLTI_E2E_KEEP=1: leaving the failed e2e stack in place ({WORK_DIR})")
        else:
            with harness.timed("final cleanup"):
                run.stop_lms()
                wipe_everything(keep_work_dir=not _failed)


def pytest_terminal_summary(terminalreporter):
    if not TIMINGS:
        return
    terminalreporter.section("e2e step timings")
    for name, seconds, step in TIMINGS:
        terminalreporter.write_line(f"{seconds:8.1f} s  {'' if step else '    '}{name}")
    terminalreporter.write_line(f"{sum(s for _, s, step in TIMINGS if step):8.1f} s  total of the steps")
