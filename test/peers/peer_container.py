"""The peers as a container on a Docker network (the e2e tier's LMS), driven from the host.

- `build_peer_image()`: an image FROM the local jupyterhub stand-in (python3 + pip in /opt/venv)
  with the peers' pinned packages installed from a wheelhouse downloaded on the host
  (.gen/peers/wheels-*), built with `--network none` and reused while its inputs (Dockerfile,
  pins, base image id, peer sources) hash the same (tag and label carry the hash).
- `PeerContainer(...).start()`: runs serve.py in it on `network` as `name` (HTTPS on 443 with
  the given certificate; the hub reaches it as https://<name>), publishes 443 on 127.0.0.1 only,
  and returns a `PeerClient`.
- `PeerClient`: `.lti13` / `.lti11` have the in-process peers' methods (over the admin API) and
  their `launch()`; `.session` is a requests.Session that reaches https://<name>/... through
  that loopback port while verifying the certificate for <name> against the test CA.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
import shutil
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import requests
from requests.adapters import HTTPAdapter

from lti11_consumer import OUTCOMES_PATH, Lti11Consumer
from lms_pages import LmsPages
from lti13_platform import Lti13Platform, browser_launch
from peer_http import RemotePeer, http_session

ROOT = Path(__file__).resolve().parents[2]
PEERS_DIR = Path(__file__).resolve().parent
GEN = ROOT / ".gen" / "peers"
VERSIONS = json.loads((ROOT / "images" / "versions.json").read_text())
BASE_IMAGE = f"localhost/jhlti-stand-in/jupyterhub:{VERSIONS['jupyterhub']}"
IMAGE_REPO = "localhost/jhlti-test-peers"
HASH_LABEL = "org.jupyterhub-lti-stack.test-peers.hash"
SOURCES = ("peer_http.py", "lti13_platform.py", "lti11_consumer.py", "lms_pages.py", "serve.py")
# The peers' packages and everything they import, pinned in test/hub/requirements.txt (or the
# hub's list it includes); downloaded without dependency resolution, so this list is complete.
PACKAGES = ("lti1p3platform", "jwcrypto", "lti", "lxml", "requests-oauthlib", "PyJWT", "oauthlib", "requests",
            "cryptography", "cffi", "pycparser", "typing_extensions", "urllib3", "certifi", "idna",
            "charset-normalizer")
PIN_FILES = (ROOT / "test" / "hub" / "requirements.txt", ROOT / "images" / "hub" / "requirements.txt")
DOCKERFILE = """\
ARG BASE_IMAGE
FROM ${BASE_IMAGE}
COPY wheels/ /tmp/peer-wheels/
COPY requirements.txt /tmp/peer-wheels/requirements.txt
RUN pip install --no-index --no-cache-dir --find-links /tmp/peer-wheels -r /tmp/peer-wheels/requirements.txt \\
 && pip check && rm -rf /tmp/peer-wheels
COPY peers/ /opt/jhlti-peers/
ENV PYTHONDONTWRITEBYTECODE=1
ENTRYPOINT ["python3", "/opt/jhlti-peers/serve.py"]
CMD ["--help"]
"""


def _docker(*args: str, check: bool = True, timeout: float = 600) -> subprocess.CompletedProcess:
    p = subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout)
    if check and p.returncode != 0:
        raise RuntimeError(f"docker {' '.join(args)} exited {p.returncode}:\n{p.stdout[-3000:]}\n{p.stderr[-3000:]}")
    return p


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def peer_requirements() -> str:
    """`name==version` lines for PACKAGES, versions from the project's pin files."""
    pins = {}
    for path in PIN_FILES:
        for line in path.read_text().splitlines():
            m = re.fullmatch(r"\s*([A-Za-z0-9_.-]+)(\[[^\]]*\])?==([^\s#]+)\s*(#.*)?", line)
            if m:
                pins.setdefault(_norm(m.group(1)), f"{m.group(1)}=={m.group(3)}")
    missing = [p for p in PACKAGES if _norm(p) not in pins]
    if missing:
        raise RuntimeError(f"no pin for {missing} in {[str(p) for p in PIN_FILES]}")
    return "".join(pins[_norm(p)] + "\n" for p in PACKAGES)


