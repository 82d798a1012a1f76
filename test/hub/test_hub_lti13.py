"""LTI 1.3 launches: OIDC login initiation, the platform's signed id_token, the callback."""

import json
import time
from pathlib import Path

import pytest
import requests

from conftest import CLIENT_ID, INTRO_IMAGE, INTRO_R_IMAGE, login_cookie, record_forgery
from lti_platform import LIS

CONTEXT = {"id": "ctx-intro101", "label": "INTRO", "title": "Introduction",
           "type": [LIS + "course#CourseOffering"]}
TEACHER = [LIS + "institution/person#Instructor", LIS + "membership#Instructor", LIS + "system/person#User"]
LEARNER = [LIS + "institution/person#Student", LIS + "membership#Learner", LIS + "system/person#User"]


def test_login_and_callback_map_roles_and_context(hub):
    teacher = requests.Session()
    r = hub.lti13.launch(teacher, hub.url, sub="lti13-teacher", roles=TEACHER, context=CONTEXT)
    assert r.status_code == 302, r.text[:500]
    assert login_cookie(teacher)
    learner = requests.Session()
    r = hub.lti13.launch(learner, hub.url, sub="lti13-learner", roles=LEARNER, context=CONTEXT)
    assert r.status_code == 302, r.text[:500]

    assert set(hub.user("lti13-teacher")["groups"]) == {"nbgrader-intro101", "formgrade-intro101"}
    assert set(hub.user("lti13-learner")["groups"]) == {"nbgrader-intro101"}
    state = hub.user("lti13-learner")["auth_state"]
    assert state["jhlti"]["protocol"] == "lti13" and state["jhlti"]["role"] == "student"
    assert state["https://purl.imsglobal.org/spec/lti/claim/context"]["id"] == "ctx-intro101"


def spawn(hub, name, server="intro101", stop=True) -> dict:
    """Start the user's course server through the API; what the spawner gave it."""
    r = hub.api("POST", f"/users/{name}/servers/{server}")
    assert r.status_code in (201, 202), r.text
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        found = hub.user(name)["servers"].get(server)
        if found and found["ready"]:
            break
        time.sleep(0.5)
    else:
        pytest.fail(f"server {server} of {name} not ready:\n{hub.log_text()[-4000:]}")
    record = json.loads(Path(hub.tmp, "spawns", f"{name}--{server}.json").read_text())
    if stop:
        assert hub.api("DELETE", f"/users/{name}/servers/{server}").status_code in (202, 204)
    return record


def test_custom_image_only_from_allow_list_and_distinct_uids(hub):
    cases = [
        ("img-allowed", {"image": INTRO_R_IMAGE}, INTRO_R_IMAGE),
        ("img-foreign", {"image": "docker.io/someone/cryptominer:latest"}, INTRO_IMAGE),
        ("img-none", None, INTRO_IMAGE),
    ]
    uids = set()
    for name, custom, image in cases:
        r = hub.lti13.launch(requests.Session(), hub.url, sub=name, roles=LEARNER, context=CONTEXT, custom=custom)
        assert r.status_code == 302, r.text[:500]
        record = spawn(hub, name)
        assert record["image"] == image, name
        assert record["course"] == record["JHLTI_COURSE_ID"] == "intro101"
        uids.add(int(record["NB_UID"]))
    assert "not allowed in course intro101" in hub.log_text()
    # uid_base + the hub's user id: one Unix identity per user for nbgrader's exchange
    assert len(uids) == len(cases) and min(uids) > 20000
    # ...recorded for the graders before each server started (strict collect)
    recorded = json.loads(Path(hub.tmp, "uids", "uids.json").read_text())
    assert {recorded[name] for name, _, _ in cases} == uids


