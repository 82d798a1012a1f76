"""One server per (user, course): a launch lands in its course's server, which runs that course's
image, limits and idle timeout; the default server, other courses' servers and more than the cap
are refused."""

from __future__ import annotations

import requests

from conftest import CONTEXT_IDS, HUBTEST
from test_hub_lti11 import canvas_launch
from test_hub_lti13 import LEARNER, spawn

SERVER = {c["id"]: c["server_name"] for c in HUBTEST["courses"]}


def launch(hub, sub: str, course: str) -> requests.Response:
    r = hub.lti13.launch(requests.Session(), hub.url, sub=sub, roles=LEARNER,
                         context={"id": CONTEXT_IDS[course], "label": course})
    assert r.status_code == 302, r.text[:300]
    return r


def test_a_launch_lands_in_its_courses_server_never_on_the_home_page(hub):
    for course in ("intro101", "data201"):
        r = launch(hub, "cs-two-courses", course)
        assert r.headers["Location"] == f"/hub/spawn/cs-two-courses/{SERVER[course]}", r.headers["Location"]
    r = hub.lti11.post(requests.Session(), hub.lti11.sign(canvas_launch("cs-lti11", "Learner", CONTEXT_IDS["data201"])))
    assert r.status_code == 302 and r.headers["Location"] == f"/hub/spawn/cs-lti11/{SERVER['data201']}"


def test_two_courses_two_servers_each_with_its_course(hub):
    for course in ("intro101", "data201"):
        launch(hub, "cs-both", course)
    a = spawn(hub, "cs-both", SERVER["intro101"], stop=False)
    b = spawn(hub, "cs-both", SERVER["data201"], stop=False)
    try:
        running = {name for name, s in hub.user("cs-both")["servers"].items() if s["ready"]}
        assert running == {SERVER["intro101"], SERVER["data201"]}, running
        by_course = {c["id"]: c for c in HUBTEST["courses"]}
        for record, course in ((a, "intro101"), (b, "data201")):
            assert record["course"] == record["JHLTI_COURSE_ID"] == course
            assert record["image"] == by_course[course]["image"]
            assert record["mem_limit"] == by_course[course]["limits"]["memory_bytes"]
            assert record["cpu_limit"] == by_course[course]["limits"]["cpus"]
            assert f"--ServerApp.shutdown_no_activity_timeout={by_course[course]['idle_cull_seconds']}" in record["args"]
        assert a["NB_UID"] == b["NB_UID"], "one Unix identity per user in all their servers"
        # Stopping one course's server (what the culler does) leaves the other running.
        assert hub.api("DELETE", f"/users/cs-both/servers/{SERVER['data201']}").status_code in (202, 204)
        servers = hub.user("cs-both")["servers"]
        assert servers.get(SERVER["intro101"], {}).get("ready") and SERVER["data201"] not in servers
    finally:
        for server in SERVER.values():
            hub.api("DELETE", f"/users/cs-both/servers/{server}")


def test_the_default_server_and_other_courses_are_refused(hub):
    launch(hub, "cs-one", "intro101")
    r = hub.api("POST", "/users/cs-one/server")
    assert r.status_code == 404 and "Each course has its own server" in r.text, (r.status_code, r.text)
    r = hub.api("POST", f"/users/cs-one/servers/{SERVER['data201']}")
    assert r.status_code == 403 and "You are not in Data" in r.text, (r.status_code, r.text)
    assert set(hub.user("cs-one")["servers"]) <= {SERVER["intro101"]}


def test_running_servers_per_user_are_capped(hub):
    cap = HUBTEST["limits"]["servers_per_user"]
    assert cap >= 2
    # data201 and intro101 are this hub's two courses: a cap of 1 cannot be set here without a
    # second hub, so check the spawner's rule directly against the running ones.
    from jupyterhub_lti_stack.spawner import CourseSpawnerMixin
    from jupyterhub_lti_stack.stack import parse_stack
    import pytest
    from tornado.web import HTTPError

    class Fake:
        def __init__(self, active):
            self.active = active

    class User:
        spawners = {"a": Fake(True), "b": Fake(True), "c": Fake(False)}

    doc = {**HUBTEST, "limits": {"servers_per_user": 2}}
    spawner = CourseSpawnerMixin(stack=parse_stack(doc))
    spawner.user = User()
    with pytest.raises(HTTPError) as err:
        spawner.check_server_cap()
    assert err.value.status_code == 429 and "at most 2" in err.value.log_message
    User.spawners["b"].active = False
    spawner.check_server_cap()


def test_a_launch_to_a_running_server_goes_straight_to_it(hub):
    """A server that runs and is ready (pre-warmed, or from an earlier launch) is where the launch
    leads, without the hub's spawn page in between; one that is not running is started through
    it again. Only the launching user's own server counts: another user's running server does not."""
    assert launch(hub, "cs-warm", "intro101").headers["Location"] == f"/hub/spawn/cs-warm/{SERVER['intro101']}"
    launch(hub, "cs-other", "intro101")
    spawn(hub, "cs-other", SERVER["intro101"], stop=False)
    try:
        assert launch(hub, "cs-warm", "intro101").headers["Location"] == f"/hub/spawn/cs-warm/{SERVER['intro101']}"
        spawn(hub, "cs-warm", SERVER["intro101"], stop=False)
        assert launch(hub, "cs-warm", "intro101").headers["Location"] == f"/user/cs-warm/{SERVER['intro101']}/"
        # The course's other server is not running: that launch still starts it.
        assert launch(hub, "cs-warm", "data201").headers["Location"] == f"/hub/spawn/cs-warm/{SERVER['data201']}"
        r = hub.lti11.post(requests.Session(), hub.lti11.sign(canvas_launch("cs-warm", "Learner", CONTEXT_IDS["intro101"])))
        assert r.status_code == 302 and r.headers["Location"] == f"/user/cs-warm/{SERVER['intro101']}/", r.headers
        assert hub.api("DELETE", f"/users/cs-warm/servers/{SERVER['intro101']}").status_code in (202, 204)
        assert launch(hub, "cs-warm", "intro101").headers["Location"] == f"/hub/spawn/cs-warm/{SERVER['intro101']}"
    finally:
        for user in ("cs-warm", "cs-other"):
            for server in SERVER.values():
                hub.api("DELETE", f"/users/{user}/servers/{server}")
