"""Self-tests of the LMS-side peers: a correct client (written here on PyJWT + requests +
oauthlib, as the hub's own client will be) gets through, and every refusal a strict LMS makes
is made. The last test runs both peers as a container on a throwaway Docker network."""

from __future__ import annotations

import datetime
import html
import json
import re
import subprocess
import time
import uuid
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit
from xml.sax.saxutils import escape

import jwt
import lti
import pytest
import requests
from lxml import etree
from oauthlib.oauth1 import SIGNATURE_HMAC_SHA1, Client, RequestValidator, SignatureOnlyEndpoint
from requests_oauthlib import OAuth1

from peer_testkit import CLIENT_ID, DEPLOYMENT_ID, ISSUER, LTI11_KEY, LTI11_SECRET, MiniTool, ToolKeys, make_test_certs
from lti13_platform import (AGS_CLAIM, CALLBACK_PATH, CLAIM, CONTAINER_TYPE, JWKS_PATH, LINEITEM, LINEITEM_READONLY,
                            LINEITEM_TYPE, LOGIN_PATH, RESULT_READONLY, SCORE, SCORE_TYPE, AuthorizationError,
                            Lti13Platform)
from peer_container import BASE_IMAGE, ROOT, PeerContainer
from peer_http import Served, http_session, reply, wsgi_app

LIS = "http://purl.imsglobal.org/vocab/lis/v2/"
LEARNER = [LIS + "membership#Learner"]
CONTEXT = {"id": "ctx-peertest-1", "label": "PT", "title": "Peer test", "type": [LIS + "course#CourseOffering"]}
ALL_AGS = [LINEITEM, RESULT_READONLY, SCORE]


# ------------------------------------------------------------------ a minimal correct tool-side client
def assertion(keys: ToolKeys, token_url: str, *, key=None, kid=None, algorithm="RS256", **overrides) -> str:
    """RFC 7523 client assertion: iss = sub = client_id, aud = token URL, iat, exp, jti; kid header."""
    now = int(time.time())
    claims = {"iss": CLIENT_ID, "sub": CLIENT_ID, "aud": token_url, "iat": now, "exp": now + 300,
              "jti": uuid.uuid4().hex, **overrides}
    return jwt.encode({k: v for k, v in claims.items() if v is not None}, key or keys.private_pem,
                      algorithm=algorithm, headers={"kid": kid or keys.kid})


def token_request(session, token_url: str, client_assertion: str, scopes=ALL_AGS, **form) -> requests.Response:
    data = {"grant_type": "client_credentials",
            "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            "client_assertion": client_assertion, "scope": " ".join(scopes), **form}
    return session.post(token_url, data=data, timeout=10)


def access_token(session, platform, keys, scopes=ALL_AGS) -> str:
    r = token_request(session, platform.token_url, assertion(keys, platform.token_url), scopes)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["token_type"] == "Bearer" and body["expires_in"] > 0 and set(body["scope"].split()) == set(scopes)
    return body["access_token"]


def sub_url(url: str, suffix: str) -> str:
    """AGS: scores/results are sub-paths of the line item URL, which may carry a query."""
    p = urlsplit(url)
    return urlunsplit(p._replace(path=p.path.rstrip("/") + "/" + suffix))


def find_or_create_lineitem(session, token, lineitems_url, *, resource_link_id, tag, label, score_maximum):
    auth = {"Authorization": f"Bearer {token}"}
    p = urlsplit(lineitems_url)
    query = urlencode([*parse_qsl(p.query), ("resource_link_id", resource_link_id), ("tag", tag)])
    r = session.get(urlunsplit(p._replace(query=query)), headers={**auth, "Accept": CONTAINER_TYPE}, timeout=10)
    assert r.status_code == 200, r.text
    for item in r.json():
        if item.get("tag") == tag and item.get("resourceLinkId") == resource_link_id:
            return item, False
    r = session.post(lineitems_url, data=json.dumps({"label": label, "scoreMaximum": score_maximum, "tag": tag,
                                                     "resourceLinkId": resource_link_id}),
                     headers={**auth, "Content-Type": LINEITEM_TYPE, "Accept": LINEITEM_TYPE}, timeout=10)
    assert r.status_code == 201, r.text
    return r.json(), True


def now_iso(offset_seconds: float = 0) -> str:
    moment = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=offset_seconds)
    return moment.isoformat(timespec="milliseconds")


def score(user_id="student-1", given=7.5, maximum=10, **overrides) -> dict:
    body = {"userId": user_id, "scoreGiven": given, "scoreMaximum": maximum, "activityProgress": "Completed",
            "gradingProgress": "FullyGraded", "timestamp": now_iso(), **overrides}
    return {k: v for k, v in body.items() if v is not None}


def post_score(session, token, lineitem_url, body, content_type=SCORE_TYPE) -> requests.Response:
    return session.post(sub_url(lineitem_url, "scores"), data=json.dumps(body),
                        headers={"Authorization": f"Bearer {token}", "Content-Type": content_type}, timeout=10)


NS = "http://www.imsglobal.org/services/ltiv1p1/xsd/imsoms_v1p0"


def pox(sourcedid: str, score_text: str | None = "0.7500", message_id: str | None = None, operation="replaceResult",
        ns=NS) -> bytes:
    """An LTI 1.1 Basic Outcomes request (the default namespace, no prefixes)."""
    result = (f"<result><resultScore><language>en</language><textString>{score_text}</textString></resultScore></result>"
              if score_text is not None else "")
    return (f'<?xml version="1.0" encoding="UTF-8"?>\n<imsx_POXEnvelopeRequest xmlns="{ns}"><imsx_POXHeader>'
            f"<imsx_POXRequestHeaderInfo><imsx_version>V1.0</imsx_version><imsx_messageIdentifier>"
            f"{escape(uuid.uuid4().hex if message_id is None else message_id)}</imsx_messageIdentifier>"
            f"</imsx_POXRequestHeaderInfo></imsx_POXHeader><imsx_POXBody><{operation}Request><resultRecord>"
            f"<sourcedGUID><sourcedId>{escape(sourcedid)}</sourcedId></sourcedGUID>{result}</resultRecord>"
            f"</{operation}Request></imsx_POXBody></imsx_POXEnvelopeRequest>").encode("utf-8")


