"""What the people in a course do: launch from the LMS (LTI 1.1 or 1.3), wait for their server,
and run nbgrader in the containers exactly as their terminals would (docker exec as the
server's uid, in its container, with its environment)."""

from __future__ import annotations

import json
import re
import subprocess
import time
from urllib.parse import urljoin, urlsplit

import pytest

from harness import docker, docker_exec, inspect, say
from lti_platform import LIS
from stack_config import PREFIX

ASSIGNMENT = "ps1"
POINTS = 2.0
RIGHT = "def add(a, b):\n    return a + b\n"
WRONG = "def add(a, b):\n    return a - b\n"
RIGHT_R = "add <- function(a, b) a + b\n"
WRONG_R = "add <- function(a, b) a - b\n"
# The same exercise per kernel language: solution cell, test cell, kernelspec (the name and
# language of the official images' kernels: python3/python, ir/R).
EXERCISES = {
    "python": ("def add(a, b):\n    ### BEGIN SOLUTION\n    return a + b\n    ### END SOLUTION\n",
               "assert add(1, 2) == 3\nassert add(-1, 1) == 0\n",
               {"display_name": "Python 3", "language": "python", "name": "python3"}),
    "R": ("add <- function(a, b) {\n  ### BEGIN SOLUTION\n  a + b\n  ### END SOLUTION\n}\n",
          "stopifnot(add(1, 2) == 3)\nstopifnot(add(-1, 1) == 0)\n",
          {"display_name": "R", "language": "R", "name": "ir"}),
}


def _cell(cell_id: str, source: str, **nbgrader) -> dict:
    meta = {"schema_version": 3, "solution": False, "grade": False, "locked": False, "task": False, **nbgrader}
    return {"cell_type": "code", "id": cell_id, "execution_count": None, "outputs": [],
            "metadata": {"nbgrader": meta}, "source": source}


def assignment_notebook(language: str = "python") -> str:
    """A one-exercise assignment: a solution cell and an autograded test cell worth 2 points."""
    solution, test, kernelspec = EXERCISES[language]
    return json.dumps({
        "cells": [
            _cell("add", solution, grade_id="add", solution=True),
            _cell("test-add", test, grade_id="test_add", grade=True, locked=True, points=POINTS),
        ],
        "metadata": {"kernelspec": kernelspec, "language_info": {"name": language}},
        "nbformat": 4, "nbformat_minor": 5,
    })


# --- launches ---------------------------------------------------------------------------

def check_page_next(e2e, user, r) -> str | None:
    """What the script of the hub's iframe-mode check page does (images/hub/.../frame.py): ask
    the hub whether the cookie just set came back and, as it did, go on; None when `r` is not
    that page. (In a real browser, with cookies blocked and not, that is step 2c.)"""
    found = re.search(r'var next = ("(?:[^"\\]|\\.)*"), check = ("(?:[^"\\]|\\.)*")', r.text)
    if r.status_code != 200 or not found:
        return None
    next_url, check = json.loads(found.group(1)), json.loads(found.group(2))
    answer = user.session.get(e2e.url(check), timeout=30)
    assert answer.status_code == 200 and answer.json() == {"ok": True}, (check, answer.status_code, answer.text[:200])
    return next_url


def lti11_launch(e2e, user, context_id: str, custom: dict | None = None) -> str:
    """A launch signed by the LMS peer (the `lti` package), with an outcome service (Basic
    Outcomes); returns where the browser goes next."""
    r = e2e.lms.lti11.launch(
        user.session, e2e.url("/hub/lti/launch"), user_id=user.name,
        roles="Instructor" if user.role == "instructor" else "Learner", context_id=context_id,
        resource_link_id=f"rl-{context_id}", custom=custom,
        extra={"context_title": user.course, "lis_person_contact_email_primary": f"{user.name}@example.org",
               "launch_presentation_document_target": "iframe"},
    )
    next_url = check_page_next(e2e, user, r)
    if next_url is None:
        assert r.status_code == 302, (r.status_code, r.text[:500])
        next_url = r.headers["Location"]
    return next_url


def lti13_launch(e2e, user, context_id: str) -> str:
    """OIDC login + id_token from the LMS peer (lti1p3platform), with the AGS endpoint claim;
    returns where the browser goes next."""
    roles = [LIS + ("membership#Instructor" if user.role == "instructor" else "membership#Learner")]
    r = e2e.lms.lti13.launch(user.session, e2e.url(""), sub=user.name, roles=roles,
                             context={"id": context_id, "label": user.course, "title": user.course},
                             on_page=lambda page: check_page_next(e2e, user, page))
    assert r.status_code == 302, (r.status_code, r.text[:500])
    return r.headers["Location"]


def hub_user(e2e, user) -> dict:
    r = user.session.get(e2e.url("/hub/api/user"), timeout=30)
    assert r.status_code == 200, (r.status_code, r.text[:300])
    return r.json()


