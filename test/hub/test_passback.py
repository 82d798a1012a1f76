"""Grade passback in a real hub, against LMS code this project did not write (lms_hub: an
lti1p3platform platform with a strict token endpoint and AGS, an `lti` consumer with a strict
Basic Outcomes endpoint). The graders' side is played here with the course's service token, as
images/notebook/jhlti_passback.py does it."""

from __future__ import annotations

import sqlite3
import time

import pytest
import requests

from conftest import CONTEXT_IDS
from jupyterhub_lti_stack.passback import resource_id

LEARNER = ["http://purl.imsglobal.org/vocab/lis/v2/membership#Learner"]
TEACHER = ["http://purl.imsglobal.org/vocab/lis/v2/membership#Instructor"]
COURSE = "intro101"  # gradePassback: true in test/fixtures/contract.yaml; data201 has it off
CONTEXT = {"id": CONTEXT_IDS[COURSE], "label": "INTRO", "title": "Introduction"}


def api(lms, course: str, method: str = "GET", payload: dict | None = None, token: str | None = None, suffix: str = ""):
    token = token if token is not None else lms.secrets[f"service-token-{course}"]
    return requests.request(method, f"{lms.url}/hub/api/jhlti/passback/{course}{suffix}", json=payload,
                            headers={"Authorization": f"token {token}"}, timeout=60)


def scores(assignment: str, max_score: float, **by_student: float) -> dict:
    return {"assignment": assignment, "max_score": max_score, "label": f"Problem set {assignment}",
            "scores": [{"student": s, "score": v, "timestamp": "2026-11-29T10:00:00+00:00"} for s, v in by_student.items()]}


def entries(lms, course: str = COURSE) -> dict:
    r = api(lms, course)
    assert r.status_code == 200, r.text
    return {(e["assignment"], e["student"]): e for e in r.json()["entries"]}


def settle(lms, until, timeout: float = 30) -> dict:
    """Call the status API (which delivers what is due) until `until(entries)` holds."""
    deadline = time.monotonic() + timeout
    while True:
        found = entries(lms)
        if until(found) or time.monotonic() > deadline:
            return found
        time.sleep(0.3)


def make_due(lms) -> None:
    """Let backoff time pass: what waits for a retry becomes due now (the queue is on disk)."""
    with sqlite3.connect(lms.tmp / "launches.sqlite") as db:
        db.execute("UPDATE passback SET next_try = 0 WHERE status = 'pending'")


def launch13(lms, sub: str, roles=LEARNER, ags: bool = True):
    r = lms.platform.launch(requests.Session(), lms.url, sub=sub, roles=roles, context=CONTEXT, ags=ags)
    assert r.status_code == 302, (r.status_code, r.text[:300])


@pytest.fixture(scope="module")
def lms(lms_hub):
    launch13(lms_hub, "pb-teacher", TEACHER)
    for sub in ("pb-alice", "pb-bob"):
        launch13(lms_hub, sub)
    return lms_hub


def test_lti13_scores_reach_the_platform_one_line_item_per_assignment(lms):
    r = api(lms, COURSE, "POST", scores("ps1", 2.0, **{"pb-alice": 2.0, "pb-bob": 0.0}))
    assert r.status_code == 202, r.text
    done = settle(lms, lambda e: e[("ps1", "pb-alice")]["status"] == "sent" and e[("ps1", "pb-bob")]["status"] == "sent")
    assert done[("ps1", "pb-alice")]["status"] == "sent", done
    items = [li for li in lms.platform.lineitems(CONTEXT["id"]) if li.get("resourceId") == resource_id(COURSE, "ps1")]
    assert len(items) == 1 and items[0]["scoreMaximum"] == 2.0 and items[0]["label"] == "Problem set ps1", items
    latest = lms.platform.latest_scores(items[0])
    assert {u: (s["scoreGiven"], s["scoreMaximum"], s["gradingProgress"]) for u, s in latest.items()} == {
        "pb-alice": (2.0, 2.0, "FullyGraded"), "pb-bob": (0.0, 2.0, "FullyGraded")}
    assert lms.platform.token_log(rejected=True) == [], "the strict token endpoint refused the hub's assertion"

    # Idempotent: the same scores again send nothing; a changed one only that; "send again" resends
    # but never creates a second line item.
    history = len(lms.platform.scores(items[0]))
    api(lms, COURSE, "POST", scores("ps1", 2.0, **{"pb-alice": 2.0, "pb-bob": 0.0}))
    assert len(lms.platform.scores(items[0])) == history
    api(lms, COURSE, "POST", scores("ps1", 2.0, **{"pb-bob": 1.0}))
    settle(lms, lambda e: e[("ps1", "pb-bob")]["status"] == "sent" and e[("ps1", "pb-bob")]["score"] == 1.0)
    assert lms.platform.latest_scores(items[0])["pb-bob"]["scoreGiven"] == 1.0
    r = api(lms, COURSE, "POST", {}, suffix="/resend")
    assert r.status_code == 200, r.text
    settle(lms, lambda e: all(x["status"] == "sent" for x in e.values() if x["assignment"] == "ps1"))
    assert len([li for li in lms.platform.lineitems(CONTEXT["id"]) if li.get("resourceId") == resource_id(COURSE, "ps1")]) == 1


