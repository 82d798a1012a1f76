"""Load and validate ``stack.json`` and the secrets directory (images/CONTRACT.md).

stack.json is checked against the JSON Schema the constructs generate (``contract.json``), so
the hub refuses at start, naming the field, anything the constructs could not have written.
The dataclasses below mirror that schema field for field (a test compares them).
"""

from __future__ import annotations

import dataclasses
import json
import os
import types
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonschema
from docker.types import DriverConfig, Mount

from .contract import BUILT_IN_SERVICES, PATHS, SECRET_FILES, STACK_SCHEMA, VERSION

_VALIDATOR = jsonschema.Draft202012Validator(STACK_SCHEMA)


class StackError(ValueError):
    """stack.json or the secrets directory does not match the contract."""


@dataclass(frozen=True)
class CourseLimits:
    memory_bytes: int
    cpus: float


@dataclass(frozen=True)
class Session:
    """A weekly session start: weekday 0 (Monday) to 6, hour and minute in the course's zone."""
    weekday: int
    hour: int
    minute: int


@dataclass(frozen=True)
class Prewarm:
    """When the known students' servers start ahead of the course's sessions (prewarm.py)."""
    sessions: tuple[Session, ...]
    timezone: str
    lead_seconds: int
    concurrency: int


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
    grade_passback: bool
    server_name: str
    limits: CourseLimits
    idle_cull_seconds: int
    prewarm: Prewarm | None
    grader_user: str
    oauth_client_id: str
    service_token_file: str

    @property
    def student_group(self) -> str:
        return f"nbgrader-{self.id}"

    @property
    def instructor_group(self) -> str:
        return f"formgrade-{self.id}"

    @property
    def images(self) -> tuple[str, ...]:
        """Every image a launch into this course may run, the default first."""
        return (self.image,) + tuple(i for i in self.allowed_images if i != self.image)


@dataclass(frozen=True)
class Docker:
    network: str
    exchange_volume: str
    server_name_template: str
    home_volume_template: str
    legacy_home_volume_template: str


@dataclass(frozen=True)
class Nfs:
    address: str
    path: str
    options: str


@dataclass(frozen=True)
class Swarm:
    """engine "swarm": user servers are services; their files live on the shared storage, a
    filesystem mounted at ``shared_root`` on every node or NFS volumes (``nfs``)."""

    shared_root: str | None
    nfs: Nfs | None
    environment_dir: str
    endpoint_mode: str
    constraints: tuple[str, ...]

    def node_path(self, *parts: str) -> str:
        """A path of the environment's directory as every node sees it (bind mount sources)."""
        return "/".join((self.shared_root or "", self.environment_dir, *parts))

    def mount(self, target: str, *parts: str, read_only: bool = False) -> Mount:
        """The environment's ``parts`` directory at ``target``: a bind mount, or an NFS volume of
        the local driver named after it (each node's engine mounts it when the task starts)."""
        if self.nfs is None:
            return Mount(target=target, source=self.node_path(*parts), type="bind", read_only=read_only)
        options = {"type": "nfs", "o": f"addr={self.nfs.address},{self.nfs.options}",
                   "device": ":" + "/".join((self.nfs.path, self.environment_dir, *parts))}
        # "--" between the parts (no course id, server name or escaped user name contains it):
        # two directories never share a volume name, whose first definition a node would keep.
        name = f"{self.environment_dir}-nfs-" + "--".join(parts)
        return Mount(target=target, source=name, type="volume", read_only=read_only, driver_config=DriverConfig("local", options))

    def hub_path(self, *parts: str) -> str:
        """The same path inside the hub, which mounts the shared root at paths.hub_shared_root."""
        return "/".join((PATHS["hub_shared_root"], self.environment_dir, *parts))


@dataclass(frozen=True)
class Lti11:
    enabled: bool


@dataclass(frozen=True)
class SigningKeyRef:
    name: str
    secret_file: str