def land(e2e, user, location: str, timeout: float = 180, ends_at: str = "lab", running: bool = False) -> list[str]:
    """Only what a browser does after the launch: go where it leads, into the course's server,
    through the progress page while it starts (whose script reloads it when the server is ready),
    until JupyterLab answers at `ends_at` (relative to the server). Returns the URL path of each
    page on the way. A launch to a server that is `running` leads straight to it."""
    # A link naming an assignment (custom assignment=...) goes on to it (jhlti/assignment).
    expected = f"/user/{user.name}/{user.server}/" if running else f"/hub/spawn/{user.name}/{user.server}"
    assert urlsplit(location).path == expected, location
    trail, url = [], e2e.url(location)
    deadline = time.monotonic() + timeout
    while True:
        r = user.session.get(url, allow_redirects=False, timeout=60)
        trail.append(urlsplit(r.url).path)
        if r.status_code in (301, 302, 303, 307):
            url = urljoin(r.url, r.headers["Location"])
            continue
        if r.status_code == 200 and "/hub/spawn-pending/" in r.url:
            if time.monotonic() > deadline:
                logs = subprocess.run(["docker", "logs", "--tail", "60", f"{PREFIX}-hub"], capture_output=True, text=True, timeout=60)
                pytest.fail(f"{user.name}'s {user.server} server not ready after {timeout}s\nhub log:\n{logs.stdout + logs.stderr}")
            time.sleep(0.5)
            continue
        break
    assert r.status_code == 200 and urlsplit(r.url).path == f"/user/{user.name}/{user.server}/{ends_at}", (r.status_code, r.url, trail)
    assert "JupyterLab" in r.text, r.text[:300]
    return trail


def server_status(e2e, user) -> dict:
    """The user's course server answering through the proxy, with the user's session."""
    r = user.session.get(e2e.url(f"/user/{user.name}/{user.server}/api/status"), allow_redirects=False, timeout=30)
    assert r.status_code == 200, f"{user.name}: {r.status_code} {r.headers.get('Location')} {r.text[:200]}"
    return r.json()


def container_env(container: str) -> dict:
    return dict(item.split("=", 1) for item in inspect(container, "{{json .Config.Env}}"))


# --- nbgrader, in the containers ----------------------------------------------------------

def grader(course: str) -> tuple[str, int]:
    container = f"{PREFIX}-grader-{course}"
    return container, int(container_env(container)["NB_UID"])


def as_grader(course: str, script: str, **kw):
    container, uid = grader(course)
    return docker_exec(container, script, user=uid, workdir=f"/srv/nbgrader/courses/{course}",
                       env={"HOME": "/home/jovyan"}, **kw)


def as_user(user, script: str, **kw):
    """A shell of the user's server: same container, same uid, no capabilities."""
    return docker_exec(user.container, script, user=user.uid, workdir="/home/jovyan",
                       env={"HOME": "/home/jovyan"}, **kw)


def create_and_release(course: str, language: str = "python") -> str:
    notebook = assignment_notebook(language)
    p = as_grader(course, f"""set -e
mkdir -p source/{ASSIGNMENT}
cat > source/{ASSIGNMENT}/{ASSIGNMENT}.ipynb <<'NOTEBOOK'
{notebook}
NOTEBOOK
nbgrader generate_assignment {ASSIGNMENT} --force
nbgrader release_assignment {ASSIGNMENT} --force
""")
    return p.stderr + p.stdout


def released_source(course: str, cell: int = 0) -> str:
    """A cell of the student version, as the grader released it."""
    p = as_grader(course, f"python3 -c 'import nbformat; print(nbformat.read(\"release/{ASSIGNMENT}/{ASSIGNMENT}.ipynb\", 4).cells[{cell}].source)'")
    return p.stdout


def fetch_answer_submit(user, course: str, answer: str) -> str:
    p = as_user(user, f"""set -e
nbgrader fetch_assignment {ASSIGNMENT} --course {course}
python3 - <<'PY'
import nbformat
path = "{course}/{ASSIGNMENT}/{ASSIGNMENT}.ipynb"
nb = nbformat.read(path, as_version=4)
nb.cells[0].source = {answer!r}
nbformat.write(nb, path)
PY
nbgrader submit {ASSIGNMENT} --course {course}
""")
    return p.stderr + p.stdout


def collect_and_autograde(course: str, update: bool = False) -> str:
    """As the grader's shell: its container env puts the grader's own nbgrader config (strict
    collect) first on JUPYTER_CONFIG_PATH."""
    flag = " --update" if update else ""
    p = as_grader(course, f"set -e\nnbgrader collect{flag} {ASSIGNMENT}\nnbgrader autograde {ASSIGNMENT}\n")
    return p.stderr + p.stdout


def submitted_timestamp(course: str, student: str) -> str:
    """The timestamp of the submission the grader collected for ``student``."""
    p = as_grader(course, f"cat submitted/{student}/{ASSIGNMENT}/timestamp.txt")
    return p.stdout.strip()


def gradebook_scores(course: str) -> dict[str, tuple[float, float]]:
    p = as_grader(course, f"""python3 - <<'PY'
import json
from nbgrader.api import Gradebook
with Gradebook("sqlite:////srv/nbgrader/courses/{course}/gradebook.db", course_id="{course}") as gb:
    print(json.dumps({{s.student_id: [s.score, s.max_score] for s in gb.assignment_submissions("{ASSIGNMENT}")}}))
PY
""")
    return {k: tuple(v) for k, v in json.loads(p.stdout.strip().splitlines()[-1]).items()}


def inbound(course: str) -> list[str]:
    """The course's submissions in the exchange, as its grader sees them."""
    p = as_grader(course, f"ls -1 /srv/nbgrader/exchange/{course}/inbound")
    return sorted(p.stdout.split("\n")[:-1]) if p.stdout else []


def show(title: str, text: str) -> None:
    say(f"    [{title}]")
    for line in text.rstrip().splitlines():
        say(f"      {line}")
