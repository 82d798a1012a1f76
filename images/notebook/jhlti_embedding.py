"""Embedding user servers and graders in an LMS page (``embedding.mode: iframe``).

JupyterHub's single-user server refuses every frame (``frame-ancestors 'none'``) and sets its
cookies (the OAuth login cookie, its state cookie, ``_xsrf``) without ``SameSite``, which a
browser does not send inside a cross-site iframe. When the hub's spawner or the grader's
construct sets JHLTI_FRAME_ANCESTORS (the LMS origins, space-separated), the server's config
(``jupyter_server_config.py`` in the user and grader config directories) calls ``configure``:

* every response carries ``Content-Security-Policy: frame-ancestors <origins>;
  report-uri <hub>/security/csp-report`` (the hub's policy; JupyterHub's own keeps the report URI);
* the ``_xsrf`` cookie and the hub OAuth cookies are ``SameSite=None; Secure``.

Unset (new-window mode): nothing changes, JupyterHub's defaults stay.
"""

from __future__ import annotations

import json
import os
import re

CONTRACT_FILE = os.environ.get("JHLTI_CONTRACT_FILE", "/usr/local/share/jhlti/contract.json")
COOKIE_OPTIONS = {"samesite": "None", "secure": True}


class EmbeddingError(ValueError):
    pass


def _contract() -> dict:
    with open(CONTRACT_FILE, encoding="utf-8") as f:
        return json.load(f)


def frame_ancestors(environ=os.environ, contract: dict | None = None) -> list[str]:
    """The LMS origins from the environment; each must be an origin as the contract defines it
    (an https origin and nothing else: the value goes into a header)."""
    contract = contract or _contract()
    raw = environ.get(contract["container_env"]["frame_ancestors"], "")
    origins = raw.split()
    pattern = re.compile(contract["patterns"]["origin"])
    bad = [o for o in origins if not pattern.fullmatch(o)]
    if bad:
        raise EmbeddingError(
            f"{contract['container_env']['frame_ancestors']}: {bad!r} is not a list of https origins "
            "(e.g. https://lms.example.edu); the stack's config (embedding.allowedOrigins) sets it"
        )
    return origins


def frame_policy(origins: list[str], base_url: str, contract: dict) -> str:
    report = base_url.rstrip("/") + contract["url_paths"]["csp_report"]
    # Exactly the LMS origins, not 'self' (as the hub's policy: hub.frame_policy).
    return f"frame-ancestors {' '.join(origins)}; report-uri {report}"


def configure(c, environ=os.environ, contract: dict | None = None) -> None:
    """Apply iframe mode to a Jupyter server config ``c`` when JHLTI_FRAME_ANCESTORS is set."""
    contract = contract or _contract()
    origins = frame_ancestors(environ, contract)
    if not origins:
        return
    policy = frame_policy(origins, environ.get("JUPYTERHUB_BASE_URL", "/"), contract)
    settings = dict(c.ServerApp.tornado_settings) if "tornado_settings" in c.ServerApp else {}
    settings["headers"] = {**settings.get("headers", {}), "Content-Security-Policy": policy}
    settings["xsrf_cookie_kwargs"] = {**settings.get("xsrf_cookie_kwargs", {}), **COOKIE_OPTIONS}
    c.ServerApp.tornado_settings = settings
    # The hub login cookie of this server and the OAuth state cookie (jupyterhub.services.auth).
    c.HubOAuth.cookie_options = {**(dict(c.HubOAuth.cookie_options) if "cookie_options" in c.HubOAuth else {}), **COOKIE_OPTIONS}
