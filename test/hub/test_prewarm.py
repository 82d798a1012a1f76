"""Pre-warm (jupyterhub_lti_stack.prewarm): when a course's sessions open, and, on the real hub,
that exactly the known students of the course get its server started (no other course's, no one
who never launched, nothing already running twice), by the schedule and by an instructor. With
the LMS's roster: test_roster.py."""

from __future__ import annotations

import asyncio
import re
import time
from datetime import datetime, timezone
from pathlib import Path

import pytest
import requests

from conftest import CONTEXT_IDS, HUBTEST
from jupyterhub_lti_stack.prewarm import HubApi, Outcomes, due_session, next_session, record_outcome, run_schedule, warm
from jupyterhub_lti_stack.stack import Prewarm, Session, parse_stack
from test_hub_lti13 import LEARNER, TEACHER

SERVER = {c["id"]: c["server_name"] for c in HUBTEST["courses"]}
UTC = timezone.utc


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


BERLIN = Prewarm(sessions=(Session(weekday=0, hour=9, minute=15), Session(weekday=3, hour=14, minute=0)),
                 timezone="Europe/Berlin", lead_seconds=600, concurrency=2)


@pytest.mark.parametrize(("now", "expected"), [
    # Monday 2026-11-30, Berlin is UTC+1 in winter: 09:15 local = 08:15 UTC.
    ("2026-11-30T08:00:00+00:00", "2026-11-30T08:15:00+00:00"),
    # After Monday's session: Thursday 14:00 local.
    ("2026-11-30T08:15:00+00:00", "2026-12-03T13:00:00+00:00"),
    # After Thursday's: next Monday (the week wraps).
    ("2026-12-03T13:30:00+00:00", "2026-12-07T08:15:00+00:00"),
    # Summer time (UTC+2): the same local time is another UTC instant.
    ("2026-06-01T05:00:00+00:00", "2026-06-01T07:15:00+00:00"),
])
def test_next_session_in_the_course_time_zone(now, expected):
    assert next_session(BERLIN, at(now)) == at(expected)


def test_a_session_that_daylight_saving_skips_still_happens():
    # 2027-03-28 02:00-03:00 does not exist in Berlin; a 02:30 session is held at 03:30 CEST (01:30 UTC).
    p = Prewarm(sessions=(Session(weekday=6, hour=2, minute=30),), timezone="Europe/Berlin", lead_seconds=600, concurrency=1)
    assert next_session(p, at("2027-03-28T00:00:00+00:00")).astimezone(UTC) == at("2027-03-28T01:30:00+00:00")


def test_the_window_opens_lead_seconds_before_a_session_and_closes_at_its_start():
    assert due_session(BERLIN, at("2026-11-30T08:04:59+00:00")) is None
    assert due_session(BERLIN, at("2026-11-30T08:05:00+00:00")) == at("2026-11-30T08:15:00+00:00")
    assert due_session(BERLIN, at("2026-11-30T08:14:59+00:00")) == at("2026-11-30T08:15:00+00:00")
    assert due_session(BERLIN, at("2026-11-30T08:15:00+00:00")) is None
    assert next_session(Prewarm((), "UTC", 600, 1), at("2026-11-30T08:00:00+00:00")) is None


class FakeApi:
    """Answers the calls warm() makes, records the servers it was asked to start."""

    def __init__(self, members: list[str], running: set[str] = frozenset()):
        self.members, self.running, self.started = members, set(running), []

    async def call(self, method, path, body=None):
        if path.startswith("/jhlti/roster/"):
            return 200, {"source": "none", "reason": "no LTI 1.3 launch of this course carried the LMS's names and roles service"}
        if method == "GET" and path.startswith("/groups/"):
            return 200, {"users": self.members}
        name = path.split("/")[2]
        if method == "GET":
            return 200, {"servers": {SERVER["intro101"]: {"ready": True}} if name in self.running else {}}
        self.started.append(name)
        self.running.add(name)
        return 201, {}


