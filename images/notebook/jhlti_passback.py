"""Grade passback from a course's grader (a Jupyter server extension, enabled in graders only).

Every few seconds the extension reads the course's nbgrader gradebook and posts the scores of
fully graded submissions (autograded, no manual grading pending) of each assignment that changed
since the last successful post to the hub (`/hub/api/jhlti/passback/<course>`, with the grader
service's own token). The hub queues and delivers them to the LMS (LTI 1.3 AGS or LTI 1.1
Outcomes) and keeps retrying failures; these regular calls also drive those retries.

Instructors (only they reach the grader service) see the state of every score and can send
everything again at `/services/<course>/jhlti/passback`.

Active only when the construct sets JHLTI_GRADE_PASSBACK=1 (the course's gradePassback).
"""

from __future__ import annotations

import hashlib
import html
import json
import os
from datetime import datetime, timezone

from jupyter_server.base.handlers import JupyterHandler
from jupyter_server.utils import url_path_join
from tornado import web
from tornado.httpclient import AsyncHTTPClient, HTTPRequest
from tornado.ioloop import IOLoop, PeriodicCallback

SYNC_SECONDS = 10


def contract() -> dict:
    with open(os.environ.get("JHLTI_CONTRACT_FILE", "/usr/local/share/jhlti/contract.json"), encoding="utf-8") as f:
        return json.load(f)


def graded_scores(db_url: str, course: str) -> list[dict]:
    """Per assignment: its max score and the scores of fully graded submissions (blocking: run in a thread)."""
    from nbgrader.api import Gradebook

    result = []
    with Gradebook(db_url, course_id=course) as gb:
        for assignment in gb.assignments:
            scores = []
            for submission in assignment.submissions:
                if submission.needs_manual_grade:
                    continue
                stamp = submission.timestamp
                scores.append({
                    "student": submission.student.id,
                    "score": float(submission.score),
                    "timestamp": stamp.replace(tzinfo=timezone.utc).isoformat() if stamp else "",
                })
            if scores:
                result.append({"assignment": assignment.name, "label": assignment.name,
                               "max_score": float(assignment.max_score), "scores": sorted(scores, key=lambda s: s["student"])})
    return result


class Passback:
    def __init__(self, log, course: str, db_url: str, api_url: str, token: str):
        self.log, self.course, self.db_url = log, course, db_url
        self.url = f"{api_url.rstrip('/')}/jhlti/passback/{course}"
        self.headers = {"Authorization": f"token {token}", "Content-Type": "application/json"}
        self.sent: dict[str, str] = {}  # assignment -> digest of the payload the hub accepted
        self.status: dict = {"entries": [], "error": "", "checked": ""}
        self.http = AsyncHTTPClient()

    async def _call(self, url: str, method: str, body: str | None = None) -> dict:
        response = await self.http.fetch(HTTPRequest(url, method=method, body=body, headers=self.headers, request_timeout=30), raise_error=False)
        if response.code >= 400 or response.code == 599:
            raise RuntimeError(f"{method} {url}: HTTP {response.code} {(response.body or b'').decode(errors='replace')[:300]}")
        return json.loads(response.body or b"{}")

    async def sync(self, force: bool = False) -> None:
        try:
            assignments = await IOLoop.current().run_in_executor(None, graded_scores, self.db_url, self.course)
            for payload in assignments:
                body = json.dumps(payload, sort_keys=True)
                digest = hashlib.sha256(body.encode()).hexdigest()
                if force or self.sent.get(payload["assignment"]) != digest:
                    answer = await self._call(self.url, "POST", body)
                    self.sent[payload["assignment"]] = digest
                    self.status["entries"] = answer.get("entries", [])
                    self.log.info("grade passback: %s posted (%d scores, %d queued)", payload["assignment"], len(payload["scores"]), answer.get("queued", 0))
            self.status.update(await self._call(self.url, "GET"))
            self.status["error"] = ""
        except Exception as e:  # noqa: BLE001 - reported on the page and retried next round
            self.status["error"] = str(e)
            self.log.warning("grade passback: %s", e)
        self.status["checked"] = datetime.now(timezone.utc).isoformat(timespec="seconds")

    async def resend(self) -> None:
        await self._call(f"{self.url}/resend", "POST", "{}")
        await self.sync(force=True)


class PassbackPage(JupyterHandler):
    @property
    def passback(self) -> Passback | None:
        return self.settings.get("jhlti_passback")

    @web.authenticated
    async def get(self):
        passback = self.passback
        if passback is None:
            self.finish("<p>Grade passback is off for this course (gradePassback in the stack config).</p>")
            return
        rows = "".join(
            "<tr>" + "".join(f"<td>{html.escape(str(e.get(k, '')))}</td>" for k in ("assignment", "student", "score", "max_score", "status", "attempts", "last_error")) + "</tr>"
            for e in passback.status.get("entries", [])
        )
        error = f"<p class='error'>Last check failed: {html.escape(passback.status['error'])}</p>" if passback.status.get("error") else ""
        self.finish(f"""<!DOCTYPE html><html><head><title>Grades to the LMS: {html.escape(passback.course)}</title></head><body>
<h1>Grades sent to the LMS: {html.escape(passback.course)}</h1>
<p>Scores of fully graded submissions go to the LMS after autograde. Last check: {html.escape(passback.status.get('checked', ''))}</p>{error}
<form method="post">{self.xsrf_form_html()}<button type="submit">Send all grades again</button></form>
<table border="1"><tr><th>assignment</th><th>student</th><th>score</th><th>max</th><th>status</th><th>attempts</th><th>last error</th></tr>{rows}</table>
</body></html>""")

    @web.authenticated
    async def post(self):
        if self.passback is None:
            raise web.HTTPError(409, "grade passback is off for this course")
        await self.passback.resend()
        self.redirect(self.request.path)


def _jupyter_server_extension_points():
    return [{"module": "jhlti_passback"}]


def _load_jupyter_server_extension(serverapp):
    course = os.environ.get("JHLTI_COURSE_ID", "")
    web_app = serverapp.web_app
    route = url_path_join(web_app.settings["base_url"], "jhlti", "passback")
    web_app.add_handlers(".*$", [(route, PassbackPage)])
    if os.environ.get("JHLTI_GRADE_PASSBACK") != "1" or not course:
        serverapp.log.info("grade passback: off for %s", course or "(no course)")
        return
    root = os.path.join(contract()["paths"]["courses_root"], course)
    passback = Passback(serverapp.log, course, f"sqlite:///{root}/gradebook.db",
                        os.environ["JUPYTERHUB_API_URL"], os.environ["JUPYTERHUB_API_TOKEN"])
    web_app.settings["jhlti_passback"] = passback
    PeriodicCallback(passback.sync, SYNC_SECONDS * 1000).start()
    serverapp.log.info("grade passback: on for %s, every %d s", course, SYNC_SECONDS)
