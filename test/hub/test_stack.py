"""stack.json and secrets loading against the contract (images/CONTRACT.md)."""

import copy
import json
import re

import pytest

from jupyterhub_lti_stack import hub
from jupyterhub_lti_stack.stack import StackError, load_secrets, load_stack, parse_stack

CONTRACT = (__import__("pathlib").Path(__file__).resolve().parents[2] / "images" / "CONTRACT.md").read_text()


def contract_example() -> dict:
    """The schema example printed in CONTRACT.md, so the doc and the parser cannot drift."""
    block = re.search(r"```json\n(.*?)```", CONTRACT, re.S).group(1)
    return json.loads(block)


def test_contract_example_parses():
    stack = parse_stack(contract_example())
    course = stack.course("intro101")
    assert stack.course_for_context("ctx-123") is course
    assert stack.course_for_context("INTRO") is None
    assert course.images == ("jhlti/demo-notebook-intro101:0123456789ab",)
    assert stack.lti11_enabled and not stack.lti13.enabled


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda d: d.pop("public_url"), "public_url: missing"),
        (lambda d: d.update(schema_version=2), "schema_version"),
        (lambda d: d.update(uid_base="20000"), "uid_base: expected int, got '20000'"),
        (lambda d: d.update(uid_base=1000), "uid_base: must be above"),
        (lambda d: d["courses"][0].update(id="Intro 101"), "courses[0].id: 'Intro 101'"),
        (lambda d: d["courses"][0].update(allowed_images="*"), "courses[0].allowed_images: expected list"),
        (lambda d: d["courses"][0].update(allowed_images=["*"]), "'*' is not allowed"),
        (lambda d: d["courses"].append(copy.deepcopy(d["courses"][0])), "courses[1].id: duplicate"),
        (lambda d: d["courses"].append({**copy.deepcopy(d["courses"][0]), "id": "other"}),
         "courses[1].context_ids: context 'ctx-123' is already mapped to course 'intro101'"),
        (lambda d: d["lti13"].update(enabled=True), "lti13.issuer: required"),
        (lambda d: d["lti11"].update(enabled=False), "enable at least one"),
        (lambda d: d["limits"].update(cpus=True), "limits.cpus"),
        (lambda d: d["courses"][0].update(grader_uid=20001), "courses[0].grader_uid: must be above 1000 and below"),
    ],
)
def test_invalid_stack_names_the_field(change, message):
    data = contract_example()
    change(data)
    with pytest.raises(StackError) as err:
        parse_stack(data)
    assert message in str(err.value)


def test_load_stack_and_secrets(tmp_path, monkeypatch):
    (tmp_path / "stack.json").write_text(json.dumps(contract_example()))
    monkeypatch.setenv("JHLTI_STACK_FILE", str(tmp_path / "stack.json"))
    stack = load_stack()
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    names = ["cookie_secret", "crypt_key", "proxy_token", "lti11_consumer_key", "lti11_shared_secret",
             "service-token-idle-culler", "service-token-intro101"]
    for name in names:
        (secrets / name).write_text("ab" * 32)
    assert set(load_secrets(stack, secrets)) == set(names)
    (secrets / "service-token-intro101").unlink()
    with pytest.raises(StackError, match="service-token-intro101"):
        load_secrets(stack, secrets)
    (secrets / "service-token-intro101").write_text("ab" * 32)
    (secrets / "crypt_key").write_text("ab" * 16)
    with pytest.raises(StackError, match="crypt_key.*32 bytes"):
        load_secrets(stack, secrets)


def test_missing_stack_file_is_reported(tmp_path):
    with pytest.raises(StackError, match="cannot read stack file"):
        load_stack(tmp_path / "nope.json")


def test_services_roles_groups_from_stack():
    stack = parse_stack(contract_example())
    secrets = {"service-token-intro101": "t1", "service-token-idle-culler": "t2"}
    services = {s["name"]: s for s in hub.services(stack, secrets)}
    assert services["intro101"]["url"] == "http://jhlti-demo-grader-intro101:8888"
    assert services["intro101"]["api_token"] == "t1"
    assert "--timeout=3600" in services["idle-culler"]["command"]
    roles = {r["name"]: r for r in hub.roles(stack)}
    assert roles["formgrade-intro101"] == {
        "name": "formgrade-intro101",
        "description": "Instructors of intro101 may open its formgrader",
        "scopes": ["access:services!service=intro101"],
        "groups": ["formgrade-intro101"],
    }
    assert all("!group=" in s for s in roles["grader-intro101"]["scopes"])
    assert hub.groups(stack) == {"nbgrader-intro101": {}, "formgrade-intro101": {"users": ["grader-intro101"]}}


def test_frame_ancestors_only_when_configured():
    data = contract_example()
    assert hub.tornado_settings(parse_stack(data)) == {}
    assert hub.singleuser_args(parse_stack(data)) == []
    data["frame_ancestors"] = ["https://canvas.example.edu"]
    settings = hub.tornado_settings(parse_stack(data))
    assert settings["headers"]["Content-Security-Policy"] == "frame-ancestors 'self' https://canvas.example.edu"
    assert settings["cookie_options"] == {"SameSite": "None", "Secure": True}
