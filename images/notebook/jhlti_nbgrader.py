"""nbgrader as this stack runs it (images/CONTRACT.md): strict collect for the course graders,
and the Course List of JupyterLab for user servers and graders.

Strict ``nbgrader collect``: the exchange inbound is writable by every student and nbgrader
files a submission under the student *name* in its folder name, so any student can plant
``bob+ps1+<later time>+x`` and nbgrader's collect would take it as bob's newest submission (its
``check_owner`` only warns). Here a submission counts only if its folder (not a symlink) is owned
by the uid the hub recorded for the named student in the uid map (a JSON object username -> uid,
on a volume the graders mount read-only). Forgeries are logged as errors and skipped, so the
student's genuine older submission is collected instead. Without a readable map nothing is
collected.

Selected by the graders' own nbgrader config: ``c.ExchangeFactory.collect``.

Course List (``CourseListHandler``, this module as a server extension in place of nbgrader's
``course_list``, enabled by the user servers' and the graders' server config): nbgrader probes
the formgrader at the URL the browser used, from inside the container, where the public host is
the container itself or unreachable, and an ``OSError`` from the probe fails the whole list; it
reads the services from the hub API, which a user server's token may not; and it lists the
formgrader of every course a user is in, students' courses included (they get 403 there). Here
the formgrader running in this server is found in-process, the courses a user teaches are their
groups ``formgrade-<course>`` (from the hub API), and the links are made from the hub's public
URL; nothing is fetched from the public URL.
"""

from __future__ import annotations

import asyncio
import glob
import html
import json
import logging
import os
import re
import stat
from urllib.parse import quote, urlsplit

from jupyter_server.base.handlers import JupyterHandler
from jupyter_server.utils import url_path_join
from nbgrader.auth.jupyterhub import (JupyterhubEnvironmentError, get_jupyterhub_api_url,
                                      get_jupyterhub_authorization, get_jupyterhub_user)
from nbgrader.coursedir import CourseDirectory
from nbgrader.exchange.default.collect import ExchangeCollect, groupby
from nbgrader.server_extensions.course_list import handlers as course_list
from tornado import web
from tornado.httpclient import AsyncHTTPClient
from traitlets import Unicode, default

# The contract shared with the constructs (generated from constructs/contract.ts).
CONTRACT_FILE = os.environ.get("JHLTI_CONTRACT_FILE", "/usr/local/share/jhlti/contract.json")


def contract() -> dict:
    with open(CONTRACT_FILE, encoding="utf-8") as f:
        return json.load(f)


def uid_map_path() -> str:
    paths = contract()["paths"]
    return os.path.join(paths["grader_uid_map_dir"], paths["uid_map_file"])


class UidMapError(Exception):
    pass


def load_uid_map(path: str) -> dict[str, int]:
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except (OSError, ValueError) as e:
        raise UidMapError(f"cannot read the uid map {path}: {e}") from e
    if not isinstance(data, dict) or not all(
        isinstance(k, str) and type(v) is int and v > 0 for k, v in data.items()
    ):
        raise UidMapError(f"the uid map {path} is not a JSON object of user names to uids")
    return data


def rejection(path: str, student: str, uids: dict[str, int]) -> str | None:
    """Why the submission folder ``path`` is not ``student``'s own, or None if it is."""
    try:
        st = os.lstat(path)
    except OSError as e:
        return f"Not collecting {path}: {e}"
    expected = uids.get(student)
    if expected is None:
        return (f"Not collecting {path}: it claims to be submitted by {student}, who has no uid in "
                f"the uid map (owned by uid {st.st_uid}); rejected")
    if stat.S_ISLNK(st.st_mode) or not stat.S_ISDIR(st.st_mode):
        return (f"Not collecting {path}: it claims to be submitted by {student} (uid {expected}) but "
                f"is not a directory (a symlink or file owned by uid {st.st_uid}); forged submission rejected")
    if st.st_uid != expected:
        return (f"Not collecting {path}: it claims to be submitted by {student} (uid {expected}) but "
                f"is owned by uid {st.st_uid}; forged submission rejected")
    return None


def genuine(records: list[dict], inbound: str, uids: dict[str, int], log: logging.Logger) -> list[dict]:
    """The records (nbgrader's: username, filename, timestamp) whose folder in ``inbound`` is
    owned by the named student's uid; every other one is logged as an error."""
    result = []
    for record in records:
        reason = rejection(os.path.join(inbound, record["filename"]), record["username"], uids)
        if reason is None:
            result.append(record)
        else:
            log.error(reason)
    return result


