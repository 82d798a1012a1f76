"""The online install, for real, against loopback stand-ins of the public registries: a container
registry (Debian's docker-registry on 127.0.0.1, holding the stand-in images under the official
repository names) and a provider network mirror served over HTTPS on 127.0.0.1 (the providers of
the offline setup, packed as a registry would pack them, signed by a throwaway CA).

`npm run demo` with a fresh cache and a PATH whose `go` and `debootstrap` only record being
called: the CLI probes both registries (its auto mode), chooses the online path, Terraform
installs the providers from the network mirror, Docker pulls every base image from the registry,
and the demo deploys and serves JupyterLab in a real browser; nothing calls Go or debootstrap.
Then the same CLI with the registry silent chooses the offline path and says why."""

from __future__ import annotations

import datetime
import hashlib
import http.server
import ipaddress
import json
import os
import re
import socket
import ssl
import subprocess
import threading
import time
import urllib.request
import zipfile
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from harness import HOST_CA_BUNDLE, ROOT, STAND_IN_IMAGES, VERSIONS, docker, run, say, timed
from test_readme import health, launch_from_the_demo_launcher, objects, remove

WORK = ROOT / ".gen" / "online"
PROVIDERS = [("kreuzwerker", "docker", VERSIONS["providers"]["docker"]),
             ("hashicorp", "tls", VERSIONS["providers"]["tls"]),
             ("hashicorp", "random", VERSIONS["providers"]["random"])]
HUB = VERSIONS["jupyterhub"]
# The official repositories the demo's defaults name, and the stand-in each one stands for.
REPOSITORIES = {
    f"jupyterhub/jupyterhub:{HUB}": STAND_IN_IMAGES[0],
    f"jupyterhub/configurable-http-proxy:{VERSIONS['configurableHttpProxy']}": STAND_IN_IMAGES[1],
    f"jupyter/scipy-notebook:hub-{HUB}": STAND_IN_IMAGES[2],
}
MIRROR_PATH = "quay"  # a registry mirror under a path, as sites often run them


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(url: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            urllib.request.urlopen(url, timeout=2)
            return
        except urllib.error.HTTPError:
            return  # any HTTP answer
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def throwaway_ca(directory: Path) -> tuple[Path, Path, Path]:
    """A CA and a certificate for 127.0.0.1 (IP SAN): ca.pem, tls.crt, tls.key."""
    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "jupyterhub-lti-stack online-install test CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
          .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
          .not_valid_after(now + datetime.timedelta(days=1))
          .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
            .issuer_name(ca_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
            .sign(ca_key, hashes.SHA256()))
    directory.mkdir(parents=True, exist_ok=True)
    paths = directory / "ca.pem", directory / "tls.crt", directory / "tls.key"
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return paths


def pack_network_mirror(root: Path) -> dict[str, str]:
    """The providers of the offline setup's filesystem mirror in the provider network mirror
    protocol's layout (index.json, <version>.json, the zip archives); returns each zip's
    zh: hash by provider address."""
    cache = Path(os.environ.get("JHLTI_CACHE") or Path.home() / ".cache" / "jupyterhub-lti-stack")
    source = Path(os.environ.get("JHLTI_PROVIDER_MIRROR_DIR") or cache / "providers") / "registry.terraform.io"
    hashes_by_provider = {}
    for ns, name, version in PROVIDERS:
        binary = source / ns / name / version / "linux_amd64" / f"terraform-provider-{name}_v{version}"
        assert binary.is_file(), f"{binary} missing: the offline setup builds it (bin/setup/providers.sh)"
        d = root / "registry.terraform.io" / ns / name
        d.mkdir(parents=True, exist_ok=True)
        archive = d / f"terraform-provider-{name}_{version}_linux_amd64.zip"
        with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as z:
            info = zipfile.ZipInfo(binary.name, date_time=(2026, 1, 1, 0, 0, 0))
            info.external_attr = 0o755 << 16
            z.writestr(info, binary.read_bytes(), zipfile.ZIP_DEFLATED)
        zh = "zh:" + hashlib.sha256(archive.read_bytes()).hexdigest()
        (d / "index.json").write_text(json.dumps({"versions": {version: {}}}))
        (d / f"{version}.json").write_text(json.dumps({"archives": {"linux_amd64": {"url": archive.name, "hashes": [zh]}}}))
        hashes_by_provider[f"registry.terraform.io/{ns}/{name}"] = zh
    return hashes_by_provider


class MirrorServer:
    """The network mirror over HTTPS on loopback; records each path asked for."""

    def __init__(self, root: Path, cert: Path, key: Path):
        requests = self.requests = []

        class Handler(http.server.SimpleHTTPRequestHandler):
            def __init__(self, *args, **kwargs):
                super().__init__(*args, directory=str(root), **kwargs)

            def log_message(self, fmt, *args):
                requests.append(self.path)

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert, key)
        self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        self.url = f"https://127.0.0.1:{self.server.server_address[1]}/"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class Registry:
    """Debian's docker-registry on 127.0.0.1, storage under WORK, access log in a file."""

    def __init__(self, directory: Path):
        self.port = free_port()
        self.host = f"127.0.0.1:{self.port}"
        self.log = directory / "registry.log"
        config = directory / "registry.yml"
        config.write_text(
            "version: 0.1\nlog:\n  level: info\n  accesslog:\n    disabled: false\n"
            f"storage:\n  filesystem:\n    rootdirectory: {directory / 'storage'}\n"
            f"http:\n  addr: {self.host}\n")
        self.process = subprocess.Popen(["docker-registry", "serve", str(config)], stdout=self.log.open("w"),
                                        stderr=subprocess.STDOUT)
        wait_for(f"http://{self.host}/v2/")

    def close(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)


