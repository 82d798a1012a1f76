"""One authenticator for LTI 1.1 and LTI 1.3 launches into declared courses.

JupyterHub runs one Authenticator. ltiauthenticator ships two, each with its own
handlers, so ``LtiStackAuthenticator`` is an ``LTI13Authenticator`` (its handlers read
the LTI 1.3 settings from ``handler.authenticator``) that also mounts the LTI 1.1 launch
handler and delegates LTI 1.1 signature checking to an ``LTI11Authenticator``. Either
protocol can be switched off. Both are verified by ltiauthenticator; this class adds
course and role mapping and the group memberships nbgrader reads.
"""

from __future__ import annotations

import time
from dataclasses import replace

import jwt

from jupyterhub.handlers import BaseHandler
from ltiauthenticator.lti11.auth import LTI11Authenticator
from ltiauthenticator.lti11.handlers import LTI11AuthenticateHandler
from jupyterhub.utils import url_path_join
from ltiauthenticator.lti13.auth import LTI13Authenticator
from ltiauthenticator.lti13.handlers import LTI13CallbackHandler
from ltiauthenticator.lti13.constants import LTI13_GENERAL_REQUIRED_CLAIMS
from ltiauthenticator.lti13.error import ValidationError
from ltiauthenticator.lti13.validator import LTI13LaunchValidator
from ltiauthenticator.utils import convert_request_to_dict
from tornado.httputil import url_concat
from tornado.web import HTTPError
from traitlets import Bool, Dict, Instance, Tuple, Unicode

from . import deep_linking
from .contract import PATHS, URL_PATHS
from .frame import (
    ContinueHandler,
    CrossSiteCookieClearing,
    FrameCheckHandler,
    FrameLoginInitHandler,
    FrameLogoutHandler,
    finish_launch,
)
from .keys import SigningKey
from .launch import INSTRUCTOR, Launch, choose_image, course_role, join_course_groups, lti11_launch, lti13_launch
from .launch_store import LaunchRecord, LaunchStore
from .lti_services import ServiceClient
from .passback import Deliverer
from .registration import JwksHandler, Lti11ConfigHandler, Lti13ConfigHandler
from .stack import Lti13Platform, Stack

# How long an LTI 1.1 launch's nonce is remembered: oauthlib refuses timestamps older than this.
LTI11_NONCE_SECONDS = 600


def _hub_path(key: str) -> str:
    """A contract URL path relative to the hub's base URL (handlers are mounted under /hub)."""
    return URL_PATHS[key][len("/hub"):]

DEPLOYMENT_ID_CLAIM = "https://purl.imsglobal.org/spec/lti/claim/deployment_id"


class CourseNotSetUp(HTTPError):
    """A verified launch from an LMS context that no declared course claims."""

    def __init__(self, launch: Launch):
        context = launch.context_id or "(no context)"
        label = f" ({launch.context_label})" if launch.context_label else ""
        message = (
            f"This course is not set up on this JupyterHub: the LMS context {context}{label} "
            "is not declared in the stack configuration. Ask the platform team to add it to the "
            "\"contexts\" of a course in the jupyterhub-lti-stack config and deploy again."
        )
        super().__init__(403, message.replace("%", "%%"))  # log_message is a format string
        self.jupyterhub_message = message


class LaunchInfoHandler(BaseHandler):
    """Where /hub/login leads: this hub is entered from the LMS, not by a login form."""

    async def get(self):
        self.set_header("Content-Type", "text/html; charset=utf-8")
        self.finish(
            "<!DOCTYPE html><html><head><title>Open from your course</title></head><body>"
            "<h1>Open JupyterHub from your course</h1><p>This JupyterHub is reached through "
            "your learning platform: open the Jupyter link or activity in your course there.</p>"
            "</body></html>"
        )


