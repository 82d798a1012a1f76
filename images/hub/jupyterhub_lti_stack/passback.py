"""Grade passback: nbgrader scores from a course's grader to the LMS, from a persisted queue.

The course's grader (images/notebook/jhlti_passback.py) posts the scores of autograded
submissions to the hub (`PassbackHandler`, authenticated as that course's service); the hub
queues them per (course, assignment, student) on its data volume and delivers them with the
launch record of that student in that course (launch_store.py), so a score only ever goes to the
platform, context and user id the student's own launch of that course named:

- LTI 1.3 (Assignment and Grade Services): an access token by the OAuth2 client-credentials
  grant with a JWT client assertion signed by the tool's key (lti_services.py, shared with the
  course roster); one line item per nbgrader assignment in the context (found again by its
  resourceId, created once); a score per student.
- LTI 1.1 (Basic Outcomes): replaceResultRequest with the ratio score / max score, OAuth 1.0a
  signed with a body hash, to the outcome service URL and result sourcedid of the student's
  launch of the link whose custom parameter `assignment` names the assignment.

Failures (LMS down, 401, 429, timeouts) are retried with exponential backoff; each queue entry
keeps its last error for the instructor's status page. Nothing is lost on a hub restart.
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from urllib.parse import urlencode, urlsplit, urlunsplit
from xml.sax.saxutils import escape

from jupyterhub.apihandlers import APIHandler
from oauthlib.oauth1 import Client as OAuth1Client
from tornado import web

from .launch_store import LaunchRecord, LaunchStore
from .lti_services import ServiceClient, ServiceError, http_error
from .stack import Stack

AGS_LINEITEM = "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem"
AGS_SCORE = "https://purl.imsglobal.org/spec/lti-ags/scope/score"
LINEITEM_TYPE = "application/vnd.ims.lis.v2.lineitem+json"
LINEITEMS_TYPE = "application/vnd.ims.lis.v2.lineitemcontainer+json"
SCORE_TYPE = "application/vnd.ims.lis.v1.score+json"
MAX_ATTEMPTS = 8

SCHEMA = """
CREATE TABLE IF NOT EXISTS passback (
  course TEXT NOT NULL,
  assignment TEXT NOT NULL,
  student TEXT NOT NULL,
  score REAL NOT NULL,
  max_score REAL NOT NULL,
  label TEXT NOT NULL,
  graded_at TEXT NOT NULL,
  status TEXT NOT NULL,          -- pending | sent | failed | blocked
  attempts INTEGER NOT NULL DEFAULT 0,
  next_try REAL NOT NULL DEFAULT 0,
  last_error TEXT NOT NULL DEFAULT '',
  sent_at REAL,
  PRIMARY KEY (course, assignment, student)
);
CREATE TABLE IF NOT EXISTS lineitems (
  container TEXT NOT NULL,
  resource_id TEXT NOT NULL,
  url TEXT NOT NULL,
  PRIMARY KEY (container, resource_id)
);
"""


class PassbackError(ServiceError):
    """A delivery failed for a reason of its own (no launch to send it with, the LMS refused it)."""


@dataclass(frozen=True)
class Entry:
    course: str
    assignment: str
    student: str
    score: float
    max_score: float
    label: str
    graded_at: str
    status: str
    attempts: int
    last_error: str


def resource_id(course: str, assignment: str) -> str:
    """The stable line item id of an nbgrader assignment (the same on every resend)."""
    return f"nbgrader:{course}:{assignment}"


def _with_path_suffix(url: str, suffix: str) -> str:
    """`<lineitem>/scores`, keeping the line item URL's query string where AGS wants it."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=parts.path.rstrip("/") + suffix))


