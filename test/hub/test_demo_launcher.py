"""The demo launcher (jupyterhub_lti_stack/demo_launcher.py) against the real hub: its page,
its LTI 1.1 and LTI 1.3 launches as a student and an instructor ending in the course's server
with the right groups, and every launch it refuses. (In a browser, from the deployed demo: the
e2e tier's README test.)"""

from __future__ import annotations

import asyncio
import html
import re
import socket
import threading
from urllib.parse import parse_qsl, urlsplit

import pytest
import requests

from conftest import CONTEXT_IDS, HUBTEST, running_hub, stack_document
from lti_platform import Lti13Platform
from jupyterhub_lti_stack.contract import SECRET_FILES
from jupyterhub_lti_stack.demo_launcher import Launcher, make_apps
from jupyterhub_lti_stack.stack import parse_stack

SERVER = {c["id"]: c["server_name"] for c in HUBTEST["courses"]}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Served:
    """The launcher's two applications on 127.0.0.1 in a thread of their own (plain HTTP here;
    in its container the page is HTTPS)."""

    def __init__(self, launcher: Launcher, page_port: int, jwks_port: int):
        self.loop = asyncio.new_event_loop()
        ready = threading.Event()

        def run():
            asyncio.set_event_loop(self.loop)
            page, keys = make_apps(launcher)
            page.listen(page_port, "127.0.0.1")
            keys.listen(jwks_port, "127.0.0.1")
            ready.set()
            self.loop.run_forever()

        threading.Thread(target=run, daemon=True).start()
        ready.wait(10)

    def close(self):
        self.loop.call_soon_threadsafe(self.loop.stop)


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("demo-launcher-hub")
    page_port, jwks_port = _free_port(), _free_port()
    page = f"http://127.0.0.1:{page_port}"
    origin = f"https://127.0.0.1:{page_port}"  # what the stack names it (the container serves HTTPS)
    unused = Lti13Platform("https://unused.example", "unused", "unused")  # stack_document wants one
    state = {}

    def make_stack(ports):
        doc = stack_document(ports, unused)
        doc["lti13"]["platforms"] = [dict(issuer=origin, client_ids=["demo-launcher"], authorize_url=f"{page}/authorize",
                                          jwks_url=f"http://127.0.0.1:{jwks_port}/jwks", deployment_ids=["demo-launcher"], token_url=None)]
        doc["demo_launcher"] = {
            "url": origin, "client_id": "demo-launcher", "deployment_id": "demo-launcher", "https_port": page_port,
            "jwks_port": jwks_port, "platform_key_file": "demo-launcher-platform-key.pem",
            "tls_certificate_file": "demo-launcher-tls.crt", "tls_key_file": "demo-launcher-tls.key",
        }
        state["doc"] = doc
        return doc

    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key_pem = rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()
    ).decode("ascii")
    served = None
    try:
        with running_hub(tmp, make_stack) as (url, values, log):
            launcher = Launcher(parse_stack(state["doc"]), values, key_pem)
            served = Served(launcher, page_port, jwks_port)
            yield {"hub": url, "page": page, "origin": origin, "values": values, "key_pem": key_pem, "log": log}
    finally:
        if served is not None:
            served.close()
        unused.close()


def form_of(page: str) -> tuple[str, dict[str, str]]:
    action = re.search(r'<form id="launch" method="post" action="([^"]*)">', page)
    assert action, page[:1000]
    fields = dict(re.findall(r'<input type="hidden" name="([^"]*)" value="([^"]*)">', page))
    return html.unescape(action.group(1)), {html.unescape(k): html.unescape(v) for k, v in fields.items()}


def start(demo, session, **choice) -> requests.Response:
    data = {"course": "intro101", "role": "student", "protocol": "lti13", "target": "window", **choice}
    return session.post(demo["page"] + "/launch", data=data, headers={"Origin": demo["origin"]}, timeout=10)


def hub_groups(demo, name: str) -> set[str]:
    r = requests.get(demo["hub"] + f"/hub/api/users/{name}", timeout=10,
                     headers={"Authorization": f"token {demo['values']['test-inspector']}"})
    assert r.status_code == 200, r.text
    return set(r.json()["groups"])


def test_the_page_offers_every_course_role_protocol_and_target_and_holds_no_secret(demo):
    r = requests.get(demo["page"] + "/", timeout=10)
    assert r.status_code == 200 and r.headers["Cache-Control"] == "no-store"
    # Browsers send "Origin: null" on a no-referrer page's own form posts, which /launch refuses.
    assert r.headers["Referrer-Policy"] == "same-origin"
    for course in HUBTEST["courses"]:
        assert html.escape(course["title"]) in r.text
        for role in ("student", "instructor"):
            for protocol in ("lti11", "lti13"):
                for target in ("window", "iframe"):
                    assert f'data-launch="{course["id"]}/{role}/{protocol}/{target}"' in r.text
    assert '<iframe name="tool"' in r.text
    for secret in (demo["values"][SECRET_FILES["lti11_shared_secret"]], demo["key_pem"].splitlines()[1]):
        assert secret not in r.text


