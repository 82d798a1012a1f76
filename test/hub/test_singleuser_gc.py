"""jhlti-singleuser (images/notebook/jhlti_singleuser.py): the server starts with Python's cyclic
garbage collector paused, and it resumes (startup objects frozen) once the server runs, through
the server extension both config directories enable, or else through the timer. Each case runs
in its own interpreter: the collector's state is per process."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

NOTEBOOK_DIR = Path(__file__).resolve().parents[2] / "images" / "notebook"

# A stand-in for jupyterhub.singleuser whose main() reports the collector's state at its start,
# then plays the server: FAKE_SERVER is its body.
HARNESS = """
import asyncio, gc, json, logging, sys, time, types
import jhlti_singleuser
seen = {}
def fake_main():
    seen["paused_at_start"] = not gc.isenabled()
    seen["argv0"] = sys.argv[0]
    app = types.SimpleNamespace(log=logging.getLogger("test"))
    FAKE_SERVER
    seen["enabled_after"] = gc.isenabled()
    seen["frozen"] = gc.get_freeze_count()
    return 3
package, module = types.ModuleType("jupyterhub"), types.ModuleType("jupyterhub.singleuser")
module.main = fake_main
sys.modules.update({"jupyterhub": package, "jupyterhub.singleuser": module})
seen["exit"] = jhlti_singleuser.main()
print(json.dumps(seen))
"""


def python(code: str) -> str:
    """Runs code in a new interpreter that finds the image's modules; its stdout."""
    p = subprocess.run([sys.executable, "-c", code], cwd=NOTEBOOK_DIR, capture_output=True, text=True,
                       timeout=60, env={"PYTHONPATH": str(NOTEBOOK_DIR), "PYTHONDONTWRITEBYTECODE": "1"})
    assert p.returncode == 0, p.stderr
    return p.stdout


def run(fake_server: str, resume_after: float | None = None) -> dict:
    code = HARNESS.replace("FAKE_SERVER", fake_server)
    if resume_after is not None:
        code = code.replace("import jhlti_singleuser", f"import jhlti_singleuser; jhlti_singleuser.RESUME_AFTER = {resume_after}")
    return json.loads(python(code))


def test_the_collector_is_paused_while_the_server_starts_and_resumed_by_its_start_hook():
    seen = run("asyncio.run(jhlti_singleuser._start_jupyter_server_extension(app))")
    assert seen == {"paused_at_start": True, "argv0": "jupyterhub-singleuser", "enabled_after": True,
                    "frozen": seen["frozen"], "exit": 3}
    assert seen["frozen"] > 1000  # what the start made is left out of later collections


def test_without_the_start_hook_a_timer_resumes_the_collector():
    assert run("time.sleep(0.1)", resume_after=30)["enabled_after"] is False  # before the timer's time
    assert run("time.sleep(2)", resume_after=0.2)["enabled_after"] is True


def test_the_start_hook_changes_nothing_in_a_server_started_otherwise():
    """The hub tier and anyone running jupyterhub-singleuser directly: the collector runs already."""
    out = python("import asyncio, gc, logging, types, jhlti_singleuser\n"
                 "app = types.SimpleNamespace(log=logging.getLogger('test'))\n"
                 "asyncio.run(jhlti_singleuser._start_jupyter_server_extension(app))\n"
                 "print(gc.isenabled(), gc.get_freeze_count())")
    assert out.split() == ["True", "0"]


@pytest.mark.parametrize("config_dir", ["user-config", "grader-config"])
def test_both_config_directories_enable_the_start_hook(config_dir):
    config = json.loads((NOTEBOOK_DIR / config_dir / "jupyter_server_config.d" / "jhlti-singleuser.json").read_text())
    assert config["ServerApp"]["jpserver_extensions"] == {"jhlti_singleuser": True}


def test_jupyter_server_accepts_the_extension_and_finds_its_start_hook():
    out = python("from jupyter_server.extension.manager import ExtensionPackage\n"
                 "p = ExtensionPackage(name='jhlti_singleuser', enabled=True)\n"
                 "print(p.validate(), p.extension_points['jhlti_singleuser']._get_starter().__name__)")
    assert out.split() == ["True", "_start_jupyter_server_extension"]


def test_the_launcher_script_runs_the_module():
    script = (NOTEBOOK_DIR / "jhlti-singleuser").read_text()
    assert script.startswith("#!/usr/bin/env python3\n") and "jhlti_singleuser.main()" in script
    assert "/usr/local/bin/jhlti-singleuser" in (NOTEBOOK_DIR / "jhlti-start").read_text()