class PassbackQueue:
    """The persisted queue, in the launch store's SQLite file."""

    def __init__(self, store: LaunchStore):
        self.db = store._db
        self.db.executescript(SCHEMA)

    def submit(self, course: str, assignment: str, max_score: float, label: str, scores: list[dict], now: float) -> int:
        """Queue the latest scores; an unchanged score already sent stays sent (no resend)."""
        queued = 0
        with self.db:
            for s in scores:
                row = self.db.execute(
                    "SELECT score, max_score, status FROM passback WHERE course=? AND assignment=? AND student=?",
                    (course, assignment, s["student"]),
                ).fetchone()
                if row and row[2] == "sent" and row[0] == s["score"] and row[1] == max_score:
                    continue
                self.db.execute(
                    "INSERT INTO passback (course, assignment, student, score, max_score, label, graded_at, status, attempts, next_try, last_error) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, 'pending', 0, ?, '') ON CONFLICT (course, assignment, student) DO UPDATE SET "
                    "score=excluded.score, max_score=excluded.max_score, label=excluded.label, graded_at=excluded.graded_at, "
                    "status='pending', attempts=0, next_try=excluded.next_try, last_error=''",
                    (course, assignment, s["student"], float(s["score"]), float(max_score), label, s["timestamp"], now),
                )
                queued += 1
        return queued

    def unblock(self, student: str, course: str, now: float) -> int:
        """A new launch of the student may make blocked scores deliverable: try them again."""
        with self.db:
            return self.db.execute(
                "UPDATE passback SET status='pending', attempts=0, next_try=? WHERE student=? AND course=? AND status='blocked'",
                (now, student, course),
            ).rowcount

    def resend_all(self, course: str, now: float) -> int:
        with self.db:
            return self.db.execute(
                "UPDATE passback SET status='pending', attempts=0, next_try=?, last_error='' WHERE course=?", (now, course)
            ).rowcount

    def due(self, now: float) -> list[Entry]:
        rows = self.db.execute(
            "SELECT course, assignment, student, score, max_score, label, graded_at, status, attempts, last_error "
            "FROM passback WHERE status='pending' AND next_try<=? ORDER BY next_try", (now,)
        )
        return [Entry(*r) for r in rows]

    def sent(self, e: Entry, now: float) -> None:
        with self.db:
            self.db.execute(
                "UPDATE passback SET status='sent', sent_at=?, last_error='' WHERE course=? AND assignment=? AND student=? AND score=?",
                (now, e.course, e.assignment, e.student, e.score),
            )

    def failed(self, e: Entry, error: ServiceError, now: float) -> None:
        attempts = e.attempts + 1
        if not error.retry:
            status, next_try = "blocked", now
        elif attempts >= MAX_ATTEMPTS:
            status, next_try = "failed", now
        else:
            status = "pending"
            next_try = now + max(error.retry_after or 0.0, min(5.0 * 2 ** (attempts - 1), 3600.0))
        with self.db:
            self.db.execute(
                "UPDATE passback SET status=?, attempts=?, next_try=?, last_error=? WHERE course=? AND assignment=? AND student=?",
                (status, attempts, next_try, str(error), e.course, e.assignment, e.student),
            )

    def status(self, course: str) -> list[dict]:
        rows = self.db.execute(
            "SELECT assignment, student, score, max_score, status, attempts, last_error, sent_at FROM passback "
            "WHERE course=? ORDER BY assignment, student", (course,)
        )
        keys = ("assignment", "student", "score", "max_score", "status", "attempts", "last_error", "sent_at")
        return [dict(zip(keys, r)) for r in rows]

    def lineitem(self, container: str, rid: str) -> str | None:
        row = self.db.execute("SELECT url FROM lineitems WHERE container=? AND resource_id=?", (container, rid)).fetchone()
        return row[0] if row else None

    def remember_lineitem(self, container: str, rid: str, url: str) -> None:
        with self.db:
            self.db.execute("INSERT OR REPLACE INTO lineitems (container, resource_id, url) VALUES (?, ?, ?)", (container, rid, url))


