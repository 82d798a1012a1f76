"""The teaching loop on a real Docker engine, in order (run with -x: each step needs the last).

1 deploy cold · 2 launches (2c: in a real browser, inside the LMS page) · 3 nbgrader round trip (3b: grades to
the LMS; 3c: in R) · 4 isolation · 5 redeploy during class ·
6 add a course · 7 destroy keeps data, redeploy finds it · 8 purge."""

from __future__ import annotations

import json
import socket
import ssl
import time

import browser
from conftest import User
from harness import STAND_IN_IMAGES, docker, inspect, names, record_time, say, timed
from stack_config import ADDED_COURSE, PORT, PREFIX
from teaching import (ASSIGNMENT, POINTS, RIGHT, RIGHT_R, WRONG, WRONG_R, as_user, collect_and_autograde,
                      container_env, create_and_release, fetch_answer_submit, gradebook_scores, hub_user,
                      inbound, land, lti11_launch, lti13_launch, released_source, server_status, show,
                      submitted_timestamp)

USERS = [  # name, course, role, protocol
    ("teacher", "algebra", "instructor", "lti13"),
    ("alice", "algebra", "student", "lti13"),
    ("bob", "algebra", "student", "lti13"),
    ("dave", "algebra", "student", "lti11"),  # an LTI 1.1 link naming the assignment: Basic Outcomes
    ("carol", "physics", "student", "lti13"),
]
EXPECTED_SCORES = {"alice": (POINTS, POINTS), "bob": (0.0, POINTS), "dave": (POINTS, POINTS)}
USERS_NETWORK = f"{PREFIX}-users"


def assert_no_changes(e2e, when: str) -> None:
    with timed(f"terraform plan -detailed-exitcode after {when}", step=False):
        code, out = e2e.stack.plan_exitcode()
    assert code == 0, f"plan after {when} is not empty (perpetual diff):\n{out[-5000:]}"
    say("    plan: no changes")


def stack_json(e2e) -> dict:
    return json.loads(docker("exec", f"{PREFIX}-hub", "cat", "/srv/jupyterhub/stack.json"))


def served_certificate() -> bytes:
    """The certificate the proxy presents on the published port (no verification here: we
    compare bytes with the stack output instead)."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    with socket.create_connection(("127.0.0.1", PORT), timeout=10) as sock:
        with context.wrap_socket(sock, server_hostname="localhost") as tls:
            return tls.getpeercert(binary_form=True)


def running(container: str) -> bool:
    return docker("inspect", "--format", "{{.State.Running}}", container, check=False) == "true"


def user_servers(e2e) -> dict[str, str]:
    return {key: inspect(u.container, "{{.Id}}") for key, u in e2e.users.items()}


def wait_for_hub(e2e, timeout: float = 180) -> None:
    """`cdktf deploy` returns once the containers are created; the hub needs a moment more.
    Trusts exactly the stack's certificate output (a destroy/deploy makes a new one)."""
    pem = e2e.stack.output("tls_certificate_pem")
    e2e.cert_file.write_text(pem)
    assert served_certificate() == ssl.PEM_cert_to_DER_cert(pem), "proxy serves another certificate"
    deadline = time.monotonic() + timeout
    with timed("deploy done -> /hub/health 200 through the proxy", step=False):
        while True:
            r = e2e.browser().get(e2e.url("/hub/health"), timeout=30)
            if r.status_code == 200:
                break
            assert time.monotonic() < deadline, f"/hub/health: {r.status_code}\n" + docker(
                "logs", "--tail", "60", f"{PREFIX}-hub", check=False)
            time.sleep(0.5)


def test_1_deploy_cold(e2e):
    with timed("1 deploy (cold: no state; Docker layer cache as found)"):
        e2e.stack.deploy()
        wait_for_hub(e2e)
    say("    TLS: the proxy serves exactly the tls_certificate_pem output; "
        f"GET {e2e.url('/hub/health')} trusting only that certificate: 200")
    assert_no_changes(e2e, "the first deploy")
    assert sorted(names("network")) == [f"{PREFIX}-control", USERS_NETWORK]
    # Courses on the same base must not share one image id (a destroy would remove it twice).
    ids = {c["id"]: inspect(c["image"], "{{.Id}}") for c in stack_json(e2e)["courses"]}
    assert len(set(ids.values())) == len(ids), ids
    for course, image_id in ids.items():
        assert inspect(image_id, "{{index .Config.Labels \"org.jupyterhub-lti-stack.course\"}}") == course
    say(f"    course images, each its own id and course label: {ids}")
    e2e.start_lms(USERS_NETWORK)


