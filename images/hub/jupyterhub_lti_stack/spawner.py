"""One server per (user, course): JupyterHub named servers, each from its course.

A course's servers carry the course's server name (stack.json `courses[].server_name`, derived
from the course id by the constructs), so the server a launch opens decides the course: its
image (and the per-launch images it allows), its own home volume, its limits and idle timeout.
A student in two courses runs two servers at once; neither ever starts from the other's image.
"""

from __future__ import annotations

import asyncio
import os
import time

from dockerspawner import DockerSpawner, SwarmSpawner
from tornado.httpclient import AsyncHTTPClient, HTTPClientError
from tornado.web import HTTPError
from traitlets import Float, Instance, Unicode
from traitlets.config import LoggingConfigurable

from .contract import CONTAINER_ENV, PATHS, SHARED_LAYOUT, UID_BASE
from .launch import choose_image
from .stack import Course, Stack, Swarm
from .uidmap import record_uid

# A user server runs no container health check. docker-stacks images declare one (a Python
# process, with requests and jupyter_core imported, every few seconds in every server): with a
# class of servers running that is a steady share of the host's CPU for a status no part of the
# stack reads (the hub checks its servers over HTTP). The course image turns it off as well.
NO_HEALTHCHECK = {"Test": ["NONE"]}  # the Docker API's form: create_container and a service's ContainerSpec take it as is


class CourseSpawnerMixin(LoggingConfigurable):
    """Course, image, limits and Unix uid of a course server, decided at spawn time.

    The server's name names the course; the user must be a member of it (the launch from that
    course put them in its group), and a launch's requested image is honoured only for the course
    it came from and only from that course's allow-list (re-checked here against the current
    stack). Every user gets uid ``UID_BASE + user.id`` in all their servers: nbgrader's exchange
    relies on Unix permissions, which only isolate students whose uids differ; before a server
    starts, the uid is recorded in the uid map the course graders check submission owners against.
    """

    stack = Instance(Stack, config=True, help="The parsed stack.json")
    uid_map_dir = Unicode(
        PATHS["hub_uid_map_dir"], config=True,
        help="Directory of the username -> uid map (uids.json) the graders read (the uid-map volume)",
    )

    course: Course | None = None
    course_image: str | None = None

    @property
    def course_id(self) -> str | None:
        return self.course.id if self.course else None

    @property
    def nb_uid(self) -> int:
        return UID_BASE + self.user.id

    async def resolve_course(self) -> None:
        if not self.name:
            raise HTTPError(
                404, "Each course has its own server here: open JupyterHub from your course in the LMS."
            )
        course = self.stack.course_for_server(self.name)
        if course is None:
            raise HTTPError(404, f"No course on this hub has the server {self.name!r}.")
        if course.student_group not in {g.name for g in self.user.groups}:
            raise HTTPError(
                403, f"You are not in {course.title}: open it from the course in the LMS first."
            )
        auth_state = await self.user.get_auth_state() or {}
        launch = auth_state.get("jhlti") or {}
        requested = launch.get("requested_image") if launch.get("course") == course.id else None
        self.course = course
        self.course_image = choose_image(course, requested)
        self.mem_limit = course.limits.memory_bytes
        self.cpu_limit = course.limits.cpus

    def check_server_cap(self) -> None:
        """A user's course servers running at once are capped (limits.serversPerUser)."""
        cap = self.stack.limits.servers_per_user
        running = sorted(name for name, s in self.user.spawners.items() if s is not self and s.active)
        if len(running) >= cap:
            raise HTTPError(
                429,
                f"You already run {len(running)} course servers ({', '.join(running)}); at most {cap} at once. "
                "Stop one on the hub's home page, then open this course again.",
            )

    def record_uid(self) -> None:
        """Before the server starts: nothing the user submits can be collected without it."""
        if record_uid(self.uid_map_dir, self.user.name, self.nb_uid):
            self.log.info("uid map: %s -> %d", self.user.name, self.nb_uid)

    def get_args(self):
        """The course's idle timeout, kept by the server itself (the hub's culler is the backstop)."""
        timeout = self.course.idle_cull_seconds if self.course else 0
        extra = [
            f"--ServerApp.shutdown_no_activity_timeout={timeout}",
            f"--MappingKernelManager.cull_idle_timeout={timeout}",
            "--MappingKernelManager.cull_interval=60",
        ] if timeout else []
        return super().get_args() + extra

    def get_env(self):
        env = super().get_env()
        env.update({"NB_UID": str(self.nb_uid), CONTAINER_ENV["course_id"]: self.course_id or ""})
        if self.stack.frame_ancestors:
            # iframe mode: the server may be framed by the LMS, its cookies cross-site (jhlti_embedding).
            env[CONTAINER_ENV["frame_ancestors"]] = " ".join(self.stack.frame_ancestors)
        return env

    async def prepare(self) -> None:
        """Everything decided before the server is created."""
        await self.resolve_course()
        self.check_server_cap()
        self.record_uid()

    async def start(self):
        await self.prepare()
        return await super().start()

    answer_poll_max = Float(
        0.5, config=True,
        help="Longest pause (seconds) between two checks whether a started server answers (wait_until_answering)",
    )
    answer_liveness_every = Float(
        5.0, config=True,
        help="While waiting for a server to answer, how often (seconds) to ask the engine whether it still runs",
    )

    async def wait_until_answering(self, started) -> float | None:
        """After the engine started the server: wait until it answers HTTP, as JupyterHub's own
        check does next (any answer below 500 at the server's URL), checking first after 50 ms,
        then at growing intervals of at most `answer_poll_max`. JupyterHub's check backs off
        exponentially with jitter up to 5 s, so it saw a server that took 1.5 s to start ~1.5 s
        late, and one in a rush of 30 up to 5 s late; its first check after this one succeeds
        at once. Gives up (and leaves the verdict to JupyterHub's check) after `http_timeout`,
        when the server stopped running, or on an unexpected error. Returns the seconds waited,
        or None if it gave up."""
        t0 = time.monotonic()
        try:
            ip, port = started if isinstance(started, tuple) else (None, None)
            url = started if isinstance(started, str) else f"http://{ip}:{port}"
            url = url.rstrip("/") + self.server.base_url
            client = AsyncHTTPClient()
            pause, next_liveness = 0.05, t0 + self.answer_liveness_every
            while time.monotonic() - t0 < self.http_timeout:
                try:
                    await client.fetch(url, follow_redirects=False, request_timeout=10)
                    return time.monotonic() - t0
                except HTTPClientError as e:
                    if e.code < 500:  # an answer (a redirect to the hub's login, a 403)
                        return time.monotonic() - t0
                except OSError:
                    pass  # not listening yet
                if time.monotonic() >= next_liveness:
                    next_liveness = time.monotonic() + self.answer_liveness_every
                    if await self.poll() is not None:
                        self.log.warning("%s stopped before it answered", self._log_name)
                        return None
                await asyncio.sleep(pause)
                pause = min(pause * 1.5, self.answer_poll_max)
        except Exception:  # noqa: BLE001 - JupyterHub's own check decides
            self.log.exception("waiting for %s to answer", self._log_name)
        return None


