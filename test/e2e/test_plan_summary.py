"""`plan e2e` on the deployed class: real plans of config changes, summarized for a reviewer
(bin/plan-summary.ts): no change, a course's memory limit, a course added, a course's image, the
LTI 1.1 secret rotated, the hostname, a course removed (its volume: data loss, exit 3, and the
deploy refuses it). Each under Terraform and again under OpenTofu (TOFU_BINARY from the toolchain
set-up; the state was written by Terraform, as after a switch of engines). The config goes back
as it was; nothing here is deployed.

Needs the class of test_e2e.py in session: marked `during_class`."""

from __future__ import annotations

import dataclasses
import functools
import json
import os

import pytest

from harness import CLI, OUTDIR, inspect, run, say, timed
from stack_config import ENV, PREFIX, Course

pytestmark = pytest.mark.during_class


def engine_env(engine: str) -> dict[str, str]:
    if engine == "terraform":
        return {}
    tofu = os.environ.get("TOFU_BINARY", "")
    if not tofu or not os.access(tofu, os.X_OK):
        pytest.fail(f"OpenTofu plans need TOFU_BINARY from the toolchain set-up (bin/setup/all.sh with JHLTI_BUILD_TOFU=1); got {tofu!r}", pytrace=False)
    return {"TERRAFORM_BINARY_NAME": tofu}


def cli(e2e, *args: str, engine: str = "terraform"):
    return run(["node", str(CLI), *args, "--config", str(e2e.stack.config_file), "--output", str(OUTDIR),
                "--base-images", "local", "--skip-setup"], env=e2e.stack.env(**engine_env(engine)), check=False)


def plan(e2e, *extra: str, engine: str = "terraform"):
    p = cli(e2e, "plan", ENV, *extra, engine=engine)
    assert p.returncode in (0, 2, 3), (engine, p.returncode, p.stderr[-2000:])
    return p


def summary(e2e, engine: str = "terraform") -> tuple[int, dict]:
    p = plan(e2e, "--json", engine=engine)
    return p.returncode, json.loads(p.stdout)


@pytest.mark.parametrize("engine", ["terraform", "opentofu"])
def test_plan_summaries_of_real_changes(e2e, engine):
    if "teacher" not in e2e.users:
        pytest.fail("the plan summary steps run during the class of test_e2e.py", pytrace=False)
    courses = list(e2e.courses)
    summarized = functools.partial(summary, engine=engine)
    planned = functools.partial(plan, engine=engine)

    try:
        with timed(f"11 plan summaries under {engine}: no change, a memory limit, a course added, an image, "
                   "the LTI 1.1 secret, the hostname, a course removed (refused)"):
            code, s = summarized(e2e)
            assert (code, s["changes"], s["dataLoss"]) == (0, [], False), s

            # A course's memory limit: the limits travel in stack.json, so the hub restarts; the
            # course's grader gets the limit while it runs; no data moves.
            e2e.courses = [dataclasses.replace(c, limits={"memory": "640M", "cpus": 0.5}) if c.id == "physics" else c
                           for c in courses]
            e2e.write_config()
            code, s = summarized(e2e)
            say("    memory limit of physics:\n" + planned(e2e).stdout.rstrip())
            assert code == 2 and not s["dataLoss"], s
            assert [(c["scope"], c["component"], c["action"], c["severity"]) for c in s["changes"]] == [
                ("environment", "hub", "replace", "disruptive"),
                ("course physics", "grader (formgrader)", "update", "info")], s["changes"]

            # A course added: its own resources under it, the hub restart (stack.json) under the environment.
            e2e.courses = courses + [Course("bio", "Biology (plan only)", "ctx-e2e-bio")]
            e2e.write_config()
            code, s = summarized(e2e)
            assert code == 2 and not s["dataLoss"], s
            bio = [c for c in s["changes"] if c["scope"] == "course bio"]
            assert {c["component"] for c in bio} >= {"course volume", "grader (formgrader)", "notebook image"}
            assert all(c["action"] == "create" for c in bio), bio
            markdown = planned(e2e, "--markdown").stdout
            assert "**course bio**" in markdown and "<details>" in markdown

            # A course's image (another base): rebuilt, effective at the next server start.
            doc = json.loads(e2e.stack.config_file.read_text())
            for course in doc["environments"][0]["courses"]:
                if course["id"] == "algebra":
                    course["notebookBase"] = "jhlti-local/base-notebook:another-tag"
            e2e.stack.config_file.write_text(json.dumps(doc))
            code, s = summarized(e2e)
            assert code == 2 and not s["dataLoss"], s
            image = [c for c in s["changes"] if c["scope"] == "course algebra" and c["component"] == "notebook image"]
            assert [c["action"] for c in image] == ["replace"] and "next server start" in image[0]["impact"], s["changes"]

            # The LTI 1.1 shared secret rotated: the LMS value to update, named; no value printed.
            doc = json.loads(e2e.stack.config_file.read_text())
            doc["environments"][0]["lti11"] = {"enabled": True, "secretVersion": 2}
            e2e.stack.config_file.write_text(json.dumps(doc))
            code, s = summarized(e2e)
            assert code == 2 and not s["dataLoss"], s
            rotated = [c for c in s["changes"] if c["component"].startswith("LTI 1.1")]
            assert [(c["component"], c["action"], c["severity"]) for c in rotated] == [
                ("LTI 1.1 shared secret", "replace", "disruptive")], s["changes"]
            assert "lti11_shared_secret" in rotated[0]["impact"], rotated
            assert ("environment", "hub", "replace") in {(c["scope"], c["component"], c["action"]) for c in s["changes"]}
            text = planned(e2e).stdout
            secret = e2e.stack.output("lti11_shared_secret")
            assert "rotated" in text and secret not in text and secret not in json.dumps(s)
            say("    LTI 1.1 secret rotated:\n" + text.rstrip())

            # Another hostname: a new certificate, which LMSs that trust it must get.
            doc = json.loads(e2e.stack.config_file.read_text())
            doc["environments"][0]["hostname"] = "jupyter.e2e.test"
            e2e.stack.config_file.write_text(json.dumps(doc))
            code, s = summarized(e2e)
            assert code == 2 and not s["dataLoss"], s
            tls = [c for c in s["changes"] if c["component"] == "TLS certificate"]
            assert tls and all(c["action"] == "replace" and "tls_certificate_pem" in c["impact"] for c in tls), s["changes"]
            say("    hostname changed:\n" + planned(e2e).stdout.rstrip())

            # A course removed: its volume would be deleted. Data loss, loudly; the deploy refuses.
            e2e.courses = [c for c in courses if c.id != "physics"]
            e2e.write_config()
            code, s = summarized(e2e)
            assert code == 3 and s["dataLoss"], s
            lost = [c for c in s["changes"] if c["severity"] == "data-loss"]
            assert [(c["scope"], c["component"], c["action"]) for c in lost] == [("course physics", "course volume", "delete")]
            text = planned(e2e).stdout
            say("    physics removed:\n" + text.rstrip())
            assert "DATA LOSS" in text and "DATA WOULD BE LOST" in text
            grader = inspect(f"{PREFIX}-grader-physics", "{{.Id}}")
            p = cli(e2e, "deploy", ENV, engine=engine)
            assert p.returncode == 3 and "refused" in p.stderr and "--allow-data-loss" in p.stderr, (p.returncode, p.stderr[-1500:])
            assert inspect(f"{PREFIX}-grader-physics", "{{.Id}}") == grader, "the refused deploy changed something"
    finally:
        e2e.courses = courses
        e2e.write_config()
    code, s = summarized(e2e)
    assert code == 0, s