async def course_server_url(handler, user) -> str:
    """Where a launch lands: the launching course's own server (spawned if needed, through the
    progress page), never the hub's home page with a "Start My Server" button; for a link that
    names an assignment (deep linking), that assignment opened in the server.

    A server that is running and ready (pre-warmed before class, or from an earlier launch) is
    named directly, as the hub's spawn page would redirect to it: one request to the hub fewer
    per launch, which counts when a class launches at once (issue 14)."""
    state = await user.get_auth_state() or {}
    launch = state.get("jhlti") or {}
    course = handler.authenticator.stack.course(launch.get("course"))
    if course is None:
        return handler.get_next_url(user)
    name = course.server_name
    opener = None
    if launch.get("assignment"):
        opener = url_concat(url_path_join(user.server_url(name), URL_PATHS["open_assignment"]), {"name": launch["assignment"]})
    # `in` first: indexing user.spawners creates a spawner; a running one is always loaded.
    spawner = user.spawners[name] if name in user.spawners else None
    if spawner is not None and spawner.ready:
        return opener or user.server_url(name)
    spawn = url_path_join(handler.hub.base_url, "spawn", user.escaped_name, name)
    return url_concat(spawn, {"next": opener}) if opener else spawn


class Lti11LaunchHandler(LTI11AuthenticateHandler):
    """ltiauthenticator's LTI 1.1 launch, landing in the course's server; a ``custom_next``
    parameter may only name a path on this hub (upstream redirects to any URL, an open redirect
    after login)."""

    async def post(self):
        user = await self.login_user()
        next_url = self.get_body_argument("custom_next", "")
        if not next_url.startswith("/") or next_url[1:2] in ("/", "\\"):
            next_url = await course_server_url(self, user)
        await finish_launch(self, user, next_url)


class Lti13LoginHandler(FrameLoginInitHandler):
    """ltiauthenticator's LTI 1.3 login initiation, from any configured platform: the request's
    issuer (and client id) name the platform whose authorization endpoint the browser goes to."""

    def authorize_redirect(self, **kwargs) -> None:
        issuer, client_id = self.get_argument("iss", ""), kwargs.get("client_id") or None
        platform = self.authenticator.stack.lti13.platform(issuer, client_id)
        if platform is None:
            self.log.warning("LTI 1.3 login initiation from unknown platform %r (client id %r) refused", issuer, client_id)
            raise HTTPError(
                400, f"This JupyterHub has no LTI 1.3 registration for issuer {issuer!r}"
                + (f" and client id {client_id!r}" if client_id else " (or several, and the request names no client_id)"),
            )
        if client_id is None:
            if len(platform.client_ids) != 1:
                raise HTTPError(400, f"The platform {issuer} has several client ids here; its login initiation must name client_id")
            kwargs["client_id"] = platform.client_ids[0]
        self.redirect_to_platform(platform.authorize_url, **kwargs)


def _unverified_claims(encoded: str) -> dict:
    try:
        claims = jwt.decode(encoded, options={"verify_signature": False})
    except jwt.PyJWTError as e:
        raise HTTPError(400, f"The id_token is not a JWT: {e}") from e
    return claims if isinstance(claims, dict) else {}


def token_platform(stack: Stack, id_token: dict) -> Lti13Platform | None:
    """The configured platform of an id_token: its issuer and the client id it was issued to
    (``azp``, else the one audience, else the first audience that is a client id of the issuer)."""
    aud = id_token.get("aud")
    audiences = [aud] if isinstance(aud, str) else [a for a in (aud or []) if isinstance(a, str)]
    candidates = [id_token["azp"]] if isinstance(id_token.get("azp"), str) else audiences
    for client_id in candidates:
        platform = stack.lti13.platform(id_token.get("iss"), client_id)
        if platform is not None:
            return platform
    return None


def validate_deep_linking_request(validator: LTI13LaunchValidator, id_token: dict) -> None:
    """ltiauthenticator's checks of a launch, for a deep linking request: it also requires the
    claims LTI marks optional there (azp, tool_platform, launch_presentation), which would refuse
    platforms that leave them out (lti1p3platform does)."""
    try:
        validator._check_arg_not_missing(id_token, LTI13_GENERAL_REQUIRED_CLAIMS.keys())
        validator._check_lti_version(id_token)
        validator._check_context_label(id_token)
        validator._check_if_iat_is_too_old(id_token)
    except ValidationError as e:
        raise HTTPError(400, str(e)) from e