# What a GET of each published URL must answer (status, content type); an output URL missing
# here fails the test, so a new output gets its check.
PUBLISHED_URLS = {
    "hub_url": (200, "text/html"),  # the start page, after the redirects a browser follows
    "lti11_launch_url": (405, None),  # launches are POSTs
    "lti11_config_xml_url": (200, "application/xml"),
    "lti13_login_initiation_url": (400, None),  # a login initiation without its parameters
    "lti13_redirect_url": (405, None),  # the id_token is POSTed
    "lti13_config_url": (200, "application/json"),
    "lti13_jwks_url": (200, "application/json"),
    "lti13_dynamic_registration_url": (403, None),  # only with a one-time token (registration-token)
}


def test_1b_every_published_url_answers(e2e):
    outputs = e2e.stack.outputs()
    urls = {name: value for name, value in outputs.items() if name.endswith("_url")}
    assert set(urls) == set(PUBLISHED_URLS), sorted(urls)
    browser = e2e.browser()
    for name, url in sorted(urls.items()):
        status, content_type = PUBLISHED_URLS[name]
        r = browser.get(url, timeout=30)
        say(f"    GET {name} {url} -> {r.status_code} {r.headers.get('Content-Type', '')}")
        assert r.status_code == status, (name, r.status_code, r.text[:300])
        if content_type:
            assert r.headers["Content-Type"].startswith(content_type), (name, r.headers["Content-Type"])
    config = browser.get(urls["lti13_config_url"], timeout=30).json()
    assert config["oidc_initiation_url"] == urls["lti13_login_initiation_url"]
    assert config["redirect_uris"] == [urls["lti13_redirect_url"]]
    assert config["public_jwk_url"] == urls["lti13_jwks_url"]
    keys = browser.get(urls["lti13_jwks_url"], timeout=30).json()["keys"]
    assert len(keys) == 1 and keys[0]["alg"] == "RS256" and "d" not in keys[0]
    e2e.facts["tool_kid"] = keys[0]["kid"]


def test_2_launches(e2e):
    contexts = {c.id: c.context for c in e2e.courses}
    images = {c["id"]: c["image"] for c in stack_json(e2e)["courses"]}
    servers = {c["id"]: c["server_name"] for c in stack_json(e2e)["courses"]}
    with timed("2 launches from the LMS peers (LTI 1.3: instructor + 3 students; LTI 1.1: 1 student) until servers answer"):
        for name, course, role, protocol in USERS:
            user = e2e.users[name] = User(name, course, role, protocol, session=e2e.browser(), server=servers[course])
            t0 = time.monotonic()
            if protocol == "lti11":
                launch = lti11_launch(e2e, user, contexts[course], custom={"assignment": ASSIGNMENT})
            else:
                launch = lti13_launch(e2e, user, contexts[course])
            trail = land(e2e, user, launch)  # only the redirects a browser follows, into JupyterLab
            user.launch_to_ready = time.monotonic() - t0
            record_time(f"launch -> JupyterLab: {name} ({protocol}, {role})", user.launch_to_ready)
            if name == "teacher":
                say(f"    the browser's way from the launch: {' -> '.join(trail)}")
            user.container = f"{PREFIX}-nb-{name}--{user.server}"
            user.uid = int(container_env(user.container)["NB_UID"])
            status = server_status(e2e, user)
            info = inspect(user.container)
            say(f"    {name}: {protocol} {role} of {course}; container {user.container} uid {user.uid} "
                f"image {info['Config']['Image']}; /user/{name}/api/status -> {status}; "
                f"{user.launch_to_ready:.1f} s")
            assert info["State"]["Running"]
            assert info["Config"]["Image"] == images[course]
            assert list(info["NetworkSettings"]["Networks"]) == [USERS_NETWORK]
    assert len({u.uid for u in e2e.users.values()}) == len(USERS), "every user needs its own uid"
    assert set(hub_user(e2e, e2e.users["teacher"])["groups"]) == {"nbgrader-algebra", "formgrade-algebra"}
    assert set(hub_user(e2e, e2e.users["alice"])["groups"]) == {"nbgrader-algebra"}
    assert set(hub_user(e2e, e2e.users["carol"])["groups"]) == {"nbgrader-physics"}
    # every spawn recorded its user's uid for the graders' strict collect
    recorded = json.loads(docker("exec", f"{PREFIX}-hub", "cat", "/srv/jupyterhub/uids/uids.json"))
    say(f"    uid map (hub /srv/jupyterhub/uids/uids.json): {recorded}")
    assert recorded == {u.name: u.uid for u in e2e.users.values()}
    grader_view = docker("exec", f"{PREFIX}-grader-algebra", "stat", "-c", "%a %u:%g %n",
                         "/srv/nbgrader/uids", "/srv/nbgrader/uids/uids.json")
    say("    as the grader sees it:\n      " + grader_view.replace("\n", "\n      "))
    assert [line.split()[:2] for line in grader_view.splitlines()] == [["755", "0:0"], ["644", "0:0"]]


