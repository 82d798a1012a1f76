"""Hub services, roles and groups declared from the stack, so that a first launch
into a course never needs a hub restart."""

from __future__ import annotations

import os
import sys
from typing import Callable
from urllib.parse import urlparse

from .contract import BUILT_IN_SERVICES, PATHS, SECRET_FILES, URL_PATHS
from .stack import Stack

IDLE_CULLER = BUILT_IN_SERVICES["idle_culler"]
PREWARM = BUILT_IN_SERVICES["prewarm"]


def services(stack: Stack, secrets: dict[str, str], prewarm_token: str, stack_file: str,
             prewarm_outcomes: str = PATHS["hub_prewarm_outcomes"]) -> list[dict]:
    """One formgrader service per course (name = course id, nbgrader's convention), the idle
    culler, and the pre-warm schedule (prewarm.py) with a token made at each hub start, recording
    into ``prewarm_outcomes``."""
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
    result.append({"name": PREWARM, "api_token": prewarm_token,
                   "command": [sys.executable, "-m", "jupyterhub_lti_stack.prewarm", stack_file, prewarm_outcomes]})
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
    # Pre-warm: read the course groups and their members' servers, start them; nothing else.
    result.append(
        {
            "name": PREWARM,
            "description": "Starts the servers of each course's known students ahead of class",
            "scopes": [
                scope
                for course in stack.courses
                for scope in (f"read:groups!group={course.student_group}", f"read:users!group={course.student_group}",
                              f"read:servers!group={course.student_group}", f"servers!group={course.student_group}")
            ],
            "services": [PREWARM],
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


def frame_policy(frame_ancestors: list[str] | tuple[str, ...], report_uri: str) -> str:
    """The Content-Security-Policy of every component in iframe mode: exactly the listed LMS
    origins may frame it, violations still go to JupyterHub's report endpoint. Not 'self': a
    page on the hub's origin (a student's file served by their server) must not frame another
    component, e.g. an instructor's formgrader (JupyterHub's reason for 'none'). The notebook
    image's jhlti_embedding builds the same."""
    return f"frame-ancestors {' '.join(frame_ancestors)}; report-uri {report_uri}"


# Every cookie of a cross-site iframe: sent in the frame, over HTTPS only.
FRAME_COOKIE_OPTIONS = {"samesite": "None", "secure": True}


def tornado_settings(stack: Stack) -> dict:
    """New-window mode: JupyterHub's own policy (``frame-ancestors 'none'``) and cookies.
    iframe mode: the LMS origins may frame the hub, and its cookies (login, session, ``_xsrf``
    and the LTI 1.3 state and nonce, all set through ``cookie_options``) are ``SameSite=None;
    Secure``."""
    if not stack.frame_ancestors:
        return {}
    return {
        "headers": {"Content-Security-Policy": frame_policy(stack.frame_ancestors, URL_PATHS["csp_report"])},
        "cookie_options": dict(FRAME_COOKIE_OPTIONS),
    }


def sqlite_file(db_url: str) -> str | None:
    """The file of a ``sqlite:///path`` URL (None for any other database or an in-memory one)."""
    if not db_url.startswith("sqlite:///"):
        return None
    path = db_url[len("sqlite:///"):].split("?", 1)[0]
    return path if path and path != ":memory:" else None


def write_ahead_log(db_url: Callable[[], str], log=None) -> Callable:
    """Open JupyterHub's SQLite database with a write-ahead log and ``synchronous=NORMAL``.

    In SQLite's default rollback-journal mode every commit waits for the disk (fsync) on the
    hub's one event loop, and a launch commits several times (login, cookie, OAuth code and
    token): at the start of class that wait is paid once per student, in a row. With the write-
    ahead log a commit appends to the log and the disk is synced at checkpoints. Trade-off
    (SQLite's, documented there): a crash of the process or container loses nothing, a power
    loss or kernel crash can lose the last commits (sessions and tokens made in the last
    moments, which the users get again by launching), never the database's consistency.

    ``db_url`` is read when a connection opens (the configured URL, which later config may
    change); connections to any other database of the process are left alone. Returns the
    listener (registered on every SQLAlchemy engine)."""
    import sqlite3

    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    said = []

    def on_connect(dbapi_connection, _record) -> None:
        path = sqlite_file(db_url())
        if path is None or not isinstance(dbapi_connection, sqlite3.Connection):
            return
        main = next((row[2] for row in dbapi_connection.execute("PRAGMA database_list") if row[1] == "main"), "")
        if not main or os.path.realpath(main) != os.path.realpath(path):
            return
        mode = dbapi_connection.execute("PRAGMA journal_mode=WAL").fetchone()[0]
        dbapi_connection.execute("PRAGMA synchronous=NORMAL")
        if log is not None and not said:
            said.append(True)
            log.info("Hub database %s: journal_mode=%s, synchronous=NORMAL", path, mode)

    event.listen(Engine, "connect", on_connect)
    return on_connect
