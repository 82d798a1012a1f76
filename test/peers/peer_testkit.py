"""Helpers of the peers' self-tests: a throwaway test CA, the tool's rotating RSA keys with their
JWKS, and a minimal LTI 1.3 tool (login initiation + callback that verifies the id_token)
standing in for the hub. (Not in conftest.py: test/hub's tests import from `conftest`.)"""

from __future__ import annotations

import base64
import datetime
import hashlib
import ipaddress
import json
import secrets
from pathlib import Path
from urllib.parse import urlencode

import jwt
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

from lti13_platform import CALLBACK_PATH, LOGIN_PATH
from peer_http import Served, reply, wsgi_app

ISSUER = "https://lms.peertest.example"
CLIENT_ID = "peertest-client-1"
DEPLOYMENT_ID = "peertest-deployment-1"
LTI11_KEY, LTI11_SECRET = secrets.token_hex(16), secrets.token_hex(32)


def make_test_certs(directory: Path, names: list[str]) -> tuple[Path, Path, Path]:
    """A throwaway CA and one server certificate for `names` (DNS names or IPs):
    (ca.pem, tls.crt, tls.key)."""
    directory.mkdir(parents=True, exist_ok=True)
    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "jupyterhub-lti-stack peer test CA")])
    valid = dict(not_valid_before=now - datetime.timedelta(minutes=5), not_valid_after=now + datetime.timedelta(days=1))
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
          .serial_number(x509.random_serial_number()).not_valid_before(valid["not_valid_before"])
          .not_valid_after(valid["not_valid_after"])
          .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
          .sign(ca_key, hashes.SHA256()))
    sans = []
    for name in names:
        try:
            sans.append(x509.IPAddress(ipaddress.ip_address(name)))
        except ValueError:
            sans.append(x509.DNSName(name))
    cert = (x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])]))
            .issuer_name(ca_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(valid["not_valid_before"]).not_valid_after(valid["not_valid_after"])
            .add_extension(x509.SubjectAlternativeName(sans), critical=False)
            .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .sign(ca_key, hashes.SHA256()))
    pem = serialization.Encoding.PEM
    (directory / "ca.pem").write_bytes(ca.public_bytes(pem))
    (directory / "tls.crt").write_bytes(cert.public_bytes(pem))
    (directory / "tls.key").write_bytes(key.private_bytes(pem, serialization.PrivateFormat.PKCS8,
                                                          serialization.NoEncryption()))
    return directory / "ca.pem", directory / "tls.crt", directory / "tls.key"


def _b64(n: int) -> str:
    return base64.urlsafe_b64encode(n.to_bytes((n.bit_length() + 7) // 8, "big")).rstrip(b"=").decode()


class ToolKeys:
    """The tool's RS256 keys (kid = RFC 7638 thumbprint, as the hub's keys.py); the first signs.
    `serve()` publishes the JWKS on 127.0.0.1 as the hub does at /hub/lti13/jwks."""

    def __init__(self):
        self.keys: list[tuple[str, rsa.RSAPrivateKey]] = []
        self.rotate()
        self.served: Served | None = None

    @staticmethod
    def jwk(key) -> dict:
        n = key.public_key().public_numbers()
        members = {"e": _b64(n.e), "kty": "RSA", "n": _b64(n.n)}
        kid = base64.urlsafe_b64encode(hashlib.sha256(json.dumps(members, separators=(",", ":"), sort_keys=True)
                                                      .encode()).digest()).rstrip(b"=").decode()
        return {**members, "kid": kid, "alg": "RS256", "use": "sig"}

    def rotate(self, *, drop_old: bool = False):
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.keys = [(self.jwk(key)["kid"], key)] + ([] if drop_old else self.keys)

    @property
    def kid(self) -> str:
        return self.keys[0][0]

    @property
    def private_pem(self) -> bytes:
        return self.keys[0][1].private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                             serialization.NoEncryption())

    def jwks(self) -> dict:
        return {"keys": [self.jwk(k) for _, k in self.keys]}

    def serve(self) -> str:
        self.served = Served(wsgi_app(lambda r: reply(200, self.jwks()) if r.path == "/jwks" else None))
        self.url = self.served.url + "/jwks"
        return self.url


class MiniTool:
    """The least an LTI 1.3 tool does, at the hub's paths: the login initiation answers with a
    redirect to the platform's authorization URL (state in a cookie, nonce remembered); the
    callback checks the state cookie and verifies the id_token (RS256 against the platform's
    JWKS, iss, aud, nonce). `mangle(params)` lets a test break the authentication request."""

    def __init__(self, platform_jwks, authorize_url: str, mangle=None):
        self.platform_jwks, self.authorize_url, self.mangle = platform_jwks, authorize_url, mangle
        self.nonces: dict[str, str] = {}
        self.claims: list[dict] = []
        self.headers: list[dict] = []
        self.served = Served(wsgi_app(self.handle))
        self.url = self.served.url

    def handle(self, request):
        if request.path == LOGIN_PATH:
            p = {**request.query, **request.form()}
            assert p["iss"] == ISSUER and p["client_id"] == CLIENT_ID and p["lti_deployment_id"] == DEPLOYMENT_ID
            state, nonce = secrets.token_urlsafe(16), secrets.token_urlsafe(16)
            self.nonces[state] = nonce
            auth = {"response_type": "id_token", "scope": "openid", "response_mode": "form_post", "prompt": "none",
                    "client_id": CLIENT_ID, "redirect_uri": self.url + CALLBACK_PATH, "login_hint": p["login_hint"],
                    "lti_message_hint": p["lti_message_hint"], "state": state, "nonce": nonce}
            if self.mangle:
                self.mangle(auth)
            return reply(302, b"", "text/plain", [("Location", f"{self.authorize_url}?{urlencode(auth)}"),
                                                  ("Set-Cookie", f"tool_state={state}; Path=/; HttpOnly")])
        if request.path == CALLBACK_PATH and request.method == "POST":
            form = request.form()
            cookie = dict(c.strip().split("=", 1) for c in request.headers.get("cookie", "").split(";") if "=" in c)
            if cookie.get("tool_state") != form.get("state") or form["state"] not in self.nonces:
                return reply(401, {"error": "state does not match the browser's cookie"})
            header = jwt.get_unverified_header(form["id_token"])
            key = jwt.PyJWKSet.from_dict(self.platform_jwks())[header["kid"]]
            claims = jwt.decode(form["id_token"], key, algorithms=["RS256"], audience=CLIENT_ID, issuer=ISSUER,
                                options={"require": ["iss", "aud", "exp", "iat", "nonce", "sub"]})
            if claims["nonce"] != self.nonces.pop(form["state"]):
                return reply(401, {"error": "nonce"})
            self.claims.append(claims)
            self.headers.append(header)
            return reply(302, b"", "text/plain", [("Location", "/hub/home")])
        return None

    def close(self):
        self.served.close()