def select(records: list[dict], duedate=None, before_duedate: bool = False) -> list[dict]:
    """nbgrader's choice among (already verified) records: the newest per student, or with
    ``before_duedate`` the newest before the due date when there is one."""
    chosen = []
    for group in groupby(records, lambda r: r["username"]).values():
        newest_first = sorted(group, key=lambda r: r["timestamp"], reverse=True)
        if duedate is not None and before_duedate:
            in_time = [r for r in newest_first if r["timestamp"] <= duedate]
            chosen.append((in_time or newest_first)[0])
        else:
            chosen.append(newest_first[0])
    return chosen


class StrictCollect(ExchangeCollect):
    uid_map = Unicode(help="The hub's username -> uid map (JSON); default from the contract").tag(config=True)

    @default("uid_map")
    def _default_uid_map(self) -> str:
        return uid_map_path()

    def init_src(self):
        try:
            self._uids = load_uid_map(self.uid_map)
        except UidMapError as e:
            self.fail(f"{e}. Refusing to collect: without it a submission's owner cannot be checked.")
        super().init_src()  # checks the inbound, sets inbound_path and duedate
        student = self.coursedir.student_id or "*"
        pattern = os.path.join(self.inbound_path, f"{student}+{self.coursedir.assignment_id}+*")
        records = [self._path_to_record(f) for f in glob.glob(pattern)]
        self.src_records = select(genuine(records, self.inbound_path, self._uids, self.log),
                                  self.duedate, self.before_duedate)

    def do_copy(self, src, dest):
        # Once more right before copying: the folder may have been replaced since init_src.
        student = os.path.basename(src).rsplit("+", 3)[0]
        reason = rejection(src, student, self._uids)
        if reason is not None:
            self.fail(reason)
        super().do_copy(src, dest)


# --- Course List ---------------------------------------------------------------------------

# nbgrader's multi-course convention: the instructors of course C are the hub group formgrade-C
# (the hub grants that group access to the service C), its students nbgrader-C.
INSTRUCTOR_GROUP_PREFIX = "formgrade-"
# What JupyterHub tells every server it spawns when the hub has a public_url (stack.json's).
PUBLIC_URL_ENV = ("JUPYTERHUB_PUBLIC_HUB_URL", "JUPYTERHUB_PUBLIC_URL")


def public_origin(env: dict, request_origin: str) -> str:
    """``scheme://host[:port]`` of the hub's public URL as JupyterHub passes it to its servers;
    without it (the graders' environment has none) the origin the browser's request came to."""
    for name in PUBLIC_URL_ENV:
        parts = urlsplit(env.get(name) or "")
        if parts.scheme and parts.netloc:
            return f"{parts.scheme}://{parts.netloc}"
    return request_origin


def taught_courses(groups: list[str]) -> list[str]:
    """The courses whose instructor group is among ``groups``. nbgrader's course list takes every
    nbgrader-/formgrade- group (JupyterHubAuthPlugin.get_student_courses), so it would show a
    student the formgrader of their course, which the hub refuses them."""
    return sorted({g[len(INSTRUCTOR_GROUP_PREFIX):] for g in groups
                   if g.startswith(INSTRUCTOR_GROUP_PREFIX) and len(g) > len(INSTRUCTOR_GROUP_PREFIX)})


def formgrader_links(courses: list[str], origin: str, base_url: str) -> list[dict]:
    """nbgrader's course list entries for the formgrader services of ``courses``: the service of
    course C is named C (images/CONTRACT.md), so JupyterHub serves it at ``<base_url>services/C/``
    (jupyterhub.services.service.Service.prefix)."""
    return [{"course_id": course, "url": origin + url_path_join(base_url, "services", course, "lab") + "?formgrader=true",
             "kind": "jupyterhub"} for course in courses]