class CourseDockerSpawner(CourseSpawnerMixin, DockerSpawner):
    legacy_home_template = Unicode(
        "", config=True,
        help="Name template of a user's home volume from before course servers; mounted at the contract's previous_home when it exists",
    )

    async def start(self):
        await self.prepare()
        self.image = self.course_image
        legacy = self._render_templates(self.legacy_home_template) if self.legacy_home_template else ""
        if legacy and await self._volume_exists(legacy):
            # The user's files from before the upgrade, in every course server, until moved.
            self.volumes = {**self.volumes, legacy: PATHS["previous_home"]}
        started = await DockerSpawner.start(self)
        await self.wait_until_answering(started)
        return started

    async def _volume_exists(self, name: str) -> bool:
        try:
            await self.docker("inspect_volume", name)
        except Exception:  # docker.errors.NotFound, and the engine saying no otherwise
            return False
        return True


class CourseSwarmSpawner(CourseSpawnerMixin, SwarmSpawner):
    """engine "swarm": each course server is a Swarm service on the cluster's nodes.

    Its home is a directory of the shared storage (``homes/<server>/<user>`` under the
    environment's directory), made here, root-owned as a new volume is, before the service exists;
    the server's start hands it to the user's uid. The exchange is the shared one. Mounts are
    built here (bind mounts, or NFS volumes with the local driver's options): SwarmSpawner's own
    turn every volume into a bind mount carrying the volume driver's options (dockerspawner
    issue #536).
    """

    @property
    def swarm(self) -> Swarm:
        if self.stack.swarm is None:
            raise RuntimeError("CourseSwarmSpawner needs a stack.json of engine swarm")
        return self.stack.swarm

    @property
    def home_parts(self) -> tuple[str, str, str]:
        return (SHARED_LAYOUT["homes"], self.name, self.escaped_name)

    @property
    def mounts(self):
        return [
            self.swarm.mount(PATHS["home"], *self.home_parts),
            self.swarm.mount(PATHS["exchange_root"], SHARED_LAYOUT["exchange"]),
        ]

    async def start(self):
        await self.prepare()
        self.image = self.course_image
        started = await SwarmSpawner.start(self)
        await self.wait_until_answering(started)
        return started

    async def create_object(self):
        # A bind mount's source must exist on the node, or the task is rejected.
        os.makedirs(self.swarm.hub_path(*self.home_parts), mode=0o755, exist_ok=True)
        return await SwarmSpawner.create_object(self)


def prepare_shared_directories(stack: Stack) -> list[str]:
    """engine "swarm": the environment's directories on the shared filesystem, made (root-owned,
    0755) if missing, before anything mounts them; the containers' start hands each to its owner.
    Returns the directories made."""
    swarm = stack.swarm
    if swarm is None:
        return []
    wanted = [
        swarm.hub_path(SHARED_LAYOUT["exchange"]),
        swarm.hub_path(SHARED_LAYOUT["uid_map"]),
        swarm.hub_path(SHARED_LAYOUT["homes"]),
        *(swarm.hub_path(SHARED_LAYOUT["courses"], c.id) for c in stack.courses),
    ]
    made = []
    for path in wanted:
        if not os.path.isdir(path):
            os.makedirs(path, mode=0o755, exist_ok=True)
            made.append(path)
    return made
