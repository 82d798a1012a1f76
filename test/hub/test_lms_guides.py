"""The registration guides (docs/lms/*.md) against the real hub: every message their failure
tables quote is one the hub really answers to the mistake the table names (or, where a launch in
this tier cannot cause it, one its source really raises), and a launch made with the URLs the
guides register lands in the launching course's server."""

from __future__ import annotations

import html
import inspect
import re
import time
from pathlib import Path
from typing import Callable
from urllib.parse import parse_qs, urlparse

import jwt
import pytest
import requests

from conftest import CONTEXT_IDS, DEPLOYMENT_ID, ROOT, login_cookie
from jupyterhub_lti_stack import passback
from jupyterhub_lti_stack.contract import URL_PATHS
from lti_platform import CLAIM, LIS

GUIDES = sorted((ROOT / "docs" / "lms").glob("*.md"))
LEARNER = [LIS + "membership#Learner"]
TEACHER = [LIS + "membership#Instructor"]
CONTEXT = {"id": CONTEXT_IDS["intro101"], "label": "INTRO"}


def quoted_messages(guide: Path) -> list[str]:
    """The messages in the first column of the guide's "When something fails" table."""
    text = guide.read_text()
    section = text.split("## When something fails", 1)
    assert len(section) == 2, f"{guide.name} has no failure table"
    rows = [line for line in section[1].splitlines() if line.startswith("| `")]
    return [re.match(r"\| `([^`]+)` \|", row).group(1) for row in rows]


def appears(message: str, text: str) -> bool:
    """The message's fixed parts, in order, on one line ("…" stands for what differs between
    launches: a value in the hub's answer, a placeholder such as {e.student} in the code)."""
    pattern = "[^\n]*?".join(re.escape(part) for part in message.split("…"))
    return re.search(pattern, text) is not None


def joined_literals(source: str) -> str:
    """Python source with adjacent string literals joined, as the interpreter joins them."""
    return re.sub(r'"\s*\n\s*f?"', "", source)


# --- LTI 1.1 ---------------------------------------------------------------------------------


def lti11(hub, *, params: dict | None = None, **sign) -> requests.Response:
    body = {"user_id": f"guide-{time.monotonic_ns()}", "roles": "Learner", "context_id": CONTEXT["id"],
            "resource_link_id": "rl-guide", **(params or {})}
    body = {k: v for k, v in body.items() if v is not None}
    return hub.lti11.post(requests.Session(), hub.lti11.sign(body, **sign))


def lti11_twice(hub) -> requests.Response:
    body = hub.lti11.sign({"user_id": "guide-twice", "roles": "Learner", "context_id": CONTEXT["id"], "resource_link_id": "rl"})
    assert hub.lti11.post(requests.Session(), body).status_code == 302
    return hub.lti11.post(requests.Session(), body)


# --- LTI 1.3 ---------------------------------------------------------------------------------


def lti13(hub, *, fresh_session: bool = False, **token) -> requests.Response:
    session = requests.Session()
    auth_request = hub.lti13.login(session, hub.url)
    claims = {"sub": f"guide-{time.monotonic_ns()}", "roles": LEARNER, "context": CONTEXT, **token}
    sender = requests.Session() if fresh_session else session
    return hub.lti13.callback(sender, auth_request, hub.lti13.id_token(auth_request, **claims))


def lti13_reloaded(hub) -> requests.Response:
    """The page of a launch reloaded: the login step's cookie is spent (also after a refusal)."""
    session = requests.Session()
    auth_request = hub.lti13.login(session, hub.url)
    token = hub.lti13.id_token(auth_request, sub="guide-reload-13", roles=LEARNER, context={"id": "ctx-later", "label": "L"})
    assert hub.lti13.callback(session, auth_request, token).status_code == 403  # not set up yet
    return hub.lti13.callback(session, auth_request, token)


