"""LTI 1.3 Deep Linking: an instructor places a course's nbgrader assignments in the LMS.

An ``LtiDeepLinkingRequest`` launch (verified like any LTI 1.3 launch, from an instructor of a
declared course; students are refused in auth.py) does not open a server: the hub answers with a
page listing the course's assignments, read from the course volume (mounted read-only in the hub
at the contract's ``hub_courses_root``). The instructor's choice goes back to the platform as an
``LtiDeepLinkingResponse`` JWT signed with the tool's key, auto-posted to the request's
``deep_link_return_url``: one ``ltiResourceLink`` per assignment, whose custom parameter
``assignment`` names it and, with grade passback on, a ``lineItem`` (the assignment's max score,
resource id ``nbgrader:<course>:<assignment>``: the line item grade passback then scores).

The page is reached without cookies (an LMS dialog is often a cross-site frame): the deep
linking request is kept on the hub behind a one-time token the page posts back. A student
launching the created link lands in the course's server with the assignment open (auth.py,
and the notebook image's ``jhlti/assignment`` handler fetches it if released).
"""

from __future__ import annotations

import html
import json
import re
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import jwt
from jupyterhub.handlers import BaseHandler
from tornado.web import HTTPError

from .contract import CONTRACT, PATHS, URL_PATHS
from .passback import resource_id

MESSAGE_TYPE_CLAIM = "https://purl.imsglobal.org/spec/lti/claim/message_type"
VERSION_CLAIM = "https://purl.imsglobal.org/spec/lti/claim/version"
DEPLOYMENT_ID_CLAIM = "https://purl.imsglobal.org/spec/lti/claim/deployment_id"
SETTINGS_CLAIM = "https://purl.imsglobal.org/spec/lti-dl/claim/deep_linking_settings"
CONTENT_ITEMS_CLAIM = "https://purl.imsglobal.org/spec/lti-dl/claim/content_items"
DATA_CLAIM = "https://purl.imsglobal.org/spec/lti-dl/claim/data"
MSG_CLAIM = "https://purl.imsglobal.org/spec/lti-dl/claim/msg"
REQUEST, RESPONSE = "LtiDeepLinkingRequest", "LtiDeepLinkingResponse"
RESOURCE_LINK = "ltiResourceLink"
# How long the instructor has to choose (the response JWT itself is good for 10 minutes).
CHOICE_SECONDS = 30 * 60
RESPONSE_SECONDS = 10 * 60
# What nbgrader accepts as an assignment (directory) name, and what a custom parameter may name.
ASSIGNMENT_NAME = re.compile(CONTRACT["patterns"]["assignment_name"])


@dataclass(frozen=True)
class Assignment:
    name: str
    max_score: float  # 0 when no cell is graded
    notebooks: int


def _notebook_points(path: Path) -> float:
    """nbgrader's max score of a notebook: the points of its graded and task cells."""
    try:
        cells = json.loads(path.read_text("utf-8")).get("cells", [])
    except (OSError, ValueError, AttributeError):
        return 0.0
    points = 0.0
    for cell in cells if isinstance(cells, list) else []:
        meta = (cell.get("metadata") or {}).get("nbgrader") or {} if isinstance(cell, dict) else {}
        if isinstance(meta, dict) and (meta.get("grade") or meta.get("task")):
            try:
                points += float(meta.get("points") or 0)
            except (TypeError, ValueError):
                pass
    return points


def course_assignments(course_id: str, root: str | Path | None = None) -> list[Assignment]:
    """The assignments in the course's ``source`` directory (released or not), by name."""
    source = Path(root or PATHS["hub_courses_root"]) / course_id / "source"
    found = []
    try:
        entries = sorted(source.iterdir(), key=lambda p: p.name)
    except OSError:
        return []
    for entry in entries:
        if not entry.is_dir() or not ASSIGNMENT_NAME.match(entry.name):
            continue
        notebooks = sorted(entry.glob("*.ipynb"))
        if notebooks:
            found.append(Assignment(entry.name, sum(_notebook_points(n) for n in notebooks), len(notebooks)))
    return found