@dataclass(frozen=True)
class Lti13Platform:
    """One LTI 1.3 platform registration: an issuer and the client ids it issued for this tool."""

    issuer: str
    client_ids: tuple[str, ...]
    authorize_url: str
    jwks_url: str
    deployment_ids: tuple[str, ...]  # empty: any
    token_url: str | None  # None: no grade passback over LTI 1.3

    def accepts_deployment(self, deployment_id: str | None) -> bool:
        return not self.deployment_ids or deployment_id in self.deployment_ids


@dataclass(frozen=True)
class Lti13:
    enabled: bool
    platforms: tuple[Lti13Platform, ...]
    dynamic_registration: bool
    signing_keys: tuple[SigningKeyRef, ...]

    def platform(self, issuer: str | None, client_id: str | None = None) -> Lti13Platform | None:
        """The platform of an issuer and client id; without a client id, the issuer's only
        registration (None when it has several, or none)."""
        mine = [p for p in self.platforms if p.issuer == issuer]
        if client_id is None:
            return mine[0] if len(mine) == 1 else None
        return next((p for p in mine if client_id in p.client_ids), None)


@dataclass(frozen=True)
class DemoLauncher:
    url: str
    client_id: str
    deployment_id: str
    https_port: int
    jwks_port: int
    platform_key_file: str
    tls_certificate_file: str
    tls_key_file: str


@dataclass(frozen=True)
class Limits:
    servers_per_user: int


@dataclass(frozen=True)
class Stack:
    schema_version: int
    environment: str
    public_url: str
    hub_bind_url: str
    hub_connect_url: str
    proxy_api_url: str
    docker: Docker
    lti11: Lti11
    lti13: Lti13
    frame_ancestors: tuple[str, ...]
    demo_launcher: DemoLauncher | None
    swarm: Swarm | None
    limits: Limits
    idle_cull_seconds: int
    courses: tuple[Course, ...]

    @property
    def lti11_enabled(self) -> bool:
        return self.lti11.enabled

    @property
    def reserved_usernames(self) -> set[str]:
        return {c.grader_user for c in self.courses}

    def course(self, course_id: str | None) -> Course | None:
        return next((c for c in self.courses if c.id == course_id), None)

    def course_for_server(self, server_name: str) -> Course | None:
        """The course whose servers carry this JupyterHub server name."""
        return next((c for c in self.courses if c.server_name == server_name), None)

    def course_for_context(self, context_id: str | None) -> Course | None:
        """The declared course of an LMS context (matched on the opaque id only:
        labels are chosen by instructors and are not unique, so they must not grant roles)."""
        if not context_id:
            return None
        return next((c for c in self.courses if context_id in c.context_ids), None)


def _field_path(path: typing.Iterable[Any]) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def _build(cls: type, data: Any) -> Any:
    """A dataclass (nested ones and tuples included) from schema-valid data."""
    hints = typing.get_type_hints(cls)
    values = {}
    for f in dataclasses.fields(cls):
        hint, value = hints[f.name], data[f.name]
        optional = [a for a in typing.get_args(hint) if dataclasses.is_dataclass(a)] if typing.get_origin(hint) in (typing.Union, types.UnionType) else []
        if dataclasses.is_dataclass(hint):
            value = _build(hint, value)
        elif optional:  # X | None
            value = None if value is None else _build(optional[0], value)
        elif typing.get_origin(hint) is tuple:
            item = typing.get_args(hint)[0]
            value = tuple(_build(item, v) if dataclasses.is_dataclass(item) else v for v in value)
        elif hint is float:
            value = float(value)
        values[f.name] = value
    return cls(**values)