def test_the_schedule_warms_each_session_once_and_skips_the_grader_and_running_servers(tmp_path):
    doc = {**HUBTEST, "courses": [dict(c) for c in HUBTEST["courses"]]}
    doc["courses"][0]["prewarm"] = {"sessions": [{"weekday": 0, "hour": 9, "minute": 15}], "timezone": "UTC",
                                    "lead_seconds": 600, "concurrency": 2}
    doc["courses"][1]["prewarm"] = None
    stack = parse_stack(doc)
    grader = stack.courses[0].grader_user
    api = FakeApi(["ann", "bob", grader, "cid"], running={"cid"})
    clock = iter([at("2026-11-30T09:00:00+00:00"), at("2026-11-30T09:06:00+00:00"),
                  at("2026-11-30T09:07:00+00:00"), at("2026-11-30T09:15:00+00:00")])
    outcomes = Outcomes(tmp_path / "jhlti-prewarm.json")
    results = asyncio.run(run_schedule(stack, api, now=lambda: next(clock), sleep=lambda s: asyncio.sleep(0), rounds=4,
                                       outcomes=outcomes))
    assert api.started == ["ann", "bob"], "once for the session, never the grader, nor cid (running)"
    recorded = outcomes.read()
    assert list(recorded) == ["intro101"] and recorded["intro101"]["started"] == ["ann", "bob"], recorded
    assert recorded["intro101"]["trigger"] == "schedule, for the session at 2026-11-30T09:15:00+00:00"
    assert [(r.course, sorted(r.started), r.running) for r in results] == [("intro101", ["ann", "bob"], ["cid"])]


def test_the_roster_adds_its_learners_and_an_unreadable_roster_leaves_who_launched():
    """warm() with the hub's roster answer (roster.py): its learners join who launched (a reserved
    name never); an error is recorded and the students who launched are warmed all the same."""
    stack = parse_stack(HUBTEST)
    course = stack.courses[0]

    class WithRoster(FakeApi):
        def __init__(self, members, roster):
            super().__init__(members)
            self.roster = roster

        async def call(self, method, path, body=None):
            if path.startswith("/jhlti/roster/"):
                assert (method, path) == ("POST", f"/jhlti/roster/{course.id}")
                return self.roster
            return await super().call(method, path, body)

    answer = {"source": "roster", "issuer": "https://lms.example", "members": 6, "learners": 3,
              "students": ["ann", "bea", course.grader_user]}
    result = asyncio.run(warm(WithRoster(["ann", "cy"], (200, answer)), stack, course, 2, sleep=lambda s: asyncio.sleep(0)))
    assert sorted(result.started) == ["ann", "bea", "cy"] and result.students == 3
    assert result.summary()["roster"] == {"source": "roster", "issuer": "https://lms.example", "members": 6, "learners": 3}
    refused = (502, {"message": "the roster of intro101 could not be read from https://lms.example: HTTP 503"})
    result = asyncio.run(warm(WithRoster(["ann", "cy"], refused), stack, course, 2, sleep=lambda s: asyncio.sleep(0)))
    assert sorted(result.started) == ["ann", "cy"]
    assert result.roster == {"source": "error", "error": "HTTP 502 " + refused[1]["message"]}


def test_the_page_records_a_pre_warm_that_failed_as_a_whole(tmp_path):
    """An instructor's pre-warm whose group listing the hub refuses: the page says why (it said
    "none yet" before); a later one that works replaces it."""
    stack = parse_stack(HUBTEST)
    course = stack.courses[0]

    class Refusing(FakeApi):
        async def call(self, method, path, body=None):
            if path.startswith("/groups/"):
                return 403, {"message": "Action is not authorized with current scopes"}
            return await super().call(method, path, body)

    async def run(api):
        task = asyncio.ensure_future(warm(api, stack, course, concurrency=2, sleep=lambda s: asyncio.sleep(0)))
        await asyncio.wait([task])
        return task

    outcomes = Outcomes(tmp_path / "jhlti-prewarm.json")
    record_outcome(outcomes, course.id, "asked for by t", asyncio.run(run(Refusing(["s1"]))))
    last = outcomes.read()[course.id]
    assert last["error"] == (f"RuntimeError: reading the group {course.student_group}: "
                             "HTTP 403 Action is not authorized with current scopes"), last
    assert last["trigger"] == "asked for by t" and datetime.fromisoformat(last["finished_at"]).tzinfo is not None
    record_outcome(outcomes, course.id, "asked for by t", asyncio.run(run(FakeApi(["s1"]))))
    assert outcomes.read()[course.id]["started"] == ["s1"] and "error" not in outcomes.read()[course.id]


