"""Fixtures of the peers' self-tests, independent of test/hub/conftest.py (which starts a hub):
the tool's keys with their JWKS served on 127.0.0.1, the two peers in-process on 127.0.0.1
(each test asserts afterwards that the peer had no internal error), and a test CA."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from lti11_consumer import Lti11Consumer  # noqa: E402
from lti13_platform import Lti13Platform  # noqa: E402
from peer_testkit import (CLIENT_ID, DEPLOYMENT_ID, ISSUER, LTI11_KEY, LTI11_SECRET, ToolKeys,  # noqa: E402
                          make_test_certs)


@pytest.fixture
def tool_keys():
    keys = ToolKeys()
    keys.serve()
    yield keys
    keys.served.close()


@pytest.fixture
def platform(tool_keys):
    p = Lti13Platform(issuer=ISSUER, client_id=CLIENT_ID, deployment_id=DEPLOYMENT_ID,
                      tool_jwks_url=tool_keys.url).start()
    yield p
    p.close()
    assert p.internal_errors() == [], "the platform had internal errors"


@pytest.fixture
def consumer():
    c = Lti11Consumer(LTI11_KEY, LTI11_SECRET).start()
    yield c
    c.close()
    assert c.internal_errors() == [], "the consumer had internal errors"


@pytest.fixture
def certs(tmp_path_factory):
    """A test CA and a certificate for 127.0.0.1 (in-process TLS servers)."""
    return make_test_certs(tmp_path_factory.mktemp("certs"), ["127.0.0.1"])
