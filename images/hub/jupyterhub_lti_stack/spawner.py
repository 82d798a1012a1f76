"""Start each user's server from the course of their latest launch."""

from __future__ import annotations

from dockerspawner import DockerSpawner
from tornado.web import HTTPError
from traitlets import Instance, Unicode
from traitlets.config import LoggingConfigurable

from .contract import PATHS, UID_BASE
from .launch import choose_image
from .stack import Stack
from .uidmap import record_uid


class CourseSpawnerMixin(LoggingConfigurable):
    """Course, image and Unix uid for a user's server, decided at spawn time.

    The launch (stored encrypted in auth_state by the authenticator) names the course
    and maybe an image; the image is checked again here against the current stack so a
    stale auth_state can never select an image the course no longer allows.
    Every user gets uid ``UID_BASE + user.id`` (the contract's uid base): nbgrader's exchange relies on Unix
    permissions, which only isolate students whose uids differ. Before a server starts, the
    user's uid is recorded in the uid map the course graders check submission owners against.
    """

    stack = Instance(Stack, config=True, help="The parsed stack.json")
    uid_map_dir = Unicode(
        PATHS["hub_uid_map_dir"], config=True,
        help="Directory of the username -> uid map (uids.json) the graders read (the uid-map volume)",
    )

    course_id = None
    course_image = None

    @property
    def nb_uid(self) -> int:
        return UID_BASE + self.user.id

    async def resolve_course(self) -> None:
        auth_state = await self.user.get_auth_state() or {}
        launch = auth_state.get("jhlti") or {}
        course = self.stack.course(launch.get("course"))
        if course is None:
            raise HTTPError(
                403, "No course for this server: open JupyterHub from your course in the LMS first."
            )
        self.course_id = course.id
        self.course_image = choose_image(course, launch.get("requested_image"))

    def record_uid(self) -> None:
        """Before the server starts: nothing the user submits can be collected without it."""
        if record_uid(self.uid_map_dir, self.user.name, self.nb_uid):
            self.log.info("uid map: %s -> %d", self.user.name, self.nb_uid)

    def get_env(self):
        env = super().get_env()
        env.update(NB_UID=str(self.nb_uid), JHLTI_COURSE_ID=self.course_id)
        return env

    async def start(self):
        await self.resolve_course()
        self.record_uid()
        return await super().start()


class CourseDockerSpawner(CourseSpawnerMixin, DockerSpawner):
    async def start(self):
        await self.resolve_course()
        self.record_uid()
        self.image = self.course_image
        return await DockerSpawner.start(self)