def test_2b_one_student_two_courses(e2e):
    """erin is in algebra and physics: two servers at once, each with its course's image, home,
    limits and idle timeout; her home from before course servers appears in both; stopping one (as
    the idle culler does) leaves the other; relaunching a course returns to its server."""
    contexts = {c.id: c.context for c in e2e.courses}
    courses = {c["id"]: c for c in stack_json(e2e)["courses"]}
    legacy = f"{PREFIX}-home-erin"  # what the release before course servers left her
    docker("volume", "create", legacy)
    docker("run", "--rm", "-v", f"{legacy}:/h", "--user", "0", "--entrypoint", "sh", STAND_IN_IMAGES[2],
           "-c", "echo from before > /h/notes.txt && chmod 644 /h/notes.txt")
    session = e2e.browser()
    with timed("2b one student, two courses: launches, servers, homes, limits, culling one"):
        for course in ("algebra", "physics"):
            user = e2e.users[f"erin@{course}"] = User("erin", course, "student", "lti13", session=session,
                                                      server=courses[course]["server_name"])
            land(e2e, user, lti13_launch(e2e, user, contexts[course]))
            user.container = f"{PREFIX}-nb-erin--{user.server}"
            user.uid = int(container_env(user.container)["NB_UID"])
        a, b = e2e.users["erin@algebra"], e2e.users["erin@physics"]
        for u in (a, b):
            info = inspect(u.container)
            mounts = sorted(m.get("Name") or m["Source"] for m in info["Mounts"])
            limits = (info["HostConfig"]["Memory"], info["HostConfig"]["CpuQuota"] / info["HostConfig"]["CpuPeriod"])
            timeout = next(a for a in info["Config"]["Cmd"] if a.startswith("--ServerApp.shutdown_no_activity_timeout="))
            say(f"    erin@{u.course}: {u.container} image {info['Config']['Image']}; memory, cpus {limits}; {timeout}; mounts {mounts}")
            assert info["State"]["Running"] and info["Config"]["Image"] == courses[u.course]["image"]
            assert limits == (courses[u.course]["limits"]["memory_bytes"], courses[u.course]["limits"]["cpus"])
            assert timeout.endswith(f"={courses[u.course]['idle_cull_seconds']}")
            assert mounts == sorted([f"{PREFIX}-exchange", f"{PREFIX}-home-erin--{u.server}", legacy])
            # no container health check (docker-stacks images declare one: a Python process every few seconds)
            assert info["Config"].get("Healthcheck") == {"Test": ["NONE"]} and "Health" not in info["State"], info["Config"].get("Healthcheck")
            assert as_user(u, "cat ~/home-before-courses/notes.txt").stdout.strip() == "from before"
        assert courses["physics"]["limits"]["memory_bytes"] == 768 * 1024**2 and courses["physics"]["idle_cull_seconds"] == 900
        assert inspect(f"{PREFIX}-grader-algebra")["Config"].get("Healthcheck") == {"Test": ["NONE"]}  # the course image's
        assert a.uid == b.uid, "one Unix identity per user"
        as_user(a, "echo algebra > ~/only-in-algebra.txt")
        as_user(b, "echo physics > ~/only-in-physics.txt")
        assert as_user(b, "test -e ~/only-in-algebra.txt", check=False).returncode != 0, "a file of A is visible in B"
        # Stop B the way the idle culler does (its token, its API call): A keeps running.
        token = docker("exec", f"{PREFIX}-hub", "cat", "/srv/jupyterhub/secrets/service-token-idle-culler")
        a_id, b_id = inspect(a.container, "{{.Id}}"), inspect(b.container, "{{.Id}}")
        since = docker("info", "--format", "{{.SystemTime}}")
        r = e2e.browser().delete(e2e.url(f"/hub/api/users/erin/servers/{b.server}"), headers={"Authorization": f"token {token}"}, timeout=60)
        assert r.status_code in (202, 204), r.text
        deadline = time.monotonic() + 60
        while b.container in names("container") and time.monotonic() < deadline:
            time.sleep(0.5)
        assert b.container not in names("container") and inspect(a.container, "{{.Id}}") == a_id
        # It shut down (SIGTERM passed on by the container's init) rather than being killed: exit 0.
        died = docker("events", "--since", since, "--until", docker("info", "--format", "{{.SystemTime}}"),
                      "--filter", f"container={b_id}", "--filter", "event=die", "--format", '{{index .Actor.Attributes "exitCode"}}')
        assert died.split() == ["0"], f"B's container exited with {died!r}, not by shutting down"
        server_status(e2e, a)
        # Relaunching A returns to the same server; relaunching B starts it again, its files kept.
        land(e2e, a, lti13_launch(e2e, a, contexts["algebra"]), running=True)
        assert inspect(a.container, "{{.Id}}") == a_id, "a relaunch of A started another server"
        land(e2e, b, lti13_launch(e2e, b, contexts["physics"]))
        assert as_user(b, "cat ~/only-in-physics.txt").stdout.strip() == "physics"
    say("    erin: two course servers, separate homes, her previous home in both; culling physics left algebra; relaunches return")