def oauth_headers(url: str, body: bytes, key=LTI11_KEY, secret=LTI11_SECRET, content_type="application/xml") -> dict:
    """OAuth 1.0a HMAC-SHA1 header; oauthlib adds oauth_body_hash for a non-form body."""
    client = Client(key, client_secret=secret, signature_method=SIGNATURE_HMAC_SHA1)
    _, headers, _ = client.sign(url, http_method="POST", body=body.decode("utf-8"), headers={"Content-Type": content_type})
    return headers


def code_major(r: requests.Response) -> str:
    return etree.fromstring(r.content).findtext(f".//{{{NS}}}imsx_codeMajor")


# ------------------------------------------------------------------ LTI 1.3: launch
def test_hub_paths_agree_with_the_contract():
    paths = json.loads((ROOT / "images" / "hub" / "jupyterhub_lti_stack" / "contract.json").read_text())["url_paths"]
    assert (LOGIN_PATH, CALLBACK_PATH, JWKS_PATH) == (paths["lti13_login"], paths["lti13_callback"], paths["lti13_jwks"])


def test_launch_end_to_end_then_ags_with_the_claim(platform, tool_keys):
    session = http_session()
    tool = MiniTool(lambda: session.get(platform.jwks_url).json(), platform.authorize_url)
    try:
        platform.register_tool(tool_url=tool.url, tool_jwks_url=tool_keys.url)
        r = platform.launch(http_session(), tool.url, sub="student-1", roles=LEARNER, context=CONTEXT,
                            custom={"image": "r"}, resource_link_id="rl-7")
        assert r.status_code == 302 and r.headers["Location"] == "/hub/home", r.text
    finally:
        tool.close()
    (claims,), (header,) = tool.claims, tool.headers
    assert header["kid"] == platform.conf.get_jwks()["keys"][0]["kid"]
    assert claims["sub"] == "student-1" and claims["aud"] == CLIENT_ID and claims[CLAIM + "roles"] == LEARNER
    assert claims[CLAIM + "message_type"] == "LtiResourceLinkRequest" and claims[CLAIM + "version"] == "1.3.0"
    assert claims[CLAIM + "deployment_id"] == DEPLOYMENT_ID and claims[CLAIM + "target_link_uri"] == tool.url + "/hub"
    assert claims[CLAIM + "context"]["id"] == CONTEXT["id"] and claims[CLAIM + "custom"] == {"image": "r"}
    assert claims[CLAIM + "resource_link"]["id"] == "rl-7"
    ags = claims[AGS_CLAIM]
    assert ags["lineitems"] == platform.lineitems_url(CONTEXT["id"]) and set(ags["scope"]) == set(ALL_AGS)

    token = access_token(session, platform, tool_keys)
    item, created = find_or_create_lineitem(session, token, ags["lineitems"], resource_link_id="rl-7", tag="ps1",
                                            label="Problem set 1", score_maximum=10)
    assert created and item["id"].startswith(ags["lineitems"] + "/")
    again, created = find_or_create_lineitem(session, token, ags["lineitems"], resource_link_id="rl-7", tag="ps1",
                                             label="Problem set 1", score_maximum=10)
    assert not created and again == item
    assert post_score(session, token, item["id"], score("student-1", 7.5, 10)).status_code == 200
    assert post_score(session, token, item["id"], score("student-1", 9, 10, comment="regraded")).status_code == 200
    assert [s["scoreGiven"] for s in platform.scores(item)] == [7.5, 9]
    assert platform.latest_scores(item)["student-1"]["comment"] == "regraded"
    (li,) = platform.lineitems(CONTEXT["id"])
    assert (li["scoreMaximum"], li["tag"], li["label"], li["resourceLinkId"]) == (10, "ps1", "Problem set 1", "rl-7")
    r = session.get(sub_url(item["id"], "results"), headers={"Authorization": f"Bearer {token}"}, timeout=10)
    assert r.status_code == 200 and [(x["userId"], x["resultScore"]) for x in r.json()] == [("student-1", 9)]
    assert [e["status"] for e in platform.token_log()] == [200] and platform.jwks_fetches() == 1


def test_launch_options_message_type_and_no_ags(platform):
    tool = MiniTool(lambda: http_session().get(platform.jwks_url).json(), platform.authorize_url)
    try:
        r = platform.launch(http_session(), tool.url, sub="t-1", roles=LEARNER, context=CONTEXT, ags=False,
                            message_type="LtiDeepLinkingRequest", email="t@example.org")
        assert r.status_code == 302, r.text
    finally:
        tool.close()
    (claims,) = tool.claims
    assert AGS_CLAIM not in claims and claims[CLAIM + "message_type"] == "LtiDeepLinkingRequest"
    assert claims["email"] == "t@example.org" and CLAIM + "custom" not in claims


@pytest.mark.parametrize("mangle, reason", [
    (lambda a: a.update(redirect_uri="http://127.0.0.1:9/elsewhere"), "redirect_uri"),
    (lambda a: a.update(response_mode="query"), "response_mode"),
    (lambda a: a.update(response_type="code"), "response_type"),
    (lambda a: a.update(scope="profile"), "openid"),
    (lambda a: a.pop("prompt"), "prompt"),
    (lambda a: a.pop("nonce"), "nonce"),
    (lambda a: a.pop("state"), "state"),
    (lambda a: a.update(client_id="other-client"), "client_id"),
    (lambda a: a.update(login_hint="made-up"), "login_hint"),
    (lambda a: a.update(lti_message_hint="made-up"), "lti_message_hint"),
], ids=["redirect_uri", "response_mode", "response_type", "scope", "prompt", "nonce", "state", "client_id",
        "login_hint", "lti_message_hint"])
def test_authorization_request_is_checked(platform, mangle, reason):
    tool = MiniTool(lambda: {}, platform.authorize_url, mangle=mangle)
    try:
        with pytest.raises(AuthorizationError, match=reason):
            platform.launch(http_session(), tool.url, sub="s-1", roles=LEARNER, context=CONTEXT)
    finally:
        tool.close()
    assert tool.claims == []


