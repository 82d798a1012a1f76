"""An LTI 1.3 platform (the LMS side) for the tests, built on lti1p3platform 0.1.8.

lti1p3platform supplies the registration, the platform JWKS, the OIDC login initiation, the
id_token (MessageLaunch with the AGS endpoint claim), the tool keyset fetch, the access-token
check of AGS requests and the AGS request handlers. It is lax where a real LMS is strict (see
/tmp/ltiresearch/REPORT.md §1), so this platform adds the checks a tool must pass in production:

authorization step (`authorize`, run in-process after the tool's OIDC redirect):
  response_type=id_token, scope=openid, response_mode=form_post, prompt=none, our client_id,
  a registered redirect_uri (the library does not match it), and the login_hint and
  lti_message_hint of a login this platform started (single use); nonce and state present.
token endpoint (POST /token, IMS Security Framework client_credentials + RFC 7523 assertion):
  grant_type and client_assertion_type exact; RS256 signature by a key of the tool's keyset,
  found by kid (the keyset is fetched from the tool's JWKS URL, with a configurable CA, and
  fetched again on an unknown kid because the tool rotates keys); iss == sub == client_id;
  aud == the token URL (a string or a list holding it). The issuer is NOT accepted as aud:
  RFC 7523 §3 wants a value identifying the authorization server, the IMS Security Framework
  names the token endpoint URL; a platform that registers a separate "authorization server"
  id can be modelled with `auth_audience`. exp, iat and jti required, exp in the future, iat
  not in the future, jti never seen before. Only requested scopes this platform offers are
  granted; none -> invalid_scope. Errors are RFC 6749 §5.2 JSON: 400, or 401 invalid_client.
NRPS (per context, GET /nrps/<key>/memberships, Names and Role Provisioning Services 2.0): the
  same bearer rules with the contextmembership.readonly scope; Accept must allow the membership
  container type; `role` filters (full URI or short name), `limit` pages with a Link rel="next"
  (also `set_roster_page_size`, a platform that pages on its own). Members are everyone who
  launched (their launch roles) and whoever `set_member` added, with status Active unless set.
AGS (per context, /ags/<key>/lineitems...): a valid, unrevoked, unexpired bearer token (else 401)
  holding the scope the route needs (else 403; the library accepts any AGS scope anywhere);
  request media types; line items need a label, scoreMaximum > 0 and a known resourceLinkId;
  scores need userId (a member of the context: its launches' `sub`), activityProgress,
  gradingProgress, an ISO 8601 timestamp with offset, 0 <= scoreGiven <= scoreMaximum; a score
  older than the last one for that user is refused (409).

The launch (`launch()`) is the browser's part: POST the login initiation to the tool, follow
its redirect to this platform's authorization step in-process, form-post id_token and state to
the tool's redirect_uri with the same session (cookies), and return the tool's answer.
"""

from __future__ import annotations

import datetime
import hashlib
import html
import math
import secrets
import threading
import time
import uuid
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from lti1p3platform.exceptions import LineItemNotFoundException, LtiException, LtiServiceException
from lti1p3platform.ltiplatform import LTI1P3PlatformConfAbstract
from lti1p3platform.message_launch import LTIAdvantageMessageLaunchAbstract
from lti1p3platform.oidc_login import OIDCLoginAbstract
from lti1p3platform.registration import Registration
from lti1p3platform.request import Request as LibRequest
from lti1p3platform.score import UpdateScoreStatus
from lti1p3platform.service_connector import AssignmentsGradesService

from peer_http import Faults, Request, Served, ServedPeer, guarded, http_session, reply

CLAIM = "https://purl.imsglobal.org/spec/lti/claim/"
AGS_CLAIM = "https://purl.imsglobal.org/spec/lti-ags/claim/endpoint"
SCOPE = "https://purl.imsglobal.org/spec/lti-ags/scope/"
LINEITEM, LINEITEM_READONLY, RESULT_READONLY, SCORE = (
    SCOPE + s for s in ("lineitem", "lineitem.readonly", "result.readonly", "score"))
AGS_SCOPES = (LINEITEM, LINEITEM_READONLY, RESULT_READONLY, SCORE)
NRPS_SCOPE = "https://purl.imsglobal.org/spec/lti-nrps/scope/contextmembership.readonly"
MEMBERSHIP_TYPE = "application/vnd.ims.lti-nrps.v2.membershipcontainer+json"
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
LINEITEM_TYPE = "application/vnd.ims.lis.v2.lineitem+json"
CONTAINER_TYPE = "application/vnd.ims.lis.v2.lineitemcontainer+json"
SCORE_TYPE = "application/vnd.ims.lis.v1.score+json"
RESULTS_TYPE = "application/vnd.ims.lis.v2.resultcontainer+json"
ACTIVITY = {"Initialized", "Started", "InProgress", "Submitted", "Completed"}
GRADING = {"FullyGraded", "Pending", "PendingManual", "Failed", "NotReady"}
# The hub's LTI 1.3 URL paths (contract url_paths; test_peers.py checks they still agree).
LOGIN_PATH, CALLBACK_PATH, JWKS_PATH = "/hub/lti13/oauth_login", "/hub/lti13/oauth_callback", "/hub/lti13/jwks"


class AuthorizationError(ValueError):
    """The tool's authentication request broke the OIDC/LTI rules (a real LMS refuses it)."""


class DeepLinkError(ValueError):
    """The tool's deep linking response broke the rules (a real LMS refuses it)."""


class TokenError(Exception):
    def __init__(self, status: int, error: str, reason: str):
        super().__init__(reason)
        self.status, self.error, self.reason = status, error, reason


