"""Several LTI 1.3 platforms launching into one hub (lti13.platforms), each an lti1p3platform
peer with its own keys, endpoints and deployment: every launch is checked against the platform it
names, its user is that platform's user, and grade passback goes back to that platform."""

from __future__ import annotations

import hashlib
import sqlite3

import pytest
import requests

from conftest import CLIENT_ID, CONTEXT_IDS, DEPLOYMENT_ID, ISSUER, record_forgery, running_hub, stack_document
from jupyterhub_lti_stack.contract import SECRET_FILES  # noqa: F401 (the secrets the hub reads)
from jupyterhub_lti_stack.launch_store import LaunchStore
from jupyterhub_lti_stack.passback import resource_id

LEARNER = ["http://purl.imsglobal.org/vocab/lis/v2/membership#Learner"]
COURSE = "intro101"  # grade passback on
CONTEXT = {"id": CONTEXT_IDS[COURSE], "label": "INTRO", "title": "Introduction"}
SECOND = "https://second-lms.example.test"


def suffixed(sub: str, issuer: str) -> str:
    return f"{sub}-{hashlib.sha256(issuer.encode()).hexdigest()[:8]}"


@pytest.fixture(scope="module")
def two(tmp_path_factory):
    from lti13_platform import Lti13Platform as PeerPlatform

    tmp = tmp_path_factory.mktemp("two-platforms")
    first = PeerPlatform(issuer=ISSUER, client_id=CLIENT_ID, deployment_id=DEPLOYMENT_ID).start()
    second = PeerPlatform(issuer=SECOND, client_id="second-client", deployment_id="second-deployment").start()
    # The same LMS registered a second time (another client id, its own keys): a third platform.
    second_again = PeerPlatform(issuer=SECOND, client_id="second-client-2", deployment_id="second-deployment-2").start()
    try:
        def make_stack(ports: dict) -> dict:
            doc = stack_document(ports, first)
            doc["lti13"]["platforms"][0]["token_url"] = first.token_url
            for p in (second, second_again):
                doc["lti13"]["platforms"].append({
                    "issuer": p.issuer, "client_ids": [p.client_id], "authorize_url": p.authorize_url,
                    "jwks_url": p.jwks_url, "deployment_ids": [p.deployment_id], "token_url": p.token_url,
                })
            return doc

        with running_hub(tmp, make_stack) as (url, values, log):
            for p in (first, second, second_again):
                p.register_tool(tool_url=url)
            yield {"url": url, "tmp": tmp, "log": log, "secrets": values, "first": first, "second": second,
                   "second_again": second_again}
    finally:
        for p in (first, second, second_again):
            p.close()


def launch(two, platform, sub: str, **kwargs):
    return platform.launch(requests.Session(), two["url"], sub=sub, roles=LEARNER, context=CONTEXT, **kwargs)


def test_the_same_sub_on_two_platforms_is_two_users(two):
    for p in (two["first"], two["second"]):
        r = launch(two, p, "5")
        assert r.status_code == 302, (p.issuer, r.status_code, r.text[:300])
    store = LaunchStore(two["tmp"] / "launches.sqlite")
    mine, theirs = store.launch("5", COURSE), store.launch(suffixed("5", SECOND), COURSE)
    assert (mine.platform, mine.client_id, mine.user_id) == (ISSUER, CLIENT_ID, "5")
    assert (theirs.platform, theirs.client_id, theirs.user_id) == (SECOND, "second-client", "5")
    # Another registration of the same LMS is the same LMS: its user "5" is the same person.
    r = launch(two, two["second_again"], "5")
    assert r.status_code == 302, r.text[:300]
    assert store.launch(suffixed("5", SECOND), COURSE).client_id == "second-client-2"
    with sqlite3.connect(two["tmp"] / "launches.sqlite") as db:
        assert sorted(db.execute("SELECT issuer, username FROM lti13_identities WHERE subject = '5'")) == sorted(
            [(ISSUER, "5"), (SECOND, suffixed("5", SECOND))])


