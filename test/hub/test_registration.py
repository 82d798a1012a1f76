"""What an LMS fetches to register the tool (LTI 1.1 XML, LTI 1.3 JSON, the tool's JWKS), the
replay protection of launches, and the per-(user, course) launch records grade passback reads."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import jwt
import requests
from cryptography.hazmat.primitives import serialization

import pytest

from conftest import CONTEXT_IDS, GOLDEN, HUBTEST, login_cookie, record_forgery
from jupyterhub_lti_stack.contract import URL_PATHS
from jupyterhub_lti_stack.keys import public_jwk
from jupyterhub_lti_stack.launch import NRPS_SCOPE
from jupyterhub_lti_stack.launch_store import LaunchStore
from jupyterhub_lti_stack.passback import AGS_LINEITEM, AGS_SCORE
from jupyterhub_lti_stack.registration import lti11_config_xml, lti13_config
from jupyterhub_lti_stack.stack import parse_stack

BLTI = "{http://www.imsglobal.org/xsd/imsbasiclti_v1p0}"
LTICM = "{http://www.imsglobal.org/xsd/imslticm_v1p0}"
LEARNER = ["http://purl.imsglobal.org/vocab/lis/v2/membership#Learner"]
AGS_CLAIM = "https://purl.imsglobal.org/spec/lti-ags/claim/endpoint"


def test_lti11_config_xml(hub):
    r = requests.get(hub.url + URL_PATHS["lti11_config"], timeout=10)
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"].startswith("application/xml")
    root = ET.fromstring(r.content)
    assert root.find(f"{BLTI}launch_url").text == hub.url + URL_PATHS["lti11_launch"]
    assert root.find(f"{BLTI}title").text == f"JupyterHub ({HUBTEST['environment']})"


def test_lti13_config_json_names_the_real_endpoints_and_the_keyset(hub):
    r = requests.get(hub.url + URL_PATHS["lti13_config"], timeout=10)
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"].startswith("application/json")
    config = r.json()
    assert config["oidc_initiation_url"] == hub.url + URL_PATHS["lti13_login"]
    assert config["redirect_uris"] == [hub.url + URL_PATHS["lti13_callback"]]
    assert config["public_jwk_url"] == hub.url + URL_PATHS["lti13_jwks"]
    assert "https://purl.imsglobal.org/spec/lti-ags/scope/score" in config["scopes"]
    # Every URL it names answers (the keyset, the login initiation; not the start page).
    assert requests.get(config["public_jwk_url"], timeout=10).status_code == 200
    assert requests.get(config["oidc_initiation_url"], timeout=10, allow_redirects=False).status_code != 404


# What Canvas accepts from a developer key's "Enter URL" (canvas-lms lib/schemas/lti/
# tool_configuration.rb and doc/api/lti_dev_key_config.md): the required keys, the keys it
# knows (redirect_uris is read by its newer LTI registrations), the scopes and privacy levels it
# allows, and a few of its placements.
CANVAS_REQUIRED = {"title", "description", "target_link_uri", "oidc_initiation_url"}
CANVAS_KEYS = CANVAS_REQUIRED | {"public_jwk", "public_jwk_url", "scopes", "extensions", "custom_fields",
                                 "oidc_initiation_urls", "redirect_uris", "icon_url"}
CANVAS_SCOPES = {
    "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem",
    "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem.readonly",
    "https://purl.imsglobal.org/spec/lti-ags/scope/result.readonly",
    "https://purl.imsglobal.org/spec/lti-ags/scope/score",
    "https://purl.imsglobal.org/spec/lti-nrps/scope/contextmembership.readonly",
    "https://canvas.instructure.com/lti/public_jwk/scope/update",
}
CANVAS_PRIVACY = {"anonymous", "name_only", "email_only", "public"}
CANVAS_PLACEMENTS = {"course_navigation", "assignment_selection", "link_selection"}
LTI13_GOLDENS = sorted(p.name for p in GOLDEN.glob("*.stack.json") if json.loads(p.read_text())["lti13"]["enabled"])


def golden_stack(name: str):
    return parse_stack(json.loads((GOLDEN / name).read_text()))


@pytest.mark.parametrize("name", LTI13_GOLDENS)
def test_lti13_config_is_what_canvas_enter_url_accepts(name):
    stack = golden_stack(name)
    config = lti13_config(stack)
    base = stack.public_url
    assert CANVAS_REQUIRED <= set(config) <= CANVAS_KEYS, sorted(config)
    assert all(isinstance(config[k], str) and config[k] for k in CANVAS_REQUIRED)
    assert config["public_jwk_url"] == base + URL_PATHS["lti13_jwks"]
    assert config["oidc_initiation_url"] == base + URL_PATHS["lti13_login"]
    # One URL for both: platforms that allow the launch URL as redirect URI need nothing else.
    assert config["target_link_uri"] == base + URL_PATHS["lti13_callback"]
    assert config["redirect_uris"] == [config["target_link_uri"]]
    # Exactly the scopes grade passback asks the token endpoint for, and the roster's where a
    # course is pre-warmed on a schedule, all of them Canvas scopes.
    roster = [NRPS_SCOPE] if any(c.prewarm is not None for c in stack.courses) else []
    assert config["scopes"] == [AGS_LINEITEM, AGS_SCORE, *roster] and set(config["scopes"]) <= CANVAS_SCOPES
    [canvas] = config["extensions"]
    assert canvas["platform"] == "canvas.instructure.com"
    assert canvas["privacy_level"] in CANVAS_PRIVACY
    assert canvas["domain"] == base.split("://")[1].split(":")[0]
    placements = canvas["settings"]["placements"]
    assert {p["placement"] for p in placements} == CANVAS_PLACEMENTS
    for p in placements:
        # Adding content asks the tool (deep linking); the course tab launches.
        want = "LtiResourceLinkRequest" if p["placement"] == "course_navigation" else "LtiDeepLinkingRequest"
        assert p["message_type"] == want, p
        assert p["target_link_uri"] == config["target_link_uri"]
    json.dumps(config)  # served as JSON


def test_canvas_opens_the_course_tab_in_a_new_window_unless_framing_is_allowed():
    window, framed = golden_stack("hubtest.stack.json"), golden_stack("chem.stack.json")
    assert not window.frame_ancestors and framed.frame_ancestors

    def nav(stack):
        [placement] = [p for p in lti13_config(stack)["extensions"][0]["settings"]["placements"]
                       if p["placement"] == "course_navigation"]
        return placement

    assert nav(window)["windowTarget"] == "_blank"
    assert "windowTarget" not in nav(framed)


def test_lti11_config_xml_asks_canvas_for_no_personal_data():
    stack = golden_stack("demo.stack.json")
    root = ET.fromstring(lti11_config_xml(stack).encode())
    assert root.find(f"{BLTI}launch_url").text == stack.public_url + URL_PATHS["lti11_launch"]
    [extension] = root.findall(f"{BLTI}extensions")
    assert extension.get("platform") == "canvas.instructure.com"
    privacy = {e.get("name"): e.text for e in extension.findall(f"{LTICM}property")}["privacy_level"]
    assert privacy == "anonymous"  # Canvas sends the opaque user_id at every level


def test_jwks_publishes_the_signing_keys_by_thumbprint(hub):
    r = requests.get(hub.url + URL_PATHS["lti13_jwks"], timeout=10)
    assert r.status_code == 200
    assert r.headers["Content-Type"].startswith("application/json")
    keys = r.json()["keys"]
    pem = hub.secrets[HUBTEST["lti13"]["signing_keys"][0]["secret_file"]].encode()
    expected = public_jwk(serialization.load_pem_private_key(pem, password=None))
    assert keys == [expected]
    assert {"kid", "n", "e", "kty", "alg", "use"} <= set(keys[0]) and keys[0]["alg"] == "RS256"
    assert "d" not in keys[0] and "p" not in keys[0], "a private member in the public keyset"
    # A token signed with the tool's key verifies against the published keyset (what a platform does).
    token = jwt.encode({"iss": "tool"}, pem, algorithm="RS256", headers={"kid": keys[0]["kid"]})
    public = jwt.PyJWK(keys[0]).key
    assert jwt.decode(token, public, algorithms=["RS256"])["iss"] == "tool"


def test_lti13_launch_replayed_with_the_browsers_cookies_is_refused(hub):
    session = requests.Session()
    auth_request = hub.lti13.login(session, hub.url)
    captured = requests.Session()  # everything an attacker saw of the browser before the launch
    for cookie in session.cookies:
        captured.cookies.set_cookie(cookie)
    token = hub.lti13.id_token(auth_request, sub="replay-with-cookies", roles=LEARNER,
                               context={"id": CONTEXT_IDS["intro101"], "label": "INTRO"})
    assert hub.lti13.callback(session, auth_request, token).status_code == 302
    r = hub.lti13.callback(captured, auth_request, token)
    record_forgery("LTI 1.3 replayed id_token + state with the browser's cookies", r.status_code, hub.last_error())
    assert r.status_code == 400
    assert not login_cookie(captured)


def test_launch_records_are_kept_per_user_and_course(hub):
    """A launch from course B must not erase what passback needs for course A."""
    ags = {"lineitems": "https://lms.example.org/ags/ctx/lineitems", "scope": ["https://purl.imsglobal.org/spec/lti-ags/scope/score"]}
    for course in ("intro101", "data201"):
        session = requests.Session()
        r = hub.lti13.launch(session, hub.url, sub="two-course-student", roles=LEARNER,
                             context={"id": CONTEXT_IDS[course], "label": course},
                             **{AGS_CLAIM: {**ags, "lineitems": ags["lineitems"] + "/" + course}})
        assert r.status_code == 302, r.text
    lti11 = requests.Session()
    r = hub.lti11.post(lti11, hub.lti11.sign({
        "user_id": "lti11-student", "roles": "Learner", "context_id": CONTEXT_IDS["intro101"],
        "resource_link_id": "rl-1", "lis_outcome_service_url": "https://lms.example.org/outcomes",
        "lis_result_sourcedid": "sourcedid-1", "custom_assignment": "ps1",
    }))
    assert r.status_code == 302, r.text
    store = LaunchStore(hub.tmp / "launches.sqlite")
    a, b = store.launch("two-course-student", "intro101"), store.launch("two-course-student", "data201")
    assert a.ags["lineitems"].endswith("/intro101") and b.ags["lineitems"].endswith("/data201")
    assert a.protocol == "lti13" and a.platform == HUBTEST["lti13"]["platforms"][0]["issuer"] and a.deployment_id
    one = store.launch("lti11-student", "intro101")
    assert (one.protocol, one.outcome_service_url, one.result_sourcedid, one.custom) == (
        "lti11", "https://lms.example.org/outcomes", "sourcedid-1", {"assignment": "ps1"})
    assert one.platform == hub.lti11.key
    assert oct((hub.tmp / "launches.sqlite").stat().st_mode & 0o777) == "0o600"
    print(json.dumps([r.__dict__ for r in store.launches("intro101")], default=str)[:300])
