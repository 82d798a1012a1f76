"""stack.json and secrets loading against the contract (images/CONTRACT.md), on the golden
fixtures the constructs write (test/fixtures/contract/*.stack.json, checked by the jest tier)."""

import copy
import dataclasses
import json
import types
import typing
from pathlib import Path

import pytest

from jupyterhub_lti_stack import hub
from jupyterhub_lti_stack.contract import CONTRACT, STACK_SCHEMA
from jupyterhub_lti_stack.stack import Stack, StackError, load_secrets, load_stack, parse_stack, required_secrets

GOLDEN = Path(__file__).resolve().parents[2] / "test" / "fixtures" / "contract"
GOLDENS = sorted(GOLDEN.glob("*.stack.json"))


LTI13_OFF = {"enabled": False, "platforms": [], "dynamic_registration": False, "signing_keys": []}


def golden(name: str = "demo") -> dict:
    return json.loads((GOLDEN / f"{name}.stack.json").read_text())


def test_there_are_golden_fixtures():
    assert {p.name for p in GOLDENS} >= {"demo.stack.json", "hubtest.stack.json", "physics.stack.json", "chem.stack.json"}


@pytest.mark.parametrize("path", GOLDENS, ids=lambda p: p.name)
def test_every_golden_fixture_parses(path):
    stack = parse_stack(json.loads(path.read_text()))
    assert stack.schema_version == CONTRACT["contract_version"]
    assert stack.courses


def test_golden_demo_as_the_hub_reads_it():
    stack = parse_stack(golden())
    course = stack.course("intro101")
    assert stack.course_for_context("demo-context-intro101") is course
    assert stack.course_for_context("INTRO") is None
    assert course.images == (course.image,)
    # The demo's LTI 1.3 platform is its demo launcher, which may also frame the hub.
    assert stack.lti11_enabled and stack.lti13.enabled
    [platform] = stack.lti13.platforms
    assert stack.demo_launcher is not None and platform.issuer == stack.demo_launcher.url == "https://127.0.0.1:8444"
    assert platform.authorize_url == "https://127.0.0.1:8444/authorize"
    assert platform.jwks_url == "http://jhlti-demo-launcher:8080/jwks"
    assert stack.lti13.platform("https://127.0.0.1:8444") is platform
    assert stack.lti13.platform("https://127.0.0.1:8444", "demo-launcher") is platform
    assert stack.lti13.platform("https://127.0.0.1:8444", "other") is None
    assert stack.frame_ancestors == ("https://127.0.0.1:8444",)
    assert stack.reserved_usernames == {"grader-intro101"}


def test_text_escaped_for_terraform_reads_back_verbatim():
    stack = parse_stack(golden("hubtest"))
    assert stack.course("intro101").title.startswith('Introduction ${file("/etc/passwd")} %{ if true }')
    assert stack.course_for_context("${var.context}").id == "data201"


def _schema_properties(schema: dict) -> set[str]:
    if "oneOf" in schema:
        return set().union(*(_schema_properties(s) for s in schema["oneOf"]))
    return set(schema.get("properties", {}))


def _dataclass_matches(cls: type, schema: dict, where: str) -> None:
    fields = {f.name for f in dataclasses.fields(cls)}
    assert fields == _schema_properties(schema), f"{where}: dataclass {cls.__name__} and stack.schema disagree"
    hints = typing.get_type_hints(cls)
    for name in fields:
        sub = schema.get("properties", {}).get(name) or schema["oneOf"][0]["properties"][name]
        hint = hints[name]
        union = typing.get_origin(hint) in (typing.Union, types.UnionType)
        optional = [a for a in typing.get_args(hint) if dataclasses.is_dataclass(a)] if union else []
        if dataclasses.is_dataclass(hint):
            _dataclass_matches(hint, sub, f"{where}.{name}")
        elif optional:  # X | None: the schema's anyOf [object, null]
            objects = [s for s in sub.get("anyOf", []) if s.get("type") == "object"]
            assert len(objects) == 1 and {"type": "null"} in sub["anyOf"], f"{where}.{name}: not a nullable object"
            _dataclass_matches(optional[0], objects[0], f"{where}.{name}")
        elif typing.get_origin(hint) is tuple and dataclasses.is_dataclass(typing.get_args(hint)[0]):
            _dataclass_matches(typing.get_args(hint)[0], sub["items"], f"{where}.{name}[]")