class Lti13CallbackHandler(CrossSiteCookieClearing, LTI13CallbackHandler):
    """ltiauthenticator's LTI 1.3 launch (id_token post), landing in the course's server; the
    id_token is checked against the platform it names (issuer and client id), with that
    platform's keys."""

    def decode_and_validate_launch_request(self) -> dict:
        validator = LTI13LaunchValidator(parent=self.app)
        args = convert_request_to_dict(self.request.arguments)
        validator.validate_auth_response(args)
        self.check_state()
        encoded = args.get("id_token")
        claims = _unverified_claims(encoded)
        platform = token_platform(self.authenticator.stack, claims)
        if platform is None:
            # As ltiauthenticator answers: a wrong issuer is a bad request, a wrong audience unauthorized.
            if not any(p.issuer == claims.get("iss") for p in self.authenticator.stack.lti13.platforms):
                raise HTTPError(400, "Invalid issuer: the id_token's issuer is not an LTI 1.3 platform registered on this JupyterHub")
            raise HTTPError(401, "Audience doesn't match: the id_token was issued to a client id this JupyterHub does not list for its issuer")
        id_token = validator.verify_and_decode_jwt(
            encoded_jwt=encoded,
            issuer=platform.issuer,
            audience=list(platform.client_ids),
            jwks_endpoint=platform.jwks_url,
            jwks_algorithms=self.authenticator.jwks_algorithms,
        )
        if id_token.get(deep_linking.MESSAGE_TYPE_CLAIM) == deep_linking.REQUEST:
            validate_deep_linking_request(validator, id_token)
        else:
            validator.validate_id_token(id_token)
        validator.validate_azp_claim(id_token, platform.client_ids)
        self.check_nonce(id_token)
        return id_token

    async def redirect_to_next_url(self, user):
        state = await user.get_auth_state() or {}
        launch = state.get("jhlti") or {}
        if launch.get("message_type") == deep_linking.REQUEST:
            await deep_linking.start(self, user, state, self.authenticator.stack.course(launch["course"]))
            return
        # In iframe mode the login initiation has made sure the state cookie came back, so the
        # login cookie set here comes back too (frame.py).
        self.redirect(await course_server_url(self, user))