class Deliverer:
    """Sends queued scores with the clients of both protocols."""

    def __init__(self, stack: Stack, store: LaunchStore, services: ServiceClient, consumers: dict[str, str], log):
        self.stack, self.store, self.services, self.consumers, self.log = stack, store, services, consumers, log
        self.queue = PassbackQueue(store)

    async def _lineitem(self, launch: LaunchRecord, e: Entry, token: str) -> str:
        container = launch.ags["lineitems"]
        rid = resource_id(e.course, e.assignment)
        known = self.queue.lineitem(container, rid)
        if known:
            return known
        auth = {"Authorization": f"Bearer {token}"}
        sep = "&" if "?" in container else "?"
        code, headers, text = await self.services.request(f"{container}{sep}{urlencode({'resource_id': rid})}", headers={**auth, "Accept": LINEITEMS_TYPE})
        if code != 200:
            raise http_error("line items", code, headers, text)
        found = [item for item in json.loads(text or "[]") if item.get("resourceId") == rid]
        if found:
            url = found[0]["id"]
        else:
            item = {"scoreMaximum": e.max_score, "label": e.label, "resourceId": rid, "tag": e.assignment}
            code, headers, text = await self.services.request(container, "POST", json.dumps(item), {**auth, "Content-Type": LINEITEM_TYPE, "Accept": LINEITEM_TYPE})
            if code not in (200, 201):
                raise http_error("create line item", code, headers, text)
            url = json.loads(text)["id"]
            self.log.info("grade passback: created line item %s for %s/%s", url, e.course, e.assignment)
        self.queue.remember_lineitem(container, rid, url)
        return url

    async def send_lti13(self, launch: LaunchRecord, e: Entry) -> None:
        ags = launch.ags or {}
        scopes = set(ags.get("scope") or [])
        if not ags.get("lineitems") or AGS_SCORE not in scopes or AGS_LINEITEM not in scopes:
            raise PassbackError(
                f"{e.student}'s LTI 1.3 launch of {e.course} carried no Assignment and Grade Services claim with line items "
                "and scores; enable grade sync (AGS) in the tool's LMS registration, then the student launches again",
                retry=False,
            )
        token = await self.services.access_token(launch.platform, launch.client_id or "", (AGS_LINEITEM, AGS_SCORE), "grade passback")
        if launch.custom.get("assignment") == e.assignment and ags.get("lineitem"):
            lineitem = ags["lineitem"]  # the line item the platform made for this assignment's link
        else:
            lineitem = await self._lineitem(launch, e, token)
        score = {
            "userId": launch.user_id, "scoreGiven": e.score, "scoreMaximum": e.max_score,
            "activityProgress": "Completed", "gradingProgress": "FullyGraded",
            "timestamp": datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        }
        code, headers, text = await self.services.request(
            _with_path_suffix(lineitem, "/scores"), "POST", json.dumps(score),
            {"Authorization": f"Bearer {token}", "Content-Type": SCORE_TYPE},
        )
        if code not in (200, 201, 202, 204):
            raise http_error("score", code, headers, text)

    async def send_lti11(self, launch: LaunchRecord, e: Entry) -> None:
        secret = self.consumers.get(launch.platform)
        if secret is None or not launch.outcome_service_url or not launch.result_sourcedid:
            raise PassbackError(f"{e.student}'s LTI 1.1 launch of {e.course} carried no outcome service (lis_outcome_service_url, lis_result_sourcedid)", retry=False)
        ratio = 0.0 if e.max_score <= 0 else max(0.0, min(1.0, e.score / e.max_score))
        body = (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            '<imsx_POXEnvelopeRequest xmlns="http://www.imsglobal.org/services/ltiv1p1/xsd/imsoms_v1p0">'
            f"<imsx_POXHeader><imsx_POXRequestHeaderInfo><imsx_version>V1.0</imsx_version>"
            f"<imsx_messageIdentifier>{uuid.uuid4().hex}</imsx_messageIdentifier></imsx_POXRequestHeaderInfo></imsx_POXHeader>"
            "<imsx_POXBody><replaceResultRequest><resultRecord>"
            f"<sourcedGUID><sourcedId>{escape(launch.result_sourcedid)}</sourcedId></sourcedGUID>"
            f"<result><resultScore><language>en</language><textString>{ratio:.6f}</textString></resultScore></result>"
            "</resultRecord></replaceResultRequest></imsx_POXBody></imsx_POXEnvelopeRequest>"
        )
        client = OAuth1Client(launch.platform, client_secret=secret)
        url, headers, signed = client.sign(launch.outcome_service_url, "POST", body=body, headers={"Content-Type": "application/xml"})
        code, response_headers, text = await self.services.request(url, "POST", signed, headers)
        if code != 200:
            raise http_error("replaceResult", code, response_headers, text)
        if "<imsx_codeMajor>success</imsx_codeMajor>" not in text.replace(" ", ""):
            raise PassbackError(f"replaceResult: the LMS did not report success: {text[:200]}", retry=False)

    def _launches(self, e: Entry) -> list[LaunchRecord]:
        """The student's launch records of this course that can carry this assignment's score."""
        records = self.store.launch_records(e.student, e.course)
        lti13 = [r for r in records if r.protocol == "lti13"]
        # A link made for this assignment (deep linking) names its line item; else the latest
        # LTI 1.3 launch names the context, whose line item for the assignment is found or made.
        linked = [r for r in lti13 if r.custom.get("assignment") == e.assignment and (r.ags or {}).get("lineitem")]
        lti13 = (linked or lti13)[:1]
        lti11 = [r for r in records if r.protocol == "lti11" and r.custom.get("assignment") == e.assignment]
        return lti13 + lti11

    async def deliver(self, e: Entry) -> None:
        records = self._launches(e)
        if not records:
            raise PassbackError(
                f"no launch of {e.student} from {e.course} that takes {e.assignment}'s score (LTI 1.3, or an LTI 1.1 link "
                f"with the custom parameter assignment={e.assignment}); the score is sent once there is one",
                retry=False,
            )
        for record in records:
            await (self.send_lti13 if record.protocol == "lti13" else self.send_lti11)(record, e)

    async def run_once(self) -> int:
        """Deliver what is due; returns how many entries were sent."""
        sent = 0
        for e in self.queue.due(time.time()):
            try:
                await self.deliver(e)
            except ServiceError as error:
                self.queue.failed(e, error, time.time())
                self.log.warning("grade passback %s/%s for %s: %s", e.course, e.assignment, e.student, error)
            else:
                self.queue.sent(e, time.time())
                sent += 1
                self.log.info("grade passback %s/%s for %s: %s/%s sent", e.course, e.assignment, e.student, e.score, e.max_score)
        return sent


