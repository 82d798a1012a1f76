"""LTI 1.3 Deep Linking on the deployed stack, against the LMS peer (lti1p3platform, which checks
the response with the library and the rules a strict LMS adds): the teacher asks for content from
the algebra course, the hub lists its nbgrader assignments (read from the course volume), the
signed choice creates a link with a line item at the LMS; a new student launching that link
lands in JupyterLab with the assignment fetched into their home, and after autograde the score is
in that link's line item. A student cannot make a deep linking request.

Needs the class of test_e2e.py in session (ps1 created and released in step 3): marked
`during_class` like test_course_list.py."""

from __future__ import annotations

import html
import re
import time
from urllib.parse import parse_qs, urlsplit

import pytest

from conftest import User
from harness import docker, say, timed
from lti_platform import LIS
from stack_config import PREFIX
from teaching import (
    ASSIGNMENT,
    RIGHT,
    as_user,
    check_page_next,
    collect_and_autograde,
    container_env,
    gradebook_scores,
    inbound,
    land,
)

pytestmark = pytest.mark.during_class

COURSE = "algebra"
CONTEXT = {"id": "ctx-e2e-algebra", "label": COURSE, "title": COURSE}


def deep_linking_request(e2e, user: User, role: str):
    roles = [LIS + ("membership#Instructor" if role == "instructor" else "membership#Learner")]
    return e2e.lms.lti13.launch(user.session, e2e.url(""), sub=user.name, roles=roles, context=CONTEXT,
                                deep_linking={"title": "Add Jupyter content"},
                                on_page=lambda page: check_page_next(e2e, user, page))


def test_deep_linking_places_an_assignment_that_students_land_in_and_get_graded_through(e2e):
    if "teacher" not in e2e.users:
        pytest.fail("the deep linking steps run during the class of test_e2e.py", pytrace=False)
    teacher = e2e.users["teacher"]
    with timed("10 deep linking: the teacher places ps1 from the LMS, a student launches it, autograde scores it"):
        r = deep_linking_request(e2e, teacher, "instructor")
        assert r.status_code == 200, (r.status_code, r.text[:500])
        names = [html.unescape(v) for v in re.findall(r'name="assignment" value="([^"]+)"', r.text)]
        assert names == [ASSIGNMENT], r.text[:1000]  # read from the course volume, mounted read-only in the hub
        token = re.search(r'name="token" value="([^"]+)"', r.text).group(1)
        action = re.search(r'<form method="post" action="([^"]+)"', r.text).group(1)
        # The picker answers without the hub's cookies (an LMS dialog is a cross-site frame).
        r = e2e.browser().post(e2e.url(action), data={"token": token, "action": "add", "assignment": ASSIGNMENT}, timeout=60)
        assert r.status_code == 200, (r.status_code, r.text[:300])
        encoded = re.search(r'name="JWT" value="([^"]+)"', r.text).group(1)
        [link] = e2e.lms.lti13.deep_link_return(encoded)
        assert link["custom"] == {"assignment": ASSIGNMENT} and link["lineitem"], link
        say(f"    the LMS created link {link['resource_link_id']} with line item {link['lineitem']}")

        student = User("dl-student", COURSE, "student", "lti13", session=e2e.browser())
        roles = [LIS + "membership#Learner"]
        r = e2e.lms.lti13.launch(student.session, e2e.url(""), sub=student.name, roles=roles, context=CONTEXT,
                                 resource_link_id=link["resource_link_id"], custom=link["custom"],
                                 on_page=lambda page: check_page_next(e2e, student, page))
        assert r.status_code == 302, (r.status_code, r.text[:300])
        location = urlsplit(r.headers["Location"])
        student.server = location.path.rsplit("/", 1)[-1]
        assert location.path == f"/hub/spawn/{student.name}/{student.server}"
        assert parse_qs(location.query)["next"] == [f"/user/{student.name}/{student.server}/jhlti/assignment?name={ASSIGNMENT}"]
        opened = f"lab/tree/{COURSE}/{ASSIGNMENT}/{ASSIGNMENT}.ipynb"
        land(e2e, student, r.headers["Location"], ends_at=opened)  # the redirects a browser follows; JupyterLab answers
        # DockerSpawner escapes the user name in container names ("-" is "-2d").
        [student.container] = docker("ps", "--format", "{{.Names}}", "--filter",
                                     f"name=^/{PREFIX}-nb-dl-2dstudent--{student.server}$").split()
        student.uid = int(container_env(student.container)["NB_UID"])
        owner = as_user(student, f"stat -c %u {COURSE}/{ASSIGNMENT}/{ASSIGNMENT}.ipynb").stdout.strip()
        assert owner == str(student.uid), "the assignment was fetched into the student's home, as the student"
        say(f"    {student.name} landed in /user/{student.name}/{student.server}/{opened} (fetched, owned by uid {owner})")

        p = as_user(student, f"""set -e
python3 - <<'PY'
import nbformat
path = "{COURSE}/{ASSIGNMENT}/{ASSIGNMENT}.ipynb"
nb = nbformat.read(path, as_version=4)
nb.cells[0].source = {RIGHT!r}
nbformat.write(nb, path)
PY
nbgrader submit {ASSIGNMENT} --course {COURSE}
""")
        assert p.returncode == 0, p.stderr + p.stdout
        out = collect_and_autograde(COURSE, update=True)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            scores = e2e.lms.lti13.latest_scores(link["lineitem"])
            if student.name in scores:
                break
            time.sleep(1)
        else:
            pytest.fail(f"no score for {student.name} in the link's line item after autograde:\n{out[-2000:]}")
        assert scores[student.name]["scoreGiven"] == scores[student.name]["scoreMaximum"] == 2.0, scores
        say(f"    {student.name}'s score in the link's line item: {scores[student.name]['scoreGiven']}")
        # The class has one more submission and grade now: what destroy and redeploy (step 7) keep.
        e2e.facts["inbound"], e2e.facts["scores"] = inbound(COURSE), gradebook_scores(COURSE)

    r = deep_linking_request(e2e, User("dl-student-asks", COURSE, "student", "lti13", session=e2e.browser()), "student")
    assert r.status_code == 403 and "Only instructors" in r.text, (r.status_code, r.text[:300])
