"""Test stand-ins for the LMS side: an LTI 1.1 tool consumer that signs launches with
oauthlib, and an LTI 1.3 platform with its own RSA keys, a JWKS endpoint and an
authorization step that answers the tool's OIDC login redirect with an id_token."""

from __future__ import annotations

import json
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

import jwt
import requests
from cryptography.hazmat.primitives.asymmetric import rsa
from oauthlib.oauth1 import SIGNATURE_TYPE_BODY, Client

CLAIM = "https://purl.imsglobal.org/spec/lti/claim/"
LIS = "http://purl.imsglobal.org/vocab/lis/v2/"


class Lti11Consumer:
    def __init__(self, launch_url: str, key: str, secret: str):
        self.launch_url, self.key, self.secret = launch_url, key, secret

    def sign(self, params: dict, *, key=None, secret=None, timestamp=None, nonce=None) -> str:
        """The urlencoded body of a signed launch, as an LMS would POST it."""
        client = Client(
            key or self.key,
            client_secret=secret or self.secret,
            signature_type=SIGNATURE_TYPE_BODY,
            timestamp=str(timestamp or int(time.time())),
            nonce=nonce or uuid.uuid4().hex,
        )
        _, _, body = client.sign(
            self.launch_url,
            http_method="POST",
            body={"lti_message_type": "basic-lti-launch-request", "lti_version": "LTI-1p0", **params},
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        return body

    def post(self, session: requests.Session, body: str) -> requests.Response:
        return session.post(
            self.launch_url,
            data=body,
            headers={"Content-Type": "application/x-www-form-urlencoded"},
            allow_redirects=False,
        )


def _new_key():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


class Lti13Platform:
    """Serves GET /jwks on 127.0.0.1; the authorization step is done in-process."""

    def __init__(self, issuer: str, client_id: str, deployment_id: str):
        self.issuer, self.client_id, self.deployment_id = issuer, client_id, deployment_id
        self.key, self.kid = _new_key(), "platform-key-1"
        self.rogue_key = _new_key()  # never published
        jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self.key.public_key()))
        jwks = json.dumps({"keys": [{**jwk, "kid": self.kid, "alg": "RS256", "use": "sig"}]}).encode()

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                if self.path != "/jwks":
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(jwks)))
                self.end_headers()
                self.wfile.write(jwks)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def jwks_url(self):
        return self.url + "/jwks"

    @property
    def authorize_url(self):
        return self.url + "/authorize"

    def close(self):
        self.server.shutdown()

    def login(self, session: requests.Session, hub_url: str) -> dict:
        """Third-party initiated login; returns the authorization request the tool made."""
        r = session.post(
            hub_url + "/hub/lti13/oauth_login",
            data={
                "iss": self.issuer,
                "login_hint": "opaque-login-hint",
                "target_link_uri": hub_url + "/hub",
                "lti_message_hint": "opaque-message-hint",
                "client_id": self.client_id,
                "lti_deployment_id": self.deployment_id,
            },
            allow_redirects=False,
        )
        assert r.status_code == 302, (r.status_code, r.text[:500])
        location = urlparse(r.headers["Location"])
        assert f"{location.scheme}://{location.netloc}{location.path}" == self.authorize_url
        return {k: v[0] for k, v in parse_qs(location.query).items()}

    def id_token(self, auth_request: dict, *, sub: str, roles: list[str], context: dict | None,
                 custom: dict | None = None, key=None, kid=None, **overrides) -> str:
        now = int(time.time())
        claims = {
            "iss": self.issuer,
            "aud": self.client_id,
            "sub": sub,
            "iat": now,
            "exp": now + 300,
            "nonce": auth_request["nonce"],
            "name": "Some Person",
            "email": f"{sub}@example.org",
            CLAIM + "version": "1.3.0",
            CLAIM + "message_type": "LtiResourceLinkRequest",
            CLAIM + "deployment_id": self.deployment_id,
            CLAIM + "target_link_uri": "https://hub.example.org/hub",
            CLAIM + "resource_link": {"id": "resource-link-1", "title": "Jupyter"},
            CLAIM + "roles": roles,
        }
        if context is not None:
            claims[CLAIM + "context"] = context
        if custom is not None:
            claims[CLAIM + "custom"] = custom
        claims.update(overrides)
        return jwt.encode(claims, key or self.key, algorithm="RS256", headers={"kid": kid or self.kid})

    def callback(self, session: requests.Session, auth_request: dict, id_token: str, state=None):
        """The platform's form_post of the id_token back to the tool (browser cookies included)."""
        return session.post(
            auth_request["redirect_uri"],
            data={"id_token": id_token, "state": state or auth_request["state"]},
            allow_redirects=False,
        )

    def launch(self, session: requests.Session, hub_url: str, **token_args) -> requests.Response:
        auth_request = self.login(session, hub_url)
        return self.callback(session, auth_request, self.id_token(auth_request, **token_args))
