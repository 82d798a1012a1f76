"""The demo launcher: a stand-in LMS for trying an environment without one.

An environment that opts in (``demoLauncher`` in its config; the embedded demo does) runs this
module in a container of its own, from the hub's image, on loopback only by default. Its page
offers, for every course of the environment, a launch as a student or as an instructor, over
LTI 1.1 or LTI 1.3, in a new window or inside the page (an iframe, on another site than the hub,
as in an LMS). The launches are the signed ones an LMS sends:

* LTI 1.1: a form signed with the environment's consumer key and shared secret (OAuth 1.0a
  HMAC-SHA1 body signature, oauthlib), posted to the hub's launch URL;
* LTI 1.3: third-party initiated login at the hub, the hub's authentication request back here
  (``/authorize``, checked like a platform does), and an id_token signed with the launcher's own
  platform key (its JWKS at ``/jwks``, which the hub fetches over the environment's launcher
  network), posted to the hub's redirect URI.

The page holds no secret: it only names what to launch; the signing happens here at each
launch, for a browser on the launcher's own origin (a POST from any other origin is refused).
This is a demonstration tool, never part of a production environment unless asked for.

    python3 -m jupyterhub_lti_stack.demo_launcher [--stack stack.json] [--secrets DIR]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import html
import json
import logging
import secrets
import ssl
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qsl

import jwt
from cryptography.hazmat.primitives import serialization
from oauthlib.oauth1 import SIGNATURE_TYPE_BODY, Client
from tornado import httpserver, web

from .contract import PATHS, SECRET_FILES, URL_PATHS
from .stack import Course, Stack, load_stack

log = logging.getLogger("jhlti.demo_launcher")

CLAIM = "https://purl.imsglobal.org/spec/lti/claim/"
LIS = "http://purl.imsglobal.org/vocab/lis/v2/"
ROLES = {
    "student": ("Learner", [LIS + "membership#Learner"]),
    "instructor": ("Instructor", [LIS + "membership#Instructor"]),
}
# One demo person per role (their LMS user ids; the hub names its users after them).
USERS = {"student": "demo-student", "instructor": "demo-instructor"}
PROTOCOLS = ("lti11", "lti13")
TARGETS = {"window": "_blank", "iframe": "tool"}
LOGIN_SECONDS = 300


class LaunchError(ValueError):
    """A request the launcher refuses, with the reason shown to the person."""


def _b64url_uint(value: int) -> str:
    raw = value.to_bytes((value.bit_length() + 7) // 8, "big")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


@dataclass(frozen=True)
class LaunchForm:
    """An auto-submitting form: where it posts and what it carries."""

    action: str
    fields: dict[str, str]


class Launcher:
    """Everything but HTTP: the launches it signs and the checks it makes."""

    def __init__(self, stack: Stack, secret_values: dict[str, str], platform_key_pem: str | None):
        if stack.demo_launcher is None:
            raise LaunchError("this environment has no demo launcher (demoLauncher in its config)")
        self.stack = stack
        self.settings = stack.demo_launcher
        self.hub = stack.public_url.rstrip("/")
        self.lti11 = None
        if stack.lti11.enabled:
            self.lti11 = (secret_values[SECRET_FILES["lti11_consumer_key"]], secret_values[SECRET_FILES["lti11_shared_secret"]])
        self.key = None
        if stack.lti13.enabled and platform_key_pem:
            self.key = serialization.load_pem_private_key(platform_key_pem.encode("ascii"), password=None)
            numbers = self.key.public_key().public_numbers()
            jwk = {"kty": "RSA", "e": _b64url_uint(numbers.e), "n": _b64url_uint(numbers.n)}
            thumbprint = json.dumps(jwk, separators=(",", ":"), sort_keys=True).encode("ascii")
            self.kid = base64.urlsafe_b64encode(hashlib.sha256(thumbprint).digest()).rstrip(b"=").decode("ascii")
            self._jwks = {"keys": [{**jwk, "kid": self.kid, "alg": "RS256", "use": "sig"}]}
        self._pending: dict[str, dict] = {}
        self._lock = threading.Lock()

    @property
    def protocols(self) -> list[str]:
        return [p for p, on in (("lti11", self.lti11 is not None), ("lti13", self.key is not None)) if on]

    def jwks(self) -> dict:
        if self.key is None:
            raise LaunchError("LTI 1.3 is off in this environment")
        return self._jwks

    def _course(self, course_id: str) -> Course:
        course = self.stack.course(course_id)
        if course is None:
            raise LaunchError(f"no course {course_id!r} in this environment")
        return course

    def launch(self, *, course_id: str, role: str, protocol: str, target: str) -> LaunchForm:
        """The form that starts a launch in the browser (to the hub's LTI 1.1 launch URL or
        LTI 1.3 login initiation URL)."""
        course = self._course(course_id)
        if role not in ROLES:
            raise LaunchError(f"role must be one of {sorted(ROLES)}, not {role!r}")
        if target not in TARGETS:
            raise LaunchError(f"target must be one of {sorted(TARGETS)}, not {target!r}")
        if protocol not in self.protocols:
            raise LaunchError(f"protocol must be one of {self.protocols} in this environment, not {protocol!r}")
        if protocol == "lti11":
            return self._lti11(course, role, target)
        return self._lti13_login(course, role, target)

    def _lti11(self, course: Course, role: str, target: str) -> LaunchForm:
        key, secret = self.lti11  # type: ignore[misc]
        url = self.hub + URL_PATHS["lti11_launch"]
        params = {
            "lti_message_type": "basic-lti-launch-request",
            "lti_version": "LTI-1p0",
            "resource_link_id": f"demo-launcher-{course.id}",
            "resource_link_title": f"Jupyter ({course.title})",
            "user_id": USERS[role],
            "roles": ROLES[role][0],
            "lis_person_name_full": f"Demo {role.title()}",
            "context_id": course.context_ids[0],
            "context_title": course.title,
            "context_label": course.id,
            "launch_presentation_document_target": target,
            "tool_consumer_info_product_family_code": "jupyterhub-lti-stack-demo-launcher",
        }
        client = Client(key, client_secret=secret, signature_type=SIGNATURE_TYPE_BODY)
        _, _, body = client.sign(url, http_method="POST", body=params,
                                 headers={"Content-Type": "application/x-www-form-urlencoded"})
        return LaunchForm(url, dict(parse_qsl(body, keep_blank_values=True)))

    def _lti13_login(self, course: Course, role: str, target: str) -> LaunchForm:
        login_hint, message_hint = secrets.token_urlsafe(16), secrets.token_urlsafe(16)
        with self._lock:
            now = time.time()
            for hint in [h for h, p in self._pending.items() if p["expires"] < now]:
                del self._pending[hint]
            self._pending[login_hint] = {"course": course.id, "role": role, "target": target,
                                         "message_hint": message_hint, "expires": now + LOGIN_SECONDS}
        return LaunchForm(self.hub + URL_PATHS["lti13_login"], {
            "iss": self.settings.url,
            "login_hint": login_hint,
            "target_link_uri": self.hub + URL_PATHS["hub"],
            "lti_message_hint": message_hint,
            "client_id": self.settings.client_id,
            "lti_deployment_id": self.settings.deployment_id,
        })

    def authorize(self, request: dict[str, str]) -> LaunchForm:
        """The platform's authorization endpoint: checks the tool's authentication request
        (1EdTech Security Framework 5.1.1) and answers with the signed id_token's form post."""
        redirect = self.hub + URL_PATHS["lti13_callback"]
        with self._lock:
            pending = self._pending.get(request.get("login_hint", ""))
            problems = [
                request.get("response_type") != "id_token" and "response_type must be id_token",
                "openid" not in request.get("scope", "").split() and "scope must include openid",
                request.get("response_mode") != "form_post" and "response_mode must be form_post",
                request.get("prompt") != "none" and "prompt must be none",
                request.get("client_id") != self.settings.client_id and "client_id is not the launcher's",
                request.get("redirect_uri") != redirect and f"redirect_uri must be {redirect}",
                not request.get("nonce") and "nonce is missing",
                not request.get("state") and "state is missing",
                pending is None and "login_hint is not from a launch started here (or it was used or expired)",
                pending is not None and request.get("lti_message_hint") != pending["message_hint"]
                and "lti_message_hint does not match the launch",
            ]
            problems = [p for p in problems if p]
            if problems:
                raise LaunchError("; ".join(problems))
            del self._pending[request["login_hint"]]
        if pending["expires"] < time.time():
            raise LaunchError("the launch expired: start it again")
        course = self._course(pending["course"])
        role = pending["role"]
        now = int(time.time())
        claims = {
            "iss": self.settings.url,
            "aud": self.settings.client_id,
            "azp": self.settings.client_id,
            "sub": USERS[role],
            "iat": now,
            "exp": now + LOGIN_SECONDS,
            "nonce": request["nonce"],
            "name": f"Demo {role.title()}",
            CLAIM + "message_type": "LtiResourceLinkRequest",
            CLAIM + "version": "1.3.0",
            CLAIM + "deployment_id": self.settings.deployment_id,
            CLAIM + "target_link_uri": self.hub + URL_PATHS["hub"],
            CLAIM + "resource_link": {"id": f"demo-launcher-{course.id}", "title": f"Jupyter ({course.title})"},
            CLAIM + "roles": ROLES[role][1],
            CLAIM + "context": {"id": course.context_ids[0], "label": course.id, "title": course.title,
                                "type": [LIS + "course#CourseOffering"]},
            CLAIM + "launch_presentation": {"document_target": pending["target"]},
        }
        token = jwt.encode(claims, self.key, algorithm="RS256", headers={"kid": self.kid})
        return LaunchForm(redirect, {"id_token": token, "state": request["state"]})


