"""The e2e tier's real browser (Debian's Chromium, driven by playwright-core through
test/e2e/browser/driver.ts, built into lib/ by `npm run build`) on stand-in LMS course pages that
embed the hub.

The LMS container serves the pages (test/peers/lms_pages.py) around launches its libraries sign
(`lti`, `lti1p3platform`); the browser reaches it at https://<its container name>:<LMS_PORT>
(the name mapped to 127.0.0.1 in the browser only), so the LMS page and the hub
(https://localhost:18443) are different sites, as a real LMS and the hub are. Screenshots of
every step: .gen/artifacts/browser/<scenario>/.
"""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest

from harness import ROOT, say
from lti_platform import LIS
from stack_config import LMS_BROWSER_URL, LMS_PORT, PLATFORM_HOST

DRIVER = ROOT / "lib" / "test" / "e2e" / "browser" / "driver.js"
ARTIFACTS = ROOT / ".gen" / "artifacts" / "browser"
# The same LMS container, reached by its address instead of its name: another origin, which
# the environment does not list among those allowed to frame the hub.
OTHER_ORIGIN = f"https://127.0.0.1:{LMS_PORT}"


def lms_page(e2e, *, protocol: str, user: str, role: str, context_id: str, target: str = "iframe") -> str:
    """A course page of the LMS container carrying a fresh launch of `user` into the tool."""
    if protocol == "lti11":
        action = e2e.url("/hub/lti/launch")
        fields = e2e.lms.lti11.launch_params(
            action, user_id=user, roles="Instructor" if role == "instructor" else "Learner", context_id=context_id,
            resource_link_id=f"rl-browser-{context_id}",
            extra={"launch_presentation_document_target": target if target != "frame-url" else "iframe"})
    else:
        membership = "membership#Instructor" if role == "instructor" else "membership#Learner"
        start = e2e.lms.lti13.begin_launch(e2e.url(""), sub=user, roles=[LIS + membership],
                                           context={"id": context_id, "label": "course", "title": "course"})
        action, fields = start["login_url"], start["form"]
    path = e2e.lms.pages.put(action, fields, target=target, title=f"{context_id}: Jupyter ({protocol}, {user})")
    return LMS_BROWSER_URL + path


def framing_page(e2e, url: str) -> str:
    """A page of the LMS container, reached at OTHER_ORIGIN, whose iframe loads `url`."""
    return OTHER_ORIGIN + e2e.lms.pages.put(url, target="frame-url", title="another site framing the hub")


def run(name: str, *, scenario: str, url: str, third_party_cookies: bool, **spec) -> dict:
    """One driver scenario; its steps are printed; fails the test with the driver's error."""
    chromium = shutil.which("chromium")
    if chromium is None or not DRIVER.is_file():
        pytest.fail(f"browser tests need Debian's chromium and {DRIVER} (npm run build)")
    shots = ARTIFACTS / name
    shutil.rmtree(shots, ignore_errors=True)
    spec = {"scenario": scenario, "url": url, "chromium": chromium, "hostMap": [PLATFORM_HOST],
            "thirdPartyCookies": third_party_cookies, "screenshots": str(shots), **spec}
    p = subprocess.run(["node", str(DRIVER), json.dumps(spec)], capture_output=True, text=True, timeout=600)
    final: dict = {}
    for line in p.stdout.splitlines():
        try:
            item = json.loads(line)
        except ValueError:
            continue
        if "step" in item:
            say(f"      [{item.pop('t'):5.1f} s] {item.pop('step')} {json.dumps(item) if item else ''}".rstrip())
        else:
            final = item
    if p.returncode != 0 or "result" not in final:
        pytest.fail(f"browser scenario {name} failed (screenshots in {shots}):\n{final.get('error', '')}\n"
                    f"console: {json.dumps(final.get('console', []), indent=1)}\nstderr: {p.stderr[-3000:]}")
    return final["result"]
