"""LTI 1.1 launches, signed by oauthlib, into the real hub."""

import time
import uuid

import requests

from conftest import login_cookie, record_forgery


def canvas_launch(user_id, roles, context_id, **extra):
    return {
        "user_id": user_id,
        "roles": roles,
        "context_id": context_id,
        "context_label": "INTRO",
        "context_title": "Introduction",
        "resource_link_id": "rl-" + context_id,
        "lis_person_contact_email_primary": f"{user_id}@example.org",
        "tool_consumer_info_product_family_code": "canvas",
        "launch_presentation_document_target": "window",
        **extra,
    }


def launch(hub, params, **sign_args):
    session = requests.Session()
    response = hub.lti11.post(session, hub.lti11.sign(params, **sign_args))
    return session, response


def oauth_to_formgrader(hub, session, course):
    """Ask the hub to authorize this browser for the course's formgrader service."""
    return session.get(
        hub.url + "/hub/api/oauth2/authorize",
        params={"client_id": f"service-{course}", "response_type": "code", "state": "s1",
                "redirect_uri": f"/services/{course}/oauth_callback"},
        allow_redirects=False,
    )


def groups(hub, name):
    return set(hub.user(name)["groups"])


def test_instructor_and_learner_land_in_course_groups(hub):
    teacher, r = launch(hub, canvas_launch("t-535fa085", "Instructor", "ctx-intro101"))
    assert r.status_code == 302, r.text[:500]
    assert login_cookie(teacher)
    learner, r = launch(hub, canvas_launch("s-86157096", "Learner", "ctx-intro101"))
    assert r.status_code == 302, r.text[:500]
    assert login_cookie(learner)

    assert groups(hub, "t-535fa085") == {"nbgrader-intro101", "formgrade-intro101"}
    assert groups(hub, "s-86157096") == {"nbgrader-intro101"}
    state = hub.user("t-535fa085")["auth_state"]
    assert state["jhlti"] == {"protocol": "lti11", "course": "intro101", "role": "instructor",
                              "requested_image": None, "message_type": None, "assignment": None}
    assert not any(k.startswith("oauth_") for k in state)

    allowed = oauth_to_formgrader(hub, teacher, "intro101")
    assert allowed.status_code == 302
    assert allowed.headers["Location"].startswith("/services/intro101/oauth_callback?code=")
    assert oauth_to_formgrader(hub, learner, "intro101").status_code == 403
    assert oauth_to_formgrader(hub, teacher, "data201").status_code == 403


def test_memberships_merge_across_courses(hub):
    _, r = launch(hub, canvas_launch("t-two-courses", "Instructor", "ctx-intro101"))
    assert r.status_code == 302
    # same person, learner in a second course (an Open edX context id this time)
    session, r = launch(hub, canvas_launch("t-two-courses", "Student", "course-v1:edX+Data+2026"))
    assert r.status_code == 302
    assert groups(hub, "t-two-courses") == {"nbgrader-intro101", "formgrade-intro101", "nbgrader-data201"}
    assert oauth_to_formgrader(hub, session, "intro101").status_code == 302
    assert oauth_to_formgrader(hub, session, "data201").status_code == 403
    # the latest launch decides the course the next server starts in
    assert hub.user("t-two-courses")["auth_state"]["jhlti"]["course"] == "data201"


def test_undeclared_context_gets_course_not_set_up(hub):
    session, r = launch(hub, canvas_launch("s-lost", "Learner", "ctx-nobody-declared%s"))
    assert r.status_code == 403
    assert "This course is not set up on this JupyterHub" in r.text
    assert "ctx-nobody-declared%s" in r.text
    assert not login_cookie(session)
    assert hub.user("s-lost") is None
    assert "undeclared context 'ctx-nobody-declared%s'" in hub.log_text()


def test_login_page_points_to_the_lms(hub):
    r = requests.get(hub.url + "/hub/login")
    assert r.status_code == 200
    assert "Open JupyterHub from your course" in r.text


def assert_rejected(hub, name, session, response, username, status):
    record_forgery(name, response.status_code, hub.last_error())
    assert response.status_code == status, response.text[:500]
    assert not login_cookie(session)
    assert hub.user(username) is None


def test_wrong_secret_rejected(hub):
    session, r = launch(hub, canvas_launch("f-secret", "Instructor", "ctx-intro101"), secret="not-the-secret")
    assert_rejected(hub, "LTI 1.1 wrong shared secret", session, r, "f-secret", 401)


def test_unknown_consumer_key_rejected(hub):
    session, r = launch(hub, canvas_launch("f-key", "Instructor", "ctx-intro101"), key="unknown-key")
    assert_rejected(hub, "LTI 1.1 unknown consumer key", session, r, "f-key", 401)


def test_stale_timestamp_rejected(hub):
    session, r = launch(hub, canvas_launch("f-stale", "Instructor", "ctx-intro101"), timestamp=int(time.time()) - 120)
    assert_rejected(hub, "LTI 1.1 timestamp 120 s old", session, r, "f-stale", 401)


def test_replayed_nonce_rejected(hub):
    body = hub.lti11.sign(canvas_launch("f-replay", "Learner", "ctx-intro101"), nonce=uuid.uuid4().hex)
    first = requests.Session()
    assert hub.lti11.post(first, body).status_code == 302
    replay = requests.Session()
    r = hub.lti11.post(replay, body)
    record_forgery("LTI 1.1 replayed launch (same nonce + timestamp)", r.status_code, hub.last_error())
    assert r.status_code == 401
    assert not login_cookie(replay)


def test_tampered_parameters_rejected(hub):
    body = hub.lti11.sign(canvas_launch("f-tamper", "Learner", "ctx-intro101"))
    session = requests.Session()
    r = hub.lti11.post(session, body.replace("Learner", "Instructor"))
    assert_rejected(hub, "LTI 1.1 role changed after signing", session, r, "f-tamper", 401)


def test_custom_next_stays_on_the_hub(hub):
    _, r = launch(hub, canvas_launch("s-next", "Learner", "ctx-intro101", custom_next="/hub/home"))
    assert (r.status_code, r.headers["Location"]) == (302, "/hub/home")
    for target in ("https://evil.example.org/", "//evil.example.org/x", "/\\evil.example.org"):
        _, r = launch(hub, canvas_launch("s-next", "Learner", "ctx-intro101", custom_next=target))
        assert r.status_code == 302
        assert "evil" not in r.headers["Location"], target


def test_grader_account_is_in_formgrade_group_and_cannot_be_launched_into(hub):
    assert hub.user("grader-intro101")["groups"] == ["formgrade-intro101"]
    session, r = launch(hub, canvas_launch("grader-intro101", "Instructor", "ctx-intro101"))
    assert_rejected_existing(hub, "LTI 1.1 launch as the reserved grader account", session, r, 403)


def assert_rejected_existing(hub, name, session, response, status):
    record_forgery(name, response.status_code, hub.last_error())
    assert response.status_code == status, response.text[:500]
    assert not login_cookie(session)