def test_outcomes_of_two_writers_and_a_damaged_file(tmp_path):
    """The schedule (its own process) and the hub's handler write the same file: each keeps the
    other's courses; a damaged file is replaced, not fatal."""
    path = tmp_path / "jhlti-prewarm.json"
    a, b = Outcomes(path), Outcomes(path)
    a.record("intro101", {"course": "intro101", "started": ["x"]})
    b.record("data201", {"course": "data201", "started": []})
    assert set(Outcomes(path).read()) == {"intro101", "data201"}
    path.write_text("{not json")
    assert Outcomes(path).read() == {}
    a.record("intro101", {"course": "intro101", "started": []})
    assert Outcomes(path).read() == {"intro101": {"course": "intro101", "started": []}}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["jhlti-prewarm.json", "jhlti-prewarm.json.lock"]


def test_concurrency_bounds_servers_starting_at_once():
    stack = parse_stack(HUBTEST)
    course = stack.courses[0]

    class Slow(FakeApi):
        def __init__(self, members):
            super().__init__(members)
            self.starting, self.peak, self.polls = 0, 0, {}

        async def call(self, method, path, body=None):
            if method == "POST" and path.startswith("/users/"):
                self.starting += 1
                self.peak = max(self.peak, self.starting)
                return 202, {}
            name = path.split("/")[2] if path.startswith("/users/") else ""
            if name and name in self.polls:
                self.polls[name] += 1
                if self.polls[name] == 3:
                    self.starting -= 1
                    return 200, {"servers": {course.server_name: {"ready": True}}}
                return 200, {"servers": {course.server_name: {"ready": False, "pending": "spawn"}}}
            if name:
                self.polls[name] = 0
            return await super().call(method, path, body)

    api = Slow([f"s{i}" for i in range(7)])
    result = asyncio.run(warm(api, stack, course, concurrency=3, sleep=lambda s: asyncio.sleep(0)))
    assert api.peak == 3 and sorted(result.started) == [f"s{i}" for i in range(7)] and not result.failed


# --- on the real hub -----------------------------------------------------------------------------


def launch(hub, sub: str, course: str, roles=LEARNER) -> requests.Session:
    session = requests.Session()
    r = hub.lti13.launch(session, hub.url, sub=sub, roles=roles, context={"id": CONTEXT_IDS[course], "label": course})
    assert r.status_code == 302, r.text[:300]
    return session


class Browser:
    """A user's logged-in session (the launch's cookies) using the page as a browser does:
    GET it, then POST its form with the _xsrf value the page carries."""

    def __init__(self, session: requests.Session, url: str):
        self.session, self.url = session, url

    def page(self) -> requests.Response:
        return self.session.get(self.url, timeout=30)

    def state(self) -> dict:
        r = self.session.get(self.url, headers={"Accept": "application/json"}, timeout=30)
        assert r.status_code == 200, (r.status_code, r.text[:300])
        return r.json()

    def press(self) -> requests.Response:
        page = self.page()
        if page.status_code != 200:
            return page
        xsrf = re.search(r'name="_xsrf" value="([^"]+)"', page.text).group(1)
        return self.session.post(self.url, data={"_xsrf": xsrf}, allow_redirects=False, timeout=30)


def running(hub) -> set[tuple[str, str]]:
    users = hub.api("GET", "/users").json()
    return {(u["name"], s) for u in users for s, v in (u.get("servers") or {}).items() if v.get("ready") or v.get("pending")}


def stop_all(hub) -> None:
    for name, server in running(hub):
        hub.api("DELETE", f"/users/{name}/servers/{server}")
    deadline = time.monotonic() + 60
    while running(hub) and time.monotonic() < deadline:
        time.sleep(0.5)


def members(hub, group: str) -> set[str]:
    return set(hub.api("GET", f"/groups/{group}").json()["users"])