def request_settings(id_token: dict) -> dict:
    """What the hub keeps of a deep linking request until the instructor chooses."""
    settings = id_token.get(SETTINGS_CLAIM) or {}
    aud = id_token.get("aud")
    return {
        "issuer": id_token.get("iss"),
        "client_id": id_token.get("azp") or (aud if isinstance(aud, str) else (aud or [None])[0]),
        "deployment_id": id_token.get(DEPLOYMENT_ID_CLAIM),
        "return_url": settings.get("deep_link_return_url"),
        "accept_types": list(settings.get("accept_types") or []),
        "accept_multiple": settings.get("accept_multiple", True) is not False,
        "data": settings.get("data"),
        "title": settings.get("title") or "",
    }


def check_request(id_token: dict) -> None:
    """A deep linking request the hub can answer (raised as a page for the instructor)."""
    settings = id_token.get(SETTINGS_CLAIM)
    if not isinstance(settings, dict) or not isinstance(settings.get("deep_link_return_url"), str):
        raise HTTPError(400, "The deep linking request has no deep_link_return_url in its deep_linking_settings claim")
    if not re.match(r"^https?://", settings["deep_link_return_url"]):
        raise HTTPError(400, "The deep linking return URL must be an http(s) URL")
    if RESOURCE_LINK not in (settings.get("accept_types") or []):
        raise HTTPError(
            400, "The LMS asked for content of types this tool does not make "
            f"({', '.join(map(str, settings.get('accept_types') or [])) or 'none'}); it offers LTI resource links ({RESOURCE_LINK})",
        )


def content_items(course, chosen: list[Assignment], line_items: bool) -> list[dict]:
    items = []
    for a in chosen:
        item = {
            "type": RESOURCE_LINK,
            "title": a.name,
            "text": f"{course.title}: nbgrader assignment {a.name}",
            "custom": {"assignment": a.name},
        }
        if line_items and a.max_score > 0:
            item["lineItem"] = {"scoreMaximum": a.max_score, "label": a.name,
                                "resourceId": resource_id(course.id, a.name), "tag": a.name}
        items.append(item)
    return items


def response_jwt(request: dict, items: list[dict], key, now: float | None = None) -> str:
    """The signed LtiDeepLinkingResponse (1EdTech Deep Linking 2.0 §4.2): from the tool's client
    id to the platform, for the request's deployment, echoing its data."""
    now = int(time.time() if now is None else now)
    claims = {
        "iss": request["client_id"], "aud": request["issuer"],
        "iat": now, "exp": now + RESPONSE_SECONDS, "nonce": uuid.uuid4().hex,
        MESSAGE_TYPE_CLAIM: RESPONSE, VERSION_CLAIM: "1.3.0",
        DEPLOYMENT_ID_CLAIM: request["deployment_id"],
        CONTENT_ITEMS_CLAIM: items,
    }
    if request.get("data") is not None:
        claims[DATA_CLAIM] = request["data"]
    if items:
        claims[MSG_CLAIM] = f"Added {len(items)} Jupyter assignment{'s' if len(items) != 1 else ''}"
    return jwt.encode(claims, key.private_pem(), algorithm="RS256", headers={"kid": key.kid, "typ": "JWT"})


STYLE = (
    "body{font:15px/1.45 system-ui,sans-serif;margin:1.5em;color:#212121}table{border-collapse:collapse}"
    "td,th{padding:.35em .8em;border-bottom:1px solid #e0e0e0;text-align:left}"
    "button{font:inherit;padding:.4em 1em;margin:1em .6em 0 0}.note{color:#555}"
)


