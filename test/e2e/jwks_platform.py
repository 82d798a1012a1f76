"""The LTI 1.3 platform of the e2e tier.

The hub runs in a container, so the platform's JWKS must be reachable from there: a tiny HTTPS
server runs as a container on the stack's users network, with a certificate from a test CA
this module generates (the config's lti13.platformCaBundle; the hub trusts it through
SSL_CERT_FILE). The platform's signing keys and id_tokens stay in the test process
(test/hub/lti_platform.py): the "browser" follows the hub's redirect to the authorization URL
only to read state and nonce."""

from __future__ import annotations

import datetime
import json
from pathlib import Path

import jwt
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from harness import STAND_IN_IMAGES, docker, say
from lti_platform import Lti13Platform, _new_key
from stack_config import LTI13_CLIENT_ID, LTI13_DEPLOYMENT_ID, LTI13_ISSUER, PLATFORM_HOST, PLATFORM_URL, PREFIX

SERVER_IMAGE = STAND_IN_IMAGES[0]  # the jupyterhub stand-in has python3

# Serves the files of /platform/www (just "jwks") over HTTPS on 443 of the container.
JWKS_SERVER = """\
import functools, http.server, ssl
http.server.SimpleHTTPRequestHandler.extensions_map[""] = "application/json"
handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory="/platform/www")
server = http.server.ThreadingHTTPServer(("0.0.0.0", 443), handler)
tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
tls.load_cert_chain("/platform/tls.crt", "/platform/tls.key")
server.socket = tls.wrap_socket(server.socket, server_side=True)
server.serve_forever()
"""


def _pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def make_test_ca(directory: Path) -> Path:
    """A throwaway CA and a server certificate for the platform's container name.
    Writes ca.pem (for the hub), tls.crt and tls.key (for the server); returns ca.pem."""
    directory.mkdir(parents=True, exist_ok=True)
    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "jupyterhub-lti-stack e2e test CA")])
    ca = (
        x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
        .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=2))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=False, content_commitment=False, key_encipherment=False,
                                     data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                     crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, PLATFORM_HOST)]))
        .issuer_name(ca_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=2))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(PLATFORM_HOST)]), critical=False)
        .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    (directory / "ca.pem").write_bytes(_pem(ca))
    (directory / "tls.crt").write_bytes(_pem(cert))
    (directory / "tls.key").write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    (directory / "tls.key").chmod(0o644)  # read by the server container's root; a test key
    return directory / "ca.pem"


class ContainerPlatform(Lti13Platform):
    """Lti13Platform whose JWKS is served by a container instead of a local thread."""

    container = f"{PREFIX}-platform"

    def __init__(self, directory: Path):  # noqa: super().__init__ would serve on 127.0.0.1
        self.issuer, self.client_id, self.deployment_id = LTI13_ISSUER, LTI13_CLIENT_ID, LTI13_DEPLOYMENT_ID
        self.key, self.kid = _new_key(), "e2e-platform-key-1"
        self.rogue_key = _new_key()
        self.url = PLATFORM_URL
        self.directory = directory
        jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self.key.public_key()))
        (directory / "www").mkdir(exist_ok=True)
        (directory / "www" / "jwks").write_text(json.dumps({"keys": [{**jwk, "kid": self.kid, "alg": "RS256", "use": "sig"}]}))
        (directory / "serve.py").write_text(JWKS_SERVER)

    def start(self, network: str) -> None:
        self.close()
        docker("run", "-d", "--name", self.container, "--network", network,
               "-v", f"{self.directory}:/platform:ro", "--entrypoint", "python3", SERVER_IMAGE, "/platform/serve.py")
        say(f"    LTI 1.3 platform JWKS at {self.jwks_url} (container {self.container} on {network})")

    def close(self) -> None:
        docker("rm", "-f", self.container, check=False)
