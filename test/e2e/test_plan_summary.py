"""`plan e2e` on the deployed class: real Terraform plans of config changes, summarized for a
reviewer (bin/plan-summary.ts): no change, a course's memory limit, a course added, a course's
image, the hostname, a course removed (its volume: data loss, exit 3, and the deploy refuses it).
The config goes back as it was; nothing here is deployed.

Needs the class of test_e2e.py in session: marked `during_class`."""

from __future__ import annotations

import dataclasses
import json

import pytest

from harness import CLI, OUTDIR, inspect, run, say, timed
from stack_config import ENV, PREFIX, Course

pytestmark = pytest.mark.during_class


def cli(e2e, *args: str):
    return run(["node", str(CLI), *args, "--config", str(e2e.stack.config_file), "--output", str(OUTDIR),
                "--base-images", "local", "--skip-setup"], env=e2e.stack.env(), check=False)


def plan(e2e, *extra: str):
    p = cli(e2e, "plan", ENV, *extra)
    assert p.returncode in (0, 2, 3), (p.returncode, p.stderr[-2000:])
    return p


def summary(e2e) -> tuple[int, dict]:
    p = plan(e2e, "--json")
    return p.returncode, json.loads(p.stdout)


def test_plan_summaries_of_real_changes(e2e):
    if "teacher" not in e2e.users:
        pytest.fail("the plan summary steps run during the class of test_e2e.py", pytrace=False)
    courses = list(e2e.courses)
    try:
        with timed("11 plan summaries: no change, a memory limit, a course added, a course removed (refused)"):
            code, s = summary(e2e)
            assert (code, s["changes"], s["dataLoss"]) == (0, [], False), s

            # A course's memory limit: the limits travel in stack.json, so the hub restarts; the
            # course's grader gets the limit while it runs; no data moves.
            e2e.courses = [dataclasses.replace(c, limits={"memory": "640M", "cpus": 0.5}) if c.id == "physics" else c
                           for c in courses]
            e2e.write_config()
            code, s = summary(e2e)
            say("    memory limit of physics:\n" + plan(e2e).stdout.rstrip())
            assert code == 2 and not s["dataLoss"], s
            assert [(c["scope"], c["component"], c["action"], c["severity"]) for c in s["changes"]] == [
                ("environment", "hub", "replace", "disruptive"),
                ("course physics", "grader (formgrader)", "update", "info")], s["changes"]

            # A course added: its own resources under it, the hub restart (stack.json) under the environment.
            e2e.courses = courses + [Course("bio", "Biology (plan only)", "ctx-e2e-bio")]
            e2e.write_config()
            code, s = summary(e2e)
            assert code == 2 and not s["dataLoss"], s
            bio = [c for c in s["changes"] if c["scope"] == "course bio"]
            assert {c["component"] for c in bio} >= {"course volume", "grader (formgrader)", "notebook image"}
            assert all(c["action"] == "create" for c in bio), bio
            markdown = plan(e2e, "--markdown").stdout
            assert "**course bio**" in markdown and "<details>" in markdown

            # A course's image (another base): rebuilt, effective at the next server start.
            doc = json.loads(e2e.stack.config_file.read_text())
            for course in doc["environments"][0]["courses"]:
                if course["id"] == "algebra":
                    course["notebookBase"] = "jhlti-local/base-notebook:another-tag"
            e2e.stack.config_file.write_text(json.dumps(doc))
            code, s = summary(e2e)
            assert code == 2 and not s["dataLoss"], s
            image = [c for c in s["changes"] if c["scope"] == "course algebra" and c["component"] == "notebook image"]
            assert [c["action"] for c in image] == ["replace"] and "next server start" in image[0]["impact"], s["changes"]

            # Another hostname: a new certificate, which LMSs that trust it must get.
            doc = json.loads(e2e.stack.config_file.read_text())
            doc["environments"][0]["hostname"] = "jupyter.e2e.test"
            e2e.stack.config_file.write_text(json.dumps(doc))
            code, s = summary(e2e)
            assert code == 2 and not s["dataLoss"], s
            tls = [c for c in s["changes"] if c["component"] == "TLS certificate"]
            assert tls and all(c["action"] == "replace" and "tls_certificate_pem" in c["impact"] for c in tls), s["changes"]
            say("    hostname changed:\n" + plan(e2e).stdout.rstrip())

            # A course removed: its volume would be deleted. Data loss, loudly; the deploy refuses.
            e2e.courses = [c for c in courses if c.id != "physics"]
            e2e.write_config()
            code, s = summary(e2e)
            assert code == 3 and s["dataLoss"], s
            lost = [c for c in s["changes"] if c["severity"] == "data-loss"]
            assert [(c["scope"], c["component"], c["action"]) for c in lost] == [("course physics", "course volume", "delete")]
            text = plan(e2e).stdout
            say("    physics removed:\n" + text.rstrip())
            assert "DATA LOSS" in text and "DATA WOULD BE LOST" in text
            grader = inspect(f"{PREFIX}-grader-physics", "{{.Id}}")
            p = cli(e2e, "deploy", ENV)
            assert p.returncode == 3 and "refused" in p.stderr and "--allow-data-loss" in p.stderr, (p.returncode, p.stderr[-1500:])
            assert inspect(f"{PREFIX}-grader-physics", "{{.Id}}") == grader, "the refused deploy changed something"
    finally:
        e2e.courses = courses
        e2e.write_config()
    code, s = summary(e2e)
    assert code == 0, s
