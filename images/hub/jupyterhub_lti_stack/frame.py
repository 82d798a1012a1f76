"""Launching inside an LMS page (``embedding.mode: iframe``), and what happens when the browser
refuses the hub's cookies there.

Inside a cross-site iframe every cookie is a third-party cookie. The stack sends them all with
``SameSite=None; Secure`` (``hub.tornado_settings``, and the notebook image's jhlti_embedding for
user servers and graders), which is enough where third-party cookies are allowed. Browsers that
block them (Chromium's default now, Safari always) drop the hub's login cookie and the LTI 1.3
state cookie silently: the launch is verified, the student is logged in on the hub's side, and
the next page in the frame asks them to log in, which they cannot do but from the LMS, which
they just did.

So in iframe mode a launch does not redirect blindly. It answers with a small page that asks
the hub whether the cookie it just set came back (``FrameCheckHandler``):

* yes: the page goes on to where the redirect would have gone;
* no: it says so and offers one button that continues *the same launch* in a new window, where
  the hub is the top-level site and its cookies are first-party:

  - LTI 1.1 (one signed POST, already used up by the nonce check): the verified launch left a
    one-time continuation token (``LaunchStore.issue_continuation``, 10 minutes); the button
    posts it to ``ContinueHandler``, which logs the user in there and leads to the course's
    server.
  - LTI 1.3: the check happens at login initiation, before the platform is asked for an
    id_token (the state cookie would be missing at the callback); the button posts the same
    login-initiation parameters to the login URL in the new window, where the OIDC flow runs
    with first-party cookies, the platform's included.

Partitioned cookies (CHIPS) would keep a session inside the frame in Chromium, but not in every
browser, and as a separate session per LMS site that the new-window path cannot share; the
Storage Access API needs an earlier top-level visit and a click in the frame, which a first
launch cannot have. Both are left for later; the new-window continuation works everywhere.
"""

from __future__ import annotations

import html
import json

from jupyterhub.handlers import BaseHandler
from jupyterhub.handlers.login import LogoutHandler
from ltiauthenticator.lti13.handlers import STATE_COOKIE_NAME, LTI13LoginInitHandler
from tornado.httputil import url_concat
from tornado.web import HTTPError

from .contract import URL_PATHS

CONTINUATION_SECONDS = 600
# The LTI 1.3 login-initiation parameters a new window needs to start the same launch again.
LOGIN_INIT_ARGS = ("iss", "login_hint", "target_link_uri", "lti_message_hint", "client_id", "lti_deployment_id")
CHECK_PATH = URL_PATHS["frame_check"]
CONTINUE_PATH = URL_PATHS["frame_continue"]