def test_2c_inside_the_lms_page(e2e):
    """In a real browser (Chromium), from the LMS's course page, which embeds the hub in an iframe
    on another site: with third-party cookies allowed, LTI 1.1 and LTI 1.3 launches end in
    JupyterLab inside the frame, where a cell runs and the notebook is saved, and an instructor
    opens the formgrader there; with them blocked (Chromium's default) the frame ends on the
    hub's "continue in a new window" page, whose button opens JupyterLab in a new window; another
    site may not frame the hub at all. The student in the frame also opens nbgrader's Assignment
    List, whose first request loads nbgrader in her server."""
    contexts = {c.id: c.context for c in e2e.courses}
    servers = {c["id"]: c["server_name"] for c in stack_json(e2e)["courses"]}
    lab = lambda user, course: f"/user/{user}/{servers[course]}/lab"  # noqa: E731
    with timed("2c inside the LMS page: a real browser, cookies allowed and blocked, another site refused"):
        for name, protocol, role, course, cookies in (
            ("frank", "lti11", "student", "algebra", True),
            ("gwen", "lti13", "instructor", "algebra", True),
            ("hugo", "lti11", "student", "algebra", False),
            ("iris", "lti13", "student", "physics", False),
        ):
            scenario = ("formgrader" if role == "instructor" else "lab") if cookies else "fallback"
            say(f"    {name}: {protocol} {role} of {course}, third-party cookies {'allowed' if cookies else 'blocked'}: {scenario}")
            t0 = time.monotonic()
            url = browser.lms_page(e2e, protocol=protocol, user=name, role=role, context_id=contexts[course])
            result = browser.run(f"{protocol}-{'allowed' if cookies else 'blocked'}-{name}", scenario=scenario, url=url,
                                 third_party_cookies=cookies, labPath=lab(name, course),
                                 formgraderPath=f"/services/{course}/formgrader", assignmentList=scenario == "lab")
            record_time(f"browser: LMS page -> cell ran: {name} ({protocol}, cookies {'allowed' if cookies else 'blocked'})",
                        time.monotonic() - t0)
            assert result["saved"] == "42", result
            if scenario == "lab":
                # User servers load nbgrader's extensions at this first request for them (jhlti_nbgrader_on_use).
                assert result["courses"]["status"] == 200 and result["courses"]["success"] is True, result
            if cookies:
                assert result["frameUrl"] == e2e.url(lab(name, course)), result
            else:
                assert result["heading"] == "Continue in a new window" and result["windowUrl"] == e2e.url(lab(name, course))
        refused = browser.run("refused-other-origin", scenario="refused", url=browser.framing_page(e2e, e2e.url("/hub/lti/start")),
                              third_party_cookies=True, refusedUrl=e2e.url("/hub/"))
        say(f"    another site framing the hub: {refused['violation'][:200]}")
        assert "frame-ancestors" in refused["violation"] and browser.OTHER_ORIGIN not in refused["violation"].split("frame-ancestors")[1]


def test_3_nbgrader_round_trip(e2e):
    alice, bob = e2e.users["alice"], e2e.users["bob"]
    with timed("3 nbgrader round trip (release, fetch/answer/submit x3, collect, autograde)"):
        show("grader: generate + release", create_and_release("algebra")[-600:])
        show("alice: fetch, answer right, submit", fetch_answer_submit(alice, "algebra", RIGHT)[-400:])
        show("bob: fetch, answer wrong, submit", fetch_answer_submit(bob, "algebra", WRONG)[-400:])
        show("dave: fetch, answer right, submit", fetch_answer_submit(e2e.users["dave"], "algebra", RIGHT)[-400:])
        collected = collect_and_autograde("algebra")
        e2e.facts["autograded_at"] = time.monotonic()
        show("grader: collect + autograde", collected[-1500:])
        scores = gradebook_scores("algebra")
    say(f"    gradebook: {scores}")
    assert scores == EXPECTED_SCORES
    # strict collect took both, and nbgrader's "owned by unknown id" warning is gone
    assert "Not collecting" not in collected and "cheating attempt" not in collected, collected[-3000:]
    teacher = e2e.users["teacher"]  # the instructor sees the same in the course's formgrader
    assert teacher.session.get(e2e.url("/services/algebra/formgrader"), timeout=60).status_code == 200
    r = teacher.session.get(e2e.url(f"/services/algebra/formgrader/api/submissions/{ASSIGNMENT}"), timeout=60)
    assert r.status_code == 200, r.text[:300]
    view = {s["student"]: (s["score"], s["max_score"]) for s in r.json()}
    say(f"    formgrader API through the proxy, as teacher: {view}")
    assert view == EXPECTED_SCORES
    e2e.facts["inbound"] = inbound("algebra")
    e2e.facts["scores"] = scores
    assert [s.split("+")[0] for s in e2e.facts["inbound"]] == ["alice", "bob", "dave"], e2e.facts["inbound"]