class CourseListHandler(course_list.CourseListHandler):
    """nbgrader's GET <server>/formgraders without requests to the public URL (see above)."""

    def get_base_url(self) -> str:
        return public_origin(os.environ, super().get_base_url())

    def local_course(self, config) -> str | None:
        """This server's own course if the formgrader extension runs in it (the course's grader;
        user servers disable it), found in-process instead of nbgrader's HTTP probe."""
        if "nbgrader_formgrader" not in self.settings:  # set when the formgrader extension loads
            return None
        return CourseDirectory(config=config).course_id

    async def check_for_local_formgrader(self, config) -> list[dict]:
        course = self.local_course(config)
        if course is None:
            return []
        return [{"course_id": course, "url": self.get_base_url() + url_path_join(self.base_url, "formgrader"),
                 "kind": "local"}]

    async def check_for_jupyterhub_formgraders(self, config) -> list[dict]:
        try:
            user, headers = get_jupyterhub_user(), get_jupyterhub_authorization()
        except JupyterhubEnvironmentError:  # not under JupyterHub
            return []
        # The user's own groups, which every server's token may read (a grader's token: its own
        # account's). nbgrader also asks GET /services for the prefixes, which a user's server
        # token may not read (JupyterHub grants a token only scopes its owner holds).
        response = await AsyncHTTPClient().fetch(
            get_jupyterhub_api_url() + "/users/" + quote(user, safe=""), headers=headers)
        groups = json.loads(response.body).get("groups", [])
        local = self.local_course(config)  # listed by check_for_local_formgrader already
        courses = [c for c in taught_courses(groups) if c != local]
        return formgrader_links(courses, self.get_base_url(), os.environ.get("JUPYTERHUB_BASE_URL") or "/")


# What an assignment link may name (the contract's pattern; the hub checks the same before it leads here).
ASSIGNMENT_NAME = re.compile(contract()["patterns"]["assignment_name"])


def _page(title: str, text: str, link: str) -> str:
    return (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title></head>'
            f'<body style="font:15px/1.45 system-ui,sans-serif;margin:2em"><h1>{html.escape(title)}</h1>'
            f'<p id="jhlti-assignment">{html.escape(text)}</p><p><a href="{html.escape(link)}">Open JupyterLab</a></p></body></html>')


class OpenAssignmentHandler(JupyterHandler):
    """``jhlti/assignment?name=<assignment>``: where a link to one assignment (LTI Deep Linking)
    leads in the course's server. The assignment is fetched from the exchange (as this server's
    user, with nbgrader) if it is released and not fetched yet, then opened in JupyterLab; for an
    unreleased one, JupyterLab opens as after any launch."""

    @web.authenticated
    async def get(self):
        name = self.get_query_argument("name", "")
        course = os.environ.get(contract()["container_env"]["course_id"], "")
        home = url_path_join(self.base_url, "lab")
        if not ASSIGNMENT_NAME.match(name) or not course:
            raise web.HTTPError(400, "name must name an nbgrader assignment of this course server's course")
        root = self.settings.get("server_root_dir") or os.getcwd()
        folder = os.path.join(root, course, name)  # Exchange.path_includes_course
        if not os.path.isdir(folder):
            outbound = os.path.join(contract()["paths"]["exchange_root"], course, "outbound", name)
            if not os.path.isdir(outbound):
                # Not released (yet): JupyterLab as any launch; its Assignments tab shows it once released.
                self.log.info("assignment link to %s of %s: not released yet, opening JupyterLab", name, course)
                self.redirect(home)
                return
            fetch = await asyncio.create_subprocess_exec(
                "nbgrader", "fetch_assignment", "--course", course, name, cwd=root,
                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
            output, _ = await fetch.communicate()
            if fetch.returncode != 0 or not os.path.isdir(folder):
                self.log.error("fetching %s of %s failed: %s", name, course, output.decode(errors="replace")[-2000:])
                self.set_status(502)
                self.finish(_page("Could not fetch the assignment", f"nbgrader could not fetch {name} of {course}; "
                                  "try the Assignments tab of JupyterLab.", home))
                return
            self.log.info("fetched %s of %s for an assignment link", name, course)
        notebooks = sorted(n for n in os.listdir(folder) if n.endswith(".ipynb"))
        target = [course, name] + notebooks[:1]
        self.redirect(url_path_join(self.base_url, "lab", "tree", *(quote(p) for p in target)))


def _jupyter_server_extension_points():
    return [{"module": "jhlti_nbgrader"}]


def _load_jupyter_server_extension(serverapp):
    """nbgrader's course_list extension (its handlers, same URLs) with CourseListHandler."""
    webapp = serverapp.web_app
    webapp.settings["assignment_dir"] = serverapp.root_dir
    handlers = [(pattern, CourseListHandler if handler is course_list.CourseListHandler else handler)
                for pattern, handler in course_list.default_handlers]
    handlers.append((contract()["url_paths"]["open_assignment"], OpenAssignmentHandler))
    webapp.add_handlers(".*$", [(url_path_join(webapp.settings["base_url"], p), h) for p, h in handlers])
    serverapp.log.info("jhlti_nbgrader: nbgrader's Course List without requests to the public URL")
