"""LTI Dynamic Registration (1EdTech LTI Dynamic Registration 1.0), tool side.

Offered only when the environment enables it (``lti13.dynamicRegistration``), and only with a
one-time token the operator makes (``registration-token <env>``, which runs ``python3 -m
jupyterhub_lti_stack.dynamic_registration token`` in the hub container and prints the URL). The
LMS admin pastes that URL into the LMS; the LMS opens it with ``openid_configuration`` (and
usually ``registration_token``). The hub then

1. reads the platform's OpenID configuration (its issuer must be on the configuration URL's host,
   https unless the hub itself runs on http, as in tests),
2. posts its client registration to the platform's ``registration_endpoint``: its login, redirect
   and keyset URLs, the grade service scopes the platform offers, the resource link and deep
   linking messages, the claims it needs,
3. shows the admin the platform's answer as the ``lti13.platforms`` entry to add to the config
   (the config file stays the source of truth; the next deploy accepts launches from it) and
   tells the LMS it is done (``org.imsglobal.lti.close``).

The token is used up by a completed registration; each registration is kept on the hub's launch
store so the snippet can be shown again (``... dynamic_registration list``).
"""

from __future__ import annotations

import argparse
import html
import json
import sys
import time
from urllib.parse import urlencode, urlparse

from jupyterhub.handlers import BaseHandler
from tornado.httpclient import AsyncHTTPClient, HTTPClientError, HTTPRequest
from tornado.web import HTTPError

from .contract import PATHS, URL_PATHS
from .launch import NRPS_SCOPE
from .passback import AGS_LINEITEM, AGS_SCORE

TOKEN_PARAM = "jhlti_registration"
PLATFORM_CONFIGURATION = "https://purl.imsglobal.org/spec/lti-platform-configuration"
TOOL_CONFIGURATION = "https://purl.imsglobal.org/spec/lti-tool-configuration"
DEFAULT_TOKEN_HOURS = 24
TIMEOUT = 20


class RegistrationFailed(Exception):
    """A step of the registration failed; the message is shown to the admin."""


def _url(stack, key: str) -> str:
    return stack.public_url.rstrip("/") + URL_PATHS[key]


def check_platform_configuration(config_url: str, config: dict, allow_http: bool) -> None:
    """The platform's OpenID configuration, as the registration needs it."""
    if not isinstance(config, dict):
        raise RegistrationFailed("the platform's OpenID configuration is not a JSON object")
    missing = [k for k in ("issuer", "authorization_endpoint", "token_endpoint", "jwks_uri", "registration_endpoint")
               if not isinstance(config.get(k), str) or not config[k]]
    if missing:
        raise RegistrationFailed(f"the platform's OpenID configuration lacks {', '.join(missing)}")
    schemes = ("https", "http") if allow_http else ("https",)
    for key in ("issuer", "authorization_endpoint", "token_endpoint", "jwks_uri", "registration_endpoint"):
        if urlparse(config[key]).scheme not in schemes or not urlparse(config[key]).netloc:
            raise RegistrationFailed(f"the platform's {key} must be an {' or '.join(schemes)} URL, got {config[key]!r}")
    if urlparse(config["issuer"]).netloc != urlparse(config_url).netloc:
        raise RegistrationFailed(
            f"the platform's issuer {config['issuer']} is not on the host of its OpenID configuration URL {config_url}"
        )
    algorithms = config.get("id_token_signing_alg_values_supported")
    if isinstance(algorithms, list) and "RS256" not in algorithms:
        raise RegistrationFailed("the platform does not sign id_tokens with RS256, which LTI 1.3 requires")
    methods = config.get("token_endpoint_auth_methods_supported")
    if isinstance(methods, list) and "private_key_jwt" not in methods:
        raise RegistrationFailed("the platform's token endpoint does not take private_key_jwt, which LTI 1.3 requires")