def test_undeclared_context_gets_course_not_set_up(hub):
    session = requests.Session()
    r = hub.lti13.launch(session, hub.url, sub="lti13-lost", roles=LEARNER,
                         context={**CONTEXT, "id": "ctx-unknown-13"})
    assert r.status_code == 403
    assert "This course is not set up on this JupyterHub" in r.text
    assert not login_cookie(session)
    assert hub.user("lti13-lost") is None


def forged(hub, name, expected, *, token=None, state=None, fresh_session=False, **token_args):
    """Run the login with a session, then deliver a forged callback; nothing may log in."""
    session = requests.Session()
    auth_request = hub.lti13.login(session, hub.url)
    sub = "forged-" + name.replace(" ", "-")
    id_token = token or hub.lti13.id_token(
        auth_request, **{"sub": sub, "roles": TEACHER, "context": CONTEXT, **token_args})
    sender = requests.Session() if fresh_session else session
    r = hub.lti13.callback(sender, auth_request, id_token, state=state)
    record_forgery("LTI 1.3 " + name, r.status_code, hub.last_error())
    assert r.status_code == expected, r.text[:500]
    assert not login_cookie(sender)
    assert hub.user(sub) is None


def test_key_not_in_jwks_rejected(hub):
    forged(hub, "id_token signed by a key not in the JWKS (unknown kid)", 400,
           key=hub.lti13.rogue_key, kid="rogue-key")


def test_key_not_in_jwks_claiming_platform_kid_rejected(hub):
    forged(hub, "id_token signed by a key not in the JWKS (platform's kid)", 400, key=hub.lti13.rogue_key)


def test_wrong_audience_rejected(hub):
    forged(hub, "wrong aud", 401, aud="some-other-tool")


def test_wrong_issuer_rejected(hub):
    forged(hub, "wrong iss", 400, iss="https://evil.example.org")


def test_stale_iat_rejected(hub):
    forged(hub, "iat one hour old", 400, iat=int(time.time()) - 3600)


def test_expired_rejected(hub):
    forged(hub, "exp in the past", 400, exp=int(time.time()) - 60)


def test_nonce_mismatch_rejected(hub):
    forged(hub, "nonce not from this login", 400, nonce="0" * 64)


def test_missing_state_cookie_rejected(hub):
    forged(hub, "missing state cookie", 400, fresh_session=True)


def test_mismatched_state_rejected(hub):
    forged(hub, "state not matching the cookie", 400, state="bm90LXRoZS1zdGF0ZQ==")


def test_unknown_deployment_rejected(hub):
    forged(hub, "deployment_id not registered", 403,
           **{"https://purl.imsglobal.org/spec/lti/claim/deployment_id": "deployment-x"})


def test_replayed_id_token_rejected(hub):
    session = requests.Session()
    auth_request = hub.lti13.login(session, hub.url)
    token = hub.lti13.id_token(auth_request, sub="replayed-13", roles=LEARNER, context=CONTEXT)
    assert hub.lti13.callback(session, auth_request, token).status_code == 302
    same_browser = requests.Session()  # the first browser's cookies, minus the login it got
    for cookie in session.cookies:
        if not cookie.name.startswith("jupyterhub-"):
            same_browser.cookies.set_cookie(cookie)
    for label, replay in (("same browser", same_browser), ("other browser", requests.Session())):
        r = hub.lti13.callback(replay, auth_request, token)
        record_forgery(f"LTI 1.3 replayed id_token + state ({label})", r.status_code, hub.last_error())
        assert r.status_code == 400
        assert not login_cookie(replay)


def test_anonymous_launch_rejected(hub):
    session = requests.Session()
    auth_request = hub.lti13.login(session, hub.url)
    token = hub.lti13.id_token(auth_request, sub="", roles=LEARNER, context=CONTEXT)
    r = hub.lti13.callback(session, auth_request, token)
    record_forgery("LTI 1.3 anonymous launch (empty sub)", r.status_code, hub.last_error())
    assert r.status_code == 400
    assert not login_cookie(session)