def picker_page(token: str, course, assignments: list[Assignment], request: dict, line_items: bool) -> str:
    kind = "checkbox" if request["accept_multiple"] else "radio"
    rows = "".join(
        f'<tr><td><input type="{kind}" name="assignment" value="{html.escape(a.name)}" id="a{i}"></td>'
        f'<td><label for="a{i}">{html.escape(a.name)}</label></td><td>{a.notebooks}</td>'
        f"<td>{a.max_score:g}</td></tr>"
        for i, a in enumerate(assignments)
    )
    body = (
        f"<table><tr><th></th><th>Assignment</th><th>Notebooks</th><th>Max score</th></tr>{rows}</table>"
        if assignments else
        '<p id="jhlti-none">This course has no assignments yet: create one in the course\'s formgrader '
        "(nbgrader's source directory), then add it from the LMS again.</p>"
    )
    grades = (
        "Each assignment gets its own grade column in the LMS: autograded scores are sent to it."
        if line_items else "Grade passback is off for this course: no grade columns are created."
    )
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>Add Jupyter assignments</title>'
        f"<style>{STYLE}</style></head><body><h1>Add assignments of {html.escape(course.title)}</h1>"
        f'<p class="note">Each one becomes a link in your course; students who open it land in their '
        f"Jupyter server with the assignment fetched and open. {grades}</p>"
        f'<form method="post" action="{URL_PATHS["deep_linking"]}"><input type="hidden" name="token" value="{html.escape(token)}">'
        f'{body}<button type="submit" name="action" value="add">Add to the course</button>'
        '<button type="submit" name="action" value="cancel">Cancel</button></form></body></html>'
    )


def return_page(return_url: str, encoded: str, count: int) -> str:
    """Auto-posts the response to the platform (a button without JavaScript)."""
    what = f"{count} assignment{'s' if count != 1 else ''}" if count else "nothing"
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>Back to the LMS</title></head><body>'
        f'<form id="jhlti-return" method="post" action="{html.escape(return_url)}">'
        f'<input type="hidden" name="JWT" value="{html.escape(encoded)}">'
        f"<p>Adding {what} to your course&hellip;</p><noscript><button type=\"submit\">Continue</button></noscript></form>"
        '<script>document.getElementById("jhlti-return").submit()</script></body></html>'
    )


def render(handler: BaseHandler, page: str) -> None:
    handler.set_status(200)
    handler.set_header("Content-Type", "text/html; charset=utf-8")
    handler.set_header("Cache-Control", "no-store")
    handler.finish(page)


async def start(handler: BaseHandler, user, id_token: dict, course) -> None:
    """Answer a verified deep linking request of an instructor of ``course`` with the picker."""
    authenticator = handler.authenticator
    request = request_settings(id_token)
    token = authenticator.launch_store.issue_deep_link(user.name, course.id, request, CHOICE_SECONDS)
    line_items = course.grade_passback
    handler.log.info("Deep linking request from %s for course %s: picker shown", user.name, course.id)
    assignments = course_assignments(course.id, authenticator.courses_root)
    render(handler, picker_page(token, course, assignments, request, line_items))


class DeepLinkingHandler(BaseHandler):
    """The picker's answer: the chosen assignments, signed for the platform."""

    def check_xsrf_cookie(self):
        """The one-time token is the proof (the page may live in a cross-site frame without the
        hub's cookies)."""
        return

    async def post(self):
        token = self.get_body_argument("token", "")
        redeemed = self.authenticator.launch_store.redeem_deep_link(token) if token else None
        if redeemed is None:
            raise HTTPError(400, "This choice was sent already or has expired: add the activity again from the LMS.")
        username, course_id, request = redeemed
        course = self.authenticator.stack.course(course_id)
        if course is None:
            raise HTTPError(400, f"The course {course_id!r} is no longer on this hub.")
        chosen: list[Assignment] = []
        if self.get_body_argument("action", "add") == "add":
            names = self.get_body_arguments("assignment")
            available = {a.name: a for a in course_assignments(course.id, self.authenticator.courses_root)}
            unknown = [n for n in names if n not in available]
            if unknown:
                raise HTTPError(400, f"Not an assignment of {course.title}: {', '.join(unknown)}")
            if len(names) > 1 and not request["accept_multiple"]:
                raise HTTPError(400, "The LMS accepts one item here: choose one assignment.")
            chosen = [available[n] for n in dict.fromkeys(names)]
        items = content_items(course, chosen, course.grade_passback)
        key = self.authenticator.signing_keys[0]
        encoded = response_jwt(request, items, key)
        self.log.info("Deep linking response for %s in %s: %s", username, course.id, [a.name for a in chosen] or "nothing")
        render(self, return_page(request["return_url"], encoded, len(items)))