def test_3b_grades_reach_the_lms(e2e):
    """After autograde the course's grader posts the scores, the hub sends them: AGS for the LTI 1.3
    students (one line item for the assignment), Basic Outcomes for the LTI 1.1 link."""
    context = next(c.context for c in e2e.courses if c.id == "algebra")
    rid = f"nbgrader:algebra:{ASSIGNMENT}"
    expected_ags = {name: EXPECTED_SCORES[name][0] for name in ("alice", "bob")}
    deadline = time.monotonic() + 120
    with timed("3b grade passback: autograde -> every score at the LMS"):
        while True:
            items = [li for li in e2e.lms.lti13.lineitems(context) if li.get("resourceId") == rid]
            latest = {u: s["scoreGiven"] for u, s in e2e.lms.lti13.latest_scores(items[0]["id"]).items()} if items else {}
            outcomes = {k: v["score"] for k, v in e2e.lms.lti11.results().items()}
            if latest == expected_ags and len(outcomes) == 1:
                break
            assert time.monotonic() < deadline, (items, latest, outcomes, docker("logs", "--tail", "40", f"{PREFIX}-grader-algebra", check=False))
            time.sleep(1)
    seconds = time.monotonic() - e2e.facts["autograded_at"]
    record_time("autograde done -> every score at the LMS", seconds)
    say(f"    line items of {context}: {[(li['label'], li['scoreMaximum'], li['resourceId']) for li in items]}")
    say(f"    AGS scores at the platform: {latest}; LTI 1.1 outcomes: {outcomes}; {seconds:.1f} s after autograde")
    assert len(items) == 1 and items[0]["scoreMaximum"] == POINTS, items
    assert outcomes == {f"{context}:rl-{context}:dave": 1.0}, outcomes
    assert e2e.lms.lti13.token_log(rejected=True) == [] and e2e.lms.lti11.outcome_log(rejected=True) == []
    # The instructors' page in the course's grader service shows every score as sent.
    r = e2e.users["teacher"].session.get(e2e.url("/services/algebra/jhlti/passback"), timeout=60)
    assert r.status_code == 200 and r.text.count(">sent<") == 3, r.text[-1500:]
    # A student cannot send grades: not with the browser's session, not with the server's token.
    alice = e2e.users["alice"]
    r = alice.session.post(e2e.url("/hub/api/jhlti/passback/algebra"), json={"assignment": ASSIGNMENT}, timeout=30)
    assert r.status_code == 403, (r.status_code, r.text[:300])
    p = as_user(alice, "python3 - <<'PY'\nimport os, urllib.request\n"
                       "req = urllib.request.Request(os.environ['JUPYTERHUB_API_URL'] + '/jhlti/passback/algebra', data=b'{}', method='POST',\n"
                       "    headers={'Authorization': 'token ' + os.environ['JUPYTERHUB_API_TOKEN'], 'Content-Type': 'application/json'})\n"
                       "try:\n    urllib.request.urlopen(req, timeout=10)\nexcept urllib.error.HTTPError as e:\n    print(e.code)\nPY", check=False)
    assert p.stdout.strip() == "403", (p.stdout, p.stderr)
    say("    alice posting scores: 403 from her browser session, 403 with her server's token")


def probe(title: str, user, script: str, *, allowed: bool | None):
    """A command in the user's server shell; allowed=False means it must fail, None: only shown."""
    p = as_user(user, script, check=False)
    verdict = {True: "must work", False: "must fail", None: "shown, not asserted"}[allowed]
    show(f"{title} [{verdict}] as {user.name} (uid {user.uid}) $ {script}", (p.stdout + p.stderr) + f"(exit {p.returncode})")
    if allowed is not None:
        assert (p.returncode == 0) == allowed, f"{title}: exit {p.returncode}"
    return p


def kernelspecs(e2e, user) -> dict:
    """The kernels the user's JupyterLab offers (its launcher reads this), with the user's session."""
    r = user.session.get(e2e.url(f"/user/{user.name}/{user.server}/api/kernelspecs"), allow_redirects=False, timeout=30)
    assert r.status_code == 200, (user.name, r.status_code, r.text[:200])
    return {name: k["spec"]["language"] for name, k in r.json()["kernelspecs"].items()}


