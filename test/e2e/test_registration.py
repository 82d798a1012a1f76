"""The registration forms of the CLI (`outputs e2e --lms <lms>`, docs/lms/) against the deployed
e2e environment: every value a form prints is the environment's real output, secrets only with
--show-secrets, the values going back name the config's fields and what they hold, and the forms
agree with what the hub serves at the configuration URLs a Canvas admin pastes.

Runs after test_e2e.py (which ends with a purge) or on its own: the `deployed` fixture deploys the
environment when no hub runs, and removes what it deployed."""

from __future__ import annotations

import html
import json
import re
import time
import xml.etree.ElementTree as ET

import pytest

from conftest import User
from harness import CLI, OUTDIR, docker, run, say, timed
from lti_platform import LIS
from stack_config import (
    ENV,
    LMS_BROWSER_URL,
    LTI13_CLIENT_ID,
    LTI13_DEPLOYMENT_ID,
    LTI13_ISSUER,
    PLATFORM_URL,
    PREFIX,
)
from teaching import check_page_next

LMS_VERSIONS = {"moodle": ["1.1", "1.3"], "canvas": ["1.1", "1.3"], "openedx": ["1.1", "1.3"], "openhpi": ["1.1"]}
BLTI = "{http://www.imsglobal.org/xsd/imsbasiclti_v1p0}"
MASKED = "(sensitive: add --show-secrets)"


def hub_running() -> bool:
    return docker("inspect", "--format", "{{.State.Running}}", f"{PREFIX}-hub", check=False) == "true"


@pytest.fixture(scope="module")
def deployed(e2e):
    """The e2e environment with a healthy hub; deployed here if none runs (test_e2e.py purges it
    at its end), and then purged again here."""
    ours = not hub_running()
    if ours:
        with timed("registration forms: deploy e2e (no hub running)"):
            e2e.stack.deploy()
    e2e.cert_file.write_text(e2e.stack.output("tls_certificate_pem"))  # a deploy after a destroy makes a new one
    deadline = time.monotonic() + 180
    while e2e.browser().get(e2e.url("/hub/health"), timeout=30).status_code != 200:
        assert time.monotonic() < deadline, docker("logs", "--tail", "60", f"{PREFIX}-hub", check=False)
        time.sleep(0.5)
    yield e2e
    if ours:
        with timed("registration forms: destroy --purge what this module deployed"):
            e2e.stack.destroy(purge=True)


@pytest.fixture(scope="module")
def outputs(deployed) -> dict:
    """`outputs e2e --json --show-secrets`: the environment's real values."""
    return deployed.stack.outputs(secrets=True)


def forms(e2e, lms: str, *extra: str) -> dict:
    return json.loads(e2e.stack.cli("outputs", ENV, "--lms", lms, "--json", *extra).stdout)


def fields(form: dict) -> list[dict]:
    return [f for section in form["sections"] for f in section["fields"]]


def value(form: dict, label: str) -> str:
    [found] = [f["value"] for f in fields(form) if f["label"] == label]
    return found


@pytest.mark.parametrize("lms", sorted(LMS_VERSIONS))
def test_every_value_of_a_form_is_the_environments_output(deployed, outputs, lms):
    with timed(f"registration forms: outputs {ENV} --lms {lms}", step=False):
        shown = forms(deployed, lms, "--show-secrets")
        text = deployed.stack.cli("outputs", ENV, "--lms", lms, "--show-secrets").stdout
        masked_text = deployed.stack.cli("outputs", ENV, "--lms", lms).stdout
    assert shown["environment"] == ENV and [f["lti"] for f in shown["forms"]] == LMS_VERSIONS[lms]
    checked = 0
    for form in shown["forms"]:
        for f in fields(form):
            # the text form: the LMS's label, then the value, on one line
            assert re.search(rf"^ {{4}}{re.escape(f['label'])} {{2,}}{re.escape(f['value'])}$", text, re.M), (f, text)
            if f["kind"] != "output":
                continue
            real = [outputs[name].rstrip() for name in f["outputs"]]
            if len(real) == 1 and not f["value"].startswith(("[", '"')):
                assert f["value"] == real[0], (lms, form["lti"], f)
            else:  # composite: the Open edX passport, a list of redirect URIs
                assert all(r in f["value"] for r in real), (lms, form["lti"], f)
            checked += 1
    assert checked >= 3
    secrets = [outputs[name] for name in ("lti11_consumer_key", "lti11_shared_secret")]
    assert all(s in text for s in secrets)
    assert not any(s in masked_text for s in secrets) and MASKED in masked_text
    say(f"    {lms}: {checked} values from outputs, as printed; secrets only with --show-secrets")


