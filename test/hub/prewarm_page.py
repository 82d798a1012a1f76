"""The course's pre-warm page (/hub/jhlti/prewarm/<course>) as an instructor's browser uses it,
for the hub and e2e tiers (test/e2e puts test/hub on its path)."""

from __future__ import annotations

import re
import time

import requests


def press_prewarm(session: requests.Session, url: str, timeout: float = 240) -> dict | None:
    """GET the page, POST its form with the _xsrf value it carries, then read its JSON state until
    that pre-warm is done: its outcome, or None if it did not finish within `timeout` seconds."""
    page = session.get(url, timeout=60)
    assert page.status_code == 200, (page.status_code, page.text[:300])
    before = session.get(url, headers={"Accept": "application/json"}, timeout=60).json()["last"]
    xsrf = re.search(r'name="_xsrf" value="([^"]+)"', page.text).group(1)
    r = session.post(url, data={"_xsrf": xsrf}, allow_redirects=False, timeout=60)
    assert r.status_code == 302, (r.status_code, r.text[:300])
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = session.get(url, headers={"Accept": "application/json"}, timeout=60).json()
        if not state["warming"] and state["last"] not in (None, before):
            return state["last"]
        time.sleep(1)
    return None