def test_login_hint_is_single_use(platform):
    tool = MiniTool(lambda: {}, platform.authorize_url)
    try:
        start = platform.begin_launch(tool.url, sub="s-1", roles=LEARNER, context=CONTEXT)
        r = http_session().post(start["login_url"], data=start["form"], allow_redirects=False, timeout=10)
    finally:
        tool.close()
    query = dict(parse_qsl(urlsplit(r.headers["Location"]).query))
    assert platform.authorize(query)["launch_url"] == tool.url + CALLBACK_PATH
    with pytest.raises(AuthorizationError, match="login_hint"):
        platform.authorize(query)


def test_a_browser_at_the_authorization_endpoint_gets_the_id_token_form_post(platform):
    """What a real browser meets at /authorize: a page posting id_token and state to the tool's
    redirect URI; a broken request gets 400 naming what is wrong, and no id_token."""
    tool = MiniTool(lambda: http_session().get(platform.jwks_url).json(), platform.authorize_url)
    try:
        start = platform.begin_launch(tool.url, sub="s-browser", roles=LEARNER, context=CONTEXT)
        browser = http_session()
        r = browser.post(start["login_url"], data=start["form"], allow_redirects=False, timeout=10)
        page = browser.get(r.headers["Location"], timeout=10)
        assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/html")
        action = re.search(r'<form id="post" method="post" action="([^"]+)">', page.text).group(1)
        fields = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]+)">', page.text))
        assert html.unescape(action) == tool.url + CALLBACK_PATH and set(fields) == {"id_token", "state"}
        done = browser.post(html.unescape(action), data={k: html.unescape(v) for k, v in fields.items()},
                            allow_redirects=False, timeout=10)
        assert done.status_code == 302 and tool.claims[-1]["sub"] == "s-browser"
        again = browser.get(r.headers["Location"], timeout=10)  # the login was used
        assert again.status_code == 400 and "login_hint" in again.text and "id_token" not in again.text
    finally:
        tool.close()


def test_a_platform_reached_elsewhere_by_browsers_names_that_authorization_url():
    p = Lti13Platform(issuer=ISSUER, client_id=CLIENT_ID, deployment_id=DEPLOYMENT_ID,
                      public_url="https://platform.internal", browser_url="https://platform.example:8444/")
    assert p.authorize_url == "https://platform.example:8444/authorize"
    assert p.jwks_url == "https://platform.internal/jwks" and p.token_url == "https://platform.internal/token"
    assert p.begin_launch("https://tool.example", sub="s", roles=LEARNER)["authorize_url"] == p.authorize_url


def test_course_pages_embed_the_launch_and_are_served_once():
    from lms_pages import LmsPages

    pages = LmsPages()
    served = Served(wsgi_app(pages.handle))
    try:
        path = pages.put("https://tool.example/launch", {"a": "1", "b": ["x", "y"], "q": '"><script>'}, title="T <1>")
        page = http_session().get(served.url + path, timeout=10)
        assert page.status_code == 200 and page.headers["Cache-Control"] == "no-store"
        text = page.text
        assert text.index('<iframe name="tool"') < text.index('<form id="launch" method="post" action="https://tool.example/launch" target="tool">')
        assert text.count('name="b"') == 2 and '"><script>' not in text and "T &lt;1&gt;" in text
        assert http_session().get(served.url + path, timeout=10).status_code == 404
        framed = http_session().get(served.url + pages.put("https://tool.example/", target="frame-url"), timeout=10).text
        assert '<iframe name="tool" id="tool" title="Jupyter" width="1200" height="760" src="https://tool.example/">' in framed
        assert "<form" not in framed
        with pytest.raises(ValueError, match="target"):
            pages.put("https://tool.example/", target="popup")
    finally:
        served.close()


# ------------------------------------------------------------------ LTI 1.3: token endpoint
def test_correct_client_gets_only_offered_scopes(platform, tool_keys):
    session = http_session()
    r = token_request(session, platform.token_url, assertion(tool_keys, platform.token_url),
                      [SCORE, "https://purl.imsglobal.org/spec/lti-nrps/scope/contextmembership.readonly"])
    assert r.status_code == 200 and r.json()["scope"] == SCORE and r.headers["Cache-Control"] == "no-store"
    claims = jwt.decode(r.json()["access_token"], platform.public_key, algorithms=["RS256"])
    assert claims["scopes"] == SCORE and claims["exp"] - claims["iat"] == r.json()["expires_in"]


def _rogue_pem():
    return ToolKeys().private_pem


@pytest.mark.parametrize("claims, form, status, error, reason", [
    ({"aud": ISSUER}, {}, 401, "invalid_client", "InvalidAudienceError"),
    ({"aud": "https://elsewhere.example/token"}, {}, 401, "invalid_client", "InvalidAudienceError"),
    ({"iss": "other-client"}, {}, 401, "invalid_client", "InvalidIssuerError"),
    ({"sub": "other-client"}, {}, 401, "invalid_client", "sub 'other-client' is not the client_id"),
    ({"iss": "other-client", "sub": "other-client"}, {}, 401, "invalid_client", "InvalidIssuerError"),
    ({"iat": int(time.time()) - 900, "exp": int(time.time()) - 600}, {}, 401, "invalid_client", "ExpiredSignatureError"),
    ({"exp": None}, {}, 401, "invalid_client", 'MissingRequiredClaimError: Token is missing the "exp" claim'),
    ({"jti": None}, {}, 401, "invalid_client", 'MissingRequiredClaimError: Token is missing the "jti" claim'),
    ({"iat": int(time.time()) + 600, "exp": int(time.time()) + 900}, {}, 401, "invalid_client", "ImmatureSignatureError"),
    ({"key": "rogue", "kid": "rogue-kid"}, {}, 401, "invalid_client", "Unable to find public key"),
    ({"key": "rogue"}, {}, 401, "invalid_client", "InvalidSignatureError"),
    ({}, {"grant_type": "password"}, 400, "unsupported_grant_type", "grant_type"),
    ({}, {"client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:saml2-bearer"}, 400,
     "invalid_request", "client_assertion_type"),
    ({}, {"scope": "https://purl.imsglobal.org/spec/lti-nrps/scope/contextmembership.readonly"}, 400,
     "invalid_scope", "offered"),
    ({}, {"scope": ""}, 400, "invalid_request", "scope missing"),
], ids=["aud-issuer", "aud-other", "iss-other-client", "sub-other-client", "iss-sub-other-client", "expired",
        "no-exp", "no-jti", "iat-future", "unknown-kid", "bad-signature", "grant-type", "assertion-type",
        "scope-not-offered", "no-scope"])