def test_3c_r_course(e2e):
    """physics is taught in R too (kernels python and r): its servers offer the R kernel, the
    algebra ones do not; an R assignment is generated, released, answered, run in the student's
    own server, submitted and autograded with the right scores."""
    carol, erin = e2e.users["carol"], e2e.users["erin@physics"]
    for user in (carol, erin):
        specs = kernelspecs(e2e, user)
        assert specs.get("ir") == "R" and specs.get("python3") == "python", (user.name, specs)
    algebra = kernelspecs(e2e, e2e.users["alice"])
    assert "ir" not in algebra, algebra
    say(f"    physics servers offer {sorted(specs.items())}; algebra's {sorted(algebra.items())}")
    with timed("3c R assignment (release, fetch/answer/submit x2, collect, autograde)"):
        show("physics grader: generate + release (R)", create_and_release("physics", "R")[-600:])
        stub = released_source("physics")
        assert 'stop("No Answer Given!")' in stub and "a + b" not in stub, stub
        show("carol: fetch, answer right, submit", fetch_answer_submit(carol, "physics", RIGHT_R)[-400:])
        ran = as_user(carol, f"""set -e
jupyter nbconvert --to notebook --execute --output /tmp/ran.ipynb physics/{ASSIGNMENT}/{ASSIGNMENT}.ipynb
python3 -c 'import nbformat; nb = nbformat.read("/tmp/ran.ipynb", 4); print(nb.metadata.kernelspec.name, [o.output_type for c in nb.cells for o in c.outputs])'
""")
        show("carol: her notebook run by the R kernel in her server", ran.stdout[-300:])
        assert ran.stdout.strip().splitlines()[-1].startswith("ir ") and "error" not in ran.stdout, ran.stdout
        show("erin: fetch, answer wrong, submit", fetch_answer_submit(erin, "physics", WRONG_R)[-400:])
        show("physics grader: collect + autograde", collect_and_autograde("physics")[-1500:])
        scores = gradebook_scores("physics")
    say(f"    physics gradebook: {scores}")
    assert scores == {"carol": (POINTS, POINTS), "erin": (0.0, POINTS)}, scores


