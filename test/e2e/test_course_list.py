"""What an instructor sees in JupyterLab's nbgrader "Course List": the call its panel makes
(GET <server>/formgraders, nbgrader's course_list server extension) through the proxy with the
user's browser session. An instructor gets each course they teach, with its formgrader's public
URL, which works in the browser; a student gets none.

These steps need the class of test_e2e.py in session (deployed, users launched, servers
running): they are marked `during_class`, and conftest runs them after its last step that changes
the class (6, a course added) and before its destroy (7)."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest

from conftest import User
from harness import say, timed
from stack_config import ADDED_COURSE, PUBLIC_URL
from teaching import hub_user, land, lti13_launch

pytestmark = pytest.mark.during_class


def in_class(e2e) -> None:
    if "teacher" not in e2e.users or ADDED_COURSE.id not in {c.id for c in e2e.courses}:
        pytest.fail("the course list steps run during the class of test_e2e.py: "
                    "pytest test/e2e/test_e2e.py test/e2e/test_course_list.py", pytrace=False)


def course_list(e2e, session, prefix: str) -> list[dict]:
    """GET <prefix>formgraders as JupyterLab's Course List panel does; nbgrader answers
    {"success": true, "value": [courses]} or {"success": false, "value": <traceback>}."""
    r = session.get(e2e.url(f"{prefix}formgraders"), allow_redirects=False, timeout=60)
    assert r.status_code == 200, (prefix, r.status_code, r.headers.get("Location"), r.text[:300])
    body = r.json()
    assert body["success"] is True, f"{prefix}formgraders failed:\n{body['value']}"
    return body["value"]


def formgrader(course: str) -> dict:
    """A course's formgrader as the Course List of a user server names it: the grader service's
    JupyterLab at the hub's public URL (what the browser opens)."""
    return {"course_id": course, "url": f"{PUBLIC_URL}/services/{course}/lab?formgrader=true", "kind": "jupyterhub"}


def opens(user: User, url: str) -> int:
    """The status a user's browser ends on for a URL (following the hub's OAuth redirects)."""
    r = user.session.get(url, timeout=60)
    return r.status_code


def test_instructor_course_list(e2e):
    """teacher teaches algebra (since step 2) and now chem101 (added in step 6): both his course
    servers list exactly those two formgraders, never physics; each link opens the grader's
    JupyterLab in his browser, and a student of the course gets 403 there."""
    in_class(e2e)
    teacher = e2e.users["teacher"]
    chem = next(c for c in e2e.courses if c.id == ADDED_COURSE.id)
    in_chem = User("teacher", chem.id, "instructor", "lti13", session=teacher.session, server=chem.id)
    with timed("9 Course List as an instructor of two courses (algebra, chem101)"):
        land(e2e, in_chem, lti13_launch(e2e, in_chem, chem.context))
        groups = set(hub_user(e2e, teacher)["groups"])
        assert groups == {"nbgrader-algebra", "formgrade-algebra", "nbgrader-chem101", "formgrade-chem101"}, groups
        expected = [formgrader("algebra"), formgrader("chem101")]
        for server in (teacher.server, in_chem.server):
            listed = course_list(e2e, teacher.session, f"/user/teacher/{server}/")
            say(f"    Course List in teacher's {server} server: {listed}")
            assert listed == expected
        alice = e2e.users["alice"]
        for entry in expected:
            r = teacher.session.get(entry["url"], timeout=60)
            say(f"    teacher opens {entry['url']}: {r.status_code} at {r.url}")
            assert r.status_code == 200 and urlsplit(r.url).path == f"/services/{entry['course_id']}/lab", (r.status_code, r.url)
            assert "JupyterLab" in r.text, r.text[:300]
        status = opens(alice, formgrader("algebra")["url"])
        say(f"    alice (student of algebra) opens the algebra formgrader: {status}")
        assert status == 403


def test_grader_course_list(e2e):
    """The grader service's own JupyterLab (where the Course List link leads) lists its course's
    formgrader, which runs right there, at its public URL."""
    in_class(e2e)
    teacher = e2e.users["teacher"]
    with timed("9b Course List in the algebra grader's JupyterLab, as teacher"):
        listed = course_list(e2e, teacher.session, "/services/algebra/")
        say(f"    Course List in the algebra grader service: {listed}")
        assert listed == [{"course_id": "algebra", "url": f"{PUBLIC_URL}/services/algebra/formgrader", "kind": "local"}]
        assert opens(teacher, listed[0]["url"]) == 200


def test_student_course_list(e2e):
    """Students, in one course or two, over LTI 1.1 or 1.3: no formgrader in their Course List."""
    in_class(e2e)
    students = [u for u in e2e.users.values() if u.role == "student"]
    assert {u.name for u in students} == {"alice", "bob", "dave", "carol", "erin"}
    with timed(f"9c Course List as {len(students)} student servers"):
        for user in students:
            listed = course_list(e2e, user.session, f"/user/{user.name}/{user.server}/")
            say(f"    Course List in {user.name}'s {user.server} server ({user.protocol}): {listed}")
            assert listed == []
