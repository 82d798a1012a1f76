"""nbgrader's server extensions in user servers, loaded by their first request instead of at start.

A user server that loads nbgrader's extensions at start imports nbgrader with what it brings
(nbconvert, the gradebook's models, the exchange, its apps) only to register the handlers of
JupyterLab's Assignments and Course List panels, the Validate button and the assignment links:
about a fifth of the CPU a server start costs (test/bench/start_cpu.py, BENCHMARKS.md), paid by
every student at the start of class, when all servers start at once. The panels ask for them
when a student opens them.

So user servers (paths.user_config_dir) enable this extension in place of
``nbgrader.server_extensions.assignment_list``, ``nbgrader.server_extensions.validate_assignment``
and ``jhlti_nbgrader``. It adds one route for the URLs those serve; the first request to one of
them loads the three with their own load functions, unchanged, and routing then goes on to the
handlers they added, so that request and every later one are answered by nbgrader's and
jhlti_nbgrader's handlers. The first request waits for the import (about half a second). Should
loading fail, those URLs answer 500 and the next request tries again. Graders load everything
at start, as before.
"""

from __future__ import annotations

import importlib
import re

from tornado import web
from tornado.routing import PathMatches, Router

# Loaded on first use, in this order (each adds its handlers to the server's web application).
DEFERRED = (
    "nbgrader.server_extensions.assignment_list",
    "nbgrader.server_extensions.validate_assignment",
    "jhlti_nbgrader",
)

# The URL paths, under the server's base URL, that load them: nbgrader 0.9's assignment list
# (assignments, assignments/<action>, courses, nbgrader_version), validate_assignment
# (assignments/validate), the course list (formgraders) and jhlti_nbgrader's assignment links
# (under jhlti/). The hub tier checks that every route of DEFERRED falls under one.
ROOTS = ("assignments", "courses", "formgraders", "nbgrader_version", "jhlti")


def path_pattern(base_url: str) -> str:
    """The regular expression of the paths that load DEFERRED, under base_url."""
    base = base_url if base_url.endswith("/") else base_url + "/"
    return re.escape(base) + "(?:" + "|".join(re.escape(r) for r in ROOTS) + r")(?:/.*)?$"


class OnFirstUse(Router):
    """A routing target that loads DEFERRED at the first request it matches, then declines every
    request (returns None), so the application's router finds the handlers they added."""

    def __init__(self, serverapp) -> None:
        self.serverapp = serverapp
        self.loaded: list[str] = []

    def find_handler(self, request, **kwargs):
        if len(self.loaded) < len(DEFERRED):
            try:
                self.load()
            except Exception:
                self.serverapp.log.exception("jhlti_nbgrader_on_use: loading %s failed; %s answers 500",
                                             ", ".join(m for m in DEFERRED if m not in self.loaded), request.path)
                return self.serverapp.web_app.get_handler_delegate(request, web.ErrorHandler, {"status_code": 500})
        return None

    def load(self) -> None:
        for name in DEFERRED:
            if name in self.loaded:
                continue
            module = importlib.import_module(name)
            loader = getattr(module, "_load_jupyter_server_extension", None) or module.load_jupyter_server_extension
            loader(self.serverapp)
            self.loaded.append(name)
        self.serverapp.log.info("jhlti_nbgrader_on_use: loaded %s at the first request for them", ", ".join(DEFERRED))


def _jupyter_server_extension_points():
    return [{"module": "jhlti_nbgrader_on_use"}]


def _load_jupyter_server_extension(serverapp) -> None:
    webapp = serverapp.web_app
    # Tornado's own add_handlers: jupyter_server's checks the authentication of handler classes,
    # and this target is none; the handlers it leads to are added (and checked) by their loaders.
    web.Application.add_handlers(webapp, ".*$", [(PathMatches(path_pattern(webapp.settings["base_url"])), OnFirstUse(serverapp))])
    serverapp.log.info("jhlti_nbgrader_on_use: %s load at the first request for them", ", ".join(DEFERRED))