def _new_rsa_pem() -> tuple[str, str]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()).decode()
    public = key.public_key().public_bytes(serialization.Encoding.PEM,
                                           serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    return private, public


def _number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _aware_timestamp(value) -> datetime.datetime | None:
    try:
        parsed = datetime.datetime.fromisoformat(value)
    except (TypeError, ValueError):
        return None
    return parsed if parsed.tzinfo is not None else None


# ------------------------------------------------------------------ lti1p3platform adapters
class _LibRequest(LibRequest):
    def build_metadata(self, request: dict):
        return request


class _OIDCLogin(OIDCLoginAbstract):
    def set_lti_message_hint(self, **kwargs) -> None:
        self._lti_message_hint = kwargs["hint"]

    def get_redirect(self, url: str) -> str:
        return url


class _MessageLaunch(LTIAdvantageMessageLaunchAbstract):
    def render_launch_form(self, launch_data, **kwargs):
        return launch_data  # {"id_token", "state", "launch_url" (the tool's redirect_uri)}


class _Conf(LTI1P3PlatformConfAbstract):
    """One registration. The library fetches the tool keyset once, without a CA option, and
    keeps it for good; here the fetch trusts the configured CA and an unknown kid refetches."""

    def init_platform_config(self, registration: Registration, platform: "Lti13Platform") -> None:
        self._registration, self.platform = registration, platform

    def get_registration_by_params(self, **kwargs) -> Registration:
        return self._registration

    def fetch_public_key(self, key_set_url: str):
        self.platform._jwks_fetches += 1
        try:
            r = http_session(self.platform.tool_ca_bundle).get(key_set_url, timeout=10)
            r.raise_for_status()
            keyset = r.json()
        except Exception as exc:
            raise LtiException(f"cannot fetch the tool keyset {key_set_url}: {exc}") from exc
        if not isinstance(keyset, dict) or not isinstance(keyset.get("keys"), list):
            raise LtiException(f"the tool keyset {key_set_url} is not a JWKS")
        return keyset

    def get_tool_public_key(self) -> bytes:
        fetches = self.platform._jwks_fetches
        try:
            return super().get_tool_public_key()
        except LtiException as exc:
            fetched_just_now = self.platform._jwks_fetches != fetches
            unknown_kid = "Unable to find public key" in str(exc)
            if not unknown_kid or fetched_just_now or not self._registration.get_tool_key_set_url():
                raise
        self._registration.set_tool_key_set(None)  # unknown kid: the tool may have rotated its keys
        return super().get_tool_public_key()


class _Ags(AssignmentsGradesService):
    """The library's AGS handlers on this platform's store. Scopes are checked per route
    before (the library's check is "any AGS scope", and it leaves lineitem.readonly out)."""

    allowed_scopes = list(AGS_SCOPES)

    def __init__(self, request, platform: "Lti13Platform", context: dict):
        super().__init__(request, platform.conf, platform.lineitems_url(context["id"]))
        self.p, self.ctx = platform, context

    def find_lineitems(self, page=1, limit=None, resource_link_id=None, resource_id=None, tag=None, **_):
        items = [li for li in self.ctx["lineitems"].values()
                 if (resource_link_id is None or li.get("resourceLinkId") == resource_link_id)
                 and (resource_id is None or li.get("resourceId") == resource_id)
                 and (tag is None or li.get("tag") == tag)]
        if limit:
            start = (page - 1) * limit
            return {"content": items[start:start + limit], "has_next": start + limit < len(items), "next": None}
        return {"content": items, "has_next": False, "next": None}

    def find_lineitem(self, line_item_id):
        try:
            return self.ctx["lineitems"][line_item_id]
        except KeyError:
            raise LineItemNotFoundException(line_item_id) from None

    def _validated(self, data) -> dict:
        if not isinstance(data, dict):
            raise LtiServiceException("a line item is a JSON object", 400)
        if not isinstance(data.get("label"), str) or not data["label"].strip():
            raise LtiServiceException("label is required", 400)
        if not _number(data.get("scoreMaximum")) or data["scoreMaximum"] <= 0:
            raise LtiServiceException("scoreMaximum must be a number > 0", 400)
        for key in ("resourceId", "tag", "resourceLinkId", "startDateTime", "endDateTime"):
            if key in data and not isinstance(data[key], str):
                raise LtiServiceException(f"{key} must be a string", 400)
        if "resourceLinkId" in data and data["resourceLinkId"] not in self.ctx["resource_links"]:
            raise LtiServiceException(f"unknown resourceLinkId {data['resourceLinkId']!r} in this context", 400)
        return {k: v for k, v in data.items() if k != "id"}

    def create_lineitem(self, creation_data):
        lid = f"li{next(self.p._ids)}"
        item = {**self._validated(creation_data), "id": self.p._lineitem_url(self.ctx, lid)}
        self.ctx["lineitems"][lid] = item
        return item

    def update_lineitem(self, update_data):
        lid = update_data["id"]  # the library put the URL's id here
        item = self.find_lineitem(lid)
        new = {**self._validated(update_data), "id": item["id"]}
        self.ctx["lineitems"][lid] = new
        return new

    def delete_lineitem(self, line_item_id):
        item = self.find_lineitem(line_item_id)
        del self.ctx["lineitems"][line_item_id]
        self.p._scores.pop(item["id"], None)

    def update_score(self, line_item_id, score):
        item = self.find_lineitem(line_item_id)
        self._check_score(score)
        history = self.p._scores.setdefault(item["id"], [])
        last = [s for s in history if s["userId"] == score["userId"]]
        if last and _aware_timestamp(score["timestamp"]) < _aware_timestamp(last[-1]["timestamp"]):
            return UpdateScoreStatus.OLD_TIMESTAMP
        history.append({**score, "_received": time.time()})
        return UpdateScoreStatus.SUCCESS

    def _check_score(self, score) -> None:
        def bad(reason):
            raise LtiServiceException(reason, 400)

        if not isinstance(score, dict):
            bad("a score is a JSON object")
        if not isinstance(score.get("userId"), str) or not score["userId"]:
            bad("userId is required")
        if self.p.require_members and score["userId"] not in self.ctx["members"]:
            bad(f"userId {score['userId']!r} is not a member of this context (use the launch's sub)")
        if score.get("activityProgress") not in ACTIVITY:
            bad(f"activityProgress must be one of {sorted(ACTIVITY)}")
        if score.get("gradingProgress") not in GRADING:
            bad(f"gradingProgress must be one of {sorted(GRADING)}")
        if _aware_timestamp(score.get("timestamp")) is None:
            bad("timestamp must be ISO 8601 with a UTC offset")
        if "scoreGiven" in score:
            given, maximum = score["scoreGiven"], score.get("scoreMaximum")
            if not _number(given) or given < 0:
                bad("scoreGiven must be a number >= 0")
            if not _number(maximum) or maximum <= 0:
                bad("scoreMaximum (a number > 0) is required with scoreGiven")
            if given > maximum:
                bad("scoreGiven must not exceed scoreMaximum")
        elif "scoreMaximum" in score and (not _number(score["scoreMaximum"]) or score["scoreMaximum"] <= 0):
            bad("scoreMaximum must be a number > 0")
        if "comment" in score and not isinstance(score["comment"], str):
            bad("comment must be a string")

    def get_results(self, line_item_id, page=1, limit=None, user_id=None, **_):
        item = self.find_lineitem(line_item_id)
        latest = self.p.latest_scores(item["id"])
        return {"content": [{"id": f"{item['id']}/results/{uid}", "scoreOf": item["id"], "userId": uid,
                             "resultScore": s.get("scoreGiven"), "resultMaximum": s.get("scoreMaximum"),
                             **({"comment": s["comment"]} if "comment" in s else {})}
                            for uid, s in latest.items() if user_id in (None, uid)],
                "has_next": False, "next": None}


# ------------------------------------------------------------------ the platform
class Lti13Platform(ServedPeer):
    """One platform with one registered tool.

    URLs (under `url`, which is http://127.0.0.1:<port> after `start()`, or `public_url`):
      GET  /jwks                                   the platform's keyset (kid = RFC 7638 thumbprint)
      POST /token                                  client_credentials token endpoint
      GET|POST /ags/<ctx>/lineitems                line item container (filters resource_id,
                                                   tag, resource_link_id; limit+page with Link)
      GET|PUT|DELETE /ags/<ctx>/lineitems/<id>     one line item
      POST /ags/<ctx>/lineitems/<id>/scores        scores
      GET  /ags/<ctx>/lineitems/<id>/results       results (latest score per user)
      GET  /nrps/<ctx>/memberships                 the context's members (NRPS 2.0)
    `url_query` (e.g. "type_id=1", as Moodle does) is appended to every AGS URL and required.

    Tool registration (`register_tool`): its browser-facing URLs default from `tool_url` (the
    hub's public URL) with the contract's paths; its JWKS URL is the back channel the platform
    fetches (with `tool_ca_bundle`); or give a static `tool_keyset`.
    """

    REMOTE_METHODS = ("begin_launch", "authorize", "register_tool", "enroll", "fail", "fail_token",
                      "fail_scores", "clear_faults", "revoke_tokens", "lineitems", "scores", "latest_scores",
                      "token_log", "ags_log", "jwks_fetches", "launches", "internal_errors", "urls",
                      "deep_link_return", "deep_links", "issue_registration_token", "registrations",
                      "openid_configuration",
                      "lineitems_url", "set_member", "set_roster_page_size", "nrps_log")

    def __init__(self, *, issuer: str, client_id: str, deployment_id: str, public_url: str | None = None,
                 browser_url: str | None = None, token_lifetime: int = 3600, auth_audience: str | None = None, url_query: str | None = None,
                 require_members: bool = True, offered_scopes=AGS_SCOPES, **tool):
        self.issuer, self.client_id, self.deployment_id = issuer, client_id, deployment_id
        self.url = public_url.rstrip("/") if public_url else None
        # Where a browser reaches the platform (its authorization endpoint and course pages), when
        # that differs from where the tool does (a container name on the stack's network).
        self.browser_url = browser_url.rstrip("/") if browser_url else None
        self.token_lifetime, self.auth_audience, self.url_query = token_lifetime, auth_audience, url_query
        self.require_members, self.offered_scopes = require_members, tuple(offered_scopes)
        self.private_key, self.public_key = _new_rsa_pem()
        self.registration = (Registration().set_iss(issuer).set_client_id(client_id).set_deployment_id(deployment_id)
                             .set_platform_private_key(self.private_key).set_platform_public_key(self.public_key))
        self.conf = _Conf(registration=self.registration, platform=self)
        self.faults = Faults()
        self._lock = threading.RLock()
        self._ids = iter(range(1, 1 << 30))
        self._contexts: dict[str, dict] = {}
        self._scores: dict[str, list] = {}  # line item URL -> every accepted score, in order
        self._pending: dict[str, dict] = {}  # login_hint -> launch waiting for the tool's auth request
        self._seen_jti: dict[str, float] = {}
        self._revoked: set[str] = set()
        self._token_log: list[dict] = []
        self._ags_log: list[dict] = []
        self._nrps_log: list[dict] = []
        self._roster_page_size: int | None = None
        self._launches: list[dict] = []
        self._errors: list[str] = []
        self._jwks_fetches = 0
        self._dl_requests: dict[str, dict] = {}  # data token of a deep linking request -> its context
        self._deep_links: list[dict] = []  # resource links created by deep linking responses
        self._registration_tokens: set[str] = set()  # one-time bearer tokens of dynamic registration
        self._registrations: list[dict] = []  # accepted dynamic registrations (request + answer)
        self._served: Served | None = None
        self.tool: dict = {}
        self.tool_ca_bundle = None
        self.register_tool(**tool)

    # ---- lifecycle and URLs
    jwks_url = property(lambda self: self.url + "/jwks")
    token_url = property(lambda self: self.url + "/token")
    authorize_url = property(lambda self: (self.browser_url or self.url) + "/authorize")

    def urls(self) -> dict:
        return {"url": self.url, "jwks_url": self.jwks_url, "token_url": self.token_url,
                "authorize_url": self.authorize_url, "issuer": self.issuer}

    def _query(self) -> str:
        return f"?{self.url_query}" if self.url_query else ""

    def context_key(self, context_id: str) -> str:
        return hashlib.sha256(context_id.encode()).hexdigest()[:12]

    def lineitems_url(self, context_id: str) -> str:
        return f"{self.url}/ags/{self.context_key(context_id)}/lineitems{self._query()}"

    def _lineitem_url(self, ctx: dict, lid: str) -> str:
        return f"{self.url}/ags/{ctx['key']}/lineitems/{lid}{self._query()}"

    def register_tool(self, *, tool_url: str | None = None, tool_jwks_url: str | None = None,
                      tool_keyset: dict | None = None, tool_ca_bundle: str | None = None,
                      tool_login_url: str | None = None, tool_redirect_uris: list | None = None,
                      tool_target_link_uri: str | None = None) -> dict:
        """(Re)register the tool; unset URLs derive from `tool_url`, else from each launch's hub_url."""
        with self._lock:
            base = tool_url.rstrip("/") if tool_url else None
            self.tool = {
                "login_url": tool_login_url or (base and base + LOGIN_PATH),
                "redirect_uris": tool_redirect_uris or ([base + CALLBACK_PATH] if base else None),
                "target_link_uri": tool_target_link_uri or (base and base + "/hub"),
                "jwks_url": tool_jwks_url or (base and base + JWKS_PATH),
            }
            self.tool_ca_bundle = tool_ca_bundle
            self.registration._tool_keyset_url = self.tool["jwks_url"]  # its setter takes no None
            self.registration.set_tool_key_set(tool_keyset)
            return dict(self.tool)

    def _context(self, context_id: str) -> dict:
        return self._contexts.setdefault(context_id, {"id": context_id, "key": self.context_key(context_id),
                                                      "lineitems": {}, "members": set(), "resource_links": set(),
                                                      "roster": {}, "label": None, "title": None})

    def memberships_url(self, context_id: str) -> str:
        return f"{self.url}/nrps/{self.context_key(context_id)}/memberships"

    def set_member(self, context_id: str, user_id: str, roles: list, status: str = "Active", name: str | None = None) -> None:
        """Put a user on the context's roster (NRPS) with these roles and status, without a launch."""
        with self._lock:
            ctx = self._context(context_id)
            ctx["roster"][user_id] = {"user_id": user_id, "roles": list(roles), "status": status,
                                      "name": name or f"Member {user_id}"}
            if status == "Active":
                ctx["members"].add(user_id)

    def set_roster_page_size(self, size: int | None) -> None:
        """Page the membership on the platform's own (as large LMSs do), whatever the tool asks."""
        with self._lock:
            self._roster_page_size = size

    def nrps_log(self) -> list[dict]:
        with self._lock:
            return [dict(e) for e in self._nrps_log]

    def enroll(self, context_id: str, user_id: str, resource_link_id: str | None = None) -> None:
        """Make a user (and resource link) known in a context without a launch."""
        with self._lock:
            ctx = self._context(context_id)
            ctx["members"].add(user_id)
            if resource_link_id:
                ctx["resource_links"].add(resource_link_id)

    # ---- launch
    def launch(self, session, hub_url: str, on_page=None, **launch_args):
        """The whole LTI 1.3 launch as a browser does it; returns the tool's answer to the
        id_token post (or its answer to the login initiation when that is not a redirect)."""
        return browser_launch(self, session, hub_url, on_page=on_page, **launch_args)

    def begin_launch(self, hub_url: str, *, sub: str, roles: list, context: dict | None = None,
                     custom: dict | None = None, ags: bool = True, resource_link_id: str = "rl-1",
                     message_type: str = "LtiResourceLinkRequest", name: str = "Some Person",
                     email: str | None = None, extra_claims: dict | None = None,
                     deep_linking: dict | None = None, nrps: bool = True) -> dict:
        """Third-party initiated login: {"login_url", "form", "authorize_url"} to POST to the tool.
        `nrps`: the id_token carries the context's names and roles service (when it has a context)."""
        base = hub_url.rstrip("/")
        with self._lock:
            tool = {"login_url": self.tool["login_url"] or base + LOGIN_PATH,
                    "redirect_uris": self.tool["redirect_uris"] or [base + CALLBACK_PATH],
                    "target_link_uri": self.tool["target_link_uri"] or base + "/hub"}
            login_hint, message_hint = f"login-{secrets.token_hex(8)}", f"message-{secrets.token_hex(8)}"
            self.registration.set_oidc_login_url(tool["login_url"])
            oidc = _OIDCLogin(None, self.conf)
            oidc.set_lti_message_hint(hint=message_hint)
            oidc.set_launch_url(tool["target_link_uri"])
            login = urlsplit(oidc.initiate_login(login_hint))
            self._pending[login_hint] = dict(
                tool, message_hint=message_hint, sub=sub, roles=list(roles), context=context, custom=custom,
                ags=ags, resource_link_id=resource_link_id, message_type=message_type, name=name,
                email=email if email is not None else f"{sub}@example.org", extra_claims=extra_claims or {},
                deep_linking=deep_linking, nrps=nrps)
        return {"login_url": tool["login_url"], "form": dict(parse_qsl(login.query)), "authorize_url": self.authorize_url}

    def authorize(self, auth_request: dict) -> dict:
        """The platform's authorization endpoint, given the query of the tool's redirect:
        checks the request, returns {"id_token", "state", "launch_url"} (launch_url = redirect_uri)."""
        q = auth_request
        with self._lock:
            pending = self._pending.get(q.get("login_hint"))
            problems = [
                q.get("response_type") != "id_token" and "response_type must be id_token",
                "openid" not in str(q.get("scope", "")).split() and "scope must contain openid",
                q.get("response_mode") != "form_post" and "response_mode must be form_post",
                q.get("prompt") != "none" and "prompt must be none",
                q.get("client_id") != self.client_id and f"client_id {q.get('client_id')!r} is not ours",
                not q.get("nonce") and "nonce missing",
                not q.get("state") and "state missing",
                pending is None and "login_hint is not one of a login this platform started (or was used already)",
                pending and q.get("lti_message_hint") != pending["message_hint"]
                and "lti_message_hint does not match the login",
                pending and q.get("redirect_uri") not in pending["redirect_uris"]
                and f"redirect_uri {q.get('redirect_uri')!r} is not registered ({pending['redirect_uris']})",
            ]
            problems = [p for p in problems if p]
            if problems:
                raise AuthorizationError("; ".join(problems))
            launch = self._pending.pop(q["login_hint"])
            ml = _MessageLaunch(_LibRequest({"get_data": dict(q), "form_data": {}}), self.conf)
            ml.set_launch_url(launch["target_link_uri"])
            ml.set_user_data(launch["sub"], launch["roles"], full_name=launch["name"], email_address=launch["email"])
            dl = launch.get("deep_linking")
            if dl is None:  # a deep linking request is about no resource link
                ml.set_resource_link_claim(launch["resource_link_id"], title="Jupyter")
            context = launch["context"]
            if context is not None:
                ml.set_launch_context_claim(context["id"], context.get("type"), context.get("title"), context.get("label"))
                ctx = self._context(context["id"])
                ctx["members"].add(launch["sub"])
                ctx["resource_links"].add(launch["resource_link_id"])
                ctx["label"], ctx["title"] = context.get("label") or ctx["label"], context.get("title") or ctx["title"]
                ctx["roster"][launch["sub"]] = {"user_id": launch["sub"], "roles": list(launch["roles"]),
                                                "status": "Active", "name": launch["name"]}
                if launch.get("nrps", True):
                    ml.set_nrps(self.memberships_url(context["id"]))
                if launch["ags"]:
                    linked = next((d["lineitem"] for d in self._deep_links
                                   if d["context"] == context["id"] and d["resource_link_id"] == launch["resource_link_id"]), None)
                    ml.set_ags(lineitems_url=self.lineitems_url(context["id"]), lineitem_url=linked,
                               allow_creating_lineitems=True, results_service_enabled=True, scores_service_enabled=True)
            if dl is not None:
                data = f"dl-{secrets.token_hex(8)}"
                self._dl_requests[data] = {"context": context and context["id"], "sub": launch["sub"]}
                self.registration.set_deeplink_launch_url(launch["target_link_uri"])
                ml.set_dl(self.url + "/deep_link_return", title=dl.get("title", "Jupyter"),
                          accept_types=set(dl.get("accept_types", ["ltiResourceLink"])), extra_data=data)
            if launch["custom"] is not None:
                ml.set_custom_parameters_claim(launch["custom"])
            ml.set_extra_claims({CLAIM + "message_type": launch["message_type"], **launch["extra_claims"]})
            try:
                result = ml.lti_launch()
            finally:
                self.registration._deeplink_launch_url = None  # later launches are resource link launches
            self._launches.append({"sub": launch["sub"], "context": context and context["id"],
                                   "resource_link_id": launch["resource_link_id"], "ags": launch["ags"]})
            return result

    # ---- dynamic registration (1EdTech LTI Dynamic Registration 1.0, platform side)
    def openid_configuration(self) -> dict:
        """What /.well-known/openid-configuration serves (§3.4); the issuer is this platform's."""
        return {
            "issuer": self.issuer,
            "authorization_endpoint": self.authorize_url,
            "token_endpoint": self.token_url,
            "jwks_uri": self.jwks_url,
            "registration_endpoint": self.url + "/register",
            "scopes_supported": ["openid", *self.offered_scopes],
            "response_types_supported": ["id_token"],
            "subject_types_supported": ["public", "pairwise"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "token_endpoint_auth_methods_supported": ["private_key_jwt"],
            "claims_supported": ["sub", "iss", "name", "email"],
            "https://purl.imsglobal.org/spec/lti-platform-configuration": {
                "product_family_code": "lti1p3platform-peer", "version": "0.1.8",
                "messages_supported": [{"type": "LtiResourceLinkRequest"}, {"type": "LtiDeepLinkingRequest"}],
            },
        }

    def issue_registration_token(self) -> str:
        token = secrets.token_urlsafe(16)
        with self._lock:
            self._registration_tokens.add(token)
        return token

    def registrations(self) -> list[dict]:
        with self._lock:
            return [dict(r) for r in self._registrations]

    def register(self, authorization: str, content_type: str, body) -> dict:
        """The registration endpoint (§3.5, §3.6): checks the tool's client registration, gives it
        a new client id and deployment, and from then on launches to the URLs it registered."""
        scheme, _, token = authorization.partition(" ")
        tool = body.get("https://purl.imsglobal.org/spec/lti-tool-configuration") if isinstance(body, dict) else None
        supported = set(self.openid_configuration()["scopes_supported"])

        def is_url(value) -> bool:
            return isinstance(value, str) and urlsplit(value).scheme in ("https", "http") and bool(urlsplit(value).netloc)

        with self._lock:
            problems = [
                (scheme.lower() != "bearer" or token not in self._registration_tokens)
                and "Authorization must be Bearer <the registration_token this platform gave> (single use)",
                content_type != "application/json" and "Content-Type must be application/json",
                not isinstance(body, dict) and "the body must be a JSON object",
            ]
            if isinstance(body, dict):
                messages = (tool or {}).get("messages")
                problems += [
                    body.get("application_type") != "web" and "application_type must be web",
                    body.get("response_types") != ["id_token"] and 'response_types must be ["id_token"]',
                    not (isinstance(body.get("grant_types"), list) and {"implicit", "client_credentials"} <= set(body["grant_types"]))
                    and "grant_types must hold implicit and client_credentials",
                    not is_url(body.get("initiate_login_uri")) and "initiate_login_uri must be a URL",
                    not (isinstance(body.get("redirect_uris"), list) and body["redirect_uris"] and all(map(is_url, body["redirect_uris"])))
                    and "redirect_uris must be a non-empty list of URLs",
                    not is_url(body.get("jwks_uri")) and "jwks_uri must be a URL",
                    body.get("token_endpoint_auth_method") != "private_key_jwt" and "token_endpoint_auth_method must be private_key_jwt",
                    not (isinstance(body.get("client_name"), str) and body["client_name"]) and "client_name missing",
                    not (isinstance(body.get("scope", ""), str) and set(body.get("scope", "").split()) <= supported)
                    and f"scope must be space-separated scopes of {sorted(supported)}",
                    not isinstance(tool, dict) and "the lti-tool-configuration object is missing",
                    isinstance(tool, dict) and not (isinstance(tool.get("domain"), str) and tool["domain"]) and "lti-tool-configuration.domain missing",
                    isinstance(tool, dict) and "target_link_uri" in tool and not is_url(tool["target_link_uri"])
                    and "lti-tool-configuration.target_link_uri must be a URL",
                    isinstance(tool, dict) and not (isinstance(tool.get("claims", []), list)) and "lti-tool-configuration.claims must be a list",
                    isinstance(tool, dict) and not (isinstance(messages, list) and all(
                        isinstance(m, dict) and m.get("type") in ("LtiResourceLinkRequest", "LtiDeepLinkingRequest") for m in messages))
                    and "lti-tool-configuration.messages must list messages of the supported types",
                ]
            problems = [p for p in problems if p]
            if problems:
                raise AuthorizationError("; ".join(problems))
            self._registration_tokens.discard(token)
            self.client_id = f"dr-client-{next(self._ids)}"
            self.deployment_id = f"dr-deployment-{next(self._ids)}"
            self.registration.set_client_id(self.client_id).set_deployment_id(self.deployment_id)
            self.register_tool(tool_login_url=body["initiate_login_uri"], tool_redirect_uris=list(body["redirect_uris"]),
                               tool_jwks_url=body["jwks_uri"], tool_target_link_uri=tool.get("target_link_uri") or body["redirect_uris"][0])
            answer = {**body, "client_id": self.client_id, "registration_client_uri": f"{self.url}/register/{self.client_id}",
                      "https://purl.imsglobal.org/spec/lti-tool-configuration": {**tool, "deployment_id": self.deployment_id}}
            self._registrations.append({"request": body, "answer": answer})
            return answer

    def use_url_as_issuer(self) -> str:
        """Dynamic registration wants the issuer on the host of the configuration URL: this
        platform's own URL becomes its issuer (after start())."""
        with self._lock:
            self.issuer = self.url
            self.registration.set_iss(self.url)
            return self.issuer

    # ---- deep linking
    def deep_link_return(self, encoded: str) -> list[dict]:
        """The deep linking return URL: checks the tool's LtiDeepLinkingResponse (signature by a
        key of the tool's keyset, then every rule below) and creates one resource link per
        ltiResourceLink item, with its line item when it declares one. Returns the links."""
        with self._lock:
            try:
                claims = self.conf.tool_validate_and_decode(encoded)  # library: tool keyset, kid, RS256
                items = self.conf.validate_deeplinking_resp({"JWT": encoded})  # library: message type
            except Exception as exc:
                raise DeepLinkError(f"{type(exc).__name__}: {exc}") from exc
            aud = claims.get("aud")
            now = time.time()
            pending = self._dl_requests.get(claims.get("https://purl.imsglobal.org/spec/lti-dl/claim/data"))
            problems = [
                claims.get("iss") != self.client_id and f"iss must be the tool's client id {self.client_id!r}",
                not (aud == self.issuer or (isinstance(aud, list) and self.issuer in aud)) and "aud must be the platform's issuer",
                not _number(claims.get("exp")) and "exp missing",
                _number(claims.get("exp")) and claims["exp"] < now and "the response has expired",
                not _number(claims.get("iat")) and "iat missing",
                _number(claims.get("iat")) and claims["iat"] > now + 60 and "iat is in the future",
                not claims.get("nonce") and "nonce missing",
                claims.get(CLAIM + "version") != "1.3.0" and "version must be 1.3.0",
                claims.get(CLAIM + "deployment_id") != self.deployment_id and "deployment_id is not the request's",
                pending is None and "data does not echo a deep linking request this platform sent (or it was answered already)",
            ]
            for i, item in enumerate(items if isinstance(items, list) else []):
                line = item.get("lineItem")
                problems += [
                    item.get("type") != "ltiResourceLink" and f"content_items[{i}]: type must be ltiResourceLink",
                    not isinstance(item.get("title"), str) and f"content_items[{i}]: title missing",
                    not (isinstance(item.get("custom", {}), dict) and all(isinstance(v, str) for v in item.get("custom", {}).values()))
                    and f"content_items[{i}]: custom values must be strings",
                    line is not None and not (isinstance(line, dict) and _number(line.get("scoreMaximum")) and line["scoreMaximum"] > 0)
                    and f"content_items[{i}]: lineItem.scoreMaximum must be a number > 0",
                    line is not None and isinstance(line, dict) and not (isinstance(line.get("label", item.get("title")), str))
                    and f"content_items[{i}]: lineItem needs a label",
                ]
            if not isinstance(items, list):
                problems.append("content_items must be a list")
            problems = [p for p in problems if p]
            if problems:
                raise DeepLinkError("; ".join(problems))
            del self._dl_requests[claims["https://purl.imsglobal.org/spec/lti-dl/claim/data"]]
            ctx = self._context(pending["context"])
            created = []
            for item in items:
                rl = f"dl-{next(self._ids)}"
                ctx["resource_links"].add(rl)
                lineitem = None
                if item.get("lineItem"):
                    line = item["lineItem"]
                    lid = f"li{next(self._ids)}"
                    lineitem = self._lineitem_url(ctx, lid)
                    ctx["lineitems"][lid] = {
                        "id": lineitem, "label": line.get("label", item["title"]), "scoreMaximum": line["scoreMaximum"],
                        "resourceLinkId": rl, **{k: line[k] for k in ("resourceId", "tag") if k in line}}
                link = {"context": ctx["id"], "resource_link_id": rl, "title": item["title"],
                        "custom": dict(item.get("custom", {})), "lineitem": lineitem}
                self._deep_links.append(link)
                created.append(dict(link))
            return created

    def deep_links(self) -> list[dict]:
        with self._lock:
            return [dict(d) for d in self._deep_links]

    # ---- HTTP
    def handle(self, request: Request):
        if request.path == "/.well-known/openid-configuration" and request.method == "GET":
            return reply(200, self.openid_configuration())
        if request.path == "/register" and request.method == "POST":
            try:
                body = request.json()
            except ValueError:
                body = None
            try:
                return reply(200, self.register(request.headers.get("authorization", ""), request.content_type, body))
            except AuthorizationError as exc:
                return reply(400, {"error": "invalid_client_metadata", "error_description": str(exc)})
        if request.path == "/deep_link_return" and request.method == "POST":
            try:
                links = self.deep_link_return(request.form().get("JWT", ""))
            except DeepLinkError as exc:
                return reply(400, f"<p id='refused'>{html.escape(str(exc))}</p>".encode(), "text/html; charset=utf-8")
            titles = "".join(f"<li>{html.escape(link['title'])} ({link['resource_link_id']})</li>" for link in links)
            return reply(200, f"<h1 id='created'>Created {len(links)} links</h1><ul>{titles}</ul>".encode(),
                         "text/html; charset=utf-8")
        if request.path == "/jwks" and request.method == "GET":
            return reply(200, self.conf.get_jwks())
        if request.path == "/token":
            return guarded(self._errors, lambda: self._token(request))
        if request.path == "/authorize" and request.method in ("GET", "POST"):
            return self._authorize_browser(request)
        if request.path.startswith("/ags/"):
            return guarded(self._errors, lambda: self._ags(request))
        if request.path.startswith("/nrps/"):
            return guarded(self._errors, lambda: self._nrps(request))
        return None

    def _nrps(self, request: Request):
        parts = request.path.strip("/").split("/")  # nrps, <ctx>, memberships
        with self._lock:
            entry = {"time": time.time(), "method": request.method, "path": request.path, "query": dict(request.query)}
            self._nrps_log.append(entry)
            result = self._nrps_route(request, parts)
            entry["status"] = result[0]
            return result

    def _nrps_route(self, request: Request, parts: list):
        ctx = next((c for c in self._contexts.values() if c["key"] == parts[1]), None) if len(parts) == 3 else None
        if ctx is None or parts[2] != "memberships":
            return reply(404, {"error": "not_found"})
        if request.method != "GET":
            return reply(405, {"error": "GET only"}, headers=[("Allow", "GET")])
        fault = self.faults.take("memberships")
        if fault:
            return self.faults.reply(fault, {"error": "temporarily_unavailable", "error_description": "injected fault"})
        denied = self._check_bearer(request, {NRPS_SCOPE})
        if denied is not None:
            return denied
        accept = request.headers.get("accept", "")
        if accept and not any(t.split(";")[0].strip() in (MEMBERSHIP_TYPE, "*/*", "application/*") for t in accept.split(",")):
            return reply(406, {"error": f"this endpoint answers {MEMBERSHIP_TYPE}"})
        query = request.query
        members = sorted(ctx["roster"].values(), key=lambda m: m["user_id"])
        role = query.get("role")
        if role:
            short = role.rsplit("#", 1)[-1].rsplit("/", 1)[-1].lower()
            members = [m for m in members if any(r.rsplit("#", 1)[-1].rsplit("/", 1)[-1].lower() == short for r in m["roles"])]
        for k in ("limit", "page"):
            if k in query and (not query[k].isdigit() or int(query[k]) < 1):
                return reply(400, {"error": f"{k} must be a positive integer"})
        limits = [int(query["limit"])] if "limit" in query else []
        if self._roster_page_size:
            limits.append(self._roster_page_size)
        headers = []
        if limits:
            size, page = min(limits), int(query.get("page", "1"))
            more = len(members) > page * size
            members = members[(page - 1) * size:page * size]
            if more:
                params = {k: v for k, v in query.items() if k != "page"}
                params["page"] = str(page + 1)
                headers.append(("Link", f'<{self.memberships_url(ctx["id"])}?{urlencode(params)}>; rel="next"'))
        body = {"id": self.memberships_url(ctx["id"]),
                "context": {"id": ctx["id"], "label": ctx["label"] or "", "title": ctx["title"] or ""},
                "members": [dict(m) for m in members]}
        return reply(200, body, MEMBERSHIP_TYPE, headers=headers)

    def _authorize_browser(self, request: Request):
        """The authorization endpoint as a browser meets it (the tool redirected it here after a
        launch `begin_launch` started): a page that posts the id_token to the tool's redirect
        URI (response_mode form_post), or 400 with every rule the request broke."""
        query = dict(request.query)
        if request.method == "POST":
            query.update(request.form())
        try:
            form = self.authorize(query)
        except AuthorizationError as exc:
            return reply(400, f"authorization refused: {exc}".encode(), "text/plain")
        esc = html.escape
        page = (
            '<!DOCTYPE html><html><head><meta charset="utf-8"><title>Launching</title></head><body>'
            f'<form id="post" method="post" action="{esc(form["launch_url"])}">'
            f'<input type="hidden" name="id_token" value="{esc(form["id_token"])}">'
            f'<input type="hidden" name="state" value="{esc(form["state"])}">'
            '<noscript><button type="submit">Continue</button></noscript></form>'
            '<script>document.getElementById("post").submit()</script></body></html>'
        )
        return reply(200, page.encode(), "text/html; charset=utf-8", headers=[("Cache-Control", "no-store")])

    def _token(self, request: Request):
        with self._lock:
            entry = {"time": time.time(), "scope": request.form().get("scope")}
            self._token_log.append(entry)
            fault = self.faults.take("token")
            if fault:
                entry.update(status=fault.status, injected=True)
                return self.faults.reply(fault, {"error": "temporarily_unavailable", "error_description": "injected fault"})
            try:
                if request.method != "POST":
                    raise TokenError(405, "invalid_request", "the token endpoint takes POST")
                claims, granted = self._check_token_request(request)
            except TokenError as exc:
                entry.update(status=exc.status, error=exc.error, reason=exc.reason)
                return reply(exc.status, {"error": exc.error, "error_description": exc.reason},
                             headers=[("Cache-Control", "no-store")])
            jti = uuid.uuid4().hex
            token = Registration.encode_and_sign(  # the library's own get_access_token: 1 h, no jti
                {"sub": self.client_id, "iss": self.issuer, "scopes": " ".join(granted), "jti": jti},
                self.private_key, expiration=self.token_lifetime)
            entry.update(status=200, granted=" ".join(granted), kid=jwt.get_unverified_header(
                request.form()["client_assertion"]).get("kid"), access_token_jti=jti)
            return reply(200, {"access_token": token, "token_type": "Bearer", "expires_in": self.token_lifetime,
                               "scope": " ".join(granted)}, headers=[("Cache-Control", "no-store")])

    def _check_token_request(self, request: Request):
        form = request.form()
        for field in ("grant_type", "client_assertion_type", "client_assertion", "scope"):
            if not form.get(field):
                raise TokenError(400, "invalid_request", f"{field} missing (a form-encoded POST is expected)")
        if form["grant_type"] != "client_credentials":
            raise TokenError(400, "unsupported_grant_type", f"grant_type {form['grant_type']!r}")
        if form["client_assertion_type"] != ASSERTION_TYPE:
            raise TokenError(400, "invalid_request", f"client_assertion_type must be {ASSERTION_TYPE}")
        assertion = form["client_assertion"]
        try:
            self.conf.validate_jwt_format(assertion)
            key = self.conf.get_tool_public_key()  # by kid, and the key's alg must be the header's
            audiences = [self.token_url] + ([self.auth_audience] if self.auth_audience else [])
            claims = jwt.decode(assertion, key, algorithms=["RS256"], audience=audiences, issuer=self.client_id,
                                options={"require": ["iss", "sub", "aud", "iat", "exp", "jti"]})
        except (LtiException, jwt.PyJWTError) as exc:
            raise TokenError(401, "invalid_client", f"client assertion refused: {type(exc).__name__}: {exc}") from None
        if claims["sub"] != self.client_id:
            raise TokenError(401, "invalid_client", f"sub {claims['sub']!r} is not the client_id")
        now = time.time()
        self._seen_jti = {j: exp for j, exp in self._seen_jti.items() if exp > now}
        if claims["jti"] in self._seen_jti:
            raise TokenError(401, "invalid_client", f"jti {claims['jti']!r} replayed")
        self._seen_jti[claims["jti"]] = claims["exp"]
        granted = [s for s in form["scope"].split() if s in self.offered_scopes]
        if not granted:
            raise TokenError(400, "invalid_scope", f"none of {form['scope']!r} is offered")
        return claims, granted

    def _ags(self, request: Request):
        parts = request.path.strip("/").split("/")  # ags, <ctx>, lineitems[, <id>[, scores|results]]
        with self._lock:
            entry = {"time": time.time(), "method": request.method, "path": request.path}
            self._ags_log.append(entry)
            result = self._ags_route(request, parts)
            entry.update(status=result[0], body=result[2][:500].decode("utf-8", "replace") if result[0] >= 400 else "")
            return result

    def _ags_route(self, request: Request, parts: list):
        ctx = next((c for c in self._contexts.values() if c["key"] == parts[1]), None) if len(parts) > 2 else None
        if ctx is None or parts[2] != "lineitems" or len(parts) > 5 or parts[4:] not in ([], ["scores"], ["results"]):
            return reply(404, {"error": "not_found"})
        if self.url_query and any(request.query.get(k) != v for k, v in parse_qsl(self.url_query)):
            return reply(404, {"error": f"this platform's AGS URLs carry ?{self.url_query}: keep the query"})
        sub = parts[4] if len(parts) == 5 else None
        method = request.method
        if sub == "scores":
            route, needed, allowed = "scores", {SCORE}, {"POST"}
        elif sub == "results":
            route, needed, allowed = "results", {RESULT_READONLY}, {"GET"}
        else:
            route = "lineitems"
            allowed = {"GET", "POST"} if len(parts) == 3 else {"GET", "PUT", "DELETE"}
            needed = {LINEITEM, LINEITEM_READONLY} if method == "GET" else {LINEITEM}
        if method not in allowed:
            return reply(405, {"error": f"{method} not allowed here"})
        fault = self.faults.take(route)
        if fault:
            return self.faults.reply(fault, {"error": "injected fault"})
        denied = self._check_bearer(request, needed)
        if denied:
            return denied
        wanted = {("POST", "lineitems"): LINEITEM_TYPE, ("PUT", "lineitems"): LINEITEM_TYPE,
                  ("POST", "scores"): SCORE_TYPE}.get((method, route))
        body = None
        if wanted:
            if request.content_type != wanted:
                return reply(415, {"error": f"Content-Type must be {wanted}"})
            try:
                body = request.json()
            except ValueError:
                body = None
            if not isinstance(body, dict):
                return reply(400, {"error": "the body must be a JSON object"})
        query = self._ags_query(request, route)
        if isinstance(query, tuple):
            return query
        svc = _Ags(_LibRequest({"method": method, "get_data": dict(query), "form_data": {}, "json": body,
                                "headers": {"Authorization": request.headers.get("authorization", "")},
                                "content_type": request.content_type, "path": request.path}), self, ctx)
        kw = {"line_item_id": parts[3]} if len(parts) > 3 else {}
        handler = {("lineitems", 3, "GET"): svc.handle_get_lineitems, ("lineitems", 3, "POST"): svc.handle_create_lineitem,
                   ("lineitems", 4, "GET"): svc.handle_get_lineitem, ("lineitems", 4, "PUT"): svc.handle_update_lineitem,
                   ("lineitems", 4, "DELETE"): svc.handle_delete_lineitem, ("scores", 5, "POST"): svc.handle_update_score,
                   ("results", 5, "GET"): svc.handle_get_results}[(route, len(parts), method)]
        resp = svc.handle_resp(handler, **kw)
        if resp.code >= 400:
            return reply(resp.code, {"error": resp.message})
        result, headers = resp.result, []
        if isinstance(result, dict) and "content" in result:
            if result.get("has_next"):  # the library's own next link loses url_query and quotes no rel
                next_query = urlencode({**query, "page": query.get("page", 1) + 1})
                next_url = f"{self.lineitems_url(ctx['id'])}{'&' if self.url_query else '?'}{next_query}"
                headers.append(("Link", f'<{next_url}>; rel="next"'))
            result = result["content"]
        if result is None:
            return reply(resp.code, b"", resp.media_type)
        return reply(resp.code, result, resp.media_type, headers)

    def _ags_query(self, request: Request, route: str):
        """Only the query parameters the route knows, with page/limit as positive ints."""
        known = {"lineitems": ("resource_link_id", "resource_id", "tag", "page", "limit"),
                 "results": ("user_id", "page", "limit")}.get(route, ())
        query = {k: v for k, v in request.query.items() if k in known}
        for k in ("page", "limit"):
            if k in query:
                if not query[k].isdigit() or int(query[k]) < 1:
                    return reply(400, {"error": f"{k} must be a positive integer"})
                query[k] = int(query[k])
        return query

    def _check_bearer(self, request: Request, needed: set):
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return reply(401, {"error": "invalid_token", "error_description": "Bearer token required"},
                         headers=[("WWW-Authenticate", 'Bearer realm="ags"')])
        try:
            self.conf.validate_token(token.strip())  # library: signature, iss, exp
            claims = jwt.decode(token.strip(), self.public_key, algorithms=["RS256"])
            if claims.get("jti") in self._revoked:
                raise LtiException("token revoked")
        except Exception as exc:  # the library lets jwt errors escape handle_resp (a 500)
            return reply(401, {"error": "invalid_token", "error_description": f"{type(exc).__name__}: {exc}"},
                         headers=[("WWW-Authenticate", 'Bearer error="invalid_token"')])
        if not set(str(claims.get("scopes", "")).split()) & needed:
            scopes = " ".join(sorted(needed))
            return reply(403, {"error": "insufficient_scope", "error_description": f"needs one of {sorted(needed)}"},
                         headers=[("WWW-Authenticate", f'Bearer error="insufficient_scope", scope="{scopes}"')])
        return None

    # ---- fault injection
    def fail(self, target: str, status: int, times: int = 1, retry_after: int | None = None) -> None:
        """Answer the next `times` requests of `target` ("token", "scores", "lineitems",
        "results", "memberships") with `status`, plus Retry-After when given."""
        self.faults.set(target, status, times, retry_after)

    def fail_token(self, status: int, times: int = 1, retry_after: int | None = None) -> None:
        self.fail("token", status, times, retry_after)

    def fail_scores(self, status: int = 503, times: int = 1, retry_after: int | None = None) -> None:
        self.fail("scores", status, times, retry_after)

    def clear_faults(self) -> None:
        self.faults.clear()

    def revoke_tokens(self) -> int:
        """Every access token issued so far stops working (401), as after an LMS restart."""
        with self._lock:
            issued = {e["access_token_jti"] for e in self._token_log if e.get("access_token_jti")}
            self._revoked |= issued
            return len(issued)

    # ---- inspection (JSON-able copies)
    def lineitems(self, context_id: str) -> list[dict]:
        with self._lock:
            ctx = self._contexts.get(context_id)
            return [dict(li) for li in ctx["lineitems"].values()] if ctx else []

    def scores(self, lineitem) -> list[dict]:
        """Every accepted score of a line item (its id URL or the dict), oldest first."""
        lineitem_id = lineitem["id"] if isinstance(lineitem, dict) else lineitem
        with self._lock:
            return [{k: v for k, v in s.items() if k != "_received"} for s in self._scores.get(lineitem_id, [])]

    def latest_scores(self, lineitem) -> dict:
        """userId -> the latest accepted score of a line item."""
        return {s["userId"]: s for s in self.scores(lineitem)}

    def token_log(self, rejected: bool | None = None) -> list[dict]:
        """Token requests: status, error and reason (refused), granted scopes and kid (accepted)."""
        with self._lock:
            log = [dict(e) for e in self._token_log]
        return log if rejected is None else [e for e in log if (e["status"] != 200) == rejected]

    def ags_log(self) -> list[dict]:
        with self._lock:
            return [dict(e) for e in self._ags_log]

    def launches(self) -> list[dict]:
        with self._lock:
            return [dict(e) for e in self._launches]

    def jwks_fetches(self) -> int:
        return self._jwks_fetches

    def internal_errors(self) -> list[str]:
        """Tracebacks of peer bugs (500s); a test should expect none."""
        return list(self._errors)


def browser_launch(platform, session, hub_url: str, on_page=None, **launch_args):
    """The browser's part of a launch, for an in-process platform or a RemotePeer alike.

    A tool may answer the login initiation with a page whose script goes on to the
    authorization endpoint instead of a redirect: `on_page(response)` then does what that script
    does and returns the URL it goes to (None: the page does not go on)."""
    start = platform.begin_launch(hub_url, **launch_args)
    r = session.post(start["login_url"], data=start["form"], allow_redirects=False, timeout=30)
    if r.status_code in (302, 303) and "Location" in r.headers:
        next_url = r.headers["Location"]
    elif r.status_code == 200 and on_page is not None and (next_url := on_page(r)):
        pass
    else:
        return r  # the tool refused the login initiation: the test looks at why
    location = urlsplit(urljoin(r.url, next_url))
    if f"{location.scheme}://{location.netloc}{location.path}" != start["authorize_url"]:
        raise AssertionError(f"the tool redirected the login to {r.headers['Location']}, not to {start['authorize_url']}")
    form = platform.authorize(dict(parse_qsl(location.query, keep_blank_values=True)))
    return session.post(form["launch_url"], data={"id_token": form["id_token"], "state": form["state"]},
                        allow_redirects=False, timeout=30)