def _wheelhouse(requirements: str) -> Path:
    """Wheels for the base image's Python, architecture and glibc, downloaded once."""
    probe = ("import platform, sys; print(f'{sys.version_info[0]}.{sys.version_info[1]}', platform.machine(), "
             "platform.libc_ver()[1])")
    py, arch, libc = _docker("run", "--rm", "--network", "none", "--entrypoint", "python3", BASE_IMAGE, "-c",
                             probe).stdout.split()
    key = hashlib.sha256(f"{requirements}{py} {arch} {libc}".encode()).hexdigest()[:16]
    wheels = GEN / f"wheels-{key}"
    if (wheels / ".complete").exists():
        return wheels
    shutil.rmtree(wheels, ignore_errors=True)
    wheels.mkdir(parents=True)
    (wheels / "requirements.txt").write_text(requirements)
    glibc_minor = int(libc.split(".")[1])
    platforms = [f"manylinux_2_{m}_{arch}" for m in range(17, glibc_minor + 1)] + [f"manylinux2014_{arch}"]
    cmd = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:",
           "--implementation", "cp", "--python-version", py, "--abi", "cp" + py.replace(".", ""),
           *[arg for p in platforms for arg in ("--platform", p)], "-d", str(wheels), "-r", str(wheels / "requirements.txt")]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    if p.returncode != 0:
        raise RuntimeError(f"pip download for the peer image failed:\n{p.stdout[-3000:]}\n{p.stderr[-3000:]}")
    (wheels / "requirements.txt").unlink()
    (wheels / ".complete").write_text("")
    return wheels


def build_peer_image(log=print) -> str:
    """The peer image's tag; built only when no image with the inputs' hash exists."""
    if _docker("image", "inspect", BASE_IMAGE, check=False).returncode != 0:
        raise RuntimeError(f"base image {BASE_IMAGE} missing: run bin/setup/all.sh (it builds the stand-ins)")
    requirements = peer_requirements()
    digest = hashlib.sha256()
    for part in (DOCKERFILE, requirements, _docker("image", "inspect", "--format", "{{.Id}}", BASE_IMAGE).stdout.strip(),
                 *((PEERS_DIR / name).read_text() for name in SOURCES)):
        digest.update(part.encode() + b"\0")
    tag = f"{IMAGE_REPO}:{digest.hexdigest()[:12]}"
    found = _docker("image", "inspect", "--format", f'{{{{index .Config.Labels "{HASH_LABEL}"}}}}', tag, check=False)
    if found.returncode == 0 and found.stdout.strip() == digest.hexdigest():
        return tag
    t0 = time.monotonic()
    context = GEN / "context"
    shutil.rmtree(context, ignore_errors=True)
    shutil.copytree(_wheelhouse(requirements), context / "wheels", ignore=shutil.ignore_patterns(".complete"))
    (context / "peers").mkdir()
    for name in SOURCES:
        shutil.copy2(PEERS_DIR / name, context / "peers" / name)
    (context / "requirements.txt").write_text(requirements)
    (context / "Dockerfile").write_text(DOCKERFILE)
    _docker("build", "--network", "none", "--build-arg", f"BASE_IMAGE={BASE_IMAGE}",
            "--label", f"{HASH_LABEL}={digest.hexdigest()}", "-t", tag, str(context), timeout=900)
    for old in _docker("images", IMAGE_REPO, "--format", "{{.Tag}}").stdout.split():
        if f"{IMAGE_REPO}:{old}" != tag:  # earlier builds; one still in use by a container stays
            _docker("image", "rm", f"{IMAGE_REPO}:{old}", check=False)
    log(f"    built {tag} in {time.monotonic() - t0:.1f} s")
    return tag


class _PinnedAdapter(HTTPAdapter):
    """Sends https://<hostname>/... to address:port, verifying the certificate for <hostname>
    (SNI and hostname check), so the host reaches the container without resolving its name."""

    def __init__(self, hostname: str, address: str, port: int):
        self.hostname, self.address, self.port = hostname, address, port
        super().__init__()

    def init_poolmanager(self, *args, **kwargs):
        kwargs["server_hostname"] = self.hostname
        super().init_poolmanager(*args, **kwargs)

    def send(self, request, **kwargs):
        parts = urlsplit(request.url)
        if parts.scheme == "https" and parts.hostname == self.hostname and parts.port in (None, 443):
            request.url = urlunsplit(parts._replace(netloc=f"{self.address}:{self.port}"))
            request.headers["Host"] = self.hostname
        return super().send(request, **kwargs)


def pinned_session(hostname: str, address: str, port: int, ca_bundle) -> requests.Session:
    session = http_session(ca_bundle)
    session.mount(f"https://{hostname}/", _PinnedAdapter(hostname, address, port))
    return session


class RemoteLti13(RemotePeer):
    """Lti13Platform in the container: its REMOTE_METHODS, URLs and `launch()`."""

    def __init__(self, session, url, token):
        super().__init__(session, url, token, "lti13", Lti13Platform.REMOTE_METHODS)
        self.url, self.jwks_url, self.token_url = url, url + "/jwks", url + "/token"

    @property
    def authorize_url(self) -> str:
        """Where the browser goes (the platform's browser_url, when it has one)."""
        return self.urls()["authorize_url"]

    def launch(self, session, hub_url: str, on_page=None, **launch_args):
        return browser_launch(self, session, hub_url, on_page=on_page, **launch_args)