def test_the_values_going_back_name_the_config_fields_and_what_they_hold(deployed):
    [lti13] = forms(deployed, "moodle", "--lti", "1.3")["forms"]
    back = {b["field"]: b["current"] for b in lti13["back"]}
    assert back == {
        "environments[0].lti13.issuer": LTI13_ISSUER,
        "environments[0].lti13.clientIds": LTI13_CLIENT_ID,
        "environments[0].lti13.deploymentIds": LTI13_DEPLOYMENT_ID,
        "environments[0].lti13.jwksUrl": f"{PLATFORM_URL}/jwks",
        "environments[0].lti13.tokenUrl": f"{PLATFORM_URL}/token",
        "environments[0].lti13.authorizeUrl": f"{LMS_BROWSER_URL}/authorize",  # where browsers reach the LMS
        "environments[0].courses[].contexts": back["environments[0].courses[].contexts"],
    }
    assert "algebra: ctx-e2e-algebra" in back["environments[0].courses[].contexts"]


def test_the_forms_agree_with_what_the_hub_serves(deployed, outputs):
    """The Canvas admin pastes one URL: the JSON behind it names the URLs the other LMS forms
    register by hand; the LTI 1.1 XML names the launch URL they register."""
    moodle11, moodle13 = forms(deployed, "moodle", "--show-secrets")["forms"]
    canvas11, canvas13 = forms(deployed, "canvas", "--show-secrets")["forms"]
    edx11, edx13 = forms(deployed, "openedx", "--show-secrets")["forms"]
    [hpi] = forms(deployed, "openhpi", "--show-secrets")["forms"]
    browser = deployed.browser()

    r = browser.get(value(canvas13, "JSON URL"), timeout=30)
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("application/json"), r.text[:300]
    config = r.json()
    launch = value(moodle13, "Tool URL")
    assert config["target_link_uri"] == launch == value(edx13, "Tool Launch URL") == outputs["lti13_redirect_url"]
    assert config["redirect_uris"] == [value(canvas13, "Redirect URIs")] == [value(moodle13, "Redirection URI(s)")]
    assert json.loads(value(edx13, "Registered Redirect URIs")) == config["redirect_uris"]
    assert config["oidc_initiation_url"] == value(moodle13, "Initiate login URL") == value(edx13, "Tool Initiate Login URL")
    assert config["public_jwk_url"] == value(moodle13, "Public keyset") == value(edx13, "Tool Keyset URL")
    assert config["title"] == value(moodle13, "Tool name") == value(canvas13, "Key Name")
    keys = browser.get(config["public_jwk_url"], timeout=30).json()["keys"]
    assert keys and all("d" not in k for k in keys)

    r = browser.get(value(canvas11, "Config URL"), timeout=30)
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("application/xml"), r.text[:300]
    xml = ET.fromstring(r.content)
    assert xml.find(f"{BLTI}launch_url").text == value(moodle11, "Tool URL") == value(edx11, "LTI URL") == value(hpi, "Launch URL")
    assert xml.find(f"{BLTI}title").text == value(canvas11, "Name") == value(hpi, "Name")
    key, secret = outputs["lti11_consumer_key"], outputs["lti11_shared_secret"]
    assert value(moodle11, "Consumer key") == value(canvas11, "Consumer Key") == value(hpi, "OAuth consumer key") == key
    assert value(moodle11, "Shared secret") == value(canvas11, "Shared Secret") == value(hpi, "OAuth secret") == secret
    assert value(edx11, "LTI Passports") == f'"jupyterhub:{key}:{secret}"'
    say(f"    {value(canvas13, 'JSON URL')}: the URLs of the hand-filled forms; {value(canvas11, 'Config URL')}: their launch URL")


