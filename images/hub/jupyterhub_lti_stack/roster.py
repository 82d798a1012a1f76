"""A course's roster from its LMS: LTI Names and Role Provisioning Services 2.0 (NRPS).

Pre-warm (prewarm.py) starts the servers of a course's known students. Without a roster those are
the students who launched into the course before. An LTI 1.3 platform that offers NRPS puts the
context's membership URL into each launch (the ``namesroleservice`` claim); the hub remembers it
with the launch (LaunchStore) and, when asked by the pre-warm service, reads the membership with a
client-credentials token (the scope ``contextmembership.readonly``), page by page. Every active
learner of the roster is then a known student, including those who never launched: their hub
user is made as their first launch would make it (the same name, LaunchStore.lti13_username) and
put into the course's student group, so their server can start before they arrive.

Not warmed: inactive or deleted members, and anyone who teaches the course (the roles of
launch.course_role), or whose LMS id maps to a user name the hub reserves.
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from urllib.parse import urljoin

from jupyterhub.apihandlers import APIHandler
from tornado import web

from .contract import BUILT_IN_SERVICES
from .launch import NRPS_SCOPE, STUDENT, course_role, has_learner_role, join_course_groups
from .launch_store import LaunchRecord

MEMBERSHIP_TYPE = "application/vnd.ims.lti-nrps.v2.membershipcontainer+json"
# A roster of more pages or members than this is refused rather than read for ever (a platform's
# loop) or turned into that many hub users.
MAX_PAGES = 500
MAX_MEMBERS = 20000

Fetch = Callable[[str, dict], Awaitable[tuple[int, dict, str]]]


class RosterError(Exception):
    """The roster could not be read (the pre-warm then uses the students who launched)."""


def next_page(link_header: str, base: str) -> str | None:
    """The ``rel="next"`` target of an HTTP Link header (RFC 8288), absolute."""
    for part in re.finditer(r'<([^>]*)>\s*((?:;\s*[^;,]+)*)', link_header or ""):
        params = part.group(2)
        if re.search(r';\s*rel\s*=\s*"?(?:[^";,]*\s)?next(?:\s[^";,]*)?"?', params, re.IGNORECASE):
            return urljoin(base, part.group(1))
    return None


def is_learner(member: dict) -> bool:
    """An active member with a learner role who does not teach the course."""
    status = member.get("status", "Active")
    if not isinstance(status, str) or status.lower() != "active":
        return False
    roles = member.get("roles")
    if isinstance(roles, str):
        roles = [roles]
    if not isinstance(roles, list) or not all(isinstance(r, str) for r in roles):
        return False
    return has_learner_role(roles) and course_role(roles) == STUDENT


async def read_members(fetch: Fetch, url: str, token: str) -> list[dict]:
    """Every member of the membership container at ``url``, following its pages."""
    members: list[dict] = []
    seen: set[str] = set()
    page: str | None = url
    while page is not None:
        if page in seen or len(seen) >= MAX_PAGES:
            raise RosterError(f"the roster's pages do not end (page {len(seen) + 1}: {page})")
        seen.add(page)
        code, headers, text = await fetch(page, {"Authorization": f"Bearer {token}", "Accept": MEMBERSHIP_TYPE})
        if code != 200:
            raise RosterError(f"GET {page}: HTTP {code} {text[:200].strip()}")
        try:
            body = json.loads(text)
        except ValueError as e:
            raise RosterError(f"GET {page}: not JSON ({text[:120]!r})") from e
        found = body.get("members") if isinstance(body, dict) else None
        if not isinstance(found, list):
            raise RosterError(f"GET {page}: no members list in the membership container")
        members += [m for m in found if isinstance(m, dict)]
        if len(members) > MAX_MEMBERS:
            raise RosterError(f"the roster lists more than {MAX_MEMBERS} members: refused")
        page = next_page(headers.get("Link", ""), page)
    return members


@dataclass(frozen=True)
class Roster:
    """The learners of one read of a course's roster, as hub user names."""

    issuer: str
    url: str
    members: int  # everyone the roster listed
    learners: tuple[str, ...]  # active learners' hub user names, sorted

    def summary(self) -> dict:
        return {"source": "roster", "issuer": self.issuer, "members": self.members, "learners": len(self.learners)}


class RosterHandler(APIHandler):
    """POST /hub/api/jhlti/roster/<course>, for the pre-warm service only: reads the course's
    roster from its LMS, makes the hub users of its learners who have none yet and puts them in
    the course's student group; answers the learners' names. ``{"source": "none"}`` when no launch
    of the course carried a roster service (the pre-warm then uses who launched)."""

    def _course(self, course_id: str):
        caller = self.current_user
        if caller is None or getattr(caller, "kind", "") != "service" or caller.name != BUILT_IN_SERVICES["prewarm"]:
            raise web.HTTPError(403, "only the pre-warm service reads rosters")
        course = self.authenticator.stack.course(course_id)
        if course is None:
            raise web.HTTPError(404, f"no course {course_id}")
        return course

    async def post(self, course_id: str):
        course = self._course(course_id)
        authenticator = self.authenticator
        source: LaunchRecord | None = authenticator.launch_store.roster_source(course.id)
        if source is None:
            self.finish({"source": "none", "reason": "no LTI 1.3 launch of this course carried the LMS's names and roles service"})
            return
        services = authenticator.lti_services
        try:
            token = await services.access_token(source.platform, source.client_id or "", (NRPS_SCOPE,), "the course roster")

            async def fetch(url: str, headers: dict) -> tuple[int, dict, str]:
                return await services.request(url, "GET", None, headers)

            members = await read_members(fetch, source.nrps_url, token)
        except Exception as e:  # noqa: BLE001 - reported to the pre-warm, which falls back
            self.log.warning("roster of %s from %s unreadable: %s", course.id, source.platform, e)
            raise web.HTTPError(502, f"the roster of {course.id} could not be read from {source.platform}: {e}") from e
        stack = authenticator.stack
        primary = bool(stack.lti13.platforms) and source.platform == stack.lti13.platforms[0].issuer
        names = set()
        for member in members:
            user_id = member.get("user_id")
            if not isinstance(user_id, str) or not user_id or not is_learner(member):
                continue
            name = authenticator.launch_store.lti13_username(source.platform, user_id, primary=primary,
                                                             normalize=authenticator.normalize_username)
            if name in stack.reserved_usernames:
                continue
            names.add(name)
        added = 0
        for name in sorted(names):
            user = self.find_user(name) or self.user_from_username(name)
            added += len(join_course_groups(self.db, user, course, STUDENT))
        if added:
            self.db.commit()
        roster = Roster(source.platform, source.nrps_url, len(members), tuple(sorted(names)))
        self.log.info("roster of %s from %s: %d members, %d learners (%d group memberships added)",
                      course.id, source.platform, roster.members, len(roster.learners), added)
        self.finish({**roster.summary(), "students": list(roster.learners)})


def handlers() -> list[tuple[str, type]]:
    """For JupyterHub.extra_handlers (mounted under /hub/)."""
    return [(r"api/jhlti/roster/([^/]+)", RosterHandler)]
