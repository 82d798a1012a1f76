"""Pre-warm: the servers of a course's known students start before its sessions, so the launch
at the start of class only attaches to a running server.

Known students are the members of the course's student group, i.e. everyone who launched into
the course before (the grader account is never one), and, when the course's LMS offers its roster
(LTI 1.3 names and roles service, roster.py), every active learner of that roster. Servers start through JupyterHub's REST API,
as the ``jhlti-prewarm`` service whose role reaches only the course groups, at most
``concurrency`` at a time; a server already running or starting is left alone.

Two triggers share that one path:
- the schedule (``python -m jupyterhub_lti_stack.prewarm``, a service the hub runs): each weekly
  session of ``courses[].prewarm`` is warmed once, ``lead_seconds`` before it starts;
- an instructor of the course (or an admin) at ``/hub/jhlti/prewarm/<course>``, at once.

Both record the course's last pre-warm (what started, what failed, or why it failed as a whole,
and which trigger) in one JSON file on the hub's data volume, which the course's page shows: it
survives hub restarts, and the page shows scheduled pre-warms too.

Culling: the constructs keep ``lead_seconds`` below the course's idle timeout, so a pre-warmed
server outlives the wait for its session, and one nobody attaches to stops idle (itself, and
the hub's culler as the backstop) one idle timeout after it started.
"""

from __future__ import annotations

import asyncio
import fcntl
import html
import json
import logging
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from urllib.parse import quote
from zoneinfo import ZoneInfo

from jupyterhub.handlers import BaseHandler
from tornado import web
from tornado.httpclient import AsyncHTTPClient, HTTPRequest

from .contract import BUILT_IN_SERVICES, PATHS, PREWARM_DEFAULTS
from .stack import Course, Prewarm, Stack, load_stack

SERVICE = BUILT_IN_SERVICES["prewarm"]
# The settings key under which jupyterhub_config.py hands the service's token to the handler.
TOKEN_SETTING = "jhlti_prewarm_token"
# ... and the file of the courses' last pre-warms (default: the contract's path).
OUTCOMES_SETTING = "jhlti_prewarm_outcomes"
# A server that has not answered after this long counts as failed (the spawner's own timeout is 180 s).
READY_TIMEOUT = 300.0
SCHEDULE_INTERVAL = 30.0

log = logging.getLogger("jhlti.prewarm")


# --- when -------------------------------------------------------------------------------------


def next_session(prewarm: Prewarm, now: datetime) -> datetime | None:
    """The first session start strictly after ``now`` (an aware datetime), in the course's zone."""
    zone = ZoneInfo(prewarm.timezone)
    local = now.astimezone(zone)
    starts = []
    for s in prewarm.sessions:
        for weeks in (0, 1):
            day = (local + timedelta(days=(s.weekday - local.weekday()) % 7 + 7 * weeks)).date()
            # Through UTC and back: a time that a daylight saving gap skips becomes a real instant.
            start = datetime(day.year, day.month, day.day, s.hour, s.minute, tzinfo=zone)
            start = start.astimezone(timezone.utc).astimezone(zone)
            if start > now:
                starts.append(start)
                break
    return min(starts, default=None)


def due_session(prewarm: Prewarm, now: datetime) -> datetime | None:
    """The session whose pre-warm window (``lead_seconds`` before its start) holds ``now``."""
    start = next_session(prewarm, now)
    if start is not None and start - timedelta(seconds=prewarm.lead_seconds) <= now:
        return start
    return None


# --- how --------------------------------------------------------------------------------------


class HubApi:
    """The hub's REST API with one token (the service's)."""

    def __init__(self, api_url: str, token: str):
        self.api_url = api_url.rstrip("/")
        self.token = token
        self.client = AsyncHTTPClient()

    async def call(self, method: str, path: str, body: dict | None = None) -> tuple[int, dict]:
        request = HTTPRequest(
            self.api_url + path, method=method,
            headers={"Authorization": f"token {self.token}", "Content-Type": "application/json"},
            body=None if body is None and method == "GET" else json.dumps(body or {}),
            allow_nonstandard_methods=True, request_timeout=60,
        )
        response = await self.client.fetch(request, raise_error=False)
        try:
            data = json.loads(response.body or b"{}")
        except ValueError:
            data = {}
        return response.code, data if isinstance(data, dict) else {}


