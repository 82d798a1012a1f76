"""LTI 1.3 Deep Linking in a real hub, against LMS code this project did not write (lms_hub's
lti1p3platform platform, test/peers/lti13_platform.py, which checks the response with the
library and the rules a strict LMS adds): an instructor chooses assignments of the course's
nbgrader source directory, the platform creates resource links with line items from the signed
response, a student's launch of such a link leads to the assignment in the course's server, and
grade passback scores the line item the response declared."""

from __future__ import annotations

import html
import json
import re
import time
from urllib.parse import parse_qs, urlsplit

import jwt
import pytest
import requests

from conftest import CONTEXT_IDS, record_forgery
from jupyterhub_lti_stack.deep_linking import ASSIGNMENT_NAME, course_assignments
from jupyterhub_lti_stack.passback import resource_id
from lti13_platform import DeepLinkError

LEARNER = ["http://purl.imsglobal.org/vocab/lis/v2/membership#Learner"]
TEACHER = ["http://purl.imsglobal.org/vocab/lis/v2/membership#Instructor"]
COURSE = "intro101"  # grade passback on
CONTEXT = {"id": CONTEXT_IDS[COURSE], "label": "INTRO", "title": "Introduction"}


def notebook(*points: float) -> dict:
    cells = [{"cell_type": "code", "source": "", "metadata": {"nbgrader": {"grade": True, "points": p, "solution": True}},
              "outputs": [], "execution_count": None} for p in points]
    cells.append({"cell_type": "markdown", "source": "text", "metadata": {}})
    return {"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}


@pytest.fixture(scope="module")
def lms(lms_hub):
    source = lms_hub.tmp / "courses" / COURSE / "source"
    for name, notebooks in {"dl-week1": {"a.ipynb": notebook(3, 2), "b.ipynb": notebook(1.5)},
                            "dl-week2": {"only.ipynb": notebook(4)}}.items():
        (source / name).mkdir(parents=True)
        for file, content in notebooks.items():
            (source / name / file).write_text(json.dumps(content))
    (source / "not-an-assignment.txt").write_text("x")
    (source / "empty").mkdir()
    return lms_hub


def picker(r) -> tuple[str, list[str], str]:
    assert r.status_code == 200, (r.status_code, r.text[:500])
    token = re.search(r'name="token" value="([^"]+)"', r.text).group(1)
    names = [html.unescape(v) for v in re.findall(r'name="assignment" value="([^"]+)"', r.text)]
    action = re.search(r'<form method="post" action="([^"]+)"', r.text).group(1)
    return token, names, action


def deep_linking_request(lms, sub: str, roles=TEACHER):
    return lms.platform.launch(requests.Session(), lms.url, sub=sub, roles=roles, context=CONTEXT, deep_linking={})


def choose(lms, action: str, token: str, names: list[str], cookies=None) -> requests.Response:
    # A fresh session: the picker works without the hub's cookies (LMS dialogs are cross-site frames).
    return requests.post(lms.url + action, data={"token": token, "action": "add", "assignment": names}, timeout=30)


def returned(r) -> tuple[str, str]:
    assert r.status_code == 200, (r.status_code, r.text[:500])
    url = html.unescape(re.search(r'action="([^"]+)"', r.text).group(1))
    encoded = re.search(r'name="JWT" value="([^"]+)"', r.text).group(1)
    return url, encoded


def test_the_course_assignments_are_read_from_its_source_directory(lms):
    found = {a.name: (a.max_score, a.notebooks) for a in course_assignments(COURSE, lms.tmp / "courses")}
    assert found == {"dl-week1": (6.5, 2), "dl-week2": (4.0, 1)}
    assert course_assignments("no-such-course", lms.tmp / "courses") == []
    assert ASSIGNMENT_NAME.match("ps1") and not ASSIGNMENT_NAME.match("../x") and not ASSIGNMENT_NAME.match("a/b")


def test_instructor_places_assignments_platform_accepts_links_with_line_items(lms):
    token, names, action = picker(deep_linking_request(lms, "dl-teacher"))
    assert names == ["dl-week1", "dl-week2"]
    url, encoded = returned(choose(lms, action, token, names))
    assert url == lms.platform.url + "/deep_link_return"
    claims = jwt.decode(encoded, options={"verify_signature": False})
    assert claims["iss"] == lms.platform.client_id and claims["aud"] == lms.platform.issuer
    links = lms.platform.deep_link_return(encoded)  # lti1p3platform + strict checks; raises if refused
    assert [(link["title"], link["custom"]) for link in links] == [
        ("dl-week1", {"assignment": "dl-week1"}), ("dl-week2", {"assignment": "dl-week2"})]
    items = {li["resourceId"]: li for li in lms.platform.lineitems(CONTEXT["id"]) if li.get("resourceId", "").startswith("nbgrader:intro101:dl-")}
    assert {rid: (li["scoreMaximum"], li["label"], li["resourceLinkId"]) for rid, li in items.items()} == {
        resource_id(COURSE, "dl-week1"): (6.5, "dl-week1", links[0]["resource_link_id"]),
        resource_id(COURSE, "dl-week2"): (4.0, "dl-week2", links[1]["resource_link_id"])}
    # The choice is good once; a replayed response is refused by the platform.
    r = choose(lms, action, token, names)
    assert r.status_code == 400 and "sent already or has expired" in r.text
    with pytest.raises(DeepLinkError, match="data does not echo"):
        lms.platform.deep_link_return(encoded)


def test_a_response_the_hub_did_not_sign_is_refused_by_the_platform(lms):
    token, names, action = picker(deep_linking_request(lms, "dl-teacher"))
    _, encoded = returned(choose(lms, action, token, names[:1]))
    head, body, signature = encoded.split(".")
    claims = json.loads(jwt.utils.base64url_decode(body))
    claims["https://purl.imsglobal.org/spec/lti-dl/claim/content_items"][0]["lineItem"]["scoreMaximum"] = 1000
    forged = ".".join([head, jwt.utils.base64url_encode(json.dumps(claims).encode()).decode(), signature])
    with pytest.raises(DeepLinkError):
        lms.platform.deep_link_return(forged)


def test_students_cannot_make_deep_linking_requests(lms):
    r = deep_linking_request(lms, "dl-student-asks", roles=LEARNER)
    assert r.status_code == 403 and "Only instructors" in r.text, r.text[:300]
    record_forgery("LTI 1.3 deep linking request by a student", r.status_code, "Only instructors of the course can add")
    # Nor can anyone choose assignments without a token the hub issued.
    r = requests.post(lms.url + "/hub/jhlti/deep-linking", data={"token": "guess", "assignment": "dl-week1"}, timeout=30)
    assert r.status_code == 400


def test_a_student_launch_of_a_created_link_opens_the_assignment_and_its_score_goes_to_that_line_item(lms):
    token, names, action = picker(deep_linking_request(lms, "dl-teacher"))
    _, encoded = returned(choose(lms, action, token, ["dl-week2"]))
    [link] = lms.platform.deep_link_return(encoded)
    session = requests.Session()
    r = lms.platform.launch(session, lms.url, sub="dl-student", roles=LEARNER, context=CONTEXT,
                            resource_link_id=link["resource_link_id"], custom=link["custom"])
    assert r.status_code == 302, r.text[:300]
    location = urlsplit(r.headers["Location"])
    assert location.path == "/hub/spawn/dl-student/intro101"
    assert parse_qs(location.query)["next"] == ["/user/dl-student/intro101/jhlti/assignment?name=dl-week2"]
    # Follow what a browser follows: the server starts, the handler answers (nothing released
    # in this tier: JupyterLab opens), and once the assignment is in the home, it opens it.
    r = session.get(lms.url + r.headers["Location"], timeout=60)
    deadline = time.monotonic() + 60
    while "/spawn-pending/" in r.url and time.monotonic() < deadline:
        time.sleep(0.5)
        r = session.get(r.url, timeout=60)
    assert r.status_code == 200 and urlsplit(r.url).path == "/user/dl-student/intro101/lab", (r.url, r.text[:300])
    assert any("/jhlti/assignment" in h.url for h in r.history), [h.url for h in r.history]
    fetched = lms.tmp / "home" / "dl-student" / COURSE / "dl-week2"
    fetched.mkdir(parents=True, exist_ok=True)
    (fetched / "only.ipynb").write_text(json.dumps(notebook(4)))
    r = session.get(lms.url + "/user/dl-student/intro101/jhlti/assignment?name=dl-week2", allow_redirects=False, timeout=30)
    assert r.status_code == 302 and r.headers["Location"] == "/user/dl-student/intro101/lab/tree/intro101/dl-week2/only.ipynb"
    # The same link again, its server running: straight to the assignment, no spawn page between.
    r = lms.platform.launch(session, lms.url, sub="dl-student", roles=LEARNER, context=CONTEXT,
                            resource_link_id=link["resource_link_id"], custom=link["custom"])
    assert r.status_code == 302 and r.headers["Location"] == "/user/dl-student/intro101/jhlti/assignment?name=dl-week2", r.headers

    # Grade passback scores the line item the response declared (no second one is created).
    token = lms.secrets[f"service-token-{COURSE}"]
    body = {"assignment": "dl-week2", "max_score": 4.0, "label": "dl-week2",
            "scores": [{"student": "dl-student", "score": 3.0, "timestamp": "2026-11-29T10:00:00+00:00"}]}
    url = f"{lms.url}/hub/api/jhlti/passback/{COURSE}"
    assert requests.post(url, json=body, headers={"Authorization": f"token {token}"}, timeout=60).status_code == 202
    for _ in range(100):
        entries = requests.get(url, headers={"Authorization": f"token {token}"}, timeout=60).json()["entries"]
        if any(e["assignment"] == "dl-week2" and e["status"] == "sent" for e in entries):
            break
        time.sleep(0.3)
    # Two links of dl-week2 exist (placed twice): the score goes to the one the student launched.
    items = {li["id"]: li for li in lms.platform.lineitems(CONTEXT["id"]) if li.get("resourceId") == resource_id(COURSE, "dl-week2")}
    assert len(items) == 2 and link["lineitem"] in items, items
    assert lms.platform.latest_scores(link["lineitem"])["dl-student"]["scoreGiven"] == 3.0
    assert all("dl-student" not in lms.platform.latest_scores(i) for i in items if i != link["lineitem"])
