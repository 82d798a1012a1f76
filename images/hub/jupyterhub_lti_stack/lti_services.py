"""The hub as a client of an LTI 1.3 platform's services (LTI Advantage).

Grade passback (Assignment and Grade Services, passback.py) and the course roster (Names and
Role Provisioning Services, roster.py) call the platform with a bearer token the platform's token
endpoint (its ``tokenUrl`` in the stack config) grants by the OAuth 2 client-credentials grant,
authenticated by a JWT client assertion signed with the tool's key (LTI Security Framework 1.0,
section 4.1). Tokens are cached per (token endpoint, client id, scopes) until 30 s before they
expire, and dropped when the platform refuses one (revoked, or an LMS restart).

Every failure is a ServiceError naming the service that was being used, with whether trying again
later can help (5xx, 401/403/408/409/429, network errors) and the platform's Retry-After.
"""

from __future__ import annotations

import json
import time
import uuid
from urllib.parse import urlencode

import jwt
from tornado.httpclient import AsyncHTTPClient, HTTPClientError, HTTPRequest

from .keys import SigningKey
from .stack import Stack

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
TIMEOUT = 20.0
# A token is used only while it has more than this left (a request may take TIMEOUT).
EXPIRY_MARGIN = 30.0


class ServiceError(Exception):
    """A call to a platform's service failed; `retry` says whether trying again later can help."""

    def __init__(self, message: str, retry: bool = True, retry_after: float | None = None):
        super().__init__(message)
        self.retry = retry
        self.retry_after = retry_after


def http_error(what: str, code: int, headers: dict, text: str) -> ServiceError:
    """The error of a platform's answer `code` to the request `what`."""
    retry_after = None
    if code == 429 and headers.get("Retry-After", "").isdigit():
        retry_after = float(headers["Retry-After"])
    # 4xx other than these will not heal by themselves.
    retry = code >= 500 or code in (401, 403, 408, 409, 429)
    return ServiceError(f"{what}: HTTP {code} {text[:200].strip()}", retry=retry, retry_after=retry_after)


class ServiceClient:
    """Requests to an LMS's services (LTI 1.1 outcomes as well), and LTI 1.3 service tokens."""

    def __init__(self, stack: Stack, keys: tuple[SigningKey, ...]):
        self.stack, self.keys = stack, keys
        self.http = AsyncHTTPClient()
        self._tokens: dict[tuple[str, str, str], tuple[str, float]] = {}

    async def request(self, url: str, method: str = "GET", body: str | None = None, headers: dict | None = None) -> tuple[int, dict, str]:
        """(status, headers, text) of one request; no redirects followed. A 401 to a bearer token
        forgets the cached tokens, so the next call gets a new one."""
        request = HTTPRequest(url, method=method, body=body, headers=headers or {}, request_timeout=TIMEOUT, follow_redirects=False)
        try:
            response = await self.http.fetch(request, raise_error=False)
        except (OSError, HTTPClientError) as e:
            raise ServiceError(f"{method} {url}: {e}") from e
        if response.code == 599:
            raise ServiceError(f"{method} {url}: {response.error}")
        if response.code == 401 and (headers or {}).get("Authorization", "").startswith("Bearer "):
            self._tokens.clear()
        return response.code, dict(response.headers), (response.body or b"").decode("utf-8", "replace")

    async def access_token(self, issuer: str, client_id: str, scopes: tuple[str, ...], service: str) -> str:
        """A bearer token of `scopes` from the platform `issuer` knows this tool as `client_id`;
        `service` names what it is for in errors (e.g. "grade passback")."""
        platform = self.stack.lti13.platform(issuer, client_id)
        if platform is None:
            raise ServiceError(
                f"{service}: the launch came from {issuer} (client id {client_id!r}), which is no longer an LTI 1.3 "
                "platform of this environment: add it back to lti13 in the config, or launch again from a configured one",
                retry=False,
            )
        token_url = platform.token_url
        if not token_url:
            raise ServiceError(
                f"{service} cannot run: no tokenUrl for the LTI 1.3 platform {issuer} in the stack config "
                "(lti13.platforms[].tokenUrl, the platform's OAuth 2 token endpoint)",
                retry=False,
            )
        cache_key = (token_url, client_id, " ".join(scopes))
        cached = self._tokens.get(cache_key)
        if cached and cached[1] > time.time() + EXPIRY_MARGIN:
            return cached[0]
        key = self.keys[0]
        now = int(time.time())
        assertion = jwt.encode(
            {"iss": client_id, "sub": client_id, "aud": token_url, "iat": now, "exp": now + 300, "jti": uuid.uuid4().hex},
            key.private_pem(), algorithm="RS256", headers={"kid": key.kid},
        )
        body = urlencode({
            "grant_type": "client_credentials", "client_assertion_type": ASSERTION_TYPE,
            "client_assertion": assertion, "scope": " ".join(scopes),
        })
        code, headers, text = await self.request(token_url, "POST", body, {"Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json"})
        if code != 200:
            raise http_error(f"{service}: token endpoint", code, headers, text)
        try:
            answer = json.loads(text)
            token, lifetime = answer["access_token"], float(answer.get("expires_in", 300))
        except (ValueError, KeyError, TypeError, AttributeError) as e:
            raise ServiceError(f"{service}: token endpoint: no access_token and expires_in in its answer ({text[:120]!r})") from e
        self._tokens[cache_key] = (token, time.time() + lifetime)
        return token