@pytest.mark.parametrize("args,message", [
    (["--lms", "blackboard"], '--lms must be one of moodle, canvas, openedx, openhpi (got "blackboard")'),
    (["--lms", "moodle", "--lti", "2.0"], '--lti must be "1.1" or "1.3" (got "2.0")'),
    (["--lms", "openhpi", "--lti", "1.3"], "--lti 1.3: openHPI registers LTI 1.1 tools only (choices with --lms openhpi: 1.1)"),
])
def test_a_wrong_choice_is_refused_naming_it_and_the_choices(deployed, args, message):
    p = run(["node", str(CLI), "outputs", ENV, *args, "--config", str(deployed.stack.config_file), "--output", str(OUTDIR),
             "--skip-setup"], env=deployed.stack.env(), check=False)
    assert p.returncode == 2 and message in p.stderr, (p.returncode, p.stderr[-1000:])


# Last in this module: the LMS peer registers the tool again by LTI Dynamic Registration, which
# gives it a new client id and deployment (its launches no longer match the first registration).
def test_dynamic_registration_with_the_lms(deployed):
    """The operator's one-time URL, opened by the LMS with its OpenID configuration and its own
    registration token, registers the tool once (the hub reaches the platform on the users
    network, trusting its CA); the entry the hub shows, added to the config and deployed, accepts
    launches from the new registration; the URL does not work twice."""
    e2e = deployed
    with timed("registration forms: LTI Dynamic Registration with the LMS peer, then deploy its entry"):
        started_lms = e2e.lms is None
        if started_lms:
            e2e.start_lms(f"{PREFIX}-users")
        try:
            url = e2e.stack.cli("registration-token", ENV, "--hours", "1").stdout.strip().splitlines()[-1]
            assert url.startswith(e2e.url("/hub/lti13/dynamic-registration?jhlti_registration=")), url
            query = {"openid_configuration": f"{PLATFORM_URL}/.well-known/openid-configuration",
                     "registration_token": e2e.lms.lti13.issue_registration_token()}
            r = e2e.browser().get(url, params=query, timeout=120)
            assert r.status_code == 200, (r.status_code, r.text[:800])
            entry = json.loads(html.unescape(re.search(r'<pre id="jhlti-snippet-json">(.*?)</pre>', r.text, re.S).group(1)))
            [done] = e2e.lms.lti13.registrations()
            assert entry["issuer"] == LTI13_ISSUER and entry["clientIds"] == [done["answer"]["client_id"]] != [LTI13_CLIENT_ID]
            say(f"    registered: {json.dumps(entry)}")
            again = e2e.browser().get(url, params={**query, "registration_token": e2e.lms.lti13.issue_registration_token()}, timeout=60)
            assert again.status_code == 403, again.text[:300]
            listed = e2e.stack.cli("registrations", ENV).stdout
            assert done["answer"]["client_id"] in listed

            e2e.platforms = [entry]
            e2e.write_config()
            e2e.stack.deploy()
            student = User("dr-student", "algebra", "student", "lti13", session=e2e.browser())
            r = e2e.lms.lti13.launch(student.session, e2e.url(""), sub=student.name, roles=[LIS + "membership#Learner"],
                                     context={"id": "ctx-e2e-algebra", "label": "algebra"},
                                     on_page=lambda page: check_page_next(e2e, student, page))
            assert r.status_code == 302 and r.headers["Location"].startswith("/hub/spawn/dr-student/"), (r.status_code, r.text[:300])
            say(f"    a launch from the new registration ({entry['clientIds'][0]}) -> {r.headers['Location']}")
        finally:
            e2e.platforms = []
            e2e.write_config()
            if started_lms:
                e2e.stop_lms()

