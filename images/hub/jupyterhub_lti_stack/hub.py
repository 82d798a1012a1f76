"""Hub services, roles and groups declared from the stack, so that a first launch
into a course never needs a hub restart."""

from __future__ import annotations

import json
import sys
from urllib.parse import urlparse

from .contract import BUILT_IN_SERVICES, SECRET_FILES
from .stack import Stack

IDLE_CULLER = BUILT_IN_SERVICES["idle_culler"]


def services(stack: Stack, secrets: dict[str, str]) -> list[dict]:
    """One formgrader service per course (name = course id, nbgrader's convention)."""
    result = [
        {
            "name": course.id,
            "url": course.grader_url,
            "api_token": secrets[course.service_token_file],
            "oauth_client_id": course.oauth_client_id,
            "oauth_no_confirm": True,
        }
        for course in stack.courses
    ]
    if stack.idle_cull_seconds > 0:
        result.append(
            {
                "name": IDLE_CULLER,
                "api_token": secrets[SECRET_FILES["idle_culler_token"]],
                "command": [sys.executable, "-m", "jupyterhub_idle_culler", f"--timeout={stack.idle_cull_seconds}"],
            }
        )
    return result


def roles(stack: Stack) -> list[dict]:
    result = []
    for course in stack.courses:
        students, teachers = course.student_group, course.instructor_group
        result.append(
            {
                "name": f"formgrade-{course.id}",
                "description": f"Instructors of {course.id} may open its formgrader",
                "scopes": [f"access:services!service={course.id}"],
                "groups": [teachers],
            }
        )
        # What nbgrader's JupyterHubAuthPlugin asks the hub, limited to this course's groups.
        result.append(
            {
                "name": f"grader-{course.id}",
                "description": f"The formgrader of {course.id} reads and manages its course groups",
                "scopes": [
                    f"list:users!group={students}",
                    f"read:users!group={students}",
                    f"read:users!group={teachers}",
                    f"list:groups!group={students}",
                    f"read:groups!group={students}",
                    f"groups!group={students}",
                ],
                "services": [course.id],
            }
        )
    if stack.idle_cull_seconds > 0:
        result.append(
            {
                "name": IDLE_CULLER,
                "scopes": ["list:users", "read:users:activity", "read:servers", "delete:servers"],
                "services": [IDLE_CULLER],
            }
        )
    return result


def groups(stack: Stack) -> dict[str, dict]:
    """Course groups exist before anyone launches; memberships come from launches, except
    the grader account, which nbgrader expects among the course's formgrade group.
    (JupyterHub only adds listed users, it never removes members.)"""
    result = {}
    for course in stack.courses:
        result[course.student_group] = {}
        result[course.instructor_group] = {"users": [course.grader_user]}
    return result


def uri_scheme(stack: Stack) -> str:
    """The scheme the LMS used: LTI 1.1 signatures cover the full launch URL."""
    return urlparse(stack.public_url).scheme


def frame_headers(stack: Stack) -> dict[str, str]:
    """CSP allowing the listed LMS origins to embed the hub; empty keeps JupyterHub's
    ``frame-ancestors 'none'`` (the LMS opens the tool in a new window)."""
    if not stack.frame_ancestors:
        return {}
    return {"Content-Security-Policy": "frame-ancestors 'self' " + " ".join(stack.frame_ancestors)}


def tornado_settings(stack: Stack) -> dict:
    """Embedding in an LMS iframe also needs cookies a cross-site frame may send."""
    if not stack.frame_ancestors:
        return {}
    return {"headers": frame_headers(stack), "cookie_options": {"SameSite": "None", "Secure": True}}


def singleuser_args(stack: Stack) -> list[str]:
    """The same frame policy for the user servers."""
    if not stack.frame_ancestors:
        return []
    return ["--ServerApp.tornado_settings=" + json.dumps({"headers": frame_headers(stack)})]
