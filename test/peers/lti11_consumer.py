"""An LTI 1.1 tool consumer (the LMS side) for the tests, built on `lti` 0.9.5 and oauthlib.

Launches are signed by `lti.ToolConsumer(...).generate_launch_data()` (HMAC-SHA1, body
signature) and carry this consumer's `lis_outcome_service_url` and a `lis_result_sourcedid`.
(`generate_launch_request()` is not used: it signs after preparing the request, so its
Content-Length is the unsigned body's and requests truncates the body.)

The Basic Outcomes service (POST /lti11/outcomes) is as strict as an LMS must be; `lti` only
parses the XML and verifies nothing, so this consumer checks, in order:
  Content-Type application/xml (415); an OAuth 1.0a Authorization header (401 "unsigned");
  the HMAC-SHA1 signature with our key and secret, timestamp within 10 minutes and nonce
  never seen (oauthlib SignatureOnlyEndpoint, 401); oauth_body_hash present and equal to
  base64(sha1(raw body)) -- the signature does not cover the body itself, so without this a
  changed score would pass (401); the envelope is an imsx_POXEnvelopeRequest in the LTI 1.1
  outcomes namespace with a non-empty imsx_messageIdentifier (400, POX failure).
Then `lti.OutcomeRequest` parses it: replaceResult needs a sourcedid this consumer issued and a
decimal score in 0.0..1.0 (else a POX failure, HTTP 200 as the POX binding does); readResult
answers the latest score; other operations are "unsupported". Every request is recorded.
"""

from __future__ import annotations

import base64
import hashlib
import re
import threading
import time
import uuid
from types import SimpleNamespace

import lti
from lxml import etree
from oauthlib.oauth1 import SIGNATURE_HMAC_SHA1, RequestValidator, SignatureOnlyEndpoint

from peer_http import Faults, Request, Served, ServedPeer, guarded, reply

NS = "http://www.imsglobal.org/services/ltiv1p1/xsd/imsoms_v1p0"
OUTCOMES_PATH = "/lti11/outcomes"


def body_hash(body: bytes) -> str:
    return base64.b64encode(hashlib.sha1(body).digest()).decode()


class _Validator(RequestValidator):
    """What SignatureOnlyEndpoint needs for one HMAC-SHA1 consumer key."""

    allowed_signature_methods = (SIGNATURE_HMAC_SHA1,)
    enforce_ssl = False  # the hub tier talks plain http on 127.0.0.1
    dummy_client = "dummy-client"

    def __init__(self, consumer: "Lti11Consumer"):
        super().__init__()
        self.consumer, self.problem = consumer, None

    def check_client_key(self, client_key):  # the default wants 20-30 safe characters
        return bool(client_key)

    def check_nonce(self, nonce):  # the default wants 20-30 safe characters
        return bool(nonce)

    def validate_client_key(self, client_key, request):
        if client_key != self.consumer.key:
            self.problem = f"unknown consumer key {client_key!r}"
            return False
        return True

    def get_client_secret(self, client_key, request):
        return self.consumer.secret if client_key == self.consumer.key else "dummy-secret"

    def validate_timestamp_and_nonce(self, client_key, timestamp, nonce, request, request_token=None,
                                     access_token=None):
        if (client_key, nonce) in self.consumer._nonces:
            self.problem = f"nonce {nonce!r} replayed"
            return False
        self.consumer._nonces.add((client_key, nonce))
        return True