def test_4_isolation(e2e):
    alice, bob, teacher = e2e.users["alice"], e2e.users["bob"], e2e.users["teacher"]
    inbound_dir = "/srv/nbgrader/exchange/algebra/inbound"
    bob_submission = next(s for s in e2e.facts["inbound"] if s.startswith("bob+"))
    bob_guess = bob_submission.rsplit("+", 1)[0]  # user, assignment, exact timestamp; not the random suffix
    with timed("4 isolation checks from inside the user containers"):
        probe("who am I", alice, "id; grep -E '^(Uid|Groups|CapEff|CapBnd|NoNewPrivs)' /proc/self/status", allowed=True)
        probe("list the course inbound", alice, f"ls -la {inbound_dir}", allowed=False)
        probe("find bob's submissions by pattern", alice, f"ls -d {inbound_dir}/bob+*", allowed=False)
        probe("read bob's submission (all but its random suffix known)", alice,
              f"cat '{inbound_dir}/{bob_guess}/ps1.ipynb'", allowed=False)
        probe("change bob's submission", alice, f"echo cheat > '{inbound_dir}/{bob_guess}/ps1.ipynb'", allowed=False)
        probe("delete bob's submissions", alice, f"rm -r {inbound_dir}/bob+*", allowed=False)
        assert inbound("algebra") == e2e.facts["inbound"], "submissions changed"
        probe("homes visible in the container", alice, "ls -la /home; ls -A /home/jovyan", allowed=True)
        probe("only alice's own home is mounted", alice, "ls /home/*/algebra/ps1 2>&1; grep -E ' /home| /srv' /proc/self/mounts", allowed=True)
        mounts = sorted(m.get("Name") or m["Source"] for m in inspect(alice.container, "{{json .Mounts}}"))
        say(f"    mounts of {alice.container}: {mounts}")
        assert mounts == [f"{PREFIX}-exchange", f"{PREFIX}-home-alice--algebra"]
        probe("course directories (gradebook, submitted copies)", alice, "ls -A /srv/nbgrader/courses", allowed=True)
        assert as_user(alice, "ls -A /srv/nbgrader/courses").stdout.strip() == ""
        # With the exact name (72 random bits), nbgrader's own permissions allow it: see the report.
        probe("nbgrader design: bob's submission if its full name leaked", alice,
              f"stat -c '%A %U %n' '{inbound_dir}/{bob_submission}' '{inbound_dir}/{bob_submission}/ps1.ipynb'", allowed=None)
        probe("the uid map is not mounted in user servers", alice,
              "ls /srv/nbgrader/uids /srv/jupyterhub/uids", allowed=False)
        # The inbound is writable for every student and nbgrader names a submission after the
        # student, so alice can file her (right) notebook as a newer submission of bob's. Strict
        # collect must reject it by its owner and keep bob's genuine submission and grade.
        planted = f"{inbound_dir}/bob+{ASSIGNMENT}+2099-01-01 00:00:00.000000 UTC+planted"
        probe("plant alice's notebook as a newer submission in bob's name", alice,
              f"mkdir '{planted}' && cp algebra/{ASSIGNMENT}/{ASSIGNMENT}.ipynb '{planted}/' "
              f"&& echo '2099-01-01 00:00:00.000000 UTC' > '{planted}/timestamp.txt' "
              f"&& stat -c '%A %u %n' '{planted}'", allowed=True)
        bob_stamp = submitted_timestamp("algebra", "bob")
        collected = collect_and_autograde("algebra", update=True)
        show("grader: collect --update + autograde with the forgery in the inbound", collected[-2500:])
        rejections = [line for line in collected.splitlines() if "Not collecting" in line]
        e2e.facts["rejection"] = rejections
        assert len(rejections) == 1 and "+planted" in rejections[0], collected[-3000:]
        assert (f"claims to be submitted by bob (uid {bob.uid}) but is owned by uid {alice.uid}; "
                "forged submission rejected") in rejections[0], rejections
        assert "ERROR" in rejections[0], rejections
        scores = gradebook_scores("algebra")
        say(f"    gradebook after the forgery: {scores}; bob's collected submission {submitted_timestamp('algebra', 'bob')}")
        assert scores == e2e.facts["scores"] == EXPECTED_SCORES, "the forgery changed a grade"
        assert submitted_timestamp("algebra", "bob") == bob_stamp, "bob's collected submission was replaced"
        probe("alice removes her planted folder again", alice, f"rm -r '{planted}'", allowed=True)
        assert inbound("algebra") == e2e.facts["inbound"], "submissions changed"

        for who, expected in ((alice, 403), (teacher, 200)):
            r = who.session.get(e2e.url("/services/algebra/formgrader"), timeout=60)
            say(f"    GET /services/algebra/formgrader as {who.name} ({who.role}): {r.status_code} (final URL {r.url})")
            assert r.status_code == expected
        r = alice.session.get(e2e.url(f"/user/bob/{bob.server}/api/status"), timeout=30)
        say(f"    GET /user/bob/{bob.server}/api/status as alice: {r.status_code}")
        assert r.status_code == 403

        probe("Docker socket", alice, "ls -l /var/run/docker.sock /run/docker.sock", allowed=False)
        probe("Docker endpoint in the environment", alice, "env | grep -i docker", allowed=False)
        probe("any Unix socket named docker", alice, "find / -xdev -name '*docker*.sock' 2>/dev/null | grep . ", allowed=False)
        probe("proxy API by its control-network name", alice,
              f"python3 -c \"import socket; print(socket.gethostbyname('{PREFIX}-proxy-api'))\"", allowed=False)
        probe("proxy API port on the proxy's users-network address", alice,
              f"python3 -c \"import socket; socket.create_connection(('{PREFIX}-proxy', 8001), timeout=5); print('connected')\"",
              allowed=False)
        proxy_api_ip = inspect(f"{PREFIX}-proxy", "{{json .NetworkSettings.Networks}}")[f"{PREFIX}-control"]["IPAddress"]
        probe("proxy API at its control-network address (as docker inspect tells the test)", alice,
              f"timeout 10 python3 -c \"import socket; socket.create_connection(('{proxy_api_ip}', 8001), timeout=4); print('connected')\"",
              allowed=False)
        probe("hub database file", alice, "ls -l /srv/jupyterhub; find / -xdev -name 'jupyterhub.sqlite*' 2>/dev/null | grep .", allowed=False)

        secrets = docker("exec", f"{PREFIX}-hub", "stat", "-c", "%a %U:%G %n", *[
            f"/srv/jupyterhub/secrets/{n}" for n in docker("exec", f"{PREFIX}-hub", "ls", "/srv/jupyterhub/secrets").split()])
        tls_key = docker("exec", f"{PREFIX}-proxy", "stat", "-c", "%a %U:%G %n", "/etc/chp/tls.key")
        show("secret files in the hub and the proxy", secrets + "\n" + tls_key)
        for line in (secrets + "\n" + tls_key).splitlines():
            assert line.startswith("600 "), line
        hub_mounts = [m["Destination"] for m in inspect(f"{PREFIX}-hub", "{{json .Mounts}}")]
        say(f"    Docker socket holders: hub mounts {hub_mounts}")
        for container in names("container"):
            if container != f"{PREFIX}-hub":
                assert "/var/run/docker.sock" not in [m["Destination"] for m in inspect(container, "{{json .Mounts}}")], container