def client_registration(stack, platform_config: dict) -> dict:
    """The tool's registration request (Dynamic Registration §3.5)."""
    callback = _url(stack, "lti13_callback")
    supported = platform_config.get("scopes_supported")
    # Grades back (AGS) and the course roster for pre-warm (NRPS), as far as the platform offers them.
    scopes = [s for s in (AGS_LINEITEM, AGS_SCORE, NRPS_SCOPE) if not isinstance(supported, list) or s in supported]
    offered = (platform_config.get(PLATFORM_CONFIGURATION) or {}).get("messages_supported")
    offered_types = {m.get("type") for m in offered if isinstance(m, dict)} if isinstance(offered, list) else None
    title = f"JupyterHub ({stack.environment})"
    messages = [{"type": "LtiResourceLinkRequest", "target_link_uri": callback, "label": title}]
    if offered_types is None or "LtiDeepLinkingRequest" in offered_types:
        messages.append({"type": "LtiDeepLinkingRequest", "target_link_uri": callback, "label": f"{title}: add assignments"})
    return {
        "application_type": "web",
        "response_types": ["id_token"],
        "grant_types": ["implicit", "client_credentials"],
        "initiate_login_uri": _url(stack, "lti13_login"),
        "redirect_uris": [callback],
        "client_name": title,
        "jwks_uri": _url(stack, "lti13_jwks"),
        "token_endpoint_auth_method": "private_key_jwt",
        "scope": " ".join(scopes),
        TOOL_CONFIGURATION: {
            "domain": urlparse(stack.public_url).netloc,
            "target_link_uri": callback,
            "claims": ["iss", "sub"],  # users are keyed on sub; no names or e-mail
            "messages": messages,
        },
    }


def platform_entry(platform_config: dict, answer: dict) -> dict:
    """The lti13.platforms entry (config field names) for a completed registration."""
    tool = answer.get(TOOL_CONFIGURATION) or {}
    deployment = tool.get("deployment_id")
    entry = {
        "issuer": platform_config["issuer"],
        "clientIds": [answer["client_id"]],
        "deploymentIds": [deployment] if isinstance(deployment, str) and deployment else [],
        "authorizeUrl": platform_config["authorization_endpoint"],
        "jwksUrl": platform_config["jwks_uri"],
        "tokenUrl": platform_config["token_endpoint"],
    }
    return entry


def yaml_entry(entry: dict) -> str:
    """The entry as a YAML list item (JSON scalars are valid YAML)."""
    lines = []
    for i, (key, value) in enumerate(entry.items()):
        lines.append(f"{'- ' if i == 0 else '  '}{key}: {json.dumps(value)}")
    return "\n".join(lines)


async def _get_json(url: str, headers: dict | None = None) -> dict:
    try:
        response = await AsyncHTTPClient().fetch(
            HTTPRequest(url, headers={"Accept": "application/json", **(headers or {})}, request_timeout=TIMEOUT, follow_redirects=False),
            raise_error=False,
        )
    except (OSError, HTTPClientError) as e:
        raise RegistrationFailed(f"GET {url}: {e}") from e
    if response.code != 200:
        raise RegistrationFailed(f"GET {url}: HTTP {response.code} {(response.body or b'')[:200]!r}")
    try:
        return json.loads(response.body)
    except ValueError as e:
        raise RegistrationFailed(f"GET {url}: not JSON") from e


async def register(stack, config_url: str, registration_token: str | None, allow_http: bool) -> tuple[dict, dict, dict]:
    """Steps 1 and 2; returns (platform configuration, request, answer)."""
    schemes = ("https", "http") if allow_http else ("https",)
    if urlparse(config_url).scheme not in schemes or not urlparse(config_url).netloc:
        raise RegistrationFailed(f"openid_configuration must be an {' or '.join(schemes)} URL, got {config_url!r}")
    platform_config = await _get_json(config_url)
    check_platform_configuration(config_url, platform_config, allow_http)
    request = client_registration(stack, platform_config)
    headers = {"Content-Type": "application/json", "Accept": "application/json"}
    if registration_token:
        headers["Authorization"] = f"Bearer {registration_token}"
    try:
        response = await AsyncHTTPClient().fetch(
            HTTPRequest(platform_config["registration_endpoint"], method="POST", body=json.dumps(request), headers=headers,
                        request_timeout=TIMEOUT, follow_redirects=False),
            raise_error=False,
        )
    except (OSError, HTTPClientError) as e:
        raise RegistrationFailed(f"POST {platform_config['registration_endpoint']}: {e}") from e
    if response.code not in (200, 201):
        raise RegistrationFailed(
            f"the platform refused the registration: HTTP {response.code} {(response.body or b'').decode('utf-8', 'replace')[:300]}"
        )
    try:
        answer = json.loads(response.body)
    except ValueError as e:
        raise RegistrationFailed("the platform's registration answer is not JSON") from e
    if not isinstance(answer, dict) or not isinstance(answer.get("client_id"), str) or not answer["client_id"]:
        raise RegistrationFailed("the platform's registration answer has no client_id")
    return platform_config, request, answer


def _page(title: str, body: str, close: bool = False) -> str:
    script = (
        "<script>function done(){var m={subject:'org.imsglobal.lti.close'};"
        "(window.opener||window.parent).postMessage(m,'*');}</script>" if close else ""
    )
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{html.escape(title)}</title><style>body{{font:15px/1.45 system-ui,sans-serif;margin:1.5em;max-width:52em}}"
        "pre{background:#f5f5f5;padding:1em;overflow:auto}</style></head>"
        f"<body><h1>{html.escape(title)}</h1>{body}{script}</body></html>"
    )