def test_token_endpoint_refuses(platform, tool_keys, claims, form, status, error, reason):
    if claims.get("key") == "rogue":
        claims = {**claims, "key": _rogue_pem()}
    r = token_request(http_session(), platform.token_url, assertion(tool_keys, platform.token_url, **claims), **form)
    assert (r.status_code, r.json()["error"]) == (status, error), r.text
    assert reason in r.json()["error_description"]
    (entry,) = platform.token_log(rejected=True)
    assert reason in entry["reason"] and "access_token" not in r.json()


def test_token_endpoint_refuses_hs256_and_form_less_requests(platform, tool_keys):
    session = http_session()
    forged = jwt.encode({"iss": CLIENT_ID, "sub": CLIENT_ID, "aud": platform.token_url, "iat": int(time.time()),
                         "exp": int(time.time()) + 60, "jti": "x"}, "a-shared-secret-of-32-bytes-or-more!",
                        algorithm="HS256", headers={"kid": tool_keys.kid})
    r = token_request(session, platform.token_url, forged)
    assert r.status_code == 401 and r.json()["error"] == "invalid_client"
    r = session.post(platform.token_url, json={"grant_type": "client_credentials"}, timeout=10)
    assert r.status_code == 400 and r.json()["error"] == "invalid_request"


def test_replayed_jti_is_refused(platform, tool_keys):
    session = http_session()
    once = assertion(tool_keys, platform.token_url)
    assert token_request(session, platform.token_url, once).status_code == 200
    r = token_request(session, platform.token_url, once)
    assert r.status_code == 401 and "replayed" in r.json()["error_description"]


def test_auth_audience_is_accepted_when_registered(tool_keys):
    p = Lti13Platform(issuer=ISSUER, client_id=CLIENT_ID, deployment_id=DEPLOYMENT_ID, tool_jwks_url=tool_keys.url,
                      auth_audience="https://lms.peertest.example/auth-server").start()
    try:
        for aud in ("https://lms.peertest.example/auth-server", [p.token_url, "something-else"]):
            r = token_request(http_session(), p.token_url, assertion(tool_keys, p.token_url, aud=aud))
            assert r.status_code == 200, r.text
    finally:
        p.close()


def test_rotated_tool_key_is_found_by_refetching_the_jwks(platform, tool_keys):
    session = http_session()
    access_token(session, platform, tool_keys)
    assert platform.jwks_fetches() == 1
    tool_keys.rotate(drop_old=True)
    access_token(session, platform, tool_keys)
    assert platform.jwks_fetches() == 2 and platform.token_log()[-1]["kid"] == tool_keys.kid
    access_token(session, platform, tool_keys)
    assert platform.jwks_fetches() == 2  # cached again


def test_static_tool_keyset_and_tool_ca_bundle(tool_keys, certs):
    ca, crt, key = certs
    jwks_server = Served(wsgi_app(lambda r: reply(200, tool_keys.jwks()) if r.path == "/jwks" else None),
                         tls=(crt, key))
    url = jwks_server.url + "/jwks"
    p = Lti13Platform(issuer=ISSUER, client_id=CLIENT_ID, deployment_id=DEPLOYMENT_ID, tool_jwks_url=url).start()
    try:
        r = token_request(http_session(), p.token_url, assertion(tool_keys, p.token_url))
        assert r.status_code == 401 and "CERTIFICATE_VERIFY_FAILED" in r.json()["error_description"]
        p.register_tool(tool_jwks_url=url, tool_ca_bundle=str(ca))
        assert token_request(http_session(), p.token_url, assertion(tool_keys, p.token_url)).status_code == 200
        p.register_tool(tool_keyset=tool_keys.jwks())
        assert token_request(http_session(), p.token_url, assertion(tool_keys, p.token_url)).status_code == 200
    finally:
        p.close()
        jwks_server.close()


# ------------------------------------------------------------------ LTI 1.3: AGS
@pytest.fixture
def ags(platform, tool_keys):
    """A context with student-1 and rl-1, a session, and a token with all AGS scopes."""
    platform.enroll(CONTEXT["id"], "student-1", "rl-1")
    session = http_session()
    return session, access_token(session, platform, tool_keys), platform.lineitems_url(CONTEXT["id"])


def test_ags_needs_a_valid_unrevoked_token(platform, tool_keys, ags):
    session, token, url = ags
    expired = jwt.encode({"sub": CLIENT_ID, "iss": ISSUER, "scopes": " ".join(ALL_AGS), "iat": int(time.time()) - 7200,
                          "exp": int(time.time()) - 3600}, platform.private_key, algorithm="RS256")
    foreign = jwt.encode({"sub": CLIENT_ID, "iss": ISSUER, "scopes": " ".join(ALL_AGS), "exp": int(time.time()) + 60},
                         _rogue_pem(), algorithm="RS256")
    for header in ({}, {"Authorization": "Bearer"}, {"Authorization": "Basic abc"}, {"Authorization": "Bearer garbage"},
                   {"Authorization": f"Bearer {expired}"}, {"Authorization": f"Bearer {foreign}"}):
        r = session.get(url, headers=header, timeout=10)
        assert r.status_code == 401 and r.json()["error"] == "invalid_token", (header, r.text)
        assert "WWW-Authenticate" in r.headers
    assert session.get(url, headers={"Authorization": f"Bearer {token}"}, timeout=10).status_code == 200
    assert platform.revoke_tokens() == 1
    r = session.get(url, headers={"Authorization": f"Bearer {token}"}, timeout=10)
    assert r.status_code == 401 and "revoked" in r.json()["error_description"]


