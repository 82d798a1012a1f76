"""Course pages of the stand-in LMS, for a real browser (the e2e tier's browser tests).

A real LMS shows a course page that embeds the tool: an iframe, and a form targeting it that
carries the launch (the LTI 1.1 signed parameters, or the LTI 1.3 login initiation). Here the
test asks a peer for that launch (Lti11Consumer.launch_params / Lti13Platform.begin_launch,
signed by the `lti` and `lti1p3platform` libraries) and then `put`s a page around it; the
browser opens https://<peer>/lms/<id>. A page is served once (a launch is used once).

  put(action, fields, *, target="iframe"|"window"|"frame-url", title="...") -> "/lms/<id>"

"frame-url": no form, the iframe simply loads `action` (to see whether a site may be framed).
"""

from __future__ import annotations

import html
import secrets
import threading

from peer_http import Request, reply


class LmsPages:
    REMOTE_METHODS = ("put",)

    def __init__(self):
        self._pages: dict[str, str] = {}
        self._lock = threading.Lock()

    def put(self, action: str, fields: dict | None = None, *, target: str = "iframe", title: str = "Course page") -> str:
        if target not in ("iframe", "window", "frame-url"):
            raise ValueError(f"target must be iframe, window or frame-url, not {target!r}")
        esc = html.escape
        inputs = "".join(
            f'<input type="hidden" name="{esc(str(k))}" value="{esc(str(v))}">'
            for k, v in (fields or {}).items()
            for v in (v if isinstance(v, list) else [v])
        )
        frame_src = f' src="{esc(action)}"' if target == "frame-url" else ""
        form = "" if target == "frame-url" else (
            f'<form id="launch" method="post" action="{esc(action)}" '
            f'target="{"tool" if target == "iframe" else "_blank"}">{inputs}'
            + ('</form><script>document.getElementById("launch").submit()</script>' if target == "iframe"
               else '<button type="submit">Open the tool</button></form>')
        )
        frame = "" if target == "window" else (
            f'<iframe name="tool" id="tool" title="Jupyter" width="1200" height="760"{frame_src}></iframe>'
        )
        page = (
            '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
            f"<title>{esc(title)}</title></head><body style=\"margin:0;font-family:sans-serif\">"
            f'<header style="background:#f5a623;padding:8px 16px"><b>Stand-in LMS</b> &middot; {esc(title)}</header>'
            f"{frame}{form}</body></html>"  # the frame first: the form's target must exist when it submits
        )
        page_id = secrets.token_urlsafe(12)
        with self._lock:
            self._pages[page_id] = page
        return f"/lms/{page_id}"

    def handle(self, request: Request):
        if not request.path.startswith("/lms/") or request.method != "GET":
            return None
        with self._lock:
            page = self._pages.pop(request.path[len("/lms/"):], None)
        if page is None:
            return reply(404, b"no such page (each is served once)", "text/plain")
        return reply(200, page.encode(), "text/html; charset=utf-8", headers=[("Cache-Control", "no-store")])