def test_a_sub_that_looks_like_another_platforms_user_name_gets_its_own(two):
    """The first platform's user named like the second's suffixed user is still someone else."""
    r = launch(two, two["second"], "7")
    assert r.status_code == 302, r.text[:300]
    r = launch(two, two["first"], suffixed("7", SECOND))
    assert r.status_code == 302, r.text[:300]
    with sqlite3.connect(two["tmp"] / "launches.sqlite") as db:
        names = dict(db.execute("SELECT issuer || ' ' || subject, username FROM lti13_identities"))
    assert names[f"{SECOND} 7"] == suffixed("7", SECOND)
    assert names[f"{ISSUER} {suffixed('7', SECOND)}"] not in (suffixed("7", SECOND), "7")


def test_each_launch_is_checked_against_its_own_platform(two):
    # Login initiation from an issuer the hub does not know: refused before any redirect.
    r = requests.post(two["url"] + "/hub/lti13/oauth_login", data={
        "iss": "https://unknown-lms.example.test", "login_hint": "x", "target_link_uri": two["url"] + "/hub",
        "client_id": "x"}, allow_redirects=False, timeout=10)
    assert r.status_code == 400 and "no LTI 1.3 registration" in r.text, r.text[:300]
    record_forgery("LTI 1.3 login initiation from an unknown issuer", r.status_code, "no LTI 1.3 registration")
    # The second platform signing with a key the hub does not have from it (the first's key).
    second = two["second"]
    own = second.registration._platform_private_key
    second.registration.set_platform_private_key(two["first"].private_key)
    try:
        r = launch(two, second, "forger")
    finally:
        second.registration.set_platform_private_key(own)
    assert r.status_code in (400, 401), r.text[:300]
    record_forgery("LTI 1.3 id_token of platform 2 signed with platform 1's key", r.status_code)
    # A deployment the second platform does not have here (each platform has its own list).
    r = launch(two, second, "other-deployment", extra_claims={
        "https://purl.imsglobal.org/spec/lti/claim/deployment_id": DEPLOYMENT_ID})
    assert r.status_code == 403 and "Unknown LTI 1.3 deployment" in r.text, r.text[:300]


def test_grades_go_back_to_the_platform_each_student_came_from(two):
    for p, sub in ((two["first"], "pb-1"), (two["second"], "pb-1")):
        assert launch(two, p, sub).status_code == 302
    body = {"assignment": "ps9", "max_score": 4.0, "label": "Problem set 9", "scores": [
        {"student": "pb-1", "score": 3.0, "timestamp": "2026-11-29T10:00:00+00:00"},
        {"student": suffixed("pb-1", SECOND), "score": 1.0, "timestamp": "2026-11-29T10:00:00+00:00"}]}
    token = two["secrets"][f"service-token-{COURSE}"]
    url = f"{two['url']}/hub/api/jhlti/passback/{COURSE}"
    r = requests.post(url, json=body, headers={"Authorization": f"token {token}"}, timeout=60)
    assert r.status_code == 202, r.text
    for _ in range(100):
        found = requests.get(url, headers={"Authorization": f"token {token}"}, timeout=60).json()["entries"]
        if all(e["status"] == "sent" for e in found if e["assignment"] == "ps9"):
            break
    assert all(e["status"] == "sent" for e in found if e["assignment"] == "ps9"), found
    for p, score in ((two["first"], 3.0), (two["second"], 1.0)):
        [item] = [li for li in p.lineitems(CONTEXT["id"]) if li.get("resourceId") == resource_id(COURSE, "ps9")]
        assert {u: s["scoreGiven"] for u, s in p.latest_scores(item).items()} == {"pb-1": score}, p.issuer
        assert p.token_log(rejected=True) == [], p.issuer