@dataclass
class Result:
    course: str
    students: int = 0
    started: list[str] = field(default_factory=list)
    running: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0
    roster: dict = field(default_factory=dict)  # where the known students came from besides launches

    def summary(self) -> dict:
        return {"course": self.course, "students": self.students, "started": sorted(self.started),
                "running": sorted(self.running), "failed": dict(sorted(self.failed.items())),
                "seconds": round(self.seconds, 1), "roster": dict(self.roster)}


async def known_students(api: HubApi, stack: Stack, course: Course) -> list[str]:
    """Who launched into the course before: its student group (the grader account is never one)."""
    code, group = await api.call("GET", f"/groups/{quote(course.student_group, safe='')}")
    if code != 200:
        raise RuntimeError(f"reading the group {course.student_group}: HTTP {code} {group.get('message', '')}")
    return sorted(set(group.get("users", [])) - stack.reserved_usernames)


async def roster_students(api: HubApi, course: Course) -> tuple[list[str], dict]:
    """The active learners of the course's roster in the LMS (roster.py), whose hub users the hub
    makes if they never launched; ([], why not) when the LMS offers no roster or it cannot be read
    (the pre-warm then warms who launched, and says so)."""
    code, body = await api.call("POST", f"/jhlti/roster/{quote(course.id, safe='')}", {})
    if code == 200 and body.get("source") == "roster" and isinstance(body.get("students"), list):
        return [str(n) for n in body["students"]], {k: body[k] for k in ("source", "issuer", "members", "learners") if k in body}
    if code == 200:
        return [], {"source": "none", "reason": str(body.get("reason", ""))}
    return [], {"source": "error", "error": f"HTTP {code} {body.get('message', '')}".strip()}


async def warm(api: HubApi, stack: Stack, course: Course, concurrency: int,
               sleep: Callable[[float], object] = asyncio.sleep) -> Result:
    """Start the course server of each known student that has none running or starting."""
    began = time.monotonic()
    result = Result(course.id)
    from_roster, result.roster = await roster_students(api, course)
    if result.roster.get("source") == "error":
        log.warning("pre-warm %s: roster unreadable (%s); warming the students who launched", course.id, result.roster["error"])
    names = sorted(set(await known_students(api, stack, course)) | (set(from_roster) - stack.reserved_usernames))
    result.students = len(names)
    gate = asyncio.Semaphore(concurrency)
    server = quote(course.server_name, safe="")

    async def state(name: str) -> dict | None:
        code, user = await api.call("GET", f"/users/{quote(name, safe='')}")
        if code != 200:
            raise RuntimeError(f"HTTP {code} {user.get('message', '')}")
        return (user.get("servers") or {}).get(course.server_name)

    async def one(name: str) -> None:
        async with gate:
            try:
                current = await state(name)
                if current is not None and (current.get("ready") or current.get("pending")):
                    result.running.append(name)
                    return
                code, body = await api.call("POST", f"/users/{quote(name, safe='')}/servers/{server}", {})
                if code not in (201, 202):
                    raise RuntimeError(f"HTTP {code} {body.get('message', '')}".strip())
                deadline = time.monotonic() + READY_TIMEOUT
                while code == 202:  # still starting: the gate stays taken until it answers
                    await sleep(0.5)
                    current = await state(name)
                    if current is not None and current.get("ready"):
                        break
                    if current is None or not current.get("pending"):
                        raise RuntimeError("the server stopped while starting (see the hub log)")
                    if time.monotonic() > deadline:
                        raise RuntimeError(f"not ready after {READY_TIMEOUT:.0f} s")
                result.started.append(name)
            except Exception as e:  # one student's failure must not stop the others
                result.failed[name] = str(e)

    await asyncio.gather(*(one(n) for n in names))
    result.seconds = time.monotonic() - began
    log.info("pre-warm %s: %s", course.id, json.dumps(result.summary()))
    return result