# ----------------------------------------------------------------------------------- HTTP
STYLE = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;color:#1b1b1b}
header{background:#37474f;color:#fff;padding:.8rem 1.2rem}header b{font-size:1.1rem}
main{padding:1rem 1.2rem}table{border-collapse:collapse}td,th{padding:.35rem .6rem;text-align:left}
button{font:inherit;padding:.35rem .7rem;border:1px solid #1565c0;border-radius:.3rem;background:#fff;color:#1565c0;cursor:pointer}
button:hover{background:#e3f2fd}.note{color:#555;max-width:60rem}iframe{border:1px solid #bbb;width:100%;height:75vh}
"""


def _form_page(form: LaunchForm) -> str:
    inputs = "".join(
        f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(v)}">' for k, v in form.fields.items()
    )
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>Launching</title></head><body>'
        f'<form id="launch" method="post" action="{html.escape(form.action)}">{inputs}'
        '<noscript><button type="submit">Continue</button></noscript></form>'
        '<script>document.getElementById("launch").submit()</script></body></html>'
    )


class _Base(web.RequestHandler):
    @property
    def launcher(self) -> Launcher:
        return self.settings["launcher"]

    def set_default_headers(self):
        self.set_header("Cache-Control", "no-store")
        self.set_header("X-Content-Type-Options", "nosniff")
        # same-origin, not no-referrer: with no-referrer a browser sends "Origin: null" even on
        # the page's own form posts, and LaunchHandler could not tell its page from another site.
        self.set_header("Referrer-Policy", "same-origin")

    def write_error(self, status_code: int, **kwargs):
        reason = self._reason
        exc = kwargs.get("exc_info", (None, None))[1]
        if isinstance(exc, web.HTTPError) and exc.log_message:
            reason = exc.log_message
        self.set_header("Content-Type", "text/plain; charset=utf-8")
        self.finish(f"{status_code}: {reason}\n")


class IndexHandler(_Base):
    def get(self):
        launcher = self.launcher
        names = {"lti11": "LTI 1.1", "lti13": "LTI 1.3"}
        rows = []
        for course in launcher.stack.courses:
            for role in ROLES:
                cells = []
                for protocol in launcher.protocols:
                    for target, label in (("window", "new window"), ("iframe", "in this page")):
                        cells.append(
                            f'<td><form method="post" action="launch" target="{TARGETS[target]}">'
                            f'<input type="hidden" name="course" value="{html.escape(course.id)}">'
                            f'<input type="hidden" name="role" value="{role}">'
                            f'<input type="hidden" name="protocol" value="{protocol}">'
                            f'<input type="hidden" name="target" value="{target}">'
                            f'<button type="submit" data-launch="{course.id}/{role}/{protocol}/{target}">'
                            f"{names[protocol]}, {label}</button></form></td>"
                        )
                rows.append(f"<tr><th>{html.escape(course.title)}</th><td>as {USERS[role]} ({role})</td>{''.join(cells)}</tr>")
        self.set_header("Content-Type", "text/html; charset=utf-8")
        self.finish(
            '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
            f"<title>Demo launcher ({html.escape(launcher.stack.environment)})</title><style>{STYLE}</style></head><body>"
            f"<header><b>Demo launcher</b> &middot; environment {html.escape(launcher.stack.environment)} &middot; "
            f'JupyterHub at <a style="color:#bbdefb" href="{html.escape(launcher.hub)}/hub/">{html.escape(launcher.hub)}</a></header><main>'
            '<p class="note">A stand-in for a learning platform: each button sends the signed launch an LMS '
            "would send, as a student or an instructor of the course, into a new window or into the frame "
            "below (another site than the hub, like an LMS page). If the browser warns about the "
            "certificate, open the hub's URL above once and accept it there too.</p>"
            f"<table>{''.join(rows)}</table>"
            '<iframe name="tool" title="JupyterHub inside the launcher page"></iframe></main></body></html>'
        )


class LaunchHandler(_Base):
    def post(self):
        # Only the launcher's own page may start a launch: another site cannot make a visitor's
        # browser log in as a demo instructor.
        origin = self.request.headers.get("Origin")
        if origin != self.launcher.settings.url.rstrip("/"):
            raise web.HTTPError(403, "launches start from the launcher's own page")
        try:
            form = self.launcher.launch(
                course_id=self.get_body_argument("course", ""), role=self.get_body_argument("role", ""),
                protocol=self.get_body_argument("protocol", ""), target=self.get_body_argument("target", ""),
            )
        except LaunchError as exc:
            raise web.HTTPError(400, str(exc)) from None
        self.set_header("Content-Type", "text/html; charset=utf-8")
        self.finish(_form_page(form))


class AuthorizeHandler(_Base):
    def _answer(self, request: dict[str, str]):
        try:
            form = self.launcher.authorize(request)
        except LaunchError as exc:
            log.warning("authentication request refused: %s", exc)
            raise web.HTTPError(400, f"authentication request refused: {exc}") from None
        self.set_header("Content-Type", "text/html; charset=utf-8")
        self.finish(_form_page(form))

    def get(self):
        self._answer({k: self.get_query_argument(k) for k in self.request.query_arguments})

    def post(self):
        self._answer({k: self.get_argument(k) for k in self.request.arguments})


class JwksHandler(_Base):
    def get(self):
        try:
            keys = self.launcher.jwks()
        except LaunchError as exc:
            raise web.HTTPError(404, str(exc)) from None
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps(keys))


def make_apps(launcher: Launcher) -> tuple[web.Application, web.Application]:
    """(the browser's application, the hub's: the JWKS only)."""
    browser = web.Application([
        (r"/", IndexHandler), (r"/launch", LaunchHandler), (r"/authorize", AuthorizeHandler), (r"/jwks", JwksHandler),
    ], launcher=launcher)
    hub_side = web.Application([(r"/jwks", JwksHandler)], launcher=launcher)
    return browser, hub_side


async def serve(launcher: Launcher, *, https_port: int, jwks_port: int, certfile: str | None, keyfile: str | None,
                address: str = "0.0.0.0") -> None:
    browser, hub_side = make_apps(launcher)
    tls = None
    if certfile:
        tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        tls.load_cert_chain(certfile, keyfile)
    httpserver.HTTPServer(browser, ssl_options=tls, xheaders=False).listen(https_port, address)
    httpserver.HTTPServer(hub_side).listen(jwks_port, address)
    log.info("demo launcher for %s at %s (listening on %s; keyset on %s)", launcher.stack.environment,
             launcher.settings.url, https_port, jwks_port)
    await asyncio.Event().wait()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--stack", default=PATHS["hub_stack_file"])
    parser.add_argument("--secrets", default=PATHS["hub_secrets_dir"])
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="[%(levelname)1.1s %(asctime)s demo-launcher] %(message)s")
    stack = load_stack(args.stack)
    if stack.demo_launcher is None:
        parser.error("this environment has no demo launcher (demoLauncher in its config)")
    # Only what the launcher needs is mounted here (never the hub's other secrets).
    directory = Path(args.secrets)
    settings = stack.demo_launcher
    values = {}
    if stack.lti11.enabled:
        for name in (SECRET_FILES["lti11_consumer_key"], SECRET_FILES["lti11_shared_secret"]):
            values[name] = (directory / name).read_text().strip()
    key = (directory / settings.platform_key_file).read_text() if stack.lti13.enabled else None
    launcher = Launcher(stack, values, key)
    asyncio.run(serve(launcher, https_port=settings.https_port, jwks_port=settings.jwks_port,
                      certfile=str(directory / settings.tls_certificate_file),
                      keyfile=str(directory / settings.tls_key_file)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
