"""The course roster from the LMS (LTI 1.3 names and roles service) as a source of known students
for pre-warm: the rules (who counts, paging) here, and on a real hub against the peer platform
(lms_hub: lti1p3platform launches and tokens, the NRPS membership endpoint of test/peers):
an instructor's pre-warm starts the servers of the roster's active learners, including those who
never launched, under the user name their first launch then gets; nothing for inactive members
or teachers; a roster that cannot be read leaves the students who launched."""

from __future__ import annotations

import asyncio
import json
import time

import pytest
import requests

from conftest import CONTEXT_IDS, HUBTEST
from jupyterhub_lti_stack.roster import MEMBERSHIP_TYPE, RosterError, is_learner, next_page, read_members
from prewarm_page import press_prewarm

LIS = "http://purl.imsglobal.org/vocab/lis/v2/"
LEARNER = [LIS + "membership#Learner"]
TEACHER = [LIS + "membership#Instructor"]
COURSE = "data201"
SERVER = {c["id"]: c["server_name"] for c in HUBTEST["courses"]}[COURSE]
CONTEXT = {"id": CONTEXT_IDS[COURSE], "label": "DATA", "title": "Data"}


# --- the rules --------------------------------------------------------------------------------


@pytest.mark.parametrize("header, expected", [
    ('<https://lms/m?page=2>; rel="next", <https://lms/m?page=9>; rel="last"', "https://lms/m?page=2"),
    ('<https://lms/m?page=9>; rel="last", <https://lms/m?page=2>; rel="next"', "https://lms/m?page=2"),
    ('</m?page=3>; rel=next', "https://lms/m?page=3"),
    ('<https://lms/m?page=2>; rel="prev next"', "https://lms/m?page=2"),
    ('<https://lms/m?page=1>; rel="prev"', None),
    ('<https://lms/m?page=1>; title="next"; rel="first"', None),
    ("", None),
])
def test_next_page_of_a_link_header(header, expected):
    assert next_page(header, "https://lms/m?page=1") == expected


@pytest.mark.parametrize("member, learner", [
    ({"user_id": "a", "roles": [LIS + "membership#Learner"]}, True),
    ({"user_id": "a", "roles": [LIS + "membership#Learner"], "status": "Active"}, True),
    ({"user_id": "a", "roles": ["Learner"]}, True),
    ({"user_id": "a", "roles": [LIS + "membership/Learner#Learner"]}, True),
    ({"user_id": "a", "roles": [LIS + "membership#Learner"], "status": "Inactive"}, False),
    ({"user_id": "a", "roles": [LIS + "membership#Learner"], "status": "Deleted"}, False),
    ({"user_id": "a", "roles": [LIS + "membership#Learner", LIS + "membership#Instructor"]}, False),
    ({"user_id": "a", "roles": [LIS + "membership/Instructor#TeachingAssistant"]}, False),
    ({"user_id": "a", "roles": [LIS + "membership#Mentor"]}, False),
    ({"user_id": "a", "roles": [LIS + "institution/person#Student"]}, False),
    ({"user_id": "a", "roles": []}, False),
    ({"user_id": "a", "roles": "not a list"}, False),
    ({"user_id": "a"}, False),
])
def test_who_counts_as_a_learner(member, learner):
    assert is_learner(member) is learner


def pages(*bodies, link=True):
    """A fetch serving membership pages /m?page=1.., each linking the next."""
    calls = []

    async def fetch(url, headers):
        calls.append((url, headers))
        n = int(url.rsplit("=", 1)[1])
        extra = {"Link": f'<https://lms/m?page={n + 1}>; rel="next"'} if link and n < len(bodies) else {}
        body = bodies[n - 1]
        return (body[0], extra, body[1]) if isinstance(body, tuple) else (200, extra, json.dumps(body))
    return fetch, calls


def test_read_members_follows_the_pages_with_the_token_and_the_media_type():
    fetch, calls = pages({"members": [{"user_id": "1"}, {"user_id": "2"}]}, {"members": [{"user_id": "3"}, "junk"]})
    members = asyncio.run(read_members(fetch, "https://lms/m?page=1", "tok"))
    assert [m["user_id"] for m in members] == ["1", "2", "3"]
    assert [u for u, _ in calls] == ["https://lms/m?page=1", "https://lms/m?page=2"]
    assert all(h == {"Authorization": "Bearer tok", "Accept": MEMBERSHIP_TYPE} for _, h in calls)


@pytest.mark.parametrize("bodies, message", [
    (((403, '{"error": "insufficient_scope"}'),), "HTTP 403"),
    (((200, "<html>"),), "not JSON"),
    (({"id": "x"},), "no members list"),
])
def test_read_members_refuses_what_is_no_roster(bodies, message):
    fetch, _ = pages(*bodies)
    with pytest.raises(RosterError, match=message):
        asyncio.run(read_members(fetch, "https://lms/m?page=1", "tok"))


def test_read_members_stops_at_pages_that_loop():
    async def fetch(url, headers):
        return 200, {"Link": '<https://lms/m?page=1>; rel="next"'}, '{"members": []}'
    with pytest.raises(RosterError, match="do not end"):
        asyncio.run(read_members(fetch, "https://lms/m?page=1", "tok"))


# --- on a real hub, with the peer platform's membership endpoint -----------------------------


def launch(lms, sub: str, roles=LEARNER, session: requests.Session | None = None, **kw) -> requests.Response:
    r = lms.platform.launch(session or requests.Session(), lms.url, sub=sub, roles=roles, context=CONTEXT, **kw)
    assert r.status_code == 302, (r.status_code, r.text[:300])
    return r


