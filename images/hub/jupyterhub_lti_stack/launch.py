"""What an LTI launch means for the hub: who, which course, which role, which image.

ltiauthenticator verifies launches; it maps nothing. The functions here read the two
payload shapes it hands over (LTI 1.1 form fields, LTI 1.3 decoded id_token) into one
``Launch`` and decide course membership from it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import urlsplit

from .stack import Course

INSTRUCTOR = "instructor"
STUDENT = "student"

LTI13_CLAIM = "https://purl.imsglobal.org/spec/lti/claim/"
AGS_ENDPOINT_CLAIM = "https://purl.imsglobal.org/spec/lti-ags/claim/endpoint"
NRPS_CLAIM = "https://purl.imsglobal.org/spec/lti-nrps/claim/namesroleservice"
NRPS_SCOPE = "https://purl.imsglobal.org/spec/lti-nrps/scope/contextmembership.readonly"
LIS_V2 = "http://purl.imsglobal.org/vocab/lis/v2/"
# Principal roles that make someone teach a course. Context (membership) roles count
# whatever the vocabulary; institution/system roles only count for administrators:
# an institution-level "Instructor" says what the person is at the school, not what
# they are in this course (a faculty member can be a learner in a course).
TEACHING_ROLES = {"instructor", "teachingassistant", "administrator"}
ADMIN_ROLES = {"administrator", "sysadmin"}


@dataclass(frozen=True)
class Launch:
    protocol: str  # "lti11" or "lti13"
    user_id: str
    roles: tuple[str, ...]
    context_id: str | None
    context_label: str | None
    requested_image: str | None
    platform: str | None = None  # LTI 1.3 issuer (LTI 1.1: the consumer key, set by the authenticator)
    client_id: str | None = None
    deployment_id: str | None = None
    resource_link_id: str | None = None
    ags: dict | None = None  # the AGS endpoint claim, when the platform offers the service
    nrps_url: str | None = None  # the context membership URL, when the platform offers NRPS (roster.py)
    outcome_service_url: str | None = None
    result_sourcedid: str | None = None
    custom: dict = field(default_factory=dict)


def _principal(role: str) -> tuple[str, str]:
    """Split an LTI role into (scope, principal role name), lower-cased.

    scope is "context", "institution" or "system". Sub-roles keep their principal:
    ``membership/Instructor#TeachingAssistant`` is an Instructor, ``membership/Learner#Instructor``
    (a learner acting as instructor to peers) is a Learner.
    """
    role = role.strip()
    if role.startswith(LIS_V2):  # LTI 1.3 / LIS v2 URIs
        path, _, fragment = role[len(LIS_V2):].partition("#")
        parts = path.split("/")
        scope = {"membership": "context", "institution": "institution", "system": "system"}.get(parts[0], "other")
        name = parts[1] if parts[0] == "membership" and len(parts) > 1 else fragment
        return scope, name.lower()
    if role.startswith("urn:lti:"):  # LTI 1.1 URNs: urn:lti:{role,instrole,sysrole}:ims/lis/Name[/SubRole]
        kind, _, path = role[len("urn:lti:"):].partition(":")
        segments = path.split("/")
        name = segments[2] if len(segments) > 2 else segments[-1]
        scope = {"role": "context", "instrole": "institution", "sysrole": "system"}.get(kind, "other")
        return scope, name.lower()
    if "://" in role or role.startswith("urn:"):
        return "other", role.lower()
    return "context", role.lower()  # LTI 1.1 short names ("Instructor", "Learner")


def course_role(roles: tuple[str, ...] | list[str]) -> str:
    """instructor for Instructor/TeachingAssistant/Administrator, student for everything else."""
    for role in roles:
        scope, name = _principal(role)
        if scope == "context" and name in TEACHING_ROLES:
            return INSTRUCTOR
        if scope in ("institution", "system") and name in ADMIN_ROLES:
            return INSTRUCTOR
    return STUDENT


def lti11_launch(args: dict[str, str]) -> Launch:
    """From LTI 1.1 launch form fields (as ltiauthenticator puts them in auth_state)."""
    return Launch(
        protocol="lti11",
        user_id=args["user_id"],
        roles=tuple(r for r in (args.get("roles") or "").split(",") if r.strip()),
        context_id=args.get("context_id") or None,
        context_label=args.get("context_label") or None,
        requested_image=args.get("custom_image") or None,
        resource_link_id=args.get("resource_link_id") or None,
        outcome_service_url=args.get("lis_outcome_service_url") or None,
        result_sourcedid=args.get("lis_result_sourcedid") or None,
        custom={k[len("custom_"):]: v for k, v in args.items() if k.startswith("custom_") and isinstance(v, str)},
    )


def lti13_launch(id_token: dict) -> Launch:
    """From a verified LTI 1.3 id_token."""
    context = id_token.get(LTI13_CLAIM + "context") or {}
    custom = id_token.get(LTI13_CLAIM + "custom") or {}
    roles = id_token.get(LTI13_CLAIM + "roles") or []
    if isinstance(roles, str):
        roles = [roles]
    aud = id_token.get("aud")
    ags = id_token.get(AGS_ENDPOINT_CLAIM)
    return Launch(
        protocol="lti13",
        user_id=id_token["sub"],
        roles=tuple(roles),
        context_id=context.get("id") or None,
        context_label=context.get("label") or None,
        requested_image=custom.get("image") or None,
        platform=id_token.get("iss"),
        client_id=id_token.get("azp") or (aud[0] if isinstance(aud, list) and aud else aud),
        deployment_id=id_token.get(LTI13_CLAIM + "deployment_id"),
        resource_link_id=(id_token.get(LTI13_CLAIM + "resource_link") or {}).get("id"),
        ags=ags if isinstance(ags, dict) else None,
        nrps_url=memberships_url(id_token.get(NRPS_CLAIM)),
        custom={k: v for k, v in custom.items() if isinstance(v, str)},
    )


def has_learner_role(roles) -> bool:
    """A context Learner role (full LIS v2 URI, a Learner sub-role, or the short name)."""
    return any(_principal(r) == ("context", "learner") for r in roles)


def join_course_groups(db, user, course: Course, role: str, log=None) -> list[str]:
    """Add the user to the course's groups for `role` (course_groups), keeping all others; the
    names added (none: nothing is written). The caller commits."""
    from jupyterhub import orm

    missing = sorted(course_groups(course, role) - {g.name for g in user.groups})
    for name in missing:
        user.orm_user.groups.append(orm.Group.find(db, name) or orm.Group(name=name))
        if log is not None:
            log.info("Adding user %s to group %s", user.name, name)
    return missing


def course_groups(course: Course, role: str) -> set[str]:
    """nbgrader's multi-course convention: everyone in nbgrader-<c>, teachers also in formgrade-<c>."""
    if role == INSTRUCTOR:
        return {course.student_group, course.instructor_group}
    return {course.student_group}


def choose_image(course: Course, requested: str | None) -> str:
    """The requested image if the course allows it, else the course default."""
    if requested and requested in course.images:
        return requested
    return course.image


def memberships_url(claim) -> str | None:
    """The context membership URL of a launch's names and roles claim, if it is one (http(s))."""
    if not isinstance(claim, dict):
        return None
    url = claim.get("context_memberships_url")
    if not isinstance(url, str):
        return None
    parts = urlsplit(url)
    return url if parts.scheme in ("http", "https") and parts.netloc else None
