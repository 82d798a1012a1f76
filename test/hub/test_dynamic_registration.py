"""LTI Dynamic Registration in a real hub, with a platform side that follows the 1EdTech Dynamic
Registration messages (test/peers/lti13_platform.py on lti1p3platform: OpenID configuration,
strict registration endpoint with a one-time bearer token): the operator's one-time URL
completes a registration once; the printed lti13.platforms entry, deployed (a hub started with
it), accepts launches from that platform; wrong, reused or missing tokens are refused; a hub
without dynamic registration has no such URL."""

from __future__ import annotations

import html
import json
import os
import re
import subprocess
import sys
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
import requests

from conftest import CONTEXT_IDS, running_hub, stack_document

LEARNER = ["http://purl.imsglobal.org/vocab/lis/v2/membership#Learner"]
CONTEXT = {"id": CONTEXT_IDS["intro101"], "label": "INTRO"}


def config_entry(entry: dict) -> dict:
    """An lti13.platforms entry (config names) as stack.json holds it (what the constructs write)."""
    return {"issuer": entry["issuer"], "client_ids": entry["clientIds"], "deployment_ids": entry["deploymentIds"],
            "authorize_url": entry["authorizeUrl"], "jwks_url": entry["jwksUrl"], "token_url": entry["tokenUrl"]}


@pytest.fixture(scope="module")
def platform():
    from lti13_platform import Lti13Platform as PeerPlatform

    p = PeerPlatform(issuer="https://placeholder.invalid", client_id="unregistered", deployment_id="none").start()
    p.use_url_as_issuer()
    yield p
    p.close()


@pytest.fixture(scope="module")
def registering_hub(tmp_path_factory, platform):
    tmp = tmp_path_factory.mktemp("dynreg-hub")

    def make_stack(ports):
        doc = stack_document(ports, platform)
        doc["lti13"]["dynamic_registration"] = True
        return doc

    with running_hub(tmp, make_stack) as (url, values, log):
        yield {"url": url, "tmp": tmp, "log": log}


def make_token(hub) -> str:
    """What `registration-token <env>` runs in the hub container."""
    p = subprocess.run([sys.executable, "-m", "jupyterhub_lti_stack.dynamic_registration", "--db", str(hub["tmp"] / "launches.sqlite"),
                        "--stack", str(hub["tmp"] / "stack.json"), "token", "--hours", "1"],
                       capture_output=True, text=True, timeout=60, env={**os.environ})
    assert p.returncode == 0, p.stderr
    url = urlsplit(p.stdout.strip())
    assert f"{url.scheme}://{url.netloc}{url.path}" == hub["url"] + "/hub/lti13/dynamic-registration"
    assert "one registration, until" in p.stderr
    return parse_qs(url.query)["jhlti_registration"][0]


def open_registration(hub, platform, token: str | None, platform_token: str | None = None) -> requests.Response:
    """What the LMS does with the pasted URL: open it with its own query parameters added."""
    query = {"openid_configuration": platform.url + "/.well-known/openid-configuration"}
    if token is not None:
        query["jhlti_registration"] = token
    if platform_token is not None:
        query["registration_token"] = platform_token
    return requests.get(f"{hub['url']}/hub/lti13/dynamic-registration?{urlencode(query)}", timeout=60)


def snippet(r) -> dict:
    return json.loads(html.unescape(re.search(r'<pre id="jhlti-snippet-json">(.*?)</pre>', r.text, re.S).group(1)))