def test_ags_token_expires(tool_keys):
    p = Lti13Platform(issuer=ISSUER, client_id=CLIENT_ID, deployment_id=DEPLOYMENT_ID, tool_jwks_url=tool_keys.url,
                      token_lifetime=3).start()
    try:
        p.enroll("c", "u")
        session = http_session()
        token = access_token(session, p, tool_keys)
        # exp is whole seconds (iat truncated + 3): the token is valid for 2 to 3 s, so a loaded machine
        # still uses it in time; then wait until its exp has passed
        assert session.get(p.lineitems_url("c"), headers={"Authorization": f"Bearer {token}"}).status_code == 200
        exp = jwt.decode(token, options={"verify_signature": False})["exp"]
        time.sleep(max(0.0, exp - time.time()) + 1.1)
        r = session.get(p.lineitems_url("c"), headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 401 and "expired" in r.json()["error_description"].lower()
    finally:
        p.close()


def test_each_route_needs_its_scope(platform, tool_keys, ags):
    session, token, url = ags
    item, _ = find_or_create_lineitem(session, token, url, resource_link_id="rl-1", tag="t", label="L", score_maximum=5)
    read_results = access_token(session, platform, tool_keys, [RESULT_READONLY])
    read_items = access_token(session, platform, tool_keys, [LINEITEM_READONLY])
    scores_only = access_token(session, platform, tool_keys, [SCORE])

    def status(method, target, tok, **kw):
        return session.request(method, target, headers={"Authorization": f"Bearer {tok}", **kw.pop("headers", {})},
                               timeout=10, **kw).status_code

    new_item = dict(data=json.dumps({"label": "x", "scoreMaximum": 1}), headers={"Content-Type": LINEITEM_TYPE})
    assert post_score(session, read_results, item["id"], score()).status_code == 403
    assert status("GET", sub_url(item["id"], "results"), read_results) == 200
    assert status("GET", url, read_results) == 403
    assert status("GET", url, read_items) == 200 and status("GET", item["id"], read_items) == 200
    assert status("POST", url, read_items, **new_item) == 403
    assert status("PUT", item["id"], read_items, **new_item) == 403
    assert post_score(session, read_items, item["id"], score()).status_code == 403
    assert status("GET", url, scores_only) == 403
    assert post_score(session, scores_only, item["id"], score()).status_code == 200
    r = session.post(sub_url(item["id"], "scores"), data=json.dumps(score()),
                     headers={"Authorization": f"Bearer {read_results}", "Content-Type": SCORE_TYPE})
    assert r.json()["error"] == "insufficient_scope" and "insufficient_scope" in r.headers["WWW-Authenticate"]
    assert len(platform.scores(item)) == 1


@pytest.mark.parametrize("body, status, reason", [
    (score(given=11, maximum=10), 400, "must not exceed"),
    (score(given=-1), 400, "scoreGiven"),
    (score(given="7"), 400, "scoreGiven"),
    (score(maximum=None), 400, "scoreMaximum"),
    (score(maximum=0, given=0), 400, "scoreMaximum"),
    (score(timestamp=None), 400, "timestamp"),
    (score(timestamp="2026-01-01T10:00:00"), 400, "timestamp"),
    (score(timestamp="yesterday"), 400, "timestamp"),
    (score(activityProgress="Done"), 400, "activityProgress"),
    (score(gradingProgress=None), 400, "gradingProgress"),
    (score(userId=None), 400, "userId"),
    (score(userId="jupyterhub-username"), 400, "not a member"),
    (score(comment=5), 400, "comment"),
    ([score()], 400, "JSON object"),
], ids=["above-max", "negative", "string", "given-without-max", "max-zero", "no-timestamp", "naive-timestamp",
        "bad-timestamp", "activity", "grading", "no-user", "not-member", "comment", "not-object"])
def test_invalid_scores_are_refused(platform, ags, body, status, reason):
    session, token, url = ags
    item, _ = find_or_create_lineitem(session, token, url, resource_link_id="rl-1", tag="t", label="L", score_maximum=10)
    r = post_score(session, token, item["id"], body)
    assert r.status_code == status and reason in r.json()["error"], r.text
    assert platform.scores(item) == []


def test_score_media_type_and_timestamp_order(platform, ags):
    session, token, url = ags
    item, _ = find_or_create_lineitem(session, token, url, resource_link_id="rl-1", tag="t", label="L", score_maximum=10)
    assert post_score(session, token, item["id"], score(), content_type="application/json").status_code == 415
    assert post_score(session, token, item["id"], score(given=5)).status_code == 200
    assert post_score(session, token, item["id"], score(given=6, timestamp=now_iso(-60))).status_code == 409
    assert post_score(session, token, item["id"], score(given=0, gradingProgress="Pending", activityProgress="Submitted",
                                                        scoreGiven=None, scoreMaximum=None)).status_code == 200
    assert [s.get("scoreGiven") for s in platform.scores(item)] == [5, None]


@pytest.mark.parametrize("body, content_type, status, reason", [
    ({"scoreMaximum": 10}, LINEITEM_TYPE, 400, "label"),
    ({"label": "x", "scoreMaximum": 0}, LINEITEM_TYPE, 400, "scoreMaximum"),
    ({"label": "x", "scoreMaximum": True}, LINEITEM_TYPE, 400, "scoreMaximum"),
    ({"label": "x", "scoreMaximum": 1, "resourceLinkId": "rl-unknown"}, LINEITEM_TYPE, 400, "resourceLinkId"),
    ({"label": "x", "scoreMaximum": 1, "tag": 5}, LINEITEM_TYPE, 400, "tag"),
    ({"label": "x", "scoreMaximum": 1}, "application/json", 415, "Content-Type"),
], ids=["no-label", "max-zero", "max-bool", "unknown-resource-link", "tag-type", "media-type"])
def test_invalid_lineitems_are_refused(platform, ags, body, content_type, status, reason):
    session, token, url = ags
    r = session.post(url, data=json.dumps(body), headers={"Authorization": f"Bearer {token}", "Content-Type": content_type})
    assert r.status_code == status and reason in r.json()["error"], r.text
    assert platform.lineitems(CONTEXT["id"]) == []


def test_lineitem_filters_paging_update_delete(platform, ags):
    session, token, url = ags
    auth = {"Authorization": f"Bearer {token}"}
    for n, (tag, rid) in enumerate([("a", "r1"), ("b", "r1"), ("a", "r2")]):
        r = session.post(url, data=json.dumps({"label": f"L{n}", "scoreMaximum": n + 1, "tag": tag, "resourceId": rid,
                                               "resourceLinkId": "rl-1"}), headers={**auth, "Content-Type": LINEITEM_TYPE})
        assert r.status_code == 201 and r.headers["Content-Type"] == LINEITEM_TYPE
    get = lambda target, **params: session.get(target, params=params, headers=auth)  # noqa: E731
    assert [li["label"] for li in get(url, tag="a").json()] == ["L0", "L2"]
    assert [li["label"] for li in get(url, resource_id="r1", tag="b").json()] == ["L1"]
    assert len(get(url, resource_link_id="rl-1").json()) == 3 and get(url, resource_link_id="rl-2").json() == []
    first = get(url, limit=2)
    assert first.headers["Content-Type"] == CONTAINER_TYPE and len(first.json()) == 2
    assert first.links["next"]["url"].startswith(url) and 'rel="next"' in first.headers["Link"]
    second = session.get(first.links["next"]["url"], headers=auth)
    assert [li["label"] for li in second.json()] == ["L2"] and "Link" not in second.headers
    assert get(url, page="0").status_code == 400 and get(url, unknown_param="1").status_code == 200
    item = get(url).json()[0]
    r = session.put(item["id"], data=json.dumps({"label": "renamed", "scoreMaximum": 20}),
                    headers={**auth, "Content-Type": LINEITEM_TYPE})
    assert r.status_code == 200 and r.json() == {"label": "renamed", "scoreMaximum": 20, "id": item["id"]}
    assert get(item["id"]).json()["label"] == "renamed"
    assert session.delete(item["id"], headers=auth).status_code == 204
    assert get(item["id"]).status_code == 404 and len(platform.lineitems(CONTEXT["id"])) == 2
    assert session.get(url.replace(platform.context_key(CONTEXT["id"]), "0" * 12), headers=auth).status_code == 404


def test_url_query_must_be_kept(tool_keys):
    p = Lti13Platform(issuer=ISSUER, client_id=CLIENT_ID, deployment_id=DEPLOYMENT_ID, tool_jwks_url=tool_keys.url,
                      url_query="type_id=1").start()
    try:
        p.enroll("c", "student-1", "rl-1")
        session = http_session()
        token = access_token(session, p, tool_keys)
        url = p.lineitems_url("c")
        assert url.endswith("/lineitems?type_id=1")
        item, _ = find_or_create_lineitem(session, token, url, resource_link_id="rl-1", tag="t", label="L", score_maximum=1)
        assert item["id"].endswith("?type_id=1")
        assert post_score(session, token, item["id"], score(given=1, maximum=1)).status_code == 200
        dropped = urlunsplit(urlsplit(item["id"])._replace(query=""))
        assert post_score(session, token, dropped, score(given=1, maximum=1)).status_code == 404
        assert len(p.scores(item)) == 1
    finally:
        p.close()


def test_fault_injection(platform, tool_keys, ags):
    session, token, url = ags
    item, _ = find_or_create_lineitem(session, token, url, resource_link_id="rl-1", tag="t", label="L", score_maximum=10)
    platform.fail_token(503, times=2, retry_after=7)
    for _ in range(2):
        r = token_request(session, platform.token_url, assertion(tool_keys, platform.token_url))
        assert r.status_code == 503 and r.headers["Retry-After"] == "7"
    platform.fail_token(429, retry_after=1)
    assert token_request(session, platform.token_url, assertion(tool_keys, platform.token_url)).status_code == 429
    assert token_request(session, platform.token_url, assertion(tool_keys, platform.token_url)).status_code == 200
    platform.fail_scores(500, times=1)
    assert post_score(session, token, item["id"], score()).status_code == 500
    assert post_score(session, token, item["id"], score()).status_code == 200
    platform.fail_token(401, times=5)
    platform.clear_faults()
    assert token_request(session, platform.token_url, assertion(tool_keys, platform.token_url)).status_code == 200
    assert [e["status"] for e in platform.token_log()] == [200, 503, 503, 429, 200, 200]
    assert sum(bool(e.get("injected")) for e in platform.token_log()) == 3 and len(platform.scores(item)) == 1


# ------------------------------------------------------------------ LTI 1.1
class _ToolValidator(RequestValidator):
    """What a tool does with a launch: HMAC-SHA1 with the consumer's key and secret."""
    enforce_ssl = False
    dummy_client = "dummy"

    def check_client_key(self, key):
        return True

    def check_nonce(self, nonce):
        return True

    def validate_client_key(self, key, request):
        return key == LTI11_KEY

    def get_client_secret(self, key, request):
        return LTI11_SECRET

    def validate_timestamp_and_nonce(self, *args, **kwargs):
        return True


def test_lti11_launch_is_signed_and_names_the_outcome_service(consumer):
    received = []
    tool = Served(wsgi_app(lambda r: received.append(r) or reply(302, b"", headers=[("Location", "/hub/home")])))
    try:
        launch_url = tool.url + "/hub/lti/launch"
        r = consumer.launch(http_session(), launch_url, user_id="student-1", roles=["Learner", "Student"],
                            context_id="ctx-1", custom={"image": "r"}, extra={"lis_person_name_full": "S One"})
        assert r.status_code == 302
    finally:
        tool.close()
    (request,) = received
    valid, _ = SignatureOnlyEndpoint(_ToolValidator()).validate_request(launch_url, "POST", request.body.decode(),
                                                                        {"Content-Type": request.content_type})
    params = request.form()
    assert valid and params["oauth_signature_method"] == "HMAC-SHA1" and params["oauth_consumer_key"] == LTI11_KEY
    assert params["lis_outcome_service_url"] == consumer.outcome_url
    assert params["lis_result_sourcedid"] == "ctx-1:rl-1:student-1" and consumer.sourcedids() == ["ctx-1:rl-1:student-1"]
    assert params["roles"] == "Learner,Student" and params["custom_image"] == "r"
    assert params["lis_person_name_full"] == "S One"
    tampered = request.body.decode().replace("Learner", "Instructor")
    assert not SignatureOnlyEndpoint(_ToolValidator()).validate_request(launch_url, "POST", tampered,
                                                                        {"Content-Type": request.content_type})[0]


def test_outcome_round_trip(consumer):
    sourcedid = 'ctx&1:<rl>:"student"'
    consumer.launch_params("http://127.0.0.1:9/launch", user_id="s", roles="Learner", context_id="c", sourcedid=sourcedid)
    session = http_session()
    body = pox(sourcedid, "0.7500", message_id="msg-1")
    r = session.post(consumer.outcome_url, data=body, headers=oauth_headers(consumer.outcome_url, body))
    assert r.status_code == 200 and r.headers["Content-Type"] == "application/xml"
    response = lti.OutcomeResponse.from_post_response(r, r.content)
    assert response.is_success() and str(response.message_ref_identifier) == "msg-1", r.text
    body = pox(sourcedid, "1")
    assert session.post(consumer.outcome_url, data=body, headers=oauth_headers(consumer.outcome_url, body)).ok
    assert [(o["sourcedid"], o["score"]) for o in consumer.outcomes()] == [(sourcedid, 0.75), (sourcedid, 1.0)]
    assert consumer.results()[sourcedid]["message_id"] != "msg-1"
    body = pox(sourcedid, None, operation="readResult")
    r = session.post(consumer.outcome_url, data=body, headers=oauth_headers(consumer.outcome_url, body))
    assert code_major(r) == "success" and etree.fromstring(r.content).findtext(f".//{{{NS}}}textString") == "1"
    body = pox(sourcedid, None, operation="deleteResult")
    r = session.post(consumer.outcome_url, data=body, headers=oauth_headers(consumer.outcome_url, body))
    assert code_major(r) == "unsupported"


def _signed(url, body):
    return body, oauth_headers(url, body)


def _no_body_hash(url, body):
    prepared = requests.Request("POST", url, data=body, headers={"Content-Type": "application/xml"},
                                auth=OAuth1(LTI11_KEY, LTI11_SECRET)).prepare()
    return dict(prepared.headers)


@pytest.mark.parametrize("make, status, major, reason", [
    (lambda url, b: (b, {"Content-Type": "application/xml"}), 401, "failure", "unsigned"),
    (lambda url, b: (b, oauth_headers(url, b, secret="wrong-secret")), 401, "failure", "OAuth signature refused"),
    (lambda url, b: (b, oauth_headers(url, b, key="other-key")), 401, "failure", "unknown consumer key"),
    (lambda url, b: (b.replace(b"0.7500", b"1.0000"), oauth_headers(url, b)), 401, "failure", "does not match the body"),
    (lambda url, b: (b, _no_body_hash(url, b)), 401, "failure", "oauth_body_hash missing"),
    (lambda url, b: (b, oauth_headers(url + "?x=1", b)), 401, "failure", "OAuth signature refused"),
    (lambda url, b: (b, {**oauth_headers(url, b, content_type="text/plain"), "Content-Type": "text/plain"}), 415,
     "failure", "Content-Type"),
    (lambda url, b: _signed(url, pox("nobody")), 200, "failure", "unknown sourcedid"),
    (lambda url, b: _signed(url, pox("c:rl-1:s", "1.5")), 200, "failure", "outside"),
    (lambda url, b: _signed(url, pox("c:rl-1:s", "-0.1")), 200, "failure", "decimal"),
    (lambda url, b: _signed(url, pox("c:rl-1:s", "NaN")), 200, "failure", "decimal"),
    (lambda url, b: _signed(url, pox("c:rl-1:s", message_id="")), 400, "failure", "imsx_messageIdentifier"),
    (lambda url, b: _signed(url, pox("c:rl-1:s", ns="urn:other")), 400, "failure", "namespace"),
], ids=["unsigned", "bad-signature", "unknown-key", "tampered-body", "no-body-hash", "other-url", "content-type",
        "unknown-sourcedid", "score-above-1", "score-negative", "score-nan", "empty-message-id", "wrong-namespace"])
def test_outcome_refusals(consumer, make, status, major, reason):
    consumer.add_sourcedid("c:rl-1:s")
    body, headers = make(consumer.outcome_url, pox("c:rl-1:s"))
    r = http_session().post(consumer.outcome_url, data=body, headers=headers)
    assert r.status_code == status and code_major(r) == major, r.text
    (entry,) = consumer.outcome_log(rejected=True)
    assert reason in entry["reason"] or (reason == "namespace" and NS in entry["reason"]), entry
    assert consumer.outcomes() == []


def test_outcome_nonce_replay_and_faults(consumer):
    consumer.add_sourcedid("c:rl-1:s")
    session = http_session()
    body = pox("c:rl-1:s")
    headers = oauth_headers(consumer.outcome_url, body)
    assert code_major(session.post(consumer.outcome_url, data=body, headers=headers)) == "success"
    r = session.post(consumer.outcome_url, data=body, headers=headers)
    assert r.status_code == 401 and "replayed" in consumer.outcome_log()[-1]["reason"]
    consumer.fail_outcomes(503, times=2, retry_after=3)
    for _ in range(2):
        r = session.post(consumer.outcome_url, data=body, headers=oauth_headers(consumer.outcome_url, body))
        assert r.status_code == 503 and r.headers["Retry-After"] == "3"
    assert session.post(consumer.outcome_url, data=body, headers=oauth_headers(consumer.outcome_url, body)).ok
    assert len(consumer.outcomes()) == 2


# ------------------------------------------------------------------ the container
TOOL_JWKS_SERVER = """\
import functools, http.server, ssl
http.server.SimpleHTTPRequestHandler.extensions_map[""] = "application/json"
handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory="/tool/www")
server = http.server.ThreadingHTTPServer(("0.0.0.0", 443), handler)
tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
tls.load_cert_chain("/tool/tls.crt", "/tool/tls.key")
server.socket = tls.wrap_socket(server.socket, server_side=True)
server.serve_forever()
"""
FETCH_FROM_NETWORK = """\
import json, ssl, sys, urllib.request
ctx = ssl.create_default_context(cafile="/ca.pem")
print(json.load(urllib.request.urlopen(sys.argv[1], context=ctx, timeout=10))["keys"][0]["kid"])
"""
NET, PEER, TOOL = "jhlti-peertest-net", "jhlti-peertest-peer", "jhlti-peertest-tool"


def _docker(*args, check=True):
    p = subprocess.run(["docker", *args], capture_output=True, text=True, timeout=900)
    assert p.returncode == 0 or not check, f"docker {args}: {p.stdout}\n{p.stderr}"
    return p.stdout.strip()


def _cleanup():
    _docker("rm", "-f", PEER, TOOL, check=False)
    _docker("network", "rm", NET, check=False)


def test_peer_container_on_a_docker_network(tmp_path):
    # the certificate names only the containers, as the e2e tier's does: the host client
    # reaches the published loopback port and still verifies the name
    ca, crt, key = make_test_certs(tmp_path / "certs", [PEER, TOOL])
    keys = ToolKeys()
    (tmp_path / "tool" / "www").mkdir(parents=True)
    (tmp_path / "tool" / "www" / "jwks").write_text(json.dumps(keys.jwks()))
    (tmp_path / "tool" / "serve.py").write_text(TOOL_JWKS_SERVER)
    for name, src in (("tls.crt", crt), ("tls.key", key)):
        (tmp_path / "tool" / name).write_bytes(src.read_bytes())
    for f in [*(tmp_path / "tool").rglob("*")]:
        f.chmod(0o755 if f.is_dir() else 0o644)
    _cleanup()
    holder = {}
    tool = MiniTool(lambda: holder["client"].session.get(holder["client"].lti13.jwks_url).json(),
                    f"https://{PEER}/authorize")
    peers = PeerContainer(name=PEER, network=NET, tls_cert=crt, tls_key=key, ca_bundle=ca, tool_ca_bundle=ca,
                          lti13=dict(issuer=ISSUER, client_id=CLIENT_ID, deployment_id=DEPLOYMENT_ID, tool_url=tool.url,
                                     tool_jwks_url=f"https://{TOOL}/jwks"),
                          lti11=dict(key=LTI11_KEY, secret=LTI11_SECRET), workdir=tmp_path / "peer")
    try:
        _docker("network", "create", NET)
        _docker("run", "-d", "--name", TOOL, "--network", NET, "-v", f"{tmp_path / 'tool'}:/tool:ro",
                "--entrypoint", "python3", BASE_IMAGE, "/tool/serve.py")
        t0 = time.monotonic()
        client = holder["client"] = peers.start(log=print)
        print(f"    image + start: {time.monotonic() - t0:.1f} s")
        # another container on the network reaches it by name over HTTPS, as the hub does
        kid = _docker("run", "--rm", "--network", NET, "-v", f"{ca}:/ca.pem:ro", "--entrypoint", "python3", BASE_IMAGE,
                      "-c", FETCH_FROM_NETWORK, f"https://{PEER}/jwks")
        assert kid == client.session.get(client.lti13.jwks_url).json()["keys"][0]["kid"]
        assert client.session.get(client.url + "/_test/ping").status_code == 401  # admin API needs its token
        # LTI 1.3: a launch from the host's "browser", then the tool's token + AGS calls
        r = client.lti13.launch(http_session(), tool.url, sub="student-1", roles=LEARNER, context=CONTEXT)
        assert r.status_code == 302, r.text
        lineitems = tool.claims[0][AGS_CLAIM]["lineitems"]
        assert lineitems == client.lti13.lineitems_url(CONTEXT["id"]) and lineitems.startswith(f"https://{PEER}/ags/")
        session = client.session
        r = token_request(session, client.lti13.token_url, assertion(keys, client.lti13.token_url))
        assert r.status_code == 200, r.text  # the container fetched the tool JWKS over HTTPS with the test CA
        token = r.json()["access_token"]
        item, created = find_or_create_lineitem(session, token, lineitems, resource_link_id="rl-1", tag="ps1",
                                                label="PS 1", score_maximum=4)
        assert created and post_score(session, token, item["id"], score("student-1", 3, 4)).status_code == 200
        assert client.lti13.latest_scores(item["id"])["student-1"]["scoreGiven"] == 3
        assert client.lti13.lineitems(CONTEXT["id"])[0]["scoreMaximum"] == 4 and client.lti13.jwks_fetches() == 1
        client.lti13.fail_scores(503, 1, 9)
        r = post_score(session, token, item["id"], score("student-1", 4, 4))
        assert r.status_code == 503 and r.headers["Retry-After"] == "9"
        with pytest.raises(ValueError, match="login_hint"):
            client.lti13.authorize({"login_hint": "nope"})
        # LTI 1.1: signed launch data and an outcome to https://<name>/lti11/outcomes
        params = client.lti11.launch_params("https://hub.example/hub/lti/launch", user_id="s1", roles="Learner",
                                            context_id="c1")
        assert params["lis_outcome_service_url"] == client.lti11.outcome_url == f"https://{PEER}/lti11/outcomes"
        body = pox(params["lis_result_sourcedid"], "0.5")
        r = session.post(client.lti11.outcome_url, data=body, headers=oauth_headers(client.lti11.outcome_url, body))
        assert code_major(r) == "success", r.text
        assert client.lti11.results()["c1:rl-1:s1"]["score"] == 0.5
        assert client.lti13.internal_errors() == [] and client.lti11.internal_errors() == []
    finally:
        logs = peers.logs()
        peers.stop()
        tool.close()
        _cleanup()
    assert "Traceback" not in logs, logs
    assert _docker("ps", "-a", "--filter", "name=jhlti-peertest-", "--format", "{{.Names}}") == ""
