"""The tool's LTI 1.3 signing keys and the public keyset (JWKS) platforms fetch.

Terraform generates each key (tls provider, RSA) and uploads its private PEM as a 0600 secret
file; stack.json lists them in order, the first one signs. All listed keys are published, so a
rotation is: put a new key first, deploy (the new key signs, platforms still accept tokens of the
old one), later remove the old one. A key's ``kid`` is its RFC 7638 JWK thumbprint, so it is
stable for the key's life and never collides between keys.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey

from .stack import Stack, StackError

ALGORITHM = "RS256"  # what LTI 1.3 (IMS Security Framework) requires
MIN_RSA_BITS = 2048


def _b64(number: int) -> str:
    raw = number.to_bytes((number.bit_length() + 7) // 8, "big")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


@dataclass(frozen=True)
class SigningKey:
    name: str
    private_key: RSAPrivateKey
    public_jwk: dict

    @property
    def kid(self) -> str:
        return self.public_jwk["kid"]

    def private_pem(self) -> bytes:
        return self.private_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )


def public_jwk(key: RSAPrivateKey) -> dict:
    numbers = key.public_key().public_numbers()
    members = {"e": _b64(numbers.e), "kty": "RSA", "n": _b64(numbers.n)}
    canonical = json.dumps(members, separators=(",", ":"), sort_keys=True).encode("ascii")
    kid = base64.urlsafe_b64encode(hashlib.sha256(canonical).digest()).rstrip(b"=").decode("ascii")
    return {**members, "kid": kid, "alg": ALGORITHM, "use": "sig"}


def load_signing_keys(stack: Stack, directory: str | os.PathLike | None = None) -> tuple[SigningKey, ...]:
    """The keys stack.json names, in order (the first signs); empty without LTI 1.3."""
    if not stack.lti13.enabled:
        return ()
    from .contract import PATHS

    directory = Path(directory or os.environ.get("JHLTI_SECRETS_DIR") or PATHS["hub_secrets_dir"])
    keys = []
    for ref in stack.lti13.signing_keys:
        path = directory / ref.secret_file
        try:
            key = serialization.load_pem_private_key(path.read_bytes(), password=None)
        except (OSError, ValueError, TypeError) as e:
            raise StackError(f"signing key {ref.name!r}: cannot read an unencrypted PEM private key from {path}: {e}") from e
        if not isinstance(key, RSAPrivateKey) or key.key_size < MIN_RSA_BITS:
            raise StackError(f"signing key {ref.name!r}: {path} must be an RSA key of at least {MIN_RSA_BITS} bits")
        keys.append(SigningKey(ref.name, key, public_jwk(key)))
    return tuple(keys)


def jwks(keys: tuple[SigningKey, ...]) -> dict:
    """The public keyset document: every listed key, the signing one first."""
    return {"keys": [k.public_jwk for k in keys]}