def test_registration_completes_once_and_its_entry_accepts_launches_once_deployed(registering_hub, platform, tmp_path):
    token = make_token(registering_hub)
    r = open_registration(registering_hub, platform, token, platform.issue_registration_token())
    assert r.status_code == 200, (r.status_code, r.text[:800])
    [done] = platform.registrations()
    request, answer = done["request"], done["answer"]
    assert request["initiate_login_uri"] == registering_hub["url"] + "/hub/lti13/oauth_login"
    assert request["redirect_uris"] == [registering_hub["url"] + "/hub/lti13/oauth_callback"]
    assert request["jwks_uri"] == registering_hub["url"] + "/hub/lti13/jwks"
    assert {m["type"] for m in request["https://purl.imsglobal.org/spec/lti-tool-configuration"]["messages"]} == {
        "LtiResourceLinkRequest", "LtiDeepLinkingRequest"}
    entry = snippet(r)
    assert entry == {"issuer": platform.issuer, "clientIds": [answer["client_id"]],
                     "deploymentIds": [answer["https://purl.imsglobal.org/spec/lti-tool-configuration"]["deployment_id"]],
                     "authorizeUrl": platform.authorize_url, "jwksUrl": platform.jwks_url, "tokenUrl": platform.token_url}
    assert "lti13.platforms" in r.text and "org.imsglobal.lti.close" in r.text
    # The URL was good for one registration.
    r = open_registration(registering_hub, platform, token, platform.issue_registration_token())
    assert r.status_code == 403 and "no valid one-time token" in r.text
    # The registration is kept: `list` prints the entry again.
    p = subprocess.run([sys.executable, "-m", "jupyterhub_lti_stack.dynamic_registration", "--db",
                        str(registering_hub["tmp"] / "launches.sqlite"), "--stack", str(registering_hub["tmp"] / "stack.json"), "list"],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 0 and f'clientIds: ["{answer["client_id"]}"]' in p.stdout, p.stdout + p.stderr

    # Before the next deploy, the registering hub does not know the platform.
    r = platform.launch(requests.Session(), registering_hub["url"], sub="dr-early", roles=LEARNER, context=CONTEXT)
    assert r.status_code == 400 and "no LTI 1.3 registration" in r.text

    # "Deploy again" with the entry added: a hub whose stack.json has it accepts the platform's launches.
    def with_entry(ports):
        doc = stack_document(ports, platform)
        doc["lti13"]["platforms"].append(config_entry(entry))
        return doc

    (tmp_path / "redeployed").mkdir()
    with running_hub(tmp_path / "redeployed", with_entry) as (url, _, _):
        platform.register_tool(tool_url=url, tool_login_url=url + "/hub/lti13/oauth_login",
                               tool_redirect_uris=[url + "/hub/lti13/oauth_callback"], tool_jwks_url=url + "/hub/lti13/jwks")
        r = platform.launch(requests.Session(), url, sub="dr-student", roles=LEARNER, context=CONTEXT)
        assert r.status_code == 302 and r.headers["Location"].startswith("/hub/spawn/dr-student"), (r.status_code, r.text[:300])


@pytest.mark.parametrize("token", [None, "", "not-a-token"])
def test_without_a_valid_token_nothing_is_registered(registering_hub, platform, token):
    before = len(platform.registrations())
    r = open_registration(registering_hub, platform, token, platform.issue_registration_token())
    assert r.status_code == 403 and "one-time token" in r.text
    assert len(platform.registrations()) == before


def test_a_refused_registration_keeps_the_url_valid(registering_hub, platform):
    token = make_token(registering_hub)
    r = open_registration(registering_hub, platform, token, "a-token-the-platform-never-gave")
    assert r.status_code == 502 and "refused the registration" in r.text, r.text[:500]
    r = open_registration(registering_hub, platform, token, platform.issue_registration_token())
    assert r.status_code == 200, r.text[:500]


def test_an_issuer_off_the_configuration_host_is_refused(registering_hub, platform):
    token = make_token(registering_hub)
    saved = platform.issuer
    platform.issuer = "https://elsewhere.example.test"
    try:
        r = open_registration(registering_hub, platform, token, platform.issue_registration_token())
    finally:
        platform.issuer = saved
    assert r.status_code == 502 and "not on the host of its OpenID configuration URL" in r.text


def test_not_offered_unless_enabled(lms_hub, tmp_path):
    r = requests.get(lms_hub.url + "/hub/lti13/dynamic-registration?jhlti_registration=x&openid_configuration=x", timeout=30)
    assert r.status_code == 404
    p = subprocess.run([sys.executable, "-m", "jupyterhub_lti_stack.dynamic_registration", "--db", str(tmp_path / "l.sqlite"),
                        "--stack", str(lms_hub.tmp / "stack.json"), "token"], capture_output=True, text=True, timeout=60)
    assert p.returncode == 2 and "Dynamic Registration is off" in p.stderr