# --- the hub API the graders call (JupyterHub.extra_handlers, under /hub/api/jhlti/passback/) ---


class PassbackHandler(APIHandler):
    """POST a course's scores (the course's grader service only); GET the queue's state.

    Every call also delivers what is due, so the graders' regular calls drive the retries.
    """

    @property
    def deliverer(self) -> Deliverer:
        return self.authenticator.passback

    def _course(self, course_id: str):
        caller = self.current_user
        # Only the grader service named after the course: no user (student or instructor) token,
        # no other course's grader.
        if caller is None or getattr(caller, "kind", "") != "service" or caller.name != course_id:
            raise web.HTTPError(403, f"only the grader service of {course_id} may use its grade passback")
        course = self.deliverer.stack.course(course_id)
        if course is None:
            raise web.HTTPError(404, f"no course {course_id}")
        if not course.grade_passback:
            raise web.HTTPError(409, f"grade passback is off for {course_id} (gradePassback in the stack config)")
        return course

    async def post(self, course_id: str):
        self._course(course_id)
        try:
            payload = json.loads(self.request.body or b"{}")
            assignment, max_score = str(payload["assignment"]), float(payload["max_score"])
            label = str(payload.get("label") or assignment)
            scores = [
                {"student": str(s["student"]), "score": float(s["score"]), "timestamp": str(s.get("timestamp") or "")}
                for s in payload["scores"]
            ]
        except (ValueError, KeyError, TypeError) as e:
            raise web.HTTPError(400, f"expected {{assignment, max_score, label?, scores: [{{student, score, timestamp}}]}}: {e}") from e
        if max_score < 0 or any(not 0 <= s["score"] <= max_score for s in scores):
            raise web.HTTPError(400, "scores must lie between 0 and max_score")
        queued = self.deliverer.queue.submit(course_id, assignment, max_score, label, scores, time.time())
        sent = await self.deliverer.run_once()
        self.set_status(202)
        self.finish({"queued": queued, "sent": sent, "entries": self.deliverer.queue.status(course_id)})

    async def get(self, course_id: str):
        self._course(course_id)
        await self.deliverer.run_once()
        self.finish({"course": course_id, "entries": self.deliverer.queue.status(course_id)})


class PassbackResendHandler(PassbackHandler):
    """POST: the instructor's "send all again" (via the grader): every entry of the course is queued."""

    async def post(self, course_id: str):
        self._course(course_id)
        self.deliverer.queue.resend_all(course_id, time.time())
        sent = await self.deliverer.run_once()
        self.finish({"sent": sent, "entries": self.deliverer.queue.status(course_id)})

    async def get(self, course_id: str):
        raise web.HTTPError(405)


def handlers() -> list[tuple[str, type]]:
    """For JupyterHub.extra_handlers (mounted under /hub/)."""
    return [
        (r"api/jhlti/passback/([^/]+)/resend", PassbackResendHandler),
        (r"api/jhlti/passback/([^/]+)", PassbackHandler),
    ]