class Lti11Consumer(ServedPeer):
    """LTI 1.1 consumer with one key/secret.

    URLs (under `url`: http://127.0.0.1:<port> after `start()`, or `public_url`):
      POST /lti11/outcomes   Basic Outcomes (replaceResult, readResult), `outcome_url`
    """

    REMOTE_METHODS = ("launch_params", "add_sourcedid", "fail", "fail_outcomes", "clear_faults", "outcomes",
                      "results", "outcome_log", "sourcedids", "internal_errors", "urls")

    def __init__(self, key: str, secret: str, *, public_url: str | None = None):
        self.key, self.secret = key, secret
        self.url = public_url.rstrip("/") if public_url else None
        self.faults = Faults()
        self._lock = threading.RLock()
        self._nonces: set = set()
        self._sourcedids: set[str] = set()
        self._outcomes: list[dict] = []  # accepted operations
        self._log: list[dict] = []  # every outcome request and its verdict
        self._errors: list[str] = []
        self._served: Served | None = None

    outcome_url = property(lambda self: self.url + OUTCOMES_PATH)

    def urls(self) -> dict:
        return {"url": self.url, "outcome_url": self.outcome_url}

    # ---- launch
    def launch_params(self, launch_url: str, *, user_id: str, roles, context_id: str, resource_link_id: str = "rl-1",
                      outcome: bool = True, sourcedid: str | None = None, custom: dict | None = None,
                      extra: dict | None = None, key: str | None = None, secret: str | None = None) -> dict:
        """The signed form an LMS posts to launch_url. With `outcome`, it names our outcome
        service and a sourcedid (default "<context>:<resource link>:<user>") we then accept.
        `extra` names must be LTI 1.1 ones or custom_/ext_ (lti refuses others, and its
        set_non_spec_param breaks generate_launch_data)."""
        params = {"lti_message_type": "basic-lti-launch-request", "lti_version": "LTI-1p0",
                  "resource_link_id": resource_link_id, "user_id": user_id,
                  "roles": roles if isinstance(roles, list) else [roles], "context_id": context_id,
                  **{f"custom_{k}": v for k, v in (custom or {}).items()}, **(extra or {})}
        if outcome:
            sourcedid = sourcedid or f"{context_id}:{resource_link_id}:{user_id}"
            params.update(lis_outcome_service_url=self.outcome_url, lis_result_sourcedid=sourcedid)
            self.add_sourcedid(sourcedid)
        consumer = lti.ToolConsumer(key or self.key, secret or self.secret, launch_url=launch_url, params=params)
        return consumer.generate_launch_data()

    def launch(self, session, launch_url: str, **kwargs):
        """POST a signed launch as the browser does; returns the tool's answer (no redirects)."""
        return session.post(launch_url, data=self.launch_params(launch_url, **kwargs), allow_redirects=False, timeout=30)

    def add_sourcedid(self, sourcedid: str) -> None:
        with self._lock:
            self._sourcedids.add(sourcedid)

    # ---- HTTP
    def handle(self, request: Request):
        if request.path != OUTCOMES_PATH:
            return None
        return guarded(self._errors, lambda: self._outcome(request))

    def _outcome(self, request: Request):
        with self._lock:
            entry = {"time": time.time(), "content_type": request.content_type}
            self._log.append(entry)
            fault = self.faults.take("outcomes")
            if fault:
                entry.update(status=fault.status, injected=True)
                return self.faults.reply(fault, b"injected fault", "text/plain")
            status, code, description, parsed = self._verify_and_apply(request, entry)
            entry.update(status=status, code_major=code, reason=description)
            response = lti.OutcomeResponse(
                message_identifier=uuid.uuid4().hex, code_major=code,
                severity="status" if code == "success" else "error", description=description,
                message_ref_identifier=parsed.message_identifier if parsed else "",
                operation=(parsed.operation if parsed and parsed.operation else "replaceResult"),
                score=entry.get("read_score"))
            return reply(status, response.generate_response_xml(), "application/xml")

    def _verify_and_apply(self, request: Request, entry: dict):
        """(HTTP status, imsx_codeMajor, description, lti.OutcomeRequest or None)."""
        if request.method != "POST":
            return 405, "failure", "POST only", None
        if request.content_type != "application/xml":
            return 415, "failure", f"Content-Type must be application/xml, not {request.content_type!r}", None
        if not request.headers.get("authorization", "").startswith("OAuth "):
            return 401, "failure", "unsigned: no OAuth Authorization header", None
        validator = _Validator(self)
        uri = self.url + request.path + (f"?{request.query_string}" if request.query_string else "")
        headers = {"Authorization": request.headers["authorization"], "Content-Type": request.headers["content-type"]}
        try:
            body_text = request.body.decode("utf-8")
        except UnicodeDecodeError:
            return 400, "failure", "the body is not UTF-8", None
        valid, oauth_request = SignatureOnlyEndpoint(validator).validate_request(uri, "POST", body_text, headers)
        if not valid:
            problem = validator.problem or "bad signature, signature method or timestamp"
            return 401, "failure", f"OAuth signature refused: {problem}", None
        oauth = dict(oauth_request.oauth_params)
        if "oauth_body_hash" not in oauth:
            return 401, "failure", "oauth_body_hash missing", None
        if oauth["oauth_body_hash"] != body_hash(request.body):
            return 401, "failure", "oauth_body_hash does not match the body", None
        try:
            root = etree.fromstring(request.body)
        except etree.XMLSyntaxError as exc:
            return 400, "failure", f"not XML: {exc}", None
        if root.tag != f"{{{NS}}}imsx_POXEnvelopeRequest":
            return 400, "failure", f"root must be imsx_POXEnvelopeRequest in {NS}, not {root.tag}", None
        try:
            parsed = lti.OutcomeRequest.from_post_request(SimpleNamespace(body=request.body))
        except AttributeError as exc:  # lti reads the header without a guard
            return 400, "failure", f"not a POX request: {exc}", None
        # lti's objectify parse re-types text ("007" -> "7", "0.7500" -> "0.75"): take the raw text
        text = lambda name: root.findtext(f".//{{{NS}}}{name}")  # noqa: E731
        parsed.message_identifier = (text("imsx_messageIdentifier") or "").strip()
        if not parsed.message_identifier:
            return 400, "failure", "imsx_messageIdentifier is empty", parsed
        sourcedid, parsed.score = text("sourcedId"), text("textString")
        entry.update(message_id=parsed.message_identifier, operation=parsed.operation, sourcedid=sourcedid)
        if parsed.operation not in ("replaceResult", "readResult"):
            return 200, "unsupported", f"operation {parsed.operation!r} is not supported", parsed
        if sourcedid not in self._sourcedids:
            return 200, "failure", f"unknown sourcedid {sourcedid!r}", parsed
        if parsed.operation == "readResult":
            entry["read_score"] = self.results().get(sourcedid, {}).get("score_text")
            return 200, "success", "read", parsed
        if not re.fullmatch(r"\d+(\.\d*)?|\.\d+", (parsed.score or "").strip()):
            return 200, "failure", f"score {parsed.score!r} is not a decimal", parsed
        score = float(parsed.score)
        if not 0.0 <= score <= 1.0:
            return 200, "failure", f"score {parsed.score!r} is outside 0.0-1.0", parsed
        self._outcomes.append({"sourcedid": sourcedid, "score": score, "score_text": parsed.score,
                               "message_id": parsed.message_identifier, "time": time.time()})
        return 200, "success", f"score {score} recorded for {sourcedid}", parsed

    # ---- fault injection
    def fail(self, target: str, status: int, times: int = 1, retry_after: int | None = None) -> None:
        """Answer the next `times` requests of `target` ("outcomes") with `status`."""
        self.faults.set(target, status, times, retry_after)

    def fail_outcomes(self, status: int = 503, times: int = 1, retry_after: int | None = None) -> None:
        self.fail("outcomes", status, times, retry_after)

    def clear_faults(self) -> None:
        self.faults.clear()

    # ---- inspection (JSON-able copies)
    def outcomes(self) -> list[dict]:
        """Every accepted replaceResult: sourcedid, score, message_id, time; oldest first."""
        with self._lock:
            return [dict(o) for o in self._outcomes]

    def results(self) -> dict:
        """sourcedid -> the latest accepted replaceResult."""
        return {o["sourcedid"]: o for o in self.outcomes()}

    def outcome_log(self, rejected: bool | None = None) -> list[dict]:
        """Every outcome request: HTTP status, code_major, reason (refused ones included)."""
        with self._lock:
            log = [dict(e) for e in self._log]
        if rejected is None:
            return log
        return [e for e in log if (e["status"] != 200 or e.get("code_major") != "success") == rejected]

    def sourcedids(self) -> list[str]:
        with self._lock:
            return sorted(self._sourcedids)

    def internal_errors(self) -> list[str]:
        return list(self._errors)