class LtiStackAuthenticator(LTI13Authenticator):
    login_service = "your course"
    auto_login = True
    login_handler = Lti13LoginHandler
    callback_handler = Lti13CallbackHandler

    stack = Instance(Stack, config=True, help="The parsed stack.json")
    lti11_enabled = Bool(False, config=True)
    lti13_enabled = Bool(False, config=True)
    consumers = Dict(config=True, help="LTI 1.1 consumer key -> shared secret")
    signing_keys = Tuple(config=True, help="The tool's signing keys (keys.load_signing_keys), the signing one first")
    launch_db = Unicode(
        PATHS["hub_launch_db"], config=True, help="SQLite file of used nonces and per-(user, course) launch records"
    )
    courses_root = Unicode(
        PATHS["hub_courses_root"], config=True, help="Parent of the course directories (read-only): deep linking lists their assignments"
    )
    _store = None
    _passback = None
    _services = None

    @property
    def launch_store(self) -> LaunchStore:
        if self._store is None:
            self._store = LaunchStore(self.launch_db)
        return self._store

    @property
    def lti_services(self) -> ServiceClient:
        """The client of the platforms' services (lti_services.py) with the tool's keys: one token cache
        for grade passback and the roster."""
        if self._services is None:
            self._services = ServiceClient(self.stack, self.signing_keys)
        return self._services

    @property
    def passback(self) -> Deliverer:
        """Grade passback (passback.py), sharing the launch store's records and the services client."""
        if self._passback is None:
            self._passback = Deliverer(self.stack, self.launch_store, self.lti_services, self.consumers, self.log)
        return self._passback

    def login_url(self, base_url):
        """Where /hub/login sends people: a page telling them to start from the LMS."""
        return base_url.rstrip("/") + "/lti/start"

    def get_handlers(self, app):
        handlers = [(_hub_path("start"), LaunchInfoHandler)]
        if self.stack.frame_ancestors:
            handlers += [
                (_hub_path("frame_check"), FrameCheckHandler),
                (_hub_path("frame_continue"), ContinueHandler),
                ("/logout", FrameLogoutHandler),
            ]
        if self.lti11_enabled:
            handlers += [(_hub_path("lti11_launch"), Lti11LaunchHandler), (_hub_path("lti11_config"), Lti11ConfigHandler)]
        if self.lti13_enabled:
            handlers += [
                (_hub_path("lti13_login"), self.login_handler),
                (_hub_path("lti13_callback"), self.callback_handler),
                (_hub_path("lti13_config"), Lti13ConfigHandler),
                (_hub_path("lti13_jwks"), JwksHandler),
                (_hub_path("deep_linking"), deep_linking.DeepLinkingHandler),
            ]
            if self.stack.lti13.dynamic_registration:
                from .dynamic_registration import DynamicRegistrationHandler

                handlers.append((_hub_path("lti13_dynamic_registration"), DynamicRegistrationHandler))
        return handlers

    def _lti11_verifier(self) -> LTI11Authenticator:
        return LTI11Authenticator(
            consumers=self.consumers, username_key="user_id", uri_scheme=self.uri_scheme, log=self.log
        )

    async def authenticate(self, handler, data=None):
        if isinstance(handler, LTI11AuthenticateHandler):
            verified = await self._lti11_verifier().authenticate(handler, data)
            consumer_key = handler.get_body_argument("oauth_consumer_key")
            launch = replace(lti11_launch(verified["auth_state"]), platform=consumer_key)
            # ltiauthenticator remembers LTI 1.1 nonces in memory only (a restart forgets them).
            timestamp = float(handler.get_body_argument("oauth_timestamp"))
            self._claim_nonce(f"lti11:{consumer_key}", handler.get_body_argument("oauth_nonce"),
                              timestamp + LTI11_NONCE_SECONDS, launch)
        else:
            if not (data or {}).get("sub"):
                raise HTTPError(400, "Anonymous LTI 1.3 launches (no sub claim) cannot start a server")
            verified = await super().authenticate(handler, data)
            token = verified["auth_state"]
            platform = token_platform(self.stack, token)
            if platform is None:  # verified against a platform just before: cannot happen
                raise HTTPError(401, "The id_token was not issued by a platform registered on this JupyterHub")
            self._check_deployment(platform, token)
            launch = lti13_launch(token)
            # ltiauthenticator checks the nonce against the browser's state cookie only, so a
            # captured id_token + state + cookies would log in again until the token expires.
            self._claim_nonce(f"lti13:{launch.platform}", str(token.get("nonce", "")), float(token.get("exp", 0)), launch)
            # An LTI 1.3 user is (issuer, sub): another LMS's user "5" is another hub user.
            username = self.launch_store.lti13_username(
                platform.issuer, launch.user_id, primary=platform.issuer == self.stack.lti13.platforms[0].issuer,
                normalize=self.normalize_username,
            )
        if launch.protocol == "lti11":
            username = self.normalize_username(launch.user_id)

        if username in self.stack.reserved_usernames:
            self.log.warning("%s launch with reserved user id %r rejected", launch.protocol, launch.user_id)
            raise HTTPError(403, "This LMS user id is reserved on this hub")
        course = self.stack.course_for_context(launch.context_id)
        if course is None:
            self.log.warning(
                "%s launch for undeclared context %r (label %r) by user %r: course not set up",
                launch.protocol, launch.context_id, launch.context_label, launch.user_id,
            )
            raise CourseNotSetUp(launch)
        role = course_role(launch.roles)
        message_type = verified["auth_state"].get(deep_linking.MESSAGE_TYPE_CLAIM) if launch.protocol == "lti13" else None
        if message_type == deep_linking.REQUEST:
            if role != INSTRUCTOR:
                self.log.warning("Deep linking request by %r, %s in course %s: refused", launch.user_id, role, course.id)
                raise HTTPError(403, "Only instructors of the course can add Jupyter assignments to it")
            deep_linking.check_request(verified["auth_state"])
        assignment = launch.custom.get("assignment")
        if assignment is not None and not deep_linking.ASSIGNMENT_NAME.match(assignment):
            self.log.warning("Launch names assignment %r, not an nbgrader assignment name: ignored", assignment)
            assignment = None
        if launch.requested_image and choose_image(course, launch.requested_image) != launch.requested_image:
            self.log.warning(
                "Launch asked for image %r, not allowed in course %s; using %s",
                launch.requested_image, course.id, course.image,
            )
        auth_state = dict(verified["auth_state"])
        auth_state["jhlti"] = {
            "protocol": launch.protocol,
            "course": course.id,
            "role": role,
            "requested_image": launch.requested_image,
            "message_type": message_type,
            "assignment": assignment,
        }
        self.log.info("%s launch: user %r (%s) is %s in course %s", launch.protocol, launch.user_id, username, role, course.id)
        if message_type != deep_linking.REQUEST:  # a deep linking request is no link to grade
            self._record_launch(launch, course.id, username)
        return {"name": username, "auth_state": auth_state}

    def _claim_nonce(self, scope: str, nonce: str, expires_at: float, launch: Launch) -> None:
        if not nonce or not self.launch_store.claim_nonce(scope, nonce, expires_at):
            self.log.warning("%s launch replayed (nonce %r used before) for user %r: refused", launch.protocol, nonce, launch.user_id)
            raise HTTPError(400, "This launch was used already: start again from your course in the LMS")

    def _record_launch(self, launch: Launch, course: str, username: str) -> None:
        """What grade passback needs later, per (user, course, link): never overwritten by another course."""
        self.launch_store.record_launch(
            LaunchRecord(
                username=username,
                course=course,
                protocol=launch.protocol,
                user_id=launch.user_id,
                platform=launch.platform or "",
                context_id=launch.context_id or "",
                client_id=launch.client_id,
                deployment_id=launch.deployment_id,
                resource_link_id=launch.resource_link_id,
                ags=launch.ags,
                nrps_url=launch.nrps_url,
                outcome_service_url=launch.outcome_service_url,
                result_sourcedid=launch.result_sourcedid,
                custom=dict(launch.custom),
            )
        )
        # Scores that waited for a launch carrying the grade service can go now.
        self.passback.queue.unblock(username, course, time.time())

    def _check_deployment(self, platform: Lti13Platform, id_token: dict) -> None:
        deployment = id_token.get(DEPLOYMENT_ID_CLAIM)
        if not platform.accepts_deployment(deployment):
            self.log.warning("LTI 1.3 launch from unknown deployment %r of %s rejected", deployment, platform.issuer)
            raise HTTPError(403, f"Unknown LTI 1.3 deployment {deployment!r}")

    async def run_post_auth_hook(self, handler, auth_model):
        """Add the launch's course groups to the user's memberships, keeping all others.

        Groups are not delegated to JupyterHub's ``manage_groups``, the public hook for it:
        that syncs a user's groups to the latest login's list, and JupyterHub refuses
        ``load_groups`` with it ("Group management has been offloaded to the authenticator"),
        which the stack needs so that course groups, their roles and the grader accounts exist
        before anyone launches (checked against JupyterHub 5.5).
        """
        auth_model = await super().run_post_auth_hook(handler, auth_model)
        launch = auth_model["auth_state"]["jhlti"]
        course = self.stack.course(launch["course"])
        user = handler.find_user(auth_model["name"]) or handler.user_from_username(auth_model["name"])
        if join_course_groups(handler.db, user, course, launch["role"], self.log):
            handler.db.commit()  # a returning student's launch usually changes nothing here
        return auth_model