def clean_env(**extra: str) -> dict:
    """The caller's environment without the offline toolchain's settings (env.sh) or the tiers'."""
    drop = ("JHLTI_", "TF_", "TERRAFORM_", "TOFU_", "CDKTF_")
    env = {k: v for k, v in os.environ.items() if not k.startswith(drop)}
    env.update(CI="1", CHECKPOINT_DISABLE="1", **extra)
    return env


@pytest.fixture(scope="module")
def loopback_registries():
    import shutil
    if not shutil.which("docker-registry"):
        pytest.fail("docker-registry missing: bin/setup/registry.sh installs Debian's (test/run runs it)", pytrace=False)
    stale = objects("demo")
    if stale:
        if os.environ.get("CI", "").lower() not in ("1", "true"):
            pytest.fail("a demo environment exists on this engine; remove it first with `npm run destroy -- demo --purge`", pytrace=False)
        say(f"    CI: removing stale objects of an earlier run: {' '.join(n for _, n in stale)}")
        remove(stale)
    shutil.rmtree(WORK, ignore_errors=True)
    WORK.mkdir(parents=True)
    ca, cert, key = throwaway_ca(WORK / "tls")
    hashes_by_provider = pack_network_mirror(WORK / "mirror")
    mirror = MirrorServer(WORK / "mirror", cert, key)
    registry = Registry(WORK)
    pushed = []
    try:
        with timed("online install: the stand-in images pushed to the loopback registry as the official repositories"):
            for repository, stand_in in REPOSITORIES.items():
                ref = f"{registry.host}/{MIRROR_PATH}/{repository}"
                docker("tag", stand_in, ref)
                docker("push", ref, timeout=600)
                docker("rmi", ref)  # a deploy must pull it
                pushed.append(ref)
        # Terraform (Go) and the CLI's probe read SSL_CERT_FILE: the host's trust plus the test CA.
        bundle = WORK / "tls" / "bundle.pem"
        bundle.write_bytes(HOST_CA_BUNDLE.read_bytes() + ca.read_bytes())
        yield {"registry": registry, "mirror": mirror, "bundle": bundle, "hashes": hashes_by_provider, "pushed": pushed}
    finally:
        mirror.close()
        registry.close()
        for ref in pushed:
            docker("rmi", ref, check=False)


def shims(directory: Path) -> tuple[Path, Path]:
    """`go` and `debootstrap` that only record being called (and fail), first on PATH."""
    directory.mkdir(parents=True, exist_ok=True)
    calls = directory / "calls.log"
    calls.write_text("")
    for tool in ("go", "debootstrap"):
        shim = directory / tool
        shim.write_text(f"#!/bin/sh\necho \"{tool} $*\" >> '{calls}'\nexit 97\n")
        shim.chmod(0o755)
    return directory, calls