def test_python_types_match_the_generated_schema():
    """The dataclasses are the hub's view of stack.json: same fields as the schema, all levels."""
    _dataclass_matches(Stack, STACK_SCHEMA, "stack.json")


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda d: d.pop("public_url"), "'public_url' is a required property"),
        (lambda d: d.update(schema_version=1), f"schema_version: this hub image reads stack.json version {CONTRACT['contract_version']}, got 1"),
        (lambda d: d.update(idle_cull_seconds="3600"), "idle_cull_seconds: '3600' is not of type 'integer'"),
        (lambda d: d["courses"][0].update(id="Intro 101"), "courses[0].id: 'Intro 101' does not match"),
        (lambda d: d["courses"][0].update(id="ab--cd"), "courses[0].id: 'ab--cd' does not match"),
        (lambda d: d["courses"][0].update(allowed_images="*"), "courses[0].allowed_images: '*' is not of type 'array'"),
        (lambda d: d["courses"][0].update(allowed_images=["*"]), "courses[0].allowed_images[0]: '*' does not match"),
        (lambda d: d["courses"].append(copy.deepcopy(d["courses"][0])), "courses[1].id: duplicate"),
        (lambda d: d["courses"].append({**copy.deepcopy(d["courses"][0]), "id": "other", "server_name": "other"}),
         "courses[1].context_ids: context 'demo-context-intro101' is already mapped to course 'intro101'"),
        (lambda d: d["courses"].append({**copy.deepcopy(d["courses"][0]), "id": "other", "context_ids": ["x"]}),
         "courses[1].server_name: 'intro101' is another course's server name"),
        (lambda d: d["courses"][0].update(server_name="Intro_101"), "courses[0].server_name: 'Intro_101' does not match"),
        (lambda d: d["courses"].append({**copy.deepcopy(d["courses"][0]), "id": "idle-culler", "server_name": "idle-culler", "context_ids": ["x"]}),
         "courses[1].id: 'idle-culler' is the name of a built-in service"),
        (lambda d: d["lti13"].update(enabled=False), "lti13"),
        (lambda d: d.update(lti11={"enabled": False}, lti13=LTI13_OFF), "enable at least one"),
        (lambda d: d["courses"][0]["limits"].update(cpus=True), "courses[0].limits.cpus: True is not of type 'number'"),
        (lambda d: d["courses"][0]["limits"].update(memory_bytes=1024), "courses[0].limits.memory_bytes: 1024 is less than the minimum"),
        (lambda d: d["limits"].update(servers_per_user=0), "limits.servers_per_user: 0 is less than the minimum of 1"),
        (lambda d: d["courses"][0].update(grader_uid=20001), "courses[0].grader_uid: 20001 is greater than the maximum of 19999"),
        (lambda d: d.update(frame_ancestors=["https://*.example.edu"]), "frame_ancestors[0]: 'https://*.example.edu' does not match"),
        (lambda d: d.update(frame_ancestors=["https://lms.example.edu; script-src *"]), "frame_ancestors[0]"),
        (lambda d: d.update(extra=1), "Additional properties are not allowed ('extra' was unexpected)"),
    ],
)
def test_invalid_stack_names_the_field(change, message):
    data = golden()
    change(data)
    with pytest.raises(StackError) as err:
        parse_stack(data)
    assert message in str(err.value)


def test_load_stack_and_secrets(tmp_path, monkeypatch):
    (tmp_path / "stack.json").write_text(json.dumps(golden()))
    monkeypatch.setenv("JHLTI_STACK_FILE", str(tmp_path / "stack.json"))
    stack = load_stack()
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    names = ["cookie_secret", "crypt_key", "proxy_token", "lti11_consumer_key", "lti11_shared_secret",
             "service-token-idle-culler", "service-token-intro101"]
    assert sorted(required_secrets(stack)) == sorted(names)
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


def test_a_bad_stack_file_names_the_file_and_the_field(tmp_path):
    with pytest.raises(StackError, match="cannot read stack file"):
        load_stack(tmp_path / "nope.json")
    data = golden()
    data["courses"][0]["id"] = "ab--cd"
    (tmp_path / "stack.json").write_text(json.dumps(data))
    with pytest.raises(StackError, match=r"stack\.json: courses\[0\]\.id: 'ab--cd'"):
        load_stack(tmp_path / "stack.json")


def test_services_roles_groups_from_stack():
    stack = parse_stack(golden())
    secrets = {"service-token-intro101": "t1", "service-token-idle-culler": "t2"}
    services = {s["name"]: s for s in hub.services(stack, secrets, "t3", "/srv/jupyterhub/stack.json")}
    assert services["intro101"]["url"] == "http://jhlti-demo-grader-intro101:8888"
    assert services["intro101"]["api_token"] == "t1"
    assert services["intro101"]["oauth_client_id"] == "service-intro101"
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
    # Pre-warm: its own token and role, reaching the course groups' users and servers only.
    assert services["jhlti-prewarm"]["api_token"] == "t3"
    assert services["jhlti-prewarm"]["command"][-3:] == ["jupyterhub_lti_stack.prewarm", "/srv/jupyterhub/stack.json",
                                                        "/srv/jupyterhub/data/jhlti-prewarm.json"]
    assert sorted(roles["jhlti-prewarm"]["scopes"]) == sorted(
        f"{s}!group=nbgrader-intro101" for s in ("read:groups", "read:users", "read:servers", "servers"))


def test_frame_ancestors_only_when_configured():
    assert hub.tornado_settings(parse_stack(golden("physics"))) == {}  # JupyterHub's frame-ancestors 'none'
    chem = parse_stack(golden("chem"))
    settings = hub.tornado_settings(chem)
    assert settings["headers"]["Content-Security-Policy"] == (
        "frame-ancestors https://moodle.example.test; report-uri /hub/security/csp-report"
    )
    assert settings["cookie_options"] == {"samesite": "None", "secure": True}
