"""iframe mode in user servers and graders (images/notebook/jhlti_embedding.py, loaded by the
jupyter_server_config.py of both config directories): the frame policy, cross-site cookies,
and nothing at all in new-window mode; and the other setting of those files (the Extension
Manager of user servers)."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest
from traitlets.config import Config, PyFileConfigLoader

NOTEBOOK_DIR = Path(__file__).resolve().parents[2] / "images" / "notebook"
sys.path.insert(0, str(NOTEBOOK_DIR))
os.environ["JHLTI_CONTRACT_FILE"] = str(NOTEBOOK_DIR / "jhlti_contract.json")

import jhlti_embedding  # noqa: E402

CONTRACT = json.loads((NOTEBOOK_DIR / "jhlti_contract.json").read_text())
VAR = CONTRACT["container_env"]["frame_ancestors"]
LMS = "https://lms.example.edu https://canvas.example.edu:8443"


def load(config_dir: str, environ: dict) -> Config:
    """The image's config file as Jupyter Server loads it, with this environment."""
    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update({"JHLTI_CONTRACT_FILE": saved["JHLTI_CONTRACT_FILE"], **environ})
    try:
        loader = PyFileConfigLoader("jupyter_server_config.py", path=str(NOTEBOOK_DIR / config_dir))
        return loader.load_config()
    finally:
        os.environ.clear()
        os.environ.update(saved)


@pytest.mark.parametrize("config_dir", ["user-config", "grader-config"])
def test_iframe_mode_frames_for_the_lms_and_makes_every_cookie_cross_site(config_dir):
    c = load(config_dir, {VAR: LMS, "JUPYTERHUB_BASE_URL": "/"})
    settings = c.ServerApp.tornado_settings
    assert settings["headers"]["Content-Security-Policy"] == (
        "frame-ancestors https://lms.example.edu https://canvas.example.edu:8443; "
        "report-uri /hub/security/csp-report"
    )
    assert settings["xsrf_cookie_kwargs"] == {"samesite": "None", "secure": True}
    assert c.HubOAuth.cookie_options == {"samesite": "None", "secure": True}


@pytest.mark.parametrize("config_dir", ["user-config", "grader-config"])
def test_new_window_mode_changes_nothing(config_dir):
    c = load(config_dir, {"JUPYTERHUB_BASE_URL": "/"})
    assert "tornado_settings" not in c.ServerApp and "cookie_options" not in c.HubOAuth


def test_the_report_uri_follows_the_hub_base_url():
    c = Config()
    jhlti_embedding.configure(c, {VAR: "https://lms.example.edu", "JUPYTERHUB_BASE_URL": "/jupyter/"}, CONTRACT)
    assert c.ServerApp.tornado_settings["headers"]["Content-Security-Policy"].endswith(
        "; report-uri /jupyter/hub/security/csp-report"
    )


def test_settings_already_configured_are_kept():
    c = Config()
    c.ServerApp.tornado_settings = {"headers": {"X-Other": "1"}, "compress_response": True}
    jhlti_embedding.configure(c, {VAR: "https://lms.example.edu"}, CONTRACT)
    assert c.ServerApp.tornado_settings["headers"]["X-Other"] == "1"
    assert c.ServerApp.tornado_settings["compress_response"] is True


@pytest.mark.parametrize("value", [
    "http://lms.example.edu",                       # not https
    "https://lms.example.edu/path",                 # not an origin
    "https://lms.example.edu; script-src *",        # a header injection
    "https://*.example.edu",                        # wildcard
    "'self'",
])
def test_anything_but_https_origins_is_refused(value):
    with pytest.raises(jhlti_embedding.EmbeddingError, match=VAR):
        jhlti_embedding.configure(Config(), {VAR: value}, CONTRACT)


def test_user_servers_install_no_jupyterlab_extension_from_pypi_and_graders_keep_the_default():
    """user-config's Extension Manager is read-only (a cheaper start); grader-config sets nothing."""
    assert load("user-config", {"JUPYTERHUB_BASE_URL": "/"}).LabApp.extension_manager == "readonly"
    assert "extension_manager" not in load("grader-config", {"JUPYTERHUB_BASE_URL": "/"}).LabApp