class Outcomes:
    """The last pre-warm of each course, {course id: outcome}, in a JSON file that the schedule
    (its own process) and the hub's handler both write: whole-file replacement under an
    exclusive lock on a sidecar file."""

    def __init__(self, path: str | Path):
        self.path = Path(path)

    def read(self) -> dict[str, dict]:
        try:
            data = json.loads(self.path.read_text())
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as e:
            log.warning("pre-warm outcomes %s unreadable (%s): starting afresh", self.path, e)
            return {}
        return data if isinstance(data, dict) else {}

    def record(self, course_id: str, outcome: dict) -> None:
        try:
            with open(self.path.with_name(self.path.name + ".lock"), "a") as lock:
                fcntl.flock(lock, fcntl.LOCK_EX)
                data = self.read()
                data[course_id] = outcome
                tmp = self.path.with_name(f"{self.path.name}.{os.getpid()}.tmp")
                tmp.write_text(json.dumps(data, indent=1, sort_keys=True))
                os.replace(tmp, self.path)
        except OSError as e:  # the page then shows an older outcome; the pre-warm itself happened
            log.error("cannot record the pre-warm of %s in %s: %s", course_id, self.path, e)


def outcome(course_id: str, trigger: str, result: Result | None = None, error: BaseException | None = None) -> dict:
    """A pre-warm's outcome as the course's page shows it."""
    finished = datetime.now(timezone.utc).replace(microsecond=0).isoformat()
    if error is not None:
        return {"course": course_id, "trigger": trigger, "finished_at": finished, "error": f"{type(error).__name__}: {error}"}
    return {**result.summary(), "trigger": trigger, "finished_at": finished}


async def run_schedule(stack: Stack, api: HubApi, now: Callable[[], datetime] = lambda: datetime.now(timezone.utc),
                       sleep: Callable[[float], object] = asyncio.sleep, rounds: int | None = None,
                       outcomes: Outcomes | None = None) -> list[Result]:
    """Warm each scheduled session once, when its window opens; ``rounds`` bounds the loop (tests)."""
    warmed: set[tuple[str, datetime]] = set()
    results = []
    while rounds is None or rounds > 0:
        for course in stack.courses:
            if course.prewarm is None or not course.prewarm.sessions:
                continue
            start = due_session(course.prewarm, now())
            if start is not None and (course.id, start) not in warmed:
                warmed.add((course.id, start))
                log.info("pre-warm %s for the session at %s", course.id, start.isoformat())
                trigger = f"schedule, for the session at {start.isoformat()}"
                try:
                    results.append(await warm(api, stack, course, course.prewarm.concurrency))
                    done = outcome(course.id, trigger, results[-1])
                except Exception as e:
                    log.exception("pre-warm %s failed", course.id)
                    done = outcome(course.id, trigger, error=e)
                if outcomes is not None:
                    outcomes.record(course.id, done)
        if rounds is not None:
            rounds -= 1
            if rounds == 0:
                break
        await sleep(SCHEDULE_INTERVAL)
    return results


def main(argv: list[str]) -> None:
    """``python -m jupyterhub_lti_stack.prewarm STACK_FILE [OUTCOMES_FILE]``, as the hub runs it
    (hub.services)."""
    logging.basicConfig(level=logging.INFO, format="[%(levelname)1.1s %(asctime)s %(name)s] %(message)s")
    stack = load_stack(argv[0] if argv else None)
    api = HubApi(os.environ["JUPYTERHUB_API_URL"], os.environ["JUPYTERHUB_API_TOKEN"])
    scheduled = {c.id: [f"{s.weekday}@{s.hour:02d}:{s.minute:02d}" for s in c.prewarm.sessions]
                 for c in stack.courses if c.prewarm is not None and c.prewarm.sessions}
    log.info("pre-warm schedule (weekday 0 = Monday): %s", json.dumps(scheduled) if scheduled else "none")
    outcomes = Outcomes(argv[1] if len(argv) > 1 else PATHS["hub_prewarm_outcomes"])
    asyncio.run(run_schedule(stack, api, outcomes=outcomes))


# --- the instructor's trigger -------------------------------------------------------------------


def record_outcome(outcomes: Outcomes, course_id: str, trigger: str, task: asyncio.Task) -> None:
    """What the course's page shows as its last pre-warm: the summary, or why it failed as a
    whole (e.g. the hub API refused to list the course's group)."""
    if task.cancelled():
        return
    error = task.exception()
    if error is not None:
        log.error("pre-warm of %s failed: %s", course_id, error, exc_info=error)
    outcomes.record(course_id, outcome(course_id, trigger, None if error else task.result(), error))


