"""iframe mode in the real hub (frame.py): the frame policy and cross-site cookies on every
response, the check page a launch answers with, the cookie check, and the one-time new-window
continuation of a launch whose cookies the frame lost.

The hub tier serves plain http on 127.0.0.1, where a client does not send back ``Secure``
cookies; the tests pass them on by hand (a browser in an HTTPS frame is the e2e tier's)."""

from __future__ import annotations

import html
import re
from http.cookies import SimpleCookie
from urllib.parse import parse_qs, urlparse

import pytest
import requests

from conftest import CONTEXT_IDS, CLIENT_ID, DEPLOYMENT_ID, HUBTEST, ISSUER, Hub, running_hub, stack_document
from lti_platform import Lti11Consumer, Lti13Platform
from jupyterhub_lti_stack.contract import SECRET_FILES
from test_hub_lti11 import canvas_launch
from test_hub_lti13 import LEARNER

LMS = ["https://lms.example.edu", "https://canvas.example.edu:8443"]
POLICY = "frame-ancestors https://lms.example.edu https://canvas.example.edu:8443; report-uri /hub/security/csp-report"
SERVER = {c["id"]: c["server_name"] for c in HUBTEST["courses"]}


@pytest.fixture(scope="module")
def framed(tmp_path_factory) -> Hub:
    tmp = tmp_path_factory.mktemp("framed-hub")
    platform = Lti13Platform(ISSUER, CLIENT_ID, DEPLOYMENT_ID)

    def make_stack(ports):
        doc = stack_document(ports, platform)
        doc["frame_ancestors"] = LMS
        return doc

    try:
        with running_hub(tmp, make_stack) as (url, values, log):
            yield Hub(url=url, tmp=tmp, log=log, api_token=values["test-inspector"], secrets=values,
                      lti11=Lti11Consumer(url + "/hub/lti/launch", values[SECRET_FILES["lti11_consumer_key"]],
                                          values[SECRET_FILES["lti11_shared_secret"]]),
                      lti13=platform)
    finally:
        platform.close()


def set_cookies(response: requests.Response) -> dict[str, dict]:
    """name -> attributes (lower-case) of every Set-Cookie of a response."""
    result = {}
    for header in response.raw.headers.getlist("Set-Cookie"):
        cookie = SimpleCookie()
        cookie.load(header)
        for name, morsel in cookie.items():
            attrs = {k: v for k, v in morsel.items() if v}
            attrs["value"] = morsel.value
            attrs["raw"] = header
            result[name] = attrs
    return result


def cookie_header(*responses: requests.Response) -> str:
    return "; ".join(f"{n}={a['value']}" for r in responses for n, a in set_cookies(r).items() if a["value"])


def assert_cross_site(cookies: dict[str, dict]):
    assert cookies, "no cookie set"
    for name, attrs in cookies.items():
        assert re.search(r";\s*SameSite=None", attrs["raw"], re.I), f"{name}: {attrs['raw']}"
        assert re.search(r";\s*Secure", attrs["raw"], re.I), f"{name}: {attrs['raw']}"


def form_of(page: str) -> tuple[str, dict[str, str]]:
    """Action and hidden fields of the check page's new-window form."""
    form = re.search(r'<form id="jhlti-new-window" method="post" action="([^"]*)" target="_blank">(.*?)</form>', page, re.S)
    assert form, page[:2000]
    fields = dict(re.findall(r'<input type="hidden" name="([^"]*)" value="([^"]*)">', form.group(2)))
    return html.unescape(form.group(1)), {html.unescape(k): html.unescape(v) for k, v in fields.items()}


def test_every_hub_page_may_be_framed_by_the_lms_only(framed):
    for path in ("/hub/lti/start", "/hub/health", "/hub/login", "/hub/api/", "/hub/lti13/jwks"):
        r = requests.get(framed.url + path, allow_redirects=False, timeout=10)
        assert r.headers.get("Content-Security-Policy") == POLICY, (path, r.headers.get("Content-Security-Policy"))


def test_lti11_launch_answers_with_the_check_page_and_cross_site_cookies(framed):
    r = framed.lti11.post(requests.Session(), framed.lti11.sign(canvas_launch("fr-alice", "Learner", CONTEXT_IDS["intro101"])))
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/html"), (r.status_code, r.text[:300])
    assert r.headers["Cache-Control"] == "no-store"
    assert r.headers["Content-Security-Policy"] == POLICY
    cookies = set_cookies(r)
    assert "jupyterhub-hub-login" in cookies, cookies.keys()
    assert_cross_site(cookies)
    # Goes on to the course's server when the cookie comes back ...
    assert f'"/hub/spawn/fr-alice/{SERVER["intro101"]}"' in r.text
    assert '"/hub/jhlti/frame-check?for=session"' in r.text
    # ... else offers the same launch in a new window.
    action, fields = form_of(r.text)
    assert action == "/hub/jhlti/continue" and set(fields) == {"token"} and len(fields["token"]) >= 40


def test_the_cookie_check_says_whether_the_login_cookie_came_back(framed):
    r = framed.lti11.post(requests.Session(), framed.lti11.sign(canvas_launch("fr-bob", "Learner", CONTEXT_IDS["intro101"])))
    check = framed.url + "/hub/jhlti/frame-check"
    assert requests.get(check, params={"for": "session"}, timeout=10).json() == {"ok": False}
    with_cookie = requests.get(check, params={"for": "session"}, headers={"Cookie": cookie_header(r)}, timeout=10)
    assert with_cookie.json() == {"ok": True} and with_cookie.headers["Cache-Control"] == "no-store"
    assert requests.get(check, params={"for": "state"}, timeout=10).json() == {"ok": False}
    assert requests.get(check, params={"for": "anything"}, timeout=10).status_code == 400


