"""Load and validate ``stack.json`` and the secrets directory (see images/CONTRACT.md)."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any
import json

DEFAULT_STACK_FILE = "/srv/jupyterhub/stack.json"
DEFAULT_SECRETS_DIR = "/srv/jupyterhub/secrets"
SCHEMA_VERSION = 1
# Course ids become group names (nbgrader-<id>), service names and URL path segments.
COURSE_ID = re.compile(r"^[a-z0-9][a-z0-9_]*(?:-[a-z0-9_]+)*$")


class StackError(ValueError):
    """stack.json or the secrets directory does not match the contract."""


@dataclass(frozen=True)
class Course:
    id: str
    title: str
    context_ids: tuple[str, ...]
    image: str
    allowed_images: tuple[str, ...]
    volume: str
    grader_url: str
    grader_uid: int

    @property
    def student_group(self) -> str:
        return f"nbgrader-{self.id}"

    @property
    def instructor_group(self) -> str:
        return f"formgrade-{self.id}"

    @property
    def grader_user(self) -> str:
        """The hub user the formgrader acts as (nbgrader's JupyterHub plugin looks up its groups)."""
        return f"grader-{self.id}"

    @property
    def images(self) -> tuple[str, ...]:
        """Every image a launch into this course may run, the default first."""
        return (self.image,) + tuple(i for i in self.allowed_images if i != self.image)


@dataclass(frozen=True)
class Lti13:
    enabled: bool
    issuer: str | None
    client_ids: tuple[str, ...]
    authorize_url: str | None
    jwks_url: str | None
    deployment_ids: tuple[str, ...]


@dataclass(frozen=True)
class Stack:
    environment: str
    public_url: str
    name_prefix: str
    hub_bind_url: str
    hub_connect_url: str
    proxy_api_url: str
    docker_network: str
    exchange_volume: str
    uid_base: int
    lti11_enabled: bool
    lti13: Lti13
    frame_ancestors: tuple[str, ...]
    memory_bytes: int
    cpus: float
    idle_cull_seconds: int
    courses: tuple[Course, ...]

    @property
    def reserved_usernames(self) -> set[str]:
        return {c.grader_user for c in self.courses}

    def course(self, course_id: str | None) -> Course | None:
        return next((c for c in self.courses if c.id == course_id), None)

    def course_for_context(self, context_id: str | None) -> Course | None:
        """The declared course of an LMS context (matched on the opaque id only:
        labels are chosen by instructors and are not unique, so they must not grant roles)."""
        if not context_id:
            return None
        return next((c for c in self.courses if context_id in c.context_ids), None)


class _Reader:
    """Typed field access that reports the JSON path of a bad value."""

    def __init__(self, data: Any, path: str):
        if not isinstance(data, dict):
            raise StackError(f"{path or 'stack.json'}: expected an object, got {data!r}")
        self.data, self.path = data, path

    def _get(self, key: str, types: tuple[type, ...], optional: bool = False):
        where = f"{self.path}.{key}" if self.path else key
        if key not in self.data:
            if optional:
                return None
            raise StackError(f"{where}: missing")
        value = self.data[key]
        if value is None and optional:
            return None
        if isinstance(value, bool) and bool not in types:
            raise StackError(f"{where}: expected {types[0].__name__}, got {value!r}")
        if not isinstance(value, types):
            raise StackError(f"{where}: expected {types[0].__name__}, got {value!r}")
        return value

    def str(self, key, optional=False) -> str | None:
        value = self._get(key, (str,), optional)
        if value == "" and not optional:
            raise StackError(f"{self.path}.{key}: must not be empty".lstrip("."))
        return value

    def int(self, key) -> int:
        return self._get(key, (int,))

    def number(self, key) -> float:
        return float(self._get(key, (int, float)))

    def bool(self, key) -> bool:
        return self._get(key, (bool,))

    def strings(self, key) -> tuple[str, ...]:
        values = self._get(key, (list,))
        for i, v in enumerate(values):
            if not isinstance(v, str) or not v:
                raise StackError(f"{self.path}.{key}[{i}]: expected a non-empty string, got {v!r}".lstrip("."))
        return tuple(values)

    def obj(self, key) -> "_Reader":
        return _Reader(self._get(key, (dict,)), f"{self.path}.{key}".lstrip("."))


def parse_stack(data: Any) -> Stack:
    """Validate the decoded stack.json; raise StackError naming the field at fault."""
    top = _Reader(data, "")
    version = top.int("schema_version")
    if version != SCHEMA_VERSION:
        raise StackError(f"schema_version: this hub image reads version {SCHEMA_VERSION}, got {version!r}")
    lti13_in = top.obj("lti13")
    lti13 = Lti13(
        enabled=lti13_in.bool("enabled"),
        issuer=lti13_in.str("issuer", optional=True),
        client_ids=lti13_in.strings("client_ids"),
        authorize_url=lti13_in.str("authorize_url", optional=True),
        jwks_url=lti13_in.str("jwks_url", optional=True),
        deployment_ids=lti13_in.strings("deployment_ids"),
    )
    if lti13.enabled:
        for field in ("issuer", "authorize_url", "jwks_url"):
            if not getattr(lti13, field):
                raise StackError(f"lti13.{field}: required when lti13.enabled is true")
        if not lti13.client_ids:
            raise StackError("lti13.client_ids: at least one client id is required when lti13.enabled is true")
    limits = top.obj("limits")
    stack = Stack(
        environment=top.str("environment"),
        public_url=top.str("public_url"),
        name_prefix=top.str("name_prefix"),
        hub_bind_url=top.str("hub_bind_url"),
        hub_connect_url=top.str("hub_connect_url"),
        proxy_api_url=top.str("proxy_api_url"),
        docker_network=top.str("docker_network"),
        exchange_volume=top.str("exchange_volume"),
        uid_base=top.int("uid_base"),
        lti11_enabled=top.obj("lti11").bool("enabled"),
        lti13=lti13,
        frame_ancestors=top.strings("frame_ancestors"),
        memory_bytes=limits.int("memory_bytes"),
        cpus=limits.number("cpus"),
        idle_cull_seconds=top.int("idle_cull_seconds"),
        courses=tuple(_parse_course(c, f"courses[{i}]") for i, c in enumerate(top._get("courses", (list,)))),
    )
    if not (stack.lti11_enabled or lti13.enabled):
        raise StackError("lti11.enabled / lti13.enabled: enable at least one LTI version")
    if stack.uid_base < 1001:
        raise StackError(f"uid_base: must be above the image users' uids (> 1000), got {stack.uid_base}")
    for i, course in enumerate(stack.courses):
        if not 1000 < course.grader_uid < stack.uid_base:
            raise StackError(
                f"courses[{i}].grader_uid: must be above 1000 and below uid_base ({stack.uid_base}) "
                f"so it never equals a user's uid, got {course.grader_uid}"
            )
    _check_unique(stack.courses)
    return stack


def _parse_course(data: Any, path: str) -> Course:
    r = _Reader(data, path)
    course = Course(
        id=r.str("id"),
        title=r.str("title"),
        context_ids=r.strings("context_ids"),
        image=r.str("image"),
        allowed_images=r.strings("allowed_images"),
        volume=r.str("volume"),
        grader_url=r.str("grader_url"),
        grader_uid=r.int("grader_uid"),
    )
    if not COURSE_ID.match(course.id):
        raise StackError(f"{path}.id: {course.id!r} must be lower-case letters, digits, '_' and single '-'")
    if "*" in course.allowed_images:
        raise StackError(f"{path}.allowed_images: '*' is not allowed, list the images a launch may choose")
    return course


def _check_unique(courses: tuple[Course, ...]) -> None:
    seen_ids: set[str] = set()
    owner: dict[str, str] = {}
    for i, course in enumerate(courses):
        if course.id in seen_ids:
            raise StackError(f"courses[{i}].id: duplicate course id {course.id!r}")
        seen_ids.add(course.id)
        for ctx in course.context_ids:
            if ctx in owner:
                raise StackError(
                    f"courses[{i}].context_ids: context {ctx!r} is already mapped to course {owner[ctx]!r}"
                )
            owner[ctx] = course.id


def load_stack(path: str | os.PathLike | None = None) -> Stack:
    path = Path(path or os.environ.get("JHLTI_STACK_FILE") or DEFAULT_STACK_FILE)
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as e:
        raise StackError(f"{path}: cannot read stack file: {e}") from e
    return parse_stack(data)


def required_secrets(stack: Stack) -> list[str]:
    names = ["cookie_secret", "crypt_key", "proxy_token"]
    if stack.lti11_enabled:
        names += ["lti11_consumer_key", "lti11_shared_secret"]
    if stack.idle_cull_seconds > 0:
        names.append("service-token-idle-culler")
    names += [f"service-token-{c.id}" for c in stack.courses]
    return names


def load_secrets(stack: Stack, directory: str | os.PathLike | None = None) -> dict[str, str]:
    """Read the secret files the stack needs; each is one hex string."""
    directory = Path(directory or os.environ.get("JHLTI_SECRETS_DIR") or DEFAULT_SECRETS_DIR)
    secrets = {}
    for name in required_secrets(stack):
        try:
            value = (directory / name).read_text().strip()
        except OSError as e:
            raise StackError(f"secret {name!r}: cannot read {directory / name}: {e.strerror}") from e
        if not value:
            raise StackError(f"secret {name!r}: {directory / name} is empty")
        secrets[name] = value
    for name in ("cookie_secret", "crypt_key"):
        try:
            if len(bytes.fromhex(secrets[name])) != 32:
                raise ValueError
        except ValueError:
            raise StackError(f"secret {name!r}: expected 32 bytes as 64 hex digits") from None
    return secrets