class RemoteLti11(RemotePeer):
    """Lti11Consumer in the container: its REMOTE_METHODS, `outcome_url` and `launch()`."""

    def __init__(self, session, url, token):
        super().__init__(session, url, token, "lti11", Lti11Consumer.REMOTE_METHODS)
        self.url, self.outcome_url = url, url + OUTCOMES_PATH

    def launch(self, session, launch_url: str, **kwargs):
        return session.post(launch_url, data=self.launch_params(launch_url, **kwargs), allow_redirects=False, timeout=30)


class PeerClient:
    def __init__(self, hostname: str, address: str, port: int, ca_bundle, admin_token: str):
        self.url = f"https://{hostname}"
        self.session = pinned_session(hostname, address, port, ca_bundle)
        self.lti13 = RemoteLti13(self.session, self.url, admin_token)
        self.lti11 = RemoteLti11(self.session, self.url, admin_token)
        self.pages = RemotePeer(self.session, self.url, admin_token, "pages", LmsPages.REMOTE_METHODS)
        self._token = admin_token

    def ping(self) -> str | None:
        """None when the peers answer, else why not."""
        try:
            r = self.session.get(self.url + "/_test/ping", headers={"Authorization": f"Bearer {self._token}"}, timeout=5)
            return None if r.ok else f"HTTP {r.status_code}"
        except requests.RequestException as exc:
            return f"{type(exc).__name__}: {exc}"


class PeerContainer:
    """Both peers in one container `name` on `network`, serving https://<name> with
    tls_cert/tls_key (a certificate for <name>; the host client trusts `ca_bundle`).

    lti13: Lti13Platform keyword arguments (issuer, client_id, deployment_id, tool_url,
           tool_jwks_url, ...; public_url is https://<name>), or None to leave it out;
    lti11: {"key": ..., "secret": ...} or None;
    tool_ca_bundle: host path of the CA the platform trusts when it fetches the tool's JWKS
           (mounted; replaces lti13["tool_ca_bundle"]);
    host_port: publish 443 on this loopback port (default: any free one)."""

    def __init__(self, *, name: str, network: str, tls_cert, tls_key, ca_bundle, lti13: dict | None = None,
                 lti11: dict | None = None, tool_ca_bundle=None, workdir: Path | None = None,
                 host_port: int | None = None):
        self.name, self.network, self.ca_bundle = name, network, Path(ca_bundle)
        self.tls = (Path(tls_cert), Path(tls_key))
        self.lti13, self.lti11, self.tool_ca_bundle = lti13, lti11, tool_ca_bundle
        self.workdir = Path(workdir or GEN / "run" / name)
        self.host_port = host_port  # fixed loopback port (a browser's URLs name it), else any free one
        self.client: PeerClient | None = None

    def start(self, timeout: float = 60, log=print) -> PeerClient:
        image = build_peer_image(log)
        self.stop()
        shutil.rmtree(self.workdir, ignore_errors=True)
        self.workdir.mkdir(parents=True)
        admin_token = secrets.token_hex(24)
        config = {"public_url": f"https://{self.name}", "admin_token": admin_token}
        if self.lti13 is not None:
            config["lti13"] = dict(self.lti13)
            if self.tool_ca_bundle:
                shutil.copy(self.tool_ca_bundle, self.workdir / "tool-ca.pem")
                config["lti13"]["tool_ca_bundle"] = "/peer/tool-ca.pem"
        if self.lti11 is not None:
            config["lti11"] = dict(self.lti11)
        (self.workdir / "config.json").write_text(json.dumps(config, indent=2))
        shutil.copy(self.tls[0], self.workdir / "tls.crt")
        shutil.copy(self.tls[1], self.workdir / "tls.key")
        for f in self.workdir.iterdir():
            f.chmod(0o644)  # read by the container's root; test material only
        _docker("run", "-d", "--name", self.name, "--network", self.network, "-p", f"127.0.0.1:{self.host_port or ''}:443",
                "-v", f"{self.workdir}:/peer:ro", image, "--config", "/peer/config.json", "--host", "0.0.0.0",
                "--port", "443", "--tls-cert", "/peer/tls.crt", "--tls-key", "/peer/tls.key")
        address, port = _docker("port", self.name, "443/tcp").stdout.split()[0].rsplit(":", 1)
        self.client = PeerClient(self.name, address, int(port), self.ca_bundle, admin_token)
        deadline = time.monotonic() + timeout
        while (problem := self.client.ping()) is not None:
            running = _docker("inspect", "-f", "{{.State.Running}}", self.name).stdout.strip() == "true"
            if time.monotonic() > deadline or not running or "CERTIFICATE_VERIFY_FAILED" in problem:
                raise RuntimeError(f"peer container {self.name} not answering ({problem}):\n{self.logs()}")
            time.sleep(0.2)
        log(f"    LMS test peers at https://{self.name} (container on {self.network}, host port {address}:{port})")
        return self.client

    def logs(self) -> str:
        p = _docker("logs", self.name, check=False)
        return p.stdout[-4000:] + p.stderr[-4000:]

    def stop(self) -> None:
        _docker("rm", "-f", self.name, check=False)
        self.client = None
