"""Pre-warm with the LMS's roster on the deployed stack, against the LMS peer (lti1p3platform's
launches with the names and roles claim, the peer's strict token endpoint and membership
endpoint): a student enrolled in algebra who never launched gets a course server when the
teacher presses the course's pre-warm button, under the user name their first launch then gets,
and that launch goes straight into the running server; an inactive member gets none.

Needs the class of test_e2e.py in session (its teacher, the deployed stack): marked
`during_class` like test_course_list.py."""

from __future__ import annotations

import time

import pytest

from conftest import User
from harness import docker, inspect, say, timed
from lti_platform import LIS
from prewarm_page import press_prewarm
from stack_config import PREFIX
from teaching import container_env, land, lti13_launch

pytestmark = pytest.mark.during_class

COURSE = "algebra"
CONTEXT_ID = "ctx-e2e-algebra"


def test_prewarm_from_the_lms_roster_starts_a_server_for_a_student_who_never_launched(e2e):
    if "teacher" not in e2e.users:
        pytest.fail("the roster step runs during the class of test_e2e.py", pytrace=False)
    teacher = e2e.users["teacher"]
    newbie = User("ro-newbie", COURSE, "student", "lti13", session=e2e.browser(), server=teacher.server)
    # DockerSpawner escapes the user name in container names ("-" is "-2d").
    container = f"{PREFIX}-nb-ro-2dnewbie--{newbie.server}"
    with timed("11 pre-warm from the LMS roster: a student who never launched gets a server, then lands in it"):
        e2e.lms.lti13.set_member(CONTEXT_ID, newbie.name, [LIS + "membership#Learner"])
        e2e.lms.lti13.set_member(CONTEXT_ID, "ro-gone", [LIS + "membership#Learner"], "Inactive")
        lti13_launch(e2e, teacher, CONTEXT_ID)  # the teacher's launch carries the roster service
        last = press_prewarm(teacher.session, e2e.url(f"/hub/jhlti/prewarm/{COURSE}"), timeout=300)
        if last is None:
            logs = docker("logs", "--tail", "60", f"{PREFIX}-hub", check=False)
            pytest.fail(f"the pre-warm of {COURSE} did not finish in 300 s\nhub log:\n{logs}")
        say(f"    pre-warm: {last}")
        assert not last["failed"] and last["roster"]["source"] == "roster", last
        assert newbie.name in last["started"], last
        assert "ro-gone" not in last["started"] + last["running"], last
        assert inspect(container, "{{.State.Running}}").strip() == "true"
        newbie.container = container
        newbie.uid = int(container_env(container)["NB_UID"])
        assert newbie.uid not in {u.uid for u in e2e.users.values()}, "every user needs its own uid"
        started_id = inspect(container, "{{.Id}}")
        t0 = time.monotonic()
        location = lti13_launch(e2e, newbie, CONTEXT_ID)
        trail = land(e2e, newbie, location, running=True)  # straight into the running server
        say(f"    {newbie.name}'s first launch -> JupyterLab in {time.monotonic() - t0:.1f} s: {' -> '.join(trail)}")
        assert inspect(container, "{{.Id}}") == started_id, "the launch started another server"