def test_5_redeploy_during_class(e2e):
    hub_before = inspect(f"{PREFIX}-hub", "{{.Id}}")
    proxy_before = inspect(f"{PREFIX}-proxy", "{{.Id}}")
    servers_before = user_servers(e2e)
    images_before = docker("images", "--no-trunc", "--format", "{{.Repository}}:{{.Tag}} {{.ID}}", "jhlti/e2e-*")
    e2e.idle_cull_seconds = 1800
    e2e.write_config()
    with timed("5 redeploy (warm) with idleCullSeconds 3600 -> 1800 while 4 servers run"):
        e2e.stack.deploy()
        wait_for_hub(e2e)
    assert_no_changes(e2e, "the redeploy")
    assert inspect(f"{PREFIX}-hub", "{{.Id}}") != hub_before, "hub container not replaced"
    assert inspect(f"{PREFIX}-proxy", "{{.Id}}") == proxy_before, "proxy replaced: users lose their connections"
    assert stack_json(e2e)["idle_cull_seconds"] == 1800
    images_after = docker("images", "--no-trunc", "--format", "{{.Repository}}:{{.Tag}} {{.ID}}", "jhlti/e2e-*")
    say(f"    images (unchanged):\n      " + images_after.replace("\n", "\n      "))
    assert sorted(images_after.splitlines()) == sorted(images_before.splitlines()), "an image was rebuilt"
    assert user_servers(e2e) == servers_before, "a user server was restarted"
    for user in e2e.users.values():
        status = server_status(e2e, user)
        say(f"    {user.name}'s server still answers: {status}")
    assert inbound("algebra") == e2e.facts["inbound"]
    assert gradebook_scores("algebra") == e2e.facts["scores"]
    jwks_url = e2e.stack.outputs()["lti13_jwks_url"]
    kids = [k["kid"] for k in e2e.browser().get(jwks_url, timeout=30).json()["keys"]]
    assert kids == [e2e.facts["tool_kid"]], "the tool's signing key changed with a redeploy: LMS registrations would break"
    say(f"    the tool's keyset is unchanged by the redeploy: kid {kids[0]}")


def test_6_add_course(e2e):
    servers_before = user_servers(e2e)
    proxy_before = inspect(f"{PREFIX}-proxy", "{{.Id}}")
    e2e.courses.append(ADDED_COURSE)
    e2e.write_config()
    with timed("6a plan of adding course chem101", step=False):
        e2e.stack.synth()
        changes = e2e.stack.plan_changes()
    for c in changes:
        say(f"    {'/'.join(c['change']['actions']):14} {c['address']}")
    creates = sorted(c["address"] for c in changes if c["change"]["actions"] == ["create"])
    others = sorted((c["address"], tuple(c["change"]["actions"])) for c in changes if c["change"]["actions"] != ["create"])
    assert len(others) == 1, others
    address, actions = others[0]
    assert address.startswith("docker_container.hub") and set(actions) == {"delete", "create"}, others
    assert all("chem101" in a for a in creates), creates
    kinds = sorted(a.split(".")[0] for a in creates)
    assert kinds == ["docker_container", "docker_image", "docker_volume", "random_bytes"], creates
    with timed("6 deploy with course chem101 added"):
        e2e.stack.deploy()
        wait_for_hub(e2e)
    assert_no_changes(e2e, "adding a course")
    assert running(f"{PREFIX}-grader-{ADDED_COURSE.id}")
    assert inspect(f"{PREFIX}-proxy", "{{.Id}}") == proxy_before, "proxy replaced"
    assert user_servers(e2e) == servers_before, "a user server was restarted"
    for user in e2e.users.values():
        server_status(e2e, user)
    say("    all 4 servers still answer through the proxy")


def test_7_destroy_keeps_data(e2e):
    e2e.stop_lms()  # the test's own container on the users network
    with timed("7 destroy (data volumes kept)"):
        e2e.stack.destroy(purge=False)
    assert names("container") == [] and names("network") == [], (names("container"), names("network"))
    volumes = names("volume")
    say(f"    volumes left: {volumes}")
    expected = {f"{PREFIX}-{v}" for v in ("hub-data", "exchange", "uids", "course-algebra", "course-physics",
                                          "course-chem101")} | {f"{PREFIX}-home-{u.name}--{u.server}" for u in e2e.users.values()}
    assert expected <= set(volumes)
    with timed("7 redeploy onto the kept volumes"):
        e2e.stack.deploy()
        wait_for_hub(e2e)
    assert_no_changes(e2e, "the redeploy onto kept volumes")
    assert inbound("algebra") == e2e.facts["inbound"]
    assert gradebook_scores("algebra") == e2e.facts["scores"]
    say(f"    submissions found again: {e2e.facts['inbound']}; gradebook {e2e.facts['scores']}")


def test_8_purge(e2e):
    with timed("8 destroy --purge"):
        e2e.stack.destroy(purge=True)
    assert names("container") == [] and names("network") == [], (names("container"), names("network"))
    assert names("volume") == [], names("volume")
    say("    no container, network or volume of the e2e stack is left")