def test_platform_down_then_back_nothing_lost(lms):
    revoked = lms.platform.revoke_tokens()  # the LMS restarted: the hub's cached token is refused
    assert revoked >= 1
    lms.platform.fail_token(503, times=2)
    lms.platform.fail_scores(429, times=1, retry_after=1)
    r = api(lms, COURSE, "POST", scores("ps2", 5.0, **{"pb-alice": 4.0}))
    assert r.status_code == 202
    first = entries(lms)[("ps2", "pb-alice")]
    assert first["status"] == "pending" and "HTTP 401" in first["last_error"], first
    errors = []
    for _ in range(6):  # the hub keeps the entry and retries it once its backoff has passed
        errors.append(entries(lms)[("ps2", "pb-alice")]["last_error"])
        make_due(lms)
        found = settle(lms, lambda e: e[("ps2", "pb-alice")]["status"] == "sent", timeout=2)
        if found[("ps2", "pb-alice")]["status"] == "sent":
            break
    entry = entries(lms)[("ps2", "pb-alice")]
    assert entry["status"] == "sent" and entry["attempts"] >= 4, (entry, errors)
    assert any("token endpoint: HTTP 503" in e for e in errors) and any("HTTP 429" in e for e in errors), errors
    assert len([t for t in lms.platform.token_log(rejected=True) if t["status"] == 503]) == 2
    item = next(li for li in lms.platform.lineitems(CONTEXT["id"]) if li.get("resourceId") == resource_id(COURSE, "ps2"))
    assert lms.platform.latest_scores(item)["pb-alice"]["scoreGiven"] == 4.0


def test_a_launch_without_the_grade_service_says_why(lms):
    launch13(lms, "pb-noags", ags=False)
    api(lms, COURSE, "POST", scores("ps1", 2.0, **{"pb-noags": 1.0, "pb-never-launched": 1.0}))
    found = entries(lms)
    assert found[("ps1", "pb-noags")]["status"] == "blocked"
    assert "no Assignment and Grade Services claim" in found[("ps1", "pb-noags")]["last_error"]
    assert found[("ps1", "pb-never-launched")]["status"] == "blocked"
    assert "no launch of pb-never-launched from intro101" in found[("ps1", "pb-never-launched")]["last_error"]
    # Once the student launches with the grade service, the blocked score goes.
    launch13(lms, "pb-noags")
    done = settle(lms, lambda e: e[("ps1", "pb-noags")]["status"] == "sent")
    assert done[("ps1", "pb-noags")]["status"] == "sent", done[("ps1", "pb-noags")]


def test_only_the_courses_grader_may_post_and_only_when_it_is_on(lms):
    payload = scores("ps1", 2.0, **{"pb-alice": 0.0})
    other_course = lms.secrets["service-token-data201"]
    for label, token in (("another course's grader", other_course), ("an admin", lms.secrets["test-inspector"]),
                         ("no token", "")):
        r = api(lms, COURSE, "POST", payload, token=token)
        assert r.status_code == 403, (label, r.status_code, r.text)
    student = requests.Session()  # a student's browser session, logged in by a launch
    r = lms.platform.launch(student, lms.url, sub="pb-student-attacker", roles=LEARNER, context=CONTEXT)
    assert r.status_code == 302
    r = student.post(f"{lms.url}/hub/api/jhlti/passback/{COURSE}", json=payload, timeout=30)
    assert r.status_code == 403, r.text
    assert entries(lms)[("ps1", "pb-alice")]["score"] != 0.0, "a refused post changed a score"
    r = api(lms, "data201", "POST", payload)
    assert r.status_code == 409 and "off" in r.text
    assert api(lms, COURSE, "POST", {"assignment": "ps1", "max_score": 1, "scores": [{"student": "x", "score": 5}]}).status_code == 400


def test_lti11_outcomes_go_to_the_link_that_names_the_assignment(lms):
    consumer = lms.consumer
    launch_url = lms.url + "/hub/lti/launch"
    for link, custom in (("rl-ps3", {"assignment": "ps3"}), ("rl-general", None)):
        r = consumer.launch(requests.Session(), launch_url, user_id="pb-dave", roles="Learner",
                            context_id=CONTEXT["id"], resource_link_id=link, custom=custom)
        assert r.status_code == 302, r.text[:300]
    api(lms, COURSE, "POST", scores("ps3", 4.0, **{"pb-dave": 3.0}))
    done = settle(lms, lambda e: e[("ps3", "pb-dave")]["status"] == "sent")
    assert done[("ps3", "pb-dave")]["status"] == "sent", done[("ps3", "pb-dave")]
    results = consumer.results()
    assert {k: v["score"] for k, v in results.items()} == {f"{CONTEXT['id']}:rl-ps3:pb-dave": 0.75}, results
    assert consumer.outcome_log(rejected=True) == []