def test_the_continuation_logs_in_once_in_a_new_window(framed):
    r = framed.lti11.post(requests.Session(), framed.lti11.sign(canvas_launch("fr-carol", "Learner", CONTEXT_IDS["data201"])))
    action, fields = form_of(r.text)
    # The new window: no cookie of the frame at all.
    first = requests.post(framed.url + action, data=fields, allow_redirects=False, timeout=10)
    assert first.status_code == 302 and first.headers["Location"] == f"/hub/spawn/fr-carol/{SERVER['data201']}"
    assert "jupyterhub-hub-login" in set_cookies(first)
    assert_cross_site(set_cookies(first))
    who = requests.get(framed.url + "/hub/api/user", headers={"Cookie": cookie_header(first)}, timeout=10)
    assert who.status_code == 200 and who.json()["name"] == "fr-carol"
    again = requests.post(framed.url + action, data=fields, allow_redirects=False, timeout=10)
    assert again.status_code == 400 and "used already or has expired" in again.text
    assert "jupyterhub-hub-login" not in set_cookies(again)
    for bad in ({"token": "x" * 43}, {"token": ""}, {}):
        r = requests.post(framed.url + action, data=bad, allow_redirects=False, timeout=10)
        assert r.status_code == 400 and "jupyterhub-hub-login" not in set_cookies(r), bad


def test_lti13_login_checks_the_state_cookie_before_going_to_the_platform(framed):
    params = {
        "iss": ISSUER, "login_hint": "hint-1", "target_link_uri": framed.url + "/hub",
        "lti_message_hint": "message-hint-1", "client_id": CLIENT_ID, "lti_deployment_id": DEPLOYMENT_ID,
    }
    r = requests.post(framed.url + "/hub/lti13/oauth_login", data=params, allow_redirects=False, timeout=10)
    assert r.status_code == 200, (r.status_code, r.text[:300])
    cookies = set_cookies(r)
    assert {"lti13authenticator-state", "lti13authenticator-nonce-state"} <= set(cookies), cookies.keys()
    assert_cross_site(cookies)
    assert '"/hub/jhlti/frame-check?for=state"' in r.text
    # The authentication request the page goes on to is the one the redirect would be.
    next_url = re.search(r'var next = ("[^"]*")', r.text).group(1)
    auth = urlparse(next_url.strip('"').replace("\\u0026", "&"))
    assert f"{auth.scheme}://{auth.netloc}{auth.path}" == framed.lti13.authorize_url
    request = {k: v[0] for k, v in parse_qs(auth.query).items()}
    assert request["login_hint"] == "hint-1" and request["lti_message_hint"] == "message-hint-1"
    assert request["redirect_uri"].endswith("/hub/lti13/oauth_callback") and request["prompt"] == "none"
    # The new-window form starts the same login there.
    action, fields = form_of(r.text)
    assert action == "/hub/lti13/oauth_login" and fields == params
    check = framed.url + "/hub/jhlti/frame-check"
    assert requests.get(check, params={"for": "state"}, headers={"Cookie": cookie_header(r)}, timeout=10).json() == {"ok": True}
    # With the cookies, the platform's answer logs in and leads to the course's server.
    token = framed.lti13.id_token(request, sub="fr-dave", roles=LEARNER, context={"id": CONTEXT_IDS["intro101"]})
    done = requests.post(request["redirect_uri"], data={"id_token": token, "state": request["state"]},
                         headers={"Cookie": cookie_header(r)}, allow_redirects=False, timeout=10)
    assert done.status_code == 302 and done.headers["Location"] == f"/hub/spawn/fr-dave/{SERVER['intro101']}", done.text[:300]
    assert_cross_site(set_cookies(done))


def test_the_check_page_escapes_what_it_embeds():
    from jupyterhub_lti_stack.frame import check_page

    page = check_page(next_url='/x"</script><script>alert(1)</script>', check="session",
                      form_action='/a"><b>', form_fields={'t"': '"><script>'})
    assert "<script>alert(1)" not in page and '"><b>' not in page and '"><script>' not in page
    assert page.count("<script>") == 1


def test_logging_out_inside_the_frame_clears_the_cookies_there(framed):
    r = framed.lti11.post(requests.Session(), framed.lti11.sign(canvas_launch("fr-erin", "Learner", CONTEXT_IDS["intro101"])))
    out = requests.get(framed.url + "/hub/logout", headers={"Cookie": cookie_header(r)}, allow_redirects=False, timeout=10)
    cleared = {n: a for n, a in set_cookies(out).items() if not a["value"]}
    assert "jupyterhub-hub-login" in cleared, set_cookies(out).keys()
    assert_cross_site(cleared)


def test_new_window_mode_refuses_every_frame_and_has_no_frame_routes(hub):
    r = requests.get(hub.url + "/hub/lti/start", timeout=10)
    assert r.headers["Content-Security-Policy"].startswith("frame-ancestors 'none'"), r.headers["Content-Security-Policy"]
    assert requests.get(hub.url + "/hub/jhlti/frame-check?for=session", timeout=10).status_code == 404
    r = hub.lti11.post(requests.Session(), hub.lti11.sign(canvas_launch("nw-alice", "Learner", CONTEXT_IDS["intro101"])))
    assert r.status_code == 302  # straight on: no check page
    assert not re.search(r"SameSite=None", " ".join(r.raw.headers.getlist("Set-Cookie")), re.I)