class PrewarmHandler(BaseHandler):
    """GET: the course's pre-warm state (HTML, or JSON for ``Accept: application/json``).
    POST: pre-warm the course now (instructors of the course and admins only)."""

    # Running pre-warms of this hub process (the page's "running now").
    tasks: dict[str, asyncio.Task] = {}

    @property
    def outcomes(self) -> Outcomes:
        return Outcomes(self.settings.get(OUTCOMES_SETTING, PATHS["hub_prewarm_outcomes"]))

    def _course(self, course_id: str) -> Course:
        user = self.current_user
        if user is None:
            raise web.HTTPError(403)
        course = self.authenticator.stack.course(course_id)
        if course is None:
            raise web.HTTPError(404, f"No course {course_id!r} on this hub.")
        if not (user.admin or course.instructor_group in {g.name for g in user.groups}):
            raise web.HTTPError(403, f"Only instructors of {course.title} may pre-warm its servers.")
        return course

    def _api(self) -> HubApi:
        return HubApi(self.hub.api_url, self.settings[TOKEN_SETTING])

    def _wants_json(self) -> bool:
        return "application/json" in self.request.headers.get("Accept", "")

    async def _state(self, course: Course) -> dict:
        students = await known_students(self._api(), self.authenticator.stack, course)
        task = self.tasks.get(course.id)
        return {"course": course.id, "title": course.title, "students": len(students),
                "warming": task is not None and not task.done(), "last": self.outcomes.read().get(course.id)}

    @web.authenticated
    async def get(self, course_id: str):
        course = self._course(course_id)
        state = await self._state(course)
        if self._wants_json():
            self.finish(state)
            return
        last = state["last"]
        done = ("none yet" if last is None else f"failed: {last['error']}" if "error" in last else
                f"{len(last['started'])} started, {len(last['running'])} already running, "
                f"{len(last['failed'])} failed, in {last['seconds']} s")
        if last is not None:
            done += f" ({last.get('trigger', '')}, finished {last.get('finished_at', '')})"
            roster = last.get("roster") or {}
            if roster.get("source") == "roster":
                done += f"; the LMS roster listed {roster.get('learners')} active learners of {roster.get('members')} members"
            elif roster.get("source") == "error":
                done += f"; the LMS roster could not be read ({roster.get('error')}), so only students who launched before were started"
        self.set_header("Cache-Control", "no-store")
        self.finish(
            '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>Pre-warm</title></head><body>'
            f"<h1>Start the servers of {html.escape(course.title)}</h1>"
            f"<p>{state['students']} students have launched this course before (with an LTI 1.3 LMS that offers its "
            "roster, every active learner of it is started too). Starting their servers now "
            "makes the launch at the start of class instant; servers nobody opens stop when idle.</p>"
            f"<p>Last pre-warm: {html.escape(done)}{' (running now)' if state['warming'] else ''}.</p>"
            f'<form method="post"><input type="hidden" name="_xsrf" value="{html.escape(self.xsrf_token.decode())}">'
            '<button type="submit">Start the servers now</button></form></body></html>'
        )

    @web.authenticated
    async def post(self, course_id: str):
        course = self._course(course_id)
        task = self.tasks.get(course.id)
        if task is None or task.done():
            concurrency = course.prewarm.concurrency if course.prewarm is not None else PREWARM_DEFAULTS["concurrency"]
            self.log.info("pre-warm %s requested by %s", course.id, self.current_user.name)
            task = asyncio.ensure_future(warm(self._api(), self.authenticator.stack, course, concurrency))
            trigger = f"asked for by {self.current_user.name}"
            task.add_done_callback(lambda t, c=course.id, o=self.outcomes: record_outcome(o, c, trigger, t))
            self.tasks[course.id] = task
        if self._wants_json():
            self.set_status(202)
            self.finish(await self._state(course))
        else:
            self.redirect(self.request.path)


def handlers() -> list[tuple[str, type]]:
    """For JupyterHub.extra_handlers (mounted under /hub/)."""
    return [(r"jhlti/prewarm/([^/]+)", PrewarmHandler)]


if __name__ == "__main__":
    main(sys.argv[1:])
