"""The commands the README shows, run as shown: every ```bash block the README marks with
`<!-- readme-test ... -->`, line by line from the repository's root (the README's own-config
block with the README's courses.yaml next to package.json), on the real engine.

The README's environments (`demo`, `physics`) belong to this test while it runs: in CI, stale
objects of a crashed earlier run are removed first; elsewhere the test refuses to touch an
existing deployment and says how to remove it."""

from __future__ import annotations

import os
import re
import ssl
import urllib.request

import pytest

import browser
from harness import ROOT, docker, run, say, timed

README = ROOT / "README.md"
ENVIRONMENTS = ("demo", "physics")


def marked_blocks() -> list[str]:
    return re.findall(r"<!-- readme-test:[^\n]*-->\n```bash\n(.*?)```", README.read_text(), re.S)


def courses_yaml() -> str:
    block = re.search(r"```yaml\n(# courses\.yaml.*?)```", README.read_text(), re.S)
    assert block, "README lost its courses.yaml example"
    return block.group(1)


def commands(block: str) -> list[str]:
    return [line for line in block.splitlines() if line.strip() and not line.lstrip().startswith("#")]


def objects(env: str) -> list[tuple[str, str]]:
    found = []
    for kind, fmt in (("container", "{{.Names}}"), ("network", "{{.Name}}"), ("volume", "{{.Name}}")):
        listing = docker("ps", "-a", "--format", fmt) if kind == "container" else docker(kind, "ls", "--format", fmt)
        found += [(kind, n) for n in listing.splitlines() if n.startswith(f"jhlti-{env}-")]
    return found


def remove(found: list[tuple[str, str]]) -> None:
    for kind in ("container", "network", "volume"):
        names = [n for k, n in found if k == kind]
        if names:
            docker(*(["rm", "-f"] if kind == "container" else [kind, "rm"]), *names)


@pytest.fixture(scope="module")
def readme_env():
    stale = [o for env in ENVIRONMENTS for o in objects(env)]
    if stale:
        if os.environ.get("CI", "").lower() not in ("1", "true"):
            pytest.fail("the README's environments already exist on this engine; remove them first with "
                        "`npm run destroy -- demo --purge` (and physics with --config courses.yaml)\n"
                        + "\n".join(f"  {k} {n}" for k, n in stale), pytrace=False)
        say(f"    CI: removing stale objects of an earlier run: {' '.join(n for _, n in stale)}")
        remove(stale)
    config = ROOT / "courses.yaml"
    if config.exists() and config.read_text() != courses_yaml():
        pytest.fail(f"{config} exists and is not the README's example; move it away", pytrace=False)
    config.write_text(courses_yaml())
    env = {k: v for k, v in os.environ.items()
           if k not in ("JHLTI_CONFIG", "JHLTI_BASE_IMAGES", "JHLTI_PURGE_DATA", "CDKTF_OUTDIR")}
    env.update(CI="1", CHECKPOINT_DISABLE="1")
    try:
        yield env
    finally:
        config.unlink(missing_ok=True)
        for env_name in ENVIRONMENTS:  # whatever a failed block left behind
            left = objects(env_name)
            if left:
                say(f"    cleanup: {' '.join(n for _, n in left)}")
                remove(left)


def shell(line: str, env: dict) -> str:
    """What the command printed, stdout then stderr (the CLI's progress lines go to stderr)."""
    p = run(["bash", "-euo", "pipefail", "-c", line], env=env, timeout=900)
    return p.stdout + p.stderr


def health(url: str) -> int:
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE  # the self-signed demo certificate; only loopback is contacted
    with urllib.request.urlopen(url, context=context, timeout=10) as r:
        return r.status


LAUNCHER = "https://127.0.0.1:8444/"


def launch_from_the_demo_launcher() -> None:
    """What `npm run demo` offers a newcomer, in a real browser: the launcher's page (another
    site than the hub), a student over LTI 1.3 inside the page and an instructor over LTI 1.1 in
    a new window, each in JupyterLab running a cell, the instructor on to the formgrader."""
    student = browser.run("demo-launcher-student", scenario="launcher", url=LAUNCHER, third_party_cookies=True,
                          launch="intro101/student/lti13/iframe", labPath="/user/demo-student/intro101/lab")
    assert student["saved"] == "42" and student["labUrl"] == "https://localhost:8443/user/demo-student/intro101/lab"
    teacher = browser.run("demo-launcher-instructor", scenario="launcher", url=LAUNCHER, third_party_cookies=False,
                          launch="intro101/instructor/lti11/window", labPath="/user/demo-instructor/intro101/lab",
                          formgraderPath="/services/intro101/formgrader")
    assert teacher["saved"] == "42" and teacher["formgraderUrl"].startswith("https://localhost:8443/services/intro101/formgrader")
    say("    demo launcher: a student (LTI 1.3, in the page) and an instructor (LTI 1.1, new window, formgrader) reached JupyterLab")


def test_the_readme_marks_its_command_blocks():
    blocks = marked_blocks()
    assert len(blocks) == 2, blocks
    assert "npm run demo" in blocks[0] and "destroy" in blocks[0]
    assert "--config courses.yaml" in blocks[1]


def test_demo_commands(readme_env):
    lines = commands(marked_blocks()[0])
    outputs = ""
    for line in lines:
        with timed(f"README: {line.split('#')[0].strip()}"):
            out = shell(line, readme_env)
        if "npm run demo" in line:
            assert health("https://127.0.0.1:8443/hub/health") == 200
            assert [n for k, n in objects("demo") if k == "container"], "no demo container after npm run demo"
            assert f"open the demo launcher at {LAUNCHER}" in out, out[-2000:]
            launch_from_the_demo_launcher()
        if "outputs" in line:
            outputs = out
    assert "hub_url = \"https://localhost:8443/hub/\"" in outputs, outputs
    assert "lti11_shared_secret = <sensitive>" in outputs, outputs
    kept = {n for k, n in objects("demo")}
    assert {"jhlti-demo-hub-data", "jhlti-demo-exchange", "jhlti-demo-course-intro101"} <= kept, kept
    assert not [n for k, n in objects("demo") if k in ("container", "network")], "destroy left containers or networks"
    say(f"    after destroy, kept: {sorted(kept)}")
    with timed("cleanup: npm run destroy -- demo --purge", step=False):
        shell("npm run destroy -- demo --purge", readme_env)
    assert objects("demo") == []


def test_own_config_commands(readme_env):
    for line in commands(marked_blocks()[1]):
        with timed(f"README: {line.split('  #')[0].strip()[:90]}"):
            out = shell(line, readme_env)
        if " deploy physics" in line:
            assert health("https://127.0.0.1:443/hub/health") == 200
        if " outputs physics" in line and "--lms canvas" in line:
            # the filled-in form: Canvas' labels with the environment's values
            assert re.search(r"^ +JSON URL +https://jupyter\.physics\.example\.edu/hub/lti13/config$", out, re.M), out
            assert "environments[0].lti13.clientIds  (now: 10000000000042)" in out, out
        elif " outputs physics" in line:
            assert "lti13_login_initiation_url = \"https://jupyter.physics.example.edu/hub/lti13/oauth_login\"" in out, out
        if "npx cdktf diff" in line:
            assert "physics" in out
    assert objects("physics") == [], objects("physics")