def test_fresh_online_install_of_the_demo(loopback_registries):
    registry, mirror = loopback_registries["registry"], loopback_registries["mirror"]
    bin_dir, calls = shims(WORK / "shims")
    cache, out = WORK / "cache", WORK / "out"
    env = clean_env(
        PATH=f"{bin_dir}:{os.environ['PATH']}",
        JHLTI_CACHE=str(cache),  # fresh: nothing of the offline setup is reused
        JHLTI_IMAGE_REGISTRY=f"{registry.host}/{MIRROR_PATH}",
        JHLTI_PROVIDER_NETWORK_MIRROR=mirror.url,
        SSL_CERT_FILE=str(loopback_registries["bundle"]),
    )
    cli = ["node", "lib/bin/jupyterhub-lti-stack.js"]
    deployed = False
    try:
        with timed("online install: npm run demo (auto path) with a fresh cache, no Go, no debootstrap"):
            p = run([*cli, "deploy", "demo", "--output", str(out / "cdktf.out")], env=env, timeout=1800, check=False)
            deployed = True
        log = p.stdout + p.stderr
        assert p.returncode == 0, log[-6000:]
        chosen = re.search(r"^==> install path: (\w+) \((.*?)\): (.*)$", log, re.M)
        assert chosen and chosen.group(1) == "online", log[-4000:]
        say(f"    {chosen.group(0)}")
        assert mirror.url in chosen.group(2) and f"http://{registry.host}/v2/" in chosen.group(2), chosen.group(0)
        assert calls.read_text() == "", f"the online install called: {calls.read_text()}"
        assert not (cache / "providers").exists() and not (cache / "rootfs").exists(), "an offline artefact was made"
        assert "export JHLTI_INSTALL='online'" in (cache / "env.sh").read_text()

        # Terraform installed the three providers from the network mirror (checking each archive
        # against the zh: hash the mirror lists) at the pinned versions.
        lock = (out / "cdktf.out" / "stacks" / "demo" / ".terraform.lock.hcl").read_text()
        for (ns, name, version), address in zip(PROVIDERS, loopback_registries["hashes"]):
            block = re.search(rf'provider "{re.escape(address)}" {{(.*?)\n}}', lock, re.S)
            assert block and f'version = "{version}"' in re.sub(r"\s+", " ", block.group(1)), (address, lock)
        zips = sorted({p for p in mirror.requests if p.endswith(".zip")})  # one per init (setup's check, plan, deploy)
        assert len(zips) == 3, mirror.requests
        say(f"    providers from the network mirror: {' '.join(Path(z).name for z in zips)}")

        # Docker pulled every base image from the registry, under the official repository names.
        access = (registry.log).read_text()
        for repository in REPOSITORIES:
            name, tag = repository.rsplit(":", 1)
            assert re.search(rf'"(?:GET|HEAD) /v2/{MIRROR_PATH}/{re.escape(name)}/manifests/{re.escape(tag)} HTTP/1\.1" 200', access), (repository, access[-3000:])
        say(f"    images pulled from {registry.host}/{MIRROR_PATH}: {', '.join(REPOSITORIES)}")

        assert health("https://127.0.0.1:8443/hub/health") == 200
        launch_from_the_demo_launcher()
    finally:
        if deployed:
            with timed("online install: destroy demo --purge", step=False):
                d = run([*cli, "destroy", "demo", "--purge", "--output", str(out / "cdktf.out")], env=env, timeout=900, check=False)
            left = objects("demo")
            if left:
                remove(left)
            assert d.returncode == 0, (d.stdout + d.stderr)[-3000:]
            assert left == [], left


def test_auto_chooses_offline_when_a_registry_is_silent(loopback_registries):
    """The same probe with the image registry pointing at a port nothing listens on: the CLI
    chooses the offline path and names what did not answer (the offline setup it then runs is
    the cached one of this machine)."""
    port = free_port()
    env = clean_env(JHLTI_IMAGE_REGISTRY=f"127.0.0.1:{port}", JHLTI_PROVIDER_NETWORK_MIRROR=loopback_registries["mirror"].url,
                    SSL_CERT_FILE=str(loopback_registries["bundle"]))
    if os.environ.get("JHLTI_CACHE"):
        env["JHLTI_CACHE"] = os.environ["JHLTI_CACHE"]  # the machine's offline toolchain, already made
    p = run(["node", "lib/bin/jupyterhub-lti-stack.js", "setup"], env=env, timeout=1800, check=False)
    log = p.stdout + p.stderr
    assert p.returncode == 0, log[-4000:]
    line = re.search(r"^==> install path: .*$", log, re.M)
    assert line, log[-3000:]
    say(f"    {line.group(0)}")
    assert line.group(0).startswith(f"==> install path: offline (no answer from the image registry https://127.0.0.1:{port}/v2/: ECONNREFUSED, http://127.0.0.1:{port}/v2/: ECONNREFUSED)"), line.group(0)