class DynamicRegistrationHandler(BaseHandler):
    """The registration URL the LMS opens (GET, as the specification has it)."""

    async def get(self):
        authenticator = self.authenticator
        stack = authenticator.stack
        store = authenticator.launch_store
        token = self.get_query_argument(TOKEN_PARAM, "")
        if not token or not store.registration_token_valid(token):
            raise HTTPError(
                403, "This registration URL has no valid one-time token (used already, expired or mistyped): "
                "ask the platform team for a new one (registration-token <env>)."
            )
        config_url = self.get_query_argument("openid_configuration", "")
        if not config_url:
            raise HTTPError(400, "openid_configuration is missing: paste this URL into the LMS's dynamic registration, not a browser")
        allow_http = urlparse(stack.public_url).scheme == "http"
        try:
            platform_config, request, answer = await register(
                stack, config_url, self.get_query_argument("registration_token", "") or None, allow_http)
        except RegistrationFailed as e:
            self.log.warning("Dynamic registration with %s failed: %s", config_url, e)
            self.set_status(502)
            self.finish(_page("Registration failed", f'<p id="jhlti-error">{html.escape(str(e))}</p>'
                              "<p>Nothing was registered; the registration URL stays valid for another try.</p>"))
            return
        entry = platform_entry(platform_config, answer)
        if not store.use_registration_token(token, entry):
            raise HTTPError(403, "This registration URL was used by another registration just now: ask for a new one.")
        self.log.info("Dynamic registration: %s registered client id %s", entry["issuer"], entry["clientIds"][0])
        known = stack.lti13.platform(entry["issuer"], entry["clientIds"][0]) is not None
        body = (
            f"<p>{html.escape(entry['issuer'])} registered this JupyterHub as client "
            f"<b>{html.escape(entry['clientIds'][0])}</b>"
            + (f", deployment <b>{html.escape(entry['deploymentIds'][0])}</b>" if entry["deploymentIds"] else "")
            + ".</p>"
            + ("<p>This platform is in the configuration already.</p>" if known else
               "<p>Launches from it are accepted once the platform team adds this entry to "
               f"<code>lti13.platforms</code> of the environment <b>{html.escape(stack.environment)}</b> "
               "in the config file and deploys again:</p>")
            + f'<pre id="jhlti-snippet">{html.escape(yaml_entry(entry))}</pre>'
            + f'<details><summary>as JSON</summary><pre id="jhlti-snippet-json">{html.escape(json.dumps(entry, indent=2))}</pre></details>'
            + '<p><button type="button" onclick="done()">Done: back to the LMS</button></p>'
        )
        self.finish(_page("Registered with the LMS", body, close=True))


def main(argv: list[str] | None = None) -> int:
    """In the hub container: make a registration token (prints the URL) or list registrations."""
    parser = argparse.ArgumentParser(prog="python3 -m jupyterhub_lti_stack.dynamic_registration")
    parser.add_argument("--db", default=PATHS["hub_launch_db"], help=argparse.SUPPRESS)
    parser.add_argument("--stack", default=PATHS["hub_stack_file"], help=argparse.SUPPRESS)
    sub = parser.add_subparsers(dest="command", required=True)
    token = sub.add_parser("token", help="a one-time registration URL")
    token.add_argument("--hours", type=float, default=DEFAULT_TOKEN_HOURS)
    sub.add_parser("list", help="the completed registrations, as lti13.platforms entries")
    args = parser.parse_args(argv)

    from .launch_store import LaunchStore
    from .stack import load_stack

    stack = load_stack(args.stack)
    if not (stack.lti13.enabled and stack.lti13.dynamic_registration):
        print(f"environment {stack.environment}: LTI Dynamic Registration is off; set lti13.dynamicRegistration: true "
              "in the config and deploy first", file=sys.stderr)
        return 2
    store = LaunchStore(args.db)
    if args.command == "token":
        if not 0 < args.hours <= 24 * 30:
            print("--hours must be between 0 and 720", file=sys.stderr)
            return 2
        secret = store.issue_registration_token(args.hours * 3600)
        expires = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(time.time() + args.hours * 3600))
        print(f"{_url(stack, 'lti13_dynamic_registration')}?{urlencode({TOKEN_PARAM: secret})}")
        print(f"one registration, until {expires}: paste it into the LMS's LTI 1.3 dynamic registration", file=sys.stderr)
        return 0
    for at, entry in store.registrations():
        print(f"# registered {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime(at))}\n{yaml_entry(entry)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
