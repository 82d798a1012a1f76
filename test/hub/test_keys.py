"""The tool's signing keys: order (the first signs), the public keyset, rotation."""

from __future__ import annotations

import json

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from jupyterhub_lti_stack.keys import jwks, load_signing_keys
from jupyterhub_lti_stack.stack import StackError, parse_stack
from test_stack import golden


def pem(key) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption())


def rotated_stack(tmp_path, files: dict[str, bytes]):
    doc = golden("hubtest")
    doc["lti13"]["signing_keys"] = [{"name": n, "secret_file": f"lti13-signing-key-{n}.pem"} for n in files]
    for name, data in files.items():
        (tmp_path / f"lti13-signing-key-{name}.pem").write_bytes(data)
    return parse_stack(doc)


def test_rotation_the_new_key_signs_the_old_stays_published(tmp_path):
    new, old = (rsa.generate_private_key(public_exponent=65537, key_size=2048) for _ in range(2))
    keys = load_signing_keys(rotated_stack(tmp_path, {"2": pem(new), "1": pem(old)}), tmp_path)
    assert [k.name for k in keys] == ["2", "1"]
    published = jwks(keys)["keys"]
    assert [k["kid"] for k in published] == [keys[0].kid, keys[1].kid] and keys[0].kid != keys[1].kid
    # Tokens of either key verify against the published set, found by kid (what a platform does).
    for key in keys:
        token = jwt.encode({"iss": "tool"}, key.private_pem(), algorithm="RS256", headers={"kid": key.kid})
        jwk = next(k for k in published if k["kid"] == jwt.get_unverified_header(token)["kid"])
        assert jwt.decode(token, jwt.PyJWK(jwk).key, algorithms=["RS256"])["iss"] == "tool"
    assert json.dumps(published).count('"d"') == 0, "private members published"


@pytest.mark.parametrize("bad, message", [
    (b"not a key", "cannot read an unencrypted PEM private key"),
    (pem(rsa.generate_private_key(public_exponent=65537, key_size=1024)), "RSA key of at least 2048 bits"),
    (pem(ec.generate_private_key(ec.SECP256R1())), "RSA key of at least 2048 bits"),
])
def test_unusable_keys_are_refused_naming_the_key(tmp_path, bad, message):
    with pytest.raises(StackError, match=message):
        load_signing_keys(rotated_stack(tmp_path, {"1": bad}), tmp_path)