class Api:
    def __init__(self, lms):
        self.url, self.token = lms.url + "/hub/api", lms.secrets["test-inspector"]

    def __call__(self, method: str, path: str) -> requests.Response:
        return requests.request(method, self.url + path, headers={"Authorization": f"token {self.token}"}, timeout=60)

    def running(self) -> set[str]:
        users = self("GET", "/users").json()
        return {u["name"] for u in users if (u.get("servers") or {}).get(SERVER, {}).get("ready")}

    def stop_all(self) -> None:
        for user in self("GET", "/users").json():
            for server in user.get("servers") or {}:
                self("DELETE", f"/users/{user['name']}/servers/{server}")
        deadline = time.monotonic() + 60
        while any(u.get("servers") for u in self("GET", "/users").json()) and time.monotonic() < deadline:
            time.sleep(0.5)


def prewarm(lms, teacher: requests.Session) -> dict:
    """The instructor presses the course's pre-warm button; its outcome when done."""
    last = press_prewarm(teacher, f"{lms.url}/hub/jhlti/prewarm/{COURSE}")
    if last is None:
        pytest.fail(f"pre-warm did not finish:\n{lms.log_text()[-4000:]}")
    return last


def test_prewarm_starts_the_rosters_active_learners_including_those_who_never_launched(lms_hub):
    lms, api = lms_hub, Api(lms_hub)
    api.stop_all()
    teacher = requests.Session()
    launch(lms, "ro-teacher", TEACHER, session=teacher)
    launch(lms, "ro-bob")  # launched before, and on the roster (his launch put him there)
    launch(lms, "ro-dee", nrps=False)  # launched before (a launch without the service), and dropped below
    lms.platform.set_member(CONTEXT["id"], "ro-ann", LEARNER)  # enrolled, never launched
    lms.platform.set_member(CONTEXT["id"], "RO-Eve", ["Learner"])  # short role name; user names are lower case
    lms.platform.set_member(CONTEXT["id"], "ro-dee", LEARNER, status="Inactive")
    lms.platform.set_member(CONTEXT["id"], "ro-cid", LEARNER, status="Deleted")
    lms.platform.set_member(CONTEXT["id"], "ro-ta", [LIS + "membership/Instructor#TeachingAssistant"])
    lms.platform.set_member(CONTEXT["id"], "ro-both", LEARNER + TEACHER)
    grader = next(c["grader_user"] for c in HUBTEST["courses"] if c["id"] == COURSE)
    lms.platform.set_member(CONTEXT["id"], grader, LEARNER)  # a name the hub reserves: never a student
    lms.platform.set_roster_page_size(2)
    group = f"nbgrader-{COURSE}"
    launched = set(api("GET", f"/groups/{group}").json()["users"]) - {c["grader_user"] for c in HUBTEST["courses"]}
    assert {"ro-bob", "ro-dee", "ro-teacher"} <= launched and "ro-ann" not in launched
    log_before = len(lms.platform.nrps_log())
    try:
        last = prewarm(lms, teacher)
        assert last["failed"] == {}, last
        assert last["roster"]["source"] == "roster" and last["roster"]["learners"] == 3, last["roster"]
        # Everyone who launched (ro-dee too: the roster adds, it does not take away) and the
        # roster's active learners; no teacher's, inactive or deleted member's, or reserved name's.
        assert set(last["started"]) == launched | {"ro-ann", "ro-eve"}, last
        assert api.running() == launched | {"ro-ann", "ro-eve"}
        for name in ("ro-cid", "ro-ta", "ro-both"):
            assert api("GET", f"/users/{name}").status_code == 404, name
        assert grader not in last["started"]
        ann = api("GET", "/users/ro-ann").json()
        assert ann["groups"] == [group], ann["groups"]  # a student of the course, not one who teaches it
        # The roster was read page by page, with a token of the names-and-roles scope.
        reads = lms.platform.nrps_log()[log_before:]
        assert len(reads) >= 4 and all(r["status"] == 200 for r in reads), reads
        assert "contextmembership.readonly" in " ".join(e["scope"] or "" for e in lms.platform.token_log())
        # ro-ann's first launch: the same user, whose server runs already, straight into it.
        r = launch(lms, "ro-ann")
        assert r.headers["Location"] == f"/user/ro-ann/{SERVER}/", r.headers
        assert "roster listed 3 active learners" in teacher.get(f"{lms.url}/hub/jhlti/prewarm/{COURSE}", timeout=30).text

        # The LMS's roster cannot be read: the students who launched are warmed, and the page says so.
        api.stop_all()
        lms.platform.fail("memberships", 503, times=10)
        last = prewarm(lms, teacher)
        assert last["roster"]["source"] == "error" and "503" in last["roster"]["error"], last["roster"]
        assert set(last["started"]) == launched | {"ro-ann", "ro-eve"}, "they are hub users of the course by now"
        assert "could not be read" in teacher.get(f"{lms.url}/hub/jhlti/prewarm/{COURSE}", timeout=30).text
    finally:
        lms.platform.clear_faults()
        lms.platform.set_roster_page_size(None)
        api.stop_all()


def test_only_the_prewarm_service_reads_rosters(lms_hub):
    lms = lms_hub
    url = f"{lms.url}/hub/api/jhlti/roster/{COURSE}"
    inspector = requests.post(url, headers={"Authorization": f"token {lms.secrets['test-inspector']}"}, timeout=30)
    assert inspector.status_code == 403, inspector.text
    assert requests.post(url, timeout=30).status_code == 403
