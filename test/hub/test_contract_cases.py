"""The cross-language proof: every config the schema accepts yields a stack.json the hub accepts.

test/contract/cases.ts generates valid configs (fast-check, fixed seed; titles and LMS ids full
of `${...}`, `%{...}`, quotes, backslashes, newlines and arbitrary Unicode) and writes the
stack.json the constructs render for each environment, with what the hub must read back. Here
the hub's own parse_stack (the JSON Schema generated from the same zod schema, plus its own
checks) must accept every file and read back exactly the course ids, titles, context ids, frame
ancestors and LTI settings. The script runs with the repository's ts-node; if it fails, this
test fails with its stderr (never skipped).

`edge-*` cases are configs the constructs once accepted and the hub then refused (found by this
test): a context id listed twice in one course, and LTI URLs with \\x1c or \\x85 (white space to
Python's `\\s`, not to JavaScript's). Each must now be refused before synth (the script records
the config error) or accepted by the hub.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from jupyterhub_lti_stack.stack import Stack, StackError, parse_stack

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = "test/contract/cases.ts"
COUNT = 150


@pytest.fixture(scope="module")
def cases(tmp_path_factory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("contract-cases")
    command = ["npx", "ts-node", "--transpile-only", SCRIPT, str(out), str(COUNT)]
    try:
        done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=240)
    except (OSError, subprocess.TimeoutExpired) as e:
        pytest.fail(f"cannot run {' '.join(command)} in {ROOT}: {e}", pytrace=False)
    if done.returncode != 0:
        pytest.fail(
            f"{' '.join(command)} failed (exit {done.returncode}):\n{done.stderr}\n{done.stdout}", pytrace=False
        )
    return out, json.loads((out / "manifest.json").read_text(encoding="utf-8"))


def _mismatches(stack: Stack, expect: dict) -> list[str]:
    """Where the parsed Stack differs from what the constructs were given."""
    problems: list[str] = []

    def same(field: str, got, want) -> None:
        if got != want:
            problems.append(f"{field}: hub read {got!r}, config said {want!r}")

    same("environment", stack.environment, expect["environment"])
    same("public_url", stack.public_url, expect["public_url"])
    same("lti11.enabled", stack.lti11.enabled, expect["lti11_enabled"])
    lti13 = expect["lti13"]
    same("lti13.enabled", stack.lti13.enabled, lti13["enabled"])
    same("lti13.platforms count", len(stack.lti13.platforms), len(lti13["platforms"]))
    for i, (platform, want) in enumerate(zip(stack.lti13.platforms, lti13["platforms"])):
        same(f"lti13.platforms[{i}].issuer", platform.issuer, want["issuer"])
        same(f"lti13.platforms[{i}].client_ids", platform.client_ids, tuple(want["client_ids"]))
        same(f"lti13.platforms[{i}].authorize_url", platform.authorize_url, want["authorize_url"])
        same(f"lti13.platforms[{i}].jwks_url", platform.jwks_url, want["jwks_url"])
        same(f"lti13.platforms[{i}].deployment_ids", platform.deployment_ids, tuple(want["deployment_ids"]))
    same("frame_ancestors", stack.frame_ancestors, tuple(expect["frame_ancestors"]))
    same("course ids", tuple(c.id for c in stack.courses), tuple(c["id"] for c in expect["courses"]))
    for want in expect["courses"]:
        course = stack.course(want["id"])
        if course is None:
            continue
        same(f"courses[{want['id']}].title", course.title, want["title"])
        same(f"courses[{want['id']}].context_ids", course.context_ids, tuple(want["context_ids"]))
        if "grader_uid" in want:
            same(f"courses[{want['id']}].grader_uid", course.grader_uid, want["grader_uid"])
        for ctx in want["context_ids"]:
            found = stack.course_for_context(ctx)
            same(f"course_for_context({ctx!r})", found.id if found else None, want["id"])
    return problems


def _check(out: Path, stems: list[str]) -> list[str]:
    failures: list[str] = []
    for stem in stems:
        data = json.loads((out / f"{stem}.stack.json").read_text(encoding="utf-8"))
        expect = json.loads((out / f"{stem}.expect.json").read_text(encoding="utf-8"))
        try:
            stack = parse_stack(data)
        except StackError as e:
            failures.append(f"{stem}: the hub refuses the stack.json the constructs wrote: {e}")
            continue
        failures += [f"{stem}: {p}" for p in _mismatches(stack, expect)]
    return failures


def test_every_generated_stack_file_is_accepted_and_read_back_exactly(cases):
    out, manifest = cases
    assert manifest["count"] == COUNT
    stems = manifest["cases"]
    assert len(stems) >= COUNT, "every generated config has at least one environment"
    assert sorted(p.name for p in out.glob("case-*.stack.json")) == sorted(f"{s}.stack.json" for s in stems)
    failures = _check(out, stems)
    assert not failures, f"seed {manifest['seed']}: {len(failures)} problem(s):\n" + "\n".join(failures[:40])


def test_generated_cases_carry_the_dangerous_text(cases):
    """The proof is only as good as its inputs: the generated text must actually be hostile."""
    out, manifest = cases
    text = "".join((out / f"{s}.expect.json").read_text(encoding="utf-8") for s in manifest["cases"])
    expects = [json.loads((out / f"{s}.expect.json").read_text(encoding="utf-8")) for s in manifest["cases"]]
    titles = [c["title"] for e in expects for c in e["courses"]]
    contexts = [x for e in expects for c in e["courses"] for x in c["context_ids"]]
    for fragment in ('${file(\\"/etc/passwd\\")}', "%{ if true }", "$${", "%%{"):
        assert fragment in text, f"no generated case contains {fragment}"
    assert any("\n" in t for t in titles) and any('"' in t for t in titles) and any("\\" in t for t in titles)
    assert any("${" in c for c in contexts) and any("%{" in c for c in contexts)
    assert any(ord(ch) > 0xFFFF for t in titles for ch in t), "no title with characters beyond the BMP"
    assert any(e["lti13"]["enabled"] for e in expects) and any(e["frame_ancestors"] for e in expects)


def test_edge_cases_are_refused_before_synth_or_accepted_by_the_hub(cases):
    out, manifest = cases
    assert manifest["edges"]
    refused = [e for e in manifest["edges"] if (out / f"{e}.refused.json").exists()]
    for name in refused:
        issues = json.loads((out / f"{name}.refused.json").read_text(encoding="utf-8"))
        assert issues and all(i["path"] for i in issues), (name, issues)
    failures = _check(out, [e for e in manifest["edges"] if e not in refused])
    assert not failures, "\n".join(failures)