def test_lti13_student_launch_ends_in_the_course_server(demo):
    browser = requests.Session()
    action, fields = form_of(start(demo, browser, course="data201").text)
    assert action == demo["hub"] + "/hub/lti13/oauth_login"
    assert fields["iss"] == demo["origin"] and fields["client_id"] == "demo-launcher"
    login = browser.post(action, data=fields, allow_redirects=False, timeout=10)
    assert login.status_code == 302, login.text[:300]
    assert login.headers["Location"].startswith(demo["page"] + "/authorize?")
    answer = browser.get(login.headers["Location"], timeout=10)
    callback, post = form_of(answer.text)
    assert callback == demo["hub"] + "/hub/lti13/oauth_callback" and set(post) == {"id_token", "state"}
    done = browser.post(callback, data=post, allow_redirects=False, timeout=10)
    assert done.status_code == 302 and done.headers["Location"] == f"/hub/spawn/demo-student/{SERVER['data201']}", done.text[:300]
    assert hub_groups(demo, "demo-student") >= {"nbgrader-data201"}
    # The platform's answer is good once.
    again = browser.get(login.headers["Location"], timeout=10)
    assert again.status_code == 400 and "login_hint" in again.text


def test_lti11_instructor_launch_ends_in_the_course_server_as_instructor(demo):
    browser = requests.Session()
    action, fields = form_of(start(demo, browser, role="instructor", protocol="lti11", target="iframe").text)
    assert action == demo["hub"] + "/hub/lti/launch"
    assert fields["oauth_signature_method"] == "HMAC-SHA1" and fields["roles"] == "Instructor"
    assert fields["context_id"] == CONTEXT_IDS["intro101"] and fields["launch_presentation_document_target"] == "iframe"
    done = browser.post(action, data=fields, allow_redirects=False, timeout=10)
    assert done.status_code == 302 and done.headers["Location"] == f"/hub/spawn/demo-instructor/{SERVER['intro101']}", done.text[:300]
    assert hub_groups(demo, "demo-instructor") >= {"formgrade-intro101", "nbgrader-intro101"}


@pytest.mark.parametrize("headers, data, status, reason", [
    ({}, {}, 403, "own page"),
    ({"Origin": "https://evil.example"}, {}, 403, "own page"),
    (None, {"role": "admin"}, 400, "role must be"),
    (None, {"protocol": "lti2"}, 400, "protocol must be"),
    (None, {"target": "popup"}, 400, "target must be"),
    (None, {"course": "nope"}, 400, "no course"),
])
def test_launches_it_refuses(demo, headers, data, status, reason):
    body = {"course": "intro101", "role": "student", "protocol": "lti13", "target": "window", **data}
    r = requests.post(demo["page"] + "/launch", data=body, timeout=10,
                      headers={"Origin": demo["origin"]} if headers is None else headers)
    assert r.status_code == status and reason in r.text, (r.status_code, r.text)


def test_authentication_requests_it_refuses(demo):
    browser = requests.Session()
    action, fields = form_of(start(demo, browser).text)
    login = browser.post(action, data=fields, allow_redirects=False, timeout=10)
    good = dict(parse_qsl(urlsplit(login.headers["Location"]).query))
    for change, reason in (
        ({"redirect_uri": "https://evil.example/cb"}, "redirect_uri must be"),
        ({"client_id": "other"}, "client_id"),
        ({"lti_message_hint": "x"}, "lti_message_hint"),
        ({"response_mode": "query"}, "response_mode"),
        ({"nonce": ""}, "nonce"),
        ({"login_hint": "forged"}, "login_hint"),
    ):
        r = requests.get(demo["page"] + "/authorize", params={**good, **change}, timeout=10)
        assert r.status_code == 400 and reason in r.text and "id_token" not in r.text, (change, r.text)
    assert requests.get(demo["page"] + "/authorize", params=good, timeout=10).status_code == 200


def test_the_hub_side_serves_the_keyset_only(demo):
    port = urlsplit(parse_stack_doc_jwks(demo)).port
    keys = requests.get(f"http://127.0.0.1:{port}/jwks", timeout=10).json()["keys"]
    assert len(keys) == 1 and keys[0]["alg"] == "RS256" and "d" not in keys[0]
    assert requests.get(f"http://127.0.0.1:{port}/", timeout=10).status_code == 404
    assert requests.post(f"http://127.0.0.1:{port}/launch", timeout=10).status_code == 404


def parse_stack_doc_jwks(demo) -> str:
    import json

    return json.loads((demo["log"].parent / "stack.json").read_text())["lti13"]["platforms"][0]["jwks_url"]
