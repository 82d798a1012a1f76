"""The e2e tier's stack config: one environment `e2e` on https://localhost:18443 (loopback only),
LTI 1.1 and LTI 1.3 on, embedded in the LMS page (iframe mode), courses on the local stand-in
base images (JHLTI_BASE_IMAGES=local); physics is taught in R as well (kernels python and r, on
the R stand-in).

The LMS is a container on the stack's users network (test/peers: an lti1p3platform platform and
an `lti` consumer), so its URLs use the container name, and the hub trusts the test CA that
signed its certificate."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

ENV = "e2e"
PREFIX = f"jhlti-{ENV}"
HOSTNAME = "localhost"
PORT = 18443
PUBLIC_URL = f"https://{HOSTNAME}:{PORT}"
PLATFORM_HOST = f"{PREFIX}-platform"
PLATFORM_URL = f"https://{PLATFORM_HOST}"
# Where the browser reaches the LMS container (published on loopback; the browser maps the
# name to 127.0.0.1): its authorization endpoint and the course pages that embed the hub.
LMS_PORT = 18444
LMS_BROWSER_URL = f"https://{PLATFORM_HOST}:{LMS_PORT}"
LTI13_ISSUER = PLATFORM_URL
LTI13_CLIENT_ID = "e2e-client-1"
LTI13_DEPLOYMENT_ID = "e2e-deployment-1"


@dataclass(frozen=True)
class Course:
    id: str
    title: str
    context: str
    grade_passback: bool = False
    limits: dict | None = None  # the course's own server limits (else the environment's)
    idle_cull_seconds: int | None = None
    kernels: tuple[str, ...] = ()  # the config's default (python) when empty


COURSES = [
    Course("algebra", "Linear Algebra (e2e)", "ctx-e2e-algebra", grade_passback=True),
    Course("physics", "Physics Lab (e2e)", "ctx-e2e-physics", limits={"memory": "768M", "cpus": 0.5}, idle_cull_seconds=900,
           kernels=("python", "r")),
]
ADDED_COURSE = Course("chem101", "Chemistry (e2e, added later)", "ctx-e2e-chem101")


def config(courses: list[Course], *, idle_cull_seconds: int, platform_ca: Path, platforms: list[dict] | None = None) -> dict:
    return {
        "version": 1,
        "environments": [
            {
                "name": ENV,
                "hostname": HOSTNAME,
                "port": PORT,
                "bindAddress": "127.0.0.1",
                "lti11": {"enabled": True},
                "lti13": {
                    "enabled": True,
                    "issuer": LTI13_ISSUER,
                    "clientIds": [LTI13_CLIENT_ID],
                    "authorizeUrl": f"{LMS_BROWSER_URL}/authorize",
                    "jwksUrl": f"{PLATFORM_URL}/jwks",
                    "tokenUrl": f"{PLATFORM_URL}/token",
                    "deploymentIds": [LTI13_DEPLOYMENT_ID],
                    "platformCaBundle": str(platform_ca),
                    # test_registration.py registers the LMS a second time (LTI Dynamic Registration)
                    # and adds the entry the hub prints here.
                    "dynamicRegistration": True,
                    "platforms": list(platforms or []),
                },
                # The LMS course page embeds the hub (test_e2e.py step 2c, in a real browser).
                "embedding": {"mode": "iframe", "allowedOrigins": [LMS_BROWSER_URL]},
                "limits": {"memory": "1G", "cpus": 1},
                "idleCullSeconds": idle_cull_seconds,
                "courses": [course_config(c) for c in courses],
            }
        ],
    }


def course_config(c: Course) -> dict:
    config = {"id": c.id, "title": c.title, "contexts": [c.context], "gradePassback": c.grade_passback}
    if c.limits:
        config["limits"] = c.limits
    if c.idle_cull_seconds:
        config["idleCullSeconds"] = c.idle_cull_seconds
    if c.kernels:
        config["kernels"] = list(c.kernels)
    return config


def write_config(path: Path, courses: list[Course], *, idle_cull_seconds: int, platform_ca: Path,
                 platforms: list[dict] | None = None) -> Path:
    """JSON is valid YAML; the stack's loader reads either."""
    doc = config(courses, idle_cull_seconds=idle_cull_seconds, platform_ca=platform_ca, platforms=platforms)
    path.write_text(json.dumps(doc, indent=2) + "\n")
    return path
