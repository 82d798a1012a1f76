"""The persisted grade passback queue (passback.PassbackQueue): what is resent, when, and that
nothing is lost; delivery against real LMS peers is in test_passback.py."""

from __future__ import annotations

from jupyterhub_lti_stack.launch_store import LaunchStore
from jupyterhub_lti_stack.passback import MAX_ATTEMPTS, PassbackError, PassbackQueue

SCORES = [{"student": "alice", "score": 2.0, "timestamp": "2026-11-29T10:00:00+00:00"},
          {"student": "bob", "score": 0.0, "timestamp": "2026-11-29T10:01:00+00:00"}]


def queue(tmp_path) -> PassbackQueue:
    return PassbackQueue(LaunchStore(tmp_path / "launches.sqlite"))


def test_unchanged_sent_scores_are_not_queued_again(tmp_path):
    q = queue(tmp_path)
    assert q.submit("c", "ps1", 2.0, "PS 1", SCORES, now=100) == 2
    for e in q.due(100):
        q.sent(e, 101)
    assert q.due(1000) == []
    assert q.submit("c", "ps1", 2.0, "PS 1", SCORES, now=200) == 0, "the same scores again: nothing to send"
    changed = [{**SCORES[1], "score": 1.0}]
    assert q.submit("c", "ps1", 2.0, "PS 1", changed, now=300) == 1
    assert [(e.student, e.score) for e in q.due(300)] == [("bob", 1.0)]
    assert q.submit("c", "ps1", 3.0, "PS 1", SCORES[:1], now=400) == 1, "a new max score resends"


def test_failures_back_off_then_give_up_and_are_reported(tmp_path):
    q = queue(tmp_path)
    q.submit("c", "ps1", 2.0, "PS 1", SCORES[:1], now=0)
    now = 0.0
    for attempt in range(1, MAX_ATTEMPTS + 1):
        [entry] = q.due(now)
        q.failed(entry, PassbackError("token endpoint: HTTP 503"), now)
        status = q.status("c")[0]
        assert status["attempts"] == attempt and status["last_error"] == "token endpoint: HTTP 503"
        if attempt < MAX_ATTEMPTS:
            assert status["status"] == "pending" and q.due(now) == [], "retried later, not at once"
            now += 3601
    assert q.status("c")[0]["status"] == "failed" and q.due(now + 10**6) == []
    assert q.resend_all("c", now) == 1 and len(q.due(now)) == 1, "the instructor's resend queues it again"


def test_retry_after_is_honoured(tmp_path):
    q = queue(tmp_path)
    q.submit("c", "ps1", 2.0, "PS 1", SCORES[:1], now=0)
    [entry] = q.due(0)
    q.failed(entry, PassbackError("HTTP 429", retry_after=120), 0)
    assert q.due(119) == [] and len(q.due(120)) == 1


def test_blocked_entries_wait_for_the_students_next_launch(tmp_path):
    q = queue(tmp_path)
    q.submit("c", "ps1", 2.0, "PS 1", SCORES, now=0)
    for e in q.due(0):
        q.failed(e, PassbackError("no launch of it yet", retry=False), 0)
    assert q.due(10**9) == [] and {s["status"] for s in q.status("c")} == {"blocked"}
    assert q.unblock("alice", "other-course", 5) == 0
    assert q.unblock("alice", "c", 5) == 1
    assert [e.student for e in q.due(5)] == ["alice"]


def test_the_queue_survives_a_restart(tmp_path):
    q = queue(tmp_path)
    q.submit("c", "ps1", 2.0, "PS 1", SCORES, now=0)
    q.remember_lineitem("https://lms/ctx/lineitems", "nbgrader:c:ps1", "https://lms/ctx/lineitems/7")
    again = queue(tmp_path)
    assert {e.student for e in again.due(0)} == {"alice", "bob"}
    assert again.lineitem("https://lms/ctx/lineitems", "nbgrader:c:ps1") == "https://lms/ctx/lineitems/7"