def test_an_instructor_prewarms_exactly_the_known_students_of_the_course(hub):
    stop_all(hub)
    url = f"{hub.url}/hub/jhlti/prewarm/data201"
    ann = Browser(launch(hub, "pw-ann", "data201"), url)
    for student in ("pw-bob", "pw-cid"):
        launch(hub, student, "data201")
    launch(hub, "pw-dora", "intro101")
    teacher = Browser(launch(hub, "pw-teacher", "data201", TEACHER), url)
    other_teacher = Browser(launch(hub, "pw-other-teacher", "intro101", TEACHER), url)
    # One of them is in class already: left alone.
    assert hub.api("POST", f"/users/pw-cid/servers/{SERVER['data201']}").status_code in (201, 202)
    deadline = time.monotonic() + 60
    while ("pw-cid", SERVER["data201"]) not in running(hub) and time.monotonic() < deadline:
        time.sleep(0.5)
    before = running(hub)
    known = members(hub, "nbgrader-data201") - {c["grader_user"] for c in HUBTEST["courses"]}

    # Neither a student of the course nor an instructor of another course may, nor a form without _xsrf.
    for who in (ann, other_teacher):
        assert who.page().status_code == 403
        assert who.session.post(url, data={"_xsrf": "forged"}, allow_redirects=False, timeout=30).status_code == 403
    assert teacher.session.post(url, allow_redirects=False, timeout=30).status_code == 403, "no _xsrf, no pre-warm"
    assert running(hub) == before

    page = teacher.page()
    assert page.status_code == 200 and f"{len(known)} students have launched" in page.text, page.text[:500]
    r = teacher.press()
    assert r.status_code == 302, (r.status_code, r.text[:500])
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        state = teacher.state()
        if not state["warming"] and (state["last"] or {}).get("trigger") == "asked for by pw-teacher":
            break
        time.sleep(1)
    else:
        pytest.fail(f"pre-warm did not finish:\n{hub.log_text()[-4000:]}")
    last = state["last"]
    try:
        assert last["failed"] == {}, last
        assert set(last["started"]) == known - {"pw-cid"} and last["running"] == ["pw-cid"], last
        assert {"pw-ann", "pw-bob", "pw-teacher"} <= set(last["started"])
        after = running(hub)
        assert after - before == {(name, SERVER["data201"]) for name in last["started"]}, "nothing else started"
        assert not any(name in {"pw-dora", "pw-other-teacher"} for name, _ in after)
        # Each pre-warmed server is its course's, as if the student had launched it.
        record = Path(hub.tmp, "spawns", f"pw-ann--{SERVER['data201']}.json").read_text()
        assert '"JHLTI_COURSE_ID": "data201"' in record
        assert f"{len(last['started'])} started, 1 already running, 0 failed" in teacher.page().text
    finally:
        stop_all(hub)


def test_the_schedule_starts_servers_through_the_hub_api(hub):
    """run_schedule with a clock inside data201's window, against the real hub's REST API."""
    stop_all(hub)
    launch(hub, "pw-sched", "data201")
    launch(hub, "pw-sched-other", "intro101")
    doc = {**HUBTEST, "courses": [dict(c) for c in HUBTEST["courses"]]}
    doc["courses"][1]["prewarm"] = {"sessions": [{"weekday": 0, "hour": 9, "minute": 15}], "timezone": "UTC",
                                    "lead_seconds": 600, "concurrency": 2}
    doc["courses"][0]["prewarm"] = None
    stack = parse_stack(doc)
    known = members(hub, "nbgrader-data201") - stack.reserved_usernames

    async def schedule():
        api = HubApi(f"{hub.url}/hub/api", hub.api_token)
        # The file the hub's handler reads (conftest gives the service the same one).
        return await run_schedule(stack, api, now=lambda: at("2026-11-30T09:10:00+00:00"),
                                  sleep=lambda s: asyncio.sleep(0), rounds=2,
                                  outcomes=Outcomes(Path(hub.tmp, "jhlti-prewarm.json")))

    try:
        results = asyncio.run(schedule())
        assert len(results) == 1 and not results[0].failed, [r.summary() for r in results]
        assert set(results[0].started) == known and "pw-sched" in known
        assert running(hub) == {(name, SERVER["data201"]) for name in known}
        # The course's page shows the scheduled pre-warm.
        teacher = Browser(launch(hub, "pw-sched-teacher", "data201", TEACHER), f"{hub.url}/hub/jhlti/prewarm/data201")
        last = teacher.state()["last"]
        assert last["trigger"] == "schedule, for the session at 2026-11-30T09:15:00+00:00" and set(last["started"]) == known, last
        assert "(schedule, for the session at 2026-11-30T09:15:00+00:00, finished " in teacher.page().text
    finally:
        stop_all(hub)


def test_the_hub_runs_the_schedule_service(hub):
    assert "pre-warm schedule (weekday 0 = Monday)" in hub.log_text()
