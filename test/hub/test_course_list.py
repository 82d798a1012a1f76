"""JupyterLab's nbgrader Course List (images/notebook/jhlti_nbgrader.py, in place of nbgrader's
course_list extension) in course servers the real hub spawned with the image's user-server
config: an instructor gets the formgrader of each course they teach at the hub's public URL, a
student none, though nbgrader's own list shows a student their course and its call for the
services is refused to a user server's token. (That nothing is fetched from the public URL, which
a container may not reach, is proven in the e2e tier.)"""

from __future__ import annotations

import jhlti_nbgrader  # images/notebook, on sys.path from conftest
import pytest
import requests

from conftest import CONTEXT_IDS, HUBTEST
from test_hub_lti13 import LEARNER, TEACHER, spawn

SERVER = {c["id"]: c["server_name"] for c in HUBTEST["courses"]}


def launch(hub, session: requests.Session, sub: str, roles: list[str], course: str) -> None:
    r = hub.lti13.launch(session, hub.url, sub=sub, roles=roles, context={"id": CONTEXT_IDS[course], "label": course})
    assert r.status_code == 302, r.text[:300]


def course_list(hub, session: requests.Session, user: str, course: str) -> list[dict]:
    """GET <server>/formgraders through the proxy with the browser's session (the hub's OAuth
    into the server on the way), as the Course List panel does."""
    r = session.get(f"{hub.url}/user/{user}/{SERVER[course]}/formgraders", timeout=60)
    assert r.status_code == 200, (r.status_code, r.url, r.text[:300])
    body = r.json()
    assert body["success"] is True, body["value"]
    return body["value"]


def test_instructor_lists_the_courses_taught_a_student_none(hub):
    """cl-teacher teaches intro101 and is a student of data201; cl-student is a student of
    intro101. nbgrader's own list would show each of them every course they are in."""
    teacher, student = requests.Session(), requests.Session()
    launch(hub, teacher, "cl-teacher", TEACHER, "intro101")
    launch(hub, teacher, "cl-teacher", LEARNER, "data201")
    launch(hub, student, "cl-student", LEARNER, "intro101")
    assert set(hub.user("cl-teacher")["groups"]) == {"nbgrader-intro101", "formgrade-intro101", "nbgrader-data201"}
    servers = [("cl-teacher", "intro101"), ("cl-teacher", "data201"), ("cl-student", "intro101")]
    for user, course in servers:
        spawn(hub, user, SERVER[course], stop=False)
    try:
        intro = {"course_id": "intro101", "url": f"{hub.url}/services/intro101/lab?formgrader=true", "kind": "jupyterhub"}
        assert course_list(hub, teacher, "cl-teacher", "intro101") == [intro]
        assert course_list(hub, teacher, "cl-teacher", "data201") == [intro]
        assert course_list(hub, student, "cl-student", "intro101") == []
    finally:
        for user, course in servers:
            hub.api("DELETE", f"/users/{user}/servers/{SERVER[course]}")


@pytest.mark.parametrize("env, origin", [
    ({"JUPYTERHUB_PUBLIC_HUB_URL": "https://jupyter.example.edu/hub/"}, "https://jupyter.example.edu"),
    ({"JUPYTERHUB_PUBLIC_HUB_URL": "https://h.example:8443/base/hub/"}, "https://h.example:8443"),
    ({"JUPYTERHUB_PUBLIC_URL": "https://h.example/user/a/b/"}, "https://h.example"),
    ({}, "https://as-requested.example"),  # a grader: no public URL in its environment
    ({"JUPYTERHUB_PUBLIC_HUB_URL": ""}, "https://as-requested.example"),
])
def test_public_origin(env, origin):
    assert jhlti_nbgrader.public_origin(env, "https://as-requested.example") == origin


def test_links_only_for_taught_courses():
    groups = ["nbgrader-a", "formgrade-a", "nbgrader-b", "formgrade-", "formgrade-c", "other"]
    courses = jhlti_nbgrader.taught_courses(groups)
    assert courses == ["a", "c"]
    assert jhlti_nbgrader.formgrader_links(courses, "https://h.example", "/base/") == [
        {"course_id": "a", "url": "https://h.example/base/services/a/lab?formgrader=true", "kind": "jupyterhub"},
        {"course_id": "c", "url": "https://h.example/base/services/c/lab?formgrader=true", "kind": "jupyterhub"},
    ]