# Each message a guide may quote, and the mistakes that make the hub answer it.
SCENARIOS: dict[str, tuple[Callable, ...]] = {
    "unknown oauth_consumer_key": (lambda hub: lti11(hub, key="not-the-environments-key"),),
    "Invalid oauth_signature": (lambda hub: lti11(hub, secret="not-the-environments-secret"),),
    "Timestamp given is invalid, differ from allowed by over … seconds.": (lambda hub: lti11(hub, timestamp=int(time.time()) - 600),),
    "oauth_nonce + oauth_timestamp already used": (lti11_twice,),
    "Required LTI 1.1 arg arg user_id not included in request": (lambda hub: lti11(hub, params={"user_id": None}),),
    "This course is not set up on this JupyterHub: the LMS context … is not declared in the stack configuration.": (
        lambda hub: lti13(hub, context={"id": "ctx-not-declared", "label": "NOPE"}),
        lambda hub: lti11(hub, params={"context_id": "ctx-not-declared-11"}),
    ),
    "Invalid issuer": (lambda hub: lti13(hub, iss="https://another-lms.example.org"),),
    "Audience doesn't match": (lambda hub: lti13(hub, aud="another-client-id"),),
    'Unable to find a signing key that matches: "…"': (lambda hub: lti13(hub, key=hub.lti13.rogue_key, kid="another-platforms-key"),),
    "Unknown LTI 1.3 deployment '…'": (lambda hub: lti13(hub, **{CLAIM + "deployment_id": "another-deployment"}),),
    "OAuth state missing from cookies": (lambda hub: lti13(hub, fresh_session=True), lti13_reloaded),
    "Signature has expired": (lambda hub: lti13(hub, iat=int(time.time()) - 400, exp=int(time.time()) - 100),),
}
CASES = [(message, i) for message, scenarios in sorted(SCENARIOS.items()) for i in range(len(scenarios))]

# Messages no launch in this tier can cause (the hub reaching out to the platform, grade passback,
# proven in test_passback.py), checked in the code that raises them.
RAISED_BY: dict[str, str] = {
    'Fail to fetch data from the url, err: "…"': inspect.getsource(jwt.PyJWKClient),
    "…'s LTI 1.3 launch of … carried no Assignment and Grade Services claim with line items and scores; enable grade "
    "sync (AGS) in the tool's LMS registration, then the student launches again": inspect.getsource(passback),
    "…'s LTI 1.1 launch of … carried no outcome service (lis_outcome_service_url, lis_result_sourcedid)": inspect.getsource(passback),
    "no launch of … from … that takes …'s score (LTI 1.3, or an LTI 1.1 link with the custom parameter assignment=…); "
    "the score is sent once there is one": inspect.getsource(passback),
}


def test_there_are_four_guides_each_with_a_failure_table():
    assert [g.name for g in GUIDES] == ["canvas.md", "moodle.md", "openedx.md", "openhpi.md"]
    for guide in GUIDES:
        assert len(quoted_messages(guide)) >= 8, guide.name


@pytest.mark.parametrize("guide", GUIDES, ids=lambda g: g.name)
def test_a_guide_quotes_only_messages_proven_here(guide):
    unknown = [m for m in quoted_messages(guide) if m not in SCENARIOS and m not in RAISED_BY]
    assert unknown == [], f"{guide.name} quotes messages no test here proves: {unknown}"


def test_every_proven_message_is_quoted_by_a_guide():
    quoted = {m for g in GUIDES for m in quoted_messages(g)}
    assert set(SCENARIOS) | set(RAISED_BY) <= quoted


@pytest.mark.parametrize("message,case", CASES)
def test_the_hub_answers_the_mistake_with_the_message_the_guides_quote(hub, message, case):
    r = SCENARIOS[message][case](hub)
    shown = html.unescape(r.text)
    assert 400 <= r.status_code < 500, (r.status_code, shown[:300])
    assert appears(message, shown), f"the hub's page lacks {message!r}:\n{shown[:1500]}"


@pytest.mark.parametrize("message", sorted(RAISED_BY))
def test_messages_from_outside_a_launch_are_the_code_s_own(message):
    assert appears(message, joined_literals(RAISED_BY[message])), message


def test_a_launch_with_the_registered_urls_lands_in_the_course_server(hub):
    """What the guides register: login at the login initiation URL with the launch URL as target
    (lti13_redirect_url, also the redirect URI), the id_token posted to it, the course's server next."""
    launch_url = hub.url + URL_PATHS["lti13_callback"]
    session = requests.Session()
    r = session.post(hub.url + URL_PATHS["lti13_login"], allow_redirects=False, data={
        "iss": hub.lti13.issuer, "login_hint": "hint", "target_link_uri": launch_url,
        "client_id": hub.lti13.client_id, "lti_deployment_id": DEPLOYMENT_ID})
    assert r.status_code == 302, r.text[:300]
    auth_request = {k: v[0] for k, v in parse_qs(urlparse(r.headers["Location"]).query).items()}
    assert auth_request["redirect_uri"] == launch_url, "the hub asks for another redirect URI than the guides register"
    token = hub.lti13.id_token(auth_request, sub="guide-first-launch", roles=TEACHER, context=CONTEXT,
                               **{CLAIM + "target_link_uri": launch_url})
    r = hub.lti13.callback(session, auth_request, token)
    assert r.status_code == 302, r.text[:300]
    assert r.headers["Location"].endswith("/hub/spawn/guide-first-launch/intro101"), r.headers["Location"]
    assert login_cookie(session)