_STYLE = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;padding:2rem;color:#1b1b1b;background:#fff}
main{max-width:34rem;margin:0 auto}
h1{font-size:1.3rem;margin:0 0 .75rem}
p{line-height:1.5;margin:.5rem 0}
button{font:inherit;font-size:1.05rem;padding:.6rem 1.2rem;border:0;border-radius:.35rem;background:#1565c0;color:#fff;cursor:pointer}
button:focus{outline:3px solid #90caf9;outline-offset:2px}
.small{color:#555;font-size:.9rem}
"""


def _js(value) -> str:
    """A value embedded in an inline script: JSON, with "<" escaped so it cannot close the script."""
    return json.dumps(value).replace("<", "\\u003c")


def _hidden_inputs(fields: dict[str, str]) -> str:
    return "".join(
        f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(v)}">' for k, v in fields.items()
    )


def check_page(*, next_url: str, check: str, form_action: str, form_fields: dict[str, str]) -> str:
    """The page a launch answers with in iframe mode.

    ``check`` is what ``FrameCheckHandler`` must confirm ("session" or "state"); ``next_url``
    is where the launch goes when it does; the form continues the launch in a new window.
    """
    form = (
        f'<form id="jhlti-new-window" method="post" action="{html.escape(form_action)}" target="_blank">'
        f"{_hidden_inputs(form_fields)}"
        '<button type="submit">Open in a new window</button></form>'
    )
    blocked = (
        "<h1>Continue in a new window</h1>"
        "<p>Your course opened JupyterHub inside its page, and your browser does not let sites "
        "inside another site's page keep you signed in (it blocks third-party cookies).</p>"
        "<p>Your launch worked. Continue it in a new window:</p>"
        f"{form}"
        '<p class="small" id="jhlti-after" hidden>Continued in a new window. You can keep working there; '
        "this page can stay open.</p>"
        '<p class="small">To use JupyterHub inside the course page instead, allow third-party cookies '
        "for this site in your browser's settings and open the activity again.</p>"
    )
    script = f"""
(function () {{
  var next = {_js(next_url)}, check = {_js(url_concat(CHECK_PATH, {"for": check}))};
  function blocked() {{
    document.getElementById("jhlti-checking").hidden = true;
    document.getElementById("jhlti-blocked").hidden = false;
    document.getElementById("jhlti-new-window").addEventListener("submit", function () {{
      document.getElementById("jhlti-after").hidden = false;
    }});
  }}
  fetch(check, {{credentials: "same-origin", cache: "no-store"}})
    .then(function (r) {{ return r.ok ? r.json() : {{}}; }})
    .then(function (body) {{ if (body.ok === true) {{ window.location.replace(next); }} else {{ blocked(); }} }},
          blocked);
}})();
"""
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>Opening JupyterHub</title><style>{_STYLE}</style></head><body>"
        '<main id="jhlti-checking"><p>Opening JupyterHub&hellip;</p>'
        f'<noscript><p>JavaScript is off. <a href="{html.escape(next_url)}">Continue here</a>, or if that asks '
        f"you to open JupyterHub from your course, continue in a new window:</p>{form}</noscript></main>"
        f'<main id="jhlti-blocked" hidden>{blocked}</main>'
        f"<script>{script}</script></body></html>"
    )


def render_check_page(handler: BaseHandler, **kwargs) -> None:
    handler.set_status(200)
    handler.set_header("Content-Type", "text/html; charset=utf-8")
    handler.set_header("Cache-Control", "no-store")
    handler.finish(check_page(**kwargs))


async def finish_launch(handler: BaseHandler, user, next_url: str) -> None:
    """Where a verified launch goes: straight on in new-window mode; in iframe mode, through the
    check page, holding a one-time continuation for a new window."""
    if not handler.authenticator.stack.frame_ancestors:
        handler.redirect(next_url)
        return
    token = handler.authenticator.launch_store.issue_continuation(user.name, next_url, CONTINUATION_SECONDS)
    render_check_page(handler, next_url=next_url, check="session", form_action=CONTINUE_PATH, form_fields={"token": token})


class CrossSiteCookieClearing:
    """Handler mixin: a cleared cookie carries the cookie options it was set with. Browsers
    ignore a deletion without ``SameSite=None; Secure`` in a cross-site frame (JupyterHub and
    ltiauthenticator clear cookies with the path only), which in iframe mode left the LTI 1.3
    state cookies behind and made logging out inside the LMS page do nothing."""

    def clear_cookie(self, name: str, **kwargs) -> None:
        options = self.settings.get("cookie_options", {})
        for key in ("samesite", "secure"):
            if key in options:
                kwargs.setdefault(key, options[key])
        super().clear_cookie(name, **kwargs)


class FrameLogoutHandler(CrossSiteCookieClearing, LogoutHandler):
    """JupyterHub's logout, whose cookie deletions also reach a cross-site frame."""


class FrameLoginInitHandler(LTI13LoginInitHandler):
    """LTI 1.3 login initiation that, in iframe mode, checks that the state cookie stuck before
    sending the browser to the platform."""

    def redirect_to_platform(self, authorize_url: str, **kwargs) -> None:
        """On to the platform's authorization endpoint (``kwargs``: the authentication request)."""
        request_url = authentication_request_url(authorize_url, **kwargs)
        if not self.authenticator.stack.frame_ancestors:
            self.redirect(request_url)
            return
        fields = {k: self.get_argument(k) for k in LOGIN_INIT_ARGS if self.get_argument(k, "")}
        render_check_page(
            self, next_url=request_url, check="state", form_action=URL_PATHS["lti13_login"], form_fields=fields,
        )


def authentication_request_url(authorize_url: str, *, redirect_uri: str, login_hint: str, nonce: str,
                               client_id: str, state: str, lti_message_hint: str | None = None) -> str:
    """The OIDC authentication request of an LTI 1.3 launch (1EdTech Security Framework 5.1.1.2),
    the same one ltiauthenticator redirects to."""
    args = {
        "response_type": "id_token", "scope": "openid", "response_mode": "form_post", "prompt": "none",
        "client_id": client_id, "redirect_uri": redirect_uri, "login_hint": login_hint, "nonce": nonce, "state": state,
    }
    if lti_message_hint is not None:
        args["lti_message_hint"] = lti_message_hint
    return url_concat(authorize_url, args)


class FrameCheckHandler(BaseHandler):
    """Did the browser send back the cookie the launch set? ``?for=session``: the hub's login
    cookie; ``?for=state``: the LTI 1.3 state cookie. Answers ``{"ok": bool}`` and nothing else."""

    async def get(self):
        what = self.get_query_argument("for", "")
        if what == "session":
            ok = self.get_current_user_cookie() is not None
        elif what == "state":
            ok = bool(self.get_cookie(STATE_COOKIE_NAME))
        else:
            raise HTTPError(400, 'for must be "session" or "state"')
        self.set_header("Content-Type", "application/json")
        self.set_header("Cache-Control", "no-store")
        self.finish(json.dumps({"ok": ok}))


class ContinueHandler(BaseHandler):
    """Redeems a one-time continuation (a verified LTI 1.1 launch whose cookie the frame lost):
    logs its user in, in this window, and leads on to the course's server."""

    def check_xsrf_cookie(self):
        """The one-time token is the proof; the form comes from the hub's own page in a frame,
        which may not have the hub's cookies at all (that is why this exists)."""
        return

    async def post(self):
        token = self.get_body_argument("token", "")
        redeemed = self.authenticator.launch_store.redeem_continuation(token) if token else None
        if redeemed is None:
            raise HTTPError(
                400,
                "This continuation was used already or has expired (it is good for one window, "
                f"{CONTINUATION_SECONDS // 60} minutes): open the activity again from your course.",
            )
        username, next_url = redeemed
        user = self.find_user(username)
        if user is None:
            raise HTTPError(400, "The user of this launch no longer exists: open the activity again from your course.")
        self.set_login_cookie(user)
        self.log.info("User %s continued a framed launch in a new window", username)
        self.redirect(next_url)
