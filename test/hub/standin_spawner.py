"""The hub-layer tier's stand-in for Docker: the real course logic (CourseSpawnerMixin)
on a local process, recording what a container would have been given."""

import json
from pathlib import Path

from jupyterhub.spawner import SimpleLocalProcessSpawner
from traitlets import Unicode

from jupyterhub_lti_stack.spawner import CourseSpawnerMixin


class LocalCourseSpawner(CourseSpawnerMixin, SimpleLocalProcessSpawner):
    record_dir = Unicode(config=True)

    async def start(self):
        await self.prepare()
        env = self.get_env()
        record = {
            "course": self.course_id,
            "server": self.name,
            "image": self.course_image,
            "mem_limit": self.mem_limit,
            "cpu_limit": self.cpu_limit,
            "args": self.get_args(),
            "NB_UID": env["NB_UID"],
            "JHLTI_COURSE_ID": env["JHLTI_COURSE_ID"],
        }
        Path(self.record_dir, f"{self.user.name}--{self.name}.json").write_text(json.dumps(record))
        started = await SimpleLocalProcessSpawner.start(self)
        await self.wait_until_answering(started)
        return started