def parse_stack(data: Any) -> Stack:
    """Validate the decoded stack.json; raise StackError naming the field at fault."""
    if isinstance(data, dict) and data.get("schema_version") != VERSION:
        raise StackError(
            f"schema_version: this hub image reads stack.json version {VERSION}, got {data.get('schema_version')!r}; "
            "deploy the hub image and stack.json from the same release"
        )
    error = jsonschema.exceptions.best_match(_VALIDATOR.iter_errors(data))
    if error is not None:
        raise StackError(f"{_field_path(error.absolute_path)}: {error.message}")
    stack = _build(Stack, data)
    if not (stack.lti11.enabled or stack.lti13.enabled):
        raise StackError("lti11.enabled / lti13.enabled: enable at least one LTI version")
    _check_unique(stack.courses)
    _check_platforms(stack.lti13.platforms)
    return stack


def _check_platforms(platforms: tuple[Lti13Platform, ...]) -> None:
    seen: set[tuple[str, str]] = set()
    for i, p in enumerate(platforms):
        for client_id in p.client_ids:
            if (p.issuer, client_id) in seen:
                raise StackError(f"lti13.platforms[{i}].client_ids: issuer {p.issuer} with client id {client_id!r} is listed twice")
            seen.add((p.issuer, client_id))


def _check_unique(courses: tuple[Course, ...]) -> None:
    seen_ids: set[str] = set()
    servers: set[str] = set()
    owner: dict[str, str] = {}
    for i, course in enumerate(courses):
        if course.id in seen_ids:
            raise StackError(f"courses[{i}].id: duplicate course id {course.id!r}")
        if course.server_name in servers:
            raise StackError(f"courses[{i}].server_name: {course.server_name!r} is another course's server name")
        servers.add(course.server_name)
        if course.id in BUILT_IN_SERVICES.values():
            raise StackError(f"courses[{i}].id: {course.id!r} is the name of a built-in service")
        seen_ids.add(course.id)
        for ctx in course.context_ids:
            if ctx in owner:
                raise StackError(
                    f"courses[{i}].context_ids: context {ctx!r} is already mapped to course {owner[ctx]!r}"
                )
            owner[ctx] = course.id


def stack_path(path: str | os.PathLike | None = None) -> Path:
    """The stack.json to read: the given path, else $JHLTI_STACK_FILE, else the contract's."""
    return Path(path or os.environ.get("JHLTI_STACK_FILE") or PATHS["hub_stack_file"])


def load_stack(path: str | os.PathLike | None = None) -> Stack:
    path = stack_path(path)
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as e:
        raise StackError(f"{path}: cannot read stack file: {e}") from e
    try:
        return parse_stack(data)
    except StackError as e:
        raise StackError(f"{path}: {e}") from None


def required_secrets(stack: Stack) -> list[str]:
    names = [SECRET_FILES["cookie_secret"], SECRET_FILES["crypt_key"], SECRET_FILES["proxy_token"],
             SECRET_FILES["idle_culler_token"]]
    if stack.lti11.enabled:
        names += [SECRET_FILES["lti11_consumer_key"], SECRET_FILES["lti11_shared_secret"]]
    names += [c.service_token_file for c in stack.courses]
    return names


def signing_key_files(stack: Stack) -> list[str]:
    """The PEM files of the tool's signing keys (read by keys.load_signing_keys)."""
    return [k.secret_file for k in stack.lti13.signing_keys]


def load_secrets(stack: Stack, directory: str | os.PathLike | None = None) -> dict[str, str]:
    """Read the secret files the stack needs, keyed by file name; each is one hex string."""
    directory = Path(directory or os.environ.get("JHLTI_SECRETS_DIR") or PATHS["hub_secrets_dir"])
    secrets = {}
    for name in required_secrets(stack):
        try:
            value = (directory / name).read_text().strip()
        except OSError as e:
            raise StackError(f"secret {name!r}: cannot read {directory / name}: {e.strerror}") from e
        if not value:
            raise StackError(f"secret {name!r}: {directory / name} is empty")
        secrets[name] = value
    for key in ("cookie_secret", "crypt_key"):
        name = SECRET_FILES[key]
        try:
            if len(bytes.fromhex(secrets[name])) != 32:
                raise ValueError
        except ValueError:
            raise StackError(f"secret {name!r}: expected 32 bytes as 64 hex digits") from None
    return secrets
