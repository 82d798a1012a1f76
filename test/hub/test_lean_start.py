"""What a user server does not load at start (issue 14), against the real packages the image pins:

- jhlti_singleuser.import_singleuser: jupyterhub.singleuser without the hub's request handlers,
  database models, SQLAlchemy and alembic (stand-ins while it is imported, gone afterwards; a
  JupyterHub that needs more of them gets the real modules and a warning);
- jhlti_nbgrader_on_use: nbgrader's extensions (and jhlti_nbgrader) loaded by the first request
  for one of their URLs in a server with the image's user-server config, after which every such
  URL reaches their handlers, and no other request loads them.

Each case runs in its own interpreter, where what is imported can be seen in sys.modules."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

NOTEBOOK_DIR = Path(__file__).resolve().parents[2] / "images" / "notebook"


def python(code: str, **env: str) -> dict:
    """Runs code in a new interpreter that finds the image's modules; the JSON it prints last."""
    p = subprocess.run([sys.executable, "-c", code], cwd=NOTEBOOK_DIR, capture_output=True, text=True, timeout=120,
                       env={"PATH": os.environ["PATH"], "PYTHONPATH": str(NOTEBOOK_DIR), "PYTHONDONTWRITEBYTECODE": "1",
                            "JHLTI_CONTRACT_FILE": str(NOTEBOOK_DIR / "jhlti_contract.json"), **env})
    assert p.returncode == 0, p.stderr[-3000:]
    return json.loads(p.stdout.strip().splitlines()[-1]) | {"stderr": p.stderr}


LEAN = """
import json, sys, warnings
import jhlti_singleuser
STAND_INS
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    main = jhlti_singleuser.import_singleuser()
seen = {"main": f"{main.__module__}.{main.__name__}", "warnings": [str(w.message) for w in caught],
        "loaded": sorted(m for m in jhlti_singleuser.HUB_ONLY if m in sys.modules)}
import jupyterhub.log, jupyterhub.scopes
seen["health_check_class"] = jupyterhub.log.HealthCheckHandler.__module__
# What a server does with scopes: intersect its own with a token's, without a database.
seen["intersection"] = sorted(jupyterhub.scopes._intersect_expanded_scopes(
    {"access:servers!server=ada/intro101", "read:users:groups!user=ada"}, {"access:servers!user=ada"}))
try:
    jupyterhub.scopes.orm.Group
    seen["orm"] = "real"
except AttributeError as e:
    seen["orm"] = str(e)
import alembic, sqlalchemy.orm
seen["real_after"] = bool(alembic.__file__) and callable(sqlalchemy.orm.sessionmaker)
print(json.dumps(seen))
"""


def test_the_server_module_is_imported_without_the_hubs_handlers_and_database():
    seen = python(LEAN.replace("STAND_INS", ""))
    assert seen["main"] == "jupyter_server.extension.application.launch_instance" and seen["warnings"] == []
    assert seen["loaded"] == []  # neither stand-ins nor the real modules are left in sys.modules
    assert seen["health_check_class"] == "jhlti_singleuser"  # jupyterhub.log's check never matches here
    assert seen["intersection"] == ["access:servers!server=ada/intro101"]
    assert seen["orm"] == "jupyterhub.orm.Group is not loaded in a single-user server (jhlti_singleuser.HUB_ONLY)"
    assert seen["real_after"] is True  # a later import (nbgrader's gradebook) gets the real packages


def test_a_jupyterhub_that_needs_more_of_the_hub_gets_the_real_modules_and_a_warning():
    # As if jupyterhub.log needed a name of the hub's pages the stand-in does not give.
    broken = ("real = jhlti_singleuser._stand_ins\n"
              "def _stand_ins():\n"
              "    modules = real()\n"
              "    del modules['jupyterhub.handlers.pages'].HealthCheckHandler\n"
              "    return modules\n"
              "jhlti_singleuser._stand_ins = _stand_ins\n")
    seen = python(LEAN.replace("STAND_INS", broken))
    assert seen["main"] == "jupyter_server.extension.application.launch_instance"
    assert len(seen["warnings"]) == 1 and "needs the hub's modules" in seen["warnings"][0]
    assert {"jupyterhub.handlers", "jupyterhub.orm", "alembic", "sqlalchemy"} <= set(seen["loaded"])  # the real ones
    assert seen["health_check_class"] == "jupyterhub.handlers.pages" and seen["orm"] == "real"


# A jupyter server with the image's user-server config (first on JUPYTER_CONFIG_PATH, as jhlti-start
# puts it), initialized but not listening; requests are routed as its web application routes them.
SERVER = """
import json, sys, tornado.httputil
import jhlti_nbgrader_on_use
BEFORE
from jupyter_server.serverapp import ServerApp
app = ServerApp.instance()
app.initialize(argv=["--ServerApp.base_url=/user/ada/intro101/", "--ServerApp.port=0", "--ServerApp.open_browser=False"])
seen = {"enabled": sorted(k for k, v in app.jpserver_extensions.items() if v), "at_start": "nbgrader" in sys.modules, "routes": {}}
def route(path):
    request = tornado.httputil.HTTPServerRequest(method="GET", uri="/user/ada/intro101/" + path,
                                                 headers=tornado.httputil.HTTPHeaders({"Host": "localhost"}))
    delegate = app.web_app.find_handler(request)
    cls = delegate.handler_class
    return f"{cls.__module__}.{cls.__name__}" + (f"({delegate.handler_kwargs['status_code']})" if cls.__name__ == "ErrorHandler" else "")
REQUESTS
print(json.dumps(seen))
"""


def server(tmp_path: Path, requests: str, before: str = "") -> dict:
    config = f"{NOTEBOOK_DIR}/user-config:{NOTEBOOK_DIR}"
    return python(SERVER.replace("BEFORE", before).replace("REQUESTS", requests), JUPYTER_CONFIG_PATH=config,
                  HOME=str(tmp_path), JUPYTER_RUNTIME_DIR=str(tmp_path / "runtime"))


def test_a_user_server_starts_without_nbgrader_and_loads_it_at_the_first_request_for_it(tmp_path):
    seen = server(tmp_path,
        "seen['routes']['api/status'] = route('api/status')\n"
        "seen['routes']['lab'] = route('lab')\n"
        "seen['after_others'] = 'nbgrader' in sys.modules\n"
        "for p in ['formgraders', 'assignments', 'assignments/fetch', 'assignments/submit', 'assignments/fetch_feedback',\n"
        "          'assignments/validate', 'courses', 'nbgrader_version', 'jhlti/assignment', 'assignmentsx']:\n"
        "    seen['routes'][p] = route(p)\n"
        "seen['after'] = 'nbgrader' in sys.modules\n")
    assert "jhlti_nbgrader_on_use" in seen["enabled"]
    assert not {"jhlti_nbgrader", "nbgrader.server_extensions.assignment_list", "nbgrader.server_extensions.course_list",
                "nbgrader.server_extensions.validate_assignment", "nbgrader.server_extensions.formgrader"} & set(seen["enabled"])
    assert seen["at_start"] is False and seen["after_others"] is False  # the server's own URLs load nothing
    routes = seen["routes"]
    assert routes["api/status"].startswith("jupyter_server.")
    assert routes["formgraders"] == "jhlti_nbgrader.CourseListHandler"  # the first request is answered by it
    assert routes["jhlti/assignment"] == "jhlti_nbgrader.OpenAssignmentHandler"
    list_handlers = "nbgrader.server_extensions.assignment_list.handlers"
    assert routes["assignments"] == f"{list_handlers}.AssignmentListHandler"
    for action in ("fetch", "submit", "fetch_feedback"):
        assert routes[f"assignments/{action}"] == f"{list_handlers}.AssignmentActionHandler"
    assert routes["assignments/validate"] == "nbgrader.server_extensions.validate_assignment.handlers.ValidateAssignmentHandler"
    assert routes["courses"] == f"{list_handlers}.CourseListHandler"
    assert routes["nbgrader_version"].endswith(".NbGraderVersionHandler")
    assert routes["assignmentsx"].startswith("jupyter_server.")  # not under a deferred root: the server's 404
    assert seen["after"] is True
    assert "loaded nbgrader.server_extensions.assignment_list, nbgrader.server_extensions.validate_assignment, " \
           "jhlti_nbgrader at the first request" in seen["stderr"]


def test_when_loading_fails_those_urls_answer_500_and_the_next_request_tries_again(tmp_path):
    seen = server(tmp_path,
        "seen['routes']['first'] = route('assignments')\n"
        "jhlti_nbgrader_on_use.DEFERRED = real\n"
        "seen['routes']['second'] = route('assignments')\n",
        before="real = jhlti_nbgrader_on_use.DEFERRED\n"
               "jhlti_nbgrader_on_use.DEFERRED = ('jhlti_no_such_module',) + real\n")
    assert seen["routes"] == {"first": "tornado.web.ErrorHandler(500)",
                              "second": "nbgrader.server_extensions.assignment_list.handlers.AssignmentListHandler"}
    assert "loading jhlti_no_such_module" in seen["stderr"] and "answers 500" in seen["stderr"]


def test_every_route_of_the_deferred_extensions_is_under_a_root_that_loads_them():
    """nbgrader's pinned version and jhlti_nbgrader: the first path segment of each route."""
    import jhlti_nbgrader
    import jhlti_nbgrader_on_use
    from nbgrader.server_extensions.assignment_list import handlers as assignment_list
    from nbgrader.server_extensions.course_list import handlers as course_list
    from nbgrader.server_extensions.validate_assignment import handlers as validate

    routes = [p for module in (assignment_list, course_list, validate) for p, _ in module.default_handlers]
    routes.append(jhlti_nbgrader.contract()["url_paths"]["open_assignment"])
    pattern = re.compile(jhlti_nbgrader_on_use.path_pattern("/user/ada/intro101/"))
    for route in routes:
        first = route.strip("/").split("/")[0]
        assert first in jhlti_nbgrader_on_use.ROOTS, route
        assert pattern.match(f"/user/ada/intro101/{route.strip('/').replace('%s', 'fetch')}"), route
    assert not pattern.match("/user/ada/intro101/lab") and not pattern.match("/user/ada/intro101/assignmentsx")


@pytest.mark.parametrize("config_dir", ["user-config", "grader-config"])
def test_only_user_servers_defer_nbgrader(config_dir):
    enabled = {}
    for f in sorted((NOTEBOOK_DIR / config_dir / "jupyter_server_config.d").glob("*.json")):
        enabled.update(json.loads(f.read_text())["ServerApp"]["jpserver_extensions"])
    if config_dir == "user-config":
        assert enabled["jhlti_nbgrader_on_use"] is True and enabled["jhlti_nbgrader"] is False
    else:
        assert "jhlti_nbgrader_on_use" not in enabled and enabled["jhlti_nbgrader"] is True
